//! Host memory: how much a scenario or a replay can need, the limit it must
//! stay under, and how the engine's large arrays grow.
//!
//! The simulated machine lives in the host's memory: 24 bytes of PFN
//! entry per frame used, 16 bytes of working-set entry per resident page
//! (plus the policy's own index), 4 KiB of page table per 2 MiB of virtual
//! range touched, a bit per page-file slot. Every setting of a scenario can
//! be within its documented range and the whole still be more than the host
//! has (a 256 GiB machine with a 100M-page working set needs about 4 GiB).
//! So before a run starts, [`scenario`] adds up an upper bound of what the
//! scenario can need from its settings and steps, and [`Estimate::check`]
//! refuses it, with the bill itemised, when the bound exceeds the
//! [`HostLimit`]; a replay, whose trace length is not known in advance, has
//! its fixed part checked up front ([`replay`]) and its page tables checked
//! as they grow ([`crate::Machine::host_bytes`]).
//!
//! The limit is three quarters of the least of the host's RAM, the
//! process's address-space and data limits (`ulimit -v`, `ulimit -d`) and
//! its cgroup's memory limit, read on Linux from `/proc` and `/sys`;
//! `--host-memory SIZE` or `PAGELAB_HOST_MEMORY=SIZE` sets it (`unlimited`
//! turns the check off).

use std::fmt;

use crate::config::MachineConfig;
use crate::machine::MAX_RECORDED_EVENTS;
use crate::scenario::{Action, Pattern, Scenario};
use crate::units::{Bytes, PAGE_SIZE};
use crate::working_set::PolicyKind;

/// The environment variable that sets the limit (as `--host-memory` does).
pub const LIMIT_VAR: &str = "PAGELAB_HOST_MEMORY";

/// Makes room for one more element, growing by a quarter (at least 16
/// elements) instead of doubling: an array of millions of entries holds at
/// most a quarter more than it uses. Large arrays are moved by the
/// allocator's remapping, not copied, so the extra reallocations are cheap.
#[inline]
pub fn grow_for_push<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(16));
    }
}

/// Makes room for `len` elements in all, growing by at least a quarter but
/// never past `max` elements.
pub fn grow_to<T>(v: &mut Vec<T>, len: usize, max: usize) {
    if len > v.capacity() {
        let want = len.max(v.len() + v.len() / 4).min(max.max(len));
        v.reserve_exact(want - v.len());
    }
}

/// What the host lets pagelab use, and where that figure came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLimit {
    /// Bytes; `None` is no limit.
    pub bytes: Option<u64>,
    /// Where it came from, for messages ("--host-memory", "3/4 of the
    /// host's 24 GiB of RAM", ...).
    pub source: String,
}

impl HostLimit {
    /// No limit.
    pub fn unlimited(source: &str) -> HostLimit {
        HostLimit { bytes: None, source: source.to_string() }
    }

    /// The limit given on the command line (`flag`), else by
    /// [`LIMIT_VAR`], else derived from the host.
    pub fn resolve(flag: Option<&str>) -> Result<HostLimit, String> {
        if let Some(v) = flag {
            return HostLimit::parse(v, "--host-memory");
        }
        if let Ok(v) = std::env::var(LIMIT_VAR) {
            return HostLimit::parse(&v, LIMIT_VAR);
        }
        Ok(HostLimit::detect())
    }

    /// A size ("8 GiB", "512MiB") or `unlimited`.
    pub fn parse(v: &str, source: &str) -> Result<HostLimit, String> {
        if matches!(v.trim(), "unlimited" | "none" | "off") {
            return Ok(HostLimit::unlimited(source));
        }
        let b = Bytes::parse(v).map_err(|e| format!("{source} {v:?}: {e}, or \"unlimited\""))?;
        Ok(HostLimit { bytes: Some(b.0), source: format!("{source} {}", approx(b.0)) })
    }

    /// Three quarters of the least of what the host reports: RAM, the
    /// address-space and data rlimits, the cgroup's memory limit. No limit
    /// where none can be read.
    pub fn detect() -> HostLimit {
        let mut least: Option<(u64, String)> = None;
        let mut consider = |bytes: Option<u64>, what: &dyn Fn(u64) -> String| {
            if let Some(b) = bytes {
                if least.as_ref().is_none_or(|(l, _)| b < *l) {
                    least = Some((b, what(b)));
                }
            }
        };
        consider(meminfo_total(), &|b| format!("the host's {} of RAM", approx(b)));
        consider(rlimit("Max address space"), &|b| format!("the address-space limit (ulimit -v) of {}", approx(b)));
        consider(rlimit("Max data size"), &|b| format!("the data limit (ulimit -d) of {}", approx(b)));
        consider(cgroup_limit(), &|b| format!("the cgroup's memory limit of {}", approx(b)));
        match least {
            Some((b, what)) => HostLimit { bytes: Some(b / 4 * 3), source: format!("3/4 of {what}") },
            None => HostLimit::unlimited("no host limit could be read"),
        }
    }
}

fn meminfo_total() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 =
        s.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The soft limit of `/proc/self/limits`'s row `name`, in bytes.
fn rlimit(name: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let row = s.lines().find(|l| l.starts_with(name))?;
    row[name.len()..].split_whitespace().next()?.parse().ok()
}

fn cgroup_limit() -> Option<u64> {
    // cgroup v2, then v1 (whose "no limit" is a huge number, far above RAM).
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| s.trim().parse().ok());
    v2.or_else(|| {
        std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&b| b < 1 << 60)
    })
}

/// An upper bound of the host memory a run can need, itemised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// (what, bytes), in the order they were added.
    pub parts: Vec<(&'static str, u64)>,
}

impl Estimate {
    fn add(&mut self, what: &'static str, bytes: u64) {
        if bytes > 0 {
            self.parts.push((what, bytes));
        }
    }

    /// The whole bound.
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |a, (_, b)| a.saturating_add(*b))
    }

    /// Ok when the bound fits `limit`; otherwise the message that refuses
    /// `what` (a scenario, a replay), the bill, and `advice` on what to
    /// change.
    pub fn check(&self, limit: &HostLimit, what: &str, advice: &str) -> Result<(), String> {
        match limit.bytes {
            Some(l) if self.total() > l => Err(format!(
                "{what} can need up to {} of host memory ({self}), more than the limit of {} ({}); \
                 {advice}, or set the limit with --host-memory SIZE or {LIMIT_VAR}=SIZE \
                 (\"unlimited\" turns the check off)",
                approx(self.total()),
                approx(l),
                limit.source
            )),
            _ => Ok(()),
        }
    }
}

/// `b` bytes in the largest binary unit that keeps a whole part, with one
/// decimal ("1.5 GiB", "978.6 MiB").
pub fn approx(b: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if b >= 1 << shift {
            return format!("{:.1} {unit}", b as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{b} B")
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (what, b)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{what} {}", approx(*b))?;
        }
        Ok(())
    }
}

/// What front-end a run goes through: it decides how many copies of the
/// machine and how many events are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// `pagelab run`: the machine only.
    Run,
    /// `pagelab run --events`: one step's events at a time.
    Events,
    /// `pagelab run --events --json`: every step's events until the end.
    EventsJson,
    /// `pagelab tui`: checkpoints for stepping back (at least three copies
    /// of the machine, or the checkpoint budget) and one step's events.
    Tui,
}

/// Bytes the TUI's checkpoints may take beyond the minimum copies
/// (`tui::history::DEFAULT_BUDGET`).
const TUI_CHECKPOINT_BUDGET: u64 = 256 << 20;
/// Host bytes of one recorded event as `--events --json` holds it (the
/// event, its explanation and its JSON object), measured on the built-in
/// scenarios and rounded up.
const EVENT_JSON_BYTES: u64 = 1024;
/// Host bytes of one recorded event in the machine's log, with its
/// explanation when printed.
const EVENT_BYTES: u64 = 256;
/// Events one reference can cause at most (fault, cluster pages, eviction,
/// repurposing, writes), for the events bound.
const EVENTS_PER_REFERENCE: u64 = 24;
/// The program itself, its scenario and everything that does not grow with
/// the machine.
pub const BASE_BYTES: u64 = 16 << 20;

/// A bound on the host memory `s` can need when run through `front`.
pub fn scenario(s: &Scenario, front: Front) -> Estimate {
    let m = &s.machine;
    let frames = m.frames();
    // Virtual pages and page-table tables each step can make.
    let mut touched: u64 = 0;
    let mut tables: u64 = 0;
    let mut refs_held: u64 = 0;
    let mut events: u64 = 0;
    let mut max_step_events: u64 = 0;
    let mut views = false;
    let mut large = false;
    let mut ws_max: Vec<u64> = s.processes.iter().map(|p| p.ws_max.unwrap_or(m.ws_max)).collect();
    for step in &s.steps {
        let (pages, range, refs) = match &step.action {
            Action::Touch { pages, pattern, repeat, .. } => {
                let refs = match pattern {
                    Pattern::Random { count } => *count,
                    _ => pages.saturating_mul(*repeat),
                };
                (*pages, *pages, refs)
            }
            Action::Refs { pages, .. } => {
                refs_held = refs_held.saturating_add(pages.len() as u64);
                let span = pages.iter().max().map_or(0, |&hi| hi - pages.iter().min().copied().unwrap_or(0) + 1);
                (pages.len() as u64, span, pages.len() as u64)
            }
            // A commit writes a PTE for every page of its range.
            Action::Commit { size, .. } | Action::Decommit { size, .. } => {
                let p = size.div_ceil(PAGE_SIZE);
                (p, p, 0)
            }
            Action::Map { .. } => {
                views = true;
                (0, 0, 0)
            }
            // A large page takes frames from the middle of the zeroed
            // list's boot run, which writes the run out: every entry.
            Action::Reserve { large_pages: true, .. } => {
                large = true;
                (0, 0, 0)
            }
            // A fragment step uses frames all over memory, for pages of one
            // committed range of its process, whose working set it lets
            // grow to hold the active ones.
            Action::Fragment { process, .. } => {
                large = true;
                if let Some(w) = ws_max.get_mut(*process) {
                    *w = frames;
                }
                (frames, frames, 0)
            }
            // A driver's run can be anywhere in memory.
            Action::Contiguous { .. } => {
                large = true;
                (0, 0, 0)
            }
            Action::SetWorkingSet { process, limits: Some((_, max)) } => {
                if let Some(w) = ws_max.get_mut(*process) {
                    *w = (*w).max(*max);
                }
                (0, 0, 0)
            }
            _ => (0, 0, 0),
        };
        touched = touched.saturating_add(pages);
        tables = tables.saturating_add(table_bound(range, pages));
        let e = refs.saturating_mul(EVENTS_PER_REFERENCE).saturating_add(16).min(MAX_RECORDED_EVENTS as u64);
        events = events.saturating_add(e);
        max_step_events = max_step_events.max(e);
    }
    // Frames ever used: the pages touched (and, through views, the file
    // pages a clustered read brings beside them), or every frame when the
    // PFN database is written out in full (bad frames, large pages) or per
    // NUMA node.
    let read_ahead = if views { 1 + m.cluster.file as u64 } else { 1 };
    let used = if m.numa_nodes > 1 || !m.bad_frames.is_empty() || large {
        frames
    } else {
        touched.saturating_mul(read_ahead).min(frames)
    };
    let mut e = Estimate::default();
    e.add("program", BASE_BYTES);
    e.add("PFN database", crate::pfn_db::PfnDatabase::host_bytes_for(used, frames));
    let ws: u64 = s
        .processes
        .iter()
        .zip(&ws_max)
        .map(|(p, &max)| {
            let hard = p.hard_max.unwrap_or(m.ws_hard_max);
            let cap = if hard { max.min(used) } else { used };
            crate::working_set::WorkingSet::host_bytes_for(p.policy.unwrap_or(m.policy), cap)
        })
        .fold(0, u64::saturating_add);
    e.add("working sets", ws);
    // Every process has its top tables and, below 64 GiB, an index of its
    // leaves (4 bytes per 2 MiB, 128 KiB at most).
    let per_process = 3 * crate::page_table::TABLE_BYTES + (128 << 10);
    let tables = tables
        .saturating_mul(crate::page_table::TABLE_BYTES)
        .saturating_add(tables / 4 * crate::page_table::TABLE_BYTES);
    e.add("page tables", tables.saturating_add(s.processes.len() as u64 * per_process));
    e.add("page file", crate::pagefile::PageFile::host_bytes_for(m.pagefile.0 / PAGE_SIZE));
    e.add("reference lists", refs_held.saturating_mul(9));
    let machine = e.total().saturating_sub(BASE_BYTES).saturating_sub(refs_held.saturating_mul(9));
    match front {
        Front::Run => {}
        Front::Events => e.add("one step's events", max_step_events * EVENT_BYTES),
        Front::EventsJson => e.add("every step's events as JSON", events.saturating_mul(EVENT_JSON_BYTES)),
        Front::Tui => {
            e.add("checkpoints", machine.saturating_mul(3).max(machine.saturating_add(TUI_CHECKPOINT_BUDGET)));
            e.add("one step's events", max_step_events * EVENT_BYTES);
        }
    }
    e
}

/// Refuses a scenario that can need more host memory than the limit
/// (`flag`, else [`LIMIT_VAR`], else derived from the host), naming the
/// scenario's file and what to change.
pub fn check_scenario(s: &Scenario, front: Front, flag: Option<&str>) -> Result<(), String> {
    let limit = HostLimit::resolve(flag)?;
    scenario(s, front).check(
        &limit,
        &format!("{}: scenario {}", s.file, s.name),
        "make the machine, its page file or its working sets smaller",
    )
}

/// Page-table tables (leaves and the directories above them) that
/// `distinct` pages spread over a range of `range` pages can need.
fn table_bound(range: u64, distinct: u64) -> u64 {
    if distinct == 0 {
        return 0;
    }
    // A leaf maps 512 pages, a page directory 512 leaves, a PDPT 512 PDs;
    // a range that does not start on a boundary straddles one more.
    [9u32, 18, 27].iter().map(|&shift| distinct.min((range >> shift) + 2)).sum()
}

/// A bound on the fixed part of a replay on `machine` with a working set
/// of `frames`: the PFN database, the working set and the page file. The
/// page tables grow with the distinct pages of the trace, which a stream
/// does not tell in advance: [`crate::Machine::host_bytes`] follows them. An OPT
/// replay holds the whole trace: `opt_refs` is its length when known.
pub fn replay(machine: &MachineConfig, policy: PolicyKind, frames: u64, opt_refs: Option<u64>) -> Estimate {
    let mut e = Estimate::default();
    e.add("program", BASE_BYTES);
    // Every reference beyond the working set sends a page to standby or the
    // modified list, so the machine's frames all come into use.
    e.add("PFN database", crate::pfn_db::PfnDatabase::host_bytes_for(machine.frames(), machine.frames()));
    e.add("working set", crate::working_set::WorkingSet::host_bytes_for(policy, frames));
    e.add("page file", crate::pagefile::PageFile::host_bytes_for(machine.pagefile.0 / PAGE_SIZE));
    if let Some(n) = opt_refs {
        e.add("the trace, held for OPT", n.saturating_mul(OPT_BYTES_PER_REF));
    }
    e
}

/// A bound on the host memory of `gen-trace`: Zipf popularity tables of
/// `table_pages` pages (12 bytes each and a guide table of at most 4M
/// entries) and, for oracleGeneral, the whole trace with its next-access
/// times (16 bytes a reference) and a last-use table (8 bytes for each of
/// the `footprint` distinct pages).
pub fn gen_trace(table_pages: u64, footprint: u64, refs: u64, whole_trace: bool) -> Estimate {
    let mut e = Estimate::default();
    e.add("program", BASE_BYTES);
    if table_pages > 0 {
        e.add("popularity tables", table_pages.saturating_mul(12).saturating_add(4 * (4 << 20)));
    }
    if whole_trace {
        e.add(
            "the trace, held to fill in next accesses",
            refs.saturating_mul(16).saturating_add(footprint.saturating_mul(8)),
        );
    }
    e
}

/// Host bytes an OPT replay holds per reference: the reference (16), its
/// page (8) and its next use (8), and the page-indexed table of last uses.
pub const OPT_BYTES_PER_REF: u64 = 40;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Scenario {
        crate::scenario::load_str(text, "test", None, &[]).unwrap()
    }

    const HUGE: &str = "[scenario]\nname = \"huge\"\n[machine]\nmemory = \"256 GiB\"\npagefile = \"1 TiB\"\n\
        [[process]]\nname = \"p\"\nws_min = 20\nws_max = 100000000\n\
        [[step]]\nop = \"reserve\"\nprocess = \"p\"\naddress = 0x10000\nsize = \"1000 GiB\"\ncommit = true\n\
        [[step]]\nop = \"touch\"\nprocess = \"p\"\naddress = 0x10000\npages = 100000000\naccess = \"write\"\n";

    #[test]
    fn a_huge_valid_scenario_is_refused_under_a_4_gib_limit() {
        let e = scenario(&load(HUGE), Front::Run);
        // 64M frames of PFN entries, 64M working-set entries, 100M PTEs.
        assert!(e.total() > 3 << 30 && e.total() < 5 << 30, "{e}: {}", approx(e.total()));
        let limit = HostLimit::parse("4 GiB", "--host-memory").unwrap();
        let msg = e.check(&limit, "scenario huge", "shrink it").unwrap_err();
        assert!(msg.contains("PFN database 1.5 GiB"), "{msg}");
        assert!(msg.contains("more than the limit of 4.0 GiB (--host-memory 4.0 GiB)"), "{msg}");
        assert!(e.check(&HostLimit::parse("8 GiB", "--host-memory").unwrap(), "huge", "").is_ok());
        assert!(e.check(&HostLimit::parse("unlimited", "x").unwrap(), "huge", "").is_ok());
    }

    #[test]
    fn small_scenarios_need_little_and_every_builtin_fits_in_64_mib() {
        for (name, text) in crate::scenario::builtin::BUILTINS {
            let s = crate::scenario::load_str(text, name, None, &[]).unwrap();
            for front in [Front::Run, Front::Events, Front::EventsJson, Front::Tui] {
                let e = scenario(&s, front);
                assert!(e.total() < 600 << 20, "{name} {front:?}: {e}");
            }
            assert!(scenario(&s, Front::Run).total() < 64 << 20, "{name}: {}", scenario(&s, Front::Run));
        }
    }

    #[test]
    fn limits_parse_sizes_and_unlimited() {
        assert_eq!(HostLimit::parse("2 GiB", "--host-memory").unwrap().bytes, Some(2 << 30));
        assert_eq!(HostLimit::parse("unlimited", "--host-memory").unwrap().bytes, None);
        let e = HostLimit::parse("lots", "--host-memory").unwrap_err();
        assert!(e.starts_with("--host-memory \"lots\""), "{e}");
        // Whatever the host, a detected limit is below its RAM.
        if let (Some(l), Some(ram)) = (HostLimit::detect().bytes, meminfo_total()) {
            assert!(l < ram);
        }
    }

    #[test]
    fn growth_is_by_a_quarter_not_doubling() {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..100_000u64 {
            grow_for_push(&mut v);
            v.push(i);
        }
        assert!(v.capacity() as f64 <= v.len() as f64 * 1.25 + 16.0, "{} for {}", v.capacity(), v.len());
        let mut w: Vec<u8> = Vec::new();
        grow_to(&mut w, 1000, 1100);
        assert!(w.capacity() >= 1000);
        w.resize(1000, 0);
        grow_to(&mut w, 1001, 1100);
        assert!(w.capacity() >= 1001 && w.capacity() <= 1100, "{}", w.capacity());
    }

    #[test]
    fn the_bound_holds_for_every_builtin_run_to_its_end() {
        for (name, text) in crate::scenario::builtin::BUILTINS {
            let s = std::sync::Arc::new(crate::scenario::load_str(text, name, None, &[]).unwrap());
            let mut r = crate::runner::Runner::new(s.clone(), false).unwrap();
            let mut peak = r.machine().host_bytes();
            while r.step().is_some() {
                peak = peak.max(r.machine().host_bytes());
            }
            let bound = scenario(&s, Front::Run).total() - BASE_BYTES;
            assert!(peak <= bound, "{name}: held {} > bound {}", approx(peak), approx(bound));
        }
    }

    #[test]
    fn the_estimate_bounds_what_a_run_holds() {
        // A machine whose every structure grows: touches over a wide
        // range, a working set that fills and trims.
        let text = "[scenario]\nname = \"b\"\n[machine]\nmemory = \"64 MiB\"\n\
            [[process]]\nname = \"p\"\nws_max = 10000\n\
            [[step]]\nop = \"reserve\"\nprocess = \"p\"\naddress = 0x10000\nsize = \"160 MiB\"\ncommit = true\n\
            [[step]]\nop = \"touch\"\nprocess = \"p\"\naddress = 0x10000\npages = 40000\naccess = \"write\"\n\
            [[step]]\nop = \"touch\"\nprocess = \"p\"\naddress = 0x10000\npages = 40960\npattern = \"random\"\ncount = 30000\n";
        let s = std::sync::Arc::new(load(text));
        let mut r = crate::runner::Runner::new(s.clone(), false).unwrap();
        while let Some(o) = r.step() {
            assert!(o.error.is_none(), "{:?}", o.error);
        }
        let held = r.machine().host_bytes();
        let bound = scenario(&s, Front::Run).total() - BASE_BYTES;
        assert!(held <= bound, "held {} > bound {}", approx(held), approx(bound));
        assert!(held * 4 > bound, "the bound {} is far above the {} held", approx(bound), approx(held));
    }
}
