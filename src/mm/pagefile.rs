//! The page file: a bitmap of page-sized slots, allocated in contiguous runs
//! so that pages written together can later be read back in one clustered
//! I/O. Slot 0 is never handed out: a page-file offset of 0 in a PTE means
//! demand zero (MODEL.md s2).

use crate::units::PageFileSlot;

/// One page file.
#[derive(Clone, Debug)]
pub struct PageFile {
    bits: Vec<u64>,
    slots: u32,
    used: u32,
    /// Where the next search starts (next fit, as NT's paging-file bitmap
    /// search resumes from a hint).
    hint: u32,
}

impl PageFile {
    /// A page file of `pages` pages (one of which, offset 0, is reserved).
    pub fn new(pages: u32) -> PageFile {
        let mut pf = PageFile { bits: vec![0; (pages as usize).div_ceil(64).max(1)], slots: pages, used: 0, hint: 1 };
        if pages > 0 {
            pf.bits[0] |= 1; // offset 0 is never used
        }
        pf
    }

    /// Host memory the page file's bitmap holds, bytes.
    pub fn host_bytes(&self) -> u64 {
        self.bits.capacity() as u64 * 8
    }

    /// Host memory of the bitmap of a page file of `pages` pages, bytes.
    pub fn host_bytes_for(pages: u64) -> u64 {
        pages.div_ceil(64).max(1) * 8
    }

    /// Usable slots (size minus the reserved offset 0).
    pub fn capacity(&self) -> u32 {
        self.slots.saturating_sub(1)
    }

    /// Slots in use.
    pub fn used(&self) -> u32 {
        self.used
    }

    /// Whether `slot` is allocated.
    pub fn is_used(&self, slot: PageFileSlot) -> bool {
        let s = slot.0 as usize;
        s != 0 && s < self.slots as usize && self.bits[s / 64] & (1 << (s % 64)) != 0
    }

    fn is_free(&self, s: u32) -> bool {
        self.bits[s as usize / 64] & (1 << (s % 64)) == 0
    }

    /// Allocates up to `want` contiguous slots: the first run of `want` free
    /// slots from the hint, else the longest shorter run found on the way.
    /// Returns the first slot and the run's length, or `None` when full.
    pub fn allocate_run(&mut self, want: u32) -> Option<(PageFileSlot, u32)> {
        if self.used >= self.capacity() || want == 0 {
            return None;
        }
        let mut best: Option<(u32, u32)> = None;
        let mut s = self.hint.max(1);
        let mut scanned = 0u32;
        let total = self.slots;
        while scanned < total {
            if s >= total {
                s = 1;
            }
            if self.is_free(s) {
                let start = s;
                let mut len = 0;
                while s < total && len < want && self.is_free(s) {
                    s += 1;
                    len += 1;
                    scanned += 1;
                }
                if len == want {
                    best = Some((start, len));
                    break;
                }
                if best.is_none_or(|(_, l)| len > l) {
                    best = Some((start, len));
                }
            } else {
                // Skip whole used words quickly.
                if s % 64 == 0 && self.bits[s as usize / 64] == u64::MAX {
                    s += 64;
                    scanned += 64;
                    continue;
                }
                s += 1;
                scanned += 1;
            }
        }
        let (start, len) = best?;
        for x in start..start + len {
            self.bits[x as usize / 64] |= 1 << (x % 64);
        }
        self.used += len;
        self.hint = start + len;
        Some((PageFileSlot(start), len))
    }

    /// Frees one slot.
    pub fn free(&mut self, slot: PageFileSlot) {
        debug_assert!(self.is_used(slot), "freeing a free page-file slot {}", slot.0);
        let s = slot.0 as usize;
        self.bits[s / 64] &= !(1 << (s % 64));
        self.used -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_contiguous_runs_and_never_offset_zero() {
        let mut pf = PageFile::new(10);
        assert_eq!(pf.capacity(), 9);
        let (a, n) = pf.allocate_run(4).unwrap();
        assert_eq!((a, n), (PageFileSlot(1), 4));
        let (b, n) = pf.allocate_run(4).unwrap();
        assert_eq!((b, n), (PageFileSlot(5), 4));
        pf.free(PageFileSlot(2));
        pf.free(PageFileSlot(3));
        // Only 1 slot at the end (9) and a run of 2 at 2..4: best shorter run wins.
        let (c, n) = pf.allocate_run(3).unwrap();
        assert_eq!((c, n), (PageFileSlot(2), 2));
        assert_eq!(pf.allocate_run(3), Some((PageFileSlot(9), 1)));
        assert_eq!(pf.allocate_run(1), None);
        assert_eq!(pf.used(), 9);
    }
}
