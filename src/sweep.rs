//! Sweeps: an experiment's grid of traces, scenarios, replay options,
//! machine settings and repetitions, run cell by cell on every core,
//! resumable, and shardable across a cluster.
//!
//! A cell's result depends only on the experiment and the cell's own
//! parameters (its seed is derived from them, [`cell::derive_seed`]), never
//! on which other cells run, in which order, on how many threads, or in
//! which shard; so a merged set of shards equals the whole sweep run in one
//! place, row for row.

pub mod cell;
pub mod experiment;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

pub use cell::{Cell, CellError, Subject};
pub use experiment::Experiment;
pub use store::{Manifest, Row, Shard};

use crate::host_memory::HostLimit;

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct Options {
    /// The output directory.
    pub out: PathBuf,
    /// Threads (cells at once).
    pub jobs: usize,
    /// Which part of the grid.
    pub shard: Shard,
    /// Discard what the directory holds from a different (or the same)
    /// experiment and start over.
    pub restart: bool,
    /// Host memory for all the cells at once (each thread gets `1/jobs`
    /// of it).
    pub host_limit: HostLimit,
    /// Replay the cells of one trace in one pass over it, several machines
    /// per thread ([`crate::replay::replay_many`]); off, each cell reads
    /// its trace alone. The results are the same either way.
    pub shared_pass: bool,
}

/// The most machines one pass drives: enough to read a trace a few times
/// for a whole curve, few enough that progress moves.
pub const MAX_PASS: usize = 32;

/// Groups the cells still to run into units of work: the cells of one
/// trace that can share a pass, in runs of at most [`MAX_PASS`] whose
/// machines fit in one thread's host memory, split further so that every
/// thread has work; every other cell alone.
fn units<'a>(
    e: &Experiment,
    todo: &[&'a (Cell, cell::Job)],
    jobs: usize,
    per_thread: &HostLimit,
    shared: bool,
) -> Vec<Vec<&'a (Cell, cell::Job)>> {
    let mut groups: BTreeMap<(usize, u64), Vec<&'a (Cell, cell::Job)>> = BTreeMap::new();
    let mut out: Vec<Vec<&'a (Cell, cell::Job)>> = Vec::new();
    for &cj in todo {
        match cell::pass_key(e, &cj.0, &cj.1).filter(|_| shared) {
            Some(k) => groups.entry(k).or_default().push(cj),
            None => out.push(vec![cj]),
        }
    }
    let n_groups = groups.len().max(1);
    // Enough pieces that the threads are busy even with few traces.
    let pieces = jobs.div_ceil(n_groups).max(1);
    let budget = per_thread.bytes.unwrap_or(u64::MAX);
    for (_, g) in groups {
        let size = g.len().div_ceil(pieces).clamp(1, MAX_PASS);
        for chunk in g.chunks(size) {
            let mut unit = Vec::new();
            let mut bytes = 0u64;
            for &cj in chunk {
                let b = cell::fixed_bytes(&cj.1);
                if !unit.is_empty() && bytes.saturating_add(b) > budget {
                    out.push(std::mem::take(&mut unit));
                    bytes = 0;
                }
                bytes = bytes.saturating_add(b);
                unit.push(cj);
            }
            out.push(unit);
        }
    }
    // Longest first, so the last unit to start is a short one.
    out.sort_by_key(|u| std::cmp::Reverse(u.len()));
    out
}

/// Why a sweep stopped.
#[derive(Debug)]
pub enum SweepError {
    /// The experiment, a cell's settings or the directory is wrong (exit 2).
    Input(String),
    /// A cell failed while running (its code says why).
    Cell(CellError),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::Input(m) => write!(f, "{m}"),
            SweepError::Cell(c) => write!(f, "{}", c.message),
        }
    }
}

/// What a finished sweep did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Cells in the whole grid.
    pub cells: usize,
    /// Cells in this shard.
    pub here: usize,
    /// Of those, done by an earlier run of the same sweep.
    pub resumed: usize,
    /// Of those, run now.
    pub ran: usize,
}

/// The results' columns: the cell, its parameters, its repetition and
/// seed, then the metrics (a trace's, then a scenario's).
pub fn columns(e: &Experiment) -> Vec<String> {
    let mut c = vec!["cell".to_string()];
    if !e.traces.is_empty() {
        c.push("trace".into());
    }
    if !e.scenarios.is_empty() {
        c.push("scenario".into());
    }
    if !e.traces.is_empty() {
        c.extend(e.replay_axes.iter().map(|a| a.name.clone()));
    }
    c.extend(e.set_axes.iter().map(|a| a.name.clone()));
    c.extend(["repetition".to_string(), "seed".to_string()]);
    let mut metrics: Vec<String> = Vec::new();
    let mut add = |m: String| {
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    };
    if !e.traces.is_empty() {
        e.metrics.iter().cloned().for_each(&mut add);
    }
    for s in &e.scenarios {
        if s.metrics.is_empty() {
            crate::process::PagingCounts::METRICS.iter().map(|m| m.to_string()).for_each(&mut add);
            add("time_us".into());
        } else {
            s.metrics.iter().map(|m| m.get_ref().clone()).for_each(&mut add);
        }
        add("expectations_failed".into());
    }
    c.extend(metrics);
    c
}

/// A cell's row: its parameters and what it measured.
fn row(c: &Cell, metrics: BTreeMap<String, serde_json::Value>) -> Row {
    let mut values: BTreeMap<String, serde_json::Value> =
        c.params.iter().map(|(k, v)| (k.clone(), param_value(k, v))).collect();
    values.insert("repetition".into(), c.repetition.into());
    values.insert("seed".into(), c.seed.into());
    values.extend(metrics);
    Row { cell: c.index, values }
}

/// A parameter as a value: sizes of frames and periods as numbers, the
/// rest as the text the experiment gave.
fn param_value(column: &str, v: &str) -> serde_json::Value {
    match column {
        "frames" | "refresh" | "tau" => v.parse::<u64>().map_or_else(|_| v.into(), Into::into),
        _ => v.into(),
    }
}

/// The experiment's cells in one shard, checked and built: a mistake in
/// any is reported before a single cell runs.
pub fn plan(e: &Experiment, shard: Shard, limit: &HostLimit) -> Result<Vec<(Cell, cell::Job)>, SweepError> {
    if !e.traces.is_empty() {
        let with_tlb = e.replay_axes.iter().any(|a| a.name == "tlb");
        let known = cell::replay_metric_names(with_tlb);
        for (m, span) in e.metrics.iter().zip(&e.metric_spans) {
            if !known.contains(m) {
                let place = experiment::Place { file: &e.file, text: &e.text };
                return Err(SweepError::Input(
                    place
                        .err(span.clone(), format!("unknown replay metric {m:?}: expected one of {}", known.join(", ")))
                        .to_string(),
                ));
            }
        }
    }
    cell::cells(e)
        .into_iter()
        .filter(|c| shard.has(c.index))
        .map(|c| cell::build(e, &c, limit).map(|j| (c, j)).map_err(|x| SweepError::Input(x.to_string())))
        .collect()
}

fn io_err(what: &Path, e: std::io::Error) -> SweepError {
    SweepError::Input(format!("{}: {e}", what.display()))
}

/// Runs (or resumes) a sweep; `progress(done, total)` is called as cells
/// finish, from any thread.
pub fn run(e: &Experiment, o: &Options, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Outcome, SweepError> {
    let jobs = o.jobs.max(1);
    let per_cell =
        HostLimit { bytes: o.host_limit.bytes.map(|b| b / jobs as u64), source: o.host_limit.source.clone() };
    let planned = plan(e, o.shard, &per_cell)?;
    let total = cell::cells(e).len();
    let columns = columns(e);
    std::fs::create_dir_all(&o.out).map_err(|x| io_err(&o.out, x))?;
    let manifest = Manifest {
        pagelab: env!("CARGO_PKG_VERSION").to_string(),
        experiment: e.name.clone(),
        file: e.file.clone(),
        sha256: e.sha256.clone(),
        seed: e.seed,
        cells: total,
        shard: (o.shard != Shard::WHOLE).then_some(o.shard),
        cells_here: planned.len(),
        columns: columns.clone(),
        complete: false,
        merged_from: Vec::new(),
    };
    let old = store::read_manifest(&o.out).map_err(SweepError::Input)?;
    if let Some(old) = &old {
        let same = Manifest { complete: false, pagelab: manifest.pagelab.clone(), ..old.clone() } == manifest;
        if !same && !o.restart {
            let why = if old.sha256 != manifest.sha256 {
                format!(
                    "the experiment file changed since (SHA-256 {} then, {} now)",
                    &old.sha256[..12.min(old.sha256.len())],
                    &manifest.sha256[..12.min(manifest.sha256.len())]
                )
            } else if old.shard != manifest.shard {
                format!(
                    "it holds shard {} and this is shard {}",
                    old.shard.map_or("whole".into(), |s| s.to_string()),
                    manifest.shard.map_or("whole".into(), |s| s.to_string())
                )
            } else {
                "its grid differs".to_string()
            };
            return Err(SweepError::Input(format!(
                "{}: holds a sweep of {:?} from {}, and {why}: pass --restart to discard its results, or choose another --out",
                o.out.display(),
                old.experiment,
                old.file
            )));
        }
    }
    if o.restart {
        for f in [store::JOURNAL, store::RESULTS_CSV, store::RESULTS_JSONL] {
            match std::fs::remove_file(o.out.join(f)) {
                Ok(()) => {}
                Err(x) if x.kind() == std::io::ErrorKind::NotFound => {}
                Err(x) => return Err(io_err(&o.out.join(f), x)),
            }
        }
    }
    store::write_manifest(&o.out, &manifest).map_err(|x| io_err(&o.out, x))?;
    let (journal, earlier) = store::Journal::open(&o.out).map_err(|x| io_err(&o.out.join(store::JOURNAL), x))?;
    let by_index: BTreeMap<usize, &Cell> = planned.iter().map(|(c, _)| (c.index, c)).collect();
    let mut done: BTreeMap<usize, Row> = BTreeMap::new();
    for r in earlier {
        let matches =
            by_index.get(&r.cell).is_some_and(|c| r.values.get("seed").and_then(|s| s.as_u64()) == Some(c.seed));
        if !matches {
            return Err(SweepError::Input(format!(
                "{}: row of cell {} does not belong to this sweep's cells: pass --restart to start over",
                o.out.join(store::JOURNAL).display(),
                r.cell
            )));
        }
        done.insert(r.cell, r);
    }
    let resumed = done.len();
    let todo: Vec<&(Cell, cell::Job)> = planned.iter().filter(|(c, _)| !done.contains_key(&c.index)).collect();
    let finished = Mutex::new((journal, Vec::<Row>::new()));
    let count = std::sync::atomic::AtomicUsize::new(resumed);
    progress(resumed, planned.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|x| SweepError::Input(format!("cannot start {jobs} threads: {x}")))?;
    let units = units(e, &todo, jobs, &per_cell, o.shared_pass);
    pool.install(|| {
        units.par_iter().try_for_each(|unit| -> Result<(), SweepError> {
            let cells: Vec<(&Cell, &cell::Job)> = unit.iter().map(|(c, j)| (c, j)).collect();
            let metrics = cell::run_unit(e, &cells, &per_cell).map_err(SweepError::Cell)?;
            let mut f = finished.lock().expect("no thread panics holding the journal");
            for ((c, _), m) in cells.iter().zip(metrics) {
                let r = row(c, m);
                f.0.append(&r, &columns).map_err(|x| io_err(&o.out.join(store::JOURNAL), x))?;
                f.1.push(r);
            }
            drop(f);
            let n = count.fetch_add(cells.len(), std::sync::atomic::Ordering::Relaxed) + cells.len();
            progress(n, planned.len());
            Ok(())
        })
    })?;
    let (_, new_rows) = finished.into_inner().expect("no thread panicked");
    let ran = new_rows.len();
    done.extend(new_rows.into_iter().map(|r| (r.cell, r)));
    let rows: Vec<Row> = done.into_values().collect();
    store::write_results(&o.out, &columns, &rows).map_err(|x| io_err(&o.out, x))?;
    store::write_manifest(&o.out, &Manifest { complete: true, ..manifest }).map_err(|x| io_err(&o.out, x))?;
    Ok(Outcome { cells: total, here: planned.len(), resumed, ran })
}
