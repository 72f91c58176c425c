//! AWE, Address Windowing Extensions: physical pages a process owns and
//! maps itself (MODEL.md s6; WRK `physical.c`).
//!
//! - `VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE)` reserves a
//!   window: never committed, no demand zero; any other protection, or
//!   MEM_COMMIT, is ERROR_INVALID_PARAMETER (87) (WRK `allocvm.c`:
//!   STATUS_INVALID_PARAMETER_5 and _6).
//! - `AllocateUserPhysicalPages(process, &n, pfns)` (and the Numa variant
//!   with a preferred node) needs SeLockMemoryPrivilege enabled (1314). It
//!   takes zeroed pages off the page lists (free, zeroed, standby; it never
//!   trims a working set or writes a modified page), so it may return fewer
//!   than asked and says how many; none at all is ERROR_NO_SYSTEM_RESOURCES
//!   (1450, STATUS_INSUFFICIENT_RESOURCES); a process at its physical-pages
//!   limit gets ERROR_COMMITMENT_LIMIT (1455) and a request beyond the limit
//!   is cut to it (WRK `NtAllocateUserPhysicalPages`: VadPhysicalPagesLimit).
//!   The pages are locked, owned by the process, in no working set and on
//!   no list; the PFN array the call returns is opaque to the caller. The
//!   PFN database lock is taken once for the batch.
//! - `MapUserPhysicalPages(va, n, pfns)` maps pages into one window: a range
//!   not inside one window is 87 (STATUS_INVALID_PARAMETER_1); a frame the
//!   process does not own is ERROR_INVALID_ADDRESS (487,
//!   STATUS_CONFLICTING_ADDRESSES); a frame mapped anywhere already, or
//!   listed twice, is 87 (STATUS_INVALID_PARAMETER_3). A failed call maps
//!   nothing. `pfns = NULL` unmaps the range without freeing. A page is at
//!   one address at a time, and may be remapped elsewhere later; a frame
//!   replaced at an address is unmapped. The working-set lock is taken once
//!   per call (MODEL.md s6; WRK Server 2003 uses the process's AWE push lock,
//!   taken shared). `MapUserPhysicalPagesScatter` takes one address per page.
//! - `FreeUserPhysicalPages(process, &n, pfns)` unmaps and frees the pages in
//!   order, stopping at the first frame not owned (487) with `n` set to the
//!   pages freed before it; `n = 0` is 87. Releasing a window unmaps its
//!   pages but keeps them; exit frees them all (MiCleanPhysicalProcessPages).
//!
//! pagelab's simplifications: pages come from the allocating thread's node
//! (or the preferred one) first, then the others in order, where Windows
//! scans physical memory from 16 MB up; AWE pages are charged no commit (WRK
//! charges none: they come out of resident available memory); the PTE
//! protection of a window is always read-write; the TLB model is not
//! flushed by a remap (the next reference to a remapped page hits).

use std::collections::BTreeMap;

use crate::event::Event;
use crate::fault::FramePurpose;
use crate::machine::{Machine, OpError, OpValue};
use crate::pfn_db::{Backing, PageLocation};
use crate::process::{Vad, VadKind};
use crate::pte::{Protection, Pte, PteKind};
use crate::token::Privilege;
use crate::units::{Bytes, Pfn, ProcessId, Vpn};
use crate::win32::Win32Error;

/// A process's AWE state: WRK's AWEINFO (the bitmap of frames it owns,
/// VadPhysicalPages and its limit), with each frame's mapping, which WRK
/// keeps in the frame's PFN entry (PteAddress).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AweInfo {
    /// Every frame the process owns, with the page it is mapped at.
    pub pages: BTreeMap<u32, Option<Vpn>>,
    /// The most frames it may own (0: no limit), as a job sets it.
    pub limit: u64,
}

impl AweInfo {
    /// Frames owned.
    pub fn len(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Whether the process owns no AWE page.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Frames mapped at some address.
    pub fn mapped(&self) -> u64 {
        self.pages.values().filter(|v| v.is_some()).count() as u64
    }
}

const RESERVE: &str = "VirtualAlloc(MEM_PHYSICAL)";
const ALLOCATE: &str = "AllocateUserPhysicalPages";
const MAP: &str = "MapUserPhysicalPages";
const SCATTER: &str = "MapUserPhysicalPagesScatter";
const FREE: &str = "FreeUserPhysicalPages";

impl Machine {
    /// `VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL)`: an AWE window.
    pub(crate) fn reserve_physical(
        &mut self,
        pid: ProcessId,
        address: Option<u64>,
        size: u64,
        protection: Protection,
        commit: bool,
    ) -> Result<OpValue, OpError> {
        if commit || protection != Protection::ReadWrite {
            return Err(self.fail(pid, RESERVE, Win32Error::InvalidParameter));
        }
        let (start, pages) =
            self.place_range(pid, RESERVE, address, size, crate::machine::ALLOCATION_GRANULARITY / 4096)?;
        self.processes[pid.0 as usize].vads.insert(
            start.0,
            Vad { start, pages, kind: VadKind::Physical, protection, mem_commit: false, large: false },
        );
        self.emit(|| Event::AweWindowReserved { pid, start, size: Bytes(pages * 4096) });
        Ok(OpValue::Address(start.address()))
    }

    /// `AllocateUserPhysicalPages` (`node` `None`) or
    /// `AllocateUserPhysicalPagesNuma` (the preferred node): returns the
    /// frames allocated, in order.
    pub(crate) fn allocate_physical(
        &mut self,
        pid: ProcessId,
        pages: u64,
        node: Option<u8>,
    ) -> Result<OpValue, OpError> {
        let call = if node.is_some() { "AllocateUserPhysicalPagesNuma" } else { ALLOCATE };
        if !self.processes[pid.0 as usize].token.has_enabled(Privilege::LockMemory) {
            return Err(self.fail(pid, call, Win32Error::PrivilegeNotHeld));
        }
        if pages == 0 {
            return Ok(OpValue::Frames(Vec::new()));
        }
        let info = &self.processes[pid.0 as usize].awe;
        let mut want = pages;
        if info.limit != 0 {
            if info.len() >= info.limit {
                return Err(self.fail(pid, call, Win32Error::CommitmentLimit));
            }
            want = want.min(info.limit - info.len());
        }
        let home = node.unwrap_or(self.processes[pid.0 as usize].node).min(self.pfn.nodes() - 1);
        // One acquisition of the PFN lock for the batch; each page costs a
        // list removal under it, and zeroing if it was not zeroed already.
        let mut frames = Vec::new();
        let mut zeroed = 0;
        while (frames.len() as u64) < want {
            let Some((pfn, from)) = self.allocate_frame(FramePurpose::ZeroFill, home) else { break };
            if from != crate::event::ZeroSource::Zeroed {
                zeroed += 1;
            }
            let e = self.pfn.entry_mut(pfn);
            e.set_awe(true);
            e.set_backing(Backing::None);
            e.set_modified(true);
            e.set_owner(None);
            self.pfn.set_counts(pfn, 1, 1);
            self.pfn.push_tail(pfn, PageLocation::Active);
            self.processes[pid.0 as usize].awe.pages.insert(pfn.0, None);
            frames.push(pfn);
        }
        let c = &self.config.cost;
        let hold = c.pfn_lock_hold + c.batch_page * frames.len() as u64;
        let time = c.fault_trap + hold + c.zero_page * zeroed;
        self.took_pfn_lock(hold);
        self.activity.zeroed_in_fault += zeroed;
        self.activity.time_foreground += time;
        let allocated = frames.len() as u64;
        self.emit(|| Event::PhysicalPagesAllocated { pid, asked: pages, allocated, node: home, zeroed, time });
        if frames.is_empty() {
            return Err(self.fail(pid, call, Win32Error::NoSystemResources));
        }
        Ok(OpValue::Frames(frames))
    }

    /// `MapUserPhysicalPages(address, pages, frames)`; `frames` `None`
    /// unmaps.
    pub(crate) fn map_physical(
        &mut self,
        pid: ProcessId,
        address: u64,
        pages: u64,
        frames: Option<&[Pfn]>,
    ) -> Result<OpValue, OpError> {
        let pages = frames.map_or(pages, |f| f.len() as u64);
        let first = Vpn::containing(address);
        let p = &self.processes[pid.0 as usize];
        let inside =
            pages > 0 && p.vad_at(first).is_some_and(|v| v.kind == VadKind::Physical && first.0 + pages <= v.end().0);
        if !inside {
            return Err(self.fail(pid, MAP, Win32Error::InvalidParameter));
        }
        let targets: Vec<Vpn> = (0..pages).map(|i| first.offset(i)).collect();
        self.map_at(pid, MAP, &targets, frames, false)
    }

    /// `MapUserPhysicalPagesScatter(addresses, frames)`: one address per
    /// page, each in a window; `frames` `None` unmaps them.
    pub(crate) fn map_physical_scatter(
        &mut self,
        pid: ProcessId,
        addresses: &[u64],
        frames: Option<&[Pfn]>,
    ) -> Result<OpValue, OpError> {
        let p = &self.processes[pid.0 as usize];
        let targets: Vec<Vpn> = addresses.iter().map(|&a| Vpn::containing(a)).collect();
        let ok = !targets.is_empty()
            && frames.is_none_or(|f| f.len() == targets.len())
            && targets.iter().all(|&v| p.vad_at(v).is_some_and(|vad| vad.kind == VadKind::Physical));
        if !ok {
            return Err(self.fail(pid, SCATTER, Win32Error::InvalidParameter));
        }
        self.map_at(pid, SCATTER, &targets, frames, true)
    }

    /// Maps `frames[i]` at `targets[i]` (or unmaps every target), after
    /// checking every frame first so that a failure maps nothing.
    fn map_at(
        &mut self,
        pid: ProcessId,
        call: &'static str,
        targets: &[Vpn],
        frames: Option<&[Pfn]>,
        scatter: bool,
    ) -> Result<OpValue, OpError> {
        if let Some(frames) = frames {
            let info = &self.processes[pid.0 as usize].awe;
            let mut seen = std::collections::BTreeSet::new();
            for &f in frames {
                match info.pages.get(&f.0) {
                    None => return Err(self.fail(pid, call, Win32Error::InvalidAddress)),
                    Some(Some(_)) => return Err(self.fail(pid, call, Win32Error::InvalidParameter)),
                    Some(None) if !seen.insert(f.0) => {
                        return Err(self.fail(pid, call, Win32Error::InvalidParameter));
                    }
                    Some(None) => {}
                }
            }
        }
        // One working-set lock acquisition for the call; one PTE write each.
        let mut replaced = 0;
        for (i, &v) in targets.iter().enumerate() {
            if self.unmap_awe_page(pid, v) {
                replaced += 1;
            }
            if let Some(frames) = frames {
                let f = frames[i];
                self.processes[pid.0 as usize].page_table.set(v, Pte::awe(f));
                self.pfn.entry_mut(f).set_owner(Some((pid, v)));
                self.processes[pid.0 as usize].awe.pages.insert(f.0, Some(v));
            }
        }
        let c = &self.config.cost;
        let hold = c.ws_lock_hold + c.batch_page * targets.len() as u64;
        let time = c.fault_trap + hold;
        self.took_ws_lock(hold);
        self.activity.time_foreground += time;
        let (first, pages) = (targets[0], targets.len() as u64);
        if frames.is_some() {
            self.emit(|| Event::PhysicalPagesMapped { pid, first, pages, replaced, scatter, time });
        } else {
            self.emit(|| Event::PhysicalPagesUnmapped { pid, first, pages, unmapped: replaced, scatter });
        }
        Ok(OpValue::None)
    }

    /// Clears the AWE mapping at `vpn`, if there is one: the frame stays
    /// the process's. Returns whether a frame was mapped there.
    fn unmap_awe_page(&mut self, pid: ProcessId, vpn: Vpn) -> bool {
        let pte = self.processes[pid.0 as usize].page_table.get(vpn);
        if !pte.is_awe() {
            return false;
        }
        let f = pte.pfn();
        self.pfn.entry_mut(f).set_owner(None);
        let p = &mut self.processes[pid.0 as usize];
        p.awe.pages.insert(f.0, None);
        p.page_table.set(vpn, Pte::ZERO);
        true
    }

    /// `FreeUserPhysicalPages`: unmaps and frees `frames` in order, up to
    /// the first the process does not own. Returns the pages freed.
    pub(crate) fn free_physical(&mut self, pid: ProcessId, frames: &[Pfn]) -> Result<OpValue, OpError> {
        if frames.is_empty() {
            return Err(self.fail(pid, FREE, Win32Error::InvalidParameter));
        }
        let mut freed = 0;
        let mut unmapped = 0;
        let mut error = None;
        for &f in frames {
            match self.processes[pid.0 as usize].awe.pages.get(&f.0).copied() {
                None => {
                    error = Some(Win32Error::InvalidAddress);
                    break;
                }
                Some(at) => {
                    if let Some(v) = at {
                        self.unmap_awe_page(pid, v);
                        unmapped += 1;
                    }
                    self.release_awe_frame(pid, f);
                    freed += 1;
                }
            }
        }
        if freed > 0 {
            let hold = self.config.cost.pfn_lock_hold + self.config.cost.batch_page * freed;
            self.took_pfn_lock(hold);
            self.activity.time_foreground += self.config.cost.fault_trap + hold;
        }
        self.emit(|| Event::PhysicalPagesFreed { pid, freed, unmapped });
        match error {
            Some(e) => Err(self.fail(pid, FREE, e)),
            None => Ok(OpValue::Count(freed)),
        }
    }

    /// Gives an unmapped AWE frame back: to the free list (its contents are
    /// not zero).
    fn release_awe_frame(&mut self, pid: ProcessId, f: Pfn) {
        self.processes[pid.0 as usize].awe.pages.remove(&f.0);
        self.pfn.unlink(f);
        let e = self.pfn.entry_mut(f);
        e.set_awe(false);
        e.set_modified(false);
        e.set_owner(None);
        e.set_backing(Backing::None);
        self.pfn.set_counts(f, 0, 0);
        self.pfn.push_tail(f, PageLocation::Free);
    }

    /// VirtualFree(MEM_RELEASE) of a window: its pages are unmapped, not
    /// freed (WRK MiRemoveUserPhysicalPagesVad). Returns 0 frames freed.
    pub(crate) fn release_awe_window(&mut self, pid: ProcessId, vad: &Vad) -> u64 {
        let mapped: Vec<Vpn> = self.processes[pid.0 as usize]
            .page_table
            .iter()
            .filter(|(v, _)| vad.contains(*v))
            .map(|(v, _)| v)
            .collect();
        for v in mapped {
            self.unmap_awe_page(pid, v);
        }
        0
    }

    /// At exit, after every window is released: frees every AWE page the
    /// process still owns (WRK MiCleanPhysicalProcessPages). Returns them.
    pub(crate) fn free_all_awe(&mut self, pid: ProcessId) -> u64 {
        let frames: Vec<u32> = self.processes[pid.0 as usize].awe.pages.keys().copied().collect();
        for &f in &frames {
            self.release_awe_frame(pid, Pfn(f));
        }
        frames.len() as u64
    }

    /// The AWE invariants of every process: each owned frame is active,
    /// AWE, owned by no other process, and mapped exactly where the process
    /// says (its PFN back-pointer and a valid AWE PTE agree); every AWE PTE
    /// lies in a window and maps a frame the process owns; every AWE frame
    /// in the database is owned by a live process.
    pub(crate) fn check_awe(&self) -> Result<(), String> {
        let mut owned = 0u64;
        for p in &self.processes {
            if p.exited && !p.awe.is_empty() {
                return Err(format!("{} exited but still owns {} AWE pages", p.name, p.awe.len()));
            }
            if p.awe.limit != 0 && p.awe.len() > p.awe.limit {
                return Err(format!("{} owns {} AWE pages, above its limit {}", p.name, p.awe.len(), p.awe.limit));
            }
            for (&f, &at) in &p.awe.pages {
                let pfn = Pfn(f);
                let e = self.pfn.entry(pfn);
                if !e.awe() || e.location() != PageLocation::Active {
                    return Err(format!("{pfn}, an AWE page of {}, is {:?} (awe {})", p.name, e.location(), e.awe()));
                }
                if e.owner() != at.map(|v| (p.id, v)) {
                    return Err(format!("{pfn} of {} is mapped at {at:?} but its PFN says {:?}", p.name, e.owner()));
                }
                if let Some(v) = at {
                    let pte = p.page_table.get(v);
                    if !pte.is_awe() || pte.pfn() != pfn {
                        return Err(format!("{pfn} of {} is mapped at {v} but that PTE is {}", p.name, pte.kind()));
                    }
                    if !p.vad_at(v).is_some_and(|vad| vad.kind == VadKind::Physical) {
                        return Err(format!("{} maps AWE page {pfn} at {v}, outside every AWE window", p.name));
                    }
                }
            }
            for (v, pte) in p.page_table.iter() {
                if pte.is_awe() && p.awe.pages.get(&pte.pfn().0) != Some(&Some(v)) {
                    return Err(format!(
                        "{}: AWE PTE at {v} maps {}, not one of its pages mapped there",
                        p.name,
                        pte.pfn()
                    ));
                }
                if let Some(vad) = p.vad_at(v) {
                    if vad.kind == VadKind::Physical && !pte.is_awe() && pte.kind() != PteKind::Zero {
                        return Err(format!("{}: page {v} of an AWE window has a {} PTE", p.name, pte.kind()));
                    }
                }
            }
            owned += p.awe.len();
        }
        let in_db = self.pfn.iter_stored().filter(|(_, e)| e.awe()).count() as u64;
        if in_db != owned {
            return Err(format!("{in_db} AWE frames in the PFN database but processes own {owned}"));
        }
        Ok(())
    }

    /// Frames of AWE pages, summed over every process.
    pub fn awe_frames(&self) -> u64 {
        self.processes.iter().map(|p| p.awe.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::{AccessKind, Op, Resolution};
    use crate::working_set::NEVER;

    const WINDOW: u64 = 0x100000;

    /// A machine of `frames` frames and a process holding the privilege,
    /// enabled if `enabled`, with an 8-page AWE window at [`WINDOW`].
    fn machine(frames: u64, enabled: bool) -> (Machine, ProcessId) {
        let mut c = MachineConfig::with_memory(Bytes(frames * 4096));
        c.numa_nodes = 2;
        let mut m = Machine::new(c).unwrap();
        m.set_recording(true);
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let OpValue::Process(p) = m.apply(&Op::create_process("db")).unwrap() else { panic!() };
        if enabled {
            m.apply(&Op::AdjustTokenPrivileges { pid: p, privilege: Privilege::LockMemory, enable: true }).unwrap();
        }
        let window = Op::ReservePhysical {
            pid: p,
            address: Some(WINDOW),
            size: 8 * 4096,
            protection: Protection::ReadWrite,
            commit: false,
        };
        assert_eq!(m.apply(&window), Ok(OpValue::Address(WINDOW)));
        (m, p)
    }

    fn error(r: Result<OpValue, OpError>) -> u32 {
        match r {
            Err(OpError::Win32 { error, .. }) => error.code(),
            other => panic!("expected a Win32 error, got {other:?}"),
        }
    }

    fn allocate(m: &mut Machine, pid: ProcessId, pages: u64) -> Vec<Pfn> {
        match m.apply(&Op::AllocatePhysical { pid, pages, node: None }) {
            Ok(OpValue::Frames(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    fn map(m: &mut Machine, pid: ProcessId, address: u64, frames: &[Pfn]) -> Result<OpValue, OpError> {
        m.apply(&Op::MapPhysical { pid, address, pages: frames.len() as u64, frames: Some(frames.to_vec()) })
    }

    #[test]
    fn every_error_of_the_awe_window() {
        let (mut m, p) = machine(64, true);
        let reserve =
            |protection, commit| Op::ReservePhysical { pid: p, address: None, size: 4 * 4096, protection, commit };
        assert_eq!(error(m.apply(&reserve(Protection::ReadOnly, false))), 87, "PAGE_READWRITE only");
        assert_eq!(error(m.apply(&reserve(Protection::ReadWrite, true))), 87, "no MEM_COMMIT");
        assert!(m.apply(&reserve(Protection::ReadWrite, false)).is_ok());
        // The window is never committed: commit inside it is refused, and a
        // reference with nothing mapped is an access violation.
        let commit = Op::Commit { pid: p, address: WINDOW, size: 4096, protection: Protection::ReadWrite };
        assert_eq!(error(m.apply(&commit)), 487);
        let r = m.access(p, WINDOW, AccessKind::Read, None, NEVER);
        assert!(matches!(r, Err(OpError::AccessViolation { .. })), "{r:?}");
        assert_eq!(m.snapshot().commit_charge, 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn every_error_of_allocate_user_physical_pages() {
        let (mut m, p) = machine(64, false);
        assert_eq!(error(m.apply(&Op::AllocatePhysical { pid: p, pages: 4, node: None })), 1314, "not enabled");
        let (mut m, p) = machine(64, true);
        assert_eq!(allocate(&mut m, p, 0), vec![], "asking for none succeeds with none");
        // Fewer than asked: the call says how many.
        let got = allocate(&mut m, p, 100);
        assert_eq!(got.len(), 64, "every frame, and no more");
        assert_eq!(m.snapshot().available, 0);
        assert_eq!(error(m.apply(&Op::AllocatePhysical { pid: p, pages: 1, node: None })), 1450, "none at all");
        assert_eq!(m.process(p).unwrap().last_error, 1450);
        m.apply(&Op::FreePhysical { pid: p, frames: got }).unwrap();
        // A job's limit: a request beyond it is cut to it; at it, 1455.
        m.apply(&Op::SetPhysicalLimit { pid: p, pages: 10 }).unwrap();
        assert_eq!(allocate(&mut m, p, 8).len(), 8);
        assert_eq!(allocate(&mut m, p, 8).len(), 2, "cut to the limit");
        assert_eq!(error(m.apply(&Op::AllocatePhysical { pid: p, pages: 1, node: None })), 1455);
        m.check_invariants().unwrap();
    }

    #[test]
    fn awe_pages_are_zeroed_locked_owned_and_in_no_working_set() {
        let (mut m, p) = machine(64, true);
        let frames = allocate(&mut m, p, 4);
        let proc_ = m.process(p).unwrap();
        assert_eq!((proc_.ws.len(), proc_.awe.len(), proc_.awe.mapped()), (0, 4, 0));
        for &f in &frames {
            let e = m.pfn_db().entry(f);
            assert!(e.awe() && e.pinned() && e.location() == PageLocation::Active && e.owner().is_none());
        }
        assert_eq!(m.snapshot().lists.active, 4);
        // The PFN lock once for the batch; the working-set lock not at all.
        let a = m.counters().activity;
        assert_eq!((a.pfn_lock, a.ws_lock), (1, 0));
        let c = &m.config().cost;
        assert_eq!(a.pfn_lock_held, c.pfn_lock_hold + c.batch_page * 4);
        // Mapped, references hit: no fault, no working-set entry.
        map(&mut m, p, WINDOW, &frames).unwrap();
        assert_eq!(m.counters().activity.ws_lock, 1, "the working-set lock once for the call");
        for i in 0..4 {
            assert_eq!(m.access(p, WINDOW + i * 4096, AccessKind::Write, None, NEVER), Ok(Resolution::Hit));
        }
        assert_eq!(m.counters().paging.faults(), 0);
        // Trimming never takes them.
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        m.apply(&Op::SetWorkingSetSize { pid: p, limits: None }).unwrap();
        assert_eq!(m.process(p).unwrap().awe.mapped(), 4);
        m.check_invariants().unwrap();
    }

    #[test]
    fn every_error_of_map_user_physical_pages_and_a_failure_maps_nothing() {
        let (mut m, p) = machine(64, true);
        let frames = allocate(&mut m, p, 4);
        // Outside the window, or running past its end: 87.
        assert_eq!(error(map(&mut m, p, 0x200000, &frames)), 87);
        assert_eq!(error(map(&mut m, p, WINDOW + 6 * 4096, &frames)), 87, "8-page window, pages 6..10");
        // A frame the process does not own: 487.
        let free_frame = (0..64).map(Pfn).find(|f| !frames.contains(f)).unwrap();
        assert_eq!(error(map(&mut m, p, WINDOW, &[frames[0], free_frame])), 487);
        // Listed twice: 87.
        assert_eq!(error(map(&mut m, p, WINDOW, &[frames[0], frames[0]])), 87);
        assert_eq!(m.process(p).unwrap().awe.mapped(), 0, "the failed calls mapped nothing");
        // Mapped already (anywhere): 87.
        map(&mut m, p, WINDOW, &frames[..2]).unwrap();
        assert_eq!(error(map(&mut m, p, WINDOW + 4 * 4096, &frames[1..3])), 87);
        assert_eq!(m.process(p).unwrap().awe.mapped(), 2, "still only the first two");
        assert_eq!(m.pte(p, Vpn::containing(WINDOW + 4 * 4096)).unwrap(), Pte::ZERO);
        m.check_invariants().unwrap();
    }

    #[test]
    fn remap_unmap_scatter_and_free() {
        let (mut m, p) = machine(64, true);
        let f = allocate(&mut m, p, 4);
        map(&mut m, p, WINDOW, &f[..2]).unwrap();
        // Mapping other pages over mapped addresses replaces them: the old
        // pages are unmapped, not freed.
        map(&mut m, p, WINDOW, &f[2..]).unwrap();
        let a = &m.process(p).unwrap().awe;
        assert_eq!((a.len(), a.mapped()), (4, 2));
        assert_eq!(m.frame_of(p, Vpn::containing(WINDOW)), Some(f[2]));
        // The first pages can go elsewhere now.
        map(&mut m, p, WINDOW + 5 * 4096, &f[..2]).unwrap();
        // NULL unmaps without freeing.
        m.apply(&Op::MapPhysical { pid: p, address: WINDOW, pages: 2, frames: None }).unwrap();
        let a = &m.process(p).unwrap().awe;
        assert_eq!((a.len(), a.mapped()), (4, 2));
        assert!(m.access(p, WINDOW, AccessKind::Read, None, NEVER).is_err());
        // Scatter: one address per page, anywhere in windows.
        let scatter =
            |addresses: Vec<u64>, frames: Option<Vec<Pfn>>| Op::MapPhysicalScatter { pid: p, addresses, frames };
        m.apply(&scatter(vec![WINDOW + 7 * 4096, WINDOW + 3 * 4096], Some(vec![f[2], f[3]]))).unwrap();
        assert_eq!(m.frame_of(p, Vpn::containing(WINDOW + 3 * 4096)), Some(f[3]));
        assert_eq!(error(m.apply(&scatter(vec![0x900000], Some(vec![f[2]])))), 87, "outside every window");
        m.apply(&scatter(vec![WINDOW + 7 * 4096], None)).unwrap();
        assert_eq!(m.process(p).unwrap().awe.mapped(), 3);
        m.check_invariants().unwrap();
        // Free stops at the first frame not owned, having freed those before.
        let stranger = (0..64).map(Pfn).find(|x| !f.contains(x)).unwrap();
        let r = m.apply(&Op::FreePhysical { pid: p, frames: vec![f[0], stranger, f[1]] });
        assert_eq!(error(r), 487);
        assert_eq!(m.process(p).unwrap().awe.len(), 3, "f[0] was freed, f[1] was not");
        assert_eq!(error(m.apply(&Op::FreePhysical { pid: p, frames: vec![] })), 87);
        assert_eq!(m.apply(&Op::FreePhysical { pid: p, frames: f[1..].to_vec() }), Ok(OpValue::Count(3)));
        assert_eq!(m.snapshot().lists.active, 0);
        assert_eq!(m.pte(p, Vpn::containing(WINDOW + 5 * 4096 + 4096)).unwrap(), Pte::ZERO, "freed pages are unmapped");
        m.check_invariants().unwrap();
    }

    #[test]
    fn releasing_the_window_keeps_the_pages_and_exit_frees_them() {
        let (mut m, p) = machine(64, true);
        let f = allocate(&mut m, p, 6);
        map(&mut m, p, WINDOW, &f).unwrap();
        m.apply(&Op::Release { pid: p, address: WINDOW }).unwrap();
        let a = &m.process(p).unwrap().awe;
        assert_eq!((a.len(), a.mapped()), (6, 0));
        m.check_invariants().unwrap();
        m.apply(&Op::Exit { pid: p }).unwrap();
        let s = m.snapshot();
        assert_eq!((s.lists.active, s.available), (0, 64));
        m.check_invariants().unwrap();
    }

    #[test]
    fn the_numa_variant_takes_the_preferred_node_first_then_the_other() {
        let (mut m, p) = machine(64, true);
        let r = m.apply(&Op::AllocatePhysical { pid: p, pages: 40, node: Some(1) });
        let Ok(OpValue::Frames(f)) = r else { panic!("{r:?}") };
        let on = |n| f.iter().filter(|&&x| m.pfn_db().node_of(x) == n).count();
        assert_eq!((on(1), on(0)), (32, 8), "node 1's 32 frames, then 8 of node 0's");
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_fault_under_pressure_never_takes_awe_pages() {
        let (mut m, p) = machine(64, true);
        allocate(&mut m, p, 60);
        let OpValue::Process(q) = m.apply(&Op::create_process("q")).unwrap() else { panic!() };
        m.apply(&Op::Reserve {
            pid: q,
            address: None,
            size: 16 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        // Four frames are left; the fifth fault finds nothing to trim or write.
        for i in 0..4 {
            m.access(q, 0x10000 + i * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        let r = m.access(q, 0x10000 + 4 * 4096, AccessKind::Write, None, NEVER);
        assert!(r.is_ok(), "the process's own pages are trimmed for it: {r:?}");
        assert_eq!(m.process(p).unwrap().awe.len(), 60);
        m.check_invariants().unwrap();
    }
}
