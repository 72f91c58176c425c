//! The cells of a sweep: every point of the grid, each with its own seed,
//! built and checked before any runs, and run independently of the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::experiment::{Experiment, TraceSource};
use crate::cost::CostModel;
use crate::host_memory::HostLimit;
use crate::replay::{replay_from, Generated, RefSource, ReplayConfig, ReplayError, ReplayResult, DEFAULT_CHECK_EVERY};
use crate::runner::{MetricValue, Runner};
use crate::scenario::{Metric, Override, Scenario, ScenarioError};
use crate::trace::{open_trace, TraceReader};
use crate::units::Bytes;
use crate::working_set::PolicyKind;

/// What a cell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The experiment's trace of this index, replayed.
    Trace(usize),
    /// The experiment's scenario of this index, run to the end.
    Scenario(usize),
}

/// One point of the grid, at one repetition.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Position in the whole grid (0-based): shards and merges go by it.
    pub index: usize,
    /// What it runs.
    pub subject: Subject,
    /// Its parameters, by column: `trace` or `scenario`, the replay axes,
    /// the `set.*` axes.
    pub params: Vec<(String, String)>,
    /// Which repetition.
    pub repetition: u32,
    /// Its seed: from the experiment's seed and [`Cell::key`] alone.
    pub seed: u64,
}

impl Cell {
    /// The parameters as one string: `trace=z policy=fifo frames=100 repetition=0`.
    pub fn key(&self) -> String {
        let mut k: Vec<String> = self.params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        k.push(format!("repetition={}", self.repetition));
        k.join(" ")
    }
}

/// A 64-bit seed from the experiment's seed and a cell's key: FNV-1a of
/// the key, mixed with the seed by SplitMix64's finaliser. Stable across
/// platforms and versions (no hasher of the standard library's, whose
/// output may change). 63 bits, so that a scenario's `seed` setting (a
/// TOML integer) can hold it.
pub fn derive_seed(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) >> 1
}

/// Every combination of the axes' values, the last axis fastest.
fn product(axes: &[&super::experiment::Axis]) -> Vec<Vec<(String, String)>> {
    let mut out = vec![Vec::new()];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                a.values.iter().map(move |(v, _)| {
                    let mut p = prefix.clone();
                    p.push((a.name.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    out
}

/// The grid's cells, in order: each trace under every combination of the
/// replay and machine axes, then each scenario under every combination of
/// the machine axes; repetitions innermost.
pub fn cells(e: &Experiment) -> Vec<Cell> {
    let mut out = Vec::new();
    let trace_axes: Vec<_> = e.replay_axes.iter().chain(&e.set_axes).collect();
    let set_axes: Vec<_> = e.set_axes.iter().collect();
    let mut push = |subject: Subject, first: (String, String), combo: Vec<(String, String)>| {
        for repetition in 0..e.repetitions {
            let mut params = vec![first.clone()];
            params.extend(combo.iter().cloned());
            let mut c = Cell { index: out.len(), subject, params, repetition, seed: 0 };
            c.seed = derive_seed(e.seed, &c.key());
            out.push(c);
        }
    };
    for (i, t) in e.traces.iter().enumerate() {
        for combo in product(&trace_axes) {
            push(Subject::Trace(i), ("trace".into(), t.name.clone()), combo);
        }
    }
    for (i, s) in e.scenarios.iter().enumerate() {
        for combo in product(&set_axes) {
            push(Subject::Scenario(i), ("scenario".into(), s.name.clone()), combo);
        }
    }
    out
}

/// A cell built and checked, ready to run.
pub enum Job {
    /// A replay.
    Trace {
        /// Its settings.
        cfg: Box<ReplayConfig>,
        /// The seed of a generated trace (shared by every cell of the same
        /// trace and repetition, so policies meet the same references).
        trace_seed: u64,
    },
    /// A scenario with its overrides applied.
    Scenario {
        /// The scenario.
        scenario: Arc<Scenario>,
        /// The metrics to record.
        metrics: Vec<(String, Metric)>,
    },
}

fn param<'a>(c: &'a Cell, name: &str) -> Option<&'a str> {
    c.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn set_overrides(c: &Cell) -> Vec<Override> {
    c.params
        .iter()
        .filter_map(|(n, v)| n.strip_prefix("set.").map(|k| Override { key: k.to_string(), value: v.clone() }))
        .collect()
}

/// Where a cell's parameter was written, to blame it.
fn blame(e: &Experiment, column: &str) -> std::ops::Range<usize> {
    e.replay_axes.iter().chain(&e.set_axes).find(|a| a.name == column).map_or(0..0, |a| a.values[0].1.clone())
}

/// Builds a cell's job, checking every parameter; an error is placed on
/// the experiment's line that gave the value. `limit` is each cell's share
/// of the host memory.
pub fn build(e: &Experiment, c: &Cell, limit: &HostLimit) -> Result<Job, ScenarioError> {
    let place = super::experiment::Place { file: &e.file, text: &e.text };
    let err = |column: &str, message: String| place.err(blame(e, column), format!("{column}: {message}"));
    match c.subject {
        Subject::Trace(t) => {
            let policy = match param(c, "policy") {
                None => PolicyKind::Fifo,
                Some(p) => PolicyKind::parse(p).ok_or_else(|| {
                    err("policy", format!("{p:?}: expected fifo, lru, clock, opt, random, aging or wsclock"))
                })?,
            };
            let frames_text = param(c, "frames").expect("an experiment with traces has a frames axis");
            let frames: u64 =
                frames_text.parse().map_err(|_| err("frames", format!("{frames_text:?}: expected a whole number")))?;
            let mut cfg = ReplayConfig::new(policy, frames);
            if let Some(m) = param(c, "memory") {
                cfg.set_memory(Bytes::parse(m).map_err(|x| err("memory", x.to_string()))?);
            }
            if let Some(p) = param(c, "cost") {
                cfg.machine.cost = CostModel::profile(p)
                    .ok_or_else(|| err("cost", format!("{p:?}: expected one of {}", CostModel::PROFILES.join(", "))))?;
            }
            cfg.machine.seed = c.seed;
            if let Some(r) = param(c, "refresh") {
                let r: u64 = r
                    .parse()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or_else(|| err("refresh", format!("{r:?}: expected 1 or more")))?;
                if !policy.scans_accessed_bits() {
                    return Err(err(
                        "refresh",
                        format!("applies only to policy aging or wsclock, not {}", policy.name()),
                    ));
                }
                cfg.refresh = Some(r);
            }
            if let Some(t) = param(c, "tau") {
                let t: u64 = t
                    .parse()
                    .ok()
                    .filter(|t| *t > 0)
                    .ok_or_else(|| err("tau", format!("{t:?}: expected 1 or more")))?;
                cfg.set_tau(t);
            }
            let set = set_overrides(c);
            if !set.is_empty() {
                // The replay machine's own settings first, the grid's on top.
                let m = &cfg.machine;
                let base = [
                    ("memory", m.memory.0.to_string()),
                    ("pagefile", m.pagefile.0.to_string()),
                    ("large_pages", "false".into()),
                    ("balance.enabled", "false".into()),
                    ("seed", m.seed.to_string()),
                    ("wsclock_tau", m.wsclock_tau.to_string()),
                ]
                .map(|(key, value)| Override { key: key.into(), value });
                let cost = cfg.machine.cost.clone();
                cfg.machine = crate::scenario::machine_from_settings(&base, &set)
                    .map_err(|x| place.err(blame(e, &format!("set.{}", set[0].key)), x))?;
                if !set.iter().any(|o| o.key == "cost" || o.key.starts_with("costs")) {
                    cfg.machine.cost = cost;
                }
            }
            if let Some(t) = param(c, "tlb") {
                let shape = crate::tlb::TlbConfig::parse_entries(t).map_err(|x| err("tlb", format!("{t:?}: {x}")))?;
                cfg.machine.tlb = Some(shape);
            }
            if frames == 0 || frames > cfg.machine.frames() {
                return Err(err(
                    "frames",
                    format!(
                        "{frames}: expected 1 to {} (the machine's memory, {})",
                        cfg.machine.frames(),
                        cfg.machine.memory
                    ),
                ));
            }
            cfg.host_limit = limit.clone();
            cfg.check_every = Some(DEFAULT_CHECK_EVERY);
            let trace_seed = derive_seed(e.seed, &format!("trace={} repetition={}", e.traces[t].name, c.repetition));
            Ok(Job::Trace { cfg: Box::new(cfg), trace_seed })
        }
        Subject::Scenario(s) => {
            let spec = &e.scenarios[s];
            let mut overrides = set_overrides(c);
            overrides.push(Override { key: "seed".into(), value: c.seed.to_string() });
            let scenario = crate::scenario::resolve(&spec.resolve, &overrides).map_err(|x| {
                // An error in a setting of the grid is placed on the grid's line.
                match x.file.strip_prefix("--set ").and_then(|kv| kv.split_once('=')) {
                    Some((k, v)) => place.err(
                        blame(e, &format!("set.{k}")),
                        format!("scenario {}: set.{k} = {v:?}: {}", spec.name, x.message),
                    ),
                    None => place.err(spec.span.clone(), format!("scenario {}: {x}", spec.name)),
                }
            })?;
            crate::host_memory::scenario(&scenario, crate::host_memory::Front::Run)
                .check(limit, &format!("scenario {}", spec.name), "run fewer cells at once (--jobs)")
                .map_err(|x| place.err(spec.span.clone(), x))?;
            let metric_names: Vec<String> = if spec.metrics.is_empty() {
                crate::process::PagingCounts::METRICS.iter().map(|m| m.to_string()).chain(["time_us".into()]).collect()
            } else {
                spec.metrics.iter().map(|m| m.get_ref().clone()).collect()
            };
            let mut metrics = Vec::new();
            for (i, name) in metric_names.iter().enumerate() {
                let m = crate::scenario::parse_metric(name, &scenario.processes, &scenario.files).map_err(|x| {
                    let span = spec.metrics.get(i).map_or(spec.span.clone(), |m| m.span());
                    place.err(span, x)
                })?;
                metrics.push((name.clone(), m));
            }
            Ok(Job::Scenario { scenario: Arc::new(scenario), metrics })
        }
    }
}

/// A replay's measurements by column name: its scalar fields as they are
/// (`faults`, `fault_rate`), the fault breakdown and the machine's counters
/// by their own names (`soft`, `hard`, `evictions`, `io_writes`), and
/// other groups under their names (`fault_latency.p99_ns`, `tlb.misses`).
pub fn replay_metrics(r: &ReplayResult) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Ok(Value::Object(top)) = serde_json::to_value(r) else { return out };
    let mut groups = Vec::new();
    for (k, v) in top {
        match v {
            Value::Object(inner) => groups.push((k, inner)),
            v => {
                out.insert(k, v);
            }
        }
    }
    for (k, inner) in groups {
        let plain = k == "breakdown" || k == "counters";
        for (ik, iv) in inner {
            let name = if plain { ik } else { format!("{k}.{ik}") };
            out.entry(name).or_insert(iv);
        }
    }
    out
}

/// The metric names a replay cell can record.
pub fn replay_metric_names(with_tlb: bool) -> Vec<String> {
    let mut cfg = ReplayConfig::new(PolicyKind::Fifo, 16);
    if with_tlb {
        cfg.machine.tlb = Some(crate::tlb::TlbConfig::default());
    }
    crate::replay::replay_pages(&[], &cfg).map(|r| replay_metrics(&r).into_keys().collect()).unwrap_or_default()
}

/// Why a cell failed while running.
#[derive(Debug)]
pub struct CellError {
    /// Exit code: 2 for bad input (a malformed trace), 3 for a broken invariant.
    pub code: i32,
    /// What happened, naming the cell.
    pub message: String,
}

/// Runs a built cell; returns its metrics by column.
pub fn run(e: &Experiment, c: &Cell, job: &Job) -> Result<BTreeMap<String, Value>, CellError> {
    match job {
        Job::Trace { .. } => {
            let mut m = run_pass(e, &[(c, job)], &HostLimit::unlimited("the cell's own limit"))?;
            Ok(m.pop().expect("one cell, one result"))
        }
        Job::Scenario { scenario, metrics } => {
            let fail = |m: String| CellError { code: 2, message: format!("cell {} ({}): {m}", c.index, c.key()) };
            let mut runner = Runner::new(Arc::clone(scenario), false).map_err(fail)?;
            while runner.step().is_some() {}
            let mut out = BTreeMap::new();
            for (name, m) in metrics {
                let v = match runner.metric_value(m) {
                    MetricValue::Count(n) => Value::from(n),
                    MetricValue::Kind(k) => Value::from(k),
                };
                out.insert(name.clone(), v);
            }
            let failed = runner.checks().iter().filter(|c| !c.passed).count();
            out.insert("expectations_failed".into(), Value::from(failed));
            Ok(out)
        }
    }
}

/// Which cells can share one pass over their trace: replays (not OPT) of
/// the same references; `None` for a cell that runs alone.
pub fn pass_key(e: &Experiment, c: &Cell, job: &Job) -> Option<(usize, u64)> {
    match (c.subject, job) {
        (Subject::Trace(t), Job::Trace { cfg, trace_seed }) if cfg.policy != PolicyKind::Opt => {
            let seed = match &e.traces[t].source {
                TraceSource::Generated { seeded: false, .. } => *trace_seed,
                _ => 0,
            };
            Some((t, seed))
        }
        _ => None,
    }
}

/// The host memory a cell's machine needs before its first reference.
pub fn fixed_bytes(job: &Job) -> u64 {
    match job {
        Job::Trace { cfg, .. } => crate::host_memory::replay(&cfg.machine, cfg.policy, cfg.frames, None).total(),
        Job::Scenario { .. } => 0,
    }
}

/// One cell's replay alone ([`replay_from`], OPT included), or several
/// cells' in one pass ([`crate::replay::replay_many`]).
fn replay_cells<S: RefSource>(
    source: S,
    cfgs: &[ReplayConfig],
    limit: &HostLimit,
) -> Result<Vec<ReplayResult>, (Option<usize>, ReplayError)> {
    match cfgs {
        [cfg] => replay_from(source, cfg).map(|r| vec![r]).map_err(|x| (Some(0), x)),
        _ => crate::replay::replay_many(source, cfgs, limit),
    }
}

/// Runs a unit of work: a scenario cell, or replay cells of one trace
/// that share a pass ([`pass_key`]; one cell alone is a pass of one).
pub fn run_unit(
    e: &Experiment,
    cells: &[(&Cell, &Job)],
    limit: &HostLimit,
) -> Result<Vec<BTreeMap<String, Value>>, CellError> {
    match cells {
        [(c, job @ Job::Scenario { .. })] => run(e, c, job).map(|m| vec![m]),
        _ => run_pass(e, cells, limit),
    }
}

/// Runs replay cells of one trace: the trace read (or generated) once and
/// replayed into every cell's machine, batch by batch. Each cell's metrics
/// are what it gives alone.
fn run_pass(
    e: &Experiment,
    cells: &[(&Cell, &Job)],
    limit: &HostLimit,
) -> Result<Vec<BTreeMap<String, Value>>, CellError> {
    let cfgs: Vec<ReplayConfig> = cells
        .iter()
        .map(|(_, j)| match j {
            Job::Trace { cfg, .. } => (**cfg).clone(),
            Job::Scenario { .. } => unreachable!("only replays share a pass"),
        })
        .collect();
    let (first, job) = cells[0];
    let (Subject::Trace(t), Job::Trace { trace_seed, .. }) = (first.subject, job) else {
        unreachable!("only replays share a pass")
    };
    let blame = |at: Option<usize>, code: i32, m: String| {
        let who = match at {
            Some(i) => format!("cell {} ({})", cells[i].0.index, cells[i].0.key()),
            None => format!("cells {}.. (trace {})", first.index, e.traces[t].name),
        };
        CellError { code, message: format!("{who}: {m}") }
    };
    let results = match &e.traces[t].source {
        TraceSource::File { path, format } => {
            let opened = open_trace(&path.display().to_string(), *format, None)
                .map_err(|x| blame(None, 2, format!("{}: {x}", path.display())))?;
            replay_cells(TraceReader::new(opened.input, opened.format), &cfgs, limit).map_err(|(at, x)| match &x {
                ReplayError::Trace(tr) => blame(at, 2, format!("{}:{tr}", path.display())),
                other => blame(at, code_of(other), other.to_string()),
            })?
        }
        TraceSource::Generated { spec, seeded } => {
            let mut spec = spec.clone();
            if !seeded {
                spec.seed = *trace_seed;
            }
            let pages = spec.pages().map_err(|x| blame(None, 2, x))?;
            replay_cells(Generated(pages), &cfgs, limit).map_err(|(at, x)| blame(at, code_of(&x), x.to_string()))?
        }
    };
    Ok(results
        .iter()
        .map(|r| {
            let all = replay_metrics(r);
            e.metrics.iter().map(|m| (m.clone(), all.get(m).cloned().unwrap_or(Value::Null))).collect()
        })
        .collect())
}

/// The exit code of a failed replay: 3 when an invariant broke (a bug in
/// pagelab), 2 for the input.
fn code_of(x: &ReplayError) -> i32 {
    if matches!(x, ReplayError::Invariant { .. }) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_the_key_and_the_experiment_seed_only() {
        assert_eq!(derive_seed(1, "trace=a frames=3"), derive_seed(1, "trace=a frames=3"));
        assert_ne!(derive_seed(1, "trace=a frames=3"), derive_seed(2, "trace=a frames=3"));
        assert_ne!(derive_seed(1, "trace=a frames=3"), derive_seed(1, "trace=a frames=4"));
        // Pinned: a change here would change every published sweep's seeds.
        assert_eq!(derive_seed(42, "trace=z policy=fifo frames=3 repetition=0"), 4_097_420_912_134_801_645);
    }

    #[test]
    fn the_grid_is_every_combination_with_repetitions_innermost() {
        let text = r#"
[experiment]
name = "e"
seed = 7
repetitions = 2
[[trace]]
name = "z"
generate = { generator = "zipf", pages = 50, refs = 500 }
[[scenario]]
name = "belady"
metrics = ["three.faults"]
[grid]
policy = ["fifo", "lru"]
frames = [3, 4, 5]
[grid.set]
cost = ["nvme", "disk-1993"]
"#;
        let e = super::super::experiment::parse(text, "e.toml", std::path::Path::new("."), String::new()).unwrap();
        let cs = cells(&e);
        assert_eq!(cs.len(), 2 * 3 * 2 * 2 + 2 * 2);
        assert_eq!(cs[0].key(), "trace=z policy=fifo frames=3 set.cost=nvme repetition=0");
        assert_eq!(cs[1].key(), "trace=z policy=fifo frames=3 set.cost=nvme repetition=1");
        assert_eq!(cs[2].key(), "trace=z policy=fifo frames=3 set.cost=disk-1993 repetition=0");
        assert_eq!(cs.last().unwrap().key(), "scenario=belady set.cost=disk-1993 repetition=1");
        assert!(cs.iter().enumerate().all(|(i, c)| c.index == i));
        let seeds: std::collections::BTreeSet<u64> = cs.iter().map(|c| c.seed).collect();
        assert_eq!(seeds.len(), cs.len(), "every cell has its own seed");
        let limit = HostLimit::unlimited("test");
        for c in &cs {
            build(&e, c, &limit).unwrap_or_else(|x| panic!("{}: {x}", c.key()));
        }
    }
}
