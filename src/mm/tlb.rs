//! A simple translation lookaside buffer: what large pages buy.
//!
//! Every reference needs its virtual page translated; the processor keeps
//! recent translations in a small cache, the TLB, and walks the page
//! tables only on a miss. An entry maps one page, whatever its size, so a
//! TLB of 64 entries for 4 KiB pages reaches 256 KiB of memory and one of
//! 32 entries for 2 MiB pages reaches 64 MiB: a program whose working set
//! is larger than the reach of small pages misses on most references, and
//! the same program on large pages hardly at all. (Figures of the kind of
//! a current x86 core's first-level data TLB: 64 entries for 4 KiB pages,
//! 32 for 2 MiB and 4 MiB pages, 4-way; pagelab's defaults, settable.)
//!
//! pagelab models two set-associative arrays with least-recently-used
//! replacement within a set, one for small and one for large pages,
//! tagged by process (as with PCIDs, no flush on a switch). A reference
//! that faults always counts as a miss (the walk found no valid
//! translation); a stale entry left by an evicted page only takes room.
//! The model counts misses and charges a page walk for each; it does not
//! model second-level TLBs, paging-structure caches or shootdowns.

use serde::Serialize;

use crate::units::{ProcessId, Vpn};

/// The TLB's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TlbConfig {
    /// Entries for 4 KiB pages.
    pub entries: u32,
    /// Entries for large pages.
    pub large_entries: u32,
    /// Ways of each set (entries must be a multiple).
    pub ways: u32,
}

impl Default for TlbConfig {
    fn default() -> Self {
        TlbConfig { entries: 64, large_entries: 32, ways: 4 }
    }
}

impl TlbConfig {
    /// The default shape with `ENTRIES` or `ENTRIES,LARGE` entries (what
    /// `replay --tlb` and a sweep's `tlb` axis take), checked.
    pub fn parse_entries(s: &str) -> Result<TlbConfig, String> {
        let mut shape = TlbConfig::default();
        let mut parts = s.split(',').map(|p| p.trim().parse::<u32>());
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(e)), None, None) => shape.entries = e,
            (Some(Ok(e)), Some(Ok(l)), None) => (shape.entries, shape.large_entries) = (e, l),
            _ => return Err("expected ENTRIES or ENTRIES,LARGE, e.g. 64,32".into()),
        }
        shape.validate()?;
        Ok(shape)
    }

    /// Checks the shape: every array a whole number of sets.
    pub fn validate(&self) -> Result<(), String> {
        if self.ways == 0 || self.ways > 64 {
            return Err(format!("tlb.ways: expected 1 to 64, found {}", self.ways));
        }
        for (what, n) in [("tlb.entries", self.entries), ("tlb.large_entries", self.large_entries)] {
            if n == 0 || n > 1 << 16 || n % self.ways != 0 {
                return Err(format!(
                    "{what}: expected a whole number of sets of {} ways, 1 to 65536 entries, found {n}",
                    self.ways
                ));
            }
        }
        Ok(())
    }
}

/// One set-associative array.
#[derive(Clone, Debug)]
struct Array {
    ways: usize,
    sets: u64,
    /// Tag per entry (u64::MAX: empty).
    tags: Vec<u64>,
    /// Last use per entry.
    stamps: Vec<u64>,
}

impl Array {
    fn new(entries: u32, ways: u32) -> Array {
        Array {
            ways: ways as usize,
            sets: (entries / ways) as u64,
            tags: vec![u64::MAX; entries as usize],
            stamps: vec![0; entries as usize],
        }
    }

    /// Looks `tag` up at time `now`; on a miss it takes the set's least
    /// recently used entry. Returns whether it hit.
    #[inline]
    fn reference(&mut self, tag: u64, now: u64) -> bool {
        let set = (tag ^ (tag >> 20)) % self.sets;
        let base = set as usize * self.ways;
        let tags = &mut self.tags[base..base + self.ways];
        let stamps = &mut self.stamps[base..base + self.ways];
        if let Some(w) = tags.iter().position(|&t| t == tag) {
            stamps[w] = now;
            return true;
        }
        let victim = (0..self.ways).min_by_key(|&w| stamps[w]).expect("a set has ways");
        tags[victim] = tag;
        stamps[victim] = now;
        false
    }

    fn host_bytes(&self) -> u64 {
        self.tags.len() as u64 * 16
    }
}

/// The TLB: misses counted per kind of page, and for references to small
/// pages, what a large-page TLB would have missed had the same memory been
/// mapped by large pages (a second large-page array that sees only them).
#[derive(Clone, Debug)]
pub struct Tlb {
    small: Array,
    large: Array,
    as_large: Array,
    now: u64,
    /// Misses the small-page references would have had on large pages.
    pub misses_if_large: u64,
    /// Misses on 4 KiB pages.
    pub small_misses: u64,
    /// Misses on large pages.
    pub large_misses: u64,
    /// log2 of 4 KiB pages per large page.
    large_shift: u32,
}

impl Tlb {
    /// An empty TLB of `config`'s shape, for large pages of `large_frames`
    /// 4 KiB frames.
    pub fn new(config: TlbConfig, large_frames: u32) -> Tlb {
        Tlb {
            small: Array::new(config.entries, config.ways),
            large: Array::new(config.large_entries, config.ways),
            as_large: Array::new(config.large_entries, config.ways),
            now: 0,
            misses_if_large: 0,
            small_misses: 0,
            large_misses: 0,
            large_shift: large_frames.trailing_zeros(),
        }
    }

    /// A reference by `pid` to `vpn`, mapped by a large page or not.
    /// Returns whether it missed.
    #[inline]
    pub fn reference(&mut self, pid: ProcessId, vpn: Vpn, large: bool) -> bool {
        self.now += 1;
        let tag_of = |page: u64| ((pid.0 as u64) << 48) | page;
        if large {
            let hit = self.large.reference(tag_of(vpn.0 >> self.large_shift), self.now);
            self.large_misses += !hit as u64;
            !hit
        } else {
            let hit = self.small.reference(tag_of(vpn.0), self.now);
            self.small_misses += !hit as u64;
            // The same reference as the large-page array would see it.
            let as_large = self.as_large.reference(tag_of(vpn.0 >> self.large_shift), self.now);
            self.misses_if_large += !as_large as u64;
            !hit
        }
    }

    /// A reference that faulted: the walk found no translation, a miss
    /// whatever the TLB held; the new translation is loaded.
    #[inline]
    pub fn fault(&mut self, pid: ProcessId, vpn: Vpn, large: bool) {
        if self.reference(pid, vpn, large) {
            return;
        }
        // It hit a stale entry: count it as the miss it is.
        if large {
            self.large_misses += 1;
        } else {
            self.small_misses += 1;
        }
    }

    /// Misses of both kinds.
    pub fn misses(&self) -> u64 {
        self.small_misses + self.large_misses
    }

    /// Host bytes held.
    pub fn host_bytes(&self) -> u64 {
        self.small.host_bytes() + self.large.host_bytes() + self.as_large.host_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_as_replay_and_sweeps_write_them() {
        let one = TlbConfig::parse_entries("128").unwrap();
        assert_eq!((one.entries, one.large_entries), (128, TlbConfig::default().large_entries));
        let two = TlbConfig::parse_entries(" 64 , 32 ").unwrap();
        assert_eq!((two.entries, two.large_entries), (64, 32));
        for bad in ["", "x", "64,", "1,2,3", "-4"] {
            assert!(TlbConfig::parse_entries(bad).unwrap_err().contains("ENTRIES"), "{bad}");
        }
        // A shape that is not a whole number of sets.
        assert!(TlbConfig::parse_entries("3").is_err());
    }

    fn tlb() -> Tlb {
        Tlb::new(TlbConfig::default(), 512)
    }

    #[test]
    fn a_working_set_within_reach_misses_once_per_page() {
        let mut t = tlb();
        for _ in 0..10 {
            for v in 0..64 {
                t.reference(ProcessId(0), Vpn(v), false);
            }
        }
        assert_eq!(t.small_misses, 64, "64 pages fit 64 entries (16 sets of 4, consecutive pages spread)");
    }

    #[test]
    fn beyond_reach_small_pages_miss_and_large_ones_do_not() {
        // 1024 pages (4 MiB) cycled ten times: LRU over 64 entries misses
        // every time; as two large pages, twice.
        let (mut small, mut large) = (tlb(), tlb());
        for _ in 0..10 {
            for v in 0..1024 {
                small.reference(ProcessId(0), Vpn(v), false);
                large.reference(ProcessId(0), Vpn(v), true);
            }
        }
        assert_eq!(small.small_misses, 10_240);
        assert_eq!(large.large_misses, 2);
        assert_eq!(small.misses_if_large, 2, "what the same references would miss on large pages");
    }

    #[test]
    fn processes_do_not_share_entries_and_faults_always_miss() {
        let mut t = tlb();
        t.reference(ProcessId(0), Vpn(5), false);
        assert!(t.reference(ProcessId(1), Vpn(5), false), "another process's page 5");
        t.fault(ProcessId(0), Vpn(5), false);
        assert_eq!(t.small_misses, 3);
    }

    #[test]
    fn shapes_are_checked() {
        assert!(TlbConfig::default().validate().is_ok());
        assert!(TlbConfig { entries: 1536, large_entries: 32, ways: 12 }.validate().is_err(), "32 is not 12-way");
        assert!(TlbConfig { entries: 1536, large_entries: 48, ways: 12 }.validate().is_ok());
        assert!(TlbConfig { entries: 64, large_entries: 32, ways: 0 }.validate().is_err());
        assert!(TlbConfig { entries: 64, large_entries: 6, ways: 4 }.validate().is_err());
    }
}
