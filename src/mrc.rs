//! Miss-ratio curves: misses against working-set size, for every size at
//! once where the policy allows it.
//!
//! LRU is a *stack algorithm* (Mattson, Gecsei, Slutz and Traiger, 1970):
//! the pages an LRU working set of k frames holds are always among those a
//! working set of k + 1 frames holds, so one ordering of the pages, the LRU
//! stack (most recently used on top), serves every size. A reference to the
//! page at depth d of the stack hits in every working set of at least d
//! frames and misses in every smaller one; a page never referenced before
//! misses at every size. One pass that records the depth of each reference
//! (its *reuse distance*) therefore gives the whole curve:
//! `misses(k) = first touches + #{references of depth > k}`.
//!
//! [`LruStack`] finds each depth with a Fenwick tree over time: every page
//! has a mark at the position of its last use, so the depth of a reference
//! to a page last used at position l is one more than the number of marks
//! after l. Each reference costs two updates and a prefix sum, O(log n);
//! when the positions run out, the marks are renumbered in order, so the
//! tree stays within a small multiple of the pages in use, not the trace's
//! length, and the trace streams.
//!
//! Misses are counted as `pagelab replay` counts faults: every reference
//! that missed the working set, the first touch of each page (a demand-zero
//! fault, a compulsory miss) included; a reference beyond user space is
//! an access violation, counted among the references but not a miss. The
//! other policies are not stack algorithms (FIFO shows Belady's anomaly),
//! so their curves come from one replay per size (`cli/mrc.rs`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::BufRead;

use serde::Serialize;

use crate::trace::{TraceError, TraceFormat, TraceReader, TraceRef};

/// One point of a curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Working-set maximum, in frames.
    pub frames: u64,
    /// References in the trace (access violations included, as in replay).
    pub references: u64,
    /// References that missed the working set, first touches included.
    pub misses: u64,
    /// `misses / (references - access violations)`: replay's `fault_rate`.
    pub miss_ratio: f64,
}

/// A policy's curve.
#[derive(Clone, Debug, Serialize)]
pub struct Curve {
    /// Policy name, as `--policy` takes it.
    pub policy: String,
    /// How the points were found: `stack` (one pass, every size) or
    /// `replay` (one replay of the machine per size).
    pub method: &'static str,
    /// Points in increasing size.
    pub points: Vec<Point>,
}

/// The reuse distances of a trace: what one pass of [`LruStack`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackDistances {
    /// References, access violations included.
    pub references: u64,
    /// References beyond user space.
    pub access_violations: u64,
    /// First touches: the distinct pages, compulsory misses at every size.
    pub compulsory: u64,
    /// `beyond[k]`: references of depth greater than k that were not first
    /// touches, for k = 0 ..= the deepest depth seen.
    beyond: Vec<u64>,
}

impl StackDistances {
    /// LRU misses with a working set of `frames` frames, first touches
    /// included.
    pub fn misses(&self, frames: u64) -> u64 {
        let k = usize::try_from(frames).unwrap_or(usize::MAX);
        self.compulsory + self.beyond.get(k).copied().unwrap_or(0)
    }

    /// References that reached a valid address.
    pub fn valid_references(&self) -> u64 {
        self.references - self.access_violations
    }

    /// The point at `frames`.
    pub fn point(&self, frames: u64) -> Point {
        let misses = self.misses(frames);
        Point { frames, references: self.references, misses, miss_ratio: ratio(misses, self.valid_references()) }
    }

    /// The LRU curve at `sizes`.
    pub fn curve(&self, sizes: &[u64]) -> Curve {
        Curve { policy: "lru".into(), method: "stack", points: sizes.iter().map(|&f| self.point(f)).collect() }
    }

    /// The deepest reuse depth seen: beyond it, only first touches miss.
    pub fn max_depth(&self) -> u64 {
        self.beyond.len().saturating_sub(1) as u64
    }
}

/// `misses / references`, 0 for an empty trace (as replay's `fault_rate`).
pub fn ratio(misses: u64, references: u64) -> f64 {
    if references == 0 {
        0.0
    } else {
        misses as f64 / references as f64
    }
}

/// A multiplicative hash for page numbers (no SipHash on the hot path).
#[derive(Default)]
struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 32;
    }
}

/// No position: a page not seen yet.
const NONE: u32 = u32::MAX;

/// Page numbers below this are kept in a table indexed by page (4 bytes a
/// page, grown as pages appear: 16 MiB at most); larger ones in a hash map.
const DENSE_PAGES: u64 = 1 << 22;

/// The position of each page's last use.
#[derive(Default)]
struct LastUse {
    dense: Vec<u32>,
    sparse: HashMap<u64, u32, BuildHasherDefault<PageHasher>>,
}

impl LastUse {
    #[inline]
    fn get(&self, page: u64) -> u32 {
        if page < DENSE_PAGES {
            self.dense.get(page as usize).copied().unwrap_or(NONE)
        } else {
            self.sparse.get(&page).copied().unwrap_or(NONE)
        }
    }

    #[inline]
    fn set(&mut self, page: u64, pos: u32) {
        if page < DENSE_PAGES {
            let i = page as usize;
            if i >= self.dense.len() {
                // A quarter more than needed, as the machine's arrays grow.
                let want = (i + 1).max(self.dense.len() + self.dense.len() / 4).min(DENSE_PAGES as usize);
                self.dense.resize(want, NONE);
            }
            self.dense[i] = pos;
        } else {
            self.sparse.insert(page, pos);
        }
    }
}

/// The fewest positions the tree is built with.
const MIN_POSITIONS: usize = 1 << 12;

/// Mattson's LRU stack, one reference at a time (see the module docs).
pub struct LruStack {
    /// One past the last user page: pages at or beyond it are access
    /// violations.
    end_page: u64,
    last: LastUse,
    /// Fenwick tree (1-based) over positions: 1 where a page was last used.
    tree: Vec<u32>,
    /// The page last used at each position (valid where the mark is set).
    owner: Vec<u64>,
    /// The next position.
    now: u32,
    /// `hist[d]`: references of depth d (d >= 1).
    hist: Vec<u64>,
    references: u64,
    access_violations: u64,
    /// Distinct valid pages so far: the marks in the tree.
    distinct: u64,
}

impl LruStack {
    /// An empty stack; pages at or beyond `end_page` are outside user space.
    pub fn new(end_page: u64) -> LruStack {
        LruStack {
            end_page,
            last: LastUse::default(),
            tree: vec![0; MIN_POSITIONS + 1],
            owner: vec![0; MIN_POSITIONS],
            now: 0,
            hist: vec![0; 2],
            references: 0,
            access_violations: 0,
            distinct: 0,
        }
    }

    /// The number of marks at positions `from + 1 ..= to - 1`: the two
    /// prefix sums' paths down the tree, walked until they meet (what is
    /// below the meeting node cancels), so a reference to a page used a
    /// moment ago reads a few nodes, not the tree's height.
    #[inline]
    fn between(&self, from: u32, to: u32) -> u64 {
        // prefix(k) sums 1-based nodes 1..=k: 0-based positions below k.
        let (mut i, mut j) = (to as usize, from as usize + 1);
        let mut sum = 0u32;
        while i != j {
            if i > j {
                sum = sum.wrapping_add(self.tree[i]);
                i &= i - 1;
            } else {
                sum = sum.wrapping_sub(self.tree[j]);
                j &= j - 1;
            }
        }
        sum as u64
    }

    /// Moves a mark from position `from` to the later position `to`: the
    /// two updates' paths up the tree until they meet (above it, -1 and
    /// +1 cancel).
    #[inline]
    fn move_mark(&mut self, from: u32, to: u32) {
        let n = self.tree.len();
        let (mut i, mut j) = (from as usize + 1, to as usize + 1);
        while i != j && (i < n || j < n) {
            if i < j {
                self.tree[i] = self.tree[i].wrapping_sub(1);
                i += i & i.wrapping_neg();
            } else {
                self.tree[j] += 1;
                j += j & j.wrapping_neg();
            }
        }
    }

    /// Adds a mark at `pos`.
    #[inline]
    fn add(&mut self, pos: u32) {
        let n = self.tree.len();
        let mut i = pos as usize + 1;
        while i < n {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Renumbers the marks 0, 1, 2, ... in order and rebuilds the tree with
    /// room for as many positions again (at least [`MIN_POSITIONS`]).
    #[cold]
    fn compact(&mut self) {
        let live = self.distinct as usize;
        let cap = (2 * live).max(MIN_POSITIONS);
        let mut owner = Vec::with_capacity(cap);
        for pos in 0..self.now {
            let page = self.owner[pos as usize];
            if self.last.get(page) == pos {
                self.last.set(page, owner.len() as u32);
                owner.push(page);
            }
        }
        debug_assert_eq!(owner.len(), live);
        owner.resize(cap, 0);
        self.owner = owner;
        self.now = live as u32;
        // A tree of ones at 1..=live, built in linear time.
        let mut tree = vec![0u32; cap + 1];
        for i in 1..=cap {
            if i <= live {
                tree[i] += 1;
            }
            let parent = i + (i & i.wrapping_neg());
            if parent <= cap {
                tree[parent] += tree[i];
            }
        }
        self.tree = tree;
    }

    /// One reference to `page`; returns its depth in the stack (`None`
    /// for a first touch or an access violation).
    #[inline]
    pub fn push(&mut self, page: u64) -> Option<u64> {
        self.references += 1;
        if page >= self.end_page {
            self.access_violations += 1;
            return None;
        }
        if self.now as usize == self.owner.len() {
            self.compact();
        }
        let last = self.last.get(page);
        let now = self.now;
        let depth = if last == NONE {
            self.distinct += 1;
            self.add(now);
            None
        } else {
            let d = self.between(last, now) + 1;
            self.move_mark(last, now);
            let i = d as usize;
            if i >= self.hist.len() {
                self.hist.resize(i + 1 + self.hist.len() / 4, 0);
            }
            self.hist[i] += 1;
            Some(d)
        };
        self.owner[now as usize] = page;
        self.last.set(page, now);
        self.now += 1;
        depth
    }

    /// References seen so far.
    pub fn references(&self) -> u64 {
        self.references
    }

    /// Host memory held: the tree, the owners, the page table and the
    /// histogram, in bytes (roughly; the hash map counted at 16 bytes an
    /// entry).
    pub fn host_bytes(&self) -> u64 {
        (self.tree.capacity() * 4
            + self.owner.capacity() * 8
            + self.last.dense.capacity() * 4
            + self.last.sparse.capacity() * 16
            + self.hist.capacity() * 8) as u64
    }

    /// The distances found: suffix sums of the depth histogram.
    pub fn finish(self) -> StackDistances {
        let deepest = self.hist.iter().rposition(|&n| n > 0).unwrap_or(0);
        let mut beyond = vec![0u64; deepest + 1];
        let mut sum = 0;
        for k in (0..=deepest).rev() {
            beyond[k] = sum;
            sum += self.hist[k];
        }
        StackDistances {
            references: self.references,
            access_violations: self.access_violations,
            compulsory: self.distinct,
            beyond,
        }
    }
}

/// Why an LRU pass stopped.
#[derive(Debug)]
pub enum PassError {
    /// The trace is malformed here.
    Trace(TraceError),
    /// The stack outgrew the host-memory limit.
    HostMemory(String),
}

/// One LRU pass over a trace read as a stream, in batches; `check` sees
/// the stack every 64 batches and at the end, and stops the pass with an
/// error (the host-memory check).
pub fn lru_pass(
    input: impl BufRead,
    format: TraceFormat,
    end_page: u64,
    mut check: impl FnMut(&LruStack) -> Result<(), PassError>,
) -> Result<StackDistances, PassError> {
    const BATCH: usize = 4096;
    let mut reader = TraceReader::new(input, format);
    let mut stack = LruStack::new(end_page);
    let mut refs: Vec<TraceRef> = Vec::with_capacity(BATCH);
    let mut batches = 0u64;
    loop {
        refs.clear();
        let stop = reader.read_batch(&mut refs, BATCH);
        for r in &refs {
            stack.push(r.page);
        }
        batches += 1;
        if batches % 64 == 0 {
            check(&stack)?;
        }
        if let Some(e) = stop {
            return Err(PassError::Trace(e));
        }
        if refs.len() < BATCH {
            check(&stack)?;
            return Ok(stack.finish());
        }
    }
}

/// The LRU stack distances of pages already in memory.
pub fn lru_distances(pages: &[u64], end_page: u64) -> StackDistances {
    let mut s = LruStack::new(end_page);
    for &p in pages {
        s.push(p);
    }
    s.finish()
}

/// Sizes for a curve when none are given: every size from 1 to the
/// footprint when it is at most [`EVERY_SIZE_UP_TO`] pages, otherwise
/// [`GEOMETRIC_POINTS`] sizes spaced evenly on a logarithmic scale from 1
/// to the footprint (rounded, duplicates dropped).
pub fn default_sizes(footprint: u64) -> Vec<u64> {
    let f = footprint.max(1);
    if f <= EVERY_SIZE_UP_TO {
        return (1..=f).collect();
    }
    let n = GEOMETRIC_POINTS;
    let mut v: Vec<u64> =
        (0..n).map(|i| ((f as f64).powf(i as f64 / (n - 1) as f64).round() as u64).clamp(1, f)).collect();
    v.dedup();
    if v.last() != Some(&f) {
        v.push(f);
    }
    v
}

/// See [`default_sizes`].
pub const EVERY_SIZE_UP_TO: u64 = 64;
/// See [`default_sizes`].
pub const GEOMETRIC_POINTS: u64 = 40;

/// The largest size `--sizes` takes: the replay machine's memory is four
/// times the frames, within [`crate::config::MAX_MEMORY`].
pub fn max_size() -> u64 {
    crate::config::MAX_MEMORY.0 / (4 * 4096)
}

/// Parses `--sizes`: sizes in frames separated by commas, each `N`, a
/// range `A-B` (every size from A to B) or `A-B/S` (A, A + S, ... up to
/// B). Returns them sorted, without duplicates.
pub fn parse_sizes(s: &str) -> Result<Vec<u64>, String> {
    let num = |t: &str, what: &str| -> Result<u64, String> {
        let t = t.trim();
        let v: u64 = t
            .parse()
            .map_err(|_| format!("{what} {t:?} is not a whole number of frames (e.g. 64, 1-16 or 16-1024/16)"))?;
        if v == 0 {
            return Err(format!("{what} 0: a working set holds at least 1 frame"));
        }
        if v > max_size() {
            return Err(format!("{what} {v}: the most is {} frames", max_size()));
        }
        Ok(v)
    };
    const MAX_POINTS: u64 = 1 << 20;
    let mut out = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("{s:?}: an empty size (two commas, or a comma at an end)"));
        }
        match item.split_once('-') {
            None => out.push(num(item, "size")?),
            Some((a, rest)) => {
                let (b, step) = match rest.split_once('/') {
                    None => (rest, 1),
                    Some((b, st)) => (b, num(st, "step")?),
                };
                let (a, b) = (num(a, "size")?, num(b, "size")?);
                if a > b {
                    return Err(format!("range {item:?}: the first size is larger than the last"));
                }
                if (b - a) / step + 1 + out.len() as u64 > MAX_POINTS {
                    return Err(format!("range {item:?}: more than {MAX_POINTS} sizes"));
                }
                out.extend((a..=b).step_by(step as usize));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The curve as CSV rows (no header), for [`CSV_HEADER`]: `compulsory` is
/// how many of each point's misses were first touches.
pub fn csv_rows(curve: &Curve, compulsory: u64) -> String {
    let mut s = String::new();
    for p in &curve.points {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            curve.policy, p.frames, p.references, p.misses, p.miss_ratio, compulsory
        ));
    }
    s
}

/// The header of `pagelab mrc`'s CSV.
pub const CSV_HEADER: &str = "policy,frames,references,misses,miss_ratio,compulsory\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Misses of LRU with `frames` frames, simulated directly.
    fn lru_direct(refs: &[u64], frames: usize) -> u64 {
        let mut stack: Vec<u64> = Vec::new();
        let mut misses = 0;
        for &r in refs {
            match stack.iter().position(|&p| p == r) {
                Some(i) => {
                    stack.remove(i);
                }
                None => {
                    misses += 1;
                    if stack.len() == frames {
                        stack.remove(0);
                    }
                }
            }
            stack.push(r);
        }
        misses
    }

    const END: u64 = 1 << 35;

    #[test]
    fn belady_string_by_the_stack() {
        let b = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        let d = lru_distances(&b, END);
        let lru: Vec<u64> = (1..=6).map(|f| d.misses(f)).collect();
        assert_eq!(lru, [12, 12, 10, 8, 5, 5]);
        assert_eq!(d.compulsory, 5);
        assert_eq!(d.references, 12);
        let s = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(lru_distances(&s, END).misses(3), 12);
    }

    #[test]
    fn depths_are_reuse_distances() {
        let mut s = LruStack::new(END);
        let got: Vec<Option<u64>> = [1, 2, 3, 1, 1, 3, 2].iter().map(|&p| s.push(p)).collect();
        assert_eq!(got, [None, None, None, Some(3), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn the_stack_agrees_with_direct_lru_through_compactions() {
        // Pages dense and sparse, a footprint small and larger than the
        // tree's first size, so that positions are renumbered many times.
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (pages, refs) in [(10u64, 20_000usize), (300, 30_000), (5000, 40_000)] {
            // Every fifth reference to a page far above the dense table.
            let trace: Vec<u64> = (0..refs)
                .map(|_| {
                    let r = next();
                    (r % pages) + if r % 5 == 0 { 1 << 30 } else { 0 }
                })
                .collect();
            let d = lru_distances(&trace, END);
            for f in [1, 2, 3, 5, 8, 13, 64, 100, 1000, 5000] {
                if f <= 100 || refs <= 30_000 {
                    assert_eq!(d.misses(f), lru_direct(&trace, f as usize), "pages {pages}, frames {f}");
                }
            }
        }
    }

    #[test]
    fn pages_beyond_user_space_are_violations_not_misses() {
        let d = lru_distances(&[1, 50, 2, 50, 1], 10);
        assert_eq!((d.references, d.access_violations, d.compulsory), (5, 2, 2));
        assert_eq!(d.misses(1), 3);
        assert_eq!(d.misses(2), 2);
        assert_eq!(d.point(2).miss_ratio, 2.0 / 3.0);
    }

    #[test]
    fn an_empty_trace_has_a_flat_curve() {
        let d = lru_distances(&[], END);
        assert_eq!((d.misses(1), d.point(1).miss_ratio), (0, 0.0));
    }

    #[test]
    fn sizes_parse_and_refuse() {
        assert_eq!(parse_sizes("4,1,2-3,8-16/4").unwrap(), [1, 2, 3, 4, 8, 12, 16]);
        assert_eq!(parse_sizes(" 2 , 2 ").unwrap(), [2]);
        for bad in ["", "0", "1,,2", "a", "5-2", "1-8/0", "1.5", "-3"] {
            assert!(parse_sizes(bad).is_err(), "{bad:?}");
        }
        assert!(parse_sizes("0").unwrap_err().contains("at least 1 frame"));
    }

    #[test]
    fn default_sizes_cover_the_footprint() {
        assert_eq!(default_sizes(5), [1, 2, 3, 4, 5]);
        assert_eq!(default_sizes(0), [1]);
        let v = default_sizes(100_000);
        assert_eq!((v[0], *v.last().unwrap()), (1, 100_000));
        assert!(v.windows(2).all(|w| w[0] < w[1]) && v.len() <= GEOMETRIC_POINTS as usize);
    }
}
