//! The simulator's side of `pagelab real`: the scenario run by a
//! [`Runner`], observed after each step as a backend observes the real
//! system.

use std::sync::Arc;

use super::compare::quantities_for;
use super::{CallResult, Observation};
use crate::runner::{MetricValue, Runner};
use crate::scenario::{Action, Metric, Scenario};

/// The simulator's observations, one per simulated step of the plan
/// (numbered as the plan numbers them), or the error of a scenario that
/// cannot be set up.
pub fn observe(scenario: &Arc<Scenario>) -> Result<Vec<Observation>, String> {
    let mut runner = Runner::new(Arc::clone(scenario), false)?;
    let mut out = Vec::new();
    for (i, step) in scenario.plan.iter().enumerate() {
        if !step.real.side.simulated() {
            continue;
        }
        let process = step.action.process();
        let before = process.and_then(|p| counts(&runner, p));
        let Some(outcome) = runner.step() else { break };
        let result = match &outcome.error_name {
            None => CallResult::Ok,
            Some(name) => {
                let win32 = crate::win32::Win32Error::ALL.iter().find(|w| w.name() == name);
                CallResult::Failed { code: name.clone(), number: win32.map_or(0, |w| w.code() as i64) }
            }
        };
        let mut o = Observation::new(i + 1, step.action.op_name(), "", result);
        if let Some(e) = &outcome.error {
            o.notes.push(e.clone());
        }
        if let Some(p) = process {
            measure(&runner, p, &step.action, before, &mut o);
        } else if let Action::HugetlbPool { pages } = step.action {
            let free = count(&runner, &Metric::Global("regions.free"));
            o.measured.insert("pool".into(), free.min(pages));
            let cheap = count(&runner, &Metric::Global("regions.cheap"));
            let movable = count(&runner, &Metric::Global("regions.movable"));
            o.notes.push(format!(
                "2 MiB regions of the simulated memory: {free} free, {cheap} with only free or standby frames, {movable} with no unmovable frame (what compaction could empty)"
            ));
        }
        out.push(o);
    }
    Ok(out)
}

/// (demand-zero + soft, hard) faults of a scenario process so far, while
/// it is running.
fn counts(r: &Runner, p: usize) -> Option<(u64, u64)> {
    let pid = r.pid(p);
    let proc = r.machine().process(pid)?;
    let c = proc.counters.paging;
    Some((c.demand_zero + c.soft, c.hard()))
}

fn count(r: &Runner, m: &Metric) -> u64 {
    match r.metric_value(m) {
        MetricValue::Count(n) => n,
        MetricValue::Kind(_) => 0,
    }
}

fn measure(r: &Runner, p: usize, action: &Action, before: Option<(u64, u64)>, o: &mut Observation) {
    let running = r.machine().process(r.pid(p)).is_some();
    let large = if running { count(r, &Metric::Process(p, "large_pages")) } else { 0 };
    let frames = r.machine().config().large_page_size().map_or(512, |s| s.frames() as u64);
    for name in quantities_for(action) {
        let v = match *name {
            "faults.minor" | "faults.major" => {
                let (Some(b), Some(a)) = (before, counts(r, p)) else { continue };
                if *name == "faults.minor" {
                    a.0 - b.0
                } else {
                    a.1 - b.1
                }
            }
            "resident" if running => count(r, &Metric::Process(p, "ws_size")) + large * frames,
            "resident" => 0,
            "locked" if running => count(r, &Metric::Process(p, "ws_locked")),
            "locked" => 0,
            "large_pages" => large,
            // A large page is 512 contiguous frames, 2 MiB aligned, by
            // construction (MODEL.md s5).
            "large.contiguous" => large,
            _ => continue,
        };
        o.measured.insert(name.to_string(), v);
    }
}
