//! The contiguity index: physical memory counted by large-page region.
//!
//! A large page needs one naturally aligned run of frames (512 on x64,
//! MODEL.md s5), entirely free. Finding one by walking frames would cost
//! the whole machine; instead the PFN database keeps, for every aligned
//! region, how many of its frames are in each state, in step with every
//! list move ([`crate::pfn_db::PfnDatabase`] calls [`Contiguity::moved`]),
//! and the set of regions whose frames are all free or zeroed. Finding a
//! free region is then a look at the first element of an ordered set, and
//! ranking the others by the work that would empty them (repurpose standby
//! pages, write modified ones, move active ones; unmovable pages rule a
//! region out) reads one small record per region, never a frame.
//!
//! The index exists only on machines that support large pages; `pagelab
//! replay`'s machines do not, and their list moves pay nothing for it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::large_page::LargePageSize;
use crate::pfn_db::PageLocation;

/// What a frame is, for emptying its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Zeroed or free: take it.
    Free,
    /// Standby: repurpose it (its contents are in the page file or a file).
    Standby,
    /// Modified or modified-no-write: write it out first.
    Modified,
    /// Active in a working set: copy it to another frame and fix its PTE.
    Active,
    /// Locked, part of a large page, or bad: it cannot be moved.
    Unmovable,
    /// Between two lists within one operation.
    Transition,
}

impl Category {
    /// Every category, in the order of the work it takes.
    pub const ALL: [Category; 6] = [
        Category::Free,
        Category::Standby,
        Category::Modified,
        Category::Active,
        Category::Unmovable,
        Category::Transition,
    ];

    /// The category of a frame at `loc` that is (or is not) pinned: locked,
    /// AWE, or part of a large page.
    #[inline]
    pub fn of(loc: PageLocation, pinned: bool) -> Category {
        match loc {
            PageLocation::Zeroed | PageLocation::Free => Category::Free,
            PageLocation::Standby => Category::Standby,
            PageLocation::Modified | PageLocation::ModifiedNoWrite => Category::Modified,
            PageLocation::Active if pinned => Category::Unmovable,
            PageLocation::Active => Category::Active,
            PageLocation::Bad => Category::Unmovable,
            PageLocation::Transition => Category::Transition,
        }
    }
}

/// The frames of one region, by category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionCounts {
    /// Per [`Category`], in [`Category::ALL`] order.
    pub counts: [u16; 6],
}

impl RegionCounts {
    /// Frames of `c`.
    pub fn get(&self, c: Category) -> u16 {
        self.counts[c as usize]
    }
}

/// Per-region frame counts and the set of entirely free regions.
#[derive(Clone, Debug)]
pub struct Contiguity {
    size: LargePageSize,
    regions: Vec<RegionCounts>,
    /// Regions whose every frame is free or zeroed, lowest first.
    free: BTreeSet<u32>,
}

impl Contiguity {
    /// Host bytes per region, at most: its counts (12) and an entry of the
    /// free set (a 4-byte key in a B-tree node), rounded up.
    pub const HOST_BYTES_PER_REGION: u64 = 32;

    /// The index of a machine of `frames` frames, all free but `bad` (the
    /// state after boot). A last region cut short by the end of memory is
    /// never free: its missing frames count as unmovable.
    pub fn new(size: LargePageSize, frames: u32, bad: &[u32]) -> Contiguity {
        let per = size.frames();
        let n = frames.div_ceil(per);
        let mut regions = vec![RegionCounts::default(); n as usize];
        for (r, c) in regions.iter_mut().enumerate() {
            let present = (frames - r as u32 * per).min(per);
            c.counts[Category::Free as usize] = present as u16;
            c.counts[Category::Unmovable as usize] = (per - present) as u16;
        }
        let bad: BTreeSet<u32> = bad.iter().copied().filter(|&b| b < frames).collect();
        for b in bad {
            let c = &mut regions[(b / per) as usize].counts;
            c[Category::Free as usize] -= 1;
            c[Category::Unmovable as usize] += 1;
        }
        let free = regions
            .iter()
            .enumerate()
            .filter(|(_, c)| c.get(Category::Free) as u32 == per)
            .map(|(r, _)| r as u32)
            .collect();
        Contiguity { size, regions, free }
    }

    /// The large-page size the regions are made of.
    pub fn size(&self) -> LargePageSize {
        self.size
    }

    /// A frame moved from category `from` to `to`.
    #[inline]
    pub fn moved(&mut self, pfn: u32, from: Category, to: Category) {
        if from == to {
            return;
        }
        let r = pfn >> self.size.frames().trailing_zeros();
        let per = self.size.frames() as u16;
        let c = &mut self.regions[r as usize].counts;
        if from == Category::Free && c[Category::Free as usize] == per {
            self.free.remove(&r);
        }
        c[from as usize] -= 1;
        c[to as usize] += 1;
        if to == Category::Free && c[Category::Free as usize] == per {
            self.free.insert(r);
        }
    }

    /// `n` frames from `first`, all in one region, moved from `from` to `to`.
    pub fn moved_run(&mut self, first: u32, n: u32, from: Category, to: Category) {
        let shift = self.size.frames().trailing_zeros();
        let r = first >> shift;
        if (first + n - 1) >> shift != r {
            for f in first..first + n {
                self.moved(f, from, to);
            }
            return;
        }
        if from == to {
            return;
        }
        let per = self.size.frames() as u16;
        let c = &mut self.regions[r as usize].counts;
        if from == Category::Free && c[Category::Free as usize] == per {
            self.free.remove(&r);
        }
        c[from as usize] -= n as u16;
        c[to as usize] += n as u16;
        if to == Category::Free && c[Category::Free as usize] == per {
            self.free.insert(r);
        }
    }

    /// The lowest entirely free region.
    pub fn first_free(&self) -> Option<u32> {
        self.free.first().copied()
    }

    /// Entirely free regions, lowest first.
    pub fn free_regions(&self) -> impl Iterator<Item = u32> + '_ {
        self.free.iter().copied()
    }

    /// How many regions are entirely free.
    pub fn free_count(&self) -> u64 {
        self.free.len() as u64
    }

    /// A region's counts.
    pub fn region(&self, r: u32) -> RegionCounts {
        self.regions[r as usize]
    }

    /// Every region's counts, lowest first.
    pub fn region_counts(&self) -> &[RegionCounts] {
        &self.regions
    }

    /// Number of regions (the last may be cut short).
    pub fn regions(&self) -> u32 {
        self.regions.len() as u32
    }

    /// Checks the index against counts made afresh by `recount` (the
    /// category of every frame, region by region).
    pub fn audit(&self, recount: &[RegionCounts]) -> Result<(), String> {
        if recount.len() != self.regions.len() {
            return Err(format!("{} regions indexed, {} counted", self.regions.len(), recount.len()));
        }
        let per = self.size.frames() as u16;
        for (r, (a, b)) in self.regions.iter().zip(recount).enumerate() {
            if a != b {
                return Err(format!("region {r}: index says {:?}, frames say {:?}", a.counts, b.counts));
            }
            let listed = self.free.contains(&(r as u32));
            if listed != (a.get(Category::Free) == per) {
                return Err(format!("region {r}: free set says {listed}, counts say {:?}", a.counts));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_makes_every_whole_region_free_and_a_cut_one_never() {
        let size = LargePageSize::X64;
        let c = Contiguity::new(size, 3 * 512 + 100, &[600]);
        assert_eq!(c.regions(), 4);
        assert_eq!(c.free_regions().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(c.region(1).get(Category::Unmovable), 1);
        assert_eq!(c.region(3).get(Category::Free), 100);
        assert_eq!(c.region(3).get(Category::Unmovable), 412);
    }

    #[test]
    fn a_region_leaves_and_rejoins_the_free_set_with_its_last_frame() {
        let mut c = Contiguity::new(LargePageSize::X64, 1024, &[]);
        c.moved(5, Category::Free, Category::Transition);
        assert_eq!(c.first_free(), Some(1));
        c.moved(5, Category::Transition, Category::Active);
        c.moved(5, Category::Active, Category::Transition);
        assert_eq!(c.first_free(), Some(1));
        c.moved(5, Category::Transition, Category::Free);
        assert_eq!(c.first_free(), Some(0));
        assert_eq!(c.free_count(), 2);
    }
}
