//! A per-process page table: a sparse four-level radix tree of 512-entry
//! tables, shaped like x64 paging (PML4, PDPT, PD, PT; WI7 pp. 375-380).
//!
//! Tables are allocated on first write. Translating a resident page is four
//! array lookups, or one when the last-used leaf is hit again; in the low
//! 64 GiB of the address space (where traces and scenarios mostly live) a
//! flat index of the 2 MiB regions' leaf tables makes it two. Unlike NT, the
//! page-table pages here occupy no simulated physical frames (the book says
//! so in its PTE chapter).

use crate::pte::Pte;
use crate::units::Vpn;

const FANOUT: usize = 512;
const BITS: u32 = 9;
const MASK: u64 = (FANOUT as u64) - 1;
/// Index 0 of every arena is a sentinel meaning "no table here".
const NONE: u32 = 0;

/// Pages the four levels name: 2^36 (a 48-bit address space). A page at
/// or above this has no PTE; its index bits would otherwise wrap onto a
/// page below.
const PAGES: u64 = 1 << (4 * BITS);

/// The 2 MiB regions the flat index covers: the first 64 GiB of virtual
/// space, an index of at most 128 KiB.
const DIRECT_LEAVES: u64 = 1 << 15;

/// Host bytes of one table (leaf or directory): 512 entries of 8 bytes
/// (directories hold 4-byte indices, but a bound counts them as leaves).
pub const TABLE_BYTES: u64 = 4096;

type Dir = [u32; FANOUT];
type Leaf = [Pte; FANOUT];

/// The page table of one address space.
#[derive(Clone)]
pub struct PageTable {
    pml4: Box<Dir>,
    pdpts: Vec<Dir>,
    pds: Vec<Dir>,
    leaves: Vec<Leaf>,
    /// Count of non-zero PTEs per leaf (what NT keeps in the PFN of the page
    /// table page as its "used entries" count).
    used: Vec<u16>,
    /// The leaf of each 2 MiB region below [`DIRECT_LEAVES`], as far as
    /// the highest one allocated: a cache of the walk, kept on allocation.
    direct: Vec<u32>,
    /// The last leaf translated above the direct range: (vpn >> 9, leaf).
    cache: std::cell::Cell<(u64, u32)>,
}

impl Default for PageTable {
    fn default() -> Self {
        Self::new()
    }
}

fn empty_dir() -> Dir {
    [NONE; FANOUT]
}

impl PageTable {
    /// An empty page table.
    pub fn new() -> PageTable {
        PageTable {
            pml4: Box::new(empty_dir()),
            pdpts: vec![empty_dir()],
            pds: vec![empty_dir()],
            leaves: vec![[Pte::ZERO; FANOUT]],
            used: vec![0],
            direct: Vec::new(),
            cache: std::cell::Cell::new((u64::MAX, NONE)),
        }
    }

    #[inline(always)]
    fn leaf_index(&self, vpn: Vpn) -> u32 {
        let key = vpn.0 >> BITS;
        if key < DIRECT_LEAVES {
            return self.direct.get(key as usize).copied().unwrap_or(NONE);
        }
        let (ck, ci) = self.cache.get();
        if ck == key {
            return ci;
        }
        if vpn.0 >= PAGES {
            return NONE;
        }
        let i4 = ((vpn.0 >> (3 * BITS)) & MASK) as usize;
        let i3 = ((vpn.0 >> (2 * BITS)) & MASK) as usize;
        let i2 = ((vpn.0 >> BITS) & MASK) as usize;
        let pdpt = self.pml4[i4];
        if pdpt == NONE {
            return NONE;
        }
        let pd = self.pdpts[pdpt as usize][i3];
        if pd == NONE {
            return NONE;
        }
        let leaf = self.pds[pd as usize][i2];
        if leaf != NONE {
            self.cache.set((key, leaf));
        }
        leaf
    }

    /// The PTE for `vpn` (the zero PTE where no table exists).
    #[inline(always)]
    pub fn get(&self, vpn: Vpn) -> Pte {
        let leaf = self.leaf_index(vpn);
        if leaf == NONE {
            return Pte::ZERO;
        }
        self.leaves[leaf as usize][(vpn.0 & MASK) as usize]
    }

    /// The PTE for `vpn` in place, if a table covers it, found without
    /// disturbing the last-leaf cache (for prefetching ahead of use).
    #[inline(always)]
    pub fn peek(&self, vpn: Vpn) -> Option<&Pte> {
        let key = vpn.0 >> BITS;
        let leaf = if key < DIRECT_LEAVES {
            self.direct.get(key as usize).copied().unwrap_or(NONE)
        } else {
            let (ck, ci) = self.cache.get();
            if ck == key {
                ci
            } else if vpn.0 >= PAGES {
                NONE
            } else {
                let i4 = ((vpn.0 >> (3 * BITS)) & MASK) as usize;
                let i3 = ((vpn.0 >> (2 * BITS)) & MASK) as usize;
                let i2 = ((vpn.0 >> BITS) & MASK) as usize;
                let pdpt = self.pml4[i4];
                let pd = if pdpt == NONE { NONE } else { self.pdpts[pdpt as usize][i3] };
                if pd == NONE {
                    NONE
                } else {
                    self.pds[pd as usize][i2]
                }
            }
        };
        (leaf != NONE).then(|| &self.leaves[leaf as usize][(vpn.0 & MASK) as usize])
    }

    /// A mutable reference to an existing PTE, or `None` when no table covers
    /// `vpn` (so the PTE is zero).
    #[inline(always)]
    pub fn get_mut(&mut self, vpn: Vpn) -> Option<&mut Pte> {
        let leaf = self.leaf_index(vpn);
        if leaf == NONE {
            return None;
        }
        Some(&mut self.leaves[leaf as usize][(vpn.0 & MASK) as usize])
    }

    /// Writes a PTE, allocating the tables on the way.
    #[inline]
    pub fn set(&mut self, vpn: Vpn, pte: Pte) {
        let mut leaf = self.leaf_index(vpn);
        if leaf == NONE {
            if pte == Pte::ZERO {
                return;
            }
            leaf = self.allocate_path(vpn);
        }
        let slot = &mut self.leaves[leaf as usize][(vpn.0 & MASK) as usize];
        let was_zero = *slot == Pte::ZERO;
        *slot = pte;
        let used = &mut self.used[leaf as usize];
        match (was_zero, pte == Pte::ZERO) {
            (true, false) => *used += 1,
            (false, true) => *used -= 1,
            _ => {}
        }
    }

    /// Writes the PTEs of the aligned 512 pages from `start` (one leaf
    /// table: what one large PDE maps), `pte(i)` for the i-th.
    pub fn set_leaf(&mut self, start: Vpn, mut pte: impl FnMut(usize) -> Pte) {
        debug_assert_eq!(start.0 & MASK, 0, "a leaf's first page");
        let mut leaf = self.leaf_index(start);
        if leaf == NONE {
            leaf = self.allocate_path(start);
        }
        let mut used = 0;
        for (i, slot) in self.leaves[leaf as usize].iter_mut().enumerate() {
            *slot = pte(i);
            used += (*slot != Pte::ZERO) as u32;
        }
        self.used[leaf as usize] = used as _;
    }

    #[cold]
    #[inline(never)]
    fn allocate_path(&mut self, vpn: Vpn) -> u32 {
        assert!(vpn.0 < PAGES, "{vpn} is beyond the 48-bit address space: no page table maps it");
        let i4 = ((vpn.0 >> (3 * BITS)) & MASK) as usize;
        let i3 = ((vpn.0 >> (2 * BITS)) & MASK) as usize;
        let i2 = ((vpn.0 >> BITS) & MASK) as usize;
        if self.pml4[i4] == NONE {
            crate::host_memory::grow_for_push(&mut self.pdpts);
            self.pdpts.push(empty_dir());
            self.pml4[i4] = (self.pdpts.len() - 1) as u32;
        }
        let pdpt = self.pml4[i4] as usize;
        if self.pdpts[pdpt][i3] == NONE {
            crate::host_memory::grow_for_push(&mut self.pds);
            self.pds.push(empty_dir());
            self.pdpts[pdpt][i3] = (self.pds.len() - 1) as u32;
        }
        let pd = self.pdpts[pdpt][i3] as usize;
        if self.pds[pd][i2] == NONE {
            crate::host_memory::grow_for_push(&mut self.leaves);
            crate::host_memory::grow_for_push(&mut self.used);
            self.leaves.push([Pte::ZERO; FANOUT]);
            self.used.push(0);
            self.pds[pd][i2] = (self.leaves.len() - 1) as u32;
        }
        let leaf = self.pds[pd][i2];
        let key = vpn.0 >> BITS;
        if key < DIRECT_LEAVES {
            if self.direct.len() <= key as usize {
                self.direct.resize(key as usize + 1, NONE);
            }
            self.direct[key as usize] = leaf;
        } else {
            self.cache.set((key, leaf));
        }
        leaf
    }

    /// Host memory the tables hold now, bytes.
    pub fn host_bytes(&self) -> u64 {
        (std::mem::size_of::<Dir>()
            + (self.pdpts.capacity() + self.pds.capacity()) * std::mem::size_of::<Dir>()
            + self.leaves.capacity() * std::mem::size_of::<Leaf>()
            + self.used.capacity() * 2
            + self.direct.capacity() * 4) as u64
    }

    /// Number of non-zero PTEs.
    pub fn len(&self) -> usize {
        self.used.iter().map(|&u| u as usize).sum()
    }

    /// Whether every PTE is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of page-table pages (leaf tables) allocated.
    pub fn leaf_tables(&self) -> usize {
        self.leaves.len() - 1
    }

    /// The first non-zero PTE's page in `[start, end)`, visiting only the
    /// tables that exist.
    pub fn first_in(&self, start: Vpn, end: Vpn) -> Option<Vpn> {
        // The first page of the next table at `level` (1: leaf, 2: PD, 3: PDPT).
        let next = |v: u64, level: u32| ((v >> (level * BITS)) + 1) << (level * BITS);
        let end = end.0.min(PAGES);
        let mut v = start.0;
        while v < end {
            let pdpt = self.pml4[((v >> (3 * BITS)) & MASK) as usize];
            if pdpt == NONE {
                v = next(v, 3);
                continue;
            }
            let pd = self.pdpts[pdpt as usize][((v >> (2 * BITS)) & MASK) as usize];
            if pd == NONE {
                v = next(v, 2);
                continue;
            }
            let leaf = self.pds[pd as usize][((v >> BITS) & MASK) as usize];
            let stop = next(v, 1).min(end);
            if leaf != NONE && self.used[leaf as usize] > 0 {
                let table = &self.leaves[leaf as usize];
                if let Some(x) = (v..stop).find(|&x| table[(x & MASK) as usize] != Pte::ZERO) {
                    return Some(Vpn(x));
                }
            }
            v = stop;
        }
        None
    }

    /// Every non-zero PTE in ascending virtual order.
    pub fn iter(&self) -> impl Iterator<Item = (Vpn, Pte)> + '_ {
        // Only tables that exist are visited: a sparse address space costs
        // its tables, not 512 x 512 x 512 empty slots.
        fn present(dir: &Dir) -> impl Iterator<Item = (u64, usize)> + '_ {
            dir.iter().enumerate().filter(|(_, &t)| t != NONE).map(|(i, &t)| (i as u64, t as usize))
        }
        present(&self.pml4).flat_map(move |(i4, pdpt)| {
            present(&self.pdpts[pdpt]).flat_map(move |(i3, pd)| {
                present(&self.pds[pd]).filter(move |&(_, leaf)| self.used[leaf] > 0).flat_map(move |(i2, leaf)| {
                    let base = (i4 << (3 * BITS)) | (i3 << (2 * BITS)) | (i2 << BITS);
                    self.leaves[leaf]
                        .iter()
                        .enumerate()
                        .filter(|(_, &pte)| pte != Pte::ZERO)
                        .map(move |(i1, &pte)| (Vpn(base | i1 as u64), pte))
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pte::Protection;
    use crate::units::Pfn;

    #[test]
    fn a_page_beyond_48_bits_has_no_pte_and_aliases_none_below() {
        // Regression (found by the machine fuzz target): the index bits of
        // page 2^36 + 3 wrapped onto page 3, so a reference to
        // 0x1000000003000 found (and faulted on) page 3's PTE.
        let mut pt = PageTable::new();
        pt.set(Vpn(3), Pte::demand_zero(Protection::ReadWrite));
        pt.set(Vpn(0x7_ffff_fff0), Pte::demand_zero(Protection::ReadWrite));
        for vpn in [Vpn(PAGES + 3), Vpn(PAGES + 0x7_ffff_fff0), Vpn(u64::MAX >> 12)] {
            assert_eq!(pt.get(vpn), Pte::ZERO, "{vpn}");
            assert!(pt.peek(vpn).is_none() && pt.get_mut(vpn).is_none(), "{vpn}");
            pt.set(vpn, Pte::ZERO);
        }
    }

    #[test]
    fn first_in_finds_the_first_pte_of_a_range_across_tables() {
        let mut pt = PageTable::new();
        assert_eq!(pt.first_in(Vpn(0), Vpn(1 << 36)), None);
        let far = Vpn(0x7_ffff_fff0);
        pt.set(Vpn(0x10), Pte::demand_zero(Protection::ReadWrite));
        pt.set(Vpn(0x200), Pte::demand_zero(Protection::ReadWrite));
        pt.set(far, Pte::demand_zero(Protection::ReadWrite));
        assert_eq!(pt.first_in(Vpn(0), Vpn(0x10)), None, "the end is excluded");
        assert_eq!(pt.first_in(Vpn(0), Vpn(0x11)), Some(Vpn(0x10)));
        assert_eq!(pt.first_in(Vpn(0x11), Vpn(1 << 36)), Some(Vpn(0x200)), "into the next leaf");
        assert_eq!(pt.first_in(Vpn(0x201), Vpn(u64::MAX)), Some(far), "across absent directories");
        pt.set(Vpn(0x200), Pte::ZERO);
        assert_eq!(pt.first_in(Vpn(0x11), far), None, "a leaf emptied again holds nothing");
    }

    #[test]
    fn sparse_writes_read_back_and_iterate_in_order() {
        let mut pt = PageTable::new();
        let a = Vpn(0x10);
        let b = Vpn(0x7_ffff_fff0); // near the top of 128 TB
        assert_eq!(pt.get(a), Pte::ZERO);
        pt.set(b, Pte::demand_zero(Protection::ReadOnly));
        pt.set(a, Pte::demand_zero(Protection::ReadWrite));
        assert_eq!(pt.get(a), Pte::demand_zero(Protection::ReadWrite));
        assert_eq!(pt.get(b), Pte::demand_zero(Protection::ReadOnly));
        assert_eq!(pt.get(Vpn(0x11)), Pte::ZERO);
        assert_eq!(pt.leaf_tables(), 2);
        let all: Vec<_> = pt.iter().map(|(v, _)| v).collect();
        assert_eq!(all, vec![a, b]);
        pt.set(a, Pte::ZERO);
        assert_eq!(pt.iter().count(), 1);
    }

    #[test]
    fn agrees_with_a_map_on_both_sides_of_the_direct_range() {
        use rand::{Rng, SeedableRng};
        let edge = DIRECT_LEAVES << BITS;
        let bases = [0x10, edge - 700, edge, 0x7_ffff_0000, 0xf_1234_5000];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut pt = PageTable::new();
        let mut model = std::collections::BTreeMap::new();
        for i in 0..20_000u64 {
            let v = Vpn(bases[rng.gen_range(0..bases.len())] + rng.gen_range(0..1500));
            if rng.gen_bool(0.5) {
                let pte =
                    if rng.gen_bool(0.1) { Pte::ZERO } else { Pte::transition(Pfn(i as u32), Protection::ReadOnly) };
                pt.set(v, pte);
                if pte == Pte::ZERO {
                    model.remove(&v);
                } else {
                    model.insert(v, pte);
                }
            }
            assert_eq!(pt.get(v), model.get(&v).copied().unwrap_or(Pte::ZERO), "{v}");
            assert_eq!(pt.get_mut(v).map(|p| *p).unwrap_or(Pte::ZERO), pt.get(v));
            assert_eq!(pt.peek(v).copied().unwrap_or(Pte::ZERO), pt.get(v));
        }
        let all: Vec<_> = pt.iter().collect();
        let want: Vec<_> = model.into_iter().collect();
        assert!(all == want, "iteration differs from the model");
    }
}
