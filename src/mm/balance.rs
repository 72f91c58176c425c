//! The balance set manager: working-set aging and trimming by age.
//!
//! From NT 4 on, a system thread (KeBalanceSetManager) wakes once a second
//! and calls the working-set manager (WI7 pp. 429-431; WRK `wsmanage.c`
//! MmWorkingSetManager). It ages every working set by the accessed bits of
//! its PTEs, and when available memory is low it trims working sets that
//! are above their minimum, the pages that have gone longest unused first,
//! until available memory reaches a goal. Working sets therefore grow past
//! their maximum while memory is plentiful and shrink when the whole
//! machine needs pages, instead of each replacing at its own fixed maximum.
//!
//! In pagelab it manages the working sets whose policy is `aging` (the
//! others keep NT 3.1's fixed local replacement) and, for its periodic scan
//! only, `wsclock`. It runs once per `period` of simulated time: at each
//! tick of an `advance` step (a tick is one period of idle time) and after
//! a fault that takes simulated time past the next period. Each run:
//!
//! 1. scans every aging and WSClock working set from its hand: a page whose
//!    accessed bit is set has it cleared and its age reset to 0; the others
//!    get one year older, up to 3 ([`crate::working_set`]);
//! 2. if available pages are below `available_below`, trims aging working
//!    sets toward `goal` available pages: first the pages of age 3 from
//!    every process above its minimum (in order of creation), then age 2,
//!    1 and 0, never below a process's minimum. WRK trims in passes of
//!    falling age in the same way (`mi.h`: MI_PASS0_TRIM_AGE ...
//!    MI_PASS4_TRIM_AGE);
//! 3. has the modified page writer write the dirty pages it trimmed, so
//!    that they reach the standby list and count as available (WRK
//!    signals the writer after trimming when memory is critical).
//!
//! Every trimmed page is an [`Event::Evicted`] whose reason,
//! [`EvictReason::Balance`], says why: its age, that it was the oldest in
//! its working set, the process's minimum, and available memory against
//! the threshold.

use serde::Serialize;

use crate::event::{Event, EvictReason};
use crate::machine::Machine;
use crate::units::{ProcessId, SimNanos};
use crate::working_set::{PolicyKind, MAX_AGE};

/// One second: the balance set manager's period (WI7 p. 430).
pub const DEFAULT_PERIOD: SimNanos = SimNanos(1_000_000_000);

/// WRK `wsmanage.c` MmPlentyFreePages: the working-set manager trims when
/// available pages are at or below it; doubled on machines of 63 MB or
/// more (MiAdjustWorkingSetManagerParameters).
const PLENTY_FREE_PAGES: u64 = 400;

/// Settings of the balance set manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BalanceConfig {
    /// Whether it runs at all (`pagelab replay` turns it off and ages by
    /// `--refresh` instead).
    pub enabled: bool,
    /// How often it wakes, in simulated time (WI7: once a second).
    pub period: SimNanos,
    /// It trims when available pages are below this.
    pub available_below: u64,
    /// It trims until available pages reach this (counting the dirty
    /// pages it trimmed, which the modified page writer makes available).
    pub goal: u64,
}

impl BalanceConfig {
    /// Defaults for a machine of `frames` frames: trim below WRK's
    /// MmPlentyFreePages (400 pages, 800 from 63 MB), or below frames / 16
    /// (at least 8) on machines too small for that to leave room, and
    /// trim toward half as much again (WRK: DesiredFreeGoal =
    /// MmPlentyFreePages * 1.5). The scaling to small machines is
    /// pagelab's choice.
    pub fn for_frames(frames: u64) -> BalanceConfig {
        let plenty = if frames >= (63 << 20) / 4096 { 2 * PLENTY_FREE_PAGES } else { PLENTY_FREE_PAGES };
        let below = plenty.min((frames / 16).max(8));
        BalanceConfig { enabled: true, period: DEFAULT_PERIOD, available_below: below, goal: below + below / 2 }
    }
}

/// The balance set manager's own state, owned by the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BalanceState {
    /// Idle time that `advance` ticks added to the manager's clock (the
    /// clock is simulated time plus this).
    idle: SimNanos,
    /// When it next wakes, on that clock.
    next_due: SimNanos,
    /// Live processes whose working sets it scans (aging and WSClock):
    /// with none, the fault path skips it with one comparison.
    scanned: u32,
    /// Times it ran.
    pub runs: u64,
    /// Pages it aged (one per page per scan).
    pub pages_scanned: u64,
    /// Pages it trimmed.
    pub pages_trimmed: u64,
}

impl BalanceState {
    /// A manager that first wakes one period after boot.
    pub fn new(config: &BalanceConfig) -> BalanceState {
        BalanceState { next_due: config.period, ..BalanceState::default() }
    }

    /// Live processes whose working sets it scans, as it counts them.
    pub(crate) fn scanned(&self) -> u32 {
        self.scanned
    }

    /// Notes a new process under `policy`.
    pub(crate) fn process_created(&mut self, policy: PolicyKind) {
        if policy.scans_accessed_bits() {
            self.scanned += 1;
        }
    }

    /// Notes that a process under `policy` exited.
    pub(crate) fn process_exited(&mut self, policy: PolicyKind) {
        if policy.scans_accessed_bits() {
            self.scanned -= 1;
        }
    }
}

impl Machine {
    /// The balance set manager's state (read only).
    pub fn balance(&self) -> &BalanceState {
        &self.balance
    }

    /// The balance set manager's clock: simulated time plus the idle time
    /// of `advance` ticks.
    fn balance_clock(&self) -> SimNanos {
        self.time() + self.balance.idle
    }

    /// After a fault: runs the balance set manager if simulated time has
    /// reached its next wake. One comparison when no working set is aged.
    #[inline(always)]
    pub(crate) fn maybe_run_balance_set_manager(&mut self) {
        if self.balance.scanned > 0 && self.config.balance.enabled && self.balance_clock() >= self.balance.next_due {
            self.run_balance_set_manager();
        }
    }

    /// One tick of an `advance` step: a period of idle time passes and the
    /// balance set manager wakes.
    pub(crate) fn balance_tick(&mut self) {
        if !self.config.balance.enabled {
            return;
        }
        self.balance.idle += self.config.balance.period;
        if self.balance_clock() >= self.balance.next_due {
            self.run_balance_set_manager();
        }
    }

    /// The aging scan of every live aging and WSClock working set, without
    /// trimming (what `pagelab replay --refresh` runs). Returns pages scanned.
    pub(crate) fn age_working_sets(&mut self) -> u64 {
        let mut n = 0;
        for p in self.processes.iter_mut().filter(|p| !p.exited && p.ws.policy().scans_accessed_bits()) {
            let now = p.counters.paging.references;
            let (ws, pt) = (&mut p.ws, &mut p.page_table);
            let scanned = ws.scan(now, |vpn| pt.get_mut(vpn).is_some_and(|e| e.take_accessed()));
            if scanned > 0 {
                n += scanned;
                self.activity.ws_lock += 1;
                self.activity.ws_lock_held += self.config.cost.ws_lock_hold;
                self.activity.time_background += self.config.cost.ws_lock_hold;
            }
        }
        self.balance.pages_scanned += n;
        n
    }

    /// One run: age, then trim by age if available pages are low.
    #[cold]
    #[inline(never)]
    fn run_balance_set_manager(&mut self) {
        let cfg = self.config.balance;
        self.balance.runs += 1;
        self.balance.next_due = self.balance_clock() + cfg.period;
        self.age_working_sets();
        let available = self.pfn.available();
        if available >= cfg.available_below {
            return;
        }
        let need = cfg.goal.saturating_sub(available);
        let modified_before = self.pfn.counts().modified;
        let mut trimmed = 0u64;
        let mut from = Vec::new();
        // Passes of falling age: the pages unused longest go first, from
        // every process above its minimum.
        for trim_age in (0..=MAX_AGE).rev() {
            for i in 0..self.processes.len() {
                if trimmed >= need {
                    break;
                }
                let pid = ProcessId(i as u16);
                trimmed += self.trim_by_age(pid, trim_age, need - trimmed, available, cfg.available_below, &mut from);
            }
        }
        self.balance.pages_trimmed += trimmed;
        if trimmed > 0 {
            let processes = from.len() as u64;
            self.emit(|| Event::BalanceTrim {
                available,
                below: cfg.available_below,
                goal: cfg.goal,
                trimmed,
                processes,
            });
            let dirty = self.pfn.counts().modified.saturating_sub(modified_before);
            if dirty > 0 {
                self.write_modified(dirty, false);
            }
        }
    }

    /// Trims up to `limit` pages of age `trim_age` or more from an aging
    /// working set above its minimum, oldest first, never below the
    /// minimum. Notes the process in `from` if it lost pages.
    fn trim_by_age(
        &mut self,
        pid: ProcessId,
        trim_age: u8,
        limit: u64,
        available: u64,
        below: u64,
        from: &mut Vec<ProcessId>,
    ) -> u64 {
        let p = &self.processes[pid.0 as usize];
        if p.exited || p.ws.policy() != PolicyKind::Aging || p.ws.len() <= p.ws.min {
            return 0;
        }
        let min = p.ws.min;
        let room = (p.ws.len() - min).min(limit);
        let victims: Vec<(u32, u8)> =
            p.ws.by_age().into_iter().take_while(|&(_, age)| age >= trim_age).take(room as usize).collect();
        if victims.is_empty() {
            return 0;
        }
        self.took_ws_lock(self.config.cost.ws_lock_hold);
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        self.activity.time_background += self.config.cost.ws_lock_hold + self.config.cost.pfn_lock_hold;
        for &(slot, age) in &victims {
            self.evict_slot(pid, slot, EvictReason::Balance { age, min, available, below });
        }
        if !from.contains(&pid) {
            from.push(pid);
        }
        victims.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::{AccessKind, Op, OpValue};
    use crate::pte::Protection;
    use crate::units::Bytes;
    use crate::working_set::NEVER;

    /// A 256-frame machine under aging that trims below 32 available
    /// pages toward 48.
    fn machine() -> Machine {
        let mut c = MachineConfig::with_memory(Bytes(256 * 4096));
        c.policy = PolicyKind::Aging;
        c.balance.available_below = 32;
        c.balance.goal = 48;
        let mut m = Machine::new(c).unwrap();
        m.set_recording(true);
        m
    }

    fn process(m: &mut Machine, name: &str, min: u64, max: u64) -> ProcessId {
        let op = Op::CreateProcess {
            name: name.into(),
            ws_min: Some(min),
            ws_max: Some(max),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let Ok(OpValue::Process(p)) = m.apply(&op) else { panic!() };
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x100000),
            size: 200 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        p
    }

    fn touch(m: &mut Machine, p: ProcessId, pages: u64) {
        for i in 0..pages {
            m.access(p, 0x100000 + i * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        m.check_invariants().unwrap();
    }

    #[test]
    fn it_grows_working_sets_while_memory_is_plentiful_and_trims_the_idle_one_first() {
        let mut m = machine();
        let idle = process(&mut m, "idle", 20, 40);
        let busy = process(&mut m, "busy", 20, 200);
        // Plentiful memory: idle grows past its maximum of 40.
        touch(&mut m, idle, 80);
        assert_eq!(m.process(idle).unwrap().ws.len(), 80);
        // Three quiet seconds: idle's pages age to 2; nothing is trimmed.
        m.apply(&Op::Advance { ticks: 3 }).unwrap();
        assert_eq!((m.balance().runs, m.balance().pages_trimmed), (3, 0));
        // Pressure: busy takes 160 pages, leaving 16 available.
        touch(&mut m, busy, 160);
        assert_eq!(m.pfn_db().available(), 16);
        m.drain_events();
        m.apply(&Op::Advance { ticks: 1 }).unwrap();
        let events = m.drain_events();
        // 48 - 16 = 32 pages, all age 3 and all from idle; busy keeps its
        // 160 recently used pages.
        assert_eq!(m.balance().pages_trimmed, 32);
        assert_eq!((m.process(idle).unwrap().ws.len(), m.process(busy).unwrap().ws.len()), (48, 160));
        let trims: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Evicted { pid, reason: EvictReason::Balance { age, min, available, below }, .. } => {
                    Some((*pid, *age, *min, *available, *below))
                }
                _ => None,
            })
            .collect();
        assert_eq!(trims, vec![(idle, 3, 20, 16, 32); 32]);
        let sentence = m.explain(events.iter().find(|e| e.kind() == "evicted").unwrap());
        assert!(
            sentence.ends_with(
                "age 3, the oldest in idle's working set, idle above its minimum of 20; available 16 below 32"
            ),
            "{sentence}"
        );
        let summary = events.iter().find(|e| e.kind() == "balance_trim").unwrap();
        assert!(matches!(summary, Event::BalanceTrim { trimmed: 32, processes: 1, .. }), "{summary:?}");
        // The writer wrote the trimmed pages: the goal is met.
        assert!(m.pfn_db().available() >= 48, "{}", m.pfn_db().available());
        m.check_invariants().unwrap();
    }

    #[test]
    fn it_never_trims_below_a_minimum_and_ignores_other_policies() {
        let mut m = machine();
        let p = process(&mut m, "aged", 100, 100);
        let op = Op::CreateProcess {
            name: "fifo".into(),
            ws_min: Some(1),
            ws_max: Some(200),
            hard_max: Some(true),
            policy: Some(PolicyKind::Fifo),
            node: 0,
            auto_commit: false,
        };
        let Ok(OpValue::Process(f)) = m.apply(&op) else { panic!() };
        m.apply(&Op::Reserve {
            pid: f,
            address: Some(0x100000),
            size: 200 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        touch(&mut m, p, 100);
        touch(&mut m, f, 150);
        m.apply(&Op::Advance { ticks: 5 }).unwrap();
        assert_eq!(m.balance().pages_trimmed, 0, "aged is at its minimum, fifo is not aged");
        assert_eq!((m.process(p).unwrap().ws.len(), m.process(f).unwrap().ws.len()), (100, 150));
    }

    #[test]
    fn faults_wake_it_once_a_simulated_second() {
        let mut c = MachineConfig::with_memory(Bytes(256 * 4096));
        c.policy = PolicyKind::Aging;
        c.balance.period = SimNanos(100_000);
        let mut m = Machine::new(c).unwrap();
        let p = process(&mut m, "p", 20, 300);
        let t = m.time();
        touch(&mut m, p, 200);
        let elapsed = m.time().0 - t.0;
        // Each fault takes simulated time; the manager ran once per
        // 0.1 ms of it (its clock starts at boot).
        assert_eq!(m.balance().runs, m.time().0 / 100_000, "{elapsed} ns of faults");
        assert!(m.balance().runs > 0);
    }

    #[test]
    fn defaults_follow_wrk_and_scale_down_on_small_machines() {
        let c = BalanceConfig::for_frames(16384);
        assert_eq!((c.available_below, c.goal, c.period), (800, 1200, SimNanos(1_000_000_000)));
        assert_eq!(BalanceConfig::for_frames(8192).available_below, 400);
        assert_eq!(BalanceConfig::for_frames(1024).available_below, 64);
        assert_eq!(BalanceConfig::for_frames(64).available_below, 8);
    }
}
