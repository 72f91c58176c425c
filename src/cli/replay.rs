//! `pagelab replay TRACE --policy P --frames N`.

use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{emit, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::cost::CostModel;
use crate::host_memory::HostLimit;
use crate::replay::{replay as do_replay, ReplayConfig, ReplayError, DEFAULT_CHECK_EVERY};
use crate::trace::TraceFormat;
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
    /// Trace format: refs, lackey or oracle-general.
    #[arg(long, default_value = "refs")]
    pub format: String,
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
    let Some(format) = TraceFormat::parse(&a.format) else {
        return bad(format!("--format {:?}: expected one of {}", a.format, TraceFormat::NAMES.join(", ")));
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
        let mut shape = crate::tlb::TlbConfig::default();
        let mut parts = t.split(',').map(|p| p.trim().parse::<u32>());
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(e)), None, None) => shape.entries = e,
            (Some(Ok(e)), Some(Ok(l)), None) => (shape.entries, shape.large_entries) = (e, l),
            _ => return bad(format!("--tlb {t:?}: expected ENTRIES or ENTRIES,LARGE, e.g. --tlb 64,32")),
        }
        if let Err(e) = shape.validate() {
            return bad(format!("--tlb {t:?}: {e}"));
        }
        cfg.machine.tlb = Some(shape);
    }
    if let Err(e) = cfg.machine.validate() {
        return bad(format!("--memory {}: {e}", a.memory.as_deref().unwrap_or("(default)")));
    }
    let start = Instant::now();
    let result = if a.trace == "-" {
        do_replay(std::io::stdin().lock(), format, &cfg)
    } else {
        match std::fs::File::open(&a.trace) {
            Ok(f) => do_replay(BufReader::with_capacity(1 << 16, f), format, &cfg),
            Err(e) => return bad(format!("{}: cannot open the trace: {e}", a.trace)),
        }
    };
    let elapsed = start.elapsed();
    let r = match result {
        Ok(r) => r,
        Err(ReplayError::Trace(e)) => return bad(format!("{}:{}:{}: {}", a.trace, e.line, e.col, e.message)),
        Err(e @ ReplayError::Invariant { .. }) => {
            eprintln!("pagelab: {}: {e}", a.trace);
            return EXIT_INTERNAL;
        }
        Err(e) => return bad(format!("{}: {e}", a.trace)),
    };
    if a.timing {
        let secs = elapsed.as_secs_f64();
        eprintln!(
            "pagelab: {} references in {:.3} s host time: {:.1} M references/s",
            r.references,
            secs,
            r.references as f64 / secs / 1e6
        );
    }
    let text = if a.json {
        serde_json::to_string_pretty(&r).expect("json") + "\n"
    } else {
        let c = &r.counters;
        let l = &r.fault_latency;
        format!(
            "replay {} ({}), policy {}{}, {} frames, memory {}\nreferences        {}\nfaults            {} ({:.2}%): demand zero {}, soft {}, hard {}\n{}I/O               {} reads ({} pages), {} writes\nsimulated time    {} in faults (p50 {}, p99 {})\n",
            a.trace,
            a.format,
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
        ) + &crate::replay::memory_note(&r, a.memory.is_some())
            + &r.tlb.map_or(String::new(), |t| {
            format!(
                "TLB misses        {} ({:.2}% of references) on 4 KiB pages; on 2 MiB pages it would be {}\n",
                t.misses,
                t.misses as f64 * 100.0 / r.references.max(1) as f64,
                t.misses_if_large
            )
        })
    };
    match emit(a.output.as_deref(), &text) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}
