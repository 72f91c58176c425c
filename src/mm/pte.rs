//! Page table entries, packed in 64 bits the way x64 NT packs them.
//!
//! A valid PTE is the hardware format: bit 0 Valid, 1 Write, 5 Accessed,
//! 6 Dirty, 7 LargePage, 9 CopyOnWrite, 10 Prototype, PFN in bits 12-47,
//! 63 NoExecute (WI7 pp. 384-385). An invalid PTE is one of the software
//! formats the memory manager reads on a fault (MMPTE_SOFTWARE and friends in
//! ReactOS `mmtypes.h`): PageFileLow in bits 1-4, Protection in bits 5-9,
//! Prototype in bit 10, Transition in bit 11, and PageFileHigh (the page-file
//! offset) or the PFN in the high bits.

use std::fmt;

use serde::Serialize;

use crate::units::{PageFileSlot, Pfn};

/// A memory protection, as the memory manager's 5-bit protection code
/// (WRK `mi.h`: MM_READONLY 1 ... MM_EXECUTE_WRITECOPY 7, MM_NOACCESS 0x18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// PAGE_READONLY (MM_READONLY 1).
    ReadOnly,
    /// PAGE_EXECUTE (MM_EXECUTE 2).
    Execute,
    /// PAGE_EXECUTE_READ (MM_EXECUTE_READ 3).
    ExecuteRead,
    /// PAGE_READWRITE (MM_READWRITE 4).
    ReadWrite,
    /// PAGE_WRITECOPY (MM_WRITECOPY 5).
    WriteCopy,
    /// PAGE_EXECUTE_READWRITE (MM_EXECUTE_READWRITE 6).
    ExecuteReadWrite,
    /// PAGE_EXECUTE_WRITECOPY (MM_EXECUTE_WRITECOPY 7).
    ExecuteWriteCopy,
    /// PAGE_NOACCESS (MM_NOACCESS 0x18).
    NoAccess,
}

/// Protection code the memory manager writes into decommitted PTEs
/// (WRK `mi.h` MM_DECOMMIT 0x10).
const MM_DECOMMIT: u64 = 0x10;

impl Protection {
    /// The 5-bit code stored in a software PTE (WRK `mi.h`).
    pub fn code(self) -> u64 {
        match self {
            Protection::ReadOnly => 1,
            Protection::Execute => 2,
            Protection::ExecuteRead => 3,
            Protection::ReadWrite => 4,
            Protection::WriteCopy => 5,
            Protection::ExecuteReadWrite => 6,
            Protection::ExecuteWriteCopy => 7,
            Protection::NoAccess => 0x18,
        }
    }

    fn from_code(code: u64) -> Option<Protection> {
        Some(match code {
            1 => Protection::ReadOnly,
            2 => Protection::Execute,
            3 => Protection::ExecuteRead,
            4 => Protection::ReadWrite,
            5 => Protection::WriteCopy,
            6 => Protection::ExecuteReadWrite,
            7 => Protection::ExecuteWriteCopy,
            0x18 => Protection::NoAccess,
            _ => return None,
        })
    }

    /// Whether a read is allowed.
    pub fn readable(self) -> bool {
        !matches!(self, Protection::NoAccess)
    }

    /// Whether a write is allowed (copy-on-write counts as writable: the
    /// write makes a private copy, which this model does not distinguish).
    pub fn writable(self) -> bool {
        matches!(
            self,
            Protection::ReadWrite | Protection::WriteCopy | Protection::ExecuteReadWrite | Protection::ExecuteWriteCopy
        )
    }

    /// Whether a write goes to the page itself: writable and not
    /// copy-on-write (the hardware write bit of an NT PTE, whose
    /// copy-on-write pages are mapped read-only).
    pub fn writable_in_place(self) -> bool {
        matches!(self, Protection::ReadWrite | Protection::ExecuteReadWrite)
    }

    /// Parses the Win32 name ("PAGE_READWRITE") or a short form ("readwrite").
    pub fn parse(text: &str) -> Option<Protection> {
        let t = text.to_ascii_lowercase().replace(['_', '-'], "");
        let t = t.strip_prefix("page").unwrap_or(&t);
        Some(match t {
            "readonly" => Protection::ReadOnly,
            "execute" => Protection::Execute,
            "executeread" => Protection::ExecuteRead,
            "readwrite" => Protection::ReadWrite,
            "writecopy" => Protection::WriteCopy,
            "executereadwrite" => Protection::ExecuteReadWrite,
            "executewritecopy" => Protection::ExecuteWriteCopy,
            "noaccess" => Protection::NoAccess,
            _ => return None,
        })
    }

    /// The Win32 name.
    pub fn win32_name(self) -> &'static str {
        match self {
            Protection::ReadOnly => "PAGE_READONLY",
            Protection::Execute => "PAGE_EXECUTE",
            Protection::ExecuteRead => "PAGE_EXECUTE_READ",
            Protection::ReadWrite => "PAGE_READWRITE",
            Protection::WriteCopy => "PAGE_WRITECOPY",
            Protection::ExecuteReadWrite => "PAGE_EXECUTE_READWRITE",
            Protection::ExecuteWriteCopy => "PAGE_EXECUTE_WRITECOPY",
            Protection::NoAccess => "PAGE_NOACCESS",
        }
    }
}

const VALID: u64 = 1 << 0;
const WRITE: u64 = 1 << 1;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
const LARGE_PAGE: u64 = 1 << 7;
const PROTOTYPE: u64 = 1 << 10;
const TRANSITION: u64 = 1 << 11;
/// A software bit of a valid PTE (pagelab's; real NT knows from the VAD):
/// the page is an AWE page mapped by MapUserPhysicalPages, in no working set.
const AWE_PAGE: u64 = 1 << 58;
const PROT_SHIFT: u32 = 5;
const PROT_MASK: u64 = 0x1f << PROT_SHIFT;
const PFN_SHIFT: u32 = 12;
const PFN_MASK: u64 = ((1u64 << 36) - 1) << PFN_SHIFT;
const HIGH_SHIFT: u32 = 32;
/// The prototype address that means "consult the VAD" (WI7 p. 385: a
/// prototype PTE pointing at 0xFFFFFFFF0000 says the VAD must be looked up).
const VAD_LOOKUP: u64 = 0xFFFF_FFFF << HIGH_SHIFT;

/// One page table entry, packed in 64 bits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Pte(u64);

/// A decoded PTE: what the fault handler sees when it reads the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PteKind {
    /// Hardware-valid: the page is resident in the working set.
    Valid {
        /// The frame the page lives in.
        pfn: Pfn,
        /// Written since it was made valid.
        dirty: bool,
        /// Referenced since the bit was last cleared.
        accessed: bool,
        /// The hardware write bit.
        writable: bool,
        /// Part of a large page (the hardware's LargePage bit, which a real
        /// PDE carries; pagelab keeps a PTE per 4 KiB page of it).
        large: bool,
    },
    /// All zero: nothing is known here; the VAD decides (reserved or free
    /// space gives an access violation, a committed VAD gives demand zero).
    Zero,
    /// Committed but never touched: page-file offset 0.
    DemandZero {
        /// Protection the page gets when it is made valid.
        protection: Protection,
    },
    /// The page is still in memory, on the standby or modified list (or
    /// being read): resolving it is a soft fault.
    Transition {
        /// The frame that holds the page.
        pfn: Pfn,
        /// Protection restored when the page is made valid.
        protection: Protection,
    },
    /// The page is in the page file at this offset.
    PageFile {
        /// Which page file (0 to 15).
        file: u8,
        /// The page-file offset, in pages (never 0).
        slot: PageFileSlot,
        /// Protection restored when the page is read back.
        protection: Protection,
    },
    /// A prototype PTE with the "VAD lookup" address: a mapped-file page
    /// whose contents are in the file the VAD describes.
    MappedFile {
        /// Protection of the view.
        protection: Protection,
    },
    /// Committed with PAGE_NOACCESS: any access is a violation.
    NoAccess,
    /// Decommitted page of a committed region (MM_DECOMMIT protection).
    Decommitted,
}

impl Pte {
    /// The all-zero PTE.
    pub const ZERO: Pte = Pte(0);

    /// The raw 64-bit value (as the kernel debugger's `!pte` would print).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// A valid PTE mapping `pfn`.
    pub fn valid(pfn: Pfn, protection: Protection, dirty: bool) -> Pte {
        let mut v = VALID | ACCESSED | ((pfn.0 as u64) << PFN_SHIFT);
        if protection.writable() {
            v |= WRITE;
        }
        if dirty {
            v |= DIRTY;
        }
        // The protection is kept in the software bits of a valid PTE so it can
        // be restored when the page goes to transition; real NT keeps it in
        // the PFN's OriginalPte instead.
        Pte(v | (protection.code() << 52))
    }

    /// A valid PTE of one 4 KiB page of a large page at `pfn`: the
    /// LargePage bit set, and dirty if writable (a large page is never paged,
    /// so never cleaned).
    pub fn large(pfn: Pfn, protection: Protection) -> Pte {
        Pte(Pte::valid(pfn, protection, protection.writable()).0 | LARGE_PAGE)
    }

    /// Whether a valid PTE maps part of a large page.
    #[inline]
    pub fn is_large(self) -> bool {
        self.0 & (VALID | LARGE_PAGE) == VALID | LARGE_PAGE
    }

    /// A valid PTE mapping the AWE page `pfn`, as MapUserPhysicalPages
    /// writes it: read-write and dirty from the start (WRK `physical.c`:
    /// MI_MAKE_VALID_USER_PTE with MM_READWRITE, then MI_SET_PTE_DIRTY).
    pub fn awe(pfn: Pfn) -> Pte {
        Pte(Pte::valid(pfn, Protection::ReadWrite, true).0 | AWE_PAGE)
    }

    /// Whether a valid PTE maps an AWE page.
    #[inline]
    pub fn is_awe(self) -> bool {
        self.0 & (VALID | AWE_PAGE) == VALID | AWE_PAGE
    }

    /// Whether a valid PTE's page has a working-set entry: every valid page
    /// but large and AWE pages, which no working set holds.
    #[inline]
    pub fn in_working_set(self) -> bool {
        self.0 & (LARGE_PAGE | AWE_PAGE) == 0
    }

    /// A demand-zero PTE with the given protection.
    pub fn demand_zero(protection: Protection) -> Pte {
        Pte(protection.code() << PROT_SHIFT)
    }

    /// A transition PTE for `pfn`.
    pub fn transition(pfn: Pfn, protection: Protection) -> Pte {
        Pte(TRANSITION | (protection.code() << PROT_SHIFT) | ((pfn.0 as u64) << PFN_SHIFT))
    }

    /// A page-file PTE (page file 0).
    pub fn page_file(slot: PageFileSlot, protection: Protection) -> Pte {
        debug_assert!(slot.0 != 0, "page-file offset 0 means demand zero");
        Pte((protection.code() << PROT_SHIFT) | ((slot.0 as u64) << HIGH_SHIFT))
    }

    /// A mapped-file PTE: prototype with the VAD-lookup address.
    pub fn mapped_file(protection: Protection) -> Pte {
        Pte(PROTOTYPE | VAD_LOOKUP | (protection.code() << PROT_SHIFT))
    }

    /// A decommitted PTE.
    pub fn decommitted() -> Pte {
        Pte(MM_DECOMMIT << PROT_SHIFT)
    }

    /// Whether the hardware would translate through this PTE.
    #[inline]
    pub fn is_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// The frame of a valid or transition PTE.
    #[inline]
    pub fn pfn(self) -> Pfn {
        Pfn(((self.0 & PFN_MASK) >> PFN_SHIFT) as u32)
    }

    /// The frame a valid or transition PTE names; `None` for every other
    /// kind (the same answer as [`Pte::kind`], without decoding the rest).
    #[inline]
    pub fn frame(self) -> Option<Pfn> {
        (self.0 & VALID != 0 || self.0 & (PROTOTYPE | TRANSITION) == TRANSITION).then(|| self.pfn())
    }

    /// The same valid or transition PTE naming frame `pfn` instead (the
    /// page was moved to another frame).
    pub fn with_frame(self, pfn: Pfn) -> Pte {
        Pte((self.0 & !PFN_MASK) | ((pfn.0 as u64) << PFN_SHIFT))
    }

    /// Whether a valid PTE has been written.
    #[inline]
    pub fn is_dirty(self) -> bool {
        self.0 & DIRTY != 0
    }

    /// Sets the accessed bit (and dirty on a write), as the hardware does.
    #[inline]
    pub fn touch(&mut self, write: bool) {
        self.0 |= ACCESSED | if write { DIRTY } else { 0 };
    }

    /// Whether a valid PTE's accessed bit is set.
    #[inline]
    pub fn is_accessed(self) -> bool {
        self.0 & (VALID | ACCESSED) == VALID | ACCESSED
    }

    /// Reads and clears the accessed bit of a valid PTE, as the
    /// working-set manager's aging scan does (WRK `wsmanage.c`: aging turns
    /// off the access bits of the pages it examines). Returns whether it
    /// was set. An invalid PTE is left alone (its bit 5 is protection).
    #[inline]
    pub fn take_accessed(&mut self) -> bool {
        let was = self.is_accessed();
        if was {
            self.0 &= !ACCESSED;
        }
        was
    }

    /// The protection a valid PTE was made with.
    fn valid_protection(self) -> Protection {
        Protection::from_code((self.0 >> 52) & 0x1f).unwrap_or(Protection::ReadWrite)
    }

    /// The protection any PTE carries (valid or software).
    pub fn protection(self) -> Option<Protection> {
        if self.is_valid() {
            Some(self.valid_protection())
        } else {
            Protection::from_code((self.0 & PROT_MASK) >> PROT_SHIFT)
        }
    }

    /// Decodes the entry, in the fault handler's dispatch order (MODEL.md s2).
    pub fn kind(self) -> PteKind {
        let v = self.0;
        if v & VALID != 0 {
            return PteKind::Valid {
                pfn: self.pfn(),
                dirty: v & DIRTY != 0,
                accessed: v & ACCESSED != 0,
                writable: v & WRITE != 0,
                large: v & LARGE_PAGE != 0,
            };
        }
        if v == 0 {
            return PteKind::Zero;
        }
        let code = (v & PROT_MASK) >> PROT_SHIFT;
        let protection = Protection::from_code(code).unwrap_or(Protection::ReadWrite);
        if v & PROTOTYPE != 0 {
            return PteKind::MappedFile { protection };
        }
        if v & TRANSITION != 0 {
            return PteKind::Transition { pfn: self.pfn(), protection };
        }
        if code == MM_DECOMMIT {
            return PteKind::Decommitted;
        }
        let slot = (v >> HIGH_SHIFT) as u32;
        if slot == 0 {
            if protection == Protection::NoAccess {
                PteKind::NoAccess
            } else {
                PteKind::DemandZero { protection }
            }
        } else {
            PteKind::PageFile { file: ((v >> 1) & 0xf) as u8, slot: PageFileSlot(slot), protection }
        }
    }
}

impl PteKind {
    /// A short lower-case name ("valid", "transition", ...), as scenarios
    /// and reports write it.
    pub fn name(&self) -> &'static str {
        match self {
            PteKind::Valid { .. } => "valid",
            PteKind::Zero => "zero",
            PteKind::DemandZero { .. } => "demand_zero",
            PteKind::Transition { .. } => "transition",
            PteKind::PageFile { .. } => "page_file",
            PteKind::MappedFile { .. } => "mapped_file",
            PteKind::NoAccess => "no_access",
            PteKind::Decommitted => "decommitted",
        }
    }

    /// Every name [`PteKind::name`] can return.
    pub const NAMES: [&'static str; 8] =
        ["valid", "zero", "demand_zero", "transition", "page_file", "mapped_file", "no_access", "decommitted"];
}

impl fmt::Debug for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pte({:#018x} {:?})", self.0, self.kind())
    }
}

impl fmt::Display for PteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PteKind::Valid { pfn, dirty, accessed, writable, large } => write!(
                f,
                "valid {pfn} {}{}{}{}",
                if writable { "W" } else { "R" },
                if dirty { "D" } else { "-" },
                if accessed { "A" } else { "-" },
                if large { " large page" } else { "" }
            ),
            PteKind::Zero => write!(f, "zero (check the VAD)"),
            PteKind::DemandZero { protection } => {
                write!(f, "demand zero {}", protection.win32_name())
            }
            PteKind::Transition { pfn, .. } => write!(f, "transition {pfn}"),
            PteKind::PageFile { file, slot, .. } => {
                write!(f, "page file {file} offset 0x{:x}", slot.0)
            }
            PteKind::MappedFile { .. } => write!(f, "mapped file (VAD lookup)"),
            PteKind::NoAccess => write!(f, "no access"),
            PteKind::Decommitted => write!(f, "decommitted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips() {
        let p = Protection::ReadWrite;
        let cases = [
            (Pte::ZERO, PteKind::Zero),
            (Pte::demand_zero(p), PteKind::DemandZero { protection: p }),
            (Pte::transition(Pfn(77), p), PteKind::Transition { pfn: Pfn(77), protection: p }),
            (Pte::page_file(PageFileSlot(9), p), PteKind::PageFile { file: 0, slot: PageFileSlot(9), protection: p }),
            (Pte::mapped_file(Protection::ReadOnly), PteKind::MappedFile { protection: Protection::ReadOnly }),
            (Pte::demand_zero(Protection::NoAccess), PteKind::NoAccess),
            (Pte::decommitted(), PteKind::Decommitted),
        ];
        for (pte, kind) in cases {
            assert_eq!(pte.kind(), kind, "{pte:?}");
            assert!(!pte.is_valid());
        }
        let v = Pte::valid(Pfn(0xabcde), Protection::ReadOnly, false);
        assert_eq!(
            v.kind(),
            PteKind::Valid { pfn: Pfn(0xabcde), dirty: false, accessed: true, writable: false, large: false }
        );
        assert_eq!(v.protection(), Some(Protection::ReadOnly));
    }

    #[test]
    fn taking_the_accessed_bit_clears_it_on_valid_ptes_only() {
        let mut v = Pte::valid(Pfn(9), Protection::ReadWrite, true);
        assert!(v.take_accessed());
        assert_eq!(
            v.kind(),
            PteKind::Valid { pfn: Pfn(9), dirty: true, accessed: false, writable: true, large: false }
        );
        assert!(!v.take_accessed());
        v.touch(false);
        assert!(v.is_accessed());
        let mut t = Pte::transition(Pfn(9), Protection::ReadWrite);
        assert!(!t.take_accessed());
        assert_eq!(t, Pte::transition(Pfn(9), Protection::ReadWrite), "an invalid PTE keeps its protection");
    }

    #[test]
    fn frame_is_named_by_valid_and_transition_ptes_only() {
        let f = Pfn(0x1234);
        let every = [
            Pte::ZERO,
            Pte::valid(f, Protection::ReadWrite, true),
            Pte::transition(f, Protection::ReadOnly),
            Pte::demand_zero(Protection::ReadWrite),
            Pte::page_file(PageFileSlot(77), Protection::ReadWrite),
            Pte::mapped_file(Protection::ReadOnly),
            Pte::decommitted(),
            Pte::demand_zero(Protection::NoAccess),
        ];
        for pte in every {
            let want = match pte.kind() {
                PteKind::Valid { pfn, .. } | PteKind::Transition { pfn, .. } => Some(pfn),
                _ => None,
            };
            assert_eq!(pte.frame(), want, "{pte:?}");
        }
    }

    #[test]
    fn touching_sets_dirty_only_on_write() {
        let mut v = Pte::valid(Pfn(1), Protection::ReadWrite, false);
        v.touch(false);
        assert!(!v.is_dirty());
        v.touch(true);
        assert!(v.is_dirty());
    }

    #[test]
    fn protection_names_parse() {
        assert_eq!(Protection::parse("PAGE_READWRITE"), Some(Protection::ReadWrite));
        assert_eq!(Protection::parse("readonly"), Some(Protection::ReadOnly));
        assert_eq!(Protection::parse("no_access"), Some(Protection::NoAccess));
        assert_eq!(Protection::parse("rwx"), None);
    }
}
