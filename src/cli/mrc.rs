//! `pagelab mrc TRACE [--policy lru,fifo,...] [--sizes LIST]`: miss-ratio
//! curves. LRU from one pass of Mattson's stack algorithm (`crate::mrc`),
//! every other policy from one replay of the machine per size, the sizes
//! in parallel; the points are `pagelab replay --frames N`'s fault counts.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use super::{emit, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::host_memory::{self, HostLimit};
use crate::mrc::{self, Curve, LruStack, PassError, Point, StackDistances};
use crate::replay::{replay, ReplayConfig, ReplayError, DEFAULT_CHECK_EVERY};
use crate::trace::{open_reader, open_trace, FormatChoice, OpenedTrace, TraceFormat};
use crate::working_set::PolicyKind;

/// Arguments of `mrc`.
#[derive(Debug, Args)]
pub struct MrcArgs {
    /// Trace file (`-` for standard input).
    pub trace: String,
    /// Trace format: auto (from the file's name and first bytes, decided
    /// once for every replay), refs, lackey, oracle-general,
    /// oracle-general-zst, text or csv. A trace compressed with zstd is
    /// decompressed as it is read.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Policies, separated by commas: lru (every size in one pass), fifo,
    /// clock, opt, random, aging, wsclock (one replay per size).
    #[arg(long, default_value = "lru")]
    pub policy: String,
    /// Working-set sizes in frames: N, A-B (every size) or A-B/STEP,
    /// separated by commas (default: every size up to the trace's
    /// footprint if it is at most 64 pages, else 40 sizes spaced
    /// logarithmically from 1 to the footprint).
    #[arg(long, value_name = "LIST")]
    pub sizes: Option<String>,
    /// Aging and wsclock: run the aging scan every N references.
    #[arg(long, value_name = "N")]
    pub refresh: Option<u64>,
    /// Wsclock: the working-set window tau, in references.
    #[arg(long, value_name = "N")]
    pub tau: Option<u64>,
    /// Seed (for the random policy).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Write the CSV (or JSON) to this file (whole or not at all).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also draw the curves as an SVG plot into this file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// With --plot: a logarithmic frames axis.
    #[arg(long)]
    pub log_x: bool,
    /// Replays to run at once (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Host memory it may use (e.g. 8GiB, or "unlimited"); default:
    /// $PAGELAB_HOST_MEMORY, else 3/4 of the host's RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
    /// Print host time and references per second to standard error.
    #[arg(long)]
    pub timing: bool,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// Where the per-size replays read the trace: the file again, or the bytes
/// of standard input, held.
enum Source {
    File(String),
    Held(Arc<[u8]>),
}

impl Source {
    /// The trace from its start, decompressed if it is zstd data, in the
    /// format `choice` gives (detected with `auto`).
    fn open(&self, choice: FormatChoice) -> Result<OpenedTrace, String> {
        match self {
            Source::File(p) => open_trace(p, choice, None),
            Source::Held(b) => open_reader(Box::new(std::io::Cursor::new(Arc::clone(b))), None, choice, None),
        }
    }

    fn held_bytes(&self) -> u64 {
        match self {
            Source::File(_) => 0,
            Source::Held(b) => b.len() as u64,
        }
    }
}

/// The whole output, as `--json` prints it.
#[derive(Serialize)]
struct MrcReport<'a> {
    trace: &'a str,
    /// The format the trace was read in (`--format`, or detected).
    format: &'a str,
    /// The format as replay's report names it, with what detected it.
    format_read_as: &'a str,
    references: u64,
    access_violations: u64,
    /// First touches: distinct pages, a miss at every size.
    compulsory: u64,
    /// Always true: misses count first touches, as replay's faults do.
    misses_include_compulsory: bool,
    sizes: &'a [u64],
    curves: &'a [Curve],
}

/// Parses `--policy`: names separated by commas, each once.
fn parse_policies(s: &str) -> Result<Vec<PolicyKind>, String> {
    let mut v = Vec::new();
    for name in s.split(',').map(str::trim) {
        let Some(p) = PolicyKind::parse(name) else {
            return Err(format!(
                "--policy {s:?}: unknown policy {name:?}: expected names separated by commas from lru, fifo, clock, \
                 opt, random, aging, wsclock"
            ));
        };
        if !v.contains(&p) {
            v.push(p);
        }
    }
    Ok(v)
}

/// Runs `mrc`.
pub fn mrc(a: MrcArgs) -> i32 {
    let policies = match parse_policies(&a.policy) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    if let Some(r) = a.refresh {
        if !policies.iter().any(|p| p.scans_accessed_bits()) {
            return bad(format!("--refresh {r}: applies only to the aging and wsclock policies, not to {}", a.policy));
        }
        if r == 0 {
            return bad("--refresh 0: expected a period of at least 1 reference".into());
        }
    }
    if let Some(t) = a.tau {
        if !policies.contains(&PolicyKind::WsClock) {
            return bad(format!("--tau {t}: applies only to the wsclock policy, not to {}", a.policy));
        }
        if t == 0 {
            return bad("--tau 0: expected a window of at least 1 reference".into());
        }
    }
    let Some(choice) = FormatChoice::parse(&a.format) else {
        return bad(format!("--format {:?}: expected one of {}", a.format, FormatChoice::NAMES.join(", ")));
    };
    let given_sizes = match a.sizes.as_deref().map(mrc::parse_sizes) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return bad(format!("--sizes: {e}")),
    };
    if a.jobs == Some(0) {
        return bad("--jobs 0: expected at least 1".into());
    }
    let limit = match HostLimit::resolve(a.host_memory.as_deref()) {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    let source = if a.trace == "-" {
        match hold_stdin(&limit) {
            Ok(b) => Source::Held(b.into()),
            Err(e) => return bad(e),
        }
    } else {
        if let Err(e) = std::fs::File::open(&a.trace) {
            return bad(format!("{}: cannot open the trace: {e}", a.trace));
        }
        Source::File(a.trace.clone())
    };

    // The one pass: LRU's every size, and what the trace holds.
    let start = Instant::now();
    let end_page = ReplayConfig::new(PolicyKind::Lru, 1).machine.layout.end_user_page().0;
    // The format is settled here, once: every replay reads the trace as
    // this pass did.
    let opened = match source.open(choice) {
        Ok(t) => t,
        Err(e) => return bad(format!("{}: {e}", a.trace)),
    };
    let (format, settled, described) = (opened.format, opened.settled(), opened.describe());
    let stack = match stack_pass(opened.input, format, end_page, &limit, source.held_bytes()) {
        Ok(s) => s,
        Err(e) => return failed(&a.trace, &described, e),
    };
    if a.timing {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "pagelab: LRU stack pass: {} references in {:.3} s host time: {:.1} M references/s",
            stack.references,
            secs,
            stack.references as f64 / secs / 1e6
        );
    }
    let sizes = given_sizes.unwrap_or_else(|| mrc::default_sizes(stack.compulsory));

    let replayed = Instant::now();
    let mut replays = match replay_curves(&a, &policies, &sizes, &source, settled, &limit, stack.references) {
        Ok(c) => c,
        Err((trace_err, code)) => return report_failure(&a.trace, &described, trace_err, code),
    };
    if a.timing && !replays.is_empty() {
        let n: usize = replays.iter().map(|c| c.points.len()).sum();
        eprintln!("pagelab: {n} replays in {:.3} s host time", replayed.elapsed().as_secs_f64());
    }
    let curves: Vec<Curve> =
        policies.iter().map(|&p| if p == PolicyKind::Lru { stack.curve(&sizes) } else { replays.remove(0) }).collect();

    if let Some(path) = &a.plot {
        let chart = crate::plot::mrc_chart(&curves, a.log_x);
        let svg = match chart.svg() {
            Ok(s) => s,
            Err(e) => return bad(format!("{}: cannot draw the plot: {e}", path.display())),
        };
        if let Err(e) = crate::output::write_text(path, &svg) {
            return bad(format!("cannot write {}: {e}", path.display()));
        }
    }
    let text = if a.json {
        let r = MrcReport {
            trace: &a.trace,
            format: format.name(),
            format_read_as: &described,
            references: stack.references,
            access_violations: stack.access_violations,
            compulsory: stack.compulsory,
            misses_include_compulsory: true,
            sizes: &sizes,
            curves: &curves,
        };
        serde_json::to_string_pretty(&r).expect("json") + "\n"
    } else {
        let mut s = mrc::CSV_HEADER.to_string();
        for c in &curves {
            s += &mrc::csv_rows(c, stack.compulsory);
        }
        s
    };
    match emit(a.output.as_deref(), &text) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}

/// Standard input, read whole (the replays read it again, one per size),
/// within the host-memory limit.
fn hold_stdin(limit: &HostLimit) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("-: cannot read the trace: {e}")),
        };
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(l) = limit.bytes {
            if bytes.len() as u64 + host_memory::BASE_BYTES > l {
                return Err(format!(
                    "-: the trace on standard input is held whole for the replays of each size, and it is over {} \
                     read, more than the limit of {} ({}); give the trace as a file (it is then read again, not \
                     held), or set the limit with --host-memory SIZE or {}=SIZE",
                    host_memory::approx(bytes.len() as u64),
                    host_memory::approx(l),
                    limit.source,
                    host_memory::LIMIT_VAR
                ));
            }
        }
    }
}

/// The LRU stack pass over the whole trace, checking the host memory it
/// holds every 64 batches of references.
fn stack_pass(
    input: impl BufRead,
    format: TraceFormat,
    end_page: u64,
    limit: &HostLimit,
    held: u64,
) -> Result<StackDistances, PassError> {
    mrc::lru_pass(input, format, end_page, |s| check_stack(s, limit, held))
}

fn check_stack(stack: &LruStack, limit: &HostLimit, held: u64) -> Result<(), PassError> {
    let Some(l) = limit.bytes else { return Ok(()) };
    let need = stack.host_bytes() + held + host_memory::BASE_BYTES;
    if need > l {
        return Err(PassError::HostMemory(format!(
            "the LRU stack holds {} of host memory after {} references (it grows with the trace's distinct pages), \
             more than the limit of {} ({}); set the limit with --host-memory SIZE or {}=SIZE",
            host_memory::approx(need),
            stack.references(),
            host_memory::approx(l),
            limit.source,
            host_memory::LIMIT_VAR
        )));
    }
    Ok(())
}

/// A malformed trace is reported with the format it was read as, as
/// replay reports it.
fn failed(trace: &str, format: &str, e: PassError) -> i32 {
    match e {
        PassError::Trace(e) => bad(format!("{}:{}:{}: {}\n  (read as {format})", trace, e.line, e.col, e.message)),
        PassError::HostMemory(m) => bad(format!("{trace}: {m}")),
    }
}

fn report_failure(trace: &str, format: &str, e: ReplayError, code: i32) -> i32 {
    match e {
        ReplayError::Trace(e) => {
            eprintln!("pagelab: {}:{}:{}: {}\n  (read as {format})", trace, e.line, e.col, e.message)
        }
        e => eprintln!("pagelab: {trace}: {e}"),
    }
    code
}

/// One replay of the machine per (policy, size), in parallel; the curves
/// of every policy but LRU, in the order given.
fn replay_curves(
    a: &MrcArgs,
    policies: &[PolicyKind],
    sizes: &[u64],
    source: &Source,
    choice: FormatChoice,
    limit: &HostLimit,
    references: u64,
) -> Result<Vec<Curve>, (ReplayError, i32)> {
    let config = |policy: PolicyKind, frames: u64| {
        let mut cfg = ReplayConfig::new(policy, frames);
        cfg.machine.seed = a.seed;
        cfg.refresh = a.refresh.filter(|_| policy.scans_accessed_bits());
        if let (Some(t), PolicyKind::WsClock) = (a.tau, policy) {
            cfg.set_tau(t);
        }
        cfg.check_every = Some(DEFAULT_CHECK_EVERY);
        cfg
    };
    let jobs: Vec<(PolicyKind, u64)> =
        policies.iter().filter(|&&p| p != PolicyKind::Lru).flat_map(|&p| sizes.iter().map(move |&f| (p, f))).collect();
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // Host memory: each replay's bound (OPT holds the whole trace, unless
    // its oracleGeneral records carry their next uses and it streams), as
    // many at once as fit beside what is held already.
    let opt_streams = matches!(choice, FormatChoice::Given(TraceFormat::OracleGeneral | TraceFormat::OracleGeneralZst));
    let bound = |&(p, f): &(PolicyKind, u64)| {
        let cfg = config(p, f);
        let held = (p == PolicyKind::Opt && !opt_streams).then_some(references);
        host_memory::replay(&cfg.machine, p, f, held).total()
    };
    let largest = jobs.iter().map(bound).max().unwrap_or(0);
    let cores = a.jobs.unwrap_or_else(rayon::current_num_threads).max(1);
    let mut at_once = cores.min(jobs.len());
    let share = |n: usize| {
        limit.bytes.map(|l| HostLimit {
            bytes: Some(l.saturating_sub(source.held_bytes()) / n as u64),
            source: if n == 1 {
                limit.source.clone()
            } else {
                format!("{} shared by {n} replays at once", limit.source)
            },
        })
    };
    while at_once > 1 && share(at_once).is_some_and(|s| s.bytes.is_some_and(|b| b < largest)) {
        at_once -= 1;
    }
    let job_limit = share(at_once).unwrap_or_else(|| limit.clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(at_once)
        .build()
        .map_err(|e| (ReplayError::Config(format!("cannot start {at_once} threads: {e}")), EXIT_BAD_INPUT))?;
    let results: Vec<Result<Point, (ReplayError, i32)>> = pool.install(|| {
        jobs.par_iter()
            .map(|&(p, f)| {
                let mut cfg = config(p, f);
                cfg.host_limit = job_limit.clone();
                let t = source.open(choice).map_err(|e| (ReplayError::Config(e), EXIT_BAD_INPUT))?;
                match replay(t.input, t.format, &cfg) {
                    Ok(r) => {
                        Ok(Point { frames: f, references: r.references, misses: r.faults, miss_ratio: r.fault_rate })
                    }
                    Err(e @ ReplayError::Invariant { .. }) => Err((e, EXIT_INTERNAL)),
                    Err(e) => Err((e, EXIT_BAD_INPUT)),
                }
            })
            .collect()
    });
    let mut curves: Vec<Curve> = Vec::new();
    let mut results = results.into_iter();
    for &p in policies.iter().filter(|&&p| p != PolicyKind::Lru) {
        let mut points = Vec::with_capacity(sizes.len());
        for _ in sizes {
            points.push(results.next().expect("one result per job")?);
        }
        curves.push(Curve { policy: p.name().into(), method: "replay", points });
    }
    Ok(curves)
}
