//! The machine: the one owner of all simulated state.
//!
//! State changes only through [`Machine::apply`] (API calls and background
//! work) and [`Machine::access`] (a memory reference, the hot path). Every
//! change is counted, and recorded as an [`Event`] when recording is on.
//! The core is pure: no I/O, no wall clock; its one random generator is
//! seeded from the configuration, and every collection it iterates is
//! ordered, so a seed gives the same events bit for bit.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::balance::BalanceState;
use crate::config::MachineConfig;
use crate::cost::{LatencyHistogram, LatencySummary};
use crate::event::Event;
use crate::pagefile::PageFile;
use crate::pfn_db::{Backing, ListCounts, PageLocation, PfnDatabase};
use crate::process::{PagingCounts, Process, ProcessCounters, Vad, VadKind};
use crate::pte::{Protection, Pte, PteKind};
use crate::token::{Adjusted, Privilege, Security};
use crate::units::{Bytes, FileId, PageFileSlot, Pfn, ProcessId, SimNanos, Vpn};
use crate::win32::Win32Error;
use crate::working_set::{PolicyKind, WorkingSet};

/// A kind of memory reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch (checked as a read: no-execute is not modelled).
    Execute,
}

/// How a reference was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The page was in the working set.
    Hit,
    /// Demand-zero fault.
    DemandZero,
    /// Soft (transition) fault.
    Soft,
    /// Hard fault from the page file.
    HardPageFile,
    /// Hard fault from a mapped file.
    HardFile,
}

/// An operation a caller can ask of the machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Create a process.
    CreateProcess {
        /// Name.
        name: String,
        /// Working-set minimum (pages); the machine default if `None`.
        ws_min: Option<u64>,
        /// Working-set maximum (pages); the machine default if `None`.
        ws_max: Option<u64>,
        /// Hard maximum; the machine default if `None`.
        hard_max: Option<bool>,
        /// Replacement policy; the machine default if `None`.
        policy: Option<PolicyKind>,
        /// NUMA node of its threads.
        node: u8,
        /// Treat every address as committed (trace replay).
        auto_commit: bool,
    },
    /// VirtualAlloc(MEM_RESERVE [| MEM_COMMIT]).
    Reserve {
        /// Process.
        pid: ProcessId,
        /// Base address, or `None` to let the system choose (bottom-up).
        address: Option<u64>,
        /// Size in bytes.
        size: u64,
        /// Protection.
        protection: Protection,
        /// Also commit.
        commit: bool,
    },
    /// VirtualAlloc(MEM_COMMIT) inside a reservation.
    Commit {
        /// Process.
        pid: ProcessId,
        /// Address.
        address: u64,
        /// Size in bytes.
        size: u64,
        /// Protection.
        protection: Protection,
    },
    /// VirtualFree(MEM_DECOMMIT).
    Decommit {
        /// Process.
        pid: ProcessId,
        /// Address.
        address: u64,
        /// Size in bytes.
        size: u64,
    },
    /// VirtualFree(MEM_RELEASE), or UnmapViewOfFile for a view.
    Release {
        /// Process.
        pid: ProcessId,
        /// Base address of the reservation.
        address: u64,
    },
    /// Create a file (on disk, no memory used).
    CreateFile {
        /// Name.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// MapViewOfFile.
    MapView {
        /// Process.
        pid: ProcessId,
        /// File.
        file: FileId,
        /// Offset in the file (bytes, a multiple of 64 KiB).
        offset: u64,
        /// View size in bytes (0: to the end of the file).
        size: u64,
        /// Base address or `None`.
        address: Option<u64>,
        /// Protection of the view.
        protection: Protection,
    },
    /// SetProcessWorkingSetSize(min, max); `None` for both is (-1, -1):
    /// empty the working set.
    SetWorkingSetSize {
        /// Process.
        pid: ProcessId,
        /// Limits in pages, or `None` to empty the working set.
        limits: Option<(u64, u64)>,
    },
    /// Trim pages from a working set, the policy choosing which (`None`: all).
    Trim {
        /// Process.
        pid: ProcessId,
        /// Pages to remove.
        pages: Option<u64>,
    },
    /// Run the modified page writer now, writing up to this many pages
    /// (`None`: the whole modified list).
    WriteModified {
        /// Page limit.
        pages: Option<u64>,
    },
    /// Let background work run for `ticks` rounds: in each, the modified
    /// writer runs if its thresholds say so, the zero page thread zeroes
    /// free pages, and a period of the balance set manager passes (one
    /// simulated second by default), after which it ages working sets and,
    /// if available memory is low, trims them; then every buffer pool's
    /// resource monitor reads the memory resource notifications and grows
    /// or shrinks its pool ([`crate::buffer_pool`]).
    Advance {
        /// Rounds.
        ticks: u32,
    },
    /// The working-set manager's aging scan of every aging and WSClock
    /// working set, without trimming: what `pagelab replay --refresh N`
    /// runs every N references.
    AgeWorkingSets,
    /// Exit a process.
    Exit {
        /// Process.
        pid: ProcessId,
    },
    /// VirtualAlloc(MEM_LARGE_PAGES | MEM_RESERVE | MEM_COMMIT): large
    /// pages, allocated up front ([`crate::large_page`]).
    AllocateLarge {
        /// Process.
        pid: ProcessId,
        /// Base address (a multiple of the large-page size), or `None`.
        address: Option<u64>,
        /// Size in bytes (a multiple of the large-page size).
        size: u64,
        /// Protection.
        protection: Protection,
        /// Whether MEM_COMMIT was given (it must be).
        commit: bool,
    },
    /// pagelab's experiment (Windows never does it): write one large page
    /// out to the page file, 2 MiB in one I/O, and free its frames; the
    /// next reference must find an aligned free region to bring it back
    /// ([`crate::large_page`]).
    PageOutLarge {
        /// Process.
        pid: ProcessId,
        /// An address in the large page.
        address: u64,
    },
    /// A seeded `fragment` step: scatter pages over physical memory
    /// ([`crate::fragment`]).
    Fragment(crate::fragment::FragmentSpec),
    /// A driver's MmAllocateContiguousMemorySpecifyCache: physically
    /// contiguous locked memory ([`crate::system_pages`]). Returns the
    /// physical address.
    AllocateContiguous {
        /// Bytes.
        size: u64,
        /// The first frame's physical address is a multiple of this.
        alignment: u64,
        /// The highest acceptable physical address.
        highest: u64,
    },
    /// MmFreeContiguousMemory.
    FreeContiguous {
        /// The physical address the allocation returned.
        address: u64,
    },
    /// Grant a user right to the account by policy (Local Security Policy,
    /// `LsaAddAccountRights`): in effect from the next logon.
    GrantPrivilege {
        /// The privilege.
        privilege: Privilege,
    },
    /// The account logs on again: processes started from now on get
    /// tokens with the rights granted by now.
    Logon,
    /// VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL): an AWE window
    /// ([`crate::awe`]).
    ReservePhysical {
        /// Process.
        pid: ProcessId,
        /// Base address, or `None`.
        address: Option<u64>,
        /// Size in bytes.
        size: u64,
        /// Protection (it must be PAGE_READWRITE).
        protection: Protection,
        /// Whether MEM_COMMIT was given too (it must not be).
        commit: bool,
    },
    /// AllocateUserPhysicalPages, or the Numa variant with a preferred
    /// node. Returns [`OpValue::Frames`].
    AllocatePhysical {
        /// Process.
        pid: ProcessId,
        /// Pages asked for.
        pages: u64,
        /// The preferred node (AllocateUserPhysicalPagesNuma), or `None`.
        node: Option<u8>,
    },
    /// MapUserPhysicalPages: `frames` at `address` onwards, or (`None`)
    /// unmap `pages` pages there.
    MapPhysical {
        /// Process.
        pid: ProcessId,
        /// First address.
        address: u64,
        /// Pages, when unmapping (with frames, their count).
        pages: u64,
        /// The PFN array, or `None` (NULL: unmap).
        frames: Option<Vec<Pfn>>,
    },
    /// MapUserPhysicalPagesScatter: `frames[i]` at `addresses[i]`, or
    /// (`None`) unmap each address.
    MapPhysicalScatter {
        /// Process.
        pid: ProcessId,
        /// One address per page.
        addresses: Vec<u64>,
        /// The PFN array, or `None`.
        frames: Option<Vec<Pfn>>,
    },
    /// FreeUserPhysicalPages. Returns [`OpValue::Count`].
    FreePhysical {
        /// Process.
        pid: ProcessId,
        /// The PFN array.
        frames: Vec<Pfn>,
    },
    /// The most AWE pages the process may own (0: no limit), as a job's
    /// memory limit sets it (MmSetPhysicalPagesLimit).
    SetPhysicalLimit {
        /// Process.
        pid: ProcessId,
        /// Pages.
        pages: u64,
    },
    /// T threads of the process fill a buffer at once, with demand-zero
    /// pages or AWE; the lock contention model times them
    /// ([`crate::ramp`]). Returns the buffer's address.
    RampUp {
        /// Process.
        pid: ProcessId,
        /// Pages, threads, memory, batch.
        spec: crate::ramp::RampSpec,
    },
    /// VirtualLock: lock the pages of a range in the working set
    /// ([`crate::virtual_lock`]).
    VirtualLock {
        /// Process.
        pid: ProcessId,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// VirtualUnlock.
    VirtualUnlock {
        /// Process.
        pid: ProcessId,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// An application starts its buffer pool ([`crate::buffer_pool`]):
    /// reserves its window, and with `grow` fills it to its target.
    /// Returns the window's address.
    StartBufferPool {
        /// Process.
        pid: ProcessId,
        /// Target, memory, batch, shrink, queries.
        spec: crate::buffer_pool::PoolSpec,
        /// Grow to the target now.
        grow: bool,
    },
    /// The process's buffer pool grows to its target now. Returns
    /// [`OpValue::Count`], the pages added.
    GrowBufferPool {
        /// Process.
        pid: ProcessId,
    },
    /// AdjustTokenPrivileges on the process's own token for one privilege.
    /// Returns [`OpValue::Adjusted`]: TRUE either way, with the last error
    /// 0 or 1300 ERROR_NOT_ALL_ASSIGNED.
    AdjustTokenPrivileges {
        /// Process.
        pid: ProcessId,
        /// The privilege.
        privilege: Privilege,
        /// Enable (or disable) it.
        enable: bool,
    },
}

impl Op {
    /// CreateProcess with the machine's defaults for everything but the name.
    pub fn create_process(name: &str) -> Op {
        Op::CreateProcess {
            name: name.into(),
            ws_min: None,
            ws_max: None,
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: false,
        }
    }
}

/// What a successful operation returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpValue {
    /// Nothing.
    None,
    /// A base address.
    Address(u64),
    /// A new process.
    Process(ProcessId),
    /// A new file.
    File(FileId),
    /// What AdjustTokenPrivileges did (it returned TRUE).
    Adjusted(Adjusted),
    /// The frames AllocateUserPhysicalPages returned, in order (its PFN
    /// array).
    Frames(Vec<Pfn>),
    /// A count: the pages FreeUserPhysicalPages freed.
    Count(u64),
}

/// Why an operation or access failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OpError {
    /// An access that cannot be resolved.
    #[error("access violation at 0x{address:x}: {reason}")]
    AccessViolation {
        /// Address.
        address: u64,
        /// Why.
        reason: &'static str,
    },
    /// An API call failed.
    #[error("{call} failed: {error}")]
    Win32 {
        /// The call.
        call: &'static str,
        /// The error.
        error: Win32Error,
    },
    /// No frame could be found even after writing and trimming.
    #[error("no physical page available: every frame is in use and none can be trimmed")]
    NoMemory,
    /// The process does not exist or has exited.
    #[error("process {0} does not exist or has exited")]
    NoSuchProcess(u16),
    /// MmAllocateContiguousMemory returned NULL: no run could be had.
    #[error("MmAllocateContiguousMemory failed: no run of {pages} contiguous frames could be had")]
    ContiguousUnavailable {
        /// Frames asked for.
        pages: u64,
    },
    /// MmFreeContiguousMemory of an address no contiguous allocation has.
    #[error("MmFreeContiguousMemory: no contiguous allocation starts at physical address 0x{address:x}")]
    NotContiguousMemory {
        /// The address given.
        address: u64,
    },
    /// A scenario's `free_contiguous` step when no contiguous allocation
    /// of the scenario is held.
    #[error("free_contiguous: no contiguous allocation is held (each frees the latest `contiguous` step's)")]
    NoContiguousHeld,
    /// A paged-out large page (pagelab's experiment) cannot come back: no
    /// aligned region of free frames can be had.
    #[error(
        "the large page at 0x{address:x} cannot be paged back in: no aligned region of {frames} frames can be had"
    )]
    LargePageLost {
        /// The address referenced.
        address: u64,
        /// Frames a large page needs.
        frames: u32,
    },
    /// A fragment step that cannot be built on this machine.
    #[error("{message}")]
    Fragment {
        /// What is wrong.
        message: String,
    },
    /// An AWE step names an entry its PFN array does not have (a scenario
    /// error found when the step runs).
    #[error("frame {index} of {owner}'s PFN array: it holds {len} frames (AllocateUserPhysicalPages returned them)")]
    BadFrameIndex {
        /// Whose array.
        owner: String,
        /// The index given.
        index: u64,
        /// Frames in the array.
        len: usize,
    },
    /// A scenario's `wait_notification` step: the event was not signalled
    /// within its ticks.
    #[error("the {notification} memory resource notification was not signalled after {ticks} background rounds")]
    WaitTimeout {
        /// "low" or "high".
        notification: &'static str,
        /// Rounds waited.
        ticks: u32,
    },
    /// A buffer-pool operation that cannot be done (no pool, a second
    /// pool, a target beyond memory).
    #[error("{message}")]
    BufferPool {
        /// What is wrong.
        message: String,
    },
    /// More processes or files than 16-bit identifiers can name.
    #[error("too many {0}: pagelab names at most 65536")]
    TooMany(&'static str),
}

impl OpError {
    /// A short name for expectations: "access_violation", the Win32 name,
    /// "no_memory".
    pub fn name(&self) -> String {
        match self {
            OpError::AccessViolation { .. } => "access_violation".into(),
            OpError::Win32 { error, .. } => error.name().into(),
            OpError::NoMemory => "no_memory".into(),
            OpError::NoSuchProcess(_) => "no_such_process".into(),
            OpError::TooMany(_) => "too_many".into(),
            OpError::ContiguousUnavailable { .. } => "no_contiguous_memory".into(),
            OpError::NotContiguousMemory { .. } | OpError::NoContiguousHeld => "not_contiguous_memory".into(),
            OpError::Fragment { .. } => "fragment".into(),
            OpError::LargePageLost { .. } => "large_page_lost".into(),
            OpError::BadFrameIndex { .. } => "bad_frame_index".into(),
            OpError::WaitTimeout { .. } => "wait_timeout".into(),
            OpError::BufferPool { .. } => "buffer_pool".into(),
        }
    }
}

/// Machine-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// References and faults: the sum over every process, exited ones too.
    #[serde(flatten)]
    pub paging: PagingCounts,
    /// What the memory manager did.
    #[serde(flatten)]
    pub activity: Activity,
}

/// What the memory manager itself did, machine-wide: list traffic, I/O,
/// locks, time. (References and faults are counted per process.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Standby pages taken from their owners for reuse.
    pub repurposed: u64,
    /// Free pages zeroed inside a fault (no zeroed page was ready).
    pub zeroed_in_fault: u64,
    /// Pages zeroed by the zero page thread.
    pub zeroed_by_thread: u64,
    /// Read I/Os.
    pub io_reads: u64,
    /// Pages read: faulting pages, cluster neighbours, and resident pages
    /// inside a cluster's span, read into a dummy page.
    pub pages_read: u64,
    /// Cluster neighbours read ahead.
    pub pages_read_ahead: u64,
    /// Write I/Os.
    pub io_writes: u64,
    /// Pages written to the page file.
    pub pages_written_pagefile: u64,
    /// Pages written back to mapped files.
    pub pages_written_file: u64,
    /// Working-set lock acquisitions.
    pub ws_lock: u64,
    /// PFN database lock acquisitions.
    pub pfn_lock: u64,
    /// Simulated time the working-set lock was held, over every acquisition.
    pub ws_lock_held: SimNanos,
    /// Simulated time the PFN database lock was held.
    pub pfn_lock_held: SimNanos,
    /// Simulated time spent by faulting threads.
    pub time_foreground: SimNanos,
    /// Simulated time spent by background work (writer, zero thread).
    pub time_background: SimNanos,
}

/// A file that can be mapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MappedFile {
    /// Name.
    pub name: String,
    /// Size in pages.
    pub pages: u64,
    /// Pages read from it.
    pub pages_read: u64,
    /// Pages written back to it.
    pub pages_written: u64,
}

/// A process at one moment, for reports and displays.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessSnapshot {
    /// Identifier.
    pub pid: ProcessId,
    /// Name.
    pub name: String,
    /// Exited.
    pub exited: bool,
    /// Working-set size.
    pub ws_size: u64,
    /// Minimum.
    pub ws_min: u64,
    /// Maximum.
    pub ws_max: u64,
    /// Policy.
    pub policy: PolicyKind,
    /// Commit charged, pages.
    pub commit: u64,
    /// VAD count.
    pub vads: usize,
    /// Counters.
    pub counters: ProcessCounters,
}

/// The machine at one moment: a copy, safe to keep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Frames.
    pub frames: u64,
    /// Page lists.
    pub lists: ListCounts,
    /// Available pages.
    pub available: u64,
    /// Commit charge, pages.
    pub commit_charge: u64,
    /// Commit limit, pages.
    pub commit_limit: u64,
    /// Page-file slots in use.
    pub pagefile_used: u64,
    /// Page-file capacity.
    pub pagefile_capacity: u64,
    /// Counters.
    pub counters: Counters,
    /// Simulated time.
    pub time: SimNanos,
    /// Processes.
    pub processes: Vec<ProcessSnapshot>,
    /// Files.
    pub files: Vec<MappedFile>,
}

/// The simulated machine.
#[derive(Clone)]
pub struct Machine {
    pub(crate) config: MachineConfig,
    pub(crate) pfn: PfnDatabase,
    pub(crate) processes: Vec<Process>,
    pub(crate) files: Vec<MappedFile>,
    pub(crate) pagefile: PageFile,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) activity: Activity,
    pub(crate) latency: LatencyHistogram,
    pub(crate) commit_charge: u64,
    pub(crate) commit_limit: u64,
    pub(crate) recording: bool,
    pub(crate) events: Vec<Event>,
    /// The account's rights and the logon session (tokens and privileges).
    pub(crate) security: Security,
    pub(crate) events_not_recorded: u64,
    /// Time the current fault has waited for a free page (see
    /// `obtain_frame`), added to its service time when it completes.
    pub(crate) pending_wait: SimNanos,
    /// The balance set manager.
    pub(crate) balance: BalanceState,
    /// Frames the system holds: drivers' nonpaged and contiguous memory.
    pub(crate) system: crate::system_pages::SystemPages,
    /// What emptying runs for contiguous requests has cost.
    pub(crate) compaction: crate::compaction::CompactionStats,
    /// The TLB model, on machines that have one.
    pub(crate) tlb: Option<Box<crate::tlb::Tlb>>,
    /// More than one NUMA node: references are checked for remote frames
    /// (one test on the hit path of a one-node machine, never taken).
    pub(crate) multi_node: bool,
    /// The memory resource notifications ([`crate::notify`]).
    pub(crate) notify: crate::notify::NotifyState,
    /// The latest ramp-up's report ([`crate::ramp`]).
    pub(crate) last_ramp: Option<Box<crate::ramp::RampReport>>,
    /// The buffer pools of applications ([`crate::buffer_pool`]), one per
    /// process at most, in the order they started.
    pub(crate) pools: Vec<crate::buffer_pool::BufferPool>,
}

/// The most events recorded between two drains (one scenario step): a
/// step of a billion references would otherwise hold tens of gigabytes of
/// events. Beyond it events are only counted.
pub const MAX_RECORDED_EVENTS: usize = 100_000;

/// Allocation granularity of reservations: 64 KiB (WI7 p. 365).
pub const ALLOCATION_GRANULARITY: u64 = 64 * 1024;
/// The allocation granularity in pages: where a system-chosen range starts.
const GRANULARITY_PAGES: u64 = ALLOCATION_GRANULARITY / 4096;
/// The largest range one operation may cover: 2^32 pages (16 TiB) of
/// page-by-page work would take the host hours.
pub const MAX_OP_PAGES: u64 = 1 << 32;

impl Machine {
    /// Builds a machine; every good frame starts on its node's zeroed list.
    pub fn new(config: MachineConfig) -> Result<Machine, String> {
        config.validate()?;
        let frames = config.frames() as u32;
        let mut pfn = PfnDatabase::new(frames, config.numa_nodes, &config.bad_frames);
        let pfn_nodes = pfn.nodes();
        if let Some(size) = config.large_page_size() {
            pfn.index_contiguity(size, &config.bad_frames);
        }
        let pagefile_pages = (config.pagefile.0 / crate::units::PAGE_SIZE) as u32;
        let pagefile = PageFile::new(pagefile_pages);
        let commit_limit = (frames as u64 - pfn.counts().bad) + pagefile.capacity() as u64;
        let large_frames = config.large_page_size().map_or(512, |s| s.frames());
        let tlb = config.tlb.map(|t| Box::new(crate::tlb::Tlb::new(t, large_frames)));
        let physical = frames as u64 - pfn.counts().bad;
        let thresholds = crate::notify::Thresholds::of(physical, &config.notifications);
        let notify = crate::notify::NotifyState::new(thresholds, pfn.available());
        Ok(Machine {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            balance: BalanceState::new(&config.balance),
            config,
            pfn,
            processes: Vec::new(),
            files: Vec::new(),
            pagefile,
            activity: Activity::default(),
            latency: LatencyHistogram::default(),
            commit_charge: 0,
            commit_limit,
            recording: false,
            events: Vec::new(),
            events_not_recorded: 0,
            pending_wait: SimNanos(0),
            security: Security::default(),
            system: Default::default(),
            compaction: Default::default(),
            tlb,
            multi_node: pfn_nodes > 1,
            notify,
            last_ramp: None,
            pools: Vec::new(),
        })
    }

    /// Turns event recording on or off (counting always happens).
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
    }

    /// Takes the events recorded since the last call.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    #[inline]
    pub(crate) fn emit(&mut self, f: impl FnOnce() -> Event) {
        if self.recording {
            if self.events.len() < MAX_RECORDED_EVENTS {
                self.events.push(f());
            } else {
                self.events_not_recorded += 1;
            }
        }
    }

    /// Events counted but not recorded since the last call, because more
    /// than [`MAX_RECORDED_EVENTS`] came between two drains.
    pub fn take_events_not_recorded(&mut self) -> u64 {
        std::mem::take(&mut self.events_not_recorded)
    }

    /// The configuration.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// The TLB model, if the machine has one.
    pub fn tlb(&self) -> Option<&crate::tlb::Tlb> {
        self.tlb.as_deref()
    }

    /// The PFN database (read only).
    pub fn pfn_db(&self) -> &PfnDatabase {
        &self.pfn
    }

    /// Host memory the machine's large structures hold now, bytes: the
    /// PFN database, every page table and working set, the page file's
    /// bitmap and the event log ([`crate::host_memory`] bounds it before a
    /// run).
    pub fn host_bytes(&self) -> u64 {
        let processes: u64 = self
            .processes
            .iter()
            .map(|p| p.page_table.host_bytes() + p.ws.host_bytes() + p.vads.len() as u64 * 64)
            .sum();
        self.pfn.host_bytes()
            + processes
            + self.pagefile.host_bytes()
            + (self.events.capacity() * std::mem::size_of::<Event>()) as u64
    }

    /// A process (read only).
    pub fn process(&self, pid: ProcessId) -> Option<&Process> {
        self.processes.get(pid.0 as usize)
    }

    /// Every process, exited ones too.
    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// The process's name, for explanations.
    pub fn name_of(&self, pid: ProcessId) -> String {
        self.process(pid).map_or_else(|| format!("process {}", pid.0), |p| p.name.clone())
    }

    /// One event explained in a sentence, with this machine's names.
    pub fn explain(&self, event: &Event) -> String {
        event.explain(self)
    }

    /// Counters: the machine's own activity, and references and faults
    /// summed over its processes.
    pub fn counters(&self) -> Counters {
        let mut paging = PagingCounts::default();
        for p in &self.processes {
            paging += p.counters.paging;
        }
        Counters { paging, activity: self.activity }
    }

    /// Simulated time: foreground plus background.
    pub fn time(&self) -> SimNanos {
        self.activity.time_foreground + self.activity.time_background
    }

    /// Fault service-time percentiles.
    pub fn latency(&self) -> LatencySummary {
        self.latency.summary()
    }

    /// The PTE of a page.
    pub fn pte(&self, pid: ProcessId, vpn: Vpn) -> Option<Pte> {
        self.process(pid).map(|p| p.page_table.get(vpn))
    }

    /// A copy of the machine's state for reports.
    pub fn snapshot(&self) -> Snapshot {
        let lists = self.pfn.counts();
        Snapshot {
            frames: self.pfn.frames() as u64,
            lists,
            available: lists.available(),
            commit_charge: self.commit_charge,
            commit_limit: self.commit_limit,
            pagefile_used: self.pagefile.used() as u64,
            pagefile_capacity: self.pagefile.capacity() as u64,
            counters: self.counters(),
            time: self.time(),
            processes: self
                .processes
                .iter()
                .map(|p| ProcessSnapshot {
                    pid: p.id,
                    name: p.name.clone(),
                    exited: p.exited,
                    ws_size: p.ws.len(),
                    ws_min: p.ws.min,
                    ws_max: p.ws.max,
                    policy: p.ws.policy(),
                    commit: p.commit,
                    vads: p.vads.len(),
                    counters: p.counters,
                })
                .collect(),
            files: self.files.clone(),
        }
    }

    pub(crate) fn live(&self, pid: ProcessId) -> Result<(), OpError> {
        match self.processes.get(pid.0 as usize) {
            Some(p) if !p.exited => Ok(()),
            _ => Err(OpError::NoSuchProcess(pid.0)),
        }
    }

    /// A Win32 call of `pid` failed: its last error (GetLastError) says
    /// why, and an event tells it.
    pub(crate) fn fail(&mut self, pid: ProcessId, call: &'static str, error: Win32Error) -> OpError {
        if let Some(p) = self.processes.get_mut(pid.0 as usize) {
            p.last_error = error.code();
        }
        self.emit(|| Event::CallFailed { pid, call, error });
        OpError::Win32 { call, error }
    }

    /// Counts one acquisition of the working-set lock, held for `hold`.
    #[inline]
    pub(crate) fn took_ws_lock(&mut self, hold: SimNanos) {
        self.activity.ws_lock += 1;
        self.activity.ws_lock_held += hold;
    }

    /// Counts one acquisition of the PFN database lock, held for `hold`.
    #[inline]
    pub(crate) fn took_pfn_lock(&mut self, hold: SimNanos) {
        self.activity.pfn_lock += 1;
        self.activity.pfn_lock_held += hold;
    }

    /// The account's rights and the current logon session.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Applies one operation; then the memory resource notifications are
    /// brought up to date with available pages ([`crate::notify`]).
    pub fn apply(&mut self, op: &Op) -> Result<OpValue, OpError> {
        let result = self.apply_op(op);
        self.update_notifications();
        result
    }

    fn apply_op(&mut self, op: &Op) -> Result<OpValue, OpError> {
        match op {
            Op::CreateProcess { name, ws_min, ws_max, hard_max, policy, node, auto_commit } => {
                let id = ProcessId(u16::try_from(self.processes.len()).map_err(|_| OpError::TooMany("processes"))?);
                let min = ws_min.unwrap_or(self.config.ws_min);
                let max = ws_max.unwrap_or(self.config.ws_max).max(1);
                let policy = policy.unwrap_or(self.config.policy);
                // Under aging (NT 4 and later) the maximum is soft unless the
                // process asks for a hard one: a working set grows past it
                // while memory is plentiful (WI7 p. 417, QUOTA_LIMITS_HARDWS_MAX_ENABLE).
                let hard = hard_max.unwrap_or(policy != PolicyKind::Aging && self.config.ws_hard_max);
                let mut ws = WorkingSet::new(policy, min.min(max), max, hard);
                ws.set_tau(self.config.wsclock_tau);
                self.balance.process_created(policy);
                self.processes.push(Process {
                    id,
                    name: name.clone(),
                    node: (*node).min(self.pfn.nodes() - 1),
                    page_table: Default::default(),
                    vads: Default::default(),
                    ws,
                    counters: ProcessCounters::default(),
                    commit: 0,
                    auto_commit: *auto_commit,
                    exited: false,
                    large_frames: 0,
                    large_out: Default::default(),
                    token: self.security.new_token(),
                    last_error: 0,
                    awe: Default::default(),
                });
                self.emit(|| Event::ProcessCreated { pid: id, ws_min: min.min(max), ws_max: max });
                Ok(OpValue::Process(id))
            }
            Op::Reserve { pid, address, size, protection, commit } => {
                self.live(*pid)?;
                self.reserve(*pid, *address, *size, *protection, *commit)
            }
            Op::Commit { pid, address, size, protection } => {
                self.live(*pid)?;
                self.commit(*pid, *address, *size, *protection)
            }
            Op::Decommit { pid, address, size } => {
                self.live(*pid)?;
                self.decommit(*pid, *address, *size)
            }
            Op::Release { pid, address } => {
                self.live(*pid)?;
                self.release(*pid, *address)
            }
            Op::CreateFile { name, size } => {
                let id = FileId(u16::try_from(self.files.len()).map_err(|_| OpError::TooMany("files"))?);
                self.files.push(MappedFile {
                    name: name.clone(),
                    pages: Bytes(*size).pages_ceil(),
                    pages_read: 0,
                    pages_written: 0,
                });
                Ok(OpValue::File(id))
            }
            Op::MapView { pid, file, offset, size, address, protection } => {
                self.live(*pid)?;
                self.map_view(*pid, *file, *offset, *size, *address, *protection)
            }
            Op::SetWorkingSetSize { pid, limits } => {
                self.live(*pid)?;
                self.set_working_set_size(*pid, *limits)
            }
            Op::Trim { pid, pages } => {
                self.live(*pid)?;
                let n = pages.unwrap_or(u64::MAX);
                self.trim(*pid, n, crate::event::EvictReason::Trim);
                Ok(OpValue::None)
            }
            Op::WriteModified { pages } => {
                self.write_modified(pages.unwrap_or(u64::MAX), false);
                Ok(OpValue::None)
            }
            Op::Advance { ticks } => {
                for _ in 0..*ticks {
                    self.maybe_run_writer();
                    self.run_zero_thread();
                    self.balance_tick();
                    // Applications' resource monitors see the events as
                    // the background work left them.
                    self.update_notifications();
                    if !self.pools.is_empty() {
                        self.run_pool_monitors();
                        self.update_notifications();
                    }
                }
                Ok(OpValue::None)
            }
            Op::AgeWorkingSets => {
                self.age_working_sets();
                Ok(OpValue::None)
            }
            Op::Exit { pid } => {
                self.live(*pid)?;
                self.exit(*pid);
                self.pools.retain(|p| p.pid != *pid);
                Ok(OpValue::None)
            }
            Op::AllocateLarge { pid, address, size, protection, commit } => {
                self.live(*pid)?;
                self.allocate_large(*pid, *address, *size, *protection, *commit)
            }
            Op::PageOutLarge { pid, address } => {
                self.live(*pid)?;
                self.page_out_large(*pid, *address)
            }
            Op::Fragment(spec) => {
                self.live(spec.pid)?;
                self.fragment(spec)
            }
            Op::AllocateContiguous { size, alignment, highest } => {
                self.allocate_contiguous(*size, *alignment, *highest)
            }
            Op::FreeContiguous { address } => self.free_contiguous(*address),
            Op::GrantPrivilege { privilege } => {
                let new = self.security.grant(*privilege);
                let logon = self.security.logon;
                self.emit(|| Event::PrivilegeGranted { privilege: *privilege, new, logon });
                Ok(OpValue::None)
            }
            Op::Logon => {
                self.security.logon();
                let (logon, rights) = (self.security.logon, self.security.session);
                self.emit(|| Event::LoggedOn { logon, rights });
                Ok(OpValue::None)
            }
            Op::ReservePhysical { pid, address, size, protection, commit } => {
                self.live(*pid)?;
                self.reserve_physical(*pid, *address, *size, *protection, *commit)
            }
            Op::AllocatePhysical { pid, pages, node } => {
                self.live(*pid)?;
                self.allocate_physical(*pid, *pages, *node)
            }
            Op::MapPhysical { pid, address, pages, frames } => {
                self.live(*pid)?;
                self.map_physical(*pid, *address, *pages, frames.as_deref())
            }
            Op::MapPhysicalScatter { pid, addresses, frames } => {
                self.live(*pid)?;
                self.map_physical_scatter(*pid, addresses, frames.as_deref())
            }
            Op::FreePhysical { pid, frames } => {
                self.live(*pid)?;
                self.free_physical(*pid, frames)
            }
            Op::RampUp { pid, spec } => {
                self.live(*pid)?;
                self.ramp_up(*pid, *spec)
            }
            Op::VirtualLock { pid, address, size } => {
                self.live(*pid)?;
                self.virtual_lock(*pid, *address, *size)
            }
            Op::VirtualUnlock { pid, address, size } => {
                self.live(*pid)?;
                self.virtual_unlock(*pid, *address, *size)
            }
            Op::SetPhysicalLimit { pid, pages } => {
                self.live(*pid)?;
                self.processes[pid.0 as usize].awe.limit = *pages;
                Ok(OpValue::None)
            }
            Op::StartBufferPool { pid, spec, grow } => {
                self.live(*pid)?;
                self.start_buffer_pool(*pid, *spec, *grow)
            }
            Op::GrowBufferPool { pid } => {
                self.live(*pid)?;
                self.grow_buffer_pool(*pid)
            }
            Op::AdjustTokenPrivileges { pid, privilege, enable } => {
                self.live(*pid)?;
                let p = &mut self.processes[pid.0 as usize];
                let result = p.token.adjust(*privilege, *enable);
                p.last_error = match result {
                    Adjusted::AllAssigned => 0,
                    Adjusted::NotAllAssigned => Win32Error::NotAllAssigned.code(),
                };
                let logon = p.token.logon;
                self.emit(|| Event::PrivilegeAdjusted {
                    pid: *pid,
                    privilege: *privilege,
                    enable: *enable,
                    result,
                    logon,
                });
                Ok(OpValue::Adjusted(result))
            }
        }
    }

    fn user_range_pages(&self) -> (Vpn, Vpn) {
        (self.config.layout.first_user_page(), self.config.layout.end_user_page())
    }

    fn reserve(
        &mut self,
        pid: ProcessId,
        address: Option<u64>,
        size: u64,
        protection: Protection,
        commit: bool,
    ) -> Result<OpValue, OpError> {
        let (start, pages) = self.place_range(pid, "VirtualAlloc(MEM_RESERVE)", address, size, GRANULARITY_PAGES)?;
        if commit {
            if self.commit_charge + pages > self.commit_limit {
                return Err(self.fail(pid, "VirtualAlloc(MEM_COMMIT)", Win32Error::CommitmentLimit));
            }
            self.commit_charge += pages;
            self.processes[pid.0 as usize].commit += pages;
        }
        self.processes[pid.0 as usize].vads.insert(
            start.0,
            Vad { start, pages, kind: VadKind::Private, protection, mem_commit: commit, large: false },
        );
        self.emit(|| Event::Reserved { pid, start, size: Bytes(pages * 4096), committed: commit });
        Ok(OpValue::Address(start.address()))
    }

    /// Finds the address range a reservation or view of `size` bytes takes:
    /// at `address` (rounded down to the allocation granularity, the end up
    /// to a page; WI7 p. 365) or, without one, the lowest free range. A
    /// failure is reported as a failure of `call`.
    /// The virtual range of a new reservation, view or large-page
    /// allocation: at `address` (rounded down to the allocation
    /// granularity), or the lowest free range starting on a multiple of
    /// `align` pages (the allocation granularity, or the large-page size).
    pub(crate) fn place_range(
        &mut self,
        pid: ProcessId,
        call: &'static str,
        address: Option<u64>,
        size: u64,
        align: u64,
    ) -> Result<(Vpn, u64), OpError> {
        if size == 0 {
            return Err(self.fail(pid, call, Win32Error::InvalidParameter));
        }
        let (lo, hi) = self.user_range_pages();
        let start = match address {
            Some(a) => {
                // The base is rounded down to the allocation granularity and
                // the end up to a page (WI7 p. 365).
                let base = a & !(ALLOCATION_GRANULARITY - 1);
                let end = a.checked_add(size).and_then(|e| e.div_ceil(4096).checked_mul(4096));
                match end {
                    Some(end) if base >= self.config.layout.user_start() && end <= self.config.layout.user_end() => {
                        let pages = (end - base) / 4096;
                        if self.processes[pid.0 as usize].overlaps(Vpn::containing(base), pages) {
                            // STATUS_CONFLICTING_ADDRESSES
                            return Err(self.fail(pid, call, Win32Error::InvalidAddress));
                        }
                        (Vpn::containing(base), pages)
                    }
                    // Outside the user range: STATUS_INVALID_PARAMETER_2/4
                    // (WRK `allocvm.c`).
                    _ => return Err(self.fail(pid, call, Win32Error::InvalidParameter)),
                }
            }
            None => {
                let pages = Bytes(size).pages_ceil();
                match self.processes[pid.0 as usize].find_free(lo, pages, align, hi) {
                    Some(v) => (v, pages),
                    // No free range: STATUS_NO_MEMORY.
                    None => return Err(self.fail(pid, call, Win32Error::NotEnoughMemory)),
                }
            }
        };
        let (start, pages) = start;
        if pages > MAX_OP_PAGES {
            return Err(self.fail(pid, call, Win32Error::InvalidParameter));
        }
        Ok((start, pages))
    }

    /// The VAD covering the whole of `[address, address + size)`.
    fn vad_covering(&self, pid: ProcessId, address: u64, size: u64) -> Option<(Vad, Vpn, u64)> {
        let first = Vpn::containing(address);
        let end = address.checked_add(size)?.div_ceil(4096);
        let pages = end.checked_sub(first.0)?;
        let vad = *self.processes[pid.0 as usize].vad_at(first)?;
        (end <= vad.end().0 && pages > 0).then_some((vad, first, pages))
    }

    fn is_committed(vad: &Vad, pte: Pte) -> bool {
        match pte.kind() {
            PteKind::Zero => vad.mem_commit,
            PteKind::Decommitted => false,
            _ => true,
        }
    }

    fn commit(&mut self, pid: ProcessId, address: u64, size: u64, protection: Protection) -> Result<OpValue, OpError> {
        const CALL: &str = "VirtualAlloc(MEM_COMMIT)";
        let Some((vad, first, pages)) = self.vad_covering(pid, address, size) else {
            return Err(self.fail(pid, CALL, Win32Error::InvalidAddress));
        };
        if vad.kind != VadKind::Private || pages > MAX_OP_PAGES {
            return Err(self.fail(pid, CALL, Win32Error::InvalidAddress));
        }
        let p = &self.processes[pid.0 as usize];
        // At most every existing PTE is already committed: if even then the
        // charge would pass the limit, fail without walking the range.
        let headroom = self.commit_limit - self.commit_charge;
        if pages > headroom + p.page_table.len() as u64 && !vad.mem_commit {
            return Err(self.fail(pid, CALL, Win32Error::CommitmentLimit));
        }
        let needed =
            (0..pages).filter(|&i| !Self::is_committed(&vad, p.page_table.get(first.offset(i)))).count() as u64;
        if self.commit_charge + needed > self.commit_limit {
            return Err(self.fail(pid, CALL, Win32Error::CommitmentLimit));
        }
        let p = &mut self.processes[pid.0 as usize];
        for i in 0..pages {
            let v = first.offset(i);
            if !Self::is_committed(&vad, p.page_table.get(v)) {
                p.page_table.set(v, Pte::demand_zero(protection));
            }
        }
        p.commit += needed;
        self.commit_charge += needed;
        self.emit(|| Event::Committed { pid, start: first, pages: needed });
        Ok(OpValue::Address(first.address()))
    }

    fn decommit(&mut self, pid: ProcessId, address: u64, size: u64) -> Result<OpValue, OpError> {
        const CALL: &str = "VirtualFree(MEM_DECOMMIT)";
        let Some((vad, first, pages)) = self.vad_covering(pid, address, size) else {
            return Err(self.fail(pid, CALL, Win32Error::InvalidAddress));
        };
        if vad.kind != VadKind::Private || pages > MAX_OP_PAGES {
            return Err(self.fail(pid, CALL, Win32Error::InvalidAddress));
        }
        if vad.large {
            // Large pages are freed whole, by MEM_RELEASE (pagelab refuses a
            // decommit of them; the sources leave it open).
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        }
        let mut freed = 0;
        let mut uncharged = 0;
        for i in 0..pages {
            let v = first.offset(i);
            let pte = self.processes[pid.0 as usize].page_table.get(v);
            if Self::is_committed(&vad, pte) {
                uncharged += 1;
            }
            if self.discard_page(pid, v) {
                freed += 1;
            }
            // WRK MiDecommitPages: a decommit PTE where the VAD says
            // committed, a zero PTE otherwise.
            let new = if vad.mem_commit { Pte::decommitted() } else { Pte::ZERO };
            self.processes[pid.0 as usize].page_table.set(v, new);
        }
        self.processes[pid.0 as usize].commit -= uncharged;
        self.commit_charge -= uncharged;
        self.emit(|| Event::Decommitted { pid, start: first, pages, freed });
        Ok(OpValue::None)
    }

    fn release(&mut self, pid: ProcessId, address: u64) -> Result<OpValue, OpError> {
        let start = Vpn::containing(address);
        let Some(vad) = self.processes[pid.0 as usize].vads.get(&start.0).copied() else {
            // VirtualFree(MEM_RELEASE) and UnmapViewOfFile need the base of
            // the reservation or view.
            return Err(self.fail(pid, "VirtualFree(MEM_RELEASE)", Win32Error::InvalidParameter));
        };
        let before = self.activity;
        let freed = self.release_vad(pid, &vad);
        self.processes[pid.0 as usize].vads.remove(&start.0);
        let end = vad.start.0 + vad.pages;
        self.processes[pid.0 as usize].large_out.retain(|&v| v < vad.start.0 || v >= end);
        match vad.kind {
            VadKind::Mapped { file, .. } => {
                let written = self.activity.pages_written_file - before.pages_written_file;
                let writes = self.activity.io_writes - before.io_writes;
                self.emit(|| Event::ViewUnmapped { pid, file, start, written, writes, freed });
            }
            VadKind::Private | VadKind::Physical => self.emit(|| Event::Released { pid, start, freed }),
        }
        Ok(OpValue::None)
    }

    /// Frees everything a VAD holds (pages, page-file slots, commit) and
    /// clears its PTEs; dirty mapped-file pages are written back first.
    fn release_vad(&mut self, pid: ProcessId, vad: &Vad) -> u64 {
        if vad.large {
            return self.release_large_vad(pid, vad);
        }
        if vad.kind == VadKind::Physical {
            return self.release_awe_window(pid, vad);
        }
        let ptes: Vec<(Vpn, Pte)> =
            self.processes[pid.0 as usize].page_table.iter().filter(|(v, _)| vad.contains(*v)).collect();
        if let VadKind::Mapped { file, .. } = vad.kind {
            self.flush_view(file, &ptes);
        }
        let mut freed = 0;
        let mut committed = if vad.mem_commit { vad.pages } else { 0 };
        for &(v, pte) in &ptes {
            if vad.kind == VadKind::Private {
                match (vad.mem_commit, Self::is_committed(vad, pte)) {
                    (true, false) => committed -= 1,
                    (false, true) => committed += 1,
                    _ => {}
                }
            }
            if self.discard_page(pid, v) {
                freed += 1;
            }
            self.processes[pid.0 as usize].page_table.set(v, Pte::ZERO);
        }
        if vad.kind == VadKind::Private {
            self.processes[pid.0 as usize].commit -= committed;
            self.commit_charge -= committed;
        }
        freed
    }

    /// Writes the dirty pages of a view back to its file, one I/O per
    /// contiguous run.
    fn flush_view(&mut self, file: FileId, ptes: &[(Vpn, Pte)]) {
        let mut run_end: Option<Vpn> = None;
        for &(v, pte) in ptes {
            let dirty = match pte.kind() {
                PteKind::Valid { pfn, dirty, .. } => dirty || self.pfn.entry(pfn).modified(),
                PteKind::Transition { pfn, .. } => self.pfn.entry(pfn).modified(),
                _ => false,
            };
            if !dirty {
                continue;
            }
            if run_end != Some(v) {
                self.activity.io_writes += 1;
                self.activity.time_background += self.config.cost.io_latency;
            }
            run_end = Some(v.offset(1));
            self.activity.pages_written_file += 1;
            self.activity.time_background += self.config.cost.io_per_page;
            self.files[file.0 as usize].pages_written += 1;
        }
    }

    fn map_view(
        &mut self,
        pid: ProcessId,
        file: FileId,
        offset: u64,
        size: u64,
        address: Option<u64>,
        protection: Protection,
    ) -> Result<OpValue, OpError> {
        const CALL: &str = "MapViewOfFile";
        let Some(f) = self.files.get(file.0 as usize) else {
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        };
        let file_bytes = f.pages * 4096;
        if offset % ALLOCATION_GRANULARITY != 0 || offset >= file_bytes.max(1) {
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        }
        let size = if size == 0 { file_bytes - offset } else { size };
        if offset.checked_add(size).is_none_or(|end| end > file_bytes) {
            return Err(self.fail(pid, CALL, Win32Error::InvalidParameter));
        }
        // A view's base is not rounded down as a reservation's is: one that
        // is not a multiple of the allocation granularity fails (Docs,
        // MapViewOfFileEx; WRK `mapview.c` STATUS_MAPPED_ALIGNMENT).
        if address.is_some_and(|a| a % ALLOCATION_GRANULARITY != 0) {
            return Err(self.fail(pid, CALL, Win32Error::MappedAlignment));
        }
        let (start, pages) = self.place_range(pid, CALL, address, size, GRANULARITY_PAGES)?;
        let kind = VadKind::Mapped { file, file_page: offset / 4096 };
        self.processes[pid.0 as usize]
            .vads
            .insert(start.0, Vad { start, pages, kind, protection, mem_commit: false, large: false });
        self.emit(|| Event::FileMapped { pid, file, start, size: Bytes(pages * 4096) });
        Ok(OpValue::Address(start.address()))
    }

    fn set_working_set_size(&mut self, pid: ProcessId, limits: Option<(u64, u64)>) -> Result<OpValue, OpError> {
        match limits {
            None => {
                self.trim(pid, u64::MAX, crate::event::EvictReason::Trim);
            }
            Some((min, max)) => {
                // A minimum above the maximum fails: Docs
                // (SetProcessWorkingSetSize: the minimum must be at most the
                // maximum); WRK `wslist.c` MmAdjustWorkingSetSize returns
                // STATUS_BAD_WORKING_SET_LIMIT, which Win32 reports as
                // ERROR_INVALID_PARAMETER.
                if min > max {
                    return Err(self.fail(pid, "SetProcessWorkingSetSize", Win32Error::InvalidParameter));
                }
                // It raises a minimum below 20 pages to 20 and a maximum
                // below 13 to 13 (MODEL.md s4); when that puts the minimum
                // above the maximum (min 5, max 15), pagelab raises the
                // maximum to the minimum.
                let min = min.max(20);
                let max = max.max(13).max(min);
                // The locked pages must leave the working set fluid: 8
                // unlocked pages at least below the maximum (WRK `wslist.c`
                // MmAdjustWorkingSetSize: FirstDynamic + MM_FLUID_WORKING_SET
                // >= maximum is STATUS_BAD_WORKING_SET_LIMIT).
                let locked = self.processes[pid.0 as usize].ws.locked_len();
                if locked + crate::virtual_lock::FLUID_WORKING_SET >= max && locked > 0 {
                    return Err(self.fail(pid, "SetProcessWorkingSetSize", Win32Error::InvalidParameter));
                }
                let p = &mut self.processes[pid.0 as usize];
                p.ws.min = min;
                p.ws.max = max;
                self.emit(|| Event::WorkingSetLimits { pid, min, max });
                let excess = self.processes[pid.0 as usize].ws.len().saturating_sub(max);
                if excess > 0 {
                    self.trim(pid, excess, crate::event::EvictReason::Trim);
                }
            }
        }
        Ok(OpValue::None)
    }

    fn exit(&mut self, pid: ProcessId) {
        let vads: Vec<Vad> = self.processes[pid.0 as usize].vads.values().copied().collect();
        let mut freed = 0;
        for vad in &vads {
            freed += self.release_vad(pid, vad);
        }
        // Replay processes have pages outside any VAD.
        let rest: Vec<Vpn> = self.processes[pid.0 as usize].page_table.iter().map(|(v, _)| v).collect();
        for v in rest {
            if self.discard_page(pid, v) {
                freed += 1;
            }
            self.processes[pid.0 as usize].page_table.set(v, Pte::ZERO);
        }
        freed += self.free_all_awe(pid);
        let p = &mut self.processes[pid.0 as usize];
        p.vads.clear();
        p.large_out.clear();
        p.exited = true;
        self.balance.process_exited(p.ws.policy());
        self.commit_charge -= p.commit;
        p.commit = 0;
        self.emit(|| Event::ProcessExited { pid, freed });
    }

    /// A process's large pages: each large VAD is mapped whole, by valid
    /// large PTEs, onto aligned runs of contiguous frames; its count of
    /// large-page frames agrees; and the contiguity index agrees with a
    /// recount of every region.
    fn check_large_pages(&self, p: &Process) -> Result<(), String> {
        let mut frames = 0;
        for vad in p.vads.values().filter(|v| v.large) {
            let Some(size) = self.config.large_page_size() else {
                return Err(format!("{}: a large-page VAD on a machine without large pages", p.name));
            };
            let per = size.frames() as u64;
            for i in 0..vad.pages {
                let vpn = vad.start.offset(i);
                let pte = p.page_table.get(vpn);
                let first_page = vad.start.offset(i - i % per);
                if p.large_out.contains(&first_page.0) {
                    // Paged out by the experiment: every page in the page file.
                    if !matches!(pte.kind(), PteKind::PageFile { .. }) {
                        return Err(format!(
                            "{}: page {vpn} of a paged-out large page has a {} PTE",
                            p.name,
                            pte.kind()
                        ));
                    }
                    continue;
                }
                if !pte.is_large() {
                    return Err(format!("{}: page {vpn} of a large-page VAD has a {} PTE", p.name, pte.kind()));
                }
                let first = p.page_table.get(vad.start.offset(i - i % per)).pfn();
                if first.0 as u64 % per != 0 || pte.pfn().0 as u64 != first.0 as u64 + i % per {
                    return Err(format!(
                        "{}: large page at {vpn} is not one aligned contiguous run ({})",
                        p.name,
                        pte.pfn()
                    ));
                }
            }
            let out = p.large_out.range(vad.start.0..vad.start.0 + vad.pages).count() as u64;
            frames += vad.pages - out * per;
        }
        if frames != p.large_frames {
            return Err(format!("{}: {} large-page frames counted, {frames} mapped", p.name, p.large_frames));
        }
        Ok(())
    }

    /// Checks every invariant of the model; the error names the first broken one.
    ///
    /// - every frame is on exactly one list, or active in exactly one working
    ///   set, or bad; list links and counts agree;
    /// - PTE and PFN back-pointers agree both ways; share and reference
    ///   counts match the frame's state;
    /// - transition PTEs point at standby or modified frames; standby frames
    ///   are clean and have a backing copy;
    /// - working sets are within their maximum (when hard) and their policy
    ///   structures agree;
    /// - page-file slots in use are exactly those referenced, and none is
    ///   referenced twice; no modified frame still holds a page-file offset;
    /// - the commit charge is the sum of the processes' charges and within
    ///   the commit limit, and each process's charge is what its VADs and
    ///   PTEs commit;
    /// - zeroed and free frames carry no modified flag and no backing copy;
    /// - the balance set manager counts the live aging and WSClock working
    ///   sets it scans;
    /// - every PTE lies in a VAD (except in trace-replay processes), its
    ///   kind can occur in that VAD (no page-file or demand-zero PTE in a
    ///   view, no mapped-file PTE in private memory, decommit PTEs only
    ///   where the VAD was committed when reserved), and a frame's file
    ///   offset is the one its page has in the view and lies in the file.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.pfn.audit_lists()?;
        if let Some(c) = self.pfn.contiguity() {
            c.audit(&self.pfn.recount_regions(c.size())).map_err(|e| format!("contiguity index: {e}"))?;
        }
        if self.commit_charge > self.commit_limit {
            return Err(format!("commit charge {} above the commit limit {}", self.commit_charge, self.commit_limit));
        }
        let mut slots_seen = 0u64;
        // One bit per page-file slot: referenced already.
        let mut slot_refs = vec![0u64; (self.pagefile.capacity() as usize + 1).div_ceil(64) + 1];
        let mut reference_slot = |s: u32, what: &dyn Fn() -> String| -> Result<(), String> {
            let (w, b) = (s as usize / 64, s % 64);
            if w >= slot_refs.len() || slot_refs[w] & (1 << b) != 0 {
                return Err(format!("page-file offset {s} referenced twice (again by {})", what()));
            }
            slot_refs[w] |= 1 << b;
            Ok(())
        };
        let mut ws_total = 0u64;
        for p in &self.processes {
            if !p.token.held.includes(p.token.enabled) {
                return Err(format!("{}: its token has a privilege enabled that it does not hold", p.name));
            }
            if p.token.logon > self.security.logon {
                return Err(format!(
                    "{}: its token is of logon session {}, after the current one",
                    p.name, p.token.logon
                ));
            }
            self.check_vads(p)?;
            self.check_large_pages(p)?;
            p.ws.audit().map_err(|e| format!("{}: {e}", p.name))?;
            if p.ws.hard_max && p.ws.len() > p.ws.max {
                return Err(format!("{}: working set {} above its maximum {}", p.name, p.ws.len(), p.ws.max));
            }
            ws_total += p.ws.len();
            for (slot, vpn) in p.ws.slots() {
                let pte = p.page_table.get(vpn);
                let PteKind::Valid { pfn, .. } = pte.kind() else {
                    return Err(format!("{}: page {vpn} is in the working set but its PTE is {}", p.name, pte.kind()));
                };
                let e = self.pfn.entry(pfn);
                if e.ws_index() != slot {
                    return Err(format!("{pfn} holds WSLE {} but page {vpn} is in WSLE {slot}", e.ws_index()));
                }
            }
            for (vpn, pte) in p.page_table.iter() {
                if p.exited {
                    return Err(format!("{} exited but still has a PTE at {vpn}", p.name));
                }
                match pte.kind() {
                    PteKind::Valid { pfn, dirty, large, .. } => {
                        let e = self.pfn.entry(pfn);
                        if e.large() != large {
                            return Err(format!(
                                "{}: PTE at {vpn} large {large} maps {pfn}, large {}",
                                p.name,
                                e.large()
                            ));
                        }
                        if e.location() != PageLocation::Active {
                            return Err(format!(
                                "{}: valid PTE at {vpn} maps {pfn}, which is {:?}",
                                p.name,
                                e.location()
                            ));
                        }
                        if e.owner() != Some((p.id, vpn)) {
                            return Err(format!("{pfn} back-pointer {:?} does not match {} {vpn}", e.owner(), p.name));
                        }
                        if (e.share_count(), e.reference_count()) != (1, 1) {
                            return Err(format!(
                                "{pfn} is active with share/ref counts {}/{}",
                                e.share_count(),
                                e.reference_count()
                            ));
                        }
                        if dirty && !e.modified() {
                            return Err(format!("{pfn} is dirty in its PTE but not modified in its PFN"));
                        }
                        if let Backing::PageFile(s) = e.backing() {
                            if e.modified() {
                                return Err(format!("{pfn} is modified but still holds page-file offset {s}"));
                            }
                            reference_slot(s, &|| format!("{pfn} of {} {vpn}", p.name))?;
                            slots_seen += 1;
                        }
                    }
                    PteKind::Transition { pfn, .. } => {
                        let e = self.pfn.entry(pfn);
                        if e.owner() != Some((p.id, vpn)) {
                            return Err(format!(
                                "{pfn} back-pointer {:?} does not match transition PTE of {} {vpn}",
                                e.owner(),
                                p.name
                            ));
                        }
                        match e.location() {
                            PageLocation::Standby => {
                                if e.modified() || e.backing() == Backing::None {
                                    return Err(format!("{pfn} on standby is modified or has no backing copy"));
                                }
                            }
                            PageLocation::Modified => {
                                if !e.modified() {
                                    return Err(format!("{pfn} on the modified list is not marked modified"));
                                }
                            }
                            other => {
                                return Err(format!(
                                    "transition PTE of {} {vpn} points at {pfn} which is {other:?}",
                                    p.name
                                ))
                            }
                        }
                        if (e.share_count(), e.reference_count()) != (0, 0) {
                            return Err(format!(
                                "{pfn} on a list with share/ref counts {}/{}",
                                e.share_count(),
                                e.reference_count()
                            ));
                        }
                        if let Backing::PageFile(s) = e.backing() {
                            if e.modified() {
                                return Err(format!("{pfn} is modified but still holds page-file offset {s}"));
                            }
                            reference_slot(s, &|| format!("{pfn} of {} {vpn}", p.name))?;
                            slots_seen += 1;
                        }
                    }
                    PteKind::PageFile { slot, .. } => {
                        if !self.pagefile.is_used(slot) {
                            return Err(format!("{} {vpn} points at free page-file offset {}", p.name, slot.0));
                        }
                        reference_slot(slot.0, &|| format!("the PTE of {} {vpn}", p.name))?;
                        slots_seen += 1;
                    }
                    _ => {}
                }
            }
        }
        // Untouched frames read as boot entries, which audit_lists checked.
        for (pfn, e) in self.pfn.iter_stored() {
            match e.location() {
                PageLocation::Zeroed | PageLocation::Free | PageLocation::Bad => {
                    if e.owner().is_some() || e.share_count() != 0 || e.reference_count() != 0 {
                        return Err(format!("{pfn} is {:?} but still has an owner or counts", e.location()));
                    }
                    if e.modified() || e.backing() != Backing::None {
                        return Err(format!(
                            "{pfn} is {:?} but is marked modified or keeps a backing copy {:?}",
                            e.location(),
                            e.backing()
                        ));
                    }
                    if e.read_in_progress() || e.write_in_progress() {
                        return Err(format!("{pfn} is {:?} with I/O in progress", e.location()));
                    }
                }
                PageLocation::Active if e.awe() => {
                    // A process's AWE page: checked by check_awe.
                }
                PageLocation::Active if e.locked() && e.owner().is_none() => {
                    // The system's: checked by check_system_pages.
                }
                PageLocation::Standby | PageLocation::Modified | PageLocation::Active => {
                    let Some((pid, vpn)) = e.owner() else {
                        return Err(format!("{pfn} is {:?} with no PTE back-pointer", e.location()));
                    };
                    let pte = self.processes[pid.0 as usize].page_table.get(vpn);
                    let points = match pte.kind() {
                        PteKind::Valid { pfn: x, .. } | PteKind::Transition { pfn: x, .. } => x == pfn,
                        _ => false,
                    };
                    if !points {
                        return Err(format!("{pfn} says it belongs to {vpn} but that PTE is {}", pte.kind()));
                    }
                }
                other => return Err(format!("{pfn} left in state {other:?} between operations")),
            }
        }
        self.check_system_pages()?;
        self.check_awe()?;
        self.check_pools()?;
        self.check_notifications()?;
        let large_total: u64 = self.processes.iter().map(|p| p.large_frames).sum();
        let system = self.system.frames();
        let awe = self.awe_frames();
        if self.pfn.counts().active != ws_total + large_total + system + awe {
            return Err(format!(
                "{} active frames but working sets hold {ws_total}, large pages {large_total}, AWE pages {awe} and the system {system}",
                self.pfn.counts().active
            ));
        }
        if slots_seen != self.pagefile.used() as u64 {
            return Err(format!("{} page-file slots in use but {slots_seen} referenced", self.pagefile.used()));
        }
        let scanned = self.processes.iter().filter(|p| !p.exited && p.ws.policy().scans_accessed_bits()).count();
        if scanned != self.balance.scanned() as usize {
            return Err(format!(
                "the balance set manager counts {} aging and WSClock working sets, but {scanned} are live",
                self.balance.scanned()
            ));
        }
        let charged: u64 = self.processes.iter().map(|p| p.commit).sum();
        if charged != self.commit_charge {
            return Err(format!("commit charge {} but processes hold {charged}", self.commit_charge));
        }
        let c = self.pfn.counts();
        if c.zeroed + c.free + c.standby + c.modified + c.modified_no_write + c.bad + c.active
            != self.pfn.frames() as u64
        {
            return Err("list counts do not add up to the frames".into());
        }
        Ok(())
    }

    /// The VAD invariants of one process: its charge is what its VADs and
    /// PTEs commit, every PTE lies in a VAD and has a kind that VAD allows,
    /// and file offsets agree with the view and the file.
    fn check_vads(&self, p: &Process) -> Result<(), String> {
        if p.vads.is_empty() && p.auto_commit {
            // A trace replay's process: no VAD, no charge, nothing to walk.
            return Ok(());
        }
        for vad in p.vads.values() {
            if let VadKind::Mapped { file, file_page } = vad.kind {
                let pages = self.files.get(file.0 as usize).map_or(0, |f| f.pages);
                if file_page + vad.pages > pages {
                    return Err(format!(
                        "{}: view at {} maps file pages {file_page}..{} of a {pages}-page file",
                        p.name,
                        vad.start,
                        file_page + vad.pages
                    ));
                }
            }
        }
        // Committed pages: a MEM_COMMIT VAD's pages, less those decommitted;
        // elsewhere, the pages whose PTEs say committed.
        let mut committed: u64 =
            p.vads.values().filter(|v| v.kind == VadKind::Private && v.mem_commit).map(|v| v.pages).sum();
        for (vpn, pte) in p.page_table.iter() {
            let kind = pte.kind();
            let Some(vad) = p.vad_at(vpn) else {
                if p.auto_commit {
                    continue;
                }
                return Err(format!("{}: PTE at {vpn} ({kind}) lies in no VAD", p.name));
            };
            let frame = pte.frame().map(|pfn| (pfn, self.pfn.entry(pfn).backing()));
            match vad.kind {
                VadKind::Private => {
                    let wrong = match kind {
                        PteKind::MappedFile { .. } => true,
                        PteKind::Decommitted => !vad.mem_commit,
                        _ => matches!(frame, Some((_, Backing::File(_)))),
                    };
                    if wrong {
                        return Err(format!("{}: private page {vpn} has a {kind} PTE backed by {frame:?}", p.name));
                    }
                    match (vad.mem_commit, Self::is_committed(vad, pte)) {
                        (true, false) => committed -= 1,
                        (false, true) => committed += 1,
                        _ => {}
                    }
                }
                // Checked by check_awe.
                VadKind::Physical => {}
                VadKind::Mapped { file_page, .. } => {
                    let page = file_page + (vpn.0 - vad.start.0);
                    let ok = match kind {
                        PteKind::Zero | PteKind::MappedFile { .. } => true,
                        PteKind::Valid { .. } | PteKind::Transition { .. } => {
                            matches!(frame, Some((_, Backing::File(f))) if f as u64 == page)
                        }
                        _ => false,
                    };
                    if !ok {
                        return Err(format!(
                            "{}: page {vpn} of a view (file page {page}) has a {kind} PTE backed by {frame:?}",
                            p.name
                        ));
                    }
                }
            }
        }
        if !p.exited && committed != p.commit {
            return Err(format!(
                "{} is charged {} pages of commit but its VADs and PTEs commit {committed}",
                p.name, p.commit
            ));
        }
        Ok(())
    }

    /// The page-file slot a PTE or frame holds for `vpn`, if any (for
    /// displays).
    pub fn pagefile_slot(&self, pid: ProcessId, vpn: Vpn) -> Option<PageFileSlot> {
        match self.pte(pid, vpn)?.kind() {
            PteKind::PageFile { slot, .. } => Some(slot),
            PteKind::Valid { pfn, .. } | PteKind::Transition { pfn, .. } => match self.pfn.entry(pfn).backing() {
                Backing::PageFile(s) => Some(PageFileSlot(s)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Page-file slots in use and capacity.
    pub fn pagefile_usage(&self) -> (u64, u64) {
        (self.pagefile.used() as u64, self.pagefile.capacity() as u64)
    }

    /// Frame of a resident or transition page.
    pub fn frame_of(&self, pid: ProcessId, vpn: Vpn) -> Option<Pfn> {
        match self.pte(pid, vpn)?.kind() {
            PteKind::Valid { pfn, .. } | PteKind::Transition { pfn, .. } => Some(pfn),
            _ => None,
        }
    }
}

impl crate::event::Names for Machine {
    fn process_name(&self, pid: ProcessId) -> String {
        self.name_of(pid)
    }

    fn file_name(&self, file: FileId) -> String {
        self.files.get(file.0 as usize).map_or_else(|| format!("{}", file.0), |f| f.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::event::EvictReason;
    use crate::working_set::NEVER;

    fn small(frames: u64, pagefile_pages: u64) -> Machine {
        let mut c = MachineConfig::with_memory(Bytes(frames * 4096));
        c.pagefile = Bytes(pagefile_pages * 4096);
        c.cluster.pagefile = 3;
        let mut m = Machine::new(c).unwrap();
        m.set_recording(true);
        m
    }

    /// A process that treats every address as committed (as a replay's).
    fn trace_process(m: &mut Machine, max: u64) -> ProcessId {
        let op = Op::CreateProcess {
            name: "trace".into(),
            ws_min: None,
            ws_max: Some(max),
            hard_max: None,
            policy: None,
            node: 0,
            auto_commit: true,
        };
        let Ok(OpValue::Process(p)) = m.apply(&op) else { panic!("create") };
        p
    }

    fn process(m: &mut Machine, max: u64) -> ProcessId {
        let OpValue::Process(p) = m
            .apply(&Op::CreateProcess {
                name: "p1".into(),
                ws_min: Some(1),
                ws_max: Some(max),
                hard_max: Some(true),
                policy: None,
                node: 0,
                auto_commit: false,
            })
            .unwrap()
        else {
            panic!()
        };
        p
    }

    fn touch(m: &mut Machine, p: ProcessId, base: u64, pages: u64, kind: AccessKind) -> Vec<Resolution> {
        (0..pages)
            .map(|i| {
                let r = m.access(p, base + i * 4096, kind, None, NEVER).unwrap();
                m.check_invariants().unwrap();
                r
            })
            .collect()
    }

    #[test]
    fn reserve_commit_touch_is_three_steps() {
        let mut m = small(64, 64);
        let p = process(&mut m, 16);
        let a = match m
            .apply(&Op::Reserve {
                pid: p,
                address: None,
                size: 8 * 4096,
                protection: Protection::ReadWrite,
                commit: false,
            })
            .unwrap()
        {
            OpValue::Address(a) => a,
            _ => panic!(),
        };
        // Reserved only: an access violation, not a fault.
        assert!(matches!(m.access(p, a, AccessKind::Read, None, NEVER), Err(OpError::AccessViolation { .. })));
        m.apply(&Op::Commit { pid: p, address: a, size: 8 * 4096, protection: Protection::ReadWrite }).unwrap();
        assert_eq!(m.snapshot().commit_charge, 8);
        assert_eq!(m.snapshot().lists.zeroed, 64, "commit takes no physical page");
        assert_eq!(m.pte(p, Vpn::containing(a)).unwrap().kind().name(), "demand_zero");
        assert_eq!(touch(&mut m, p, a, 2, AccessKind::Write), vec![Resolution::DemandZero; 2]);
        assert_eq!(m.access(p, a, AccessKind::Read, None, NEVER).unwrap(), Resolution::Hit);
        // Free space is a violation too.
        assert!(m.access(p, 0x7000_0000, AccessKind::Read, None, NEVER).is_err());
        assert_eq!(m.counters().paging.access_violations, 2);
        m.check_invariants().unwrap();
    }

    #[test]
    fn evicted_pages_come_back_soft_then_hard_with_clustering() {
        let mut m = small(32, 64);
        let p = process(&mut m, 4);
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 16 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        // Fill 8 pages through a 4-page working set: 4 evictions to modified.
        touch(&mut m, p, 0x10000, 8, AccessKind::Write);
        assert_eq!(m.snapshot().lists.modified, 4);
        // The first page is on the modified list: a soft fault brings it back.
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER).unwrap(), Resolution::Soft);
        m.check_invariants().unwrap();
        // Write every modified page out, then consume all free memory so the
        // standby pages are repurposed.
        m.apply(&Op::WriteModified { pages: None }).unwrap();
        let s = m.snapshot();
        assert_eq!(s.lists.modified, 0);
        assert!(s.counters.activity.pages_written_pagefile >= 4);
        let q = process(&mut m, 64);
        m.apply(&Op::Reserve {
            pid: q,
            address: Some(0x100000),
            size: 32 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        touch(&mut m, q, 0x100000, 28, AccessKind::Write);
        assert!(m.counters().activity.repurposed > 0);
        let kinds: Vec<_> = (1..4).map(|i| m.pte(p, Vpn(0x10 + i)).unwrap().kind().name()).collect();
        assert_eq!(kinds, vec!["page_file"; 3]);
        // A hard fault on page 1 reads it and its page-file neighbours in one I/O.
        let reads = m.counters().activity.io_reads;
        m.apply(&Op::Exit { pid: q }).unwrap();
        assert_eq!(m.access(p, 0x11000, AccessKind::Read, None, NEVER).unwrap(), Resolution::HardPageFile);
        assert_eq!(m.counters().activity.io_reads, reads + 1);
        assert!(m.counters().activity.pages_read_ahead >= 2, "{:?}", m.counters());
        assert_eq!(m.pte(p, Vpn(0x12)).unwrap().kind().name(), "transition");
        assert_eq!(m.access(p, 0x12000, AccessKind::Read, None, NEVER).unwrap(), Resolution::Soft);
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_read_only_page_stays_read_only_after_a_soft_fault() {
        // Regression: a demand-zero page is born modified; taken back from the
        // modified list, its PTE must not claim a write happened.
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 4096,
            protection: Protection::ReadOnly,
            commit: true,
        })
        .unwrap();
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER), Ok(Resolution::DemandZero));
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER), Ok(Resolution::Soft));
        assert!(matches!(m.access(p, 0x10000, AccessKind::Write, None, NEVER), Err(OpError::AccessViolation { .. })));
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_read_soft_fault_from_the_modified_list_leaves_the_pte_dirty() {
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        for (address, protection) in [(0x10000, Protection::ReadWrite), (0x20000, Protection::WriteCopy)] {
            m.apply(&Op::Reserve { pid: p, address: Some(address), size: 4096, protection, commit: true }).unwrap();
            m.access(p, address, AccessKind::Write, None, NEVER).unwrap();
        }
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        assert_eq!(m.snapshot().lists.modified, 2);
        let dirty = |m: &Machine, a: u64| match m.pte(p, Vpn::containing(a)).unwrap().kind() {
            PteKind::Valid { dirty, .. } => dirty,
            other => panic!("{other}"),
        };
        // Read back: the frame is still modified, so a writable PTE is dirty.
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER), Ok(Resolution::Soft));
        assert!(m.pfn_db().entry(m.frame_of(p, Vpn(0x10)).unwrap()).modified());
        assert!(dirty(&m, 0x10000), "read-write page back from the modified list");
        // Copy-on-write pages are mapped read-only, so their PTE stays clean.
        assert_eq!(m.access(p, 0x20000, AccessKind::Read, None, NEVER), Ok(Resolution::Soft));
        assert!(!dirty(&m, 0x20000), "copy-on-write page back from the modified list");
        m.check_invariants().unwrap();
        // Written out, the frame is clean: back from standby the PTE is clean.
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        m.apply(&Op::WriteModified { pages: None }).unwrap();
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER), Ok(Resolution::Soft));
        assert!(!dirty(&m, 0x10000), "page back from standby");
        // A demand-zero page is born modified: its writable PTE is dirty
        // even when the first touch is a read.
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x30000),
            size: 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        assert_eq!(m.access(p, 0x30000, AccessKind::Read, None, NEVER), Ok(Resolution::DemandZero));
        assert!(dirty(&m, 0x30000), "read demand-zero fault");
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_clustered_read_past_a_resident_page_counts_it_in_the_io() {
        let mut m = small(32, 64);
        let p = process(&mut m, 8);
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 8 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        touch(&mut m, p, 0x10000, 4, AccessKind::Write);
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        m.apply(&Op::WriteModified { pages: None }).unwrap();
        // Page 2 comes back; pages 0, 1 and 3 lose their frames to `hog`.
        assert_eq!(m.access(p, 0x12000, AccessKind::Read, None, NEVER), Ok(Resolution::Soft));
        let hog = process(&mut m, 64);
        m.apply(&Op::Reserve {
            pid: hog,
            address: Some(0x100000),
            size: 32 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        touch(&mut m, hog, 0x100000, 31, AccessKind::Write);
        m.apply(&Op::Exit { pid: hog }).unwrap();
        let kinds: Vec<_> = (0..4).map(|i| m.pte(p, Vpn(0x10 + i)).unwrap().kind().name()).collect();
        assert_eq!(kinds, ["page_file", "page_file", "valid", "page_file"]);
        m.drain_events();
        let (before, t0) = (m.counters().activity, m.time());
        // Page 0's cluster reads 1 and 3, and 2 into a dummy page: 4 pages.
        assert_eq!(m.access(p, 0x10000, AccessKind::Read, None, NEVER), Ok(Resolution::HardPageFile));
        let a = m.counters().activity;
        assert_eq!((a.io_reads - before.io_reads, a.pages_read - before.pages_read), (1, 4));
        assert_eq!(a.pages_read_ahead - before.pages_read_ahead, 2);
        let c = &m.config().cost;
        let expected = c.fault_trap + c.ws_lock_hold + c.pfn_lock_hold + c.io(4);
        assert_eq!(SimNanos(m.time().0 - t0.0), expected, "the fault pays for the 4-page transfer");
        let hard = m.drain_events().into_iter().find(|e| e.kind() == "hard_fault").unwrap();
        assert!(matches!(hard, Event::HardFault { pages_read: 4, dummy: 1, time, .. } if time == expected), "{hard:?}");
        assert!(m.explain(&hard).contains("4 pages in one I/O (1 of them already resident"), "{}", m.explain(&hard));
        m.check_invariants().unwrap();
    }

    #[test]
    fn the_modified_writer_clusters_around_the_oldest_page_on_both_sides() {
        let mut m = small(32, 64);
        let p = process(&mut m, 8);
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 8 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        // Page 3 is written first, so it is the oldest on the modified list.
        for page in [3, 0, 1, 2, 4, 5] {
            m.access(p, 0x10000 + page * 4096, AccessKind::Write, None, NEVER).unwrap();
        }
        m.apply(&Op::Trim { pid: p, pages: None }).unwrap();
        let writes = m.counters().activity.io_writes;
        m.apply(&Op::WriteModified { pages: None }).unwrap();
        assert_eq!(m.counters().activity.io_writes - writes, 1, "one cluster: 3, then 4-5, then 2-0");
        let slots: Vec<u32> = (0..6).map(|i| m.pagefile_slot(p, Vpn(0x10 + i)).unwrap().0).collect();
        let first = slots[0];
        assert_eq!(slots, (first..first + 6).collect::<Vec<_>>(), "neighbours in memory, neighbours on disk");
        let write = m.drain_events().into_iter().rfind(|e| e.kind() == "modified_write").unwrap();
        assert!(matches!(write, Event::ModifiedWrite { vpn: Vpn(0x10), pages: 6, .. }), "{write:?}");
        m.check_invariants().unwrap();
    }

    #[test]
    fn under_pressure_a_fault_waits_while_a_batch_is_trimmed_and_written_in_one_cluster() {
        let mut m = small(32, 64);
        let p = process(&mut m, 32);
        let hog = process(&mut m, 32);
        for pid in [p, hog] {
            m.apply(&Op::Reserve {
                pid,
                address: Some(0x100000),
                size: 32 * 4096,
                protection: Protection::ReadWrite,
                commit: true,
            })
            .unwrap();
        }
        touch(&mut m, p, 0x100000, 24, AccessKind::Write);
        m.drain_events();
        let writes = m.counters().activity.io_writes;
        // 8 frames are left: hog's ninth page finds none available.
        touch(&mut m, hog, 0x100000, 20, AccessKind::Write);
        let events = m.drain_events();
        let waits: Vec<_> = events.iter().filter(|e| e.kind() == "page_wait").collect();
        assert_eq!(waits.len(), 1, "one wait, then the batch's pages serve the next faults: {waits:?}");
        let Event::PageWait { pid, trimmed, written, time } = *waits[0] else { unreachable!() };
        assert_eq!((pid, trimmed, written), (hog, 16, 16));
        let c = &m.config().cost;
        assert!(time >= c.io(16), "the wait includes the 16-page write: {time}");
        assert_eq!(m.counters().activity.io_writes - writes, 1, "the batch goes out in one write");
        assert_eq!(m.process(p).unwrap().ws.len(), 8);
        // The waiting fault's service time includes the wait.
        assert!(m.latency().max_ns >= time.0, "{:?}", m.latency());
        let trims = events.iter().filter(|e| matches!(e, Event::Evicted { reason: EvictReason::MemoryPressure, .. }));
        assert_eq!(trims.count(), 16);
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_view_that_cannot_be_placed_fails_as_map_view_of_file() {
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        let OpValue::File(f) = m.apply(&Op::CreateFile { name: "f".into(), size: 1 << 20 }).unwrap() else { panic!() };
        m.apply(&Op::Reserve {
            pid: p,
            address: Some(0x10000),
            size: 4096,
            protection: Protection::ReadWrite,
            commit: false,
        })
        .unwrap();
        let map =
            |address| Op::MapView { pid: p, file: f, offset: 0, size: 0, address, protection: Protection::ReadOnly };
        assert_eq!(
            m.apply(&map(Some(0x10000))),
            Err(OpError::Win32 { call: "MapViewOfFile", error: Win32Error::InvalidAddress })
        );
        assert_eq!(m.apply(&map(Some(0x20000))), Ok(OpValue::Address(0x20000)));
        let events = m.drain_events();
        assert_eq!(events.iter().filter(|e| e.kind() == "file_mapped").count(), 1);
        assert_eq!(events.iter().filter(|e| e.kind() == "reserved").count(), 1, "the view is not also a reservation");
        m.check_invariants().unwrap();
    }

    #[test]
    fn map_view_at_an_unaligned_base_fails_with_mapped_alignment() {
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        let OpValue::File(f) = m.apply(&Op::CreateFile { name: "f".into(), size: 3 * 4096 }).unwrap() else { panic!() };
        let map =
            |address| Op::MapView { pid: p, file: f, offset: 0, size: 0, address, protection: Protection::ReadOnly };
        assert_eq!(
            m.apply(&map(Some(0x21000))),
            Err(OpError::Win32 { call: "MapViewOfFile", error: Win32Error::MappedAlignment })
        );
        assert_eq!(Win32Error::MappedAlignment.code(), 1132);
        assert!(m.process(p).unwrap().vads.is_empty(), "a failed call maps nothing");
        // Aligned, the view has exactly the file's three pages.
        assert_eq!(m.apply(&map(Some(0x20000))), Ok(OpValue::Address(0x20000)));
        assert_eq!(m.process(p).unwrap().vads.values().next().unwrap().pages, 3);
        m.check_invariants().unwrap();
    }

    #[test]
    fn set_working_set_size_with_min_above_max_fails_with_invalid_parameter() {
        let mut m = small(64, 32);
        let p = process(&mut m, 30);
        let set = |min, max| Op::SetWorkingSetSize { pid: p, limits: Some((min, max)) };
        assert_eq!(
            m.apply(&set(40, 30)),
            Err(OpError::Win32 { call: "SetProcessWorkingSetSize", error: Win32Error::InvalidParameter })
        );
        let ws = &m.process(p).unwrap().ws;
        assert_eq!((ws.min, ws.max), (1, 30), "a failed call changes nothing");
        // Equal limits are fine; a small minimum is raised to 20, and the
        // maximum with it.
        assert_eq!(m.apply(&set(25, 25)), Ok(OpValue::None));
        assert_eq!(m.apply(&set(5, 15)), Ok(OpValue::None));
        let ws = &m.process(p).unwrap().ws;
        assert_eq!((ws.min, ws.max), (20, 20));
    }

    #[test]
    fn recording_keeps_at_most_the_cap_and_counts_the_rest() {
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        m.drain_events();
        for _ in 0..MAX_RECORDED_EVENTS + 10 {
            // Each touch of free space is one access-violation event.
            let _ = m.access(p, 0x7000_0000, AccessKind::Read, None, NEVER);
        }
        assert_eq!(m.drain_events().len(), MAX_RECORDED_EVENTS);
        assert_eq!(m.take_events_not_recorded(), 10);
        assert_eq!(m.take_events_not_recorded(), 0, "taking the count resets it");
        assert_eq!(m.counters().paging.access_violations, MAX_RECORDED_EVENTS as u64 + 10, "counting never stops");
    }

    #[test]
    fn access_by_a_process_that_never_existed_is_no_such_process() {
        // Regression (found by the machine fuzz target): an unknown process
        // id indexed past the process table and panicked.
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        let r = m.access(ProcessId(p.0 + 1), 0x10000, AccessKind::Read, None, NEVER);
        assert_eq!(r, Err(OpError::NoSuchProcess(p.0 + 1)));
        m.apply(&Op::Exit { pid: p }).unwrap();
        assert_eq!(m.access(p, 0x10000, AccessKind::Write, None, NEVER), Err(OpError::NoSuchProcess(p.0)));
        assert_eq!(m.counters().paging.references, 0, "a reference by no process is not counted");
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_reservation_never_covers_pages_a_commit_on_touch_process_touched_outside_a_vad() {
        // Regression (found by the machine fuzz target): such a page was
        // taken into a later reservation as if committed there, and
        // releasing the reservation released commit never charged (an
        // underflow of the process's commit).
        let mut m = small(32, 32);
        let p = trace_process(&mut m, 8);
        assert_eq!(m.access(p, 0x110c000, AccessKind::Write, None, NEVER), Ok(Resolution::DemandZero));
        let reserve =
            |address, size| Op::Reserve { pid: p, address, size, protection: Protection::ReadWrite, commit: false };
        // 0x110f000 rounds down to 0x1100000: its 16 pages hold the touched one.
        assert_eq!(
            m.apply(&reserve(Some(0x110f000), 4096)),
            Err(OpError::Win32 { call: "VirtualAlloc(MEM_RESERVE)", error: Win32Error::InvalidAddress })
        );
        // Bottom-up, the search steps over it to the next 64 KiB boundary.
        assert_eq!(m.apply(&reserve(None, 0x1200000)), Ok(OpValue::Address(0x1110000)));
        assert_eq!(m.apply(&reserve(None, 4096)), Ok(OpValue::Address(0x10000)));
        m.check_invariants().unwrap();
        m.apply(&Op::Exit { pid: p }).unwrap();
        assert_eq!(m.snapshot().commit_charge, 0);
        m.check_invariants().unwrap();
    }

    #[test]
    fn adjust_token_privileges_returns_true_with_1300_until_the_next_logon() {
        let mut m = small(32, 16);
        let before = process(&mut m, 8);
        let adjust = |m: &mut Machine, pid| {
            let r = m.apply(&Op::AdjustTokenPrivileges { pid, privilege: Privilege::LockMemory, enable: true });
            (r, m.process(pid).unwrap().last_error)
        };
        assert_eq!(adjust(&mut m, before), (Ok(OpValue::Adjusted(Adjusted::NotAllAssigned)), 1300));
        m.apply(&Op::GrantPrivilege { privilege: Privilege::LockMemory }).unwrap();
        let same_session = process(&mut m, 8);
        assert_eq!(adjust(&mut m, before).1, 1300, "the running process keeps its token");
        assert_eq!(adjust(&mut m, same_session).1, 1300, "a process of the same logon session too");
        m.apply(&Op::Logon).unwrap();
        let after = process(&mut m, 8);
        assert_eq!(adjust(&mut m, after), (Ok(OpValue::Adjusted(Adjusted::AllAssigned)), 0));
        assert!(m.process(after).unwrap().token.has_enabled(Privilege::LockMemory));
        assert!(!m.process(before).unwrap().token.has_enabled(Privilege::LockMemory));
        m.check_invariants().unwrap();
    }

    #[test]
    fn a_reference_beyond_48_bits_is_a_violation_not_an_alias_of_a_low_page() {
        // Regression (found by the machine fuzz target): 0x1000000003000
        // reached page 3's PTE and soft-faulted it into the working set
        // under the wrong page number.
        let mut m = small(32, 32);
        let p = trace_process(&mut m, 2);
        touch(&mut m, p, 0x3000, 3, AccessKind::Write);
        assert_eq!(m.pte(p, Vpn(3)).unwrap().kind().name(), "transition");
        for address in [0x1000000003000, 0x1000000004000] {
            let r = m.access(p, address, AccessKind::Write, None, NEVER);
            assert!(matches!(r, Err(OpError::AccessViolation { .. })), "{address:#x}: {r:?}");
            m.check_invariants().unwrap();
        }
    }

    #[test]
    fn commit_limit_is_ram_plus_pagefile() {
        let mut m = small(32, 16);
        let p = process(&mut m, 8);
        let r = m.apply(&Op::Reserve {
            pid: p,
            address: None,
            size: 64 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        });
        assert_eq!(r, Err(OpError::Win32 { call: "VirtualAlloc(MEM_COMMIT)", error: Win32Error::CommitmentLimit }));
        assert_eq!(m.process(p).unwrap().last_error, 1455, "GetLastError() says why the call failed");
        m.apply(&Op::Reserve {
            pid: p,
            address: None,
            size: 40 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        assert_eq!(m.snapshot().commit_charge, 40);
        m.check_invariants().unwrap();
    }

    #[test]
    fn commit_limit_counts_every_good_frame_with_no_system_share() {
        // pagelab keeps nothing resident for a system (book: "Where the
        // model simplifies"), so the limit is the good frames plus the
        // usable page file, unlike Windows's page file plus MmOverCommit.
        let mut c = MachineConfig::with_memory(Bytes(64 * 4096));
        c.pagefile = Bytes(32 * 4096);
        c.bad_frames = vec![3, 7];
        let m = Machine::new(c).unwrap();
        assert_eq!(m.snapshot().commit_limit, (64 - 2) + (32 - 1));
    }

    #[test]
    fn a_new_process_holds_no_pages_it_did_not_ask_for() {
        // No shared user data page, PEB or TEB (book: "Address spaces"):
        // on the NT 3.1 layout the top block of user space is free.
        let mut c = MachineConfig::with_memory(Bytes(64 * 4096));
        c.layout = crate::config::Layout::Nt31;
        let mut m = Machine::new(c).unwrap();
        let p = process(&mut m, 8);
        let s = m.snapshot();
        assert_eq!((s.processes[0].vads, s.processes[0].commit, s.commit_charge), (0, 0, 0));
        let top = Op::Reserve {
            pid: p,
            address: Some(0x7FFE_0000),
            size: 64 * 1024,
            protection: Protection::ReadOnly,
            commit: false,
        };
        assert_eq!(m.apply(&top), Ok(OpValue::Address(0x7FFE_0000)));
    }

    #[test]
    fn exit_frees_everything() {
        let mut m = small(32, 32);
        let p = process(&mut m, 4);
        m.apply(&Op::Reserve {
            pid: p,
            address: None,
            size: 12 * 4096,
            protection: Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        touch(&mut m, p, 0x10000, 12, AccessKind::Write);
        m.apply(&Op::WriteModified { pages: Some(3) }).unwrap();
        m.apply(&Op::Exit { pid: p }).unwrap();
        let s = m.snapshot();
        assert_eq!(s.lists.zeroed + s.lists.free, 32);
        assert_eq!((s.commit_charge, s.pagefile_used), (0, 0));
        m.check_invariants().unwrap();
    }
}
