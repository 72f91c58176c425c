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
use crate::machine::{Machine, OpError, OpValue};
use crate::pfn_db::PageLocation;
use crate::process::{Vad, VadKind};
use crate::pte::{Protection, Pte};
use crate::token::Privilege;
use crate::units::{Pfn, ProcessId, PAGE_SIZE};
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
            let first = Pfn(r * large.frames());
            for i in 0..per {
                let pfn = Pfn(first.0 + i as u32);
                let vpn = start.offset(k as u64 * per + i);
                // Claimed by obtain_regions: on no list, owned by nobody.
                let e = self.pfn.entry_mut(pfn);
                e.set_owner(Some((pid, vpn)));
                e.set_large(true);
                e.set_modified(protection.writable());
                self.pfn.set_counts(pfn, 1, 1);
                self.pfn.push_tail(pfn, PageLocation::Active);
                // Never paged, so never cleaned: a writable large page is
                // mapped dirty and is never taken back to make it clean.
                let pte = Pte::large(pfn, protection);
                self.processes[pid.0 as usize].page_table.set(vpn, pte);
            }
            debug_assert_eq!(
                self.pfn.contiguity().map(|c| c.region(r).get(Category::Unmovable) as u64),
                Some(per),
                "the region is now one large page"
            );
        }
        self.processes[pid.0 as usize].large_frames += pages;
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
        let OpValue::Process(r) = m3
            .apply(&Op::CreateProcess {
                name: "p".into(),
                ws_min: None,
                ws_max: None,
                hard_max: None,
                policy: None,
                node: 0,
                auto_commit: false,
            })
            .unwrap()
        else {
            panic!()
        };
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
