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
