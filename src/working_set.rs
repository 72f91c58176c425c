//! Per-process working sets and their replacement policies.
//!
//! A working set is a list of working-set list entries (WSLEs), one per
//! resident page; the PFN entry of an active page holds its WSLE index, so a
//! page can leave the working set in O(1). Replacement is **local**: when a
//! process at its maximum faults, the victim comes from its own working set
//! (NT 3.1, KB Q99707). Which page is the victim is the policy:
//!
//! - `fifo`: the page loaded longest ago (NT 3.1's policy).
//! - `lru`: the page referenced longest ago.
//! - `clock`: second chance. The use bit is set when a page is loaded and
//!   when it is referenced; the hand moves in load order, clearing use bits,
//!   and takes the first page whose bit is clear. A new page takes the
//!   victim's place in the circle, just behind the hand.
//! - `opt`: Belady's optimal, the page whose next reference is furthest in
//!   the future (needs the future: trace replay and reference strings).
//! - `random`: a page chosen by the machine's seeded generator.

use std::collections::BTreeSet;

use rand::Rng;
use serde::Serialize;

use crate::units::Vpn;

/// Which replacement policy a working set uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// First in, first out (NT 3.1).
    #[default]
    Fifo,
    /// Least recently used.
    Lru,
    /// Second-chance clock.
    Clock,
    /// Belady's optimal (needs the future).
    Opt,
    /// Seeded random.
    Random,
}

impl PolicyKind {
    /// Every policy, in the order the CLI lists them.
    pub const ALL: [PolicyKind; 5] =
        [PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Clock, PolicyKind::Opt, PolicyKind::Random];

    /// The policy's name as the CLI and scenarios write it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Fifo => "fifo",
            PolicyKind::Lru => "lru",
            PolicyKind::Clock => "clock",
            PolicyKind::Opt => "opt",
            PolicyKind::Random => "random",
        }
    }

    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Why a victim was chosen, in words.
    pub fn victim_reason(self) -> &'static str {
        match self {
            PolicyKind::Fifo => "oldest in FIFO working set",
            PolicyKind::Lru => "least recently used in working set",
            PolicyKind::Clock => "first page under the clock hand with its use bit clear",
            PolicyKind::Opt => "referenced furthest in the future (OPT)",
            PolicyKind::Random => "chosen at random",
        }
    }
}

/// Host bytes one entry of OPT's ordered set takes (a 12-byte key in a
/// B-tree node about two-thirds full), rounded up.
const OPT_INDEX_BYTES: usize = 32;

/// "Never referenced again", for the OPT policy.
pub const NEVER: u64 = u64::MAX;
const NIL: u32 = u32::MAX;
const FREE_SLOT: u64 = u64::MAX;

/// One process's working set.
#[derive(Clone, Debug)]
pub struct WorkingSet {
    /// Working-set minimum, in pages.
    pub min: u64,
    /// Working-set maximum, in pages.
    pub max: u64,
    /// Whether the maximum is a hard limit (QUOTA_LIMITS_HARDWS_MAX_ENABLE);
    /// with a soft limit the working set may grow past it while memory is
    /// plentiful.
    pub hard_max: bool,
    policy: PolicyKind,
    /// The WSLEs: each slot's page (or FREE_SLOT) and its links in load
    /// (or recency) order, a doubly linked list through the slots. One
    /// 16-byte record per slot, so that evicting from the head and adding
    /// at the tail touch one cache line per slot.
    slots: Vec<Wsle>,
    head: u32,
    tail: u32,
    free_slots: Vec<u32>,
    len: u64,
    /// Clock use bits (one per slot under clock, empty otherwise) and hand.
    use_bit: Vec<bool>,
    hand: u32,
    /// OPT: next-use time per slot (empty under other policies), and the
    /// set ordered by it.
    next_use: Vec<u64>,
    by_next_use: BTreeSet<(u64, u32)>,
    /// Random: a dense array of occupied slots and each slot's position in
    /// it (empty under other policies).
    dense: Vec<u32>,
    dense_pos: Vec<u32>,
}

/// A working-set list entry: the page and its place in the order.
#[derive(Clone, Copy, Debug)]
struct Wsle {
    vpn: u64,
    prev: u32,
    next: u32,
}

/// One entry of a working set in its policy's order, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WsEntry {
    /// The WSLE index.
    pub slot: u32,
    /// The page.
    pub vpn: Vpn,
    /// Clock use bit (false for other policies).
    pub use_bit: bool,
    /// OPT next-use time ([`NEVER`] when not referenced again).
    pub next_use: u64,
}

impl WorkingSet {
    /// An empty working set.
    pub fn new(policy: PolicyKind, min: u64, max: u64, hard_max: bool) -> WorkingSet {
        WorkingSet {
            min,
            max,
            hard_max,
            policy,
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            free_slots: Vec::new(),
            len: 0,
            use_bit: Vec::new(),
            hand: NIL,
            next_use: Vec::new(),
            by_next_use: BTreeSet::new(),
            dense: Vec::new(),
            dense_pos: Vec::new(),
        }
    }

    /// The replacement policy.
    pub fn policy(&self) -> PolicyKind {
        self.policy
    }

    /// Number of resident pages.
    #[inline]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no page is resident.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a reference to a resident page must be reported to the
    /// policy (FIFO and random ignore references).
    #[inline]
    pub fn tracks_references(&self) -> bool {
        matches!(self.policy, PolicyKind::Lru | PolicyKind::Clock | PolicyKind::Opt)
    }

    /// The page held by a slot.
    #[inline]
    pub fn vpn_of(&self, slot: u32) -> Vpn {
        Vpn(self.slots[slot as usize].vpn)
    }

    #[inline]
    fn unlink(&mut self, s: u32) {
        let Wsle { prev: p, next: n, .. } = self.slots[s as usize];
        if p == NIL {
            self.head = n
        } else {
            self.slots[p as usize].next = n
        }
        if n == NIL {
            self.tail = p
        } else {
            self.slots[n as usize].prev = p
        }
    }

    #[inline]
    fn link_tail(&mut self, s: u32) {
        self.slots[s as usize].prev = self.tail;
        self.slots[s as usize].next = NIL;
        if self.tail == NIL {
            self.head = s
        } else {
            self.slots[self.tail as usize].next = s
        }
        self.tail = s;
    }

    #[inline]
    fn link_before(&mut self, s: u32, at: u32) {
        let p = self.slots[at as usize].prev;
        self.slots[s as usize].prev = p;
        self.slots[s as usize].next = at;
        self.slots[at as usize].prev = s;
        if p == NIL {
            self.head = s
        } else {
            self.slots[p as usize].next = s
        }
    }

    /// The slot after `s` in circular order.
    #[inline]
    fn next_circular(&self, s: u32) -> u32 {
        let n = self.slots[s as usize].next;
        if n == NIL {
            self.head
        } else {
            n
        }
    }

    /// Host memory the working set holds now, bytes.
    pub fn host_bytes(&self) -> u64 {
        (self.slots.capacity() * std::mem::size_of::<Wsle>()
            + self.free_slots.capacity() * 4
            + self.use_bit.capacity()
            + self.next_use.capacity() * 8
            + self.by_next_use.len() * OPT_INDEX_BYTES
            + self.dense.capacity() * 4
            + self.dense_pos.capacity() * 4) as u64
    }

    /// A bound on the host memory of a working set that holds up to
    /// `pages` pages under `policy`: per page its WSLE (16 bytes), a free
    /// slot once trimmed (4) and the policy's own index, grown by a quarter
    /// at a time.
    pub fn host_bytes_for(policy: PolicyKind, pages: u64) -> u64 {
        let own = match policy {
            PolicyKind::Clock => 1,
            PolicyKind::Opt => 8 + OPT_INDEX_BYTES as u64,
            PolicyKind::Random => 8,
            PolicyKind::Fifo | PolicyKind::Lru => 0,
        };
        let per_page = std::mem::size_of::<Wsle>() as u64 + 4 + own;
        pages.saturating_add(pages / 4).saturating_add(64).saturating_mul(per_page)
    }

    /// Adds a page; returns its WSLE index. `next_use` is the time of the
    /// page's next reference (OPT only; [`NEVER`] otherwise).
    pub fn insert(&mut self, vpn: Vpn, next_use: u64) -> u32 {
        let s = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize].vpn = vpn.0;
                s
            }
            None => {
                // Each policy's per-slot array grows with the slots; the
                // others stay empty (13 bytes a page FIFO does not pay).
                let s = self.slots.len() as u32;
                crate::host_memory::grow_for_push(&mut self.slots);
                self.slots.push(Wsle { vpn: vpn.0, prev: NIL, next: NIL });
                match self.policy {
                    PolicyKind::Clock => self.use_bit.push(false),
                    PolicyKind::Opt => self.next_use.push(NEVER),
                    PolicyKind::Random => self.dense_pos.push(NIL),
                    PolicyKind::Fifo | PolicyKind::Lru => {}
                }
                s
            }
        };
        self.len += 1;
        match self.policy {
            PolicyKind::Clock => {
                self.use_bit[s as usize] = true;
                if self.hand == NIL {
                    self.link_tail(s);
                    self.hand = s;
                } else if self.hand == self.head {
                    // Just behind the hand in the circle is the tail.
                    self.link_tail(s);
                } else {
                    self.link_before(s, self.hand);
                }
            }
            PolicyKind::Opt => {
                self.link_tail(s);
                self.next_use[s as usize] = next_use;
                self.by_next_use.insert((next_use, s));
            }
            PolicyKind::Random => {
                self.link_tail(s);
                self.dense_pos[s as usize] = self.dense.len() as u32;
                self.dense.push(s);
            }
            PolicyKind::Fifo | PolicyKind::Lru => self.link_tail(s),
        }
        s
    }

    /// Tells the policy that the page in `slot` was referenced.
    #[inline]
    pub fn referenced(&mut self, slot: u32, next_use: u64) {
        match self.policy {
            PolicyKind::Lru => {
                if self.tail != slot {
                    self.unlink(slot);
                    self.link_tail(slot);
                }
            }
            PolicyKind::Clock => self.use_bit[slot as usize] = true,
            PolicyKind::Opt => {
                let old = self.next_use[slot as usize];
                self.by_next_use.remove(&(old, slot));
                self.next_use[slot as usize] = next_use;
                self.by_next_use.insert((next_use, slot));
            }
            PolicyKind::Fifo | PolicyKind::Random => {}
        }
    }

    /// Chooses the next victim without removing it (the clock hand moves,
    /// clearing use bits, as it would). `None` when empty.
    pub fn choose_victim(&mut self, rng: &mut impl Rng) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        Some(match self.policy {
            PolicyKind::Fifo | PolicyKind::Lru => self.head,
            PolicyKind::Clock => {
                let mut h = self.hand;
                while self.use_bit[h as usize] {
                    self.use_bit[h as usize] = false;
                    h = self.next_circular(h);
                }
                self.hand = h;
                h
            }
            PolicyKind::Opt => self.by_next_use.iter().next_back().map(|&(_, s)| s)?,
            PolicyKind::Random => self.dense[rng.gen_range(0..self.dense.len())],
        })
    }

    /// For FIFO and LRU, whose victims come from the head of their order:
    /// the next `N` victims in order, as far as there are pages (for
    /// prefetching; references may reorder an LRU list before then). All
    /// `None` for other policies.
    #[inline]
    pub fn next_victims<const N: usize>(&self) -> [Option<u32>; N] {
        let mut out = [None; N];
        if matches!(self.policy, PolicyKind::Fifo | PolicyKind::Lru) {
            let mut s = self.head;
            for o in &mut out {
                if s == NIL {
                    break;
                }
                *o = Some(s);
                s = self.slots[s as usize].next;
            }
        }
        out
    }

    /// The victim the policy would choose now, without moving anything
    /// (for display; the clock's answer is where the hand would stop).
    pub fn peek_victim(&self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        match self.policy {
            PolicyKind::Fifo | PolicyKind::Lru => Some(self.head),
            PolicyKind::Clock => {
                let mut h = self.hand;
                for _ in 0..self.len {
                    if !self.use_bit[h as usize] {
                        return Some(h);
                    }
                    h = self.next_circular(h);
                }
                Some(self.hand)
            }
            PolicyKind::Opt => self.by_next_use.iter().next_back().map(|&(_, s)| s),
            PolicyKind::Random => None,
        }
    }

    /// Removes the page in `slot`; returns it.
    pub fn remove(&mut self, slot: u32) -> Vpn {
        let s = slot as usize;
        debug_assert_ne!(self.slots[s].vpn, FREE_SLOT, "removing a free WSLE");
        let vpn = Vpn(self.slots[s].vpn);
        match self.policy {
            PolicyKind::Clock => {
                if self.hand == slot {
                    let n = self.next_circular(slot);
                    self.hand = if n == slot { NIL } else { n };
                }
            }
            PolicyKind::Opt => {
                self.by_next_use.remove(&(self.next_use[s], slot));
            }
            PolicyKind::Random => {
                let pos = self.dense_pos[s] as usize;
                let last = *self.dense.last().expect("dense list holds the slot");
                self.dense.swap_remove(pos);
                if last != slot {
                    self.dense_pos[last as usize] = pos as u32;
                }
                self.dense_pos[s] = NIL;
            }
            PolicyKind::Fifo | PolicyKind::Lru => {}
        }
        self.unlink(slot);
        self.slots[s].vpn = FREE_SLOT;
        self.free_slots.push(slot);
        self.len -= 1;
        vpn
    }

    /// The resident pages in policy order: FIFO/LRU from next victim to
    /// newest; clock from the hand around the circle; OPT by next use,
    /// furthest first; random in load order.
    pub fn entries(&self) -> Vec<WsEntry> {
        self.entries_iter().collect()
    }

    /// The same entries as [`WorkingSet::entries`], in the same order, but
    /// produced lazily: a display that shows the first few entries of a
    /// large working set does not walk or copy all of it.
    pub fn entries_iter(&self) -> Box<dyn Iterator<Item = WsEntry> + '_> {
        let mk = move |s: u32| WsEntry {
            slot: s,
            vpn: Vpn(self.slots[s as usize].vpn),
            use_bit: self.policy == PolicyKind::Clock && self.use_bit[s as usize],
            next_use: if self.policy == PolicyKind::Opt { self.next_use[s as usize] } else { NEVER },
        };
        match self.policy {
            PolicyKind::Opt => Box::new(self.by_next_use.iter().rev().map(move |&(_, s)| mk(s))),
            PolicyKind::Clock => {
                let mut h = self.hand;
                Box::new((0..self.len).map(move |_| {
                    let s = h;
                    h = self.next_circular(h);
                    mk(s)
                }))
            }
            _ => Box::new(
                std::iter::successors((self.head != NIL).then_some(self.head), move |&s| {
                    let n = self.slots[s as usize].next;
                    (n != NIL).then_some(n)
                })
                .map(mk),
            ),
        }
    }

    /// Every occupied slot with its page, in slot order.
    pub fn slots(&self) -> impl Iterator<Item = (u32, Vpn)> + '_ {
        self.slots.iter().enumerate().filter(|(_, w)| w.vpn != FREE_SLOT).map(|(s, w)| (s as u32, Vpn(w.vpn)))
    }

    /// Checks the policy's own structures against the slot table.
    pub fn audit(&self) -> Result<(), String> {
        let occupied = self.slots().count() as u64;
        if occupied != self.len {
            return Err(format!("working set counts {} but holds {occupied}", self.len));
        }
        let mut n = 0u64;
        let mut s = self.head;
        let mut prev = NIL;
        while s != NIL {
            if self.slots[s as usize].vpn == FREE_SLOT {
                return Err(format!("free WSLE {s} is linked into the order list"));
            }
            if self.slots[s as usize].prev != prev {
                return Err(format!("WSLE {s} has a broken back link"));
            }
            prev = s;
            s = self.slots[s as usize].next;
            n += 1;
            if n > self.len {
                return Err("working-set order list has a cycle".into());
            }
        }
        if n != self.len {
            return Err(format!("order list holds {n} of {} pages", self.len));
        }
        match self.policy {
            PolicyKind::Opt if self.by_next_use.len() as u64 != self.len => Err("OPT index out of step".into()),
            PolicyKind::Random if self.dense.len() as u64 != self.len => Err("random index out of step".into()),
            PolicyKind::Clock if (self.hand == NIL) != (self.len == 0) => Err("clock hand out of step".into()),
            _ => self.audit_order(),
        }
    }

    /// Checks that each policy's order holds its own pages, each once:
    /// OPT's index has every page under its recorded next use (so victims
    /// come furthest use first), random's dense array and positions agree,
    /// and the clock hand rests on a resident page.
    fn audit_order(&self) -> Result<(), String> {
        for (s, _) in self.slots() {
            let ok = match self.policy {
                PolicyKind::Opt => self.by_next_use.contains(&(self.next_use[s as usize], s)),
                PolicyKind::Random => self.dense.get(self.dense_pos[s as usize] as usize) == Some(&s),
                _ => true,
            };
            if !ok {
                return Err(format!("WSLE {s} is missing from the {} policy's order", self.policy.name()));
            }
        }
        if self.policy == PolicyKind::Clock && self.hand != NIL && self.slots[self.hand as usize].vpn == FREE_SLOT {
            return Err(format!("the clock hand rests on free WSLE {}", self.hand));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Runs a reference string through a bare working set of `frames` and
    /// counts misses.
    fn misses(policy: PolicyKind, refs: &[u64], frames: u64) -> u64 {
        let mut ws = WorkingSet::new(policy, 1, frames, true);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut slot_of = std::collections::BTreeMap::new();
        let mut faults = 0;
        for (t, &r) in refs.iter().enumerate() {
            let next = refs[t + 1..].iter().position(|&x| x == r).map_or(NEVER, |d| (t + 1 + d) as u64);
            if let Some(&s) = slot_of.get(&r) {
                ws.referenced(s, next);
                continue;
            }
            faults += 1;
            if ws.len() == frames {
                let v = ws.choose_victim(&mut rng).unwrap();
                let vpn = ws.remove(v);
                slot_of.remove(&vpn.0);
            }
            slot_of.insert(r, ws.insert(Vpn(r), next));
            ws.audit().unwrap();
        }
        faults
    }

    const SILBERSCHATZ: [u64; 20] = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];

    #[test]
    fn textbook_string_at_three_frames() {
        assert_eq!(misses(PolicyKind::Fifo, &SILBERSCHATZ, 3), 15);
        assert_eq!(misses(PolicyKind::Lru, &SILBERSCHATZ, 3), 12);
        assert_eq!(misses(PolicyKind::Opt, &SILBERSCHATZ, 3), 9);
        assert_eq!(misses(PolicyKind::Clock, &SILBERSCHATZ, 3), 14);
    }

    #[test]
    fn fifo_shows_beladys_anomaly() {
        let s = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        assert_eq!(misses(PolicyKind::Fifo, &s, 3), 9);
        assert_eq!(misses(PolicyKind::Fifo, &s, 4), 10);
    }

    #[test]
    fn random_removal_keeps_indexes_consistent() {
        let mut ws = WorkingSet::new(PolicyKind::Random, 1, 8, true);
        let slots: Vec<_> = (0..6).map(|i| ws.insert(Vpn(i), NEVER)).collect();
        ws.remove(slots[0]);
        ws.remove(slots[5]);
        ws.remove(slots[2]);
        ws.audit().unwrap();
        assert_eq!(ws.len(), 3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let v = ws.choose_victim(&mut rng).unwrap();
        assert!([slots[1], slots[3], slots[4]].contains(&v));
    }

    #[test]
    fn entries_hold_the_resident_pages_in_victim_order() {
        for policy in PolicyKind::ALL {
            let mut ws = WorkingSet::new(policy, 1, 4, true);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
            let mut slot_of = std::collections::BTreeMap::new();
            assert!(ws.entries().is_empty());
            for (t, &r) in SILBERSCHATZ.iter().enumerate() {
                let next = SILBERSCHATZ[t + 1..].iter().position(|&x| x == r).map_or(NEVER, |d| (t + 1 + d) as u64);
                if let Some(&s) = slot_of.get(&r) {
                    ws.referenced(s, next);
                } else {
                    if ws.len() == 4 {
                        let v = ws.choose_victim(&mut rng).unwrap();
                        slot_of.remove(&ws.remove(v).0);
                    }
                    slot_of.insert(r, ws.insert(Vpn(r), next));
                }
                let e = ws.entries();
                let mut pages: Vec<u64> = e.iter().map(|x| x.vpn.0).collect();
                pages.sort_unstable();
                assert_eq!(pages, slot_of.keys().copied().collect::<Vec<_>>(), "{policy:?} after {t}");
                let expected_victim = match policy {
                    PolicyKind::Random => continue,
                    // The hand sweeps from the first entry past set use bits.
                    PolicyKind::Clock => e.iter().find(|x| !x.use_bit).unwrap_or(&e[0]).slot,
                    _ => e[0].slot,
                };
                assert_eq!(ws.peek_victim(), Some(expected_victim), "{policy:?} after {t}");
            }
        }
    }
}
