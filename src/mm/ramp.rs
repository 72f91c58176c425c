//! Ramp-up: T threads of one process fill a buffer of N pages at once,
//! with ordinary demand-zero pages or with AWE, and the locks they take
//! decide how long it takes (MODEL.md s6, the AWE-on-64-bit seed article:
//! AWE "ramps up faster").
//!
//! The work is done on the machine, for real: every page is faulted in (or
//! allocated and mapped), so frames, lists, lock counts and costs are the
//! machine's own. The threads' pages are visited in turn, one page (or one
//! batch) of each thread after the other, as threads running side by side
//! would take them. Then what each thread did becomes a plan for the lock
//! contention model ([`crate::locks`]), which says how long the threads
//! take together when each lock admits one thread at a time:
//!
//! - a **demand-zero fault** (WRK `pagfault.c`, MmAccessFault): the trap,
//!   then the process's working-set lock, held for the whole fault;
//!   inside it the PFN lock for the page off its list; zeroing, when the
//!   page was not zeroed already, after the PFN lock is released but still
//!   under the working-set lock;
//! - **AllocateUserPhysicalPages** of a batch: the trap, the PFN lock once
//!   for the whole batch (a page off its list per page), zeroing outside
//!   every lock; **MapUserPhysicalPages** of the batch: the trap, the
//!   working-set lock once, a PTE written per page.
//!
//! Each thread's faults (or calls) are taken to cost the mean of what they
//! cost on the machine (one thread's faults differ only when some found a
//! zeroed page and others did not): the total is exact, the interleaving
//! of dearer and cheaper ones is pagelab's simplification. Threads run on
//! processors of their own and all belong to the process, so they share
//! its working-set lock; the PFN lock is the system's.

use serde::Serialize;

use crate::event::Event;
use crate::locks::{simulate, Contention, LockId, LockStats, Segment, ThreadPlan};
use crate::machine::{AccessKind, Machine, OpError, OpValue};
use crate::pte::Protection;
use crate::units::{ProcessId, SimNanos, PAGE_SIZE};
use crate::working_set::NEVER;

/// How the buffer's pages are obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RampMemory {
    /// Committed private memory, each page a demand-zero fault.
    Regular,
    /// An AWE window, pages allocated and mapped in batches.
    Awe,
}

impl RampMemory {
    /// Both, regular first.
    pub const ALL: [RampMemory; 2] = [RampMemory::Regular, RampMemory::Awe];

    /// The name scenarios and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            RampMemory::Regular => "regular",
            RampMemory::Awe => "awe",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<RampMemory> {
        RampMemory::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// What to ramp up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RampSpec {
    /// Pages of the buffer.
    pub pages: u64,
    /// Threads filling it, each an equal share (the first ones one page
    /// more when it does not divide).
    pub threads: u32,
    /// Regular or AWE.
    pub memory: RampMemory,
    /// AWE: pages per allocation and map call.
    pub batch: u64,
}

/// The most threads a ramp may have.
pub const MAX_THREADS: u32 = 1024;

/// What a ramp-up took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RampReport {
    /// What was asked.
    pub spec: RampSpec,
    /// The buffer's first address.
    pub address: u64,
    /// Simulated time until the last thread finished.
    pub time: SimNanos,
    /// The threads' own work, summed: the time one thread would take with
    /// no one to wait for.
    pub work: SimNanos,
    /// The working-set lock (acquisitions, waits, hold time).
    pub ws: LockStats,
    /// The PFN database lock.
    pub pfn: LockStats,
}

impl RampReport {
    /// Time waited for either lock, summed over the threads.
    pub fn wait(&self) -> SimNanos {
        self.ws.wait + self.pfn.wait
    }
}

/// One thread's tally on the machine: what its faults or calls cost.
#[derive(Clone, Copy, Default)]
struct Tally {
    /// Faults, or allocation-and-map pairs.
    units: u64,
    /// Their total simulated time.
    time: u64,
    /// Zeroing in them.
    zero: u64,
    /// Time under the inner lock (PFN) in them.
    inner: u64,
    /// Time under the outer or second lock (working set) in them, beyond
    /// the inner.
    outer: u64,
}

impl Machine {
    /// Ramps a buffer up ([`crate::ramp`]). Returns its address.
    pub(crate) fn ramp_up(&mut self, pid: ProcessId, spec: RampSpec) -> Result<OpValue, OpError> {
        const CALL: &str = "ramp_up";
        if spec.pages == 0 || spec.threads == 0 || spec.threads > MAX_THREADS || spec.batch == 0 {
            return Err(self.fail(pid, CALL, crate::win32::Win32Error::InvalidParameter));
        }
        let size = spec
            .pages
            .checked_mul(PAGE_SIZE)
            .ok_or_else(|| self.fail(pid, CALL, crate::win32::Win32Error::InvalidParameter))?;
        let t = spec.threads as u64;
        // Thread i's share: pages [first(i), first(i + 1)).
        let first = |i: u64| i * (spec.pages / t) + i.min(spec.pages % t);
        let mut tallies = vec![Tally::default(); spec.threads as usize];
        let address;
        let c = self.config.cost.clone();
        match spec.memory {
            RampMemory::Regular => {
                let OpValue::Address(a) = self.apply(&crate::machine::Op::Reserve {
                    pid,
                    address: None,
                    size,
                    protection: Protection::ReadWrite,
                    commit: true,
                })?
                else {
                    unreachable!("a reservation returns its address")
                };
                address = a;
                let longest = first(1);
                for k in 0..longest {
                    for (i, tally) in tallies.iter_mut().enumerate() {
                        let page = first(i as u64) + k;
                        if page >= first(i as u64 + 1) {
                            continue;
                        }
                        let (t0, z0) = (self.activity.time_foreground, self.activity.zeroed_in_fault);
                        self.access(pid, a + page * PAGE_SIZE, AccessKind::Write, None, NEVER)?;
                        let zeroed = self.activity.zeroed_in_fault - z0;
                        tally.units += 1;
                        tally.time += self.activity.time_foreground.0 - t0.0;
                        tally.zero += (c.zero_page * zeroed).0;
                    }
                }
                for tally in &mut tallies {
                    tally.inner = c.pfn_lock_hold.0 * tally.units;
                    // Everything but the trap and the PFN lock's share is
                    // under the working-set lock, zeroing included.
                    tally.outer = tally.time - c.fault_trap.0 * tally.units - tally.inner;
                }
            }
            RampMemory::Awe => {
                let OpValue::Address(a) = self.apply(&crate::machine::Op::ReservePhysical {
                    pid,
                    address: None,
                    size,
                    protection: Protection::ReadWrite,
                    commit: false,
                })?
                else {
                    unreachable!("a reservation returns its address")
                };
                address = a;
                let mut done = vec![0u64; spec.threads as usize];
                loop {
                    let mut any = false;
                    for (i, tally) in tallies.iter_mut().enumerate() {
                        let share = first(i as u64 + 1) - first(i as u64);
                        let n = spec.batch.min(share - done[i]);
                        if n == 0 {
                            continue;
                        }
                        any = true;
                        let (t0, z0) = (self.activity.time_foreground, self.activity.zeroed_in_fault);
                        let OpValue::Frames(frames) =
                            self.apply(&crate::machine::Op::AllocatePhysical { pid, pages: n, node: None })?
                        else {
                            unreachable!("an allocation returns its frames")
                        };
                        let got = frames.len() as u64;
                        let at = a + (first(i as u64) + done[i]) * PAGE_SIZE;
                        self.apply(&crate::machine::Op::MapPhysical {
                            pid,
                            address: at,
                            pages: got,
                            frames: Some(frames),
                        })?;
                        let zeroed = self.activity.zeroed_in_fault - z0;
                        tally.units += 1;
                        tally.time += self.activity.time_foreground.0 - t0.0;
                        tally.zero += (c.zero_page * zeroed).0;
                        tally.inner += (c.pfn_lock_hold + c.batch_page * got).0;
                        tally.outer += (c.ws_lock_hold + c.batch_page * got).0;
                        done[i] += got;
                        if got < n {
                            // Fewer than asked: memory ran out.
                            return Err(self.fail(
                                pid,
                                "AllocateUserPhysicalPages",
                                crate::win32::Win32Error::NoSystemResources,
                            ));
                        }
                    }
                    if !any {
                        break;
                    }
                }
            }
        }
        let plans: Vec<ThreadPlan> = tallies.iter().map(|t| plan(spec.memory, t, &c)).collect();
        let work = SimNanos(tallies.iter().map(|t| t.time).sum());
        let contention: Contention = simulate(&plans, 2).expect("ramp plans take and release their locks in order");
        let report = RampReport {
            spec,
            address,
            time: contention.makespan,
            work,
            ws: contention.locks[LockId::WORKING_SET.index()],
            pfn: contention.locks[LockId::PFN_DATABASE.index()],
        };
        let r = report.clone();
        self.emit(|| Event::RampedUp { pid, report: Box::new(r) });
        self.last_ramp = Some(Box::new(report));
        Ok(OpValue::Address(address))
    }

    /// The latest ramp-up's report, if any.
    pub fn last_ramp(&self) -> Option<&RampReport> {
        self.last_ramp.as_deref()
    }
}

/// A thread's plan: its mean fault (or allocate-and-map pair) repeated,
/// and what rounding left over at the end, outside every lock.
fn plan(memory: RampMemory, t: &Tally, c: &crate::cost::CostModel) -> ThreadPlan {
    if t.units == 0 {
        return ThreadPlan::default();
    }
    let n = t.units;
    let ws = LockId::WORKING_SET;
    let pfn = LockId::PFN_DATABASE;
    let run = |ns: u64| Segment::Run(SimNanos(ns));
    let (unit, used) = match memory {
        RampMemory::Regular => {
            let (inner, zero) = (t.inner / n, t.zero / n);
            let outer = (t.outer - t.zero) / n;
            let unit = vec![
                run(c.fault_trap.0),
                Segment::Acquire(ws),
                run(outer),
                Segment::Acquire(pfn),
                run(inner),
                Segment::Release(pfn),
                run(zero),
                Segment::Release(ws),
            ];
            (unit, (c.fault_trap.0 + outer + inner + zero) * n)
        }
        RampMemory::Awe => {
            let (inner, outer, zero) = (t.inner / n, t.outer / n, t.zero / n);
            let unit = vec![
                run(c.fault_trap.0),
                Segment::Acquire(pfn),
                run(inner),
                Segment::Release(pfn),
                run(zero),
                run(c.fault_trap.0),
                Segment::Acquire(ws),
                run(outer),
                Segment::Release(ws),
            ];
            (unit, (2 * c.fault_trap.0 + inner + outer + zero) * n)
        }
    };
    ThreadPlan { prologue: Vec::new(), unit, repeats: n, epilogue: vec![run(t.time.saturating_sub(used))] }
}

/// A sweep of ramp-ups over thread counts, each on a machine of its own
/// (what `pagelab ramp-up` prints).
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Pages of the buffer.
    pub pages: u64,
    /// Thread counts, one row each.
    pub threads: Vec<u32>,
    /// AWE: pages per call.
    pub batch: u64,
    /// The cost model.
    pub costs: crate::cost::CostModel,
    /// Whether the machine starts as booted, every frame zeroed; otherwise
    /// as a machine that has been in use: every frame free, not zeroed.
    pub zeroed: bool,
}

/// One row of a sweep: the same buffer by both methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SweepRow {
    /// Threads.
    pub threads: u32,
    /// Demand-zero pages.
    pub regular: RampReport,
    /// AWE.
    pub awe: RampReport,
}

/// The most pages a sweep's buffer may have (64 GiB): each row builds two
/// machines of that size.
pub const MAX_SWEEP_PAGES: u64 = 1 << 24;

impl Sweep {
    /// Every row, in the order of `threads`.
    pub fn run(&self) -> Result<Vec<SweepRow>, String> {
        if self.pages == 0 || self.pages > MAX_SWEEP_PAGES {
            return Err(format!("pages: expected 1 to {MAX_SWEEP_PAGES} (64 GiB), found {}", self.pages));
        }
        if let Some(&t) = self.threads.iter().find(|&&t| t == 0 || t > MAX_THREADS) {
            return Err(format!("threads: expected 1 to {MAX_THREADS}, found {t}"));
        }
        if self.batch == 0 {
            return Err("batch: expected at least 1 page".into());
        }
        let mut rows = Vec::new();
        for &threads in &self.threads {
            let mut reports = Vec::new();
            for memory in RampMemory::ALL {
                let (mut m, p) = self.machine()?;
                let spec = RampSpec { pages: self.pages, threads, memory, batch: self.batch };
                m.apply(&crate::machine::Op::RampUp { pid: p, spec }).map_err(|e| e.to_string())?;
                reports.push(m.last_ramp().expect("the ramp just ran").clone());
            }
            let awe = reports.pop().expect("two reports");
            let regular = reports.pop().expect("two reports");
            rows.push(SweepRow { threads, regular, awe });
        }
        Ok(rows)
    }

    /// A machine a quarter larger than the buffer (and a page file as
    /// large), used or fresh, with a process that holds the lock-memory
    /// privilege and a working set that can hold the buffer.
    fn machine(&self) -> Result<(Machine, ProcessId), String> {
        use crate::machine::Op;
        let frames = self.pages + self.pages / 4 + 1024;
        let mut c = crate::config::MachineConfig::with_memory(crate::units::Bytes(frames * PAGE_SIZE));
        c.pagefile = c.memory;
        c.cost = self.costs.clone();
        let mut m = Machine::new(c)?;
        let err = |e: OpError| e.to_string();
        if !self.zeroed {
            let OpValue::Process(hog) = m.apply(&Op::create_process("previous")).map_err(err)? else {
                unreachable!("a process")
            };
            m.apply(&Op::SetWorkingSetSize { pid: hog, limits: Some((20, frames)) }).map_err(err)?;
            let reserve = Op::Reserve {
                pid: hog,
                address: None,
                size: frames * PAGE_SIZE,
                protection: Protection::ReadWrite,
                commit: true,
            };
            let OpValue::Address(a) = m.apply(&reserve).map_err(err)? else { unreachable!("an address") };
            for i in 0..frames {
                m.access(hog, a + i * PAGE_SIZE, AccessKind::Write, None, NEVER).map_err(err)?;
            }
            m.apply(&Op::Exit { pid: hog }).map_err(err)?;
        }
        m.apply(&Op::GrantPrivilege { privilege: crate::token::Privilege::LockMemory }).map_err(err)?;
        m.apply(&Op::Logon).map_err(err)?;
        let create = Op::CreateProcess {
            name: "db".into(),
            ws_min: Some(20),
            ws_max: Some(self.pages + 64),
            hard_max: Some(false),
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).map_err(err)? else { unreachable!("a process") };
        let adjust = Op::AdjustTokenPrivileges { pid: p, privilege: crate::token::Privilege::LockMemory, enable: true };
        m.apply(&adjust).map_err(err)?;
        Ok((m, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::Op;
    use crate::token::Privilege;
    use crate::units::Bytes;

    /// A 64 MiB machine that has been in use: every frame was touched by a
    /// process that exited, so the frames are free, not zeroed. And a
    /// process that can hold the buffer and may use AWE.
    fn machine() -> (Machine, ProcessId) {
        let mut c = MachineConfig::with_memory(Bytes(64 << 20));
        c.pagefile = Bytes(64 << 20);
        let mut m = Machine::new(c).unwrap();
        let OpValue::Process(hog) = m.apply(&Op::create_process("hog")).unwrap() else { panic!() };
        m.apply(&Op::SetWorkingSetSize { pid: hog, limits: Some((20, 16384)) }).unwrap();
        let reserve =
            Op::Reserve { pid: hog, address: None, size: 64 << 20, protection: Protection::ReadWrite, commit: true };
        let Ok(OpValue::Address(a)) = m.apply(&reserve) else { panic!() };
        for i in 0..16384 {
            m.access(hog, a + i * PAGE_SIZE, AccessKind::Write, None, NEVER).unwrap();
        }
        m.apply(&Op::Exit { pid: hog }).unwrap();
        assert_eq!(m.snapshot().lists.zeroed, 0);
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let create = Op::CreateProcess {
            name: "db".into(),
            ws_min: Some(20),
            ws_max: Some(16384),
            hard_max: Some(false),
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).unwrap() else { panic!() };
        m.apply(&Op::AdjustTokenPrivileges { pid: p, privilege: Privilege::LockMemory, enable: true }).unwrap();
        m.drain_events();
        (m, p)
    }

    fn ramp(memory: RampMemory, threads: u32, pages: u64) -> (RampReport, Machine) {
        let (mut m, p) = machine();
        m.apply(&Op::RampUp { pid: p, spec: RampSpec { pages, threads, memory, batch: 1024 } }).unwrap();
        m.check_invariants().unwrap();
        (m.last_ramp().unwrap().clone(), m)
    }

    #[test]
    fn one_thread_takes_exactly_the_machines_time() {
        for memory in RampMemory::ALL {
            let (r, m) = ramp(memory, 1, 4096);
            assert_eq!(r.time, r.work, "{memory:?}: nobody to wait for");
            assert_eq!(r.wait(), SimNanos(0));
            let _ = m;
        }
    }

    #[test]
    fn regular_pages_take_both_locks_per_page_and_awe_once_per_batch() {
        let (mut m, p) = machine();
        let before = m.counters().activity;
        let spec = RampSpec { pages: 4096, threads: 4, memory: RampMemory::Regular, batch: 1024 };
        m.apply(&Op::RampUp { pid: p, spec }).unwrap();
        let r = m.last_ramp().unwrap().clone();
        assert_eq!((r.ws.acquisitions, r.pfn.acquisitions), (4096, 4096));
        let a = m.counters().activity;
        assert_eq!(
            (a.ws_lock - before.ws_lock, a.pfn_lock - before.pfn_lock),
            (4096, 4096),
            "the machine counted the same"
        );
        assert_eq!(r.work.0, a.time_foreground.0 - before.time_foreground.0, "the plans are the machine's work");
        assert_eq!(m.process(ProcessId(1)).unwrap().counters.paging.demand_zero, 4096);
        let (r, m) = ramp(RampMemory::Awe, 4, 4096);
        assert_eq!((r.ws.acquisitions, r.pfn.acquisitions), (4, 4), "one batch of 1024 per thread");
        assert_eq!(m.process(ProcessId(1)).unwrap().awe.mapped(), 4096);
    }

    #[test]
    fn regular_ramp_up_stops_scaling_at_the_working_set_lock_and_awe_keeps_scaling() {
        let (r1, _) = ramp(RampMemory::Regular, 1, 8192);
        let (r8, _) = ramp(RampMemory::Regular, 8, 8192);
        let (a1, _) = ramp(RampMemory::Awe, 1, 8192);
        let (a8, _) = ramp(RampMemory::Awe, 8, 8192);
        // Regular: every fault holds the working-set lock for all but its
        // trap, so 8 threads gain little and wait a lot.
        assert!(r8.time.0 * 10 > r1.time.0 * 7, "regular: {} -> {}", r1.time, r8.time);
        assert!(r8.wait() > r8.time, "regular threads wait longer than the ramp takes: {:?}", r8.wait());
        // AWE: the locks are held for a fraction of the work, 8 threads
        // come close to 8 times faster.
        assert!(a8.time.0 * 5 < a1.time.0, "awe: {} -> {}", a1.time, a8.time);
        assert!(a8.time < r8.time && a1.time < r1.time);
    }

    #[test]
    fn bad_ramps_are_refused() {
        let (mut m, p) = machine();
        for spec in [
            RampSpec { pages: 0, threads: 1, memory: RampMemory::Regular, batch: 1 },
            RampSpec { pages: 8, threads: 0, memory: RampMemory::Regular, batch: 1 },
            RampSpec { pages: 8, threads: MAX_THREADS + 1, memory: RampMemory::Awe, batch: 1 },
            RampSpec { pages: 8, threads: 1, memory: RampMemory::Awe, batch: 0 },
        ] {
            assert!(m.apply(&Op::RampUp { pid: p, spec }).is_err(), "{spec:?}");
        }
        // A buffer larger than memory: AWE runs out and says so.
        let spec = RampSpec { pages: 32768, threads: 2, memory: RampMemory::Awe, batch: 1024 };
        assert!(m.apply(&Op::RampUp { pid: p, spec }).is_err());
        m.check_invariants().unwrap();
    }
}
