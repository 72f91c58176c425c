//! Emptying physical memory for a contiguous request: the three eras of
//! the large-page allocator, and the work each does.
//!
//! A large page, or a driver's contiguous buffer, needs a run of frames
//! that are all free. When none is, the memory manager can make one by
//! emptying a run: repurpose its standby pages, deal with its modified
//! pages, move its active pages elsewhere (copy the contents, point the
//! owner's PTE at the new frame). Locked pages, pages of other large
//! pages and bad frames cannot be moved, and a run holding one cannot be
//! emptied. How hard Windows tried changed in three steps (MODEL.md s5,
//! from the seed's account of the large-page allocator):
//!
//! - [`Era::Desperate`], before Vista: it walks memory from the bottom,
//!   run after run, repurposing standby pages, writing modified pages out
//!   (a synchronous disk write each) and moving active ones, until a run is
//!   empty; a run that turns out to hold an unmovable page is abandoned
//!   with its work done. On a fragmented machine that is seconds ("15
//!   seconds or more"); it fails with 1450 only when every run is blocked.
//! - [`Era::GiveUp`], Vista RTM: only the cheap steps, taking free runs and
//!   runs whose other pages are all standby (repurposed, no I/O), then 1450.
//! - [`Era::Sp1`], Vista SP1 and later: the expensive path is never needed.
//!   The sources do not say how; pagelab's mechanism, its own assumption,
//!   is two-fold: pages that can never move are placed together at the top
//!   of physical memory (so most runs hold none), and the allocator picks,
//!   from the contiguity index, the run that is cheapest to empty and
//!   empties it without I/O: standby pages are repurposed, and active and
//!   modified pages are copied to other frames (a modified page stays
//!   modified in its new frame; nothing is written).
//!
//! The index ([`crate::contiguity`]) ranks runs by the work they need from
//! per-region counts alone; emptying then visits only the frames of the
//! chosen run.

use serde::Serialize;

use crate::contiguity::{Category, Contiguity, RegionCounts};
use crate::event::Event;
use crate::machine::Machine;
use crate::pfn_db::{Backing, PageLocation};
use crate::pte::PteKind;
use crate::units::{Pfn, SimNanos};

/// Which era's allocator a machine uses for contiguous requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Era {
    /// Before Vista: empty runs at any cost, in address order.
    Desperate,
    /// Vista RTM: cheap steps only, then fail.
    GiveUp,
    /// Vista SP1 and later: never the expensive path.
    #[default]
    Sp1,
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 3] = [Era::Desperate, Era::GiveUp, Era::Sp1];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Era::Desperate => "desperate",
            Era::GiveUp => "give-up",
            Era::Sp1 => "sp1",
        }
    }

    /// The era named `s`.
    pub fn parse(s: &str) -> Option<Era> {
        Era::ALL.into_iter().find(|e| e.name() == s)
    }

    /// Whether pages that can never move are placed together at the top
    /// of memory (pagelab's mechanism for SP1).
    pub fn segregates_unmovable(self) -> bool {
        self == Era::Sp1
    }
}

/// What emptying runs has cost, machine-wide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactionStats {
    /// Runs emptied for a contiguous request.
    pub runs_emptied: u64,
    /// Runs abandoned half-way at a page that cannot move (work wasted).
    pub runs_abandoned: u64,
    /// Standby pages repurposed to empty a run.
    pub repurposed: u64,
    /// Modified pages written out to empty a run (Desperate).
    pub written: u64,
    /// Pages copied to another frame (active and, in SP1, modified ones).
    pub moved: u64,
    /// Simulated time spent emptying runs.
    pub time: SimNanos,
}

/// The work to empty one region, read from the contiguity index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionWork {
    /// The region.
    pub region: u32,
    /// Its counts.
    pub counts: RegionCounts,
}

impl RegionWork {
    /// Whether the region can be emptied at all: nothing unmovable in it.
    pub fn movable(&self) -> bool {
        self.counts.get(Category::Unmovable) == 0 && self.counts.get(Category::Transition) == 0
    }

    /// Whether the cheap steps alone empty it: its used frames are all standby.
    pub fn cheap(&self) -> bool {
        self.movable() && self.counts.get(Category::Modified) == 0 && self.counts.get(Category::Active) == 0
    }

    /// Estimated cost under SP1's steps: repurposing standby pages at
    /// `repurpose` each, copying the others at `copy` each.
    pub fn cost(&self, repurpose: u64, copy: u64) -> u64 {
        let c = &self.counts;
        c.get(Category::Standby) as u64 * repurpose
            + (c.get(Category::Modified) as u64 + c.get(Category::Active) as u64) * copy
    }
}

/// How many large pages could be had now, by the effort it would take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Obtainable {
    /// Regions entirely free.
    pub free: u64,
    /// Regions free after the cheap steps (free or standby frames only).
    pub cheap: u64,
    /// Regions free after full compaction (no unmovable frame).
    pub compacted: u64,
}

impl Contiguity {
    /// The regions the era would empty, best first, at most `count`, with
    /// per-page costs `repurpose` and `copy` for ranking. Entirely free
    /// regions are not included (they need no work), nor regions with
    /// frames on no list (claimed already by the request being served).
    ///
    /// Desperate takes regions in address order (it had no index and found
    /// out what was in a region by walking it), so blocked ones are in the
    /// list too; GiveUp only regions the cheap steps empty; SP1 the
    /// cheapest regions that hold nothing unmovable.
    pub fn candidates(&self, era: Era, count: usize, repurpose: u64, copy: u64) -> Vec<RegionWork> {
        let per = self.size().frames() as u16;
        let all = (0..self.regions())
            .map(|r| RegionWork { region: r, counts: self.region(r) })
            .filter(|w| w.counts.get(Category::Free) != per && w.counts.get(Category::Transition) == 0);
        match era {
            Era::Desperate => all.collect(),
            Era::GiveUp => all.filter(RegionWork::cheap).take(count).collect(),
            Era::Sp1 => {
                let mut v: Vec<RegionWork> = all.filter(RegionWork::movable).collect();
                let key = |w: &RegionWork| (w.cost(repurpose, copy), w.region);
                if v.len() > count {
                    v.select_nth_unstable_by_key(count, key);
                    v.truncate(count);
                }
                v.sort_unstable_by_key(key);
                v
            }
        }
    }

    /// The best region SP1 would empty: the one cheapest to empty among
    /// those with nothing unmovable (ties to the lowest). One pass over
    /// the region records, no frame read.
    pub fn best_candidate(&self, repurpose: u64, copy: u64) -> Option<RegionWork> {
        let per = self.size().frames() as u16;
        let (f, s, m, a, u, t) = (
            Category::Free as usize,
            Category::Standby as usize,
            Category::Modified as usize,
            Category::Active as usize,
            Category::Unmovable as usize,
            Category::Transition as usize,
        );
        // One straight pass over the records in 32-bit arithmetic (a
        // region's cost is at most 1024 pages times a weight capped at
        // 2^21): a region that cannot be emptied, or needs no emptying,
        // costs u32::MAX.
        let (repurpose, copy) = (repurpose.min(1 << 21) as u32, copy.min(1 << 21) as u32);
        let (mut best, mut at) = (u32::MAX, u32::MAX);
        for (r, c) in self.region_counts().iter().enumerate() {
            let c = &c.counts;
            let cost = c[s] as u32 * repurpose + (c[m] as u32 + c[a] as u32) * copy;
            let ruled_out = (c[u] | c[t]) != 0 || c[f] == per;
            let cost = if ruled_out { u32::MAX } else { cost };
            if cost < best {
                best = cost;
                at = r as u32;
            }
        }
        (best != u32::MAX).then(|| RegionWork { region: at, counts: self.region(at) })
    }

    /// How many large pages could be had now: free, after cheap steps,
    /// after full compaction.
    pub fn obtainable(&self) -> Obtainable {
        let mut o = Obtainable { free: self.free_count(), ..Obtainable::default() };
        for r in 0..self.regions() {
            let w = RegionWork { region: r, counts: self.region(r) };
            o.cheap += w.cheap() as u64;
            o.compacted += w.movable() as u64;
        }
        o
    }
}

/// Why a run could not be emptied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// A frame that can never move.
    Unmovable(Pfn),
    /// No frame elsewhere to copy a page to, or no page-file space to
    /// write one.
    NoRoom,
}

impl Machine {
    /// The cost of repurposing one standby page and of moving one page,
    /// for ranking regions.
    pub(crate) fn compaction_weights(&self) -> (u64, u64) {
        let c = &self.config.cost;
        (c.pfn_lock_hold.0.max(1), c.copy_page.0 + c.soft_fault.0)
    }

    /// Empties the run of `frames` frames from `first` the way `era` does,
    /// leaving every one of its frames on no list, owned by nobody, ready
    /// to be taken; returns how many of them hold stale contents (to be
    /// zeroed), and adds those taken from the zeroed list to `zeroed`. On
    /// failure the frames already claimed go back to the lists they came
    /// from (the zeroed list or the free list); the work done stays done.
    pub(crate) fn empty_run(
        &mut self,
        first: Pfn,
        frames: u32,
        era: Era,
        zeroed: &mut Vec<u32>,
    ) -> Result<u64, Blocked> {
        let start = self.activity.time_foreground;
        let end = first.0 + frames;
        let mark = zeroed.len();
        // Claim the free frames first, so that no page moved out of the
        // run lands back in it.
        let mut stale = 0;
        for f in first.0..end {
            let loc = self.pfn.entry(Pfn(f)).location();
            if matches!(loc, PageLocation::Zeroed | PageLocation::Free) {
                stale += (loc == PageLocation::Free) as u64;
                if loc == PageLocation::Zeroed {
                    zeroed.push(f);
                }
                self.pfn.unlink(Pfn(f));
            }
        }
        let mut result = Ok(());
        let (mut repurposed, mut written, mut moved) = (0, 0, 0);
        for f in first.0..end {
            let pfn = Pfn(f);
            let e = *self.pfn.entry(pfn);
            let step = match e.location() {
                PageLocation::Transition if e.owner().is_none() && !e.pinned() => Ok(()),
                PageLocation::Standby => {
                    self.repurpose_for_run(pfn);
                    repurposed += 1;
                    Ok(())
                }
                PageLocation::Modified if era == Era::Desperate => match self.write_out_for_run(pfn) {
                    Ok(()) => {
                        written += 1;
                        repurposed += 1;
                        Ok(())
                    }
                    Err(b) => Err(b),
                },
                PageLocation::Modified | PageLocation::Active if !e.pinned() && e.owner().is_some() => {
                    match self.move_out_of_run(pfn, first, end) {
                        Ok(()) => {
                            moved += 1;
                            Ok(())
                        }
                        Err(b) => Err(b),
                    }
                }
                _ => Err(Blocked::Unmovable(pfn)),
            };
            if let Err(b) = step {
                result = Err(b);
                break;
            }
            if !matches!(e.location(), PageLocation::Zeroed | PageLocation::Free | PageLocation::Transition) {
                stale += 1;
            }
        }
        let time = SimNanos(self.activity.time_foreground.0 - start.0);
        self.compaction.repurposed += repurposed;
        self.compaction.written += written;
        self.compaction.moved += moved;
        self.compaction.time += time;
        match result {
            Ok(()) => {
                self.compaction.runs_emptied += 1;
                self.emit(|| Event::RunEmptied { first, frames, repurposed, written, moved, time });
                Ok(stale)
            }
            Err(b) => {
                // Give back what was claimed: frames of the run that are on
                // no list and owned by nobody.
                let was_zeroed = zeroed.split_off(mark);
                for f in first.0..end {
                    let e = self.pfn.entry(Pfn(f));
                    if e.location() == PageLocation::Transition && e.owner().is_none() && !e.pinned() {
                        let to = if was_zeroed.binary_search(&f).is_ok() {
                            PageLocation::Zeroed
                        } else {
                            PageLocation::Free
                        };
                        self.pfn.push_tail(Pfn(f), to);
                    }
                }
                self.compaction.runs_abandoned += 1;
                let at = match b {
                    Blocked::Unmovable(p) => Some(p),
                    Blocked::NoRoom => None,
                };
                self.emit(|| Event::RunAbandoned { first, frames, at, repurposed, written, moved, time });
                Err(b)
            }
        }
    }

    /// Repurposes a standby page of a run being emptied: its owner's PTE
    /// goes back to the page's copy; the frame stays claimed.
    fn repurpose_for_run(&mut self, pfn: Pfn) {
        self.repurpose(pfn);
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        self.activity.time_foreground += self.config.cost.pfn_lock_hold;
    }

    /// Writes one modified page of a run out at once (a synchronous
    /// single-page write, as the desperate allocator did) and repurposes it.
    fn write_out_for_run(&mut self, pfn: Pfn) -> Result<(), Blocked> {
        let e = *self.pfn.entry(pfn);
        let (pid, vpn) = e.owner().expect("a modified page has an owner");
        let vad = self.processes[pid.0 as usize].vad_at(vpn).copied();
        let to = match vad.map(|v| v.kind) {
            Some(crate::process::VadKind::Mapped { file, file_page }) => {
                let page = file_page + (vpn.0 - vad.expect("mapped").start.0);
                self.files[file.0 as usize].pages_written += 1;
                self.activity.pages_written_file += 1;
                self.pfn.entry_mut(pfn).set_backing(Backing::File(page as u32));
                crate::event::WriteTarget::File { file, page }
            }
            _ => {
                let Some((slot, _)) = self.pagefile.allocate_run(1) else { return Err(Blocked::NoRoom) };
                self.pfn.entry_mut(pfn).set_backing(Backing::PageFile(slot.0));
                self.activity.pages_written_pagefile += 1;
                crate::event::WriteTarget::PageFile { slot }
            }
        };
        self.emit(|| Event::WrittenForRun { pid, vpn, to });
        self.pfn.unlink(pfn);
        self.pfn.entry_mut(pfn).set_modified(false);
        self.pfn.push_tail(pfn, PageLocation::Standby);
        self.activity.io_writes += 1;
        self.activity.time_foreground += self.config.cost.io(1);
        self.repurpose_for_run(pfn);
        Ok(())
    }

    /// Moves an active or modified page out of the run `[lo, hi)`: copies
    /// it to a frame elsewhere and points its owner's PTE there.
    fn move_out_of_run(&mut self, pfn: Pfn, lo: Pfn, hi: u32) -> Result<(), Blocked> {
        let Some(dst) = self.frame_outside(lo.0, hi) else { return Err(Blocked::NoRoom) };
        let (pid, vpn) = self.pfn.entry(pfn).owner().expect("a movable page has an owner");
        self.pfn.relocate(pfn, dst);
        let pt = &mut self.processes[pid.0 as usize].page_table;
        let pte = pt.get(vpn);
        debug_assert!(matches!(pte.kind(), PteKind::Valid { .. } | PteKind::Transition { .. }));
        pt.set(vpn, pte.with_frame(dst));
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        let c = &self.config.cost;
        self.activity.time_foreground += c.copy_page + c.soft_fault + c.pfn_lock_hold;
        self.emit(|| Event::PageMoved { pid, vpn, from: pfn, to: dst });
        Ok(())
    }

    /// A frame outside `[lo, hi)` to copy a page to, taken off its list:
    /// a zeroed or free one, else the oldest standby page outside the run.
    fn frame_outside(&mut self, lo: u32, hi: u32) -> Option<Pfn> {
        for n in 0..self.pfn.nodes() {
            if let Some(p) = self.pfn.take_free(n).or_else(|| self.pfn.take_zeroed(n)) {
                debug_assert!(p.0 < lo || p.0 >= hi, "the run's free frames were claimed");
                return Some(p);
            }
        }
        let mut s = self.pfn.oldest_standby();
        while let Some(p) = s {
            if p.0 < lo || p.0 >= hi {
                self.repurpose(p);
                return Some(p);
            }
            s = self.pfn.next_on_list(p);
        }
        None
    }

    /// Takes `count` aligned regions of `per` frames for large pages, the
    /// way the machine's era does: entirely free ones first, then runs it
    /// empties. All or nothing: on failure every region taken goes back.
    /// Returns the regions, each claimed (on no list), and how many of
    /// their frames hold stale contents.
    pub(crate) fn obtain_regions(&mut self, count: u64) -> Option<(Vec<u32>, u64)> {
        let index = self.pfn.contiguity().expect("machines with large pages keep the index");
        let per = index.size().frames();
        let era = self.config.large_page_allocator;
        let mut got: Vec<u32> = index.free_regions().take(count as usize).collect();
        let (mut stale, mut zeroed) = (0, Vec::new());
        for &r in &got {
            stale += self.pfn.take_free_run(Pfn(r * per), per, &mut zeroed);
        }
        if (got.len() as u64) < count {
            let (rep, copy) = self.compaction_weights();
            let wanted = (count - got.len() as u64) as usize;
            let index = self.pfn.contiguity().expect("index");
            let candidates = index.candidates(era, wanted, rep, copy);
            for w in candidates {
                if got.len() as u64 == count {
                    break;
                }
                // The index can change under earlier emptying (pages moved
                // into a later candidate): read it afresh.
                let now =
                    RegionWork { region: w.region, counts: self.pfn.contiguity().expect("index").region(w.region) };
                // SP1 starts only on a region it can finish: there must be
                // frames elsewhere for every page it copies.
                let lists = self.pfn.counts();
                let elsewhere = (lists.zeroed + lists.free + lists.standby)
                    .saturating_sub(now.counts.get(Category::Free) as u64 + now.counts.get(Category::Standby) as u64);
                let copies = now.counts.get(Category::Modified) as u64 + now.counts.get(Category::Active) as u64;
                let usable = match era {
                    Era::Desperate => true,
                    Era::GiveUp => now.cheap(),
                    Era::Sp1 => now.movable() && copies <= elsewhere,
                };
                if !usable {
                    continue;
                }
                if let Ok(s) = self.empty_run(Pfn(w.region * per), per, era, &mut zeroed) {
                    stale += s;
                    got.push(w.region);
                }
            }
        }
        if (got.len() as u64) < count {
            zeroed.sort_unstable();
            for &r in &got {
                for f in r * per..(r + 1) * per {
                    let to = if zeroed.binary_search(&f).is_ok() { PageLocation::Zeroed } else { PageLocation::Free };
                    self.pfn.push_tail(Pfn(f), to);
                }
            }
            return None;
        }
        Some((got, stale))
    }

    /// What emptying runs has cost so far.
    pub fn compaction(&self) -> CompactionStats {
        self.compaction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::large_page::LargePageSize;

    #[test]
    fn era_names_round_trip() {
        for e in Era::ALL {
            assert_eq!(Era::parse(e.name()), Some(e));
        }
        assert_eq!(Era::parse("xp"), None);
    }

    #[test]
    fn candidates_rank_by_work_and_skip_the_unmovable() {
        let mut c = Contiguity::new(LargePageSize::X64, 4 * 512, &[]);
        let mut put = |pfn: u32, to: Category| {
            c.moved(pfn, Category::Free, Category::Transition);
            c.moved(pfn, Category::Transition, to);
        };
        // Region 0: 10 active. Region 1: 3 standby. Region 2: 1 unmovable.
        // Region 3: 100 standby.
        for i in 0..10 {
            put(i, Category::Active);
        }
        for i in 0..3 {
            put(512 + i, Category::Standby);
        }
        put(1024, Category::Unmovable);
        for i in 0..100 {
            put(1536 + i, Category::Standby);
        }
        let regions = |v: Vec<RegionWork>| v.into_iter().map(|w| w.region).collect::<Vec<_>>();
        assert_eq!(regions(c.candidates(Era::Sp1, 4, 1, 50)), vec![1, 3, 0]);
        assert_eq!(regions(c.candidates(Era::Sp1, 1, 1, 5)), vec![1]);
        assert_eq!(c.best_candidate(1, 5).map(|w| w.region), Some(1));
        assert_eq!(regions(c.candidates(Era::GiveUp, 4, 1, 5)), vec![1, 3]);
        assert_eq!(regions(c.candidates(Era::Desperate, 4, 1, 5)), vec![0, 1, 2, 3]);
        assert_eq!(c.obtainable(), Obtainable { free: 0, cheap: 2, compacted: 3 });
    }

    /// A 16 MiB machine (eight regions) fragmented in stripes, 2% of its
    /// frames drivers' pages (in every region before SP1), and a process
    /// ready to ask for one large page.
    fn striped(era: Era) -> (Machine, crate::units::ProcessId) {
        use crate::machine::{Op, OpValue};
        let mut cfg = crate::config::MachineConfig::with_memory(crate::units::Bytes(16 << 20));
        cfg.large_page_allocator = era;
        let mut m = Machine::new(cfg).unwrap();
        m.apply(&Op::GrantPrivilege { privilege: crate::token::Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        let create = |name: &str| Op::CreateProcess {
            name: name.into(),
            ws_min: None,
            ws_max: Some(4096),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(busy) = m.apply(&create("busy")).unwrap() else { panic!() };
        let OpValue::Process(db) = m.apply(&create("db")).unwrap() else { panic!() };
        m.apply(&Op::AdjustTokenPrivileges { pid: db, privilege: crate::token::Privilege::LockMemory, enable: true })
            .unwrap();
        let spec = crate::fragment::FragmentSpec {
            pid: busy,
            free_blocks: None,
            free: 500_000,
            unmovable: 20_000,
            standby: 300_000,
            modified: 300_000,
            pattern: crate::fragment::FragmentPattern::Stripes,
        };
        m.apply(&Op::Fragment(spec)).unwrap();
        m.check_invariants().unwrap();
        (m, db)
    }

    fn allocate(
        m: &mut Machine,
        pid: crate::units::ProcessId,
    ) -> Result<crate::machine::OpValue, crate::machine::OpError> {
        m.apply(&crate::machine::Op::AllocateLarge {
            pid,
            address: None,
            size: 2 << 20,
            protection: crate::pte::Protection::ReadWrite,
            commit: true,
        })
    }

    #[test]
    fn the_desperate_allocator_wastes_its_work_on_regions_it_cannot_finish() {
        let (mut m, db) = striped(Era::Desperate);
        assert_eq!(m.pfn_db().contiguity().unwrap().obtainable().compacted, 0, "a driver's page in every region");
        assert!(allocate(&mut m, db).is_err());
        let c = m.compaction();
        assert_eq!((c.runs_emptied, c.runs_abandoned), (0, 8));
        assert!(c.written > 0 && c.moved > 0 && c.time.0 > 0, "{c:?}");
        assert_eq!(m.process(db).unwrap().last_error, 1450);
        m.check_invariants().unwrap();
    }

    #[test]
    fn sp1_empties_the_cheapest_region_by_copying_and_the_owner_never_notices() {
        let (mut m, db) = striped(Era::Sp1);
        let before = m.counters().activity;
        allocate(&mut m, db).unwrap();
        let c = m.compaction();
        assert_eq!((c.runs_emptied, c.runs_abandoned, c.written), (1, 0, 0));
        assert!(c.moved > 0);
        assert_eq!(m.counters().activity.io_writes, before.io_writes);
        m.check_invariants().unwrap();
        // Every page of the owner still has its contents: moved ones hit,
        // listed ones soft-fault, repurposed ones come back from the page
        // file; none is lost to a demand-zero fault.
        let busy = crate::units::ProcessId(0);
        let (start, pages) = {
            let v = m.process(busy).unwrap().vads.values().next().copied().unwrap();
            (v.start, v.pages)
        };
        for i in 0..pages {
            let r = m.access(
                busy,
                start.offset(i).address(),
                crate::machine::AccessKind::Read,
                None,
                crate::working_set::NEVER,
            );
            assert!(r.is_ok() && r != Ok(crate::machine::Resolution::DemandZero), "{r:?}");
        }
        m.check_invariants().unwrap();
    }

    #[test]
    fn give_up_takes_no_step_that_costs_io_or_a_copy() {
        let (mut m, db) = striped(Era::GiveUp);
        assert!(allocate(&mut m, db).is_err());
        assert_eq!(m.compaction(), CompactionStats::default());
        m.check_invariants().unwrap();
    }
}
