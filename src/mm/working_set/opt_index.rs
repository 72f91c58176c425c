//! OPT's order: the resident pages by next use, the furthest first.
//!
//! A max-heap of `(next use, slot)` pairs, kept lazily. Every reference to
//! a resident page gives it a new next use, and a heap cannot move an
//! entry cheaply, so the reference pushes a new pair and leaves the old one
//! behind, stale. A pair is live while `keys[slot]` still holds its next
//! use (the working set sets a slot's key to [`GONE`] when the slot leaves
//! the order). The heap's top is kept live after every change, so the
//! victim (the top) is read without a search; when stale pairs outnumber
//! the live ones the heap is rebuilt from the keys in one linear pass.
//!
//! The victim is the largest pair: the page used furthest in the future,
//! and among pages never used again ([`super::NEVER`]) the highest slot.
//! A stale pair is never above a live one in time order as long as the
//! caller gives each reference a next use later than now, so stale pairs
//! sink and the top stays live at little cost.

use std::collections::BinaryHeap;

/// The key of a slot in no OPT order: free, or locked in the working set.
pub(super) const GONE: u64 = u64::MAX - 1;

/// The lazily kept heap (see the module's text).
#[derive(Clone, Debug, Default)]
pub(super) struct OptIndex {
    heap: BinaryHeap<(u64, u32)>,
    live: usize,
}

/// Stale pairs allowed beyond the live ones before a rebuild.
const SLACK: usize = 64;

impl OptIndex {
    /// Host bytes held.
    pub(super) fn host_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<(u64, u32)>()
    }

    /// Host bytes per page at most: a live pair and a stale one (the
    /// rebuild keeps stale pairs below the live ones plus [`SLACK`]).
    pub(super) const BYTES_PER_PAGE: usize = 2 * std::mem::size_of::<(u64, u32)>();

    /// Pages in the order.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// `slot` enters with `keys[slot]` as its next use.
    pub(super) fn insert(&mut self, slot: u32, keys: &[u64]) {
        self.live += 1;
        self.heap.push((keys[slot as usize], slot));
        self.settle(keys);
    }

    /// `slot`'s next use changed to `keys[slot]`.
    pub(super) fn update(&mut self, slot: u32, keys: &[u64]) {
        self.heap.push((keys[slot as usize], slot));
        self.settle(keys);
    }

    /// `slot` left the order; its key is already [`GONE`].
    pub(super) fn remove(&mut self, keys: &[u64]) {
        self.live -= 1;
        self.settle(keys);
    }

    /// The slot used furthest in the future.
    pub(super) fn top(&self) -> Option<u32> {
        self.heap.peek().map(|&(_, s)| s)
    }

    /// Whether `(key, slot)` is a live pair.
    fn is_live(keys: &[u64], (key, slot): (u64, u32)) -> bool {
        keys[slot as usize] == key
    }

    /// Drops stale pairs from the top, and rebuilds when they are too many.
    #[inline]
    fn settle(&mut self, keys: &[u64]) {
        while let Some(&top) = self.heap.peek() {
            if Self::is_live(keys, top) {
                break;
            }
            self.heap.pop();
        }
        if self.heap.len() > 2 * self.live + SLACK {
            self.rebuild(keys);
        }
    }

    /// One live pair per slot in the order, from the keys.
    #[inline(never)]
    fn rebuild(&mut self, keys: &[u64]) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.clear();
        v.extend(keys.iter().enumerate().filter(|&(_, &k)| k != GONE).map(|(s, &k)| (k, s as u32)));
        self.heap = BinaryHeap::from(v);
    }

    /// The slots in the order, furthest next use first.
    pub(super) fn in_order(&self, keys: &[u64]) -> Vec<u32> {
        let mut v: Vec<(u64, u32)> =
            keys.iter().enumerate().filter(|&(_, &k)| k != GONE).map(|(s, &k)| (k, s as u32)).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// Checks the heap against the keys: the top is live, every slot in the
    /// order has a live pair, and the count is right.
    pub(super) fn audit(&self, keys: &[u64]) -> Result<(), String> {
        let in_order = keys.iter().filter(|&&k| k != GONE).count();
        if in_order != self.live {
            return Err(format!("OPT index counts {} pages but {in_order} have a next use", self.live));
        }
        if let Some(&top) = self.heap.peek() {
            if !Self::is_live(keys, top) {
                return Err(format!("OPT index's top, slot {}, is stale", top.1));
            }
        }
        let mut seen = vec![false; keys.len()];
        for &p in self.heap.iter() {
            if Self::is_live(keys, p) {
                seen[p.1 as usize] = true;
            }
        }
        if let Some(s) = keys.iter().enumerate().position(|(s, &k)| k != GONE && !seen[s]) {
            return Err(format!("WSLE {s} is missing from the opt policy's order"));
        }
        if let (Some(&(k, _)), Some(max)) = (self.heap.peek(), keys.iter().filter(|&&k| k != GONE).max()) {
            if k != *max {
                return Err(format!("OPT index's top has next use {k} but a page's is {max}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn victim_is_furthest_next_use_then_highest_slot_among_never() {
        let never = super::super::NEVER;
        let mut keys = vec![GONE; 4];
        let mut ix = OptIndex::default();
        for (s, k) in [(0u32, 10u64), (1, 30), (2, 20)] {
            keys[s as usize] = k;
            ix.insert(s, &keys);
        }
        assert_eq!(ix.top(), Some(1));
        // Slot 1 is referenced at 30, next at 40: still the furthest.
        keys[1] = 40;
        ix.update(1, &keys);
        assert_eq!(ix.top(), Some(1));
        keys[0] = never;
        ix.update(0, &keys);
        keys[3] = never;
        ix.insert(3, &keys);
        assert_eq!(ix.top(), Some(3), "two pages never used again: the higher slot");
        keys[3] = GONE;
        ix.remove(&keys);
        assert_eq!(ix.top(), Some(0));
        ix.audit(&keys).unwrap();
        assert_eq!(ix.in_order(&keys), vec![0, 1, 2]);
    }

    #[test]
    fn stale_pairs_stay_bounded_and_the_order_matches_a_sorted_set() {
        use std::collections::BTreeSet;
        let mut keys = vec![GONE; 100];
        let mut ix = OptIndex::default();
        let mut set: BTreeSet<(u64, u32)> = BTreeSet::new();
        let mut x: u64 = 7;
        for t in 0..20_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let s = ((x >> 33) % 100) as u32;
            let k = t + 1 + (x >> 50);
            let old = keys[s as usize];
            if old == GONE {
                keys[s as usize] = k;
                ix.insert(s, &keys);
            } else if x & 1 == 0 {
                set.remove(&(old, s));
                keys[s as usize] = GONE;
                ix.remove(&keys);
                assert_eq!(ix.top(), set.iter().next_back().map(|p| p.1));
                continue;
            } else {
                set.remove(&(old, s));
                keys[s as usize] = k;
                ix.update(s, &keys);
            }
            set.insert((k, s));
            assert_eq!(ix.top(), set.iter().next_back().map(|p| p.1));
            assert!(ix.heap.len() <= 2 * ix.len() + SLACK + 1);
        }
        ix.audit(&keys).unwrap();
    }
}
