//! A seeded `fragment` step: the state physical memory is in after a
//! machine has run for a long time.
//!
//! A freshly booted machine has all its memory in one free run; a large
//! page is then trivial. After hours of allocations and frees in every
//! order, the free frames are scattered, standby and modified pages of
//! many owners are between them, and drivers' nonpaged pages are
//! sprinkled wherever a frame was free when they asked. A `fragment` step
//! builds such a state in one operation, from the machine's seed:
//!
//! - a fraction `free` of all frames stays free;
//! - a fraction `unmovable` of all frames becomes drivers' nonpaged pages
//!   ([`crate::system_pages`]): locked, owned by no process;
//! - the rest become pages of the step's process, in one committed
//!   private range: `standby` and `modified` give the shares on those
//!   lists (the standby ones have a copy in the page file), the others are
//!   active in its working set, whose maximum is raised to hold them;
//! - `pattern` says where the used frames are: `random` (uniformly among
//!   the free frames: what long churn gives), `stripes` (spread evenly:
//!   the worst case, every region keeps some) or `packed` (the lowest
//!   frames: no fragmentation at all).
//!
//! Where the era keeps unmovable pages together (SP1, pagelab's
//! assumption; see [`crate::compaction`]) they take the highest free
//! frames instead of following the pattern: the same history under that
//! placement policy. The step is setup, not simulated work: it costs no
//! simulated time and does no I/O; events are summed in one.

use serde::Serialize;

use crate::event::Event;
use crate::machine::{Machine, OpError, OpValue};
use crate::pfn_db::{Backing, PageLocation};
use crate::process::{Vad, VadKind};
use crate::pte::{Protection, Pte};
use crate::system_pages::SystemUse;
use crate::units::{Pfn, ProcessId, Vpn};
use crate::working_set::NEVER;

/// Where a fragment step puts the frames it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FragmentPattern {
    /// Uniformly at random among the free frames.
    Random,
    /// Evenly spread: every k-th free frame.
    Stripes,
    /// The lowest free frames.
    Packed,
}

impl FragmentPattern {
    /// Every pattern.
    pub const ALL: [FragmentPattern; 3] = [FragmentPattern::Random, FragmentPattern::Stripes, FragmentPattern::Packed];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            FragmentPattern::Random => "random",
            FragmentPattern::Stripes => "stripes",
            FragmentPattern::Packed => "packed",
        }
    }

    /// The pattern named `s`.
    pub fn parse(s: &str) -> Option<FragmentPattern> {
        FragmentPattern::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// A fraction in parts per million (exact, and comparable).
pub const PPM: u64 = 1_000_000;

/// What a fragment step asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentSpec {
    /// The process whose pages fill memory.
    pub pid: ProcessId,
    /// Frames to leave free, ppm of all frames (ignored with `free_blocks`).
    pub free: u64,
    /// Instead of `free` and `pattern`: leave exactly these free blocks,
    /// `free_blocks[k]` of order k (2^k frames, naturally aligned), as a
    /// Linux `/proc/buddyinfo` line gives them; the blocks are placed at
    /// seeded positions, each followed by at least one used frame so that
    /// no two merge.
    pub free_blocks: Option<std::sync::Arc<Vec<u64>>>,
    /// Frames made drivers' nonpaged pages, ppm of all frames.
    pub unmovable: u64,
    /// Share of the process's pages on the standby list, ppm.
    pub standby: u64,
    /// Share of the process's pages on the modified list, ppm.
    pub modified: u64,
    /// Where the used frames go.
    pub pattern: FragmentPattern,
}

/// What a fragment step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Fragmented {
    /// Frames left free.
    pub free: u64,
    /// Nonpaged driver pages.
    pub unmovable: u64,
    /// The process's pages on standby.
    pub standby: u64,
    /// On the modified list.
    pub modified: u64,
    /// Active in its working set.
    pub active: u64,
}

/// `part` ppm of `n`, rounded to nearest.
fn share(n: u64, part: u64) -> u64 {
    ((n as u128 * part as u128 + PPM as u128 / 2) / PPM as u128) as u64
}

impl Machine {
    /// The `fragment` step ([`crate::fragment`]).
    pub(crate) fn fragment(&mut self, spec: &FragmentSpec) -> Result<OpValue, OpError> {
        let bad = |message: String| Err(OpError::Fragment { message });
        let frames = self.pfn.frames() as u64;
        let counts = self.pfn.counts();
        let free_now = counts.zeroed + counts.free;
        // With free blocks given, which frames stay free: a bitmap.
        let mask = match &spec.free_blocks {
            None => None,
            Some(blocks) => match self.buddyinfo_layout(blocks) {
                Ok(m) => Some(m),
                Err(message) => return bad(message),
            },
        };
        let in_mask = |f: u32| mask.as_ref().is_some_and(|m: &Vec<u64>| m[f as usize / 64] >> (f % 64) & 1 == 1);
        let keep = match &mask {
            Some(m) => m.iter().map(|w| w.count_ones() as u64).sum(),
            None => share(frames, spec.free),
        };
        if keep > free_now {
            return bad(format!(
                "fragment: {keep} frames should stay free but only {free_now} are free now (of {frames})"
            ));
        }
        let used = free_now - keep;
        let unmovable = share(frames, spec.unmovable).min(used);
        let movable = used - unmovable;
        let standby = share(movable, spec.standby);
        let modified = share(movable, spec.modified).min(movable - standby);
        let active = movable - standby - modified;
        if (self.pagefile.capacity() as u64 - self.pagefile.used() as u64) < standby {
            return bad(format!(
                "fragment: {standby} standby pages need a copy in the page file, which has {} free slots",
                self.pagefile.capacity() as u64 - self.pagefile.used() as u64
            ));
        }
        if self.commit_charge + movable > self.commit_limit {
            return bad(format!(
                "fragment: {movable} pages of private memory would take the commit charge past its limit {}",
                self.commit_limit
            ));
        }
        let pid = spec.pid;
        let recording = std::mem::replace(&mut self.recording, false);
        // The process's pages: one committed private region.
        let start = if movable > 0 {
            let (start, pages) = self.place_range(pid, "fragment", None, movable * crate::units::PAGE_SIZE, 16)?;
            self.commit_charge += pages;
            self.processes[pid.0 as usize].commit += pages;
            self.processes[pid.0 as usize].vads.insert(
                start.0,
                Vad {
                    start,
                    pages,
                    kind: VadKind::Private,
                    protection: Protection::ReadWrite,
                    mem_commit: true,
                    large: false,
                },
            );
            start
        } else {
            Vpn(0)
        };
        let is_free =
            |m: &Machine, f: u32| matches!(m.pfn.entry(Pfn(f)).location(), PageLocation::Zeroed | PageLocation::Free);
        // Unmovable pages at the top of memory, where the era keeps them together.
        let mut unmovable_left = unmovable;
        if self.config.large_page_allocator.segregates_unmovable() && unmovable > 0 {
            let mut top = Vec::with_capacity(unmovable as usize);
            for f in (0..frames as u32).rev() {
                if top.len() as u64 == unmovable {
                    break;
                }
                if is_free(self, f) && !in_mask(f) {
                    top.push(f);
                }
            }
            top.reverse();
            self.hold_for_system(&top, SystemUse::Nonpaged);
            unmovable_left = 0;
        }
        // The pattern picks `pick` of the `pool` frames free now, in
        // address order; each picked frame's kind is drawn without
        // replacement so the totals are exact.
        let pool = free_now - (unmovable - unmovable_left);
        let pick = movable + unmovable_left;
        let mut left = [unmovable_left, standby, modified, active];
        let mut scattered = Vec::new();
        let (mut seen, mut picked, mut next_vpn) = (0u64, 0u64, 0u64);
        let mut f = 0u32;
        while picked < pick && (f as u64) < frames {
            if !is_free(self, f) {
                f += 1;
                continue;
            }
            let take = if mask.is_some() {
                !in_mask(f)
            } else {
                match spec.pattern {
                    FragmentPattern::Packed => true,
                    FragmentPattern::Stripes => (seen + 1) * pick / pool > seen * pick / pool,
                    FragmentPattern::Random => {
                        use rand::Rng;
                        self.rng.gen_range(0..pool - seen) < pick - picked
                    }
                }
            };
            seen += 1;
            if take {
                picked += 1;
                let total: u64 = left.iter().sum();
                let mut draw = {
                    use rand::Rng;
                    self.rng.gen_range(0..total)
                };
                let kind = (0..4)
                    .find(|&k| {
                        if draw < left[k] {
                            true
                        } else {
                            draw -= left[k];
                            false
                        }
                    })
                    .expect("the draw is below the total");
                left[kind] -= 1;
                if kind == 0 {
                    scattered.push(f);
                } else {
                    let vpn = start.offset(next_vpn);
                    next_vpn += 1;
                    self.place_fragment_page(pid, vpn, Pfn(f), kind);
                }
            }
            f += 1;
        }
        self.hold_for_system(&scattered, SystemUse::Nonpaged);
        let ws = &mut self.processes[pid.0 as usize].ws;
        ws.max = ws.max.max(ws.len());
        self.recording = recording;
        let done = Fragmented { free: keep, unmovable, standby, modified, active };
        let pattern = spec.pattern;
        self.emit(|| Event::Fragmented { pid, pattern, done });
        Ok(OpValue::None)
    }

    /// Where the free blocks of a buddyinfo distribution go: a bitmap of
    /// the frames to leave free. The blocks, in seeded order, are laid out
    /// from the bottom of memory, each at the next multiple of its size
    /// after a gap of used frames (at least one, so that no block touches
    /// another and merges with it; the spare frames are spread over the
    /// gaps at random). Every frame of a block must be free now.
    fn buddyinfo_layout(&mut self, blocks: &[u64]) -> Result<Vec<u64>, String> {
        use rand::seq::SliceRandom;
        use rand::Rng;
        let frames = self.pfn.frames() as u64;
        // A block above order 32 is larger than any machine: refused below
        // by `need`, without shifting past 64 bits.
        let size = |k: usize| if k < 33 { 1u64 << k } else { u64::MAX / 4 };
        let total = blocks.iter().fold(0u64, |a, &n| a.saturating_add(n));
        let pages = blocks.iter().enumerate().fold(0u64, |a, (k, &n)| a.saturating_add(n.saturating_mul(size(k))));
        // The most memory the layout can need: every block aligned, each
        // followed by one used frame (a block of order k needs at most
        // 2^(k+1) + 1 frames beyond the previous one's end).
        let need = frames_to_lay_out(blocks);
        if need > frames {
            return Err(format!(
                "fragment: the free blocks ({pages} pages in {total} blocks) need up to {need} frames to lie apart, more than the machine's {frames}: give it more memory"
            ));
        }
        let mut order: Vec<u8> = Vec::with_capacity(total as usize);
        for (k, &n) in blocks.iter().enumerate() {
            order.extend(std::iter::repeat_n(k as u8, n as usize));
        }
        order.shuffle(&mut self.rng);
        // Spare frames to spread over the gaps, if the machine has them.
        let spare = frames.saturating_sub(need);
        let mean_extra = spare / total.max(1);
        let mut mask = vec![0u64; (frames as usize).div_ceil(64)];
        let mut at = 0u64;
        // What the blocks not yet placed can need at most.
        let mut rest = need;
        for &k in &order {
            let size = 1u64 << k;
            rest -= (2 * size) + 1;
            let room = frames.saturating_sub(at + rest + 2 * size + 1);
            let extra = if mean_extra > 0 { self.rng.gen_range(0..=2 * mean_extra).min(room) } else { 0 };
            let start = (at + extra).next_multiple_of(size);
            debug_assert!(start + size <= frames, "the bound `need` leaves room for every block");
            for f in start..start + size {
                if !matches!(self.pfn.entry(Pfn(f as u32)).location(), PageLocation::Zeroed | PageLocation::Free) {
                    return Err(format!("fragment: frame {f} should stay free for the free blocks, but it is in use"));
                }
                mask[f as usize / 64] |= 1 << (f % 64);
            }
            at = start + size + 1;
        }
        Ok(mask)
    }

    /// Puts one page of a fragment step's process in `pfn`: on standby with
    /// a page-file copy (`kind` 1), on the modified list (2), or active (3).
    fn place_fragment_page(&mut self, pid: ProcessId, vpn: Vpn, pfn: Pfn, kind: usize) {
        let prot = Protection::ReadWrite;
        self.pfn.unlink(pfn);
        let e = self.pfn.entry_mut(pfn);
        e.set_owner(Some((pid, vpn)));
        match kind {
            1 => {
                let (slot, _) = self.pagefile.allocate_run(1).expect("free slots checked");
                let e = self.pfn.entry_mut(pfn);
                e.set_backing(Backing::PageFile(slot.0));
                e.set_modified(false);
                self.pfn.set_counts(pfn, 0, 0);
                self.pfn.push_tail(pfn, PageLocation::Standby);
                self.processes[pid.0 as usize].page_table.set(vpn, Pte::transition(pfn, prot));
            }
            2 => {
                let e = self.pfn.entry_mut(pfn);
                e.set_backing(Backing::None);
                e.set_modified(true);
                self.pfn.set_counts(pfn, 0, 0);
                self.pfn.push_tail(pfn, PageLocation::Modified);
                self.processes[pid.0 as usize].page_table.set(vpn, Pte::transition(pfn, prot));
            }
            _ => {
                let e = self.pfn.entry_mut(pfn);
                e.set_backing(Backing::None);
                e.set_modified(true);
                let p = &mut self.processes[pid.0 as usize];
                let slot = p.ws.insert(vpn, NEVER);
                self.pfn.entry_mut(pfn).set_ws_index(slot);
                self.pfn.set_counts(pfn, 1, 1);
                self.pfn.push_tail(pfn, PageLocation::Active);
                p.page_table.set(vpn, Pte::valid(pfn, prot, true));
            }
        }
    }
}

impl Machine {
    /// The longest run of consecutive free (zeroed or free) frames, as
    /// (first frame, frames); `None` when nothing is free. One pass over
    /// the frames, for reports.
    pub fn largest_free_run(&self) -> Option<(Pfn, u32)> {
        let (mut best, mut start): (Option<(Pfn, u32)>, Option<u32>) = (None, None);
        for f in 0..=self.pfn.frames() {
            let free = f < self.pfn.frames()
                && matches!(self.pfn.entry(Pfn(f)).location(), PageLocation::Zeroed | PageLocation::Free);
            match (free, start) {
                (true, None) => start = Some(f),
                (false, Some(s)) => {
                    if best.is_none_or(|(_, n)| f - s > n) {
                        best = Some((Pfn(s), f - s));
                    }
                    start = None;
                }
                _ => {}
            }
        }
        best
    }

    /// The free frames (zeroed or free) of each NUMA node as a buddy
    /// allocator with orders 0 to `highest` would hold them: what Linux's
    /// `/proc/buddyinfo` would say of this machine, a zone per node. One
    /// pass over the frames, for reports.
    pub fn free_zones(&self, highest: crate::fragmentation::Order) -> Vec<crate::fragmentation::ZoneBlocks> {
        use crate::fragmentation::{FreeBlocks, FreeRun, ZoneBlocks};
        (0..self.pfn.nodes())
            .map(|node| {
                let (lo, hi) = self.pfn.node_range(node);
                let mut runs = Vec::new();
                let mut start = None;
                for f in lo..=hi {
                    let free = f < hi
                        && matches!(self.pfn.entry(Pfn(f)).location(), PageLocation::Zeroed | PageLocation::Free);
                    match (free, start) {
                        (true, None) => start = Some(f),
                        (false, Some(s)) => {
                            runs.push(FreeRun { start: Pfn(s), frames: f - s });
                            start = None;
                        }
                        _ => {}
                    }
                }
                ZoneBlocks {
                    node: node as u32,
                    zone: "pagelab".into(),
                    blocks: FreeBlocks::from_free_runs(runs, highest),
                    line: node as u64 + 1,
                }
            })
            .collect()
    }
}

/// The most frames laying out a buddyinfo distribution's free blocks can
/// need (`blocks[k]` blocks of order k): every block aligned, each followed
/// by one used frame, so a block of order k needs at most 2^(k+1) + 1
/// frames beyond the previous one's end.
pub fn frames_to_lay_out(blocks: &[u64]) -> u64 {
    // A block above order 32 is larger than any machine.
    let size = |k: usize| if k < 33 { 1u64 << k } else { u64::MAX / 4 };
    blocks.iter().enumerate().fold(0u64, |a, (k, &n)| a.saturating_add(n.saturating_mul(2 * size(k) + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_to_nearest() {
        assert_eq!(share(1000, 250_000), 250);
        assert_eq!(share(3, 500_000), 2);
        assert_eq!(share(0, PPM), 0);
    }

    /// A machine fragmented from a buddyinfo distribution reports exactly
    /// that distribution, under every era; one too large for the machine
    /// is refused with the memory it would need, and nothing changes.
    #[test]
    fn free_blocks_from_a_buddyinfo_are_exactly_what_is_left_free() {
        use crate::fragmentation::Order;
        use crate::machine::Op;
        let counts = vec![300, 120, 40, 10, 6, 3, 2, 1, 1, 1, 2];
        for era in crate::compaction::Era::ALL {
            let mut cfg = crate::config::MachineConfig::with_memory(crate::units::Bytes(64 << 20));
            cfg.large_page_allocator = era;
            let mut m = Machine::new(cfg).unwrap();
            let Ok(OpValue::Process(pid)) = m.apply(&Op::create_process("busy")) else { panic!() };
            let spec = FragmentSpec {
                pid,
                free: 0,
                free_blocks: Some(std::sync::Arc::new(counts.clone())),
                unmovable: 5_000,
                standby: 300_000,
                modified: 300_000,
                pattern: FragmentPattern::Random,
            };
            m.apply(&Op::Fragment(spec)).unwrap();
            m.check_invariants().unwrap();
            let zones = m.free_zones(Order::new(10));
            assert_eq!(zones[0].blocks.counts(), &counts[..], "{era:?}");
            assert_eq!(m.system_pages().frames(), 82, "0.5% of 16384 frames");
        }
        let mut m = Machine::new(crate::config::MachineConfig::with_memory(crate::units::Bytes(16 << 20))).unwrap();
        let Ok(OpValue::Process(pid)) = m.apply(&Op::create_process("busy")) else { panic!() };
        let spec = FragmentSpec {
            pid,
            free: 0,
            free_blocks: Some(std::sync::Arc::new(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4])),
            unmovable: 0,
            standby: 0,
            modified: 0,
            pattern: FragmentPattern::Random,
        };
        let err = m.apply(&Op::Fragment(spec)).unwrap_err().to_string();
        assert!(err.contains("more memory"), "{err}");
        assert_eq!(m.pfn_db().counts().zeroed, 4096);
        m.check_invariants().unwrap();
    }

    #[test]
    fn patterns_parse() {
        for p in FragmentPattern::ALL {
            assert_eq!(FragmentPattern::parse(p.name()), Some(p));
        }
    }
}
