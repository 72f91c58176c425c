//! The comparison: the simulator's observations and a real system's, step
//! by step, against the differences the scenario expects. Pure: no I/O,
//! so it is tested on recorded real runs ([`super::recorded`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{CallResult, Observation, RealRun};
use crate::scenario::{Action, Scenario, Side, Step};

/// A quantity both sides measure after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// Its name in observations and in a step's `differs`.
    pub name: &'static str,
    /// What the simulator reports.
    pub simulated: &'static str,
    /// What a real Linux system reports.
    pub linux: &'static str,
}

/// Every quantity compared, in the order rows show them.
pub const QUANTITIES: &[Quantity] = &[
    Quantity {
        name: "faults.minor",
        simulated: "demand-zero and soft faults of the step's references",
        linux: "getrusage ru_minflt across the step's references",
    },
    Quantity {
        name: "faults.major",
        simulated: "hard faults (a page read from the page file or a mapped file)",
        linux: "getrusage ru_majflt across the step's references",
    },
    Quantity {
        name: "resident",
        simulated: "pages of the process in memory: its working set plus its large pages' frames",
        linux: "mincore(2) over the process's mappings, in 4 KiB pages",
    },
    Quantity {
        name: "locked",
        simulated: "pages VirtualLock holds in the working set",
        linux: "the mappings' Locked: in /proc/self/smaps (mlock), in 4 KiB pages",
    },
    Quantity {
        name: "large_pages",
        simulated: "2 MiB pages the process holds",
        linux: "Private_Hugetlb plus AnonHugePages of the process's mappings in /proc/self/smaps, in 2 MiB",
    },
    Quantity {
        name: "large.contiguous",
        simulated: "large pages whose 512 frames are contiguous and 2 MiB aligned (all of them: MODEL.md s5)",
        linux: "the same, from the frame numbers in /proc/self/pagemap (root)",
    },
    Quantity {
        name: "pool",
        simulated:
            "2 MiB regions free now, at most the pages asked for: the large pages to be had without moving anything",
        linux: "/proc/sys/vm/nr_hugepages read back after writing the pages asked for",
    },
];

/// The quantities measured after a step of this kind.
pub fn quantities_for(action: &Action) -> &'static [&'static str] {
    match action {
        Action::Touch { .. } | Action::Refs { .. } => &["faults.minor", "faults.major", "resident"],
        Action::Reserve { large_pages: true, .. } => &["resident", "large_pages", "large.contiguous"],
        Action::Reserve { .. } | Action::Commit { .. } | Action::Decommit { .. } | Action::Map { .. } => &["resident"],
        Action::Release { .. } | Action::Exit { .. } => &["resident", "large_pages"],
        Action::VirtualLock { .. } | Action::VirtualUnlock { .. } => &["resident", "locked"],
        Action::SetWorkingSet { .. } | Action::Trim { .. } => &["resident", "locked"],
        Action::HugetlbPool { .. } => &["pool"],
        _ => &[],
    }
}

/// How a row came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Both sides ran the step and everything compared agrees.
    Agree,
    /// Something differs, and the scenario expects every difference.
    Expected,
    /// Something differs that the scenario does not expect.
    Differ,
    /// Nothing to compare: one side only, no counterpart, not run.
    NotCompared,
}

impl Verdict {
    /// As the text table shows it.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Agree => "agree",
            Verdict::Expected => "differ (expected)",
            Verdict::Differ => "DIFFER",
            Verdict::NotCompared => "not compared",
        }
    }
}

/// One compared item of a row: the result, or a quantity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// "result" or a quantity's name.
    pub what: String,
    /// The simulator's value, as text ("ok", "ERROR_PRIVILEGE_NOT_HELD (1314)", "64").
    pub simulated: Option<String>,
    /// The real system's value.
    pub real: Option<String>,
    /// Whether the two agree (`None`: one side did not measure it).
    pub agree: Option<bool>,
    /// The scenario's reason, when it expects this item to differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// One step of the comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Step number in the plan, 1-based.
    pub step: usize,
    /// The op.
    pub op: String,
    /// The step's label, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The real call made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_call: Option<String>,
    /// The items compared.
    pub items: Vec<Item>,
    /// How it came out.
    pub verdict: Verdict,
    /// Why, in a sentence, when not simply agreeing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Notes of either side, each saying whose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The scenario's name.
    pub scenario: String,
    /// Its title.
    pub title: String,
    /// Where the real side ran.
    pub system: super::System,
    /// One row per step.
    pub rows: Vec<Row>,
    /// How the real run ended early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Rows per verdict.
    pub counts: Counts,
}

/// Rows per verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Agreeing rows.
    pub agree: usize,
    /// Rows differing as expected.
    pub expected: usize,
    /// Rows differing unexpectedly.
    pub differ: usize,
    /// Rows not compared.
    pub not_compared: usize,
}

impl Comparison {
    /// Whether nothing differs unexpectedly: the exit code's test.
    pub fn passed(&self) -> bool {
        self.counts.differ == 0
    }
}

/// Compares the simulator's observations with a real run's, one row per
/// step of the scenario's plan. Observations are found by step number;
/// a step missing on a side it should run on is reported as not run.
pub fn compare(scenario: &Scenario, simulated: &[Observation], real: &RealRun) -> Comparison {
    let sim: BTreeMap<usize, &Observation> = simulated.iter().map(|o| (o.step, o)).collect();
    let re: BTreeMap<usize, &Observation> = real.observations.iter().map(|o| (o.step, o)).collect();
    let died_at = real
        .observations
        .iter()
        .find(|o| matches!(&o.result, CallResult::Failed { code, .. } if code.starts_with("SIG")))
        .map(|o| o.step);
    let rows: Vec<Row> = scenario
        .plan
        .iter()
        .enumerate()
        .map(|(i, step)| row(i + 1, step, sim.get(&(i + 1)).copied(), re.get(&(i + 1)).copied(), died_at, &real.system))
        .collect();
    let mut counts = Counts::default();
    for r in &rows {
        match r.verdict {
            Verdict::Agree => counts.agree += 1,
            Verdict::Expected => counts.expected += 1,
            Verdict::Differ => counts.differ += 1,
            Verdict::NotCompared => counts.not_compared += 1,
        }
    }
    Comparison {
        scenario: scenario.name.clone(),
        title: scenario.title.clone(),
        system: real.system.clone(),
        rows,
        ended: real.ended.clone(),
        counts,
    }
}

fn row(
    number: usize,
    step: &Step,
    sim: Option<&Observation>,
    real: Option<&Observation>,
    died_at: Option<usize>,
    system: &super::System,
) -> Row {
    let mut r = Row {
        step: number,
        op: step.action.op_name().to_string(),
        label: step.label.clone(),
        real_call: real.filter(|o| o.result.ran()).map(|o| o.call.clone()).filter(|c| !c.is_empty()),
        items: Vec::new(),
        verdict: Verdict::NotCompared,
        why: None,
        notes: sim
            .iter()
            .flat_map(|o| o.notes.iter().map(|n| format!("simulated: {n}")))
            .chain(real.iter().flat_map(|o| o.notes.iter().map(|n| format!("real: {n}"))))
            .collect(),
    };
    let sim_result = sim.map(|o| o.result.short());
    let real_result = real.map(|o| o.result.short());
    let alone = |r: &mut Row, why: String| {
        r.items.push(Item {
            what: "result".into(),
            simulated: sim_result.clone(),
            real: real_result.clone(),
            agree: None,
            expected: None,
        });
        r.why = Some(why);
        r.verdict = Verdict::NotCompared;
    };
    match step.real.side {
        Side::Real => {
            alone(&mut r, "real-only step: the simulator leaves it out".into());
            return r;
        }
        Side::Simulated => {
            alone(&mut r, "simulated-only step".into());
            return r;
        }
        Side::Both => {}
    }
    let (Some(sim), Some(real)) = (sim, real) else {
        let why = match (sim, died_at) {
            (None, _) => "the simulator did not run the step".to_string(),
            (_, Some(d)) if d < number => format!("the real side ended at step {d}"),
            _ => "the real side did not report the step".to_string(),
        };
        alone(&mut r, why);
        return r;
    };
    match (&sim.result, &real.result) {
        (_, CallResult::NoCounterpart { why }) => {
            alone(&mut r, format!("no {} counterpart: {why}", system_word(system)));
            return r;
        }
        (_, CallResult::NotRun { why }) => {
            alone(&mut r, format!("not run on the real side: {why}"));
            return r;
        }
        (CallResult::NoCounterpart { why } | CallResult::NotRun { why }, _) => {
            alone(&mut r, format!("not simulated: {why}"));
            return r;
        }
        _ => {}
    }
    let expected = |what: &str| step.real.differs.iter().find(|d| d.what == what).map(|d| d.reason.clone());
    // Results agree when both succeed or both fail: each system has its
    // own error codes, shown side by side.
    let both_ok = sim.result == CallResult::Ok;
    let real_ok = real.result == CallResult::Ok;
    r.items.push(Item {
        what: "result".into(),
        simulated: sim_result,
        real: real_result,
        agree: Some(both_ok == real_ok),
        expected: expected("result"),
    });
    for name in quantities_for(&step.action) {
        let s = sim.measured.get(*name);
        let x = real.measured.get(*name);
        if s.is_none() && x.is_none() {
            continue;
        }
        r.items.push(Item {
            what: name.to_string(),
            simulated: s.map(u64::to_string),
            real: x.map(u64::to_string),
            agree: match (s, x) {
                (Some(a), Some(b)) => Some(a == b),
                _ => None,
            },
            expected: expected(name),
        });
    }
    let differing: Vec<&Item> = r.items.iter().filter(|i| i.agree == Some(false)).collect();
    let unexpected: Vec<&str> = differing.iter().filter(|i| i.expected.is_none()).map(|i| i.what.as_str()).collect();
    (r.verdict, r.why) = if differing.is_empty() {
        (Verdict::Agree, None)
    } else if unexpected.is_empty() {
        (Verdict::Expected, None)
    } else {
        (
            Verdict::Differ,
            Some(format!(
                "{} differ{} and the scenario does not expect it",
                unexpected.join(", "),
                if unexpected.len() == 1 { "s" } else { "" }
            )),
        )
    };
    r
}

fn system_word(system: &super::System) -> &'static str {
    match system.backend.as_str() {
        "linux" => "Linux",
        "windows" => "Windows",
        _ => "real",
    }
}

impl Comparison {
    /// The text table: a header, then per step its items, simulated and
    /// real side by side, and the verdict.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "pagelab real {}: {}", self.scenario, self.title);
        let sys = &self.system;
        let _ = writeln!(
            s,
            "real side: {} ({}, {}), in a child process",
            sys.backend,
            sys.version,
            if sys.privileged { "root" } else { "not root" }
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "{:<6}{:<19}{:<34}real", "step", "", "simulated");
        for r in &self.rows {
            let head = match &r.label {
                Some(l) => format!("{} ({l})", r.op),
                None => r.op.clone(),
            };
            let _ = writeln!(s, "{:<6}{head}: {}", r.step, r.verdict.text());
            if let Some(c) = &r.real_call {
                let _ = writeln!(s, "      real call: {c}");
            }
            for i in &r.items {
                let mark = match (i.agree, &i.expected) {
                    (Some(true), _) => "",
                    (Some(false), Some(_)) => "  differs, expected",
                    (Some(false), None) => "  DIFFERS",
                    (None, _) => "",
                };
                let line = format!(
                    "      {:<18} {:<33} {:<22}{mark}",
                    i.what,
                    i.simulated.as_deref().unwrap_or("-"),
                    i.real.as_deref().unwrap_or("-")
                );
                let _ = writeln!(s, "{}", line.trim_end());
                if let (Some(false), Some(reason)) = (i.agree, &i.expected) {
                    let _ = writeln!(s, "      {:<18} because: {reason}", "");
                }
            }
            if let Some(w) = &r.why {
                let _ = writeln!(s, "      {w}");
            }
            for n in &r.notes {
                let _ = writeln!(s, "      {n}");
            }
        }
        if let Some(e) = &self.ended {
            let _ = writeln!(s, "\nThe real side was {e}.");
        }
        let c = self.counts;
        let _ = writeln!(
            s,
            "\n{} steps: {} agree, {} differ as expected, {} differ unexpectedly, {} not compared.",
            self.rows.len(),
            c.agree,
            c.expected,
            c.differ,
            c.not_compared
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real::System;

    const SCENARIO: &str = r#"
[scenario]
name = "t"

[[process]]
name = "app"

[[step]]
op = "reserve"
process = "app"
address = 0x10000
size = "64 KiB"
commit = true

[[step]]
op = "touch"
process = "app"
address = 0x10000
pages = 4
access = "write"
differs = { "faults.minor" = "a reason" }

[[step]]
op = "advance"
only = "simulated"
"#;

    fn obs(step: usize, op: &str, result: CallResult, measured: &[(&str, u64)]) -> Observation {
        let mut o = Observation::new(step, op, "", result);
        o.measured = measured.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        o
    }

    fn run(observations: Vec<Observation>) -> RealRun {
        RealRun {
            system: System { backend: "linux".into(), version: "Linux test".into(), privileged: false },
            observations,
            ended: None,
        }
    }

    fn sim() -> Vec<Observation> {
        vec![
            obs(1, "reserve", CallResult::Ok, &[("resident", 0)]),
            obs(2, "touch", CallResult::Ok, &[("faults.minor", 4), ("faults.major", 0), ("resident", 4)]),
            obs(3, "advance", CallResult::Ok, &[]),
        ]
    }

    #[test]
    fn equal_observations_agree_and_a_one_sided_step_is_not_compared() {
        let s = crate::scenario::load_str(SCENARIO, "t.toml", None, &[]).unwrap();
        let real = run(sim().into_iter().take(2).collect());
        let c = compare(&s, &sim(), &real);
        let verdicts: Vec<Verdict> = c.rows.iter().map(|r| r.verdict).collect();
        assert_eq!(verdicts, [Verdict::Agree, Verdict::Agree, Verdict::NotCompared]);
        assert_eq!(c.rows[2].why.as_deref(), Some("simulated-only step"));
        assert!(c.passed());
    }

    #[test]
    fn a_declared_difference_is_expected_an_undeclared_one_fails_and_both_failing_agrees() {
        let s = crate::scenario::load_str(SCENARIO, "t.toml", None, &[]).unwrap();
        let failed = |code: &str| CallResult::Failed { code: code.into(), number: 12 };
        let real = run(vec![
            obs(1, "reserve", CallResult::Ok, &[("resident", 1)]),
            obs(2, "touch", CallResult::Ok, &[("faults.minor", 5), ("faults.major", 0), ("resident", 4)]),
        ]);
        let c = compare(&s, &sim(), &real);
        assert_eq!(c.rows[0].verdict, Verdict::Differ);
        assert_eq!(c.rows[1].verdict, Verdict::Expected);
        assert_eq!(c.counts, Counts { agree: 0, expected: 1, differ: 1, not_compared: 1 });
        assert!(!c.passed());
        // Both sides failing, each with its own code, agree on the result.
        let mut sim = sim();
        sim[0].result = failed("ERROR_NOT_ENOUGH_MEMORY");
        let real = run(vec![obs(1, "reserve", failed("ENOMEM"), &[("resident", 0)])]);
        let c = compare(&s, &sim, &real);
        assert_eq!(c.rows[0].verdict, Verdict::Agree);
        assert_eq!(c.rows[1].why.as_deref(), Some("the real side did not report the step"));
    }

    #[test]
    fn a_quantity_measured_on_one_side_only_is_shown_not_judged() {
        let s = crate::scenario::load_str(SCENARIO, "t.toml", None, &[]).unwrap();
        let real = run(vec![obs(1, "reserve", CallResult::Ok, &[])]);
        let c = compare(&s, &sim(), &real);
        let item = &c.rows[0].items[1];
        assert_eq!((item.what.as_str(), item.agree, item.real.as_deref()), ("resident", None, None));
        assert_eq!(c.rows[0].verdict, Verdict::Agree);
        assert!(c.text().contains("resident           0                                 -"), "{}", c.text());
    }
}
