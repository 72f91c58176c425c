//! Fragmentation of free physical memory, measured the way Linux measures it.
//!
//! A buddy allocator keeps free memory as blocks of 2^k pages, each
//! starting at a multiple of 2^k frames: a block of **order** k. A 4 KiB
//! page is order 0; the x64 large page, 2 MiB, is order 9. How many free
//! blocks there are of each order is the **free-block distribution**, what
//! Linux prints per zone in `/proc/buddyinfo`. [`FreeBlocks`] holds one,
//! read from a buddyinfo text ([`FreeBlocks::from_buddyinfo`]) or computed
//! for a set of free frame runs ([`FreeBlocks::from_free_runs`]), which is
//! how pagelab's own memory, whose free frames are not kept in buddy lists,
//! gets the same figures.
//!
//! From a distribution come the two indices Linux computes in
//! `mm/vmstat.c` and shows in `/sys/kernel/debug/extfrag/` (MODEL.md s5),
//! both per order k and in thousandths:
//!
//! - the **unusable free space index**: the share of free memory that is
//!   in blocks too small for an allocation of order k, 0 (none) to 1000
//!   (all of it; also when nothing is free);
//! - the **fragmentation index**: meaningful only when an allocation of
//!   order k would fail (no free block of order k or more, else -1000); then
//!   near 0 the failure is for lack of memory, near 1000 for fragmentation.
//!
//! The arithmetic is the kernel's, integer divisions included, done in
//! 128 bits: the figures are the kernel's wherever its 64-bit arithmetic
//! does not wrap, which for real memory is everywhere.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::units::{Bytes, Pfn, PAGE_SIZE};

/// The order of a block: a block of order k is 2^k pages, and starts at a
/// frame number that is a multiple of 2^k.
///
/// Invariant: at most [`Order::MAX_SUPPORTED`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Order(u8);

impl Order {
    /// Order 0: one 4 KiB page.
    pub const BASE: Order = Order(0);
    /// Order 9: 2 MiB, the x64 large page (GetLargePageMinimum, MODEL.md s5).
    pub const LARGE_PAGE: Order = Order(9);
    /// The highest order of Linux's buddy allocator on x86-64
    /// (MAX_PAGE_ORDER 10, so `/proc/buddyinfo` has 11 columns): 4 MiB.
    pub const LINUX_X86_64_MAX: Order = Order(10);
    /// The highest order pagelab handles: 2^32 pages (16 TiB) in a block,
    /// far beyond any kernel's buddy allocator.
    pub const MAX_SUPPORTED: Order = Order(32);

    /// Order `k`, or `None` above [`Order::MAX_SUPPORTED`].
    pub fn try_new(k: u8) -> Option<Order> {
        (k <= Self::MAX_SUPPORTED.0).then_some(Order(k))
    }

    /// Order `k`.
    ///
    /// # Panics
    /// Above [`Order::MAX_SUPPORTED`].
    pub fn new(k: u8) -> Order {
        Self::try_new(k)
            .unwrap_or_else(|| panic!("order {k} is above the highest supported, {}", Self::MAX_SUPPORTED.0))
    }

    /// k, as a number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The pages in a block of this order: 2^k.
    pub fn pages(self) -> u64 {
        1 << self.0
    }

    /// The size of a block of this order.
    pub fn bytes(self) -> Bytes {
        Bytes(PAGE_SIZE << self.0)
    }

    /// Every order from 0 to `self`, in order.
    pub fn up_to(self) -> impl Iterator<Item = Order> {
        (0..=self.0).map(Order)
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order {}", self.0)
    }
}

/// A fragmentation index in thousandths, as the kernel computes it: 123 is
/// the kernel's 0.123, -1000 its -1.000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Thousandths(pub i32);

impl Thousandths {
    /// The index as the kernel prints it: the quotient and the remainder of
    /// a division by 1000, the first right-aligned in `width` columns, the
    /// second zero-padded to 3 (`%2d.%03d` for `extfrag_index`, width 2;
    /// `%d.%03d` for `unusable_index`, width 0). Like the kernel, an index
    /// between -1000 and 0 comes out with its sign after the point:
    /// -500 is `0.-500`.
    pub fn kernel_text(self, width: usize) -> String {
        // Rust's / and % truncate toward zero, as C's do, and Rust's
        // zero padding puts the sign first, as printf's does.
        format!("{:width$}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Thousandths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kernel_text(0))
    }
}

/// What Linux's `fill_contig_page_info` gathers for one order k (Linux
/// mm/vmstat.c): the inputs of both indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ContigInfo {
    /// Free pages, over every order.
    pub free_pages: u64,
    /// Free blocks, over every order, each counted once whatever its size.
    pub free_blocks_total: u64,
    /// Blocks of order k to be had from the free blocks of order k or
    /// more, a block of order j counting as 2^(j-k) of them.
    pub free_blocks_suitable: u64,
}

/// Why a list of free-block counts is not a distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CountsError {
    /// No counts at all: not even order 0.
    #[error("no free-block counts: expected one per order, from order 0")]
    NoOrders,
    /// More orders than pagelab handles.
    #[error("{0} orders: at most {n} (orders 0 to {max})", n = Order::MAX_SUPPORTED.0 as usize + 1, max = Order::MAX_SUPPORTED.0)]
    TooManyOrders(usize),
    /// The free pages do not fit in 64 bits.
    #[error("the free pages do not fit in 64 bits")]
    TooManyPages,
}

/// How many free blocks there are of each order, 0 to a highest order, as
/// a buddy allocator holds them.
///
/// Invariant: the free pages, the sum of every count times its block's
/// pages, fit in a `u64` (so does every figure derived from them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeBlocks {
    counts: Vec<u64>,
    free_pages: u64,
}

/// A run of free frames: `frames` frames from `start` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FreeRun {
    /// The first frame of the run.
    pub start: Pfn,
    /// How many frames it has.
    pub frames: u32,
}

impl FreeBlocks {
    /// No free block, with orders 0 to `highest`.
    pub fn empty(highest: Order) -> FreeBlocks {
        FreeBlocks { counts: vec![0; highest.0 as usize + 1], free_pages: 0 }
    }

    /// The distribution with `counts[k]` free blocks of order k; the highest
    /// order is the last count's.
    pub fn from_counts(counts: &[u64]) -> Result<FreeBlocks, CountsError> {
        if counts.is_empty() {
            return Err(CountsError::NoOrders);
        }
        if counts.len() > Order::MAX_SUPPORTED.0 as usize + 1 {
            return Err(CountsError::TooManyOrders(counts.len()));
        }
        let mut free_pages: u64 = 0;
        for (k, &n) in counts.iter().enumerate() {
            free_pages =
                pages_of(n, k as u32).and_then(|p| free_pages.checked_add(p)).ok_or(CountsError::TooManyPages)?;
        }
        Ok(FreeBlocks { counts: counts.to_vec(), free_pages })
    }

    /// The distribution a buddy allocator with orders 0 to `highest` would
    /// hold if exactly the frames of `runs` were free.
    ///
    /// Runs may touch or overlap: the free frames are their union, and
    /// runs that touch make one run, as a buddy allocator merges free
    /// buddies. Each run is split, from its start, into the largest blocks
    /// that are naturally aligned (a block of order k starts at a frame
    /// number that is a multiple of 2^k) and no larger than `highest`. A
    /// real allocator also never merges across zones (or NUMA nodes): give
    /// each its own runs.
    pub fn from_free_runs(runs: impl IntoIterator<Item = FreeRun>, highest: Order) -> FreeBlocks {
        let mut spans: Vec<(u64, u64)> = runs
            .into_iter()
            .filter(|r| r.frames > 0)
            .map(|r| (r.start.0 as u64, r.start.0 as u64 + r.frames as u64))
            .collect();
        spans.sort_unstable();
        let mut blocks = FreeBlocks::empty(highest);
        let mut current: Option<(u64, u64)> = None;
        for (start, end) in spans {
            match &mut current {
                Some((_, e)) if start <= *e => *e = (*e).max(end),
                _ => {
                    if let Some((s, e)) = current.replace((start, end)) {
                        blocks.add_span(s, e);
                    }
                }
            }
        }
        if let Some((s, e)) = current {
            blocks.add_span(s, e);
        }
        blocks
    }

    /// Adds the blocks of the free frames `start..end`, which touch no other
    /// free frame. Frame numbers are below 2^33, so nothing overflows.
    fn add_span(&mut self, mut start: u64, end: u64) {
        let highest = self.highest_order().0 as u32;
        while start < end {
            let aligned = if start == 0 { highest } else { start.trailing_zeros().min(highest) };
            let fits = (end - start).ilog2();
            if aligned == highest && fits >= highest {
                // Every block of the highest order at once.
                let n = (end - start) >> highest;
                self.counts[highest as usize] += n;
                self.free_pages += n << highest;
                start += n << highest;
                continue;
            }
            let k = aligned.min(fits);
            self.counts[k as usize] += 1;
            self.free_pages += 1 << k;
            start += 1 << k;
        }
    }

    /// The sum of two distributions (over two zones, say), with the higher
    /// of their highest orders; `None` if the free pages would not fit in
    /// 64 bits.
    pub fn checked_add(&self, other: &FreeBlocks) -> Option<FreeBlocks> {
        let (long, short) = if self.counts.len() >= other.counts.len() { (self, other) } else { (other, self) };
        let mut counts = long.counts.clone();
        for (c, &n) in counts.iter_mut().zip(&short.counts) {
            *c = c.checked_add(n)?;
        }
        let free_pages = self.free_pages.checked_add(other.free_pages)?;
        Some(FreeBlocks { counts, free_pages })
    }

    /// The highest order.
    pub fn highest_order(&self) -> Order {
        Order((self.counts.len() - 1) as u8)
    }

    /// Every order's count of free blocks, from order 0.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The free blocks of order `k` (0 above the highest order).
    pub fn blocks(&self, k: Order) -> u64 {
        self.counts.get(k.0 as usize).copied().unwrap_or(0)
    }

    /// The free pages, over every order.
    pub fn free_pages(&self) -> u64 {
        self.free_pages
    }

    /// The free blocks, over every order, whatever their size.
    pub fn free_blocks_total(&self) -> u64 {
        // At most the free pages, so it fits.
        self.counts.iter().sum()
    }

    /// What Linux's `fill_contig_page_info` gathers for order `k` (Linux
    /// mm/vmstat.c): the free pages, the free blocks, and the blocks of order
    /// k to be had from the blocks of order k or more.
    pub fn contig_info(&self, k: Order) -> ContigInfo {
        let suitable: u64 =
            self.counts.iter().enumerate().skip(k.0 as usize).map(|(j, &n)| n << (j - k.0 as usize)).sum();
        ContigInfo {
            free_pages: self.free_pages,
            free_blocks_total: self.free_blocks_total(),
            free_blocks_suitable: suitable,
        }
    }

    /// How many blocks of order `k` free memory alone could give, without
    /// moving a page: each free block of order j >= k is 2^(j-k) of them
    /// (0 above the highest order).
    pub fn available_blocks(&self, k: Order) -> u64 {
        self.contig_info(k).free_blocks_suitable
    }

    /// The largest free block's order, `None` when nothing is free.
    pub fn largest_block(&self) -> Option<Order> {
        self.counts.iter().rposition(|&n| n > 0).map(|k| Order(k as u8))
    }

    /// Linux's unusable free space index for order `k`
    /// (`unusable_free_index`, Linux mm/vmstat.c): the share of free pages
    /// in blocks smaller than order k, in thousandths, rounded down:
    ///
    /// `(free_pages - (free_blocks_suitable << k)) * 1000 / free_pages`,
    ///
    /// and 1000 when nothing is free (all of no memory is unusable). Above
    /// the highest order nothing is suitable, so it is 1000.
    pub fn unusable_index(&self, k: Order) -> Thousandths {
        let info = self.contig_info(k);
        if info.free_pages == 0 {
            return Thousandths(1000);
        }
        let free = info.free_pages as u128;
        let usable = (info.free_blocks_suitable as u128) << k.0;
        Thousandths(((free - usable) * 1000 / free) as i32)
    }

    /// Linux's fragmentation index for order `k` (`__fragmentation_index`,
    /// Linux mm/vmstat.c), in thousandths:
    ///
    /// - 0 when nothing is free (`free_blocks_total` is 0), and above the
    ///   highest order, where the kernel warns and answers 0;
    /// - -1000 when a block of order k or more is free: the allocation
    ///   would not fail, and the index means nothing;
    /// - otherwise `1000 - (1000 + free_pages * 1000 / 2^k) / free_blocks_total`,
    ///   both divisions rounded down: near 0 the allocation fails for lack
    ///   of memory, near 1000 because free memory is in pieces too small.
    ///   With few free blocks it goes below 0 (to -500 at least).
    pub fn extfrag_index(&self, k: Order) -> Thousandths {
        if k > self.highest_order() {
            return Thousandths(0);
        }
        let info = self.contig_info(k);
        if info.free_blocks_total == 0 {
            return Thousandths(0);
        }
        if info.free_blocks_suitable > 0 {
            return Thousandths(-1000);
        }
        let requested = 1u128 << k.0;
        let share = (1000 + info.free_pages as u128 * 1000 / requested) / info.free_blocks_total as u128;
        // Every free block is below order k, so free_pages is at most
        // free_blocks_total * 2^(k-1) and share at most 1500.
        Thousandths(1000 - share as i32)
    }

    /// Every order's figures, from order 0 to the highest.
    pub fn per_order(&self) -> Vec<OrderFigures> {
        self.highest_order()
            .up_to()
            .map(|k| OrderFigures {
                order: k,
                block_pages: k.pages(),
                free_blocks: self.blocks(k),
                unusable_index: self.unusable_index(k),
                extfrag_index: self.extfrag_index(k),
                blocks_available: self.available_blocks(k),
            })
            .collect()
    }

    /// The figures of the whole distribution: free pages and blocks, the
    /// largest free block, the 2 MiB blocks to be had, and every order's.
    pub fn figures(&self) -> Figures {
        Figures {
            free_pages: self.free_pages,
            free_blocks: self.free_blocks_total(),
            largest_free_block: self.largest_block().map(|k| LargestBlock {
                order: k,
                pages: k.pages(),
                bytes: k.bytes().0,
            }),
            large_pages_free: self.available_blocks(Order::LARGE_PAGE),
            orders: self.per_order(),
        }
    }

    /// Reads a `/proc/buddyinfo` text: one line per zone,
    ///
    /// ```text
    /// Node 0, zone   Normal   1046    527    128     36     17      5     26     40     13     16    940
    /// ```
    ///
    /// the node, the zone's name, then the free blocks of each order from 0
    /// (11 orders on x86-64; any number from 1 to 33, the same on every
    /// line). Blank lines are skipped. Returns every zone's distribution,
    /// in the order of the text, and their sum.
    pub fn from_buddyinfo(text: &str) -> Result<Buddyinfo, BuddyinfoError> {
        parse_buddyinfo(text)
    }
}

/// `n` blocks of order `k` in pages, if that fits in 64 bits.
fn pages_of(n: u64, k: u32) -> Option<u64> {
    (n <= u64::MAX >> k).then(|| n << k)
}

/// One order's figures, as `pagelab fragmentation` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OrderFigures {
    /// The order.
    pub order: Order,
    /// Pages in a block of this order.
    pub block_pages: u64,
    /// Free blocks of this order.
    pub free_blocks: u64,
    /// [`FreeBlocks::unusable_index`], in thousandths.
    pub unusable_index: Thousandths,
    /// [`FreeBlocks::extfrag_index`], in thousandths.
    pub extfrag_index: Thousandths,
    /// [`FreeBlocks::available_blocks`]: blocks of this order to be had
    /// from free memory alone.
    pub blocks_available: u64,
}

/// The largest free block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LargestBlock {
    /// Its order.
    pub order: Order,
    /// Its pages.
    pub pages: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The figures of one distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Free pages.
    pub free_pages: u64,
    /// Free blocks, whatever their size.
    pub free_blocks: u64,
    /// The largest free block (`None`, `null` in JSON, when nothing is free).
    pub largest_free_block: Option<LargestBlock>,
    /// 2 MiB blocks (order 9, the x64 large page) to be had from free
    /// memory alone.
    pub large_pages_free: u64,
    /// Every order's figures.
    pub orders: Vec<OrderFigures>,
}

/// One zone of a buddyinfo text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneBlocks {
    /// The NUMA node.
    pub node: u32,
    /// The zone's name (DMA, DMA32, Normal, HighMem, Movable, ...).
    pub zone: String,
    /// Its free blocks.
    pub blocks: FreeBlocks,
    /// The line it was on (1-based).
    pub line: u64,
}

/// A buddyinfo text, read: every zone, and the sum over all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buddyinfo {
    /// Every zone, in the order of the text.
    pub zones: Vec<ZoneBlocks>,
    /// The sum over every zone and node.
    pub total: FreeBlocks,
}

/// A malformed buddyinfo text: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuddyinfoError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub col: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for BuddyinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for BuddyinfoError {}

/// How a well-formed line looks, for error messages.
const EXAMPLE_LINE: &str = "\"Node 0, zone Normal 1046 527 128 ...\"";

/// A position in one line of the text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The 1-based column, in characters, of byte offset `pos`.
    fn col_at(&self, pos: usize) -> u64 {
        self.text[..pos].chars().count() as u64 + 1
    }

    fn err_at(&self, pos: usize, message: impl Into<String>) -> BuddyinfoError {
        BuddyinfoError { line: self.line, col: self.col_at(pos), message: message.into() }
    }

    /// The next word (after spaces): its byte offset and text, cut at
    /// whitespace and, if `comma_ends` is set, at a comma. Empty at the end.
    fn word(&mut self, comma_ends: bool) -> (usize, &'a str) {
        self.skip_spaces();
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| c.is_whitespace() || (comma_ends && c == ',')).unwrap_or(rest.len());
        let at = self.pos;
        self.pos += len;
        (at, &rest[..len])
    }

    /// What was found, for a message: the word in quotes, or "the end of
    /// the line".
    fn found(word: &str) -> String {
        if word.is_empty() {
            "the end of the line".to_string()
        } else {
            format!("{word:?}")
        }
    }
}

fn parse_buddyinfo(text: &str) -> Result<Buddyinfo, BuddyinfoError> {
    let mut zones: Vec<ZoneBlocks> = Vec::new();
    let mut seen: BTreeMap<(u32, &str), u64> = BTreeMap::new();
    let mut total: Option<FreeBlocks> = None;
    let mut lines = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i as u64 + 1;
        lines = line_no;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let mut c = Cursor { text: line, pos: 0, line: line_no };
        let (at, w) = c.word(false);
        if w != "Node" {
            return Err(c.err_at(at, format!("expected \"Node\", as in {EXAMPLE_LINE}, found {}", Cursor::found(w))));
        }
        let (at, w) = c.word(true);
        let node: u32 = match w.parse() {
            Ok(n) if w.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(c.err_at(at, format!("expected a node number, found {}", Cursor::found(w)))),
        };
        c.skip_spaces();
        if !c.text[c.pos..].starts_with(',') {
            let (at, w) = c.word(false);
            return Err(c.err_at(at, format!("expected \",\" after the node number, found {}", Cursor::found(w))));
        }
        c.pos += 1;
        let (at, w) = c.word(false);
        if w != "zone" {
            return Err(c.err_at(at, format!("expected \"zone\", found {}", Cursor::found(w))));
        }
        let (zone_at, zone) = c.word(false);
        if zone.is_empty() {
            return Err(c.err_at(zone_at, "expected a zone name (such as DMA32 or Normal), found the end of the line"));
        }
        let mut counts: Vec<u64> = Vec::new();
        let mut pages: u64 = 0;
        let expected = zones.first().map(|z| (z.blocks.counts.len(), z.line));
        loop {
            let (at, w) = c.word(false);
            if w.is_empty() {
                if counts.is_empty() {
                    return Err(c.err_at(
                        at,
                        "expected the free blocks of each order, from order 0, found the end of the line",
                    ));
                }
                if let Some((n, first)) = expected.filter(|&(n, _)| n != counts.len()) {
                    return Err(c.err_at(
                        at,
                        format!(
                            "expected {n} counts (orders 0 to {}), as on line {first}, found {}",
                            n - 1,
                            counts.len()
                        ),
                    ));
                }
                break;
            }
            if let Some((n, first)) = expected.filter(|&(n, _)| counts.len() == n) {
                return Err(c.err_at(
                    at,
                    format!("expected {n} counts (orders 0 to {}), as on line {first}, found more: {w:?}", n - 1),
                ));
            }
            if counts.len() > Order::MAX_SUPPORTED.0 as usize {
                return Err(c.err_at(
                    at,
                    format!(
                        "expected at most {} counts (orders 0 to {}), found more: {w:?}",
                        Order::MAX_SUPPORTED.0 as usize + 1,
                        Order::MAX_SUPPORTED.0
                    ),
                ));
            }
            let n: u64 = match w.parse() {
                Ok(n) if w.bytes().all(|b| b.is_ascii_digit()) => n,
                Err(e) if w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() => {
                    return Err(c.err_at(at, format!("expected a count of free blocks, found {w:?}: {e}")))
                }
                _ => {
                    return Err(c.err_at(
                        at,
                        format!("expected a count of free blocks (a decimal number), found {}", Cursor::found(w)),
                    ))
                }
            };
            pages = match pages_of(n, counts.len() as u32).and_then(|p| pages.checked_add(p)) {
                Some(p) => p,
                None => return Err(c.err_at(at, "the free pages of this zone do not fit in 64 bits")),
            };
            counts.push(n);
        }
        if let Some(first) = seen.insert((node, zone), line_no) {
            return Err(c.err_at(0, format!("Node {node}, zone {zone} again: it was on line {first}")));
        }
        let blocks = FreeBlocks { counts, free_pages: pages };
        total = Some(match total {
            None => blocks.clone(),
            Some(t) => t
                .checked_add(&blocks)
                .ok_or_else(|| c.err_at(zone_at, "the free pages of all the zones together do not fit in 64 bits"))?,
        });
        zones.push(ZoneBlocks { node, zone: zone.to_string(), blocks, line: line_no });
    }
    match total {
        Some(total) => Ok(Buddyinfo { zones, total }),
        None => Err(BuddyinfoError {
            line: lines.max(1),
            col: 1,
            message: format!("expected a line per zone, such as {EXAMPLE_LINE}, found no zone"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(c: &[u64]) -> FreeBlocks {
        FreeBlocks::from_counts(c).unwrap()
    }

    fn unusable(b: &FreeBlocks) -> Vec<i32> {
        b.per_order().iter().map(|f| f.unusable_index.0).collect()
    }

    fn extfrag(b: &FreeBlocks) -> Vec<i32> {
        b.per_order().iter().map(|f| f.extfrag_index.0).collect()
    }

    fn run(start: u32, frames: u32) -> FreeRun {
        FreeRun { start: Pfn(start), frames }
    }

    /// Orders 0 to 3 with 6, 3, 1 and 0 free blocks:
    ///
    /// free pages = 6*1 + 3*2 + 1*4 + 0*8 = 16; free blocks = 10.
    ///
    /// suitable (blocks of order k to be had from orders >= k):
    ///   k=0: 6 + 3*2 + 1*4 = 16;  k=1: 3 + 1*2 = 5;  k=2: 1;  k=3: 0.
    ///
    /// unusable = (16 - suitable*2^k) * 1000 / 16:
    ///   k=0: (16 - 16) * 1000 / 16 = 0
    ///   k=1: (16 - 10) * 1000 / 16 = 6000 / 16 = 375
    ///   k=2: (16 -  4) * 1000 / 16 = 12000 / 16 = 750
    ///   k=3: (16 -  0) * 1000 / 16 = 1000
    ///
    /// extfrag: -1000 while something suitable is free (k = 0, 1, 2); at
    ///   k=3: 1000 - (1000 + 16*1000/8) / 10 = 1000 - 3000/10 = 700.
    #[test]
    fn a_small_distribution_worked_by_hand() {
        let b = counts(&[6, 3, 1, 0]);
        assert_eq!(b.free_pages(), 16);
        assert_eq!(b.free_blocks_total(), 10);
        assert_eq!(b.highest_order(), Order(3));
        let suitable: Vec<u64> = Order(3).up_to().map(|k| b.available_blocks(k)).collect();
        assert_eq!(suitable, [16, 5, 1, 0]);
        assert_eq!(unusable(&b), [0, 375, 750, 1000]);
        assert_eq!(extfrag(&b), [-1000, -1000, -1000, 700]);
        assert_eq!(b.largest_block(), Some(Order(2)));
        assert_eq!(b.unusable_index(Order(1)).to_string(), "0.375");
        assert_eq!(b.extfrag_index(Order(3)).kernel_text(2), " 0.700");
        assert_eq!(b.extfrag_index(Order(0)).kernel_text(2), "-1.000");
        assert_eq!(b.unusable_index(Order(3)).to_string(), "1.000");
    }

    /// Orders 0 to 3 with 5, 1, 0, 0: free pages = 5 + 2 = 7, blocks = 6.
    ///
    /// Both divisions round down, as the kernel's do:
    ///   k=2: 1000 - (1000 + 7000/4) / 6 = 1000 - (1000 + 1750) / 6
    ///        = 1000 - 2750/6 = 1000 - 458 = 542
    ///   k=3: 1000 - (1000 + 7000/8) / 6 = 1000 - (1000 + 875) / 6
    ///        = 1000 - 1875/6 = 1000 - 312 = 688
    ///   unusable k=1: (7 - 1*2) * 1000 / 7 = 5000/7 = 714 (714.28...)
    #[test]
    fn integer_division_rounds_down_as_the_kernel_does() {
        let b = counts(&[5, 1, 0, 0]);
        assert_eq!(extfrag(&b), [-1000, -1000, 542, 688]);
        assert_eq!(unusable(&b), [0, 714, 1000, 1000]);
    }

    /// One free page, orders 0 and 1: at k=1,
    /// 1000 - (1000 + 1*1000/2) / 1 = 1000 - 1500 = -500, which the kernel
    /// prints as " 0.-500" (-500 / 1000 = 0, -500 % 1000 = -500).
    #[test]
    fn few_free_blocks_give_a_negative_index_printed_as_the_kernel_prints_it() {
        let b = counts(&[1, 0]);
        assert_eq!(b.extfrag_index(Order(1)), Thousandths(-500));
        assert_eq!(b.extfrag_index(Order(1)).kernel_text(2), " 0.-500");
        assert_eq!(Thousandths(-5).kernel_text(2), " 0.-05");
        assert_eq!(Thousandths(1000).kernel_text(2), " 1.000");
        assert_eq!(Thousandths(7).to_string(), "0.007");
    }

    #[test]
    fn nothing_free() {
        let b = FreeBlocks::empty(Order::LINUX_X86_64_MAX);
        assert_eq!(b, counts(&[0; 11]));
        assert_eq!(b.free_pages(), 0);
        assert_eq!(unusable(&b), [1000; 11]);
        assert_eq!(extfrag(&b), [0; 11]);
        assert_eq!(b.largest_block(), None);
        assert_eq!(b.figures().large_pages_free, 0);
        assert_eq!(b.figures().largest_free_block, None);
    }

    #[test]
    fn everything_in_one_block() {
        let b = FreeBlocks::from_free_runs([run(0, 1024)], Order::LINUX_X86_64_MAX);
        let mut one = [0; 11];
        one[10] = 1;
        assert_eq!(b, counts(&one));
        assert_eq!(unusable(&b), [0; 11]);
        assert_eq!(extfrag(&b), [-1000; 11]);
        assert_eq!(b.largest_block(), Some(Order(10)));
        assert_eq!(b.available_blocks(Order::LARGE_PAGE), 2);
        assert_eq!(b.available_blocks(Order::BASE), 1024);
    }

    #[test]
    fn an_order_above_the_highest() {
        let b = counts(&[6, 3, 1, 0]);
        // Nothing of order 4 can be had; the kernel's fragmentation index
        // answers 0 for an order its allocator does not have.
        assert_eq!(b.blocks(Order(4)), 0);
        assert_eq!(b.available_blocks(Order(4)), 0);
        assert_eq!(b.unusable_index(Order(4)), Thousandths(1000));
        assert_eq!(b.extfrag_index(Order(4)), Thousandths(0));
        assert_eq!(b.available_blocks(Order::MAX_SUPPORTED), 0);
    }

    #[test]
    fn runs_split_into_naturally_aligned_blocks() {
        // Frames 3..16 with orders to 3: 3 (order 0), 4..8 (order 2), 8..16 (order 3).
        let b = FreeBlocks::from_free_runs([run(3, 13)], Order(3));
        assert_eq!(b.counts(), [1, 0, 1, 1]);
        // Frames 1..7: 1 (0), 2..4 (1), 4..6 (1), 6 (0).
        let b = FreeBlocks::from_free_runs([run(1, 6)], Order(3));
        assert_eq!(b.counts(), [2, 2, 0, 0]);
        // Capped at the highest order: 40 frames from 0 are five blocks of 8.
        let b = FreeBlocks::from_free_runs([run(0, 40)], Order(3));
        assert_eq!(b.counts(), [0, 0, 0, 5]);
        // From an unaligned start, past the highest order and beyond.
        let b = FreeBlocks::from_free_runs([run(5, 40)], Order(3));
        // 5 (0), 6..8 (1), 8..40 (4 x 3), 40..44 (2), 44 (0).
        assert_eq!(b.counts(), [2, 1, 1, 4]);
        assert_eq!(b.free_pages(), 40);
    }

    #[test]
    fn touching_and_overlapping_runs_merge_like_buddies() {
        // Frames 0 and 1 given apart are one free block of order 1.
        let b = FreeBlocks::from_free_runs([run(1, 1), run(0, 1)], Order(3));
        assert_eq!(b.counts(), [0, 1, 0, 0]);
        // Overlapping runs count each frame once: 0..8 is one block.
        let b = FreeBlocks::from_free_runs([run(0, 6), run(2, 6), run(3, 1), run(9, 0)], Order(3));
        assert_eq!(b.counts(), [0, 0, 0, 1]);
        // The top of the frame space.
        let b = FreeBlocks::from_free_runs([run(u32::MAX - 4, u32::MAX)], Order::LINUX_X86_64_MAX);
        assert_eq!(b.free_pages(), u32::MAX as u64);
    }

    #[test]
    fn sums_take_the_higher_highest_order() {
        let a = counts(&[1, 2]);
        let b = counts(&[3, 0, 1]);
        let s = a.checked_add(&b).unwrap();
        assert_eq!(s.counts(), [4, 2, 1]);
        assert_eq!(s.free_pages(), a.free_pages() + b.free_pages());
        assert_eq!(counts(&[u64::MAX]).checked_add(&counts(&[1])), None);
    }

    #[test]
    fn counts_that_are_no_distribution() {
        assert_eq!(FreeBlocks::from_counts(&[]), Err(CountsError::NoOrders));
        assert_eq!(FreeBlocks::from_counts(&[0; 34]), Err(CountsError::TooManyOrders(34)));
        assert!(FreeBlocks::from_counts(&[0; 33]).is_ok());
        assert_eq!(FreeBlocks::from_counts(&[0, u64::MAX]), Err(CountsError::TooManyPages));
        assert_eq!(FreeBlocks::from_counts(&[u64::MAX, 1]), Err(CountsError::TooManyPages));
        assert_eq!(Order::try_new(33), None);
        assert_eq!(Order::new(9), Order::LARGE_PAGE);
        assert_eq!(Order::LARGE_PAGE.bytes(), Bytes(2 << 20));
    }

    /// This machine's `/proc/buddyinfo` when the sample was taken.
    const SAMPLE: &str = include_str!("../book/src/traces/buddyinfo.txt");

    #[test]
    fn the_sample_buddyinfo_reads_as_three_zones() {
        let info = FreeBlocks::from_buddyinfo(SAMPLE).unwrap();
        let names: Vec<(u32, &str, u64)> = info.zones.iter().map(|z| (z.node, z.zone.as_str(), z.line)).collect();
        assert_eq!(names, [(0, "DMA", 1), (0, "DMA32", 2), (0, "Normal", 3)]);
        assert_eq!(info.zones[0].blocks.counts(), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3]);
        assert_eq!(info.zones[1].blocks.counts(), [14, 20, 17, 17, 18, 13, 11, 12, 10, 6, 746]);
        assert_eq!(info.zones[2].blocks.counts(), [57877, 17971, 3677, 696, 141, 64, 25, 13, 9, 5, 1832]);
        assert_eq!(info.total.counts(), [57891, 17991, 3694, 713, 159, 77, 36, 25, 20, 12, 2581]);
    }

    /// The sample's figures, computed here another way: from the text split
    /// on whitespace, the unusable index as the pages in blocks *below*
    /// order k over all free pages, and the fragmentation index straight
    /// from its definition. Then a few worked by hand.
    #[test]
    fn the_sample_buddyinfo_figures_agree_with_an_independent_computation() {
        let rows: Vec<Vec<u64>> =
            SAMPLE.lines().map(|l| l.split_whitespace().skip(4).map(|w| w.parse().unwrap()).collect()).collect();
        let sum: Vec<u64> = (0..11).map(|k| rows.iter().map(|r| r[k]).sum()).collect();
        let info = FreeBlocks::from_buddyinfo(SAMPLE).unwrap();
        let mut all: Vec<(&Vec<u64>, &FreeBlocks)> = rows.iter().zip(info.zones.iter().map(|z| &z.blocks)).collect();
        all.push((&sum, &info.total));
        for (row, blocks) in all {
            let pages: u64 = row.iter().enumerate().map(|(k, n)| n * 2u64.pow(k as u32)).sum();
            let nblocks: u64 = row.iter().sum();
            assert_eq!(blocks.free_pages(), pages);
            for k in 0..11usize {
                let below: u64 = row[..k].iter().enumerate().map(|(j, n)| n * 2u64.pow(j as u32)).sum();
                let want_unusable = (below * 1000).checked_div(pages).unwrap_or(1000);
                let any_suitable = row[k..].iter().any(|&n| n > 0);
                let want_extfrag = if nblocks == 0 {
                    0
                } else if any_suitable {
                    -1000
                } else {
                    1000 - ((1000 + pages * 1000 / 2u64.pow(k as u32)) / nblocks) as i64
                };
                let to_be_had: u64 = (k..11).map(|j| row[j] * 2u64.pow((j - k) as u32)).sum();
                let o = Order(k as u8);
                assert_eq!(blocks.unusable_index(o).0 as u64, want_unusable, "{row:?} order {k}");
                assert_eq!(blocks.extfrag_index(o).0 as i64, want_extfrag, "{row:?} order {k}");
                assert_eq!(blocks.available_blocks(o), to_be_had, "{row:?} order {k}");
            }
        }
        // By hand, for the DMA zone (1, 1 and 3 blocks of orders 8, 9, 10):
        // free pages = 256 + 512 + 3*1024 = 3840; at order 9 the pages
        // below are 256: 256*1000/3840 = 66 (66.7); at order 10, 768:
        // 768*1000/3840 = 200. 2 MiB blocks: 1 + 3*2 = 7.
        let dma = &info.zones[0].blocks;
        assert_eq!(dma.free_pages(), 3840);
        assert_eq!(dma.unusable_index(Order(9)), Thousandths(66));
        assert_eq!(dma.unusable_index(Order(10)), Thousandths(200));
        assert_eq!(dma.available_blocks(Order::LARGE_PAGE), 7);
        // All zones: 2,581 blocks of order 10 and 12 of order 9 make
        // 12 + 2*2581 = 5174 2 MiB blocks, out of 2,779,073 free pages.
        assert_eq!(info.total.free_pages(), 2_779_073);
        assert_eq!(info.total.figures().large_pages_free, 5174);
        assert_eq!(info.total.largest_block(), Some(Order(10)));
    }

    fn bad(text: &str) -> (u64, u64, String) {
        let e = FreeBlocks::from_buddyinfo(text).unwrap_err();
        (e.line, e.col, e.message)
    }

    #[test]
    fn buddyinfo_oddities_that_are_fine() {
        // No trailing space or newline, tabs, CRLF, blank lines, one order,
        // several nodes, and a node number with its comma apart.
        let text = "\nNode 0, zone Normal 1 2\r\n\n\tNode 1 , zone\tNormal 3 4 \nNode 2,zone Movable 0 0";
        let info = FreeBlocks::from_buddyinfo(text).unwrap();
        let zones: Vec<(u32, &str, u64, &[u64])> =
            info.zones.iter().map(|z| (z.node, z.zone.as_str(), z.line, z.blocks.counts())).collect();
        assert_eq!(
            zones,
            [(0, "Normal", 2, &[1, 2][..]), (1, "Normal", 4, &[3, 4][..]), (2, "Movable", 5, &[0, 0][..])]
        );
        assert_eq!(info.total.counts(), [4, 6]);
        let info = FreeBlocks::from_buddyinfo("Node 0, zone DMA 7").unwrap();
        assert_eq!(info.total.highest_order(), Order::BASE);
    }

    #[test]
    fn malformed_buddyinfo_says_where_and_what_was_expected() {
        let (l, c, m) = bad("Node 0, zone Normal 1 2\nNode 0, zone DMA 3 x4\n");
        assert_eq!((l, c), (2, 20));
        assert!(m.contains("expected a count of free blocks (a decimal number), found \"x4\""), "{m}");
        let (l, c, m) = bad("Nodes 0, zone Normal 1");
        assert_eq!((l, c), (1, 1));
        assert!(m.starts_with("expected \"Node\", as in"), "{m}");
        let (l, c, m) = bad("Node x, zone Normal 1");
        assert_eq!((l, c), (1, 6));
        assert!(m.contains("expected a node number, found \"x\""), "{m}");
        let (l, c, m) = bad("Node 0 zone Normal 1");
        assert_eq!((l, c), (1, 8));
        assert!(m.contains("expected \",\" after the node number, found \"zone\""), "{m}");
        let (l, c, m) = bad("Node 0, area Normal 1");
        assert_eq!((l, c), (1, 9));
        assert!(m.contains("expected \"zone\", found \"area\""), "{m}");
        let (l, c, m) = bad("Node 0, zone ");
        assert_eq!((l, c), (1, 14));
        assert!(m.contains("expected a zone name"), "{m}");
        let (l, c, m) = bad("Node 0, zone Normal");
        assert_eq!((l, c), (1, 20));
        assert!(m.contains("found the end of the line"), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 1 2 3\nNode 0, zone Normal 1 2\n");
        assert_eq!((l, c), (2, 24));
        assert!(m.contains("expected 3 counts (orders 0 to 2), as on line 1, found 2"), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 1 2\nNode 0, zone Normal 1 2 3\n");
        assert_eq!((l, c), (2, 25));
        assert!(m.contains("found more: \"3\""), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 1\nNode 0, zone DMA 2\n");
        assert_eq!((l, c), (2, 1));
        assert!(m.contains("Node 0, zone DMA again: it was on line 1"), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 99999999999999999999");
        assert_eq!((l, c), (1, 18));
        assert!(m.contains("expected a count of free blocks, found \"99999999999999999999\""), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 0 9223372036854775808");
        assert_eq!((l, c), (1, 20));
        assert!(m.contains("do not fit in 64 bits"), "{m}");
        let (l, c, m) = bad("Node 0, zone DMA 18446744073709551615\nNode 1, zone DMA 1");
        assert_eq!((l, c), (2, 14));
        assert!(m.contains("all the zones together"), "{m}");
        let many = format!("Node 0, zone DMA{}", " 0".repeat(34));
        let (l, c, m) = bad(&many);
        assert_eq!((l, c), (1, 18 + 2 * 33));
        assert!(m.contains("at most 33 counts"), "{m}");
        let (l, c, m) = bad("");
        assert_eq!((l, c), (1, 1));
        assert!(m.contains("found no zone"), "{m}");
        let (l, _, _) = bad("\n\n  \n");
        assert_eq!(l, 4);
        // Columns count characters, not bytes.
        let (l, c, _) = bad("Node 0, zone Nörmal 1 ü");
        assert_eq!((l, c), (1, 23));
        let (_, c, m) = bad("Node -1, zone DMA 1");
        assert_eq!(c, 6);
        assert!(m.contains("found \"-1\""), "{m}");
        let (_, _, m) = bad("Node 0, zone DMA +1");
        assert!(m.contains("found \"+1\""), "{m}");
    }
}
