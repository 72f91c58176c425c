//! `pagelab fragmentation [FILE]`: free-block distribution and Linux's
//! fragmentation indices of a `/proc/buddyinfo` text.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{emit, EXIT_BAD_INPUT, EXIT_OK};
use crate::fragmentation::{Figures, FreeBlocks, Order, ZoneBlocks};
use crate::units::{Bytes, PAGE_SIZE};

/// Where the running kernel's distribution is read from by default.
pub const PROC_BUDDYINFO: &str = "/proc/buddyinfo";

/// The most a buddyinfo text may hold. A real one has a line of about 100
/// bytes per zone, a few per NUMA node: this is thousands of times that.
const MAX_TEXT: u64 = 16 << 20;

/// Arguments of `fragmentation`.
#[derive(Debug, Args)]
pub struct FragmentationArgs {
    /// A /proc/buddyinfo text (`-` for standard input; default: this
    /// machine's /proc/buddyinfo).
    #[arg(conflicts_with = "scenario")]
    pub file: Option<String>,
    /// Instead of a buddyinfo text, run this scenario (a file or a
    /// built-in) and report the simulated machine's physical memory at its
    /// end, with the large pages its allocator could obtain.
    #[arg(long)]
    pub scenario: Option<String>,
    /// With --scenario: override a machine setting, as `run --set` does.
    #[arg(long, requires = "scenario")]
    pub set: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the report to this file (whole or not at all).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

fn bad(msg: String) -> i32 {
    eprintln!("pagelab: {msg}");
    EXIT_BAD_INPUT
}

/// Reads the whole text, at most [`MAX_TEXT`] bytes.
fn read_text(name: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = if name == "-" {
        std::io::stdin().lock().take(MAX_TEXT + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(name).and_then(|f| f.take(MAX_TEXT + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("{name}: cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_TEXT {
        return Err(format!("{name}: more than {} of text: a buddyinfo text is a line per zone", Bytes(MAX_TEXT)));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        format!("{name}:{line}:{col}: expected UTF-8 text, found byte 0x{:02x}", e.as_bytes()[good.len()])
    })
}

/// One zone in the JSON report.
#[derive(Serialize)]
struct ZoneReport<'a> {
    node: u32,
    zone: &'a str,
    line: u64,
    #[serde(flatten)]
    figures: Figures,
}

/// The JSON report.
#[derive(Serialize)]
struct Report<'a> {
    source: &'a str,
    highest_order: Order,
    large_page_order: Order,
    total: Figures,
    zones: Vec<ZoneReport<'a>>,
    /// With --scenario: what the machine's allocator could obtain.
    #[serde(skip_serializing_if = "Option::is_none")]
    simulated: Option<&'a Simulated>,
}

/// `Node 0, zone   Normal`, as the kernel starts each line.
fn zone_label(z: &ZoneBlocks) -> String {
    format!("Node {}, zone {:>8}", z.node, z.zone)
}

/// The text report.
fn text_report(source: &str, zones: &[ZoneBlocks], total: &FreeBlocks) -> String {
    let highest = total.highest_order();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "free memory in {source}: {} zone{}, orders 0 to {} (blocks of {} to {})",
        zones.len(),
        if zones.len() == 1 { "" } else { "s" },
        highest.get(),
        Order::BASE.bytes(),
        highest.bytes()
    );
    let _ = writeln!(o, "\nall zones: {} free pages{}", total.free_pages(), size_of_pages(total.free_pages()));
    let _ = writeln!(
        o,
        "{:>5}  {:>7}  {:>11}  {:>14}  {:>13}  {:>16}",
        "order", "block", "free blocks", "unusable_index", "extfrag_index", "blocks to be had"
    );
    for f in total.per_order() {
        let _ = writeln!(
            o,
            "{:>5}  {:>7}  {:>11}  {:>14}  {:>13}  {:>16}",
            f.order.get(),
            f.order.bytes().to_string(),
            f.free_blocks,
            f.unusable_index.kernel_text(0),
            f.extfrag_index.kernel_text(2),
            f.blocks_available
        );
    }
    let _ = writeln!(o, "largest free block  {}", largest(total));
    let _ = writeln!(
        o,
        "2 MiB blocks free   {} (order {}, from free memory alone)",
        total.available_blocks(Order::LARGE_PAGE),
        Order::LARGE_PAGE.get()
    );

    let _ = writeln!(o, "\nper zone, in Linux's layout:\n\n/proc/buddyinfo (free blocks)");
    for z in zones {
        let counts: String = z.blocks.counts().iter().map(|n| format!(" {n:>6}")).collect();
        let _ = writeln!(o, "{}{counts}", zone_label(z));
    }
    let _ = writeln!(o, "\n/sys/kernel/debug/extfrag/unusable_index");
    for z in zones {
        let v: String = z.blocks.per_order().iter().map(|f| format!(" {}", f.unusable_index.kernel_text(0))).collect();
        let _ = writeln!(o, "{}{v}", zone_label(z));
    }
    let _ = writeln!(o, "\n/sys/kernel/debug/extfrag/extfrag_index");
    for z in zones {
        let v: String = z.blocks.per_order().iter().map(|f| format!(" {}", f.extfrag_index.kernel_text(2))).collect();
        let _ = writeln!(o, "{}{v}", zone_label(z));
    }
    let _ = writeln!(o, "\nlargest free block, 2 MiB blocks free");
    for z in zones {
        let _ = writeln!(
            o,
            "{}  {:<28} {:>10}",
            zone_label(z),
            largest(&z.blocks),
            z.blocks.available_blocks(Order::LARGE_PAGE)
        );
    }
    o
}

/// " (10.6 GiB)": the size of `pages` pages, for a line of text (nothing
/// if it does not fit in 64 bits).
fn size_of_pages(pages: u64) -> String {
    let Some(b) = pages.checked_mul(PAGE_SIZE) else { return String::new() };
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20)] {
        if b >= 1 << shift && b % (1 << shift) != 0 {
            return format!(" ({:.1} {unit})", b as f64 / (1u64 << shift) as f64);
        }
    }
    format!(" ({})", Bytes(b))
}

/// "order 10: 4 MiB, 1024 pages", or "none: nothing is free".
fn largest(b: &FreeBlocks) -> String {
    match b.largest_block() {
        Some(k) => format!("{k}: {}, {} pages", k.bytes(), k.pages()),
        None => "none: nothing is free".to_string(),
    }
}

/// Large pages the simulated machine's allocator could obtain, by effort.
#[derive(Serialize)]
struct Simulated {
    allocator: &'static str,
    large_page: Bytes,
    regions: u32,
    /// The longest run of free frames, in frames (0: nothing free).
    largest_free_run: u32,
    /// Its first frame.
    largest_free_run_start: Option<u32>,
    #[serde(flatten)]
    obtainable: crate::compaction::Obtainable,
}

/// Runs a scenario to its end for `fragmentation --scenario`.
fn run_scenario(name: &str, set: &[String]) -> Result<crate::machine::Machine, i32> {
    let ov = crate::scenario::overrides(set, None).map_err(bad)?;
    let scenario = crate::scenario::resolve(name, &ov).map_err(|e| bad(e.to_string()))?;
    crate::host_memory::check_scenario(&scenario, crate::host_memory::Front::Run, None)
        .map_err(|e| bad(e.to_string()))?;
    let mut runner =
        crate::runner::Runner::new(std::sync::Arc::new(scenario), false).map_err(|e| bad(format!("{name}: {e}")))?;
    while runner.step().is_some() {}
    Ok(runner.machine().clone())
}

/// Runs `fragmentation`.
pub fn fragmentation(a: FragmentationArgs) -> i32 {
    let (source, info, simulated) = if let Some(name) = &a.scenario {
        let m = match run_scenario(name, &a.set) {
            Ok(m) => m,
            Err(c) => return c,
        };
        let zones = m.free_zones(Order::new(10));
        let mut total = FreeBlocks::empty(Order::new(10));
        for z in &zones {
            total = total.checked_add(&z.blocks).expect("a machine's free pages fit in 64 bits");
        }
        let simulated = m.pfn_db().contiguity().map(|c| Simulated {
            allocator: m.config().large_page_allocator.name(),
            large_page: Bytes(c.size().bytes()),
            regions: c.regions(),
            largest_free_run: m.largest_free_run().map_or(0, |(_, n)| n),
            largest_free_run_start: m.largest_free_run().map(|(p, _)| p.0),
            obtainable: c.obtainable(),
        });
        (format!("scenario {name}"), crate::fragmentation::Buddyinfo { zones, total }, simulated)
    } else {
        let source = a.file.as_deref().unwrap_or(PROC_BUDDYINFO);
        let text = match read_text(source) {
            Ok(t) => t,
            Err(e) => return bad(e),
        };
        match FreeBlocks::from_buddyinfo(&text) {
            Ok(i) => (source.to_string(), i, None),
            Err(e) => return bad(format!("{source}:{e}")),
        }
    };
    let source = source.as_str();
    let out = if a.json {
        let report = Report {
            source,
            highest_order: info.total.highest_order(),
            large_page_order: Order::LARGE_PAGE,
            total: info.total.figures(),
            zones: info
                .zones
                .iter()
                .map(|z| ZoneReport { node: z.node, zone: &z.zone, line: z.line, figures: z.blocks.figures() })
                .collect(),
            simulated: simulated.as_ref(),
        };
        serde_json::to_string_pretty(&report).expect("json") + "\n"
    } else {
        let mut t = text_report(source, &info.zones, &info.total);
        if let Some(s) = &simulated {
            let _ = match s.largest_free_run_start {
                Some(p) => writeln!(
                    t,
                    "\nlargest free run    {} frames ({}) from pfn 0x{p:x}",
                    s.largest_free_run,
                    Bytes(s.largest_free_run as u64 * PAGE_SIZE)
                ),
                None => writeln!(t, "\nlargest free run    none: nothing is free"),
            };
            let _ = writeln!(
                t,
                "large pages of {} the {} allocator could have now, of {} regions:\n  entirely free           {:>8}\n  after the cheap steps   {:>8}  (regions holding only free and standby pages)\n  after full compaction   {:>8}  (regions holding no page that cannot move)",
                s.large_page, s.allocator, s.regions, s.obtainable.free, s.obtainable.cheap, s.obtainable.compacted
            );
        }
        t
    };
    match emit(a.output.as_deref(), &out) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}
