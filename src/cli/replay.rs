//! `pagelab replay TRACE --policy P --frames N`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{emit, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::cost::CostModel;
use crate::host_memory::HostLimit;
use crate::replay::{
    replay as do_replay, replay_traced, ReplayConfig, ReplayError, ReplayResult, TraceStyle, DEFAULT_CHECK_EVERY,
};
use crate::trace::{open_trace, CsvParams, FormatChoice, OpenedTrace};
use crate::units::{Bytes, SimNanos};
use crate::working_set::PolicyKind;

/// Arguments of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Trace file (`-` for standard input).
    pub trace: String,
    /// Replacement policy: fifo, lru, clock, opt, random, aging or wsclock.
    #[arg(long, default_value = "fifo")]
    pub policy: String,
    /// Aging and wsclock: run the aging scan every N references (vmsim's
    /// refresh period); without it only replacement scans read the
    /// accessed bits.
    #[arg(long, value_name = "N")]
    pub refresh: Option<u64>,
    /// Wsclock: the working-set window tau, in references (default 1000).
    #[arg(long, value_name = "N")]
    pub tau: Option<u64>,
    /// Working-set maximum in frames.
    #[arg(long)]
    pub frames: u64,
    /// Trace format: auto (from the file's name and first bytes), refs,
    /// lackey, oracle-general, oracle-general-zst, text or csv. A trace
    /// compressed with zstd is decompressed as it is read.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// CSV and text traces: libCacheSim's settings, e.g.
    /// "obj-id-col=2,delimiter=,,has-header=true" (also obj-id-is-num,
    /// time-col, obj-size-col, next-access-col).
    #[arg(long, value_name = "KEY=VALUE,...")]
    pub trace_params: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Physical memory of the simulated machine (default: max(4 x frames, 64 MiB)).
    #[arg(long)]
    pub memory: Option<String>,
    /// Cost profile: disk-1993, server-2008 or nvme.
    #[arg(long)]
    pub cost: Option<String>,
    /// Seed (for the random policy).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print host time and references per second to standard error.
    #[arg(long)]
    pub timing: bool,
    /// Write the report to this file (whole or not at all).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Host memory the replay may use (e.g. 8GiB, or "unlimited"); default:
    /// $PAGELAB_HOST_MEMORY, else 3/4 of the host's RAM or memory limits.
    #[arg(long, value_name = "SIZE")]
    pub host_memory: Option<String>,
    /// Check the model's invariants every N references and at the end
    /// (checking after every reference would cost more than the replay).
    /// A broken invariant is an internal error: exit code 3.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHECK_EVERY)]
    pub check_every: u64,
    /// Do not check the invariants at all.
    #[arg(long)]
    pub no_check: bool,
    /// Model a TLB of ENTRIES entries for 4 KiB pages (and LARGE entries
    /// for 2 MiB pages, default 32; 4-way) and report its misses, with
    /// what the same references would miss on 2 MiB pages.
    #[arg(long, value_name = "ENTRIES[,LARGE]")]
    pub tlb: Option<String>,
    /// Print one line per reference: the page, hit or the kind of fault,
    /// the victim and its list, the working set in policy order, running
    /// hits and misses; as text (the default, followed by the report),
    /// csv or jsonl.
    #[arg(long = "trace", value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    pub trace_style: Option<String>,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// Runs `replay`.
pub fn replay(a: ReplayArgs) -> i32 {
    let Some(policy) = PolicyKind::parse(&a.policy) else {
        return bad(format!("--policy {:?}: expected fifo, lru, clock, opt, random, aging or wsclock", a.policy));
    };
    if let Some(r) = a.refresh {
        if !policy.scans_accessed_bits() {
            return bad(format!("--refresh {r}: applies only to --policy aging or wsclock, not {}", policy.name()));
        }
        if r == 0 {
            return bad("--refresh 0: expected a period of at least 1 reference".into());
        }
    }
    if let Some(t) = a.tau {
        if policy != PolicyKind::WsClock {
            return bad(format!("--tau {t}: applies only to --policy wsclock, not {}", policy.name()));
        }
        if t == 0 {
            return bad("--tau 0: expected a window of at least 1 reference".into());
        }
    }
    let Some(choice) = FormatChoice::parse(&a.format) else {
        return bad(format!("--format {:?}: expected one of {}", a.format, FormatChoice::NAMES.join(", ")));
    };
    let params = match a.trace_params.as_deref().map(CsvParams::parse).transpose() {
        Ok(p) => p,
        Err(e) => return bad(format!("--trace-params: {e}")),
    };
    let mut cfg = ReplayConfig::new(policy, a.frames);
    if let Some(m) = &a.memory {
        match Bytes::parse(m) {
            Ok(b) => cfg.set_memory(b),
            Err(e) => return bad(format!("--memory: {e}")),
        }
    }
    if let Some(c) = &a.cost {
        match CostModel::profile(c) {
            Some(p) => cfg.machine.cost = p,
            None => return bad(format!("--cost {c:?}: expected one of {}", CostModel::PROFILES.join(", "))),
        }
    }
    cfg.machine.seed = a.seed;
    cfg.refresh = a.refresh;
    if let Some(t) = a.tau {
        cfg.set_tau(t);
    }
    cfg.host_limit = match HostLimit::resolve(a.host_memory.as_deref()) {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    if a.check_every == 0 {
        return bad("--check-every 0: expected at least 1 (or --no-check)".into());
    }
    cfg.check_every = (!a.no_check).then_some(a.check_every);
    if let Some(t) = &a.tlb {
        let shape = match crate::tlb::TlbConfig::parse_entries(t) {
            Ok(s) => s,
            Err(e) => return bad(format!("--tlb {t:?}: {e}")),
        };
        cfg.machine.tlb = Some(shape);
    }
    if let Err(e) = cfg.machine.validate() {
        return bad(format!("--memory {}: {e}", a.memory.as_deref().unwrap_or("(default)")));
    }
    let style = match a.trace_style.as_deref() {
        None => None,
        Some(t) => match TraceStyle::parse(t) {
            Some(s) => Some(s),
            None => {
                return bad(format!(
                    "--trace {t:?}: expected {} (the trace file comes before --trace, or use --trace=FORMAT)",
                    TraceStyle::NAMES.join(", ")
                ))
            }
        },
    };
    if style.is_some() && a.json {
        return bad("--trace and --json: choose one (--trace jsonl prints JSON, one object per reference)".into());
    }
    let start = Instant::now();
    let trace = match open_trace(&a.trace, choice, params) {
        Ok(t) => t,
        Err(e) => return bad(format!("{}: {e}", a.trace)),
    };
    let described = trace.describe();
    if let Some(style) = style {
        return traced(&a, trace, &cfg, style, start);
    }
    let r = match do_replay(trace.input, trace.format, &cfg) {
        Ok(r) => r,
        Err(e) => return failed(&a.trace, &described, e),
    };
    timing(&a, &r, start);
    match emit(a.output.as_deref(), &report(&a, &described, &r)) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}

/// The exit code of a replay that stopped, after saying why; a malformed
/// trace also says which format it was read as.
fn failed(trace: &str, format: &str, e: ReplayError) -> i32 {
    match e {
        ReplayError::Trace(e) => bad(format!("{}:{}:{}: {}\n  (read as {format})", trace, e.line, e.col, e.message)),
        e @ ReplayError::Invariant { .. } => {
            eprintln!("pagelab: {trace}: {e}");
            EXIT_INTERNAL
        }
        e => bad(format!("{trace}: {e}")),
    }
}

/// `--timing`: host time and speed, on standard error.
fn timing(a: &ReplayArgs, r: &ReplayResult, start: Instant) {
    if a.timing {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "pagelab: {} references in {:.3} s host time: {:.1} M references/s",
            r.references,
            secs,
            r.references as f64 / secs / 1e6
        );
    }
}

/// `replay --trace`: one line per reference, streamed to standard output
/// or to `-o FILE` (written whole or not at all: a replay that fails
/// leaves no file).
fn traced(a: &ReplayArgs, trace: OpenedTrace, cfg: &ReplayConfig, style: TraceStyle, start: Instant) -> i32 {
    let described = trace.describe();
    let (input, format) = (trace.input, trace.format);
    let write = |w: &mut dyn Write| -> Result<ReplayResult, ReplayError> {
        w.write_all(style.header(cfg.policy).as_bytes()).map_err(ReplayError::Output)?;
        let r = replay_traced(input, format, cfg, |t| w.write_all(style.line(t).as_bytes()))?;
        if style == TraceStyle::Text {
            w.write_all(format!("\n{}", report(a, &described, &r)).as_bytes()).map_err(ReplayError::Output)?;
        }
        w.flush().map_err(ReplayError::Output)?;
        Ok(r)
    };
    let result = match a.output.as_deref() {
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            match write(&mut out) {
                Err(ReplayError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return EXIT_OK,
                Err(ReplayError::Output(e)) => {
                    eprintln!("pagelab: cannot write to standard output: {e}");
                    return EXIT_BAD_INPUT;
                }
                r => r,
            }
        }
        Some(path) => {
            let mut outcome = None;
            let written = crate::output::write_whole(path, |w| {
                let r = write(w);
                let failed = match &r {
                    Ok(_) => None,
                    Err(ReplayError::Output(e)) => Some(std::io::Error::new(e.kind(), e.to_string())),
                    Err(_) => Some(std::io::Error::other("the replay stopped")),
                };
                outcome = Some(r);
                failed.map_or(Ok(()), Err)
            });
            match (outcome, written) {
                (Some(Err(ReplayError::Output(e))), _) => {
                    eprintln!("pagelab: cannot write {}: {e}", path.display());
                    return EXIT_BAD_INPUT;
                }
                (Some(Err(e)), _) => Err(e),
                (_, Err(e)) => {
                    eprintln!("pagelab: cannot write {}: {e}", path.display());
                    return EXIT_BAD_INPUT;
                }
                (Some(Ok(r)), Ok(())) => Ok(r),
                (None, Ok(())) => {
                    eprintln!("pagelab: internal error: {} was written without the replay", path.display());
                    return EXIT_INTERNAL;
                }
            }
        }
    };
    match result {
        Ok(r) => {
            timing(a, &r, start);
            EXIT_OK
        }
        Err(e) => failed(&a.trace, &described, e),
    }
}

/// The report of a replay: text, or JSON with `--json`.
fn report(a: &ReplayArgs, format: &str, r: &ReplayResult) -> String {
    if a.json {
        serde_json::to_string_pretty(&r).expect("json") + "\n"
    } else {
        let c = &r.counters;
        let l = &r.fault_latency;
        format!(
            "replay {} ({}), policy {}{}, {} frames, memory {}\nreferences        {}\nfaults            {} ({:.2}%): demand zero {}, soft {}, hard {}\n{}I/O               {} reads ({} pages), {} writes\nsimulated time    {} in faults (p50 {}, p99 {})\n",
            a.trace,
            format,
            r.policy,
            match (r.tau, r.refresh) {
                (Some(t), Some(n)) => format!(" (tau {t}, refresh {n})"),
                (Some(t), None) => format!(" (tau {t})"),
                (None, Some(n)) => format!(" (refresh {n})"),
                (None, None) => String::new(),
            },
            r.frames,
            Bytes(r.memory),
            r.references,
            r.faults,
            r.fault_rate * 100.0,
            r.breakdown.demand_zero,
            r.breakdown.soft,
            r.breakdown.hard,
            if r.access_violations > 0 {
                format!("access violations {} (addresses outside user space)\n", r.access_violations)
            } else {
                String::new()
            },
            c.activity.io_reads,
            c.activity.pages_read,
            c.activity.io_writes,
            c.activity.time_foreground,
            SimNanos(l.p50_ns),
            SimNanos(l.p99_ns),
        ) + &crate::replay::memory_note(r, a.memory.is_some())
            + &r.tlb.map_or(String::new(), |t| {
            format!(
                "TLB misses        {} ({:.2}% of references) on 4 KiB pages; on 2 MiB pages it would be {}\n",
                t.misses,
                t.misses as f64 * 100.0 / r.references.max(1) as f64,
                t.misses_if_large
            )
        })
    }
}
