//! QueryWorkingSetEx: what a process can learn about one of its pages,
//! as the PSAPI_WORKING_SET_EX_BLOCK the call fills in (MODEL.md s7; Docs,
//! PSAPI_WORKING_SET_EX_BLOCK): bit 0 Valid, bits 1-3 ShareCount (at most
//! 7), bits 4-14 Win32Protection, bit 15 Shared, bits 16-21 Node, bit 22
//! Locked, bit 23 LargePage, bit 31 Bad.
//!
//! A valid page reports its frame's node and its protection as a PAGE_*
//! constant. Locked is set for pages VirtualLock locked in the working set
//! and for AWE and large pages, which are never paged (pagelab's reading:
//! the documentation says only "locked in physical memory"). An invalid
//! page reads as zero: Valid 0, no node (the invalid form of the block has
//! only Shared and Bad, and no page here is shared or bad).

use serde::Serialize;

use crate::machine::Machine;
use crate::pte::Protection;
use crate::units::{ProcessId, Vpn};

/// One PSAPI_WORKING_SET_EX_BLOCK, bit for bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct WorkingSetExBlock(pub u64);

impl WorkingSetExBlock {
    const VALID: u64 = 1 << 0;
    const SHARE_SHIFT: u32 = 1;
    const PROTECTION_SHIFT: u32 = 4;
    const SHARED: u64 = 1 << 15;
    const NODE_SHIFT: u32 = 16;
    const LOCKED: u64 = 1 << 22;
    const LARGE: u64 = 1 << 23;
    const BAD: u64 = 1 << 31;

    /// Bit 0: the page is valid (resident and mapped); the other fields
    /// mean something only then.
    pub fn valid(self) -> bool {
        self.0 & Self::VALID != 0
    }
    /// Bits 1-3: how many processes share the page (at most 7).
    pub fn share_count(self) -> u8 {
        ((self.0 >> Self::SHARE_SHIFT) & 0x7) as u8
    }
    /// Bits 4-14: the protection, a PAGE_* constant.
    pub fn win32_protection(self) -> u32 {
        ((self.0 >> Self::PROTECTION_SHIFT) & 0x7ff) as u32
    }
    /// Bit 15: the page can be shared.
    pub fn shared(self) -> bool {
        self.0 & Self::SHARED != 0
    }
    /// Bits 16-21: the NUMA node of the frame.
    pub fn node(self) -> u8 {
        ((self.0 >> Self::NODE_SHIFT) & 0x3f) as u8
    }
    /// Bit 22: locked in physical memory.
    pub fn locked(self) -> bool {
        self.0 & Self::LOCKED != 0
    }
    /// Bit 23: part of a large page.
    pub fn large_page(self) -> bool {
        self.0 & Self::LARGE != 0
    }
    /// Bit 31: the frame is bad.
    pub fn bad(self) -> bool {
        self.0 & Self::BAD != 0
    }

    /// The block of a valid page.
    fn of_valid(share_count: u8, protection: Protection, node: u8, locked: bool, large: bool) -> WorkingSetExBlock {
        let mut v = Self::VALID
            | ((share_count.min(7) as u64) << Self::SHARE_SHIFT)
            | ((win32_protection(protection) as u64) << Self::PROTECTION_SHIFT)
            | (((node & 0x3f) as u64) << Self::NODE_SHIFT);
        if locked {
            v |= Self::LOCKED;
        }
        if large {
            v |= Self::LARGE;
        }
        WorkingSetExBlock(v)
    }
}

impl std::fmt::Display for WorkingSetExBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.valid() {
            return write!(f, "0x{:x} (not valid)", self.0);
        }
        write!(
            f,
            "0x{:x} (valid, share {}, protection 0x{:x}, node {}{}{})",
            self.0,
            self.share_count(),
            self.win32_protection(),
            self.node(),
            if self.locked() { ", locked" } else { "" },
            if self.large_page() { ", large page" } else { "" }
        )
    }
}

/// The PAGE_* constant of a protection (Docs, Memory Protection Constants).
pub fn win32_protection(p: Protection) -> u32 {
    match p {
        Protection::NoAccess => 0x01,
        Protection::ReadOnly => 0x02,
        Protection::ReadWrite => 0x04,
        Protection::WriteCopy => 0x08,
        Protection::Execute => 0x10,
        Protection::ExecuteRead => 0x20,
        Protection::ExecuteReadWrite => 0x40,
        Protection::ExecuteWriteCopy => 0x80,
    }
}

impl Machine {
    /// QueryWorkingSetEx for one address of `pid` (a process that does not
    /// exist reads as an invalid page). Changes nothing.
    pub fn query_working_set_ex(&self, pid: ProcessId, address: u64) -> WorkingSetExBlock {
        let vpn = Vpn::containing(address);
        let Some(p) = self.process(pid) else { return WorkingSetExBlock::default() };
        let pte = p.page_table.get(vpn);
        if !pte.is_valid() {
            return WorkingSetExBlock::default();
        }
        let pfn = pte.pfn();
        let protection = pte.protection().unwrap_or(Protection::ReadWrite);
        let in_ws_locked = pte.in_working_set() && p.ws.is_locked(self.pfn.entry(pfn).ws_index());
        let locked = in_ws_locked || pte.is_awe() || pte.is_large();
        WorkingSetExBlock::of_valid(1, protection, self.pfn.node_of(pfn), locked, pte.is_large())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::{AccessKind, Op, OpValue};
    use crate::token::Privilege;
    use crate::units::Bytes;
    use crate::working_set::NEVER;

    #[test]
    fn the_block_has_the_documented_bit_layout() {
        let b = WorkingSetExBlock::of_valid(9, Protection::ReadWrite, 5, true, true);
        assert_eq!(b.0, 1 | (7 << 1) | (0x04 << 4) | (5 << 16) | (1 << 22) | (1 << 23));
        assert!(b.valid() && b.locked() && b.large_page() && !b.shared() && !b.bad());
        assert_eq!((b.share_count(), b.win32_protection(), b.node()), (7, 0x04, 5), "share count saturates at 7");
        assert_eq!(
            WorkingSetExBlock::of_valid(1, Protection::ExecuteRead, 0, false, false).0,
            1 | (1 << 1) | (0x20 << 4)
        );
    }

    #[test]
    fn regular_awe_and_large_pages_report_what_their_pfn_entries_say() {
        let mut c = MachineConfig::with_memory(Bytes(8 << 20));
        c.numa_nodes = 2;
        let mut m = Machine::new(c).unwrap();
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let OpValue::Process(p) = m.apply(&Op::create_process("p")).unwrap() else { panic!() };
        m.apply(&Op::AdjustTokenPrivileges { pid: p, privilege: Privilege::LockMemory, enable: true }).unwrap();
        // A regular page touched from node 1.
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 4096,
            protection: Protection::ReadOnly,
            commit: true,
        })
        .unwrap();
        assert!(!m.query_working_set_ex(p, 0x10000).valid(), "committed but not yet touched");
        m.access(p, 0x10000, AccessKind::Read, Some(1), NEVER).unwrap();
        let b = m.query_working_set_ex(p, 0x10000);
        assert!(b.valid() && !b.locked() && !b.large_page());
        assert_eq!((b.node(), b.win32_protection(), b.share_count()), (1, 0x02, 1));
        // An AWE page on node 0.
        let window = Op::ReservePhysical {
            pid: p,
            address: Some(0x100000),
            size: 4096,
            protection: Protection::ReadWrite,
            commit: false,
        };
        m.apply(&window).unwrap();
        let Ok(OpValue::Frames(f)) = m.apply(&Op::AllocatePhysical { pid: p, pages: 1, node: Some(0) }) else {
            panic!()
        };
        m.apply(&Op::MapPhysical { pid: p, address: 0x100000, pages: 1, frames: Some(f.clone()) }).unwrap();
        let b = m.query_working_set_ex(p, 0x100000);
        assert!(b.valid() && b.locked() && !b.large_page());
        assert_eq!((b.node(), b.win32_protection()), (m.pfn_db().node_of(f[0]), 0x04));
        // A large page.
        let large =
            Op::AllocateLarge { pid: p, address: None, size: 2 << 20, protection: Protection::ReadWrite, commit: true };
        let Ok(OpValue::Address(a)) = m.apply(&large) else { panic!() };
        let b = m.query_working_set_ex(p, a + 4096);
        assert!(b.valid() && b.locked() && b.large_page());
        assert_eq!(b.node(), m.pfn_db().node_of(m.frame_of(p, Vpn::containing(a + 4096)).unwrap()));
        // Free space, and a process that does not exist.
        assert_eq!(m.query_working_set_ex(p, 0x7000_0000), WorkingSetExBlock(0));
        assert_eq!(m.query_working_set_ex(ProcessId(99), 0x10000), WorkingSetExBlock(0));
    }
}
