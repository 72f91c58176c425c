//! Where frames come from and where pages go: frame allocation (with
//! standby repurposing), eviction and trimming, the modified page writer,
//! and the zero page thread (WI7 pp. 428-431; WI6 p. 153).

use crate::event::{Event, EvictReason, WriteTarget, ZeroSource};
use crate::fault::FramePurpose;
use crate::machine::{Machine, OpError};
use crate::pfn_db::{Backing, PageLocation};
use crate::process::VadKind;
use crate::pte::{Protection, Pte, PteKind};
use crate::units::{PageFileSlot, Pfn, ProcessId, SimNanos, Vpn};

/// 64 MiB in pages: the cap on the modified-list trigger (WI6 p. 153).
const MODIFIED_TRIGGER_CAP: u64 = (64 << 20) / 4096;

impl Machine {
    /// Takes a frame from the lists without waiting: the node's own list
    /// first, then the other nodes in order, then the oldest standby page.
    /// Demand zero takes zeroed before free; a read takes free before
    /// zeroed (WI7 p. 428).
    pub(crate) fn allocate_frame(&mut self, purpose: FramePurpose, node: u8) -> Option<(Pfn, ZeroSource)> {
        let nodes = self.pfn.nodes();
        for i in 0..nodes {
            let n = (node + i) % nodes;
            let got = match purpose {
                FramePurpose::ZeroFill => self
                    .pfn
                    .take_zeroed(n)
                    .map(|p| (p, ZeroSource::Zeroed))
                    .or_else(|| self.pfn.take_free(n).map(|p| (p, ZeroSource::Free))),
                FramePurpose::ReadIn => self
                    .pfn
                    .take_free(n)
                    .map(|p| (p, ZeroSource::Free))
                    .or_else(|| self.pfn.take_zeroed(n).map(|p| (p, ZeroSource::Zeroed))),
            };
            if got.is_some() {
                return got;
            }
        }
        let pfn = self.pfn.oldest_standby()?;
        self.repurpose(pfn);
        Some((pfn, ZeroSource::Standby))
    }

    /// Takes a standby page from its owner: the owner's transition PTE goes
    /// back to where the page's copy is (page file or mapped file).
    pub(crate) fn repurpose(&mut self, pfn: Pfn) {
        self.pfn.unlink(pfn);
        let e = *self.pfn.entry(pfn);
        let (pid, vpn) = e.owner().expect("a standby page has an owner");
        let pt = &mut self.processes[pid.0 as usize].page_table;
        let prot = pt.get(vpn).protection().unwrap_or(Protection::ReadWrite);
        let (pte, now) = match e.backing() {
            Backing::PageFile(s) => (Pte::page_file(PageFileSlot(s), prot), "in the page file"),
            Backing::File(_) => (Pte::mapped_file(prot), "back in its file"),
            Backing::None => unreachable!("standby pages always have a backing copy"),
        };
        pt.set(vpn, pte);
        let e = self.pfn.entry_mut(pfn);
        e.set_owner(None);
        e.set_backing(Backing::None);
        self.activity.repurposed += 1;
        self.emit(|| Event::Repurposed { pfn, pid, vpn, now });
    }

    /// Takes a frame, making one available if need be. With none
    /// available the faulting thread waits while the memory manager makes
    /// some: it writes a cluster of modified pages if there are any, and
    /// otherwise trims a batch of pages from working sets (others above
    /// their minimum first, then any, the faulting process last), as NT
    /// trims in batches and writes clusters while a faulting thread waits
    /// for a page (WI7 pp. 428-431: MiEnsureAvailablePageOrWait). The wait
    /// is an event with its simulated time, which the fault's time includes.
    pub(crate) fn obtain_frame(
        &mut self,
        purpose: FramePurpose,
        node: u8,
        faulting: ProcessId,
    ) -> Result<(Pfn, ZeroSource), OpError> {
        if let Some(got) = self.allocate_frame(purpose, node) {
            return Ok(got);
        }
        let start = self.activity.time_foreground;
        let (mut trimmed, mut written) = (0, 0);
        let got = loop {
            if let Some(got) = self.allocate_frame(purpose, node) {
                break Ok(got);
            }
            if self.pfn.counts().modified > 0 {
                let n = self.write_modified(self.config.writer.cluster as u64, true);
                if n > 0 {
                    written += n;
                    continue;
                }
            }
            match self.trim_for_pressure(faulting) {
                0 => break Err(OpError::NoMemory),
                n => trimmed += n,
            }
        };
        let time = SimNanos(self.activity.time_foreground.0 - start.0);
        if got.is_ok() {
            self.pending_wait += time;
        }
        self.emit(|| Event::PageWait { pid: faulting, trimmed, written, time });
        got
    }

    /// Trims one batch for memory pressure: up to `writer.cluster` pages
    /// (enough to fill one write cluster; the batch size is pagelab's
    /// choice) from the first process other than the faulting one that is
    /// above its minimum, down to that minimum; else from the first other
    /// process with pages; else from the faulting process. Returns the
    /// pages trimmed.
    fn trim_for_pressure(&mut self, faulting: ProcessId) -> u64 {
        let batch = self.config.writer.cluster as u64;
        let others = || self.processes.iter().filter(|p| !p.exited && p.id != faulting);
        // Locked pages are never trimmed: only the dynamic part counts.
        let above_min = others()
            .find(|p| p.ws.len() > p.ws.min && p.ws.dynamic_len() > 0)
            .map(|p| (p.id, (p.ws.len() - p.ws.min).min(p.ws.dynamic_len()).min(batch)));
        let any = || others().find(|p| p.ws.dynamic_len() > 0).map(|p| (p.id, p.ws.dynamic_len().min(batch)));
        let own = || {
            let p = &self.processes[faulting.0 as usize];
            (p.ws.dynamic_len() > 0).then_some((faulting, p.ws.dynamic_len().min(batch)))
        };
        match above_min.or_else(any).or_else(own) {
            Some((pid, n)) => self.trim(pid, n, EvictReason::MemoryPressure),
            None => 0,
        }
    }

    /// Evicts the policy's victim from `pid`'s working set. Aging and
    /// WSClock choose it by a scan that reads and clears the accessed bits
    /// of the PTEs it passes.
    pub(crate) fn evict_victim(&mut self, pid: ProcessId, reason: EvictReason) -> bool {
        let p = &mut self.processes[pid.0 as usize];
        let victim = if p.ws.policy().scans_accessed_bits() {
            self.scanned_victim(pid)
        } else {
            p.ws.choose_victim(&mut self.rng)
        };
        let Some(slot) = victim else { return false };
        self.evict_slot(pid, slot, reason);
        true
    }

    /// The victim of an aging or WSClock working set: its scan reads and
    /// clears the accessed bits of the PTEs it passes. Kept out of line,
    /// off the path of the other policies.
    #[inline(never)]
    fn scanned_victim(&mut self, pid: ProcessId) -> Option<u32> {
        let p = &mut self.processes[pid.0 as usize];
        let now = p.counters.paging.references;
        let (ws, pt) = (&mut p.ws, &mut p.page_table);
        ws.choose_victim_scanning(now, |vpn| pt.get_mut(vpn).is_some_and(|e| e.take_accessed()))
    }

    /// Removes the page in WSLE `slot`: its PTE becomes a transition PTE
    /// and its frame goes to the standby list if clean or the modified list
    /// if dirty.
    #[inline(always)]
    pub(crate) fn evict_slot(&mut self, pid: ProcessId, slot: u32, reason: EvictReason) {
        let p = &mut self.processes[pid.0 as usize];
        let vpn = p.ws.remove(slot);
        let entry = p.page_table.get_mut(vpn).expect("a working-set page has a valid PTE");
        let pte = *entry;
        let pfn = pte.pfn();
        let prot = pte.protection().unwrap_or(Protection::ReadWrite);
        *entry = Pte::transition(pfn, prot);
        p.counters.paging.evictions += 1;
        let (policy, ws_max) = (p.ws.policy(), p.ws.max);
        if pte.is_dirty() {
            self.capture_dirty(pfn);
        }
        let to = if self.pfn.entry(pfn).modified() { PageLocation::Modified } else { PageLocation::Standby };
        self.pfn.unlink(pfn);
        self.pfn.set_counts(pfn, 0, 0);
        self.pfn.push_tail(pfn, to);
        self.emit(|| Event::Evicted { pid, vpn, pfn, to, reason, policy, ws_max });
        self.prefetch_victims(pid);
    }

    /// Trims up to `pages` pages from a working set, policy order.
    pub(crate) fn trim(&mut self, pid: ProcessId, pages: u64, reason: EvictReason) -> u64 {
        self.took_ws_lock(self.config.cost.ws_lock_hold);
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        self.activity.time_foreground += self.config.cost.ws_lock_hold + self.config.cost.pfn_lock_hold;
        let mut n = 0;
        while n < pages && self.evict_victim(pid, reason) {
            n += 1;
        }
        n
    }

    /// Runs the modified page writer if its thresholds say so: the modified
    /// list is past its maximum, or zeroed + free pages are low while the
    /// modified list holds more than min(available / 16, 64 MB) (WI6 p. 153).
    pub(crate) fn maybe_run_writer(&mut self) {
        let c = self.pfn.counts();
        let w = self.config.writer;
        let low_free = c.zeroed + c.free < w.free_below && c.modified > (c.available() / 16).min(MODIFIED_TRIGGER_CAP);
        if c.modified > w.modified_max || low_free {
            let target = if low_free { c.modified } else { c.modified - w.modified_max / 2 };
            self.write_modified(target, false);
        }
    }

    /// The modified page writer: writes up to `max_pages` pages from the
    /// head (oldest) of the modified list, each I/O a cluster of the
    /// oldest page and the modified pages of the same owner around it
    /// (following ones first, then preceding ones), to contiguous
    /// page-file offsets in address order (or back to their file).
    /// Written pages go to the tail of the standby list. `foreground` says a
    /// faulting thread waits for it. Returns pages written.
    pub(crate) fn write_modified(&mut self, max_pages: u64, foreground: bool) -> u64 {
        let mut written = 0;
        let mut run = Vec::new();
        while written < max_pages {
            let Some(first) = self.pfn.oldest_modified() else { break };
            self.prefetch_modified_list(first);
            let (pid, vpn) = self.pfn.entry(first).owner().expect("a modified page has an owner");
            let limit = (self.config.writer.cluster as u64).min(max_pages - written);
            let p = &self.processes[pid.0 as usize];
            let vad = p.vad_at(vpn).copied();
            // The cluster is built around the oldest page, on both sides:
            // the modified pages that follow it in the same VAD, then those
            // before it, so that pages that were neighbours in memory stay
            // neighbours in the page file (WRK `modwrit.c`: the write
            // cluster's MDL has room for MM_MAXIMUM_WRITE_CLUSTER pages on
            // either side of the page and the page itself).
            let modified_at = |v: Vpn| -> Option<Pfn> {
                if !vad.map_or(p.auto_commit, |vad| vad.contains(v)) {
                    return None;
                }
                match p.page_table.get(v).kind() {
                    PteKind::Transition { pfn, .. } if self.pfn.entry(pfn).location() == PageLocation::Modified => {
                        Some(pfn)
                    }
                    _ => None,
                }
            };
            run.clear();
            run.push((vpn, first));
            while (run.len() as u64) < limit {
                let v = run.last().expect("run starts non-empty").0.offset(1);
                match modified_at(v) {
                    Some(pfn) => run.push((v, pfn)),
                    None => break,
                }
            }
            let mut low = vpn;
            while (run.len() as u64) < limit && low.0 > 0 {
                let v = Vpn(low.0 - 1);
                match modified_at(v) {
                    Some(pfn) => {
                        run.push((v, pfn));
                        low = v;
                    }
                    None => break,
                }
            }
            // In address order: the lowest page goes to the first slot.
            run.sort_unstable_by_key(|&(v, _)| v);
            let vpn = low;
            let target = match vad.map(|v| v.kind) {
                Some(VadKind::Mapped { file, file_page }) => {
                    let page = file_page + (vpn.0 - vad.expect("mapped").start.0);
                    self.files[file.0 as usize].pages_written += run.len() as u64;
                    self.activity.pages_written_file += run.len() as u64;
                    WriteTarget::File { file, page }
                }
                _ => {
                    let Some((slot, n)) = self.pagefile.allocate_run(run.len() as u32) else {
                        let modified = self.pfn.counts().modified;
                        self.emit(|| Event::PageFileFull { modified });
                        break;
                    };
                    run.truncate(n as usize);
                    for (i, &(_, pfn)) in run.iter().enumerate() {
                        self.pfn.entry_mut(pfn).set_backing(Backing::PageFile(slot.0 + i as u32));
                    }
                    self.activity.pages_written_pagefile += run.len() as u64;
                    WriteTarget::PageFile { slot }
                }
            };
            for &(_, pfn) in &run {
                self.pfn.unlink(pfn);
                self.pfn.entry_mut(pfn).set_modified(false);
                self.pfn.push_tail(pfn, PageLocation::Standby);
            }
            let pages = run.len() as u64;
            written += pages;
            self.activity.io_writes += 1;
            self.took_pfn_lock(self.config.cost.pfn_lock_hold);
            let t = self.config.cost.io(pages) + self.config.cost.pfn_lock_hold;
            if foreground {
                self.activity.time_foreground += t;
            } else {
                self.activity.time_background += t;
            }
            self.emit(|| Event::ModifiedWrite { pid, vpn, pages, to: target });
        }
        written
    }

    /// Fetches what the writer reads next while it writes `first`: the PFN
    /// entry two pages on along the modified list, and the PTE after the
    /// next page's, which extending its write cluster looks at.
    #[inline]
    fn prefetch_modified_list(&self, first: Pfn) {
        let Some(next) = self.pfn.next_on_list(first) else { return };
        if let Some((pid, vpn)) = self.pfn.entry(next).owner() {
            if let Some(pte) = self.processes.get(pid.0 as usize).and_then(|p| p.page_table.peek(vpn.offset(1))) {
                crate::host::prefetch(pte);
            }
        }
        if let Some(after) = self.pfn.next_on_list(next) {
            crate::host::prefetch(self.pfn.entry(after));
        }
    }

    /// The zero page thread: when at least `zero_wake` pages are free, it
    /// zeroes them all and moves them to the zeroed list.
    pub(crate) fn run_zero_thread(&mut self) -> u64 {
        if self.pfn.counts().free < self.config.writer.zero_wake {
            return 0;
        }
        let mut n = 0;
        for node in 0..self.pfn.nodes() {
            while let Some(p) = self.pfn.take_free(node) {
                self.pfn.push_tail(p, PageLocation::Zeroed);
                n += 1;
            }
        }
        self.activity.zeroed_by_thread += n;
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        self.activity.time_background += self.config.cost.zero_page * n + self.config.cost.pfn_lock_hold;
        self.emit(|| Event::PagesZeroed { pages: n });
        n
    }

    /// Throws a page away (decommit, release, exit): a resident or
    /// transition frame goes to the free list, a page-file copy is freed.
    /// Returns whether a frame was freed. The PTE is left for the caller.
    pub(crate) fn discard_page(&mut self, pid: ProcessId, vpn: Vpn) -> bool {
        let pte = self.processes[pid.0 as usize].page_table.get(vpn);
        let pfn = match pte.kind() {
            PteKind::Valid { pfn, large: true, .. } => {
                // A frame of a large page: in no working set; after it
                // leaves the large page it is an ordinary free frame.
                self.pfn.unlink(pfn);
                self.pfn.entry_mut(pfn).set_large(false);
                self.pfn.entry_mut(pfn).set_modified(false);
                self.processes[pid.0 as usize].large_frames -= 1;
                self.pfn.entry_mut(pfn).set_owner(None);
                self.pfn.set_counts(pfn, 0, 0);
                self.pfn.push_tail(pfn, PageLocation::Free);
                return true;
            }
            PteKind::Valid { pfn, .. } => {
                let slot = self.pfn.entry(pfn).ws_index();
                self.processes[pid.0 as usize].ws.remove(slot);
                pfn
            }
            PteKind::Transition { pfn, .. } => pfn,
            PteKind::PageFile { slot, .. } => {
                self.pagefile.free(slot);
                return false;
            }
            _ => return false,
        };
        if let Backing::PageFile(s) = self.pfn.entry(pfn).backing() {
            self.pagefile.free(PageFileSlot(s));
        }
        self.pfn.unlink(pfn);
        let e = self.pfn.entry_mut(pfn);
        e.set_owner(None);
        e.set_backing(Backing::None);
        e.set_modified(false);
        self.pfn.set_counts(pfn, 0, 0);
        self.pfn.push_tail(pfn, PageLocation::Free);
        true
    }
}
