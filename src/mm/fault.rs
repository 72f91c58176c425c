//! Memory references and fault resolution.
//!
//! A reference to a page whose PTE is valid is a hit: the hardware sets the
//! accessed bit (and dirty on a write) and nothing else happens. Otherwise
//! the fault handler reads the PTE and dispatches, in the order of MODEL.md
//! s2 (WI7 pp. 384-385, 408-413):
//!
//! 1. transition: the page is on the standby or modified list, so take it
//!    back, no I/O (a soft fault);
//! 2. demand zero (page-file offset 0): a zero-filled frame;
//! 3. page file: read it back (a hard fault), with neighbours in one I/O;
//! 4. prototype with the VAD-lookup address: a mapped-file page, read from
//!    the file (hard), clustered too;
//! 5. zero PTE: consult the VAD: committed private memory is demand zero,
//!    a view is a mapped-file read, reserved or free space is an access
//!    violation.

use crate::config::ClusterDirection;
use crate::event::{Event, ReadSource, ZeroSource};
use crate::machine::{AccessKind, Machine, OpError, Resolution};
use crate::pfn_db::{Backing, PageLocation};
use crate::process::VadKind;
use crate::pte::{Protection, Pte, PteKind};
use crate::units::{PageFileSlot, Pfn, ProcessId, SimNanos, Vpn};

/// What to bring into the host's caches ahead of a reference (see
/// [`Machine::prefetch`]); a replay issues the stages at decreasing
/// distances ahead, so that each finds the previous one's line arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefetch {
    /// The page's PTE.
    Pte,
    /// The PFN entry of the frame a valid or transition PTE names.
    Frame,
    /// The PFN entries before and after that frame on its page list,
    /// which a soft fault unlinks it from; for a resident page, what a
    /// policy that tracks references keeps of its WSLE.
    ListNeighbours,
    /// For a resident page under LRU, the WSLEs on either side of its own
    /// (fetched by the stage before), which moving it to the tail relinks.
    Links,
}

/// What a frame is wanted for: a demand-zero fault prefers zeroed pages, a
/// read prefers free ones, whose contents the I/O overwrites (WI7 p. 428).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FramePurpose {
    ZeroFill,
    ReadIn,
}

impl Machine {
    /// One memory reference by a thread of `pid` running on `node` (the
    /// process's node if `None`). `next_use` is the time of the next
    /// reference to the same page, for the OPT policy ([`NEVER`] if
    /// unknown or none). A process that does not exist or has exited is
    /// [`OpError::NoSuchProcess`].
    #[inline(always)]
    pub fn access(
        &mut self,
        pid: ProcessId,
        address: u64,
        kind: AccessKind,
        node: Option<u8>,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let vpn = Vpn::containing(address);
        let write = kind == AccessKind::Write;
        // A process that never existed has no PTE either: the slow path
        // answers NoSuchProcess, as it does for one that has exited.
        let Some(p) = self.processes.get_mut(pid.0 as usize) else {
            return self.access_slow(pid, vpn, address, kind, node, next_use);
        };
        if let Some(pte) = p.page_table.get_mut(vpn) {
            if pte.is_valid() && (!write || pte.is_dirty()) {
                // The hit path: set the accessed bit, tell the policy.
                pte.touch(write);
                let pte = *pte;
                p.counters.paging.references += 1;
                // Large and AWE pages are in no working set: nothing to tell.
                if p.ws.tracks_references() && pte.in_working_set() {
                    let slot = self.pfn.entry(pte.pfn()).ws_index();
                    p.ws.referenced(slot, next_use);
                }
                if self.tlb.is_some() {
                    self.tlb_hit(pid, vpn, pte.is_large());
                }
                if self.multi_node {
                    self.reference_on_node(pid, pte.pfn(), node);
                }
                return Ok(Resolution::Hit);
            }
        }
        self.access_slow(pid, vpn, address, kind, node, next_use)
    }

    /// A reference that hit its working set goes through the TLB: a miss
    /// costs a page walk. Out of line: machines without a TLB model pay one
    /// test on the hit path.
    #[inline(never)]
    fn tlb_hit(&mut self, pid: ProcessId, vpn: Vpn, large: bool) {
        let Some(t) = self.tlb.as_deref_mut() else { return };
        if t.reference(pid, vpn, large) {
            self.processes[pid.0 as usize].counters.paging.tlb_misses += 1;
            self.activity.time_foreground += self.config.cost.tlb_miss;
        }
    }

    /// A reference by a thread of `pid` on `node` (the process's node if
    /// `None`) to frame `pfn`, on a machine of more than one node: a frame
    /// on another node is a remote reference, counted and charged
    /// `remote_access`. Out of line: one-node machines never call it.
    #[inline(never)]
    fn reference_on_node(&mut self, pid: ProcessId, pfn: Pfn, node: Option<u8>) {
        let p = &mut self.processes[pid.0 as usize];
        let thread = node.unwrap_or(p.node).min(self.pfn.nodes() - 1);
        if self.pfn.node_of(pfn) != thread {
            p.counters.paging.remote_references += 1;
            self.activity.time_foreground += self.config.cost.remote_access;
        }
    }

    /// After a fault, the faulting reference reads the page: remote if the
    /// page's frame is on another node than the thread.
    #[inline(never)]
    fn reference_after_fault(&mut self, pid: ProcessId, vpn: Vpn, node: Option<u8>) {
        let pte = self.processes[pid.0 as usize].page_table.get(vpn);
        if pte.is_valid() {
            self.reference_on_node(pid, pte.pfn(), node);
        }
    }

    /// A reference that faulted walked the page tables: a TLB miss, and the
    /// new translation loaded.
    #[inline(never)]
    fn tlb_after_fault(&mut self, pid: ProcessId, vpn: Vpn) {
        let large = self.processes[pid.0 as usize].page_table.get(vpn).is_large();
        if let Some(t) = self.tlb.as_deref_mut() {
            t.fault(pid, vpn, large);
        }
        self.processes[pid.0 as usize].counters.paging.tlb_misses += 1;
        self.activity.time_foreground += self.config.cost.tlb_miss;
    }

    /// Tells the host that `pid` will soon reference `address`, so that
    /// the entries the reference reads are fetched into the host's caches
    /// while other work goes on. Changes no simulated state and counts
    /// nothing: replaying with or without it gives the same results.
    #[inline(always)]
    pub fn prefetch(&self, pid: ProcessId, address: u64, what: Prefetch) {
        if let Some(p) = self.processes.get(pid.0 as usize) {
            self.prefetch_for(p, address, what);
        }
    }

    /// The three stages of [`Machine::prefetch`] at once, for a replay loop
    /// that is `pte`, `frame` and `neighbours` addresses ahead.
    #[inline(always)]
    pub fn prefetch_stages(&self, pid: ProcessId, pte: u64, frame: u64, neighbours: u64, links: u64) {
        if let Some(p) = self.processes.get(pid.0 as usize) {
            self.prefetch_for(p, pte, Prefetch::Pte);
            self.prefetch_for(p, frame, Prefetch::Frame);
            self.prefetch_for(p, neighbours, Prefetch::ListNeighbours);
            if p.ws.policy() == crate::working_set::PolicyKind::Lru {
                self.prefetch_for(p, links, Prefetch::Links);
            }
        }
    }

    #[inline(always)]
    fn prefetch_for(&self, p: &crate::process::Process, address: u64, what: Prefetch) {
        let Some(pte) = p.page_table.peek(Vpn::containing(address)) else { return };
        if what == Prefetch::Pte {
            crate::host::prefetch(pte);
            return;
        }
        let pte = *pte;
        // A resident page's frame is read only by a policy that tracks
        // references, and is on no list; the last stage fetches what that
        // policy reads of its WSLE, whose index the frame's entry holds
        // (fetched by the stage before).
        if pte.is_valid() {
            if p.ws.tracks_references() && what != Prefetch::Pte {
                if let Some(e) = pte.frame().and_then(|pfn| self.pfn.get(pfn)) {
                    match what {
                        Prefetch::Frame => crate::host::prefetch(e),
                        Prefetch::Links => p.ws.prefetch_links(e.ws_index()),
                        _ => p.ws.prefetch_slot(e.ws_index()),
                    }
                }
            }
            return;
        }
        if what == Prefetch::Links {
            return;
        }
        let Some(pfn) = pte.frame() else { return };
        let Some(e) = self.pfn.get(pfn) else { return };
        match what {
            Prefetch::Frame => crate::host::prefetch(e),
            _ => {
                for n in self.pfn.list_neighbours(pfn).into_iter().flatten() {
                    if let Some(e) = self.pfn.get(n) {
                        crate::host::prefetch(e);
                    }
                }
            }
        }
    }

    /// Fetches the entries of the working set's coming victims (FIFO and
    /// LRU evict from the head of their order, random from draws taken
    /// ahead), a pipeline run at each
    /// eviction: the PTE of the fourth victim to come, and the PFN entry of
    /// the second, whose PTE an eviction two earlier fetched. By the time a
    /// page is evicted both its entries have had two faults' time to arrive.
    #[inline(always)]
    pub(crate) fn prefetch_victims(&self, pid: ProcessId) {
        let p = &self.processes[pid.0 as usize];
        p.ws.prefetch_coming_victims();
        let [_, second, _, fourth] = p.ws.next_victims::<4>();
        if let Some(pte) = fourth.and_then(|s| p.page_table.peek(p.ws.vpn_of(s))) {
            crate::host::prefetch(pte);
        }
        let frame = second.and_then(|s| p.page_table.peek(p.ws.vpn_of(s))).and_then(|pte| pte.frame());
        if let Some(e) = frame.and_then(|pfn| self.pfn.get(pfn)) {
            crate::host::prefetch(e);
        }
    }

    /// Every reference that is not a plain hit: faults, first writes to
    /// clean pages, violations; with a TLB model, a walk that loads the
    /// new translation.
    #[inline(never)]
    fn access_slow(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        address: u64,
        kind: AccessKind,
        node: Option<u8>,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let r = self.resolve(pid, vpn, address, kind, node, next_use);
        if self.tlb.is_some() && r.is_ok() {
            self.tlb_after_fault(pid, vpn);
        }
        if self.multi_node && r.is_ok() {
            self.reference_after_fault(pid, vpn, node);
        }
        r
    }

    #[inline(always)]
    fn resolve(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        address: u64,
        kind: AccessKind,
        node: Option<u8>,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        self.live(pid)?;
        let write = kind == AccessKind::Write;
        self.processes[pid.0 as usize].counters.paging.references += 1;
        let pte = self.processes[pid.0 as usize].page_table.get(vpn);
        if pte.is_valid() {
            // A first write to a valid page: the hardware sets the dirty bit
            // and the memory manager captures it in the PFN, releasing the
            // now stale page-file copy (WRK `mi.h` MI_CAPTURE_DIRTY_BIT_TO_PFN).
            if !pte.kind_allows(write) {
                return Err(self.violation(pid, address, "write to a read-only page"));
            }
            self.capture_dirty(pte.pfn());
            let p = &mut self.processes[pid.0 as usize];
            let e = p.page_table.get_mut(vpn).expect("valid PTE exists");
            e.touch(true);
            if p.ws.tracks_references() && pte.in_working_set() {
                let slot = self.pfn.entry(pte.pfn()).ws_index();
                p.ws.referenced(slot, next_use);
            }
            return Ok(Resolution::Hit);
        }
        let node = node.unwrap_or(self.processes[pid.0 as usize].node).min(self.pfn.nodes() - 1);
        // Every fault takes the working-set lock and the PFN lock once.
        self.took_ws_lock(self.config.cost.ws_lock_hold);
        self.took_pfn_lock(self.config.cost.pfn_lock_hold);
        let recorded = self.events.len();
        let result = match pte.kind() {
            PteKind::Valid { .. } => unreachable!("handled above"),
            PteKind::Transition { pfn, protection } => {
                self.check_protection(pid, address, protection, write)?;
                self.soft_fault(pid, vpn, pfn, protection, write, next_use)
            }
            PteKind::DemandZero { protection } => {
                self.check_protection(pid, address, protection, write)?;
                self.demand_zero_fault(pid, vpn, protection, write, node, next_use)
            }
            PteKind::PageFile { protection, .. }
                if !self.processes[pid.0 as usize].large_out.is_empty() && self.in_large_out(pid, vpn) =>
            {
                self.check_protection(pid, address, protection, write)?;
                self.page_in_large(pid, vpn, address)
            }
            PteKind::PageFile { slot, protection, .. } => {
                self.check_protection(pid, address, protection, write)?;
                self.page_file_fault(pid, vpn, slot, protection, write, node, next_use)
            }
            PteKind::MappedFile { protection } => {
                self.check_protection(pid, address, protection, write)?;
                self.mapped_file_fault(pid, vpn, protection, write, node, next_use)
            }
            PteKind::NoAccess => Err(self.violation(pid, address, "the page is PAGE_NOACCESS")),
            PteKind::Decommitted => Err(self.violation(pid, address, "the page was decommitted")),
            PteKind::Zero => self.zero_pte_fault(pid, vpn, address, write, node, next_use),
        };
        if result.is_ok() {
            if self.recording {
                self.cause_first(recorded);
            }
            self.maybe_run_writer();
            self.maybe_run_balance_set_manager();
        }
        // Available pages change only in faults and operations: the
        // notifications are checked here, never on the hit path.
        self.update_notifications();
        result
    }

    fn zero_pte_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        address: u64,
        write: bool,
        node: u8,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let layout = self.config.layout;
        if address >= layout.system_start() {
            return Err(self.violation(pid, address, "address is in system space, not user space"));
        }
        if address >= layout.user_end() {
            return Err(self.violation(pid, address, "address is in the no-access 64 KB just below system space"));
        }
        let p = &self.processes[pid.0 as usize];
        match p.vad_at(vpn).copied() {
            Some(vad) => match vad.kind {
                VadKind::Private if vad.mem_commit => {
                    self.check_protection(pid, address, vad.protection, write)?;
                    self.demand_zero_fault(pid, vpn, vad.protection, write, node, next_use)
                }
                VadKind::Private => Err(self.violation(pid, address, "address is reserved but not committed")),
                VadKind::Physical => {
                    Err(self.violation(pid, address, "no AWE page is mapped at this address of the AWE window"))
                }
                VadKind::Mapped { .. } => {
                    self.check_protection(pid, address, vad.protection, write)?;
                    self.mapped_file_fault(pid, vpn, vad.protection, write, node, next_use)
                }
            },
            None if p.auto_commit => self.demand_zero_fault(pid, vpn, Protection::ReadWrite, write, node, next_use),
            None if address < layout.user_start() => Err(self.violation(
                pid,
                address,
                "address is in the first 64 KB, never valid (it catches NULL pointers)",
            )),
            None => Err(self.violation(pid, address, "address is free: no VAD describes it")),
        }
    }

    fn check_protection(&mut self, pid: ProcessId, address: u64, prot: Protection, write: bool) -> Result<(), OpError> {
        if !prot.readable() {
            return Err(self.violation(pid, address, "the page is PAGE_NOACCESS"));
        }
        if write && !prot.writable() {
            return Err(self.violation(pid, address, "write to a read-only page"));
        }
        Ok(())
    }

    pub(crate) fn violation(&mut self, pid: ProcessId, address: u64, reason: &'static str) -> OpError {
        self.processes[pid.0 as usize].counters.paging.access_violations += 1;
        self.emit(|| Event::AccessViolation { pid, address, reason });
        OpError::AccessViolation { address, reason }
    }

    /// The events of one fault in the order that explains them: the fault
    /// first (it is recorded last, once resolved and timed), then what it
    /// caused on the way (a wait for a free page, the eviction that made
    /// room, the neighbours read with it). `from` is where the fault's
    /// events start.
    #[cold]
    fn cause_first(&mut self, from: usize) {
        let from = from.min(self.events.len());
        let caused = &mut self.events[from..];
        let is_fault = |e: &Event| {
            matches!(
                e,
                Event::DemandZeroFault { .. }
                    | Event::SoftFault { .. }
                    | Event::HardFault { .. }
                    | Event::LargePagePagedIn { .. }
            )
        };
        if caused.len() > 1 && caused.last().is_some_and(is_fault) {
            caused.rotate_right(1);
        }
    }

    /// Marks a frame modified and releases its page-file copy.
    pub(crate) fn capture_dirty(&mut self, pfn: Pfn) {
        let e = self.pfn.entry_mut(pfn);
        if e.modified() {
            return;
        }
        e.set_modified(true);
        if let Backing::PageFile(s) = e.backing() {
            e.set_backing(Backing::None);
            self.pagefile.free(PageFileSlot(s));
        }
    }

    /// Accounts a fault's service time: the given work plus the trap and
    /// the hold times of the working-set and PFN locks it took once each,
    /// plus any wait for a free page (already in foreground time).
    #[inline(always)]
    fn finish_fault(&mut self, pid: ProcessId, work: SimNanos) -> SimNanos {
        let c = &self.config.cost;
        let own = c.fault_trap + c.ws_lock_hold + c.pfn_lock_hold + work;
        self.activity.time_foreground += own;
        let time = own + std::mem::take(&mut self.pending_wait);
        self.latency.record(time);
        let p = &mut self.processes[pid.0 as usize];
        p.counters.peak_ws = p.counters.peak_ws.max(p.ws.len());
        time
    }

    fn soft_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        pfn: Pfn,
        protection: Protection,
        write: bool,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let from = self.pfn.entry(pfn).location();
        debug_assert!(matches!(from, PageLocation::Standby | PageLocation::Modified));
        self.pfn.unlink(pfn);
        if write {
            self.capture_dirty(pfn);
        }
        // A page that comes back still modified gets a dirty PTE, even on a
        // read, when it is writable and not copy-on-write: it will not be
        // written out until the PTE is invalid again (WRK `pagfault.c`
        // MiResolveTransitionFault).
        let dirty = write || (self.pfn.entry(pfn).modified() && protection.writable_in_place());
        self.add_to_working_set(pid, vpn, pfn, protection, dirty, next_use);
        self.processes[pid.0 as usize].counters.paging.soft += 1;
        self.finish_fault(pid, self.config.cost.soft_fault);
        self.emit(|| Event::SoftFault { pid, vpn, pfn, from });
        Ok(Resolution::Soft)
    }

    fn demand_zero_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        protection: Protection,
        write: bool,
        node: u8,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let (pfn, from) = self.obtain_frame(FramePurpose::ZeroFill, node, pid)?;
        // Taking a page off a list and building the PTE costs what a soft
        // fault costs; zeroing comes on top when no zeroed page was ready.
        let mut t = self.config.cost.soft_fault;
        if from != ZeroSource::Zeroed {
            t += self.config.cost.zero_page;
            self.activity.zeroed_in_fault += 1;
        }
        // A demand-zero page has no copy anywhere, so it starts modified
        // (WRK `pagfault.c` MiResolveDemandZeroFault: MiInitializePfn with
        // ModifiedState 1): trimmed, it goes to the modified list. Its PTE
        // is dirty from the start when it is writable in place, read or
        // write (the same function: MI_SET_PTE_DIRTY when the write bit is set).
        let e = self.pfn.entry_mut(pfn);
        e.set_backing(Backing::None);
        e.set_modified(true);
        let dirty = write || protection.writable_in_place();
        self.add_to_working_set(pid, vpn, pfn, protection, dirty, next_use);
        self.processes[pid.0 as usize].counters.paging.demand_zero += 1;
        self.finish_fault(pid, t);
        self.emit(|| Event::DemandZeroFault { pid, vpn, pfn, from });
        Ok(Resolution::DemandZero)
    }

    /// The neighbours a clustered read takes with the faulting page:
    /// pages of the same VAD whose backing copy continues the faulting
    /// page's run (`backing_of` says where a PTE's copy is, in run units).
    /// Resident pages inside the run are skipped, but the run goes on past
    /// them: the I/O reads them into a dummy page (see `hard_fault`).
    fn cluster_neighbours(
        &self,
        pid: ProcessId,
        vpn: Vpn,
        extra: u32,
        backing_of: impl Fn(Vpn, Pte) -> Option<u64>,
        base: u64,
    ) -> Vec<(Vpn, u64)> {
        let p = &self.processes[pid.0 as usize];
        let vad = p.vad_at(vpn).copied();
        let in_range = |v: Vpn| vad.map_or(p.auto_commit, |vad| vad.contains(v));
        let mut out = Vec::new();
        let directions: &[i64] = match self.config.cluster.direction {
            ClusterDirection::Forward => &[1],
            ClusterDirection::Both => &[1, -1],
        };
        for &dir in directions {
            for k in 1..=extra as i64 {
                if out.len() as u32 >= extra {
                    break;
                }
                let Some(v) = vpn.0.checked_add_signed(dir * k).map(Vpn) else { break };
                let Some(want) = base.checked_add_signed(dir * k) else { break };
                if !in_range(v) {
                    break;
                }
                let pte = p.page_table.get(v);
                if pte.is_valid() || matches!(pte.kind(), PteKind::Transition { .. }) {
                    continue;
                }
                match backing_of(v, pte) {
                    Some(b) if b == want => out.push((v, b)),
                    _ => break,
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn page_file_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        slot: PageFileSlot,
        protection: Protection,
        write: bool,
        node: u8,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        self.hard_fault(pid, vpn, ReadSource::PageFile { slot }, protection, write, node, next_use)
    }

    fn mapped_file_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        protection: Protection,
        write: bool,
        node: u8,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let vad = *self.processes[pid.0 as usize].vad_at(vpn).expect("mapped PTE lies in a view");
        let VadKind::Mapped { file, file_page } = vad.kind else { unreachable!("mapped PTE in a private VAD") };
        let page = file_page + (vpn.0 - vad.start.0);
        self.hard_fault(pid, vpn, ReadSource::File { file, page }, protection, write, node, next_use)
    }

    /// A hard fault: one I/O reads the page from `source`, with the
    /// neighbours whose copies continue its run on disk (page-file offsets
    /// in a row, or the following pages of the file); the neighbours go to
    /// standby, the faulting page into the working set.
    #[allow(clippy::too_many_arguments)]
    fn hard_fault(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        source: ReadSource,
        protection: Protection,
        write: bool,
        node: u8,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let (pfn, _) = self.obtain_frame(FramePurpose::ReadIn, node, pid)?;
        let (backing, extra) = match source {
            ReadSource::PageFile { slot } => (Backing::PageFile(slot.0), self.config.cluster.pagefile),
            ReadSource::File { page, .. } => (Backing::File(page as u32), self.config.cluster.file),
        };
        let run_start = match backing {
            Backing::PageFile(s) | Backing::File(s) => s as u64,
            Backing::None => unreachable!("a read has a source"),
        };
        let vad_start = self.processes[pid.0 as usize].vad_at(vpn).map_or(0, |v| v.start.0);
        let neighbours = self.cluster_neighbours(
            pid,
            vpn,
            extra,
            |v, pte| match (source, pte.kind()) {
                (ReadSource::PageFile { .. }, PteKind::PageFile { slot, .. }) => Some(slot.0 as u64),
                (ReadSource::File { page, .. }, PteKind::Zero | PteKind::MappedFile { .. }) => {
                    Some(page - (vpn.0 - vad_start) + (v.0 - vad_start))
                }
                _ => None,
            },
            run_start,
        );
        let mut read = Vec::with_capacity(neighbours.len());
        for (v, at) in neighbours {
            let Some((f, _)) = self.allocate_frame(FramePurpose::ReadIn, node) else { break };
            let (b, prot) = match source {
                ReadSource::PageFile { .. } => (
                    Backing::PageFile(at as u32),
                    self.processes[pid.0 as usize].page_table.get(v).protection().unwrap_or(protection),
                ),
                ReadSource::File { .. } => (Backing::File(at as u32), protection),
            };
            read.push((v, f, b, prot));
        }
        self.pfn.entry_mut(pfn).set_backing(backing);
        self.pfn.entry_mut(pfn).set_modified(false);
        // The I/O covers the whole span from the lowest page read to the
        // highest: a resident page inside it is skipped but the read stays
        // one I/O (WI7 p. 413; MODEL.md s4), so the page is transferred
        // too, into a dummy page that is thrown away.
        let lo = read.iter().map(|r| r.0).chain([vpn]).min().expect("the faulting page");
        let hi = read.iter().map(|r| r.0).chain([vpn]).max().expect("the faulting page");
        let span = hi.0 - lo.0 + 1;
        let dummy = span - 1 - read.len() as u64;
        let pages = self.complete_read(pid, &read, dummy);
        if write {
            self.capture_dirty(pfn);
        }
        self.add_to_working_set(pid, vpn, pfn, protection, write, next_use);
        let resolution = match source {
            ReadSource::PageFile { .. } => {
                self.processes[pid.0 as usize].counters.paging.hard_pagefile += 1;
                Resolution::HardPageFile
            }
            ReadSource::File { file, .. } => {
                self.files[file.0 as usize].pages_read += pages;
                self.processes[pid.0 as usize].counters.paging.hard_file += 1;
                Resolution::HardFile
            }
        };
        let t = self.finish_fault(pid, self.config.cost.io(pages));
        self.emit(|| Event::HardFault { pid, vpn, pfn, source, pages_read: pages, dummy, time: t });
        Ok(resolution)
    }

    /// Completes a clustered read: the neighbours go to the standby list
    /// with transition PTEs. Returns the pages the one I/O moved: the
    /// faulting page, the neighbours, and `dummy` resident pages inside
    /// the span read into a dummy page.
    fn complete_read(&mut self, pid: ProcessId, read: &[(Vpn, Pfn, Backing, Protection)], dummy: u64) -> u64 {
        for &(v, f, backing, prot) in read {
            let e = self.pfn.entry_mut(f);
            e.set_backing(backing);
            e.set_modified(false);
            e.set_owner(Some((pid, v)));
            self.pfn.set_counts(f, 0, 0);
            self.pfn.push_tail(f, PageLocation::Standby);
            self.processes[pid.0 as usize].page_table.set(v, Pte::transition(f, prot));
            self.emit(|| Event::ClusterPage { pid, vpn: v, pfn: f });
        }
        let pages = 1 + read.len() as u64 + dummy;
        self.activity.io_reads += 1;
        self.activity.pages_read += pages;
        self.activity.pages_read_ahead += read.len() as u64;
        pages
    }

    /// Makes `vpn` valid in `pid`'s working set on `pfn`, first evicting
    /// the policy's victim if the working set is at its maximum (local
    /// replacement).
    pub(crate) fn add_to_working_set(
        &mut self,
        pid: ProcessId,
        vpn: Vpn,
        pfn: Pfn,
        protection: Protection,
        dirty: bool,
        next_use: u64,
    ) {
        let grow = {
            let ws = &self.processes[pid.0 as usize].ws;
            ws.len() < ws.max || (!ws.hard_max && self.pfn.available() > self.plentiful_above(ws.policy()))
        };
        if !grow {
            self.evict_victim(pid, crate::event::EvictReason::Replacement);
        }
        let p = &mut self.processes[pid.0 as usize];
        let slot = p.ws.insert(vpn, next_use);
        let e = self.pfn.entry_mut(pfn);
        e.set_ws_index(slot);
        e.set_owner(Some((pid, vpn)));
        if dirty {
            e.set_modified(true);
        }
        let dirty = e.modified() && dirty;
        self.pfn.set_counts(pfn, 1, 1);
        self.pfn.push_tail(pfn, PageLocation::Active);
        let pte = Pte::valid(pfn, protection, dirty);
        match p.page_table.get_mut(vpn) {
            // Where the page had a PTE (transition, page file...), in place.
            Some(e) if *e != Pte::ZERO => *e = pte,
            _ => p.page_table.set(vpn, pte),
        }
    }
}

impl Machine {
    /// A soft maximum gives way while available pages are above this: for
    /// aging working sets the balance set manager's threshold (below it, it
    /// trims them), for the others the modified page writer's.
    fn plentiful_above(&self, policy: crate::working_set::PolicyKind) -> u64 {
        if policy == crate::working_set::PolicyKind::Aging {
            self.config.balance.available_below
        } else {
            self.config.writer.free_below
        }
    }
}

impl Pte {
    /// Whether a valid PTE allows the access without a fault.
    fn kind_allows(self, write: bool) -> bool {
        !write || self.protection().is_some_and(|p| p.writable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::machine::{Op, OpValue};
    use crate::token::Privilege;
    use crate::units::Bytes;
    use crate::working_set::NEVER;

    /// A machine of `frames` frames on `nodes` nodes and one process on
    /// node 0 with `pages` committed pages at 0x10000, free to hold them all.
    fn machine(frames: u64, nodes: u8, pages: u64) -> (Machine, ProcessId) {
        let mut c = MachineConfig::with_memory(Bytes(frames * 4096));
        c.numa_nodes = nodes;
        let mut m = Machine::new(c).unwrap();
        let create = Op::CreateProcess {
            name: "p".into(),
            ws_min: Some(1),
            ws_max: Some(frames),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).unwrap() else { panic!() };
        let reserve = Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: pages * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        };
        m.apply(&reserve).unwrap();
        (m, p)
    }

    /// A fault's events explain it in order: the fault first, then the
    /// eviction that made room for it, or the neighbours read with it.
    #[test]
    fn a_fault_is_recorded_before_what_it_caused() {
        let (mut m, _) = machine(64, 1, 16);
        let create = Op::CreateProcess {
            name: "q".into(),
            ws_min: Some(1),
            ws_max: Some(4),
            hard_max: Some(true),
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(p) = m.apply(&create).unwrap() else { panic!() };
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 16 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        m.set_recording(true);
        for i in 0..5 {
            m.access(p, 0x10000 + i * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        let kinds: Vec<&str> = m.drain_events().iter().map(|e| e.kind()).collect();
        assert_eq!(kinds, ["demand_zero_fault"; 5].iter().copied().chain(["evicted"]).collect::<Vec<_>>());
        // A hard fault, then its read-ahead.
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        m.apply(&Op::WriteModified { pages: None }).unwrap();
        let OpValue::Process(hog) = m.apply(&Op::create_process("hog")).unwrap() else { panic!() };
        m.apply(&Op::Reserve {
            pid: hog,
            address: Some(0x10000),
            size: 64 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        for i in 0..64 {
            let _ = m.access(hog, 0x10000 + i * 4096, AccessKind::Write, None, NEVER);
        }
        m.apply(&Op::Exit { pid: hog }).unwrap();
        m.drain_events();
        assert_eq!(read(&mut m, p, 0x10000, None), Resolution::HardPageFile);
        let kinds: Vec<&str> = m.drain_events().iter().map(|e| e.kind()).collect();
        assert_eq!(kinds.first(), Some(&"hard_fault"), "{kinds:?}");
        assert!(kinds.contains(&"cluster_page"), "{kinds:?}");
    }

    fn remote(m: &Machine, p: ProcessId) -> u64 {
        m.process(p).unwrap().counters.paging.remote_references
    }

    fn read(m: &mut Machine, p: ProcessId, address: u64, node: Option<u8>) -> Resolution {
        m.access(p, address, AccessKind::Read, node, NEVER).unwrap()
    }

    #[test]
    fn a_reference_to_a_frame_on_another_node_is_remote_and_costs_remote_access() {
        let (mut m, p) = machine(64, 2, 4);
        let remote_cost = m.config().cost.remote_access;
        assert!(remote_cost.0 > 0);
        // Faulted in by a node 0 thread (the process's node): a node 0 frame.
        assert_eq!(read(&mut m, p, 0x10000, None), Resolution::DemandZero);
        assert_eq!((m.pfn_db().node_of(m.frame_of(p, Vpn(0x10)).unwrap()), remote(&m, p)), (0, 0));
        let before = m.time();
        assert_eq!(read(&mut m, p, 0x10000, Some(0)), Resolution::Hit);
        assert_eq!((remote(&m, p), m.time()), (0, before), "a local hit costs nothing");
        assert_eq!(read(&mut m, p, 0x10000, Some(1)), Resolution::Hit);
        assert_eq!((remote(&m, p), m.time()), (1, before + remote_cost), "a node 1 thread reaches across");
        // Faulted in by a node 1 thread: a node 1 frame, local to it,
        // remote to the process's own node.
        assert_eq!(read(&mut m, p, 0x11000, Some(1)), Resolution::DemandZero);
        assert_eq!(m.pfn_db().node_of(m.frame_of(p, Vpn(0x11)).unwrap()), 1);
        assert_eq!(remote(&m, p), 1, "the faulting reference was local");
        read(&mut m, p, 0x11000, None);
        assert_eq!(remote(&m, p), 2);
        // A first write to a clean valid page goes through the slow path
        // and is counted there too.
        m.access(p, 0x11000, AccessKind::Write, Some(0), NEVER).unwrap();
        assert_eq!(remote(&m, p), 3);
        // The machine-wide count is the sum over processes.
        assert_eq!(m.snapshot().counters.paging.remote_references, 3);
    }

    #[test]
    fn a_fault_that_falls_back_to_another_node_reads_its_page_remotely() {
        // Node 0 has 16 frames: the 17th page a node 0 thread faults in
        // comes from node 1, and the faulting reference is remote.
        let (mut m, p) = machine(32, 2, 20);
        for i in 0..16 {
            read(&mut m, p, 0x10000 + i * 4096, Some(0));
        }
        assert_eq!(remote(&m, p), 0);
        let before = m.time();
        assert_eq!(read(&mut m, p, 0x20000, Some(0)), Resolution::DemandZero);
        assert_eq!(m.pfn_db().node_of(m.frame_of(p, Vpn(0x20)).unwrap()), 1);
        assert_eq!(remote(&m, p), 1);
        let c = &m.config().cost;
        let fault = c.fault_trap + c.ws_lock_hold + c.pfn_lock_hold + c.soft_fault;
        assert_eq!(m.time(), before + fault + c.remote_access);
    }

    #[test]
    fn a_one_node_machine_counts_no_remote_reference_and_charges_none() {
        let run = |remote_access: u64| {
            let (mut m, p) = machine(64, 1, 8);
            m.config.cost.remote_access = SimNanos(remote_access);
            for round in 0..4u8 {
                for i in 0..8 {
                    let kind = if round == 2 { AccessKind::Write } else { AccessKind::Read };
                    m.access(p, 0x10000 + i * 4096, kind, Some(round % 3), NEVER).unwrap();
                }
            }
            assert!(!m.multi_node);
            (remote(&m, p), m.time())
        };
        let (count, time) = run(1_000_000);
        assert_eq!(count, 0, "threads on nodes 1 and 2 of a one-node machine run on node 0");
        assert_eq!(time, run(0).1, "remote_access never enters the time");
    }

    #[test]
    fn frames_are_taken_from_the_nearest_node_first_in_the_documented_order() {
        let m = Machine::new({
            let mut c = MachineConfig::with_memory(Bytes(256 * 4096));
            c.numa_nodes = 4;
            c
        })
        .unwrap();
        assert_eq!(m.pfn_db().fallback_order(2).collect::<Vec<_>>(), [2, 3, 0, 1]);
        assert_eq!(m.pfn_db().fallback_order(0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(
            m.pfn_db().fallback_order(9).collect::<Vec<_>>(),
            [3, 0, 1, 2],
            "a node beyond the last is the last"
        );
        // Node 2's 64 frames, then node 3's, then node 0's.
        let (mut m, p) = machine(256, 4, 140);
        m.processes[p.0 as usize].node = 2;
        for i in 0..140 {
            read(&mut m, p, 0x10000 + i * 4096, None);
        }
        let node = |m: &Machine, i: u64| m.pfn_db().node_of(m.frame_of(p, Vpn(0x10 + i)).unwrap());
        assert_eq!((node(&m, 0), node(&m, 63), node(&m, 64), node(&m, 127), node(&m, 128)), (2, 2, 3, 3, 0));
    }

    /// AWE and large pages are never paged and compaction never moves
    /// them: their frames, and so their nodes, stay what they were, while
    /// ordinary pages around them are moved.
    #[test]
    fn compaction_moves_ordinary_pages_and_never_awe_or_large_pages() {
        let frames = 4096;
        let (mut m, p) = machine(frames, 2, 3000);
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        m.apply(&Op::Logon).unwrap();
        // The token was made before the logon took the right: a new process.
        let create = Op::CreateProcess {
            name: "awe".into(),
            ws_min: Some(1),
            ws_max: Some(16),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        };
        let OpValue::Process(a) = m.apply(&create).unwrap() else { panic!() };
        m.apply(&Op::AdjustTokenPrivileges { pid: a, privilege: Privilege::LockMemory, enable: true }).unwrap();
        for i in 0..1000 {
            m.access(p, 0x10000 + i * 4096, AccessKind::Write, Some(0), NEVER).unwrap();
        }
        let window = Op::ReservePhysical {
            pid: a,
            address: Some(0x100000),
            size: 64 * 4096,
            protection: Protection::ReadWrite,
            commit: false,
        };
        m.apply(&window).unwrap();
        let Ok(OpValue::Frames(awe)) = m.apply(&Op::AllocatePhysical { pid: a, pages: 64, node: Some(0) }) else {
            panic!()
        };
        m.apply(&Op::MapPhysical { pid: a, address: 0x100000, pages: 64, frames: Some(awe.clone()) }).unwrap();
        let large =
            Op::AllocateLarge { pid: a, address: None, size: 2 << 20, protection: Protection::ReadWrite, commit: true };
        let Ok(OpValue::Address(la)) = m.apply(&large) else { panic!() };
        let large_frames: Vec<_> = (0..512).map(|i| m.frame_of(a, Vpn::containing(la).offset(i)).unwrap()).collect();
        for i in 1000..3000 {
            m.access(p, 0x10000 + i * 4096, AccessKind::Write, Some(1), NEVER).unwrap();
        }
        // Three contiguous megabytes and a second large page need runs
        // emptied: 520 frames are free.
        let _ = m.apply(&Op::AllocateContiguous { size: 3 << 20, alignment: 4096, highest: u64::MAX });
        let _ = m.apply(&large);
        let moved = m.compaction().moved + m.compaction().repurposed + m.compaction().written;
        assert!(moved > 0, "compaction emptied runs: {:?}", m.compaction());
        m.check_invariants().unwrap();
        for (i, f) in awe.iter().enumerate() {
            assert_eq!(m.frame_of(a, Vpn(0x100 + i as u64)), Some(*f), "AWE page {i}");
            assert!(m.pfn_db().entry(*f).awe());
        }
        for (i, f) in large_frames.iter().enumerate() {
            assert_eq!(m.frame_of(a, Vpn::containing(la).offset(i as u64)), Some(*f), "large page frame {i}");
        }
        // An AWE page referenced from the other node is remote, and stays put.
        let awe_node = m.pfn_db().node_of(awe[0]);
        let before = remote(&m, a);
        m.access(a, 0x100000, AccessKind::Read, Some(1 - awe_node), NEVER).unwrap();
        assert_eq!((remote(&m, a), m.frame_of(a, Vpn(0x100))), (before + 1, Some(awe[0])));
    }
}
