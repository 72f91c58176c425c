//! Processes and their virtual address descriptors (VADs).
//!
//! A VAD describes one reservation: its range, its protection, whether it is
//! private memory or a view of a mapped file, and whether it was committed
//! when it was reserved (NT's `MemCommit` flag: the PTEs of such a VAD are
//! created lazily and a zero PTE inside it means demand zero). The VADs of a
//! process are kept in an ordered map by start page; NT keeps a balanced
//! tree (WI7 pp. 395-397).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::page_table::PageTable;
use crate::pte::Protection;
use crate::units::{FileId, ProcessId, Vpn};
use crate::working_set::WorkingSet;

/// What a VAD maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VadKind {
    /// Private memory, backed by the page file.
    Private,
    /// A view of a mapped file, backed by the file itself.
    Mapped {
        /// The file.
        file: FileId,
        /// The file page mapped at the VAD's first page.
        file_page: u64,
    },
    /// An AWE window: VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL). Never
    /// committed; MapUserPhysicalPages maps the process's AWE pages into it
    /// ([`crate::awe`]).
    Physical,
}

/// One virtual address descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Vad {
    /// First page.
    pub start: Vpn,
    /// Length in pages.
    pub pages: u64,
    /// Private or mapped.
    pub kind: VadKind,
    /// Protection given at reservation (or mapping).
    pub protection: Protection,
    /// Committed when reserved (MEM_RESERVE | MEM_COMMIT).
    pub mem_commit: bool,
    /// Allocated with MEM_LARGE_PAGES: every page resident from the start,
    /// in aligned contiguous frames, never paged.
    pub large: bool,
}

impl Vad {
    /// One past the last page.
    pub fn end(&self) -> Vpn {
        self.start.offset(self.pages)
    }

    /// Whether `vpn` is inside.
    pub fn contains(&self, vpn: Vpn) -> bool {
        vpn >= self.start && vpn < self.end()
    }
}

/// What happened to references: kept per process, and for the whole
/// machine as the sum over processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PagingCounts {
    /// Memory references made.
    pub references: u64,
    /// Demand-zero faults.
    pub demand_zero: u64,
    /// Soft (transition) faults.
    pub soft: u64,
    /// Hard faults from the page file.
    pub hard_pagefile: u64,
    /// Hard faults from mapped files.
    pub hard_file: u64,
    /// Access violations.
    pub access_violations: u64,
    /// Pages evicted from working sets.
    pub evictions: u64,
    /// References that missed the TLB (0 on machines without a TLB model).
    pub tlb_misses: u64,
    /// References (hits and faulting references alike) whose frame is on
    /// another NUMA node than the referencing thread (0 on one-node machines).
    pub remote_references: u64,
}

impl PagingCounts {
    /// The metric names scenarios use for these counts, machine-wide or
    /// after a process name.
    pub const METRICS: [&'static str; 11] = [
        "references",
        "faults",
        "faults.demand_zero",
        "faults.soft",
        "faults.hard",
        "faults.hard_pagefile",
        "faults.hard_file",
        "access_violations",
        "evictions",
        "tlb_misses",
        "remote_references",
    ];

    /// Hard faults of both kinds.
    pub fn hard(&self) -> u64 {
        self.hard_pagefile + self.hard_file
    }

    /// Every reference that missed its working set.
    pub fn faults(&self) -> u64 {
        self.demand_zero + self.soft + self.hard()
    }

    /// The value of one of [`PagingCounts::METRICS`].
    pub fn metric(&self, name: &str) -> Option<u64> {
        Some(match name {
            "references" => self.references,
            "faults" => self.faults(),
            "faults.demand_zero" => self.demand_zero,
            "faults.soft" => self.soft,
            "faults.hard" => self.hard(),
            "faults.hard_pagefile" => self.hard_pagefile,
            "faults.hard_file" => self.hard_file,
            "access_violations" => self.access_violations,
            "evictions" => self.evictions,
            "tlb_misses" => self.tlb_misses,
            "remote_references" => self.remote_references,
            _ => return None,
        })
    }
}

impl std::ops::AddAssign for PagingCounts {
    fn add_assign(&mut self, o: PagingCounts) {
        self.references += o.references;
        self.demand_zero += o.demand_zero;
        self.soft += o.soft;
        self.hard_pagefile += o.hard_pagefile;
        self.hard_file += o.hard_file;
        self.access_violations += o.access_violations;
        self.evictions += o.evictions;
        self.tlb_misses += o.tlb_misses;
        self.remote_references += o.remote_references;
    }
}

/// Per-process counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessCounters {
    /// References and faults of this process.
    #[serde(flatten)]
    pub paging: PagingCounts,
    /// Largest working set seen.
    pub peak_ws: u64,
}

/// One process: an address space and a working set.
#[derive(Clone)]
pub struct Process {
    /// Identifier (index in the machine's process table).
    pub id: ProcessId,
    /// Name, as the scenario gives it.
    pub name: String,
    /// NUMA node its threads run on (where its demand-zero pages are placed).
    pub node: u8,
    /// The page table.
    pub page_table: PageTable,
    /// VADs by start page.
    pub vads: BTreeMap<u64, Vad>,
    /// The working set.
    pub ws: WorkingSet,
    /// Counters.
    pub counters: ProcessCounters,
    /// Pages of commit charged to this process.
    pub commit: u64,
    /// Trace-replay processes treat every address as committed private memory.
    pub auto_commit: bool,
    /// Whether the process has exited.
    pub exited: bool,
    /// Frames of its large pages (mapped, never in the working set).
    pub large_frames: u64,
    /// First pages of this process's large pages that pagelab's
    /// `page_out_large` experiment has written to the page file (Windows
    /// never pages a large page; see [`crate::large_page`]).
    pub large_out: std::collections::BTreeSet<u64>,
    /// Its access token: the privileges it holds and has enabled.
    pub token: crate::token::Token,
    /// Its last Win32 error (what GetLastError would return): set by every
    /// call that fails, and by AdjustTokenPrivileges either way.
    pub last_error: u32,
    /// Its AWE pages and where each is mapped ([`crate::awe`]).
    pub awe: crate::awe::AweInfo,
}

impl Process {
    /// The VAD containing `vpn`.
    #[inline]
    pub fn vad_at(&self, vpn: Vpn) -> Option<&Vad> {
        if self.vads.is_empty() {
            // A trace replay's process: no VAD at all.
            return None;
        }
        self.vads.range(..=vpn.0).next_back().map(|(_, v)| v).filter(|v| v.contains(vpn))
    }

    /// Whether `[start, start + pages)` overlaps any VAD or, in a process
    /// that commits on touch, any page it has touched outside a VAD: such
    /// pages are committed memory already, never charged, and a VAD laid
    /// over them would release commit it never held.
    pub fn overlaps(&self, start: Vpn, pages: u64) -> bool {
        let end = start.0 + pages;
        if let Some((_, v)) = self.vads.range(..end).next_back() {
            if v.end().0 > start.0 {
                return true;
            }
        }
        self.touched_outside_vads(start, end).is_some()
    }

    /// The first page in `[start, end)` that a process committing on touch
    /// has touched outside every VAD (callers have checked that no VAD
    /// overlaps the range).
    fn touched_outside_vads(&self, start: Vpn, end: u64) -> Option<Vpn> {
        if !self.auto_commit {
            return None;
        }
        self.page_table.first_in(start, Vpn(end))
    }

    /// The lowest free range of `pages` pages at or above `from`, aligned to
    /// `align` pages, below `limit` (bottom-up, as VirtualAlloc searches
    /// without a base address).
    pub fn find_free(&self, from: Vpn, pages: u64, align: u64, limit: Vpn) -> Option<Vpn> {
        let align_up = |x: u64| x.div_ceil(align) * align;
        let mut cand = align_up(from.0);
        loop {
            for v in self.vads.values() {
                if v.end().0 <= cand {
                    continue;
                }
                if v.start.0 >= cand + pages {
                    break;
                }
                cand = align_up(v.end().0);
            }
            let end = cand.checked_add(pages)?;
            if end > limit.0 {
                return None;
            }
            // Clear of VADs; pages touched outside them push the search on.
            match self.touched_outside_vads(Vpn(cand), end) {
                Some(v) => cand = align_up(v.0 + 1),
                None => return Some(Vpn(cand)),
            }
        }
    }
}
