//! Pages the system itself holds and never pages or moves: drivers'
//! nonpaged allocations and the physically contiguous buffers they ask for
//! with `MmAllocateContiguousMemory`.
//!
//! A device that reads and writes memory by physical address (DMA without
//! scatter-gather) needs its buffer in one run of frames, sometimes below
//! an address it can reach, sometimes aligned. The kernel routine behind
//! it is the one large pages use (WRK `mi.h`: `MiFindContiguousPages`
//! takes the lowest and highest acceptable frame, a boundary and a size),
//! which is why the memory manager tries hard to find such runs: drivers
//! need them at any time, long after boot. Such frames are locked, owned
//! by no process, and count as unmovable in the contiguity index.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compaction::Era;
use crate::contiguity::Category;
use crate::event::Event;
use crate::machine::{Machine, OpError, OpValue};
use crate::pfn_db::PageLocation;
use crate::units::{Pfn, PAGE_SIZE};

/// What the system holds a group of frames for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemUse {
    /// Drivers' nonpaged allocations, anywhere in memory (the unmovable
    /// pages a `fragment` step scatters).
    Nonpaged,
    /// A driver's physically contiguous buffer.
    Contiguous,
}

/// One group of frames the system holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemAllocation {
    /// What for.
    pub usage: SystemUse,
    /// Its frames as runs (first frame, frames).
    pub runs: Vec<(u32, u32)>,
}

impl SystemAllocation {
    /// Frames held.
    pub fn frames(&self) -> u64 {
        self.runs.iter().map(|&(_, n)| n as u64).sum()
    }
}

/// Every frame the system holds, by allocation.
#[derive(Clone, Debug, Default)]
pub struct SystemPages {
    /// By first frame (frames of different allocations never overlap).
    allocations: BTreeMap<u32, SystemAllocation>,
    frames: u64,
}

impl SystemPages {
    /// Frames held, in all.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames held for `usage`.
    pub fn frames_for(&self, usage: SystemUse) -> u64 {
        self.allocations.values().filter(|a| a.usage == usage).map(SystemAllocation::frames).sum()
    }

    /// The allocations, by first frame.
    pub fn allocations(&self) -> impl Iterator<Item = (Pfn, &SystemAllocation)> {
        self.allocations.iter().map(|(&f, a)| (Pfn(f), a))
    }

    fn insert(&mut self, a: SystemAllocation) {
        self.frames += a.frames();
        let first = a.runs.iter().map(|r| r.0).min().expect("an allocation has frames");
        self.allocations.insert(first, a);
    }
}

/// Runs of consecutive frames in ascending `frames`.
pub(crate) fn runs_of(frames: &[u32]) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &f in frames {
        match runs.last_mut() {
            Some((s, n)) if *s + *n == f => *n += 1,
            _ => runs.push((f, 1)),
        }
    }
    runs
}

impl Machine {
    /// The frames the system holds.
    pub fn system_pages(&self) -> &SystemPages {
        &self.system
    }

    /// Takes free frames for the system (sorted ascending): each leaves its
    /// list, locked, active, owned by no process.
    pub(crate) fn hold_for_system(&mut self, frames: &[u32], usage: SystemUse) {
        if frames.is_empty() {
            return;
        }
        for &f in frames {
            debug_assert!(matches!(self.pfn.entry(Pfn(f)).location(), PageLocation::Zeroed | PageLocation::Free));
            self.pfn.unlink(Pfn(f));
            self.lock_for_system(Pfn(f));
        }
        self.system.insert(SystemAllocation { usage, runs: runs_of(frames) });
    }

    /// Holds for the system a run of frames already claimed (on no list,
    /// owned by nobody).
    fn hold_claimed(&mut self, run: std::ops::Range<u32>, usage: SystemUse) {
        for f in run.clone() {
            self.lock_for_system(Pfn(f));
        }
        self.system.insert(SystemAllocation { usage, runs: vec![(run.start, run.end - run.start)] });
    }

    /// A frame on no list becomes the system's: locked, active, mapped once.
    fn lock_for_system(&mut self, pfn: Pfn) {
        self.pfn.entry_mut(pfn).set_locked(true);
        self.pfn.set_counts(pfn, 1, 1);
        self.pfn.push_tail(pfn, PageLocation::Active);
    }

    /// `MmAllocateContiguousMemorySpecifyCache`: `size` bytes of physically
    /// contiguous, locked memory whose first frame is a multiple of
    /// `alignment` bytes and whose last byte is at or below `highest`.
    /// Returns the physical address. A free run is taken if there is one
    /// (SP1 looks from the top down, keeping unmovable pages together;
    /// the older eras bottom up); otherwise the era's allocator empties a
    /// run as it does for large pages ([`crate::compaction`]).
    pub(crate) fn allocate_contiguous(&mut self, size: u64, alignment: u64, highest: u64) -> Result<OpValue, OpError> {
        let n = size.div_ceil(PAGE_SIZE);
        let frames = self.pfn.frames() as u64;
        let limit = (highest / PAGE_SIZE + 1).min(frames);
        if n == 0 || n > limit || !alignment.is_power_of_two() {
            return Err(OpError::ContiguousUnavailable { pages: n });
        }
        // An alignment beyond the end of memory leaves frame 0 only, as
        // the next power of two above the limit does (and that fits the
        // frame arithmetic below).
        let align = (alignment / PAGE_SIZE).clamp(1, limit.next_power_of_two()) as u32;
        let (n32, limit32) = (n as u32, limit as u32);
        let era = self.config.large_page_allocator;
        let first = match self.find_run(n32, align, limit32, era, true) {
            Some(f) => {
                for p in f..f + n32 {
                    self.pfn.unlink(Pfn(p));
                }
                Some(f)
            }
            None => self.empty_some_run(n32, align, limit32, era),
        };
        let Some(first) = first else {
            let pages = n;
            self.emit(|| Event::ContiguousUnavailable { pages });
            return Err(OpError::ContiguousUnavailable { pages: n });
        };
        // The run's frames are claimed, on no list: hold them.
        self.hold_claimed(first..first + n32, SystemUse::Contiguous);
        let pages = n;
        self.emit(|| Event::ContiguousAllocated { first: Pfn(first), pages });
        Ok(OpValue::Address(first as u64 * PAGE_SIZE))
    }

    /// `MmFreeContiguousMemory`: gives a contiguous buffer's frames back to
    /// the free list.
    pub(crate) fn free_contiguous(&mut self, address: u64) -> Result<OpValue, OpError> {
        let first = (address / PAGE_SIZE) as u32;
        let found = address % PAGE_SIZE == 0
            && self.system.allocations.get(&first).is_some_and(|a| a.usage == SystemUse::Contiguous);
        if !found {
            return Err(OpError::NotContiguousMemory { address });
        }
        let a = self.system.allocations.remove(&first).expect("found above");
        self.system.frames -= a.frames();
        for &(s, n) in &a.runs {
            for f in s..s + n {
                let pfn = Pfn(f);
                self.pfn.unlink(pfn);
                self.pfn.entry_mut(pfn).set_locked(false);
                self.pfn.set_counts(pfn, 0, 0);
                self.pfn.push_tail(pfn, PageLocation::Free);
            }
        }
        let pages = a.frames();
        self.emit(|| Event::ContiguousFreed { first: Pfn(first), pages });
        Ok(OpValue::None)
    }

    /// The category of frame `f` for contiguous searches.
    fn category(&self, f: u32) -> Category {
        let e = self.pfn.entry(Pfn(f));
        Category::of(e.location(), e.pinned())
    }

    /// A run of `n` frames below `limit` starting at a multiple of `align`
    /// whose frames are all `free_only` free (or, if not, free or
    /// standby): the lowest, or the highest where the era keeps unmovable
    /// pages at the top.
    fn find_run(&self, n: u32, align: u32, limit: u32, era: Era, free_only: bool) -> Option<u32> {
        let ok = |c: Category| c == Category::Free || (!free_only && c == Category::Standby);
        let fits = |s: u32| (s..s + n).all(|f| ok(self.category(f)));
        let last = limit.checked_sub(n)? / align * align;
        if era.segregates_unmovable() {
            let mut s = last;
            loop {
                if fits(s) {
                    return Some(s);
                }
                s = s.checked_sub(align)?;
            }
        }
        let mut s = 0;
        while s <= last {
            match (s..s + n).find(|&f| !ok(self.category(f))) {
                None => return Some(s),
                Some(bad) => s = (bad / align + 1) * align,
            }
        }
        None
    }

    /// Empties a run of `n` frames for a contiguous buffer, the era's way,
    /// and returns its first frame with the run claimed.
    fn empty_some_run(&mut self, n: u32, align: u32, limit: u32, era: Era) -> Option<u32> {
        let last = limit.checked_sub(n)? / align * align;
        match era {
            Era::GiveUp => {
                let s = self.find_run(n, align, limit, era, false)?;
                self.empty_run(Pfn(s), n, era, &mut Vec::new()).ok().map(|_| s)
            }
            Era::Desperate => {
                let mut s = 0;
                while s <= last {
                    match self.empty_run(Pfn(s), n, era, &mut Vec::new()) {
                        Ok(_) => return Some(s),
                        Err(crate::compaction::Blocked::Unmovable(p)) => s = (p.0 / align + 1) * align,
                        Err(crate::compaction::Blocked::NoRoom) => return None,
                    }
                }
                None
            }
            Era::Sp1 => {
                // The cheapest aligned window with nothing unmovable, by
                // sliding counts over the frames once.
                let (rep, copy) = self.compaction_weights();
                let (mut cost, mut blocked) = (0u64, 0u32);
                let weigh = |c: Category| match c {
                    Category::Free => (0, 0),
                    Category::Standby => (rep, 0),
                    Category::Modified | Category::Active => (copy, 0),
                    Category::Unmovable | Category::Transition => (0, 1),
                };
                let mut best: Option<(u64, u32)> = None;
                for f in 0..limit {
                    let (c, b) = weigh(self.category(f));
                    cost += c;
                    blocked += b;
                    if f >= n {
                        let (c, b) = weigh(self.category(f - n));
                        cost -= c;
                        blocked -= b;
                    }
                    if f + 1 >= n {
                        let s = f + 1 - n;
                        if s % align == 0 && blocked == 0 && best.is_none_or(|(bc, _)| cost <= bc) {
                            best = Some((cost, s));
                        }
                    }
                }
                let (_, s) = best?;
                self.empty_run(Pfn(s), n, era, &mut Vec::new()).ok().map(|_| s)
            }
        }
    }

    /// The system's frames agree with the PFN database: each locked,
    /// active, owned by no process, and no other frame is.
    pub(crate) fn check_system_pages(&self) -> Result<(), String> {
        let mut total = 0;
        for (first, a) in self.system.allocations() {
            for &(s, n) in &a.runs {
                for f in s..s + n {
                    let e = self.pfn.entry(Pfn(f));
                    if e.location() != PageLocation::Active || !e.locked() || e.owner().is_some() {
                        return Err(format!(
                            "{} of the system's allocation at {first} is {:?}, locked {}, owner {:?}",
                            Pfn(f),
                            e.location(),
                            e.locked(),
                            e.owner()
                        ));
                    }
                    total += 1;
                }
            }
        }
        if total != self.system.frames {
            return Err(format!("the system holds {total} frames but counts {}", self.system.frames));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first frame is a multiple of the alignment and the last byte at
    /// or below the highest address; an alignment beyond memory leaves
    /// frame 0 (it used to divide by zero); what cannot be had is NULL.
    #[test]
    fn contiguous_requests_honour_alignment_and_the_highest_address() {
        use crate::machine::Op;
        let mut m = Machine::new(crate::config::MachineConfig::with_memory(crate::units::Bytes(8 << 20))).unwrap();
        let ask = |m: &mut Machine, size: u64, alignment: u64, highest: u64| {
            m.apply(&Op::AllocateContiguous { size, alignment, highest })
        };
        let Ok(OpValue::Address(a)) = ask(&mut m, 5 * PAGE_SIZE, 64 << 10, u64::MAX) else { panic!() };
        assert_eq!(a % (64 << 10), 0);
        let Ok(OpValue::Address(b)) = ask(&mut m, 3 * PAGE_SIZE, PAGE_SIZE, (1 << 20) - 1) else { panic!() };
        assert!(b + 3 * PAGE_SIZE <= 1 << 20, "{b:#x}");
        assert_eq!(ask(&mut m, PAGE_SIZE, 1 << 44, u64::MAX), Ok(OpValue::Address(0)));
        assert!(matches!(ask(&mut m, PAGE_SIZE, 1 << 44, u64::MAX), Err(OpError::ContiguousUnavailable { .. })));
        assert!(matches!(ask(&mut m, 9 << 20, PAGE_SIZE, u64::MAX), Err(OpError::ContiguousUnavailable { .. })));
        assert!(matches!(ask(&mut m, PAGE_SIZE, 3 * PAGE_SIZE, u64::MAX), Err(OpError::ContiguousUnavailable { .. })));
        assert_eq!(m.system_pages().frames_for(SystemUse::Contiguous), 9);
        m.check_invariants().unwrap();
        for addr in [a, b, 0] {
            m.apply(&Op::FreeContiguous { address: addr }).unwrap();
        }
        assert!(matches!(m.apply(&Op::FreeContiguous { address: a }), Err(OpError::NotContiguousMemory { .. })));
        assert_eq!(m.system_pages().frames(), 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn runs_join_consecutive_frames() {
        assert_eq!(runs_of(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 1), (9, 2)]);
        assert_eq!(runs_of(&[]), vec![]);
    }
}
