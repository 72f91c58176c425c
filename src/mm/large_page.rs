//! Large pages: `VirtualAlloc(MEM_LARGE_PAGES | MEM_RESERVE | MEM_COMMIT)`.
//!
//! A large page is mapped by one page-directory entry instead of 512 PTEs,
//! so its frames must be physically contiguous and aligned to its size
//! (MODEL.md s5): 2 MiB on x64, 4 MiB on x86 without PAE;
//! `GetLargePageMinimum` returns that size, or 0 where large pages are not
//! supported. What makes them different from every other page:
//!
//! - they need SeLockMemoryPrivilege, held and enabled ([`crate::token`]),
//!   else ERROR_PRIVILEGE_NOT_HELD (1314);
//! - size and address must be multiples of the minimum and the call must
//!   commit as it reserves, else ERROR_INVALID_PARAMETER (87);
//! - the frames are taken **up front**, all or nothing, zeroed: a large
//!   page is never demand-zero and never paged; none is on a page list or
//!   in the working set while it is allocated (it is counted in commit and
//!   private bytes);
//! - when no aligned region is entirely free the call fails with
//!   ERROR_NO_SYSTEM_RESOURCES (1450), however much memory is free in
//!   pieces.
//!
//! This module finds regions through the [`crate::contiguity`] index and
//! takes only entirely free ones. The allocators of the three eras of
//! Windows (repurposing standby pages, writing modified ones, moving active
//! pages to empty a region) build on the same index.

use serde::Serialize;

use crate::contiguity::Category;
use crate::event::Event;
use crate::machine::{Machine, OpError, OpValue, Resolution};
use crate::pfn_db::PageLocation;
use crate::process::{Vad, VadKind};
use crate::pte::{Protection, Pte, PteKind};
use crate::token::Privilege;
use crate::units::{PageFileSlot, Pfn, ProcessId, SimNanos, Vpn, PAGE_SIZE};
use crate::win32::Win32Error;

/// The size of a large page: a power of two number of 4 KiB frames, kept
/// apart from small pages in the type so no bare frame count crosses a
/// module boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LargePageSize {
    /// log2 of the size in bytes.
    shift: u32,
}

impl LargePageSize {
    /// 2 MiB: a page-directory entry on x64 (and x86 with PAE) maps it.
    pub const X64: LargePageSize = LargePageSize { shift: 21 };
    /// 4 MiB: a page-directory entry on x86 without PAE maps it.
    pub const X86: LargePageSize = LargePageSize { shift: 22 };

    /// Bytes (what `GetLargePageMinimum` returns).
    pub fn bytes(self) -> u64 {
        1 << self.shift
    }

    /// 4 KiB frames in one large page.
    pub fn frames(self) -> u32 {
        1 << (self.shift - crate::units::PAGE_SHIFT)
    }
}

impl Machine {
    /// `GetLargePageMinimum`: the large-page size, or 0 when the machine
    /// does not support large pages.
    pub fn large_page_minimum(&self) -> u64 {
        self.config.large_page_size().map_or(0, |s| s.bytes())
    }

    /// `VirtualAlloc(MEM_LARGE_PAGES | MEM_RESERVE | MEM_COMMIT)`.
    pub(crate) fn allocate_large(
        &mut self,
        pid: ProcessId,
        address: Option<u64>,
        size: u64,
        protection: Protection,
        commit: bool,
    ) -> Result<OpValue, OpError> {
        const CALL: &str = "VirtualAlloc(MEM_LARGE_PAGES)";
        // The checks in the order NtAllocateVirtualMemory makes them (WRK
        // `allocvm.c`; MODEL.md s5).
        let Some(large) = self.config.large_page_size() else {
            return Err(self.fail(pid, CALL, Win32Error::NotSupported));
        };
        let bytes = large.bytes();
        let bad_protection =
            matches!(protection, Protection::NoAccess | Protection::WriteCopy | Protection::ExecuteWriteCopy);
        if !commit || size == 0 || size % bytes != 0 || address.is_some_and(|a| a % bytes != 0) || bad_protection {
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        }
        if !self.processes[pid.0 as usize].token.has_enabled(Privilege::LockMemory) {
            return Err(self.fail(pid, CALL, Win32Error::PrivilegeNotHeld));
        }
        let pages = size / PAGE_SIZE;
        if self.commit_charge + pages > self.commit_limit {
            return Err(self.fail(pid, CALL, Win32Error::CommitmentLimit));
        }
        let count = size / bytes;
        // All or nothing: enough entirely free regions, or no frame taken.
        // The address is a multiple of the large-page size (checked above),
        // so the rounding to the allocation granularity leaves it alone.
        let (start, _) = self.place_range(pid, CALL, address, size, large.frames() as u64)?;
        let free = self.pfn.contiguity().expect("machines with large pages keep the index").free_count();
        let Some((regions, stale)) = self.obtain_regions(count) else {
            self.emit(|| Event::LargePagesUnavailable { pid, wanted: count, free_regions: free });
            return Err(self.fail(pid, CALL, Win32Error::NoSystemResources));
        };
        self.processes[pid.0 as usize]
            .vads
            .insert(start.0, Vad { start, pages, kind: VadKind::Private, protection, mem_commit: true, large: true });
        self.commit_charge += pages;
        self.processes[pid.0 as usize].commit += pages;
        let per = large.frames() as u64;
        let zeroed_now = stale;
        for (k, &r) in regions.iter().enumerate() {
            self.map_large(pid, start.offset(k as u64 * per), r, protection);
        }
        self.activity.zeroed_in_fault += zeroed_now;
        self.activity.time_foreground += self.config.cost.zero_page * zeroed_now;
        self.emit(|| Event::LargePagesAllocated {
            pid,
            start,
            count,
            frames: regions.iter().map(|&r| Pfn(r * large.frames())).collect(),
            zeroed: zeroed_now,
        });
        Ok(OpValue::Address(start.address()))
    }
}

impl Machine {
    /// Maps the claimed region `r` (its frames on no list, owned by
    /// nobody) as one large page at `start`.
    fn map_large(&mut self, pid: ProcessId, start: Vpn, r: u32, protection: Protection) {
        let per = self.config.large_page_size().expect("a machine with large pages").frames();
        let first = Pfn(r * per);
        self.pfn.activate_large_run(first, per, pid, start, protection.writable());
        // Never paged, so never cleaned: a writable large page is mapped
        // dirty and is never taken back to make it clean. One leaf table
        // per 512 pages, written whole.
        let pt = &mut self.processes[pid.0 as usize].page_table;
        for leaf in 0..per / 512 {
            let base = leaf * 512;
            pt.set_leaf(start.offset(base as u64), |i| Pte::large(Pfn(first.0 + base + i as u32), protection));
        }
        debug_assert_eq!(
            self.pfn.contiguity().map(|c| c.region(r).get(Category::Unmovable) as u32),
            Some(per),
            "the region is now one large page"
        );
        self.processes[pid.0 as usize].large_frames += per as u64;
    }

    /// Frees every large page of a large-page VAD: a resident one's frames
    /// go to the free list in one splice and its leaf table is cleared
    /// whole; a paged-out one's page-file copies are freed. Returns the
    /// frames freed; the VAD's whole charge is returned.
    pub(crate) fn release_large_vad(&mut self, pid: ProcessId, vad: &Vad) -> u64 {
        let per = self.config.large_page_size().expect("a machine with large pages").frames() as u64;
        let mut freed = 0;
        for k in 0..vad.pages / per {
            let start = vad.start.offset(k * per);
            if self.processes[pid.0 as usize].large_out.contains(&start.0) {
                for i in 0..per {
                    self.discard_page(pid, start.offset(i));
                    self.processes[pid.0 as usize].page_table.set(start.offset(i), Pte::ZERO);
                }
                continue;
            }
            let first = self.processes[pid.0 as usize].page_table.get(start).pfn();
            self.pfn.free_large_run(first, per as u32);
            let p = &mut self.processes[pid.0 as usize];
            p.large_frames -= per;
            for leaf in 0..per / 512 {
                p.page_table.set_leaf(start.offset(leaf * 512), |_| Pte::ZERO);
            }
            freed += per;
        }
        let p = &mut self.processes[pid.0 as usize];
        p.commit -= vad.pages;
        self.commit_charge -= vad.pages;
        freed
    }

    /// The `page_out_large` experiment: what paging a large page would
    /// cost if Windows did it (it does not: large pages are never paged,
    /// MODEL.md s5). The large page holding `address` is written to the
    /// page file in one I/O of 512 pages, 512 times the transfer of a small
    /// page, and its frames go to the free list, where other allocations
    /// are free to take them. A reference to it then needs an aligned
    /// region of free frames again (the era's allocator may empty one), or
    /// fails with [`OpError::LargePageLost`].
    pub(crate) fn page_out_large(&mut self, pid: ProcessId, address: u64) -> Result<OpValue, OpError> {
        const CALL: &str = "page_out_large";
        let Some(size) = self.config.large_page_size() else {
            return Err(self.fail(pid, CALL, Win32Error::NotSupported));
        };
        let per = size.frames() as u64;
        let vpn = Vpn::containing(address);
        let p = &self.processes[pid.0 as usize];
        let Some(vad) = p.vad_at(vpn).copied().filter(|v| v.large) else {
            return Err(self.fail(pid, CALL, Win32Error::InvalidAddress));
        };
        let start = vad.start.offset((vpn.0 - vad.start.0) / per * per);
        if p.large_out.contains(&start.0) {
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        }
        if (self.pagefile.capacity() - self.pagefile.used()) < per as u32 {
            return Err(self.fail(pid, CALL, Win32Error::CommitmentLimit));
        }
        let prot = vad.protection;
        let mut written = 0;
        while written < per {
            let (slot, n) = self.pagefile.allocate_run((per - written) as u32).expect("free slots checked");
            for j in 0..n as u64 {
                let v = start.offset(written + j);
                let pfn = self.processes[pid.0 as usize].page_table.get(v).pfn();
                self.pfn.unlink(pfn);
                let e = self.pfn.entry_mut(pfn);
                e.set_large(false);
                e.set_modified(false);
                e.set_owner(None);
                self.pfn.set_counts(pfn, 0, 0);
                self.pfn.push_tail(pfn, PageLocation::Free);
                let pte = Pte::page_file(PageFileSlot(slot.0 + j as u32), prot);
                self.processes[pid.0 as usize].page_table.set(v, pte);
            }
            written += n as u64;
        }
        let p = &mut self.processes[pid.0 as usize];
        p.large_frames -= per;
        p.large_out.insert(start.0);
        let time = self.config.cost.io(per);
        self.activity.io_writes += 1;
        self.activity.pages_written_pagefile += per;
        self.activity.time_foreground += time;
        self.emit(|| Event::LargePagePagedOut { pid, start, pages: per, time });
        Ok(OpValue::None)
    }

    /// Whether `vpn` is in a large page the experiment paged out.
    pub(crate) fn in_large_out(&self, pid: ProcessId, vpn: Vpn) -> bool {
        let p = &self.processes[pid.0 as usize];
        let Some(size) = self.config.large_page_size() else { return false };
        p.vad_at(vpn).filter(|v| v.large).is_some_and(|v| {
            let per = size.frames() as u64;
            p.large_out.contains(&(v.start.0 + (vpn.0 - v.start.0) / per * per))
        })
    }

    /// A reference to a paged-out large page: it comes back whole, into an
    /// aligned region the era's allocator finds or empties, with one read
    /// of 512 pages; or it cannot come back at all.
    pub(crate) fn page_in_large(&mut self, pid: ProcessId, vpn: Vpn, address: u64) -> Result<Resolution, OpError> {
        let per = self.config.large_page_size().expect("large pages were paged out").frames();
        let vad = self.processes[pid.0 as usize].vad_at(vpn).copied().expect("in a large-page VAD");
        let start = vad.start.offset((vpn.0 - vad.start.0) / per as u64 * per as u64);
        let before = self.activity.time_foreground;
        let Some((regions, _)) = self.obtain_regions(1) else {
            let frames = per;
            self.emit(|| Event::LargePageLost { pid, start, frames });
            return Err(OpError::LargePageLost { address, frames: per });
        };
        for i in 0..per as u64 {
            if let PteKind::PageFile { slot, .. } =
                self.processes[pid.0 as usize].page_table.get(start.offset(i)).kind()
            {
                self.pagefile.free(slot);
            }
        }
        self.map_large(pid, start, regions[0], vad.protection);
        self.processes[pid.0 as usize].large_out.remove(&start.0);
        self.activity.io_reads += 1;
        self.activity.pages_read += per as u64;
        self.activity.time_foreground += self.config.cost.fault_trap + self.config.cost.io(per as u64);
        let time = SimNanos(self.activity.time_foreground.0 - before.0);
        self.processes[pid.0 as usize].counters.paging.hard_pagefile += 1;
        let frame = Pfn(regions[0] * per);
        self.emit(|| Event::LargePagePagedIn { pid, start, frame, time });
        Ok(Resolution::HardPageFile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::Op;
    use crate::units::{Bytes, Vpn};

    const MIB2: u64 = 2 << 20;

    /// A machine of `mib` MiB and a process holding the privilege, enabled
    /// if `enabled`.
    fn machine(mib: u64, enabled: bool) -> (Machine, ProcessId) {
        let mut m = Machine::new(MachineConfig::with_memory(Bytes(mib << 20))).unwrap();
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let create = Op::CreateProcess {
            name: "p".into(),
            ws_min: None,
            ws_max: Some(16),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).unwrap() else { panic!() };
        if enabled {
            m.apply(&Op::AdjustTokenPrivileges { pid: p, privilege: Privilege::LockMemory, enable: true }).unwrap();
        }
        (m, p)
    }

    fn alloc(
        m: &mut Machine,
        pid: ProcessId,
        address: Option<u64>,
        size: u64,
        commit: bool,
    ) -> Result<OpValue, OpError> {
        m.apply(&Op::AllocateLarge { pid, address, size, protection: Protection::ReadWrite, commit })
    }

    fn error(r: Result<OpValue, OpError>) -> u32 {
        match r {
            Err(OpError::Win32 { error, .. }) => error.code(),
            other => panic!("expected a Win32 error, got {other:?}"),
        }
    }

    #[test]
    fn every_error_of_virtualalloc_mem_large_pages() {
        let (mut m, p) = machine(16, true);
        assert_eq!(error(alloc(&mut m, p, None, MIB2, false)), 87, "MEM_COMMIT is required");
        assert_eq!(error(alloc(&mut m, p, None, MIB2 + 4096, true)), 87, "size a multiple of the minimum");
        assert_eq!(error(alloc(&mut m, p, Some(0x30_0000), MIB2, true)), 87, "address a multiple of the minimum");
        assert_eq!(error(alloc(&mut m, p, None, 10 * MIB2, true)), 1450, "8 regions, 10 wanted");
        assert_eq!(m.process(p).unwrap().last_error, 1450);
        let (mut m2, q) = machine(16, false);
        assert_eq!(error(alloc(&mut m2, q, None, MIB2, true)), 1314, "held but not enabled");
        let mut cfg = MachineConfig::with_memory(Bytes(16 << 20));
        cfg.large_pages = false;
        let mut m3 = Machine::new(cfg).unwrap();
        assert_eq!(m3.large_page_minimum(), 0);
        let OpValue::Process(r) = m3.apply(&Op::create_process("p")).unwrap() else { panic!() };
        assert_eq!(error(alloc(&mut m3, r, None, MIB2, true)), 50, "no large-page support");
        for m in [&m, &m2, &m3] {
            m.check_invariants().unwrap();
        }
        // Nothing was taken by any failed call: all or nothing.
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 8);
    }

    #[test]
    fn a_large_page_is_aligned_contiguous_resident_and_in_no_working_set() {
        let (mut m, p) = machine(16, true);
        let OpValue::Address(a) = alloc(&mut m, p, None, 2 * MIB2, true).unwrap() else { panic!() };
        assert_eq!(a % MIB2, 0);
        let proc_ = m.process(p).unwrap();
        assert_eq!(proc_.ws.len(), 0);
        assert_eq!(proc_.large_frames, 1024);
        assert_eq!(proc_.commit, 1024);
        let first = m.pte(p, Vpn::containing(a)).unwrap().pfn();
        assert_eq!(first.0 % 512, 0);
        for i in 0..1024u64 {
            let pte = m.pte(p, Vpn::containing(a).offset(i)).unwrap();
            assert!(pte.is_large() && pte.pfn().0 == first.0 + i as u32);
            let e = m.pfn_db().entry(pte.pfn());
            assert!(e.large() && e.location() == PageLocation::Active);
        }
        // References hit; trimming and memory pressure never take them.
        assert_eq!(
            m.access(p, a + 5 * 4096, crate::machine::AccessKind::Write, None, crate::working_set::NEVER),
            Ok(crate::machine::Resolution::Hit)
        );
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        assert_eq!(m.process(p).unwrap().large_frames, 1024);
        // A decommit is refused; a release frees every frame.
        assert_eq!(error(m.apply(&Op::Decommit { pid: p, address: a, size: 4096 })), 87);
        m.check_invariants().unwrap();
        m.apply(&Op::Release { pid: p, address: a }).unwrap();
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 8);
        assert_eq!(m.snapshot().commit_charge, 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn exit_frees_the_large_pages_of_a_process() {
        let (mut m, p) = machine(8, true);
        alloc(&mut m, p, None, 3 * MIB2, true).unwrap();
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 1);
        m.apply(&Op::Exit { pid: p }).unwrap();
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 4);
        assert_eq!(m.pfn_db().counts().active, 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_paged_out_large_page_comes_back_whole_or_not_at_all() {
        let (mut m, p) = machine(8, true);
        let OpValue::Address(a) = alloc(&mut m, p, None, MIB2, true).unwrap() else { panic!() };
        m.access(p, a, crate::machine::AccessKind::Write, None, crate::working_set::NEVER).unwrap();
        m.apply(&Op::PageOutLarge { pid: p, address: a + 4096 }).unwrap();
        let c = m.counters().activity;
        assert_eq!((c.io_writes, c.pages_written_pagefile), (1, 512));
        assert_eq!(m.process(p).unwrap().large_frames, 0);
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 4);
        assert_eq!(error(m.apply(&Op::PageOutLarge { pid: p, address: a })), 87, "already out");
        m.check_invariants().unwrap();
        // Back in whole on the next reference: one read of 512 pages.
        let r = m.access(p, a + 8192, crate::machine::AccessKind::Read, None, crate::working_set::NEVER);
        assert_eq!(r, Ok(crate::machine::Resolution::HardPageFile));
        assert_eq!((m.counters().activity.io_reads, m.counters().activity.pages_read), (1, 512));
        assert_eq!(m.process(p).unwrap().large_frames, 512);
        assert!(m.pte(p, Vpn::containing(a + 8192)).unwrap().is_large());
        assert_eq!(m.pagefile_usage().0, 0, "its page-file copy is freed");
        m.check_invariants().unwrap();
        // Out again, and every region taken by another large page: lost.
        m.apply(&Op::PageOutLarge { pid: p, address: a }).unwrap();
        alloc(&mut m, p, None, 4 * MIB2, true).unwrap();
        let r = m.access(p, a, crate::machine::AccessKind::Read, None, crate::working_set::NEVER);
        assert!(matches!(r, Err(OpError::LargePageLost { .. })), "{r:?}");
        m.check_invariants().unwrap();
        // Releasing it frees its page-file copy.
        m.apply(&Op::Release { pid: p, address: a }).unwrap();
        assert_eq!(m.pagefile_usage().0, 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn the_nt_x86_layout_has_4_mib_large_pages() {
        let mut cfg = MachineConfig::with_memory(Bytes(16 << 20));
        cfg.layout = crate::config::Layout::Nt31;
        let m = Machine::new(cfg).unwrap();
        assert_eq!(m.large_page_minimum(), 4 << 20);
        assert_eq!(m.pfn_db().contiguity().unwrap().free_count(), 4);
    }

    #[test]
    fn large_page_sizes_are_2_and_4_mib() {
        assert_eq!(LargePageSize::X64.bytes(), 2 << 20);
        assert_eq!(LargePageSize::X64.frames(), 512);
        assert_eq!(LargePageSize::X86.bytes(), 4 << 20);
        assert_eq!(LargePageSize::X86.frames(), 1024);
    }
}
