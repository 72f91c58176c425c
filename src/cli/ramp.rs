//! `pagelab ramp-up`: T threads filling a buffer with demand-zero pages
//! versus AWE, for each T, on machines of their own ([`crate::ramp`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{emit, EXIT_BAD_INPUT, EXIT_OK};
use crate::cost::CostModel;
use crate::ramp::{Sweep, SweepRow};
use crate::units::{Bytes, SimNanos, PAGE_SIZE};

/// Arguments of `ramp-up`.
#[derive(Debug, Args)]
pub struct RampArgs {
    /// The buffer's size (e.g. 256MiB): a multiple of 4 KiB, at most 64 GiB.
    #[arg(long, default_value = "256MiB")]
    pub size: String,
    /// Thread counts, one row each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    pub threads: Vec<u32>,
    /// AWE: pages per AllocateUserPhysicalPages and MapUserPhysicalPages call.
    #[arg(long, default_value_t = 1024)]
    pub batch: u64,
    /// Cost profile (disk-1993, server-2008, nvme).
    #[arg(long, default_value = "server-2008")]
    pub costs: String,
    /// Start from a freshly booted machine, every frame zeroed (default: a
    /// machine that has been in use, every frame free but not zeroed).
    #[arg(long)]
    pub zeroed: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the report to this file (whole or not at all).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// The JSON report.
#[derive(Serialize)]
struct Report<'a> {
    pages: u64,
    batch: u64,
    costs: &'a str,
    zeroed: bool,
    rows: &'a [SweepRow],
}

fn ms(t: SimNanos) -> String {
    format!("{:.2} ms", t.0 as f64 / 1e6)
}

/// The text table.
fn table(s: &Sweep, rows: &[SweepRow]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "ramp-up of a {} buffer ({} pages), {} costs, frames {}; AWE in calls of {} pages",
        Bytes(s.pages * PAGE_SIZE),
        s.pages,
        s.costs.profile,
        if s.zeroed { "zeroed (freshly booted)" } else { "free but not zeroed (a machine in use)" },
        s.batch
    );
    let _ = writeln!(
        o,
        "time: until the last thread is done; waited: summed over threads; locks: acquisitions (of which waited for)\n"
    );
    let _ = writeln!(
        o,
        "{:>7} | {:>11} {:>12} {:>17} {:>17} | {:>11} {:>12} {:>11} {:>11} | {:>7}",
        "threads", "regular", "waited", "ws locks", "pfn locks", "awe", "waited", "ws locks", "pfn locks", "awe is"
    );
    for r in rows {
        let locks = |l: &crate::locks::LockStats| format!("{} ({})", l.acquisitions, l.contended);
        let _ = writeln!(
            o,
            "{:>7} | {:>11} {:>12} {:>17} {:>17} | {:>11} {:>12} {:>11} {:>11} | {:>6.1}x",
            r.threads,
            ms(r.regular.time),
            ms(r.regular.wait()),
            locks(&r.regular.ws),
            locks(&r.regular.pfn),
            ms(r.awe.time),
            ms(r.awe.wait()),
            locks(&r.awe.ws),
            locks(&r.awe.pfn),
            r.regular.time.0 as f64 / r.awe.time.0.max(1) as f64
        );
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let gain = |a: SimNanos, b: SimNanos| a.0 as f64 / b.0.max(1) as f64;
        let _ = writeln!(
            o,
            "\nfrom {} to {} threads: regular pages {:.1}x faster, AWE {:.1}x faster",
            first.threads,
            last.threads,
            gain(first.regular.time, last.regular.time),
            gain(first.awe.time, last.awe.time)
        );
    }
    o
}

/// Runs `ramp-up`.
pub fn ramp(a: RampArgs) -> i32 {
    let bad = |m: String| {
        eprintln!("pagelab ramp-up: {m}");
        EXIT_BAD_INPUT
    };
    let size = match Bytes::parse(&a.size) {
        Ok(b) if b.0 > 0 && b.0 % PAGE_SIZE == 0 => b.0,
        Ok(b) => return bad(format!("--size {}: expected a positive multiple of 4 KiB", b)),
        Err(e) => return bad(format!("--size {:?}: {e}", a.size)),
    };
    let Some(costs) = CostModel::profile(&a.costs) else {
        return bad(format!("--costs {:?}: expected one of {}", a.costs, CostModel::PROFILES.join(", ")));
    };
    if a.threads.is_empty() {
        return bad("--threads: expected at least one thread count".into());
    }
    let sweep = Sweep { pages: size / PAGE_SIZE, threads: a.threads, batch: a.batch, costs, zeroed: a.zeroed };
    let rows = match sweep.run() {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let text = if a.json {
        let r = Report {
            pages: sweep.pages,
            batch: sweep.batch,
            costs: &sweep.costs.profile,
            zeroed: sweep.zeroed,
            rows: &rows,
        };
        serde_json::to_string_pretty(&r).expect("the report serialises") + "\n"
    } else {
        table(&sweep, &rows)
    };
    match emit(a.output.as_deref(), &text) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}
