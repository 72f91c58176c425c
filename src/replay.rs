//! Trace replay: one process, every referenced page committed private
//! memory, a working set of N frames with the chosen policy, on a machine
//! with enough memory that the working-set maximum binds first.

use std::io::BufRead;

use serde::Serialize;

use crate::config::{MachineConfig, MAX_MEMORY};
use crate::cost::LatencySummary;
use crate::fault::Prefetch;
use crate::host_memory::{self, HostLimit};
use crate::machine::{AccessKind, Counters, Machine, Op, OpError, OpValue, Resolution};
use crate::trace::{TraceError, TraceFormat, TraceReader, TraceRef};
use crate::units::{Bytes, ProcessId, PAGE_SHIFT};
use crate::working_set::{PolicyKind, NEVER};

/// Settings of a replay.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Replacement policy.
    pub policy: PolicyKind,
    /// Working-set maximum, in frames.
    pub frames: u64,
    /// Machine settings (memory defaults to max(4 x frames, 64 MiB)).
    pub machine: MachineConfig,
    /// Host memory the replay may use (none by default; the CLI derives
    /// one from the host): checked up front for the fixed part and every
    /// few thousand references as the page tables grow.
    pub host_limit: HostLimit,
    /// Check the machine's invariants every this many references and at
    /// the end (`None`: never). Checking after every reference would cost
    /// more than the replay itself on a long trace.
    pub check_every: Option<u64>,
    /// Aging and WSClock: run the working-set manager's aging scan every
    /// this many references (vmsim's refresh period; `None`: never, so
    /// only the replacement scans read the accessed bits). A replay has no
    /// simulated seconds of its own: the balance set manager is off.
    pub refresh: Option<u64>,
}

/// How often `pagelab replay` checks the invariants by default: every
/// 10M references (a check walks every PTE and frame: a few
/// milliseconds on a replay of a million pages), and at the end.
pub const DEFAULT_CHECK_EVERY: u64 = 10_000_000;

impl ReplayConfig {
    /// Defaults for `frames` frames.
    pub fn new(policy: PolicyKind, frames: u64) -> ReplayConfig {
        let memory = Bytes(frames.saturating_mul(4 * 4096).clamp(64 << 20, MAX_MEMORY.0).next_multiple_of(1 << 20));
        ReplayConfig {
            policy,
            frames,
            machine: Self::machine_for(memory),
            host_limit: HostLimit::unlimited("no limit set"),
            check_every: None,
            refresh: None,
        }
    }

    /// Sets WSClock's window, in references.
    pub fn set_tau(&mut self, tau: u64) {
        self.machine.wsclock_tau = tau;
    }

    /// The replay machine for `memory`: every setting scaled to it, and a
    /// 64 GiB page file so that a trace's pages always have somewhere to go.
    pub fn machine_for(memory: Bytes) -> MachineConfig {
        let mut machine = MachineConfig::with_memory(memory);
        machine.pagefile = Bytes(64 << 30);
        // A trace has no large pages, and its list moves then pay nothing
        // for the contiguity index.
        machine.large_pages = false;
        machine.balance.enabled = false;
        machine
    }

    /// Sets the simulated memory (what `replay --memory` does): the writer
    /// thresholds follow the new size; every other setting stays.
    pub fn set_memory(&mut self, memory: Bytes) {
        let (seed, tau) = (self.machine.seed, self.machine.wsclock_tau);
        self.machine = ReplayConfig::machine_for(memory);
        self.machine.seed = seed;
        self.machine.wsclock_tau = tau;
    }

    /// The refresh period, if the policy has one.
    fn refresh_period(&self) -> Option<u64> {
        self.refresh.filter(|_| self.policy.scans_accessed_bits()).map(|r| r.max(1))
    }
}

/// The report's line on the simulated memory: how large it was and where
/// the size came from, and what it decides. A page evicted from the
/// working set waits in memory on the standby or modified list, so it
/// comes back as a soft fault until the trace's footprint outgrows the
/// memory; hard faults say that it did.
pub fn memory_note(r: &ReplayResult, given: bool) -> String {
    let how = if given { "--memory" } else { "the default: 4 x frames, at least 64 MiB; --memory sets it" };
    let here = match r.breakdown.hard {
        0 => "here none: the footprint fit".to_string(),
        n => format!("here {n}"),
    };
    format!(
        "memory            {} simulated ({how})\n                  \
         pages evicted from the working set wait in it and come back as soft faults;\n                  \
         hard faults mean the trace's footprint exceeded it ({here})\n",
        Bytes(r.memory),
    )
}

/// What a replay measured. Deterministic: no host timings in here.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayResult {
    /// Policy.
    pub policy: &'static str,
    /// Working-set maximum.
    pub frames: u64,
    /// Aging and WSClock: references between aging scans (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<u64>,
    /// WSClock: the window, in references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tau: Option<u64>,
    /// References replayed.
    pub references: u64,
    /// References that missed the working set: demand zero + soft + hard.
    pub faults: u64,
    /// faults / references that reached a valid address.
    pub fault_rate: f64,
    /// Breakdown of the faults.
    pub breakdown: Breakdown,
    /// References that hit no valid address (beyond the user space).
    pub access_violations: u64,
    /// Machine counters.
    pub counters: Counters,
    /// Fault service times.
    pub fault_latency: LatencySummary,
    /// Memory of the simulated machine, bytes.
    pub memory: u64,
    /// With a TLB model: its misses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlb: Option<TlbResult>,
}

/// TLB misses of a replay.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TlbResult {
    /// Misses on the trace's 4 KiB pages.
    pub misses: u64,
    /// What the same references would have missed on 2 MiB pages.
    pub misses_if_large: u64,
}

/// Faults by kind.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Breakdown {
    /// First touches.
    pub demand_zero: u64,
    /// Taken back from standby or modified.
    pub soft: u64,
    /// Read from the page file.
    pub hard: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The trace is malformed.
    #[error("{0}")]
    Trace(TraceError),
    /// The machine could not be built.
    #[error("{0}")]
    Config(String),
    /// The machine ran out of pages (page file too small for the trace).
    #[error("{0}")]
    Machine(OpError),
    /// The replay would need more host memory than its limit.
    #[error("{0}")]
    HostMemory(String),
    /// Writing a traced reference failed (`replay --trace`).
    #[error("{0}")]
    Output(std::io::Error),
    /// An invariant of the model broke: a bug in pagelab, not in the trace.
    #[error("internal error: an invariant broke by reference {references}: {message}")]
    Invariant {
        /// References replayed when the check found it.
        references: u64,
        /// The broken invariant.
        message: String,
    },
}

/// Checks the invariants if `every` says a check is due by now; `last` is
/// the reference count of the previous check.
fn check_due(m: &Machine, every: Option<u64>, last: &mut u64, at_end: bool) -> Result<(), ReplayError> {
    let Some(every) = every else { return Ok(()) };
    let references = m.counters().paging.references;
    if at_end || references >= last.saturating_add(every) {
        *last = references;
        m.check_invariants().map_err(|message| ReplayError::Invariant { references, message })?;
    }
    Ok(())
}

/// A machine with one auto-committing process, ready to replay.
pub fn replay_machine(cfg: &ReplayConfig) -> Result<(Machine, ProcessId), ReplayError> {
    let mut m = Machine::new(cfg.machine.clone()).map_err(ReplayError::Config)?;
    if cfg.frames == 0 || cfg.frames > cfg.machine.frames() {
        return Err(ReplayError::Config(format!(
            "--frames {}: expected 1 to {} (the machine's memory)",
            cfg.frames,
            cfg.machine.frames()
        )));
    }
    let OpValue::Process(pid) = m
        .apply(&Op::CreateProcess {
            name: "trace".into(),
            ws_min: Some(1),
            ws_max: Some(cfg.frames),
            hard_max: Some(true),
            policy: Some(cfg.policy),
            node: 0,
            auto_commit: true,
        })
        .map_err(ReplayError::Machine)?
    else {
        unreachable!("CreateProcess returns a process")
    };
    Ok((m, pid))
}

/// Where a replay's references come from, a batch at a time: a trace
/// reader, or a generator ([`Generated`]).
pub trait RefSource {
    /// Appends up to `max` references to `out`; `Some` when the source
    /// stopped at a malformed record (after appending those before it).
    fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError>;

    /// Whether the source knows each reference's next use, so that OPT can
    /// stream it ([`RefSource::read_batch_next`]) instead of holding the
    /// whole trace to compute them.
    fn knows_next_use(&mut self) -> bool {
        false
    }

    /// As [`RefSource::read_batch`], also appending each reference's next
    /// use to `next`. Only called when [`RefSource::knows_next_use`] said so.
    fn read_batch_next(&mut self, out: &mut Vec<TraceRef>, next: &mut Vec<u64>, max: usize) -> Option<TraceError> {
        let _ = (out, next, max);
        unreachable!("read_batch_next on a source that does not know next uses")
    }
}

impl<R: BufRead> RefSource for TraceReader<R> {
    fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError> {
        TraceReader::read_batch(self, out, max)
    }

    /// oracleGeneral's next-access field (libCacheSim's Belady reads the same).
    fn knows_next_use(&mut self) -> bool {
        self.keep_next_access();
        self.has_next_access()
    }

    fn read_batch_next(&mut self, out: &mut Vec<TraceRef>, next: &mut Vec<u64>, max: usize) -> Option<TraceError> {
        TraceReader::read_batch_next(self, out, next, max)
    }
}

/// A trace held whole, with the next uses computed from it, replayed as a
/// source that knows them.
struct Held {
    refs: Vec<TraceRef>,
    next: Vec<u64>,
    pos: usize,
}

impl RefSource for Held {
    fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError> {
        let end = (self.pos + max).min(self.refs.len());
        out.extend_from_slice(&self.refs[self.pos..end]);
        self.pos = end;
        None
    }

    fn knows_next_use(&mut self) -> bool {
        true
    }

    fn read_batch_next(&mut self, out: &mut Vec<TraceRef>, next: &mut Vec<u64>, max: usize) -> Option<TraceError> {
        next.extend_from_slice(&self.next[self.pos..(self.pos + max).min(self.refs.len())]);
        self.read_batch(out, max)
    }
}

/// Page numbers from a generator, each a read.
pub struct Generated<I>(pub I);

impl<I: Iterator<Item = u64>> RefSource for Generated<I> {
    fn read_batch(&mut self, out: &mut Vec<TraceRef>, max: usize) -> Option<TraceError> {
        out.extend(self.0.by_ref().take(max).map(|page| TraceRef { page, write: false }));
        None
    }
}

/// Replays a trace.
pub fn replay(input: impl BufRead, format: TraceFormat, cfg: &ReplayConfig) -> Result<ReplayResult, ReplayError> {
    replay_from(TraceReader::new(input, format), cfg)
}

/// Replays the references of any source.
pub fn replay_from<S: RefSource>(mut source: S, cfg: &ReplayConfig) -> Result<ReplayResult, ReplayError> {
    let fixed = host_memory::replay(&cfg.machine, cfg.policy, cfg.frames, None);
    fixed
        .check(&cfg.host_limit, "the replay", "use a smaller --frames or --memory")
        .map_err(ReplayError::HostMemory)?;
    let (mut m, pid) = replay_machine(cfg)?;
    let (limit, every, refresh) = (&cfg.host_limit, cfg.check_every, cfg.refresh_period());
    if cfg.policy != PolicyKind::Opt {
        replay_stream(&mut m, pid, source, limit, every, refresh, false)?;
    } else if source.knows_next_use() {
        // OPT streams a trace that carries its next uses.
        replay_stream(&mut m, pid, source, limit, every, refresh, true)?;
    } else {
        // Otherwise OPT needs the whole future: the trace is held, within
        // the limit, and the next uses are computed from it.
        let refs = hold_whole(&mut source, cfg)?;
        let pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
        let next = crate::trace::next_uses(&pages);
        drop(pages);
        replay_stream(&mut m, pid, Held { refs, next, pos: 0 }, limit, every, refresh, true)?;
    }
    check_due(&m, cfg.check_every, &mut 0, true)?;
    Ok(result(&m, cfg))
}

/// One machine of [`replay_many`], with its own refresh period and checks.
struct Lane<'a> {
    cfg: &'a ReplayConfig,
    m: Machine,
    pid: ProcessId,
    refresh: Option<u64>,
    until_refresh: u64,
    last_check: u64,
}

impl Lane<'_> {
    /// Replays one batch into this lane's machine.
    fn run(&mut self, refs: &[TraceRef]) -> Result<(), ReplayError> {
        let n = refs.len();
        let mut i = 0;
        while i < n {
            let end = if self.until_refresh >= (n - i) as u64 { n } else { i + self.until_refresh as usize };
            self.until_refresh -= (end - i) as u64;
            for j in i..end {
                prefetch_ahead(&self.m, self.pid, refs, j, |r| r.page);
                let r = refs[j];
                one(&mut self.m, self.pid, r.page, r.write, NEVER)?;
            }
            i = end;
            refresh_if_due(&mut self.m, &mut self.until_refresh, self.refresh)?;
        }
        check_due(&self.m, self.cfg.check_every, &mut self.last_check, false)
    }
}

/// Replays one source into several machines at once: the trace is read
/// (or generated) once, and each batch of references is replayed into
/// every machine in turn while the batch is in the host's cache. Each
/// result is exactly what [`replay_from`] gives for its configuration
/// alone (a test checks it). `limit` bounds the host memory of all the
/// machines together. OPT needs each reference's next use and is not
/// taken here; an error carries the index of the configuration it came
/// from (`None` for the trace itself and the host-memory limit).
pub fn replay_many<S: RefSource>(
    mut source: S,
    cfgs: &[ReplayConfig],
    limit: &HostLimit,
) -> Result<Vec<ReplayResult>, (Option<usize>, ReplayError)> {
    const BATCH: usize = 4096;
    let mut fixed = 0u64;
    let mut lanes = Vec::with_capacity(cfgs.len());
    for (i, cfg) in cfgs.iter().enumerate() {
        if cfg.policy == PolicyKind::Opt {
            return Err((Some(i), ReplayError::Config("OPT cannot share a pass: replay it alone".into())));
        }
        fixed = fixed.saturating_add(host_memory::replay(&cfg.machine, cfg.policy, cfg.frames, None).total());
        let (m, pid) = replay_machine(cfg).map_err(|e| (Some(i), e))?;
        let refresh = cfg.refresh_period();
        lanes.push(Lane { cfg, m, pid, refresh, until_refresh: refresh.unwrap_or(u64::MAX), last_check: 0 });
    }
    if let Some(l) = limit.bytes.filter(|l| fixed > *l) {
        return Err((
            None,
            ReplayError::HostMemory(format!(
                "{} replays in one pass can need {} of host memory, more than the limit of {} ({})",
                cfgs.len(),
                host_memory::approx(fixed),
                host_memory::approx(l),
                limit.source
            )),
        ));
    }
    let mut refs: Vec<TraceRef> = Vec::with_capacity(BATCH);
    loop {
        refs.clear();
        let stop = source.read_batch(&mut refs, BATCH);
        for (i, lane) in lanes.iter_mut().enumerate() {
            lane.run(&refs).map_err(|e| (Some(i), e))?;
        }
        let machines: Vec<&Machine> = lanes.iter().map(|x| &x.m).collect();
        check_held(&format!("a pass of {} replays", cfgs.len()), &machines, limit).map_err(|e| (None, e))?;
        if let Some(e) = stop {
            return Err((None, ReplayError::Trace(e)));
        }
        if refs.is_empty() {
            break;
        }
    }
    lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| {
            check_due(&lane.m, lane.cfg.check_every, &mut 0, true).map_err(|e| (Some(i), e))?;
            Ok(result(&lane.m, lane.cfg))
        })
        .collect()
}

/// The whole trace, for OPT (which needs each reference's next use),
/// checked against the host-memory limit as it grows. A malformed record
/// stops it before any reference is replayed.
fn hold_whole<S: RefSource>(source: &mut S, cfg: &ReplayConfig) -> Result<Vec<TraceRef>, ReplayError> {
    let mut refs: Vec<TraceRef> = Vec::new();
    loop {
        let before = refs.len();
        if let Some(e) = source.read_batch(&mut refs, 1 << 16) {
            return Err(ReplayError::Trace(e));
        }
        if refs.len() == before {
            return Ok(refs);
        }
        host_memory::replay(&cfg.machine, cfg.policy, cfg.frames, Some(refs.len() as u64))
            .check(
                &cfg.host_limit,
                &format!("the OPT replay, which holds the whole trace ({} references read),", refs.len()),
                "replay fewer references with OPT, or use a policy that streams",
            )
            .map_err(ReplayError::HostMemory)?;
    }
}

/// Fails when what the machine holds has grown past `limit` (the page
/// tables grow with every new 2 MiB of the trace's address space).
fn check_growth(m: &Machine, limit: &HostLimit) -> Result<(), ReplayError> {
    check_held("the replay", &[m], limit)
}

/// Fails when the machines of one replay (or one shared pass) together
/// hold more host memory than `limit`.
fn check_held(what: &str, machines: &[&Machine], limit: &HostLimit) -> Result<(), ReplayError> {
    let Some(l) = limit.bytes else { return Ok(()) };
    let held = machines.iter().map(|m| m.host_bytes()).sum::<u64>() + host_memory::BASE_BYTES;
    if held > l {
        let references = machines.first().map_or(0, |m| m.counters().paging.references);
        return Err(ReplayError::HostMemory(format!(
            "{what} holds {} of host memory after {references} references (its page tables grow with the \
             trace's address space), more than the limit of {} ({}); set the limit with --host-memory SIZE or {}=SIZE",
            host_memory::approx(held),
            host_memory::approx(l),
            limit.source,
            host_memory::LIMIT_VAR
        )));
    }
    Ok(())
}

/// How far ahead of the reference being replayed the host is asked for
/// the entries the coming references will read (see [`Machine::prefetch`]):
/// PTEs this many references ahead, their frames' PFN entries
/// [`FRAME_AHEAD`] ahead, and those frames' list neighbours
/// [`NEIGHBOURS_AHEAD`] ahead. A power of two.
const PTE_AHEAD: usize = 32;
const FRAME_AHEAD: usize = 16;
const NEIGHBOURS_AHEAD: usize = 6;
/// Under LRU, the WSLEs beside a resident page's are fetched this many
/// references ahead (its own WSLE was fetched [`NEIGHBOURS_AHEAD`] ahead).
const LINKS_AHEAD: usize = 2;

/// Asks the host for what the references after `refs[i]` will read, each
/// stage its own distance ahead (for replays of a slice, where a bounds
/// check per reference costs nothing next to the reference itself).
#[inline(always)]
fn prefetch_ahead<P>(m: &Machine, pid: ProcessId, refs: &[P], i: usize, page: impl Fn(&P) -> u64) {
    if let Some(a) = refs.get(i + PTE_AHEAD) {
        m.prefetch(pid, page(a) << PAGE_SHIFT, Prefetch::Pte);
    }
    if let Some(a) = refs.get(i + FRAME_AHEAD) {
        m.prefetch(pid, page(a) << PAGE_SHIFT, Prefetch::Frame);
    }
    if let Some(a) = refs.get(i + NEIGHBOURS_AHEAD) {
        m.prefetch(pid, page(a) << PAGE_SHIFT, Prefetch::ListNeighbours);
    }
}

/// Replays a trace in order, reading it in batches so that the entries of
/// the references [`PTE_AHEAD`] ahead can be prefetched. A malformed
/// reference stops the replay where it stands in the trace, after every
/// reference before it. With `future`, the source gives each reference's
/// next use too (for OPT).
fn replay_stream<S: RefSource>(
    m: &mut Machine,
    pid: ProcessId,
    mut reader: S,
    limit: &HostLimit,
    check_every: Option<u64>,
    refresh: Option<u64>,
    future: bool,
) -> Result<(), ReplayError> {
    const BATCH: usize = 4096;
    let mut last_check = 0;
    // References left before the next aging scan; without a refresh
    // period, more than any trace holds.
    let mut until_refresh = refresh.unwrap_or(u64::MAX);
    let mut refs: Vec<TraceRef> = Vec::with_capacity(BATCH + PTE_AHEAD);
    // With `future`, each reference's next use, beside it.
    let mut nexts: Vec<u64> = Vec::with_capacity(if future { BATCH + PTE_AHEAD } else { 0 });
    let mut next = 0;
    let mut stop = None;
    let mut ended = false;
    loop {
        if !ended && refs.len() - next < PTE_AHEAD {
            check_growth(m, limit)?;
            refs.drain(..next);
            let before = refs.len();
            stop = if future {
                nexts.drain(..next);
                reader.read_batch_next(&mut refs, &mut nexts, BATCH)
            } else {
                reader.read_batch(&mut refs, BATCH)
            };
            next = 0;
            ended = stop.is_some() || refs.len() - before < BATCH;
            if before == 0 {
                // The start: the loop below fetches PTE_AHEAD references on.
                for r in refs.iter().take(PTE_AHEAD) {
                    m.prefetch(pid, r.page << PAGE_SHIFT, Prefetch::Pte);
                }
            }
        }
        // The references with a full lookahead behind them, then the tail.
        let steady = refs.len().saturating_sub(PTE_AHEAD);
        while next < steady {
            // Up to the next refresh, or the whole run without one.
            let end = if until_refresh >= (steady - next) as u64 { steady } else { next + until_refresh as usize };
            until_refresh -= (end - next) as u64;
            let window = &refs[next..end + PTE_AHEAD];
            if future {
                run_window(m, pid, window, nexts[next..end].iter().copied())?;
            } else {
                run_window(m, pid, window, std::iter::repeat(NEVER))?;
            }
            next = end;
            refresh_if_due(m, &mut until_refresh, refresh)?;
        }
        // Once a batch, outside the loop over references.
        check_due(m, check_every, &mut last_check, false)?;
        if !ended && refs.len() - next < PTE_AHEAD {
            continue;
        }
        let Some(&r) = refs.get(next) else { break };
        if let Some(a) = refs.get(next + FRAME_AHEAD) {
            m.prefetch(pid, a.page << PAGE_SHIFT, Prefetch::Frame);
        }
        if let Some(a) = refs.get(next + NEIGHBOURS_AHEAD) {
            m.prefetch(pid, a.page << PAGE_SHIFT, Prefetch::ListNeighbours);
        }
        let n = if future { nexts[next] } else { NEVER };
        next += 1;
        one(m, pid, r.page, r.write, n)?;
        until_refresh -= 1;
        refresh_if_due(m, &mut until_refresh, refresh)?;
    }
    match stop {
        Some(e) => Err(ReplayError::Trace(e)),
        None => Ok(()),
    }
}

/// Replays each reference of `window` but its last [`PTE_AHEAD`], with
/// the next uses `nexts` gives, prefetching for the references after it:
/// one bounds check for the run, none per reference.
#[inline(always)]
fn run_window(
    m: &mut Machine,
    pid: ProcessId,
    window: &[TraceRef],
    nexts: impl Iterator<Item = u64>,
) -> Result<(), ReplayError> {
    for (w, n) in window.windows(PTE_AHEAD + 1).zip(nexts) {
        m.prefetch_stages(
            pid,
            w[PTE_AHEAD].page << PAGE_SHIFT,
            w[FRAME_AHEAD].page << PAGE_SHIFT,
            w[NEIGHBOURS_AHEAD].page << PAGE_SHIFT,
            w[LINKS_AHEAD].page << PAGE_SHIFT,
        );
        let r = w[0];
        one(m, pid, r.page, r.write, n)?;
    }
    Ok(())
}

/// Runs the aging scan when `until` references are left (none), and
/// starts the next period.
fn refresh_if_due(m: &mut Machine, until: &mut u64, refresh: Option<u64>) -> Result<(), ReplayError> {
    if let (0, Some(r)) = (*until, refresh) {
        m.apply(&Op::AgeWorkingSets).map_err(ReplayError::Machine)?;
        *until = r;
    }
    Ok(())
}

#[inline]
fn one(m: &mut Machine, pid: ProcessId, page: u64, write: bool, next: u64) -> Result<Resolution, ReplayError> {
    let kind = if write { AccessKind::Write } else { AccessKind::Read };
    match m.access(pid, page << PAGE_SHIFT, kind, None, next) {
        Ok(r) => Ok(r),
        Err(OpError::AccessViolation { .. }) => Ok(Resolution::Hit),
        Err(e) => Err(ReplayError::Machine(e)),
    }
}

/// How many working-set pages a traced reference shows (the rest are
/// counted, not listed).
pub const TRACE_WS_SHOWN: usize = 16;

/// A page that left the working set during one reference, and the list its
/// frame went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Victim {
    /// The page.
    pub page: u64,
    /// `standby` (clean) or `modified` (dirty).
    pub list: &'static str,
}

/// What one reference did, as `replay --trace` and `quiz` show it.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// 1-based number of the reference.
    pub index: u64,
    /// The page referenced.
    pub page: u64,
    /// Whether it wrote.
    pub write: bool,
    /// `hit`, `demand_zero`, `soft`, `hard_pagefile`, `hard_file`, or
    /// `access_violation` (beyond user space: neither a hit nor a miss).
    pub result: &'static str,
    /// Pages that left the working set (usually none or one).
    pub victims: Vec<Victim>,
    /// The first [`TRACE_WS_SHOWN`] pages of the working set after the
    /// reference, in policy order, each with its clock use bit.
    pub working_set: Vec<(u64, bool)>,
    /// Pages in the working set after the reference.
    pub ws_size: u64,
    /// Hits so far.
    pub hits: u64,
    /// Misses (faults) so far.
    pub misses: u64,
    /// The machine's explanations of what happened, one per event.
    pub explanations: Vec<String>,
}

impl TraceStep {
    /// Whether the reference missed the working set.
    pub fn is_miss(&self) -> bool {
        !matches!(self.result, "hit" | "access_violation")
    }
}

/// The name a traced reference's result goes by.
pub fn result_name(r: Resolution) -> &'static str {
    match r {
        Resolution::Hit => "hit",
        Resolution::DemandZero => "demand_zero",
        Resolution::Soft => "soft",
        Resolution::HardPageFile => "hard_pagefile",
        Resolution::HardFile => "hard_file",
    }
}

/// The order a policy's working set is listed in.
pub fn policy_order(policy: PolicyKind) -> &'static str {
    match policy {
        PolicyKind::Fifo => "oldest first: the next victim, then to the newest",
        PolicyKind::Lru => "least recently used first: the next victim, then to the most recent",
        PolicyKind::Clock => "from the clock hand around the circle; * marks a set use bit",
        PolicyKind::Aging | PolicyKind::WsClock => "from the clock hand around the circle",
        PolicyKind::Opt => "furthest next use first: the next victim first",
        PolicyKind::Random => "in load order (any page may be the victim)",
    }
}

/// A replay machine that records what each reference does: the slow,
/// explained path of `replay --trace` and `quiz` (plain replays never take it).
pub struct Tracer {
    m: Machine,
    pid: ProcessId,
    index: u64,
    hits: u64,
    misses: u64,
    refresh: Option<u64>,
    check_every: Option<u64>,
    last_check: u64,
    limit: HostLimit,
}

impl Tracer {
    /// A machine for `cfg`, recording events.
    pub fn new(cfg: &ReplayConfig) -> Result<Tracer, ReplayError> {
        host_memory::replay(&cfg.machine, cfg.policy, cfg.frames, None)
            .check(&cfg.host_limit, "the replay", "use a smaller --frames or --memory")
            .map_err(ReplayError::HostMemory)?;
        let (mut m, pid) = replay_machine(cfg)?;
        m.drain_events();
        m.set_recording(true);
        Ok(Tracer {
            m,
            pid,
            index: 0,
            hits: 0,
            misses: 0,
            refresh: cfg.refresh_period(),
            check_every: cfg.check_every,
            last_check: 0,
            limit: cfg.host_limit.clone(),
        })
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.m
    }

    /// Replays one reference; `next` is its page's next use (OPT), else [`NEVER`].
    pub fn step(&mut self, page: u64, write: bool, next: u64) -> Result<TraceStep, ReplayError> {
        let kind = if write { AccessKind::Write } else { AccessKind::Read };
        let result = match self.m.access(self.pid, page << PAGE_SHIFT, kind, None, next) {
            Ok(r) => {
                if r == Resolution::Hit {
                    self.hits += 1;
                } else {
                    self.misses += 1;
                }
                result_name(r)
            }
            Err(OpError::AccessViolation { .. }) => "access_violation",
            Err(e) => return Err(ReplayError::Machine(e)),
        };
        self.index += 1;
        if let Some(r) = self.refresh {
            if self.index % r == 0 {
                self.m.apply(&Op::AgeWorkingSets).map_err(ReplayError::Machine)?;
            }
        }
        if self.index % 4096 == 0 {
            check_growth(&self.m, &self.limit)?;
            check_due(&self.m, self.check_every, &mut self.last_check, false)?;
        }
        let events = self.m.drain_events();
        let victims = events
            .iter()
            .filter_map(|e| match e {
                crate::event::Event::Evicted { pid, vpn, to, .. } if *pid == self.pid => {
                    Some(Victim { page: vpn.0, list: to.name() })
                }
                _ => None,
            })
            .collect();
        let explanations = events.iter().map(|e| self.m.explain(e)).collect();
        let ws = &self.m.process(self.pid).expect("the replay's process").ws;
        let working_set = ws.entries_iter().take(TRACE_WS_SHOWN).map(|e| (e.vpn.0, e.use_bit)).collect();
        Ok(TraceStep {
            index: self.index,
            page,
            write,
            result,
            victims,
            working_set,
            ws_size: ws.len(),
            hits: self.hits,
            misses: self.misses,
            explanations,
        })
    }

    /// Checks the invariants one last time and returns the replay's result.
    pub fn finish(self, cfg: &ReplayConfig) -> Result<ReplayResult, ReplayError> {
        check_due(&self.m, cfg.check_every, &mut 0, true)?;
        Ok(result(&self.m, cfg))
    }
}

/// Replays a trace reference by reference, handing each [`TraceStep`] to
/// `each` (which streams it out; an error from it stops the replay). The
/// same references, counters and result as [`replay`], taken slowly.
pub fn replay_traced(
    input: impl BufRead,
    format: TraceFormat,
    cfg: &ReplayConfig,
    mut each: impl FnMut(&TraceStep) -> std::io::Result<()>,
) -> Result<ReplayResult, ReplayError> {
    let mut t = Tracer::new(cfg)?;
    let mut reader = TraceReader::new(input, format);
    if cfg.policy == PolicyKind::Opt {
        let refs = hold_whole(&mut reader, cfg)?;
        let pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
        let next = crate::trace::next_uses(&pages);
        for (r, n) in refs.iter().zip(next) {
            each(&t.step(r.page, r.write, n)?).map_err(ReplayError::Output)?;
        }
    } else {
        for r in reader {
            let r = r.map_err(ReplayError::Trace)?;
            each(&t.step(r.page, r.write, NEVER)?).map_err(ReplayError::Output)?;
        }
    }
    t.finish(cfg)
}

/// How `replay --trace` writes its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceStyle {
    /// Aligned columns for a reader, after a header.
    Text,
    /// Comma-separated values, after a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl TraceStyle {
    /// The names `--trace` takes.
    pub const NAMES: [&'static str; 3] = ["text", "csv", "jsonl"];

    /// Parses a name of [`TraceStyle::NAMES`].
    pub fn parse(s: &str) -> Option<TraceStyle> {
        match s {
            "text" => Some(TraceStyle::Text),
            "csv" => Some(TraceStyle::Csv),
            "jsonl" => Some(TraceStyle::Jsonl),
            _ => None,
        }
    }

    /// What comes before the first line (with its newline), if anything.
    pub fn header(self, policy: PolicyKind) -> String {
        match self {
            TraceStyle::Text => format!(
                "working set in policy order ({}), after the reference\n{:>6} {:>8}  {:<6} {:<14} {:<18} {:>5} {:>6}  working set\n",
                policy_order(policy),
                "ref",
                "page",
                "access",
                "result",
                "victim",
                "hits",
                "misses"
            ),
            TraceStyle::Csv => "ref,page,access,result,victim,victim_list,hits,misses,ws_size,working_set\n".into(),
            TraceStyle::Jsonl => String::new(),
        }
    }

    /// One reference's line, with its newline.
    pub fn line(self, t: &TraceStep) -> String {
        let access = if t.write { "write" } else { "read" };
        let pages = |mark: bool| {
            t.working_set
                .iter()
                .map(|&(p, used)| if mark && used { format!("{p}*") } else { p.to_string() })
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            TraceStyle::Text => {
                let victim = if t.victims.is_empty() {
                    "-".to_string()
                } else {
                    t.victims.iter().map(|v| format!("{} to {}", v.page, v.list)).collect::<Vec<_>>().join(", ")
                };
                let more = t.ws_size.saturating_sub(t.working_set.len() as u64);
                let tail = if more > 0 { format!(" ... and {more} more") } else { String::new() };
                format!(
                    "{:>6} {:>8}  {:<6} {:<14} {:<18} {:>5} {:>6}  {}{}\n",
                    t.index,
                    t.page,
                    access,
                    t.result,
                    victim,
                    t.hits,
                    t.misses,
                    pages(true),
                    tail
                )
            }
            TraceStyle::Csv => {
                let join = |f: &dyn Fn(&Victim) -> String| t.victims.iter().map(f).collect::<Vec<_>>().join(" ");
                format!(
                    "{},{},{},{},{},{},{},{},{},{}\n",
                    t.index,
                    t.page,
                    access,
                    t.result,
                    join(&|v| v.page.to_string()),
                    join(&|v| v.list.to_string()),
                    t.hits,
                    t.misses,
                    t.ws_size,
                    pages(false)
                )
            }
            TraceStyle::Jsonl => {
                let ws: Vec<u64> = t.working_set.iter().map(|&(p, _)| p).collect();
                serde_json::json!({
                    "ref": t.index,
                    "page": t.page,
                    "access": access,
                    "result": t.result,
                    "victims": t.victims,
                    "hits": t.hits,
                    "misses": t.misses,
                    "ws_size": t.ws_size,
                    "working_set": ws,
                })
                .to_string()
                    + "\n"
            }
        }
    }
}

/// Replays pages already in memory (for benchmarks and tests).
pub fn replay_pages(pages: &[u64], cfg: &ReplayConfig) -> Result<ReplayResult, ReplayError> {
    let (mut m, pid) = replay_machine(cfg)?;
    let next = if cfg.policy == PolicyKind::Opt { crate::trace::next_uses(pages) } else { Vec::new() };
    let refresh = cfg.refresh_period();
    let chunk = refresh.map_or(pages.len(), |r| r.min(pages.len() as u64) as usize).max(1);
    for (c, run) in pages.chunks(chunk).enumerate() {
        let base = c * chunk;
        for (k, &p) in run.iter().enumerate() {
            let i = base + k;
            prefetch_ahead(&m, pid, pages, i, |&p| p);
            one(&mut m, pid, p, false, next.get(i).copied().unwrap_or(NEVER))?;
        }
        if refresh.is_some_and(|r| (base + run.len()) as u64 % r == 0) {
            m.apply(&Op::AgeWorkingSets).map_err(ReplayError::Machine)?;
        }
    }
    check_due(&m, cfg.check_every, &mut 0, true)?;
    Ok(result(&m, cfg))
}

fn result(m: &Machine, cfg: &ReplayConfig) -> ReplayResult {
    let c = m.counters();
    let refs = c.paging.references - c.paging.access_violations;
    ReplayResult {
        policy: cfg.policy.name(),
        frames: cfg.frames,
        refresh: cfg.refresh_period(),
        tau: (cfg.policy == PolicyKind::WsClock).then_some(cfg.machine.wsclock_tau),
        references: c.paging.references,
        faults: c.paging.faults(),
        fault_rate: if refs == 0 { 0.0 } else { c.paging.faults() as f64 / refs as f64 },
        breakdown: Breakdown { demand_zero: c.paging.demand_zero, soft: c.paging.soft, hard: c.paging.hard() },
        access_violations: c.paging.access_violations,
        counters: c,
        fault_latency: m.latency(),
        memory: cfg.machine.memory.0,
        tlb: m.tlb().map(|t| TlbResult { misses: t.misses(), misses_if_large: t.misses_if_large }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(policy: PolicyKind, refs: &[u64], frames: u64) -> u64 {
        replay_pages(refs, &ReplayConfig::new(policy, frames)).unwrap().faults
    }

    #[test]
    fn full_machine_reproduces_the_textbook_oracles() {
        let s = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(faults(PolicyKind::Fifo, &s, 3), 15);
        assert_eq!(faults(PolicyKind::Lru, &s, 3), 12);
        assert_eq!(faults(PolicyKind::Opt, &s, 3), 9);
        assert_eq!(faults(PolicyKind::Clock, &s, 3), 14);
        let b = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        assert_eq!(faults(PolicyKind::Fifo, &b, 3), 9);
        assert_eq!(faults(PolicyKind::Fifo, &b, 4), 10);
    }

    #[test]
    fn a_bad_record_stops_the_replay_where_it_stands() {
        let pages: Vec<u64> = (0..100).map(|i| i % 7).collect();
        let mut bytes = Vec::new();
        crate::trace::write_oracle_general(&pages, &mut bytes).unwrap();
        let cfg = ReplayConfig::new(PolicyKind::Fifo, 3);
        let whole = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
        assert_eq!(whole.references, 100);
        for bad in [0, 1, 40, 99] {
            let mut b = bytes.clone();
            b[24 * bad + 4..24 * bad + 12].copy_from_slice(&u64::MAX.to_le_bytes());
            match replay(&b[..], TraceFormat::OracleGeneral, &cfg) {
                Err(ReplayError::Trace(e)) => assert_eq!(e.line, bad as u64 + 1),
                other => panic!("record {bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn one_pass_into_many_machines_equals_each_replay_alone() {
        let spec = crate::tracegen::ZipfSpec { pages: 3000, refs: 30_000, alpha: 0.7, seed: 5 };
        let text: String = crate::tracegen::zipf_pages(spec).unwrap().iter().map(|p| format!("{p}\n")).collect();
        let mut cfgs = Vec::new();
        for (policy, frames) in [
            (PolicyKind::Fifo, 100),
            (PolicyKind::Lru, 100),
            (PolicyKind::Clock, 700),
            (PolicyKind::Random, 300),
            (PolicyKind::Aging, 200),
            (PolicyKind::WsClock, 200),
        ] {
            let mut c = ReplayConfig::new(policy, frames);
            c.machine.seed = 9;
            if policy.scans_accessed_bits() {
                c.refresh = Some(1000);
            }
            // A memory the footprint outgrows, so hard faults are in it too.
            c.set_memory(Bytes(4 << 20));
            c.check_every = Some(5000);
            cfgs.push(c);
        }
        let many = replay_many(TraceReader::new(text.as_bytes(), TraceFormat::Refs), &cfgs, &HostLimit::unlimited("t"))
            .unwrap();
        for (c, r) in cfgs.iter().zip(&many) {
            let alone = replay(text.as_bytes(), TraceFormat::Refs, c).unwrap();
            assert!(
                alone.breakdown.hard > 0 || c.frames == 700,
                "{}: the test reaches the hard-fault path",
                c.policy.name()
            );
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::to_value(&alone).unwrap(), "{}", c.policy.name());
        }
        // The machines of a pass share one limit.
        let tight = HostLimit { bytes: Some(1 << 20), source: "a test".into() };
        match replay_many(TraceReader::new(text.as_bytes(), TraceFormat::Refs), &cfgs, &tight) {
            Err((None, ReplayError::HostMemory(m))) => assert!(m.contains("6 replays"), "{m}"),
            other => panic!("a 1 MiB limit for six machines: {:?}", other.map(|r| r.len())),
        }
        let opt = [ReplayConfig::new(PolicyKind::Opt, 10)];
        assert!(matches!(
            replay_many(TraceReader::new(text.as_bytes(), TraceFormat::Refs), &opt, &HostLimit::unlimited("t")),
            Err((Some(0), ReplayError::Config(_)))
        ));
    }

    #[test]
    fn streaming_and_in_memory_replays_agree() {
        let pages =
            crate::tracegen::zipf_pages(crate::tracegen::ZipfSpec { pages: 500, refs: 20_000, alpha: 0.8, seed: 2 })
                .unwrap();
        let mut bytes = Vec::new();
        crate::trace::write_oracle_general(&pages, &mut bytes).unwrap();
        for policy in [PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Clock, PolicyKind::Random] {
            let mut cfg = ReplayConfig::new(policy, 100);
            cfg.set_memory(Bytes(1 << 20));
            let a = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
            let b = replay_pages(&pages, &cfg).unwrap();
            assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap(), "{policy:?}");
        }
        // Refresh periods that divide the batches and ones that do not.
        for (policy, refresh) in
            [(PolicyKind::Aging, None), (PolicyKind::Aging, Some(1000)), (PolicyKind::WsClock, Some(333))]
        {
            let mut cfg = ReplayConfig::new(policy, 100);
            cfg.set_memory(Bytes(1 << 20));
            cfg.set_tau(150);
            cfg.refresh = refresh;
            let a = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
            let b = replay_pages(&pages, &cfg).unwrap();
            assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap(), "{policy:?}");
            assert_eq!(a.refresh, refresh);
        }
    }

    #[test]
    fn checking_invariants_along_the_way_changes_nothing() {
        let pages =
            crate::tracegen::zipf_pages(crate::tracegen::ZipfSpec { pages: 300, refs: 20_000, alpha: 0.8, seed: 4 })
                .unwrap();
        let mut bytes = Vec::new();
        crate::trace::write_oracle_general(&pages, &mut bytes).unwrap();
        for policy in PolicyKind::ALL {
            let mut cfg = ReplayConfig::new(policy, 50);
            cfg.set_memory(Bytes(1 << 20));
            let plain = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
            cfg.check_every = Some(1000);
            let checked = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
            assert_eq!(serde_json::to_string(&plain).unwrap(), serde_json::to_string(&checked).unwrap(), "{policy:?}");
        }
    }

    #[test]
    fn a_traced_replay_counts_what_a_plain_one_counts() {
        let pages =
            crate::tracegen::zipf_pages(crate::tracegen::ZipfSpec { pages: 200, refs: 5_000, alpha: 0.8, seed: 3 })
                .unwrap();
        let mut bytes = Vec::new();
        crate::trace::write_oracle_general(&pages, &mut bytes).unwrap();
        for policy in PolicyKind::ALL {
            let mut cfg = ReplayConfig::new(policy, 40);
            cfg.set_memory(Bytes(1 << 20));
            let plain = replay(&bytes[..], TraceFormat::OracleGeneral, &cfg).unwrap();
            let mut n = 0;
            let traced = replay_traced(&bytes[..], TraceFormat::OracleGeneral, &cfg, |t| {
                n += 1;
                assert_eq!(t.index, n);
                assert!(t.working_set.len() <= TRACE_WS_SHOWN && t.ws_size <= 40);
                Ok(())
            })
            .unwrap();
            assert_eq!(n, 5_000);
            assert_eq!(serde_json::to_string(&plain).unwrap(), serde_json::to_string(&traced).unwrap(), "{policy:?}");
        }
    }

    #[test]
    fn first_touches_are_demand_zero_and_refaults_are_soft() {
        let r = replay_pages(&[1, 2, 3, 1], &ReplayConfig::new(PolicyKind::Fifo, 2)).unwrap();
        assert_eq!((r.breakdown.demand_zero, r.breakdown.soft, r.breakdown.hard), (3, 1, 0));
        assert_eq!(r.references, 4);
    }
}
