//! VirtualLock and VirtualUnlock: pages locked in the working set (WRK
//! `lockvm.c`, NtLockVirtualMemory and NtUnlockVirtualMemory).
//!
//! VirtualLock is not the locking of AWE and large pages, which are never
//! in a working set and never paged: it keeps ordinary pages in the
//! process's working set, where replacement, trimming and the balance set
//! manager never choose them (NT moves their entries below FirstDynamic;
//! pagelab takes them out of the policy's order). What it costs:
//!
//! - a region of `n` pages can be locked only while the locked pages
//!   (those already locked, plus `n`, less those of the region already
//!   locked) plus 8 stay within the working-set minimum, else
//!   ERROR_WORKING_SET_QUOTA (1453) (STATUS_WORKING_SET_QUOTA against
//!   MM_FLUID_WORKING_SET 8; MODEL.md s6 left the code unverified: this is
//!   the source);
//! - every page must be committed and accessible: each is touched, and a
//!   page that cannot be is ERROR_NOACCESS (998, STATUS_ACCESS_VIOLATION),
//!   with nothing locked; so is an address in no VAD;
//! - an AWE window cannot be locked (STATUS_INCOMPATIBLE_FILE_MAP, which
//!   pagelab reports as ERROR_INVALID_PARAMETER 87; the status-to-error
//!   mapping is pagelab's);
//! - there is no lock count: locking twice and unlocking once unlocks.
//!
//! VirtualUnlock of a range not wholly locked fails with ERROR_NOT_LOCKED
//! (158) and, as a side effect, removes the unlocked resident pages of the
//! range from the working set (the documented way to trim a range); a
//! range wholly locked is unlocked, its pages back in the policy's order.
//! Large pages (never in a working set) count as locked.

use crate::event::{Event, EvictReason};
use crate::machine::{AccessKind, Machine, OpError, OpValue};
use crate::process::VadKind;
use crate::units::{ProcessId, Vpn};
use crate::win32::Win32Error;
use crate::working_set::NEVER;

/// Pages a working set keeps unlocked beyond its locked pages (WRK `mi.h`
/// MM_FLUID_WORKING_SET).
pub const FLUID_WORKING_SET: u64 = 8;

const LOCK: &str = "VirtualLock";
const UNLOCK: &str = "VirtualUnlock";

impl Machine {
    /// The pages `[address, address + size)` covers, or 87 for an empty or
    /// overflowing range.
    fn lock_range(
        &mut self,
        pid: ProcessId,
        call: &'static str,
        address: u64,
        size: u64,
    ) -> Result<(Vpn, u64), OpError> {
        let end = address.checked_add(size).map(|e| e.div_ceil(4096));
        match end {
            Some(end) if size > 0 && end <= self.config.layout.user_end() / 4096 => {
                let first = Vpn::containing(address);
                Ok((first, end - first.0))
            }
            _ => Err(self.fail(pid, call, Win32Error::InvalidParameter)),
        }
    }

    /// Whether the page is resident and locked: locked in the working set,
    /// or part of a large page.
    fn page_locked(&self, pid: ProcessId, vpn: Vpn) -> bool {
        let p = &self.processes[pid.0 as usize];
        let pte = p.page_table.get(vpn);
        if !pte.is_valid() {
            return false;
        }
        if !pte.in_working_set() {
            return pte.is_large();
        }
        p.ws.is_locked(self.pfn.entry(pte.pfn()).ws_index())
    }

    /// `VirtualLock(address, size)`.
    pub(crate) fn virtual_lock(&mut self, pid: ProcessId, address: u64, size: u64) -> Result<OpValue, OpError> {
        let (first, pages) = self.lock_range(pid, LOCK, address, size)?;
        let min = self.processes[pid.0 as usize].ws.min;
        if pages + FLUID_WORKING_SET > min {
            return Err(self.fail(pid, LOCK, Win32Error::WorkingSetQuota));
        }
        let mut already = 0;
        for i in 0..pages {
            let v = first.offset(i);
            match self.processes[pid.0 as usize].vad_at(v).map(|vad| vad.kind) {
                None if !self.processes[pid.0 as usize].auto_commit => {
                    return Err(self.fail(pid, LOCK, Win32Error::NoAccess));
                }
                Some(VadKind::Physical) => return Err(self.fail(pid, LOCK, Win32Error::InvalidParameter)),
                _ => {}
            }
            already += self.page_locked(pid, v) as u64;
        }
        let locked = self.processes[pid.0 as usize].ws.locked_len();
        if locked + pages + FLUID_WORKING_SET - already > min {
            return Err(self.fail(pid, LOCK, Win32Error::WorkingSetQuota));
        }
        // Touch every page; one that cannot be touched fails the call with
        // nothing locked.
        let faults_before = self.processes[pid.0 as usize].counters.paging.faults();
        for i in 0..pages {
            let v = first.offset(i);
            if self.access(pid, v.address(), AccessKind::Read, None, NEVER).is_err() {
                return Err(self.fail(pid, LOCK, Win32Error::NoAccess));
            }
        }
        // Lock each page, faulting back any that the touches of the others
        // pushed out of the working set.
        for i in 0..pages {
            let v = first.offset(i);
            if !self.processes[pid.0 as usize].page_table.get(v).is_valid() {
                self.access(pid, v.address(), AccessKind::Read, None, NEVER)?;
            }
            let pte = self.processes[pid.0 as usize].page_table.get(v);
            if pte.in_working_set() {
                let slot = self.pfn.entry(pte.pfn()).ws_index();
                self.processes[pid.0 as usize].ws.lock(slot);
            }
        }
        self.took_ws_lock(self.config.cost.ws_lock_hold);
        self.activity.time_foreground += self.config.cost.ws_lock_hold;
        let faulted = self.processes[pid.0 as usize].counters.paging.faults() - faults_before;
        self.emit(|| Event::PagesLocked { pid, first, pages, faulted, already });
        Ok(OpValue::None)
    }

    /// `VirtualUnlock(address, size)`.
    pub(crate) fn virtual_unlock(&mut self, pid: ProcessId, address: u64, size: u64) -> Result<OpValue, OpError> {
        let (first, pages) = self.lock_range(pid, UNLOCK, address, size)?;
        let mut not_locked = false;
        let mut removed = 0;
        let mut last = pages;
        for i in 0..pages {
            let v = first.offset(i);
            let p = &self.processes[pid.0 as usize];
            match p.vad_at(v).map(|vad| vad.kind) {
                None if !p.auto_commit => {
                    not_locked = true;
                    last = i;
                    break;
                }
                // The unlock stops at an AWE window (NtUnlockVirtualMemory).
                Some(VadKind::Physical) => {
                    last = i;
                    break;
                }
                _ => {}
            }
            let pte = p.page_table.get(v);
            if !pte.is_valid() {
                not_locked = true;
            } else if pte.in_working_set() {
                let slot = self.pfn.entry(pte.pfn()).ws_index();
                if !p.ws.is_locked(slot) {
                    self.evict_slot(pid, slot, EvictReason::Trim);
                    removed += 1;
                    not_locked = true;
                }
            }
        }
        self.took_ws_lock(self.config.cost.ws_lock_hold);
        self.activity.time_foreground += self.config.cost.ws_lock_hold;
        if not_locked {
            self.emit(|| Event::PagesUnlocked { pid, first, pages: 0, removed });
            return Err(self.fail(pid, UNLOCK, Win32Error::NotLocked));
        }
        for i in 0..last {
            let v = first.offset(i);
            let pte = self.processes[pid.0 as usize].page_table.get(v);
            if pte.in_working_set() {
                let slot = self.pfn.entry(pte.pfn()).ws_index();
                self.processes[pid.0 as usize].ws.unlock(slot);
            }
        }
        self.emit(|| Event::PagesUnlocked { pid, first, pages: last, removed });
        Ok(OpValue::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::Op;
    use crate::pte::Protection;
    use crate::units::Bytes;

    const BASE: u64 = 0x10000;

    /// A machine of `frames` frames and a process with a working set of
    /// `min`..`max` under `policy` and 128 committed pages at [`BASE`].
    fn machine_with(
        frames: u64,
        min: u64,
        max: u64,
        policy: Option<crate::working_set::PolicyKind>,
    ) -> (Machine, ProcessId) {
        let mut c = MachineConfig::with_memory(Bytes(frames * 4096));
        c.pagefile = Bytes(256 * 4096);
        let mut m = Machine::new(c).unwrap();
        m.set_recording(true);
        let create = Op::CreateProcess {
            name: "p".into(),
            ws_min: Some(min),
            ws_max: Some(max),
            hard_max: Some(true),
            policy,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).unwrap() else { panic!() };
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(BASE),
            size: 128 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        (m, p)
    }

    fn machine(frames: u64, min: u64, max: u64) -> (Machine, ProcessId) {
        machine_with(frames, min, max, None)
    }

    fn lock(m: &mut Machine, pid: ProcessId, page: u64, pages: u64) -> Result<OpValue, OpError> {
        m.apply(&Op::VirtualLock { pid, address: BASE + page * 4096, size: pages * 4096 })
    }

    fn unlock(m: &mut Machine, pid: ProcessId, page: u64, pages: u64) -> Result<OpValue, OpError> {
        m.apply(&Op::VirtualUnlock { pid, address: BASE + page * 4096, size: pages * 4096 })
    }

    fn code(r: Result<OpValue, OpError>) -> u32 {
        match r {
            Err(OpError::Win32 { error, .. }) => error.code(),
            other => panic!("expected a Win32 error, got {other:?}"),
        }
    }

    #[test]
    fn locked_pages_stay_in_the_working_set_through_replacement_and_trimming() {
        let (mut m, p) = machine(128, 20, 20);
        lock(&mut m, p, 0, 4).unwrap();
        assert_eq!(m.process(p).unwrap().ws.locked_len(), 4);
        assert_eq!(m.process(p).unwrap().counters.paging.demand_zero, 4, "locking faults the pages in");
        // Sixty more pages through a 20-page working set: replacement never
        // takes the locked four.
        for i in 4..64 {
            m.access(p, BASE + i * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        m.apply(&Op::SetWorkingSetSize { pid: p, limits: None }).unwrap();
        let ws = &m.process(p).unwrap().ws;
        assert_eq!((ws.len(), ws.locked_len()), (4, 4));
        for i in 0..4 {
            assert!(m.pte(p, Vpn::containing(BASE + i * 4096)).unwrap().is_valid());
            assert!(m.query_working_set_ex(p, BASE + i * 4096).locked());
        }
        assert!(!m.query_working_set_ex(p, BASE + 4 * 4096).valid());
        m.check_invariants().unwrap();
    }

    #[test]
    fn the_working_set_minimum_less_eight_bounds_what_can_be_locked() {
        let (mut m, p) = machine(128, 20, 40);
        assert_eq!(code(lock(&mut m, p, 0, 13)), 1453, "13 + 8 > 20");
        lock(&mut m, p, 0, 12).unwrap();
        assert_eq!(code(lock(&mut m, p, 12, 1)), 1453, "12 locked + 1 + 8 > 20");
        // Locking pages already locked needs no room.
        lock(&mut m, p, 4, 8).unwrap();
        // A larger minimum makes room.
        m.apply(&Op::SetWorkingSetSize { pid: p, limits: Some((30, 40)) }).unwrap();
        lock(&mut m, p, 12, 10).unwrap();
        assert_eq!(m.process(p).unwrap().ws.locked_len(), 22);
        // A maximum that would leave fewer than 8 unlocked pages is refused.
        assert_eq!(code(m.apply(&Op::SetWorkingSetSize { pid: p, limits: Some((30, 30)) })), 87);
        m.check_invariants().unwrap();
    }

    #[test]
    fn every_error_of_virtual_lock_and_unlock() {
        let (mut m, p) = machine(128, 40, 40);
        assert_eq!(code(m.apply(&Op::VirtualLock { pid: p, address: BASE, size: 0 })), 87);
        assert_eq!(code(m.apply(&Op::VirtualLock { pid: p, address: 0x7000_0000, size: 4096 })), 998, "no VAD");
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x200000),
            size: 4 * 4096,
            protection: Protection::ReadWrite,
            commit: false,
        })
        .unwrap();
        assert_eq!(code(m.apply(&Op::VirtualLock { pid: p, address: 0x200000, size: 4096 })), 998, "reserved only");
        assert_eq!(m.process(p).unwrap().ws.locked_len(), 0);
        m.apply(&Op::ReservePhysical {
            pid: p,
            address: Some(0x300000),
            size: 4096,
            protection: Protection::ReadWrite,
            commit: false,
        })
        .unwrap();
        assert_eq!(code(m.apply(&Op::VirtualLock { pid: p, address: 0x300000, size: 4096 })), 87, "an AWE window");
        // Unlocking what is not locked: 158, and resident pages leave the
        // working set.
        m.access(p, BASE, AccessKind::Write, None, NEVER).unwrap();
        assert_eq!(code(unlock(&mut m, p, 0, 2)), 158);
        assert_eq!(m.process(p).unwrap().last_error, 158);
        assert_eq!(m.process(p).unwrap().ws.len(), 0, "VirtualUnlock trims an unlocked range");
        m.check_invariants().unwrap();
    }

    #[test]
    fn unlock_returns_pages_to_the_policy_and_has_no_count() {
        let (mut m, p) = machine(128, 20, 20);
        lock(&mut m, p, 0, 4).unwrap();
        lock(&mut m, p, 0, 4).unwrap();
        unlock(&mut m, p, 0, 4).unwrap();
        assert_eq!(m.process(p).unwrap().ws.locked_len(), 0, "one unlock undoes two locks");
        assert_eq!(code(unlock(&mut m, p, 0, 4)), 158);
        // Unlocked, they can be replaced again.
        lock(&mut m, p, 0, 2).unwrap();
        unlock(&mut m, p, 0, 2).unwrap();
        for i in 2..64 {
            m.access(p, BASE + i * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        assert!(!m.pte(p, Vpn::containing(BASE)).unwrap().is_valid());
        // Releasing locked pages frees them.
        lock(&mut m, p, 60, 4).unwrap();
        m.apply(&Op::Release { pid: p, address: BASE }).unwrap();
        assert_eq!(m.process(p).unwrap().ws.len(), 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn every_policy_keeps_locked_pages() {
        for policy in crate::working_set::PolicyKind::ALL {
            let (mut m, p) = machine_with(64, 20, 20, Some(policy));
            lock(&mut m, p, 0, 12).unwrap();
            for r in 0..3 {
                // Locked pages are referenced too: LRU and OPT must not move
                // them in their orders.
                for i in 0..128 {
                    m.access(p, BASE + i * 4096, AccessKind::Write, None, r * 128 + i).unwrap();
                }
                m.apply(&Op::Advance { ticks: 2 }).unwrap();
            }
            for i in 0..12 {
                assert!(m.pte(p, Vpn::containing(BASE + i * 4096)).unwrap().is_valid(), "{policy:?} page {i}");
            }
            m.check_invariants().unwrap_or_else(|e| panic!("{policy:?}: {e}"));
        }
    }
}
