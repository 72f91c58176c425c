//! Events: every state change the machine makes, each able to explain
//! itself in one sentence.
//!
//! On the replay hot path events are only counted (see [`crate::machine::Counters`]);
//! they are materialised when recording is on (the TUI, `--events`, tests).

use serde::Serialize;

use crate::pfn_db::PageLocation;
use crate::token::{Adjusted, Privilege, PrivilegeSet};
use crate::units::{Bytes, FileId, PageFileSlot, Pfn, ProcessId, SimNanos, Vpn};
use crate::win32::Win32Error;
use crate::working_set::PolicyKind;

/// Where a demand-zero fault got its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroSource {
    /// From the zeroed list: no work.
    Zeroed,
    /// From the free list, zeroed on the spot.
    Free,
    /// A standby page taken from its owner and zeroed.
    Standby,
}

/// Where a hard fault read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReadSource {
    /// The page file, at this offset.
    PageFile {
        /// Page-file offset of the faulting page.
        slot: PageFileSlot,
    },
    /// A mapped file, at this page of the file.
    File {
        /// Which file.
        file: FileId,
        /// Page offset in the file.
        page: u64,
    },
}

/// Why a page left a working set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvictReason {
    /// Local replacement: the process was at its maximum and faulted.
    Replacement,
    /// Trimmed on request (SetProcessWorkingSetSize, EmptyWorkingSet, trim).
    Trim,
    /// Trimmed in a batch because a fault found no available page.
    MemoryPressure,
    /// Trimmed by the balance set manager because available pages were
    /// low: the page was the oldest left in its working set, which was
    /// above its minimum.
    Balance {
        /// The page's age (scans since it was last referenced, up to 3).
        age: u8,
        /// The working set's minimum, which it is never trimmed below.
        min: u64,
        /// Available pages when the balance set manager woke.
        available: u64,
        /// The threshold it trims below.
        below: u64,
    },
}

/// One state change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A process was created.
    ProcessCreated {
        /// The process.
        pid: ProcessId,
        /// Working-set minimum.
        ws_min: u64,
        /// Working-set maximum.
        ws_max: u64,
    },
    /// Address space was reserved (MEM_RESERVE), maybe committed too.
    Reserved {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Size.
        size: Bytes,
        /// Committed at once (MEM_RESERVE | MEM_COMMIT).
        committed: bool,
    },
    /// Pages were committed: commit charged, no physical page taken.
    Committed {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Pages newly charged.
        pages: u64,
    },
    /// Pages were decommitted.
    Decommitted {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Pages decommitted.
        pages: u64,
        /// Frames that went to the free list.
        freed: u64,
    },
    /// A reservation was released.
    Released {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Frames that went to the free list.
        freed: u64,
    },
    /// A file view was mapped.
    FileMapped {
        /// The process.
        pid: ProcessId,
        /// The file.
        file: FileId,
        /// First page of the view.
        start: Vpn,
        /// Size of the view.
        size: Bytes,
    },
    /// First touch of a committed page: a zero-filled frame.
    DemandZeroFault {
        /// The process.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// The frame it got.
        pfn: Pfn,
        /// Where the frame came from.
        from: ZeroSource,
    },
    /// A transition fault: the page was still in memory.
    SoftFault {
        /// The process.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// Its frame.
        pfn: Pfn,
        /// The list it was taken from.
        from: PageLocation,
    },
    /// A fault that needed a read from disk.
    HardFault {
        /// The process.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// The frame it was read into.
        pfn: Pfn,
        /// Where it was read from.
        source: ReadSource,
        /// Pages the one I/O read: the faulting page, the cluster
        /// neighbours, and any resident pages between them.
        pages_read: u64,
        /// Resident pages inside the span, read into a dummy page and
        /// thrown away (their frames already hold them).
        dummy: u64,
        /// Service time of the fault.
        time: SimNanos,
    },
    /// A neighbour read by a clustered I/O, placed on standby.
    ClusterPage {
        /// The process.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// Its frame.
        pfn: Pfn,
    },
    /// A page left a working set.
    Evicted {
        /// The process.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// Its frame.
        pfn: Pfn,
        /// Standby (clean) or modified (dirty).
        to: PageLocation,
        /// Why.
        reason: EvictReason,
        /// The process's policy.
        policy: PolicyKind,
        /// Working-set maximum at the time.
        ws_max: u64,
    },
    /// A standby page was taken from its owner for reuse.
    Repurposed {
        /// The frame.
        pfn: Pfn,
        /// The owner that lost it.
        pid: ProcessId,
        /// The owner's page.
        vpn: Vpn,
        /// Where the owner's PTE now points.
        now: &'static str,
    },
    /// The modified page writer wrote a cluster.
    ModifiedWrite {
        /// The owner of the pages.
        pid: ProcessId,
        /// First page of the cluster.
        vpn: Vpn,
        /// Pages in the one I/O.
        pages: u64,
        /// Destination: page-file slot of the first page, or the file.
        to: WriteTarget,
    },
    /// A faulting thread found no available page and waited while pages
    /// were trimmed and written.
    PageWait {
        /// The faulting process.
        pid: ProcessId,
        /// Pages trimmed from working sets meanwhile.
        trimmed: u64,
        /// Pages the modified page writer wrote meanwhile.
        written: u64,
        /// How long the thread waited.
        time: SimNanos,
    },
    /// The balance set manager woke with available pages below its
    /// threshold and trimmed aging working sets by age.
    BalanceTrim {
        /// Available pages when it woke.
        available: u64,
        /// Its threshold.
        below: u64,
        /// The available pages it trimmed toward.
        goal: u64,
        /// Pages trimmed.
        trimmed: u64,
        /// Working sets trimmed.
        processes: u64,
    },
    /// The modified writer found no page-file space.
    PageFileFull {
        /// Pages left on the modified list.
        modified: u64,
    },
    /// The zero page thread zeroed free pages.
    PagesZeroed {
        /// Pages moved from free to zeroed.
        pages: u64,
    },
    /// Working-set limits changed.
    WorkingSetLimits {
        /// The process.
        pid: ProcessId,
        /// New minimum.
        min: u64,
        /// New maximum.
        max: u64,
    },
    /// A view was unmapped: dirty pages written back, frames freed.
    ViewUnmapped {
        /// The process.
        pid: ProcessId,
        /// The file.
        file: FileId,
        /// First page of the view.
        start: Vpn,
        /// Dirty pages written back to the file.
        written: u64,
        /// Write I/Os.
        writes: u64,
        /// Frames freed.
        freed: u64,
    },
    /// A process exited; its private pages went to the free list.
    ProcessExited {
        /// The process.
        pid: ProcessId,
        /// Frames freed.
        freed: u64,
    },
    /// An access the memory manager could not resolve.
    AccessViolation {
        /// The process.
        pid: ProcessId,
        /// The virtual address.
        address: u64,
        /// Why, in words.
        reason: &'static str,
    },
    /// An API call failed.
    CallFailed {
        /// The process.
        pid: ProcessId,
        /// The call.
        call: &'static str,
        /// The error.
        error: Win32Error,
    },
    /// VirtualAlloc(MEM_LARGE_PAGES) took `count` large pages.
    LargePagesAllocated {
        /// The process.
        pid: ProcessId,
        /// First page of the allocation.
        start: Vpn,
        /// Large pages.
        count: u64,
        /// First frame of each, in order.
        frames: Vec<Pfn>,
        /// Frames that came from the free list and were zeroed now.
        zeroed: u64,
    },
    /// Threads of a process filled a buffer at once ([`crate::ramp`]).
    RampedUp {
        /// The process.
        pid: ProcessId,
        /// What it took.
        report: Box<crate::ramp::RampReport>,
    },
    /// VirtualLock locked pages in the working set.
    PagesLocked {
        /// The process.
        pid: ProcessId,
        /// First page.
        first: Vpn,
        /// Pages in the range.
        pages: u64,
        /// Faults taken to bring them in.
        faulted: u64,
        /// Pages of the range locked already.
        already: u64,
    },
    /// VirtualUnlock unlocked a range, or found pages not locked in it.
    PagesUnlocked {
        /// The process.
        pid: ProcessId,
        /// First page.
        first: Vpn,
        /// Pages unlocked (0 when the call failed with 158).
        pages: u64,
        /// Unlocked resident pages it removed from the working set.
        removed: u64,
    },
    /// VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL) reserved an AWE window.
    AweWindowReserved {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Size.
        size: Bytes,
    },
    /// AllocateUserPhysicalPages took pages for a process.
    PhysicalPagesAllocated {
        /// The process.
        pid: ProcessId,
        /// Pages asked for.
        asked: u64,
        /// Pages it got (0: the call failed with 1450).
        allocated: u64,
        /// The node the pages were sought on first.
        node: u8,
        /// Pages that were not zeroed already and were zeroed now.
        zeroed: u64,
        /// Simulated time of the call.
        time: SimNanos,
    },
    /// MapUserPhysicalPages (or the scatter variant) mapped AWE pages.
    PhysicalPagesMapped {
        /// The process.
        pid: ProcessId,
        /// The first page mapped.
        first: Vpn,
        /// Pages mapped.
        pages: u64,
        /// Addresses that had another AWE page, now unmapped (not freed).
        replaced: u64,
        /// The scatter variant.
        scatter: bool,
        /// Simulated time of the call.
        time: SimNanos,
    },
    /// The memory resource notifications changed: available pages crossed
    /// a threshold ([`crate::notify`]).
    MemoryCondition {
        /// Which event is signalled now (or neither).
        condition: crate::notify::MemoryCondition,
        /// Available pages.
        available: u64,
        /// The low threshold, pages.
        low: u64,
        /// The high threshold, pages.
        high: u64,
    },
    /// An application started its buffer pool ([`crate::buffer_pool`]).
    BufferPoolStarted {
        /// The process.
        pid: ProcessId,
        /// Its setup.
        spec: crate::buffer_pool::PoolSpec,
        /// First page of its window or reservation.
        base: Vpn,
    },
    /// A buffer pool grew by a batch.
    BufferPoolGrew {
        /// The process.
        pid: ProcessId,
        /// Pages added.
        added: u64,
        /// Pages in the pool now.
        pages: u64,
        /// Its target.
        target: u64,
    },
    /// A buffer pool gave pages back because the low memory notification
    /// was signalled.
    BufferPoolShrank {
        /// The process.
        pid: ProcessId,
        /// Pages given back.
        released: u64,
        /// Pages left in the pool.
        pages: u64,
        /// Available pages before.
        available: u64,
    },
    /// MapUserPhysicalPages with a NULL array unmapped AWE pages.
    PhysicalPagesUnmapped {
        /// The process.
        pid: ProcessId,
        /// The first address.
        first: Vpn,
        /// Addresses in the call.
        pages: u64,
        /// Addresses that had a page mapped.
        unmapped: u64,
        /// The scatter variant.
        scatter: bool,
    },
    /// FreeUserPhysicalPages freed AWE pages.
    PhysicalPagesFreed {
        /// The process.
        pid: ProcessId,
        /// Pages freed (to the free list).
        freed: u64,
        /// Of those, pages that were mapped and were unmapped first.
        unmapped: u64,
    },
    /// VirtualAlloc(MEM_LARGE_PAGES) found too few entirely free regions.
    LargePagesUnavailable {
        /// The process.
        pid: ProcessId,
        /// Large pages asked for.
        wanted: u64,
        /// Aligned regions entirely free.
        free_regions: u64,
    },
    /// The allocator emptied a run of frames for a contiguous request.
    RunEmptied {
        /// First frame.
        first: Pfn,
        /// Frames.
        frames: u32,
        /// Standby pages repurposed.
        repurposed: u64,
        /// Modified pages written out first.
        written: u64,
        /// Pages copied to other frames.
        moved: u64,
        /// Simulated time it took.
        time: SimNanos,
    },
    /// The allocator gave up on a run half-way: the work done is lost.
    RunAbandoned {
        /// First frame.
        first: Pfn,
        /// Frames.
        frames: u32,
        /// The frame that cannot move, or none if there was no room to
        /// move a page to.
        at: Option<Pfn>,
        /// Standby pages repurposed before it gave up.
        repurposed: u64,
        /// Modified pages written out.
        written: u64,
        /// Pages copied.
        moved: u64,
        /// Simulated time spent.
        time: SimNanos,
    },
    /// The desperate allocator wrote a modified page out on its own, one
    /// synchronous I/O, to empty a run.
    WrittenForRun {
        /// The owner.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// Where it went.
        to: WriteTarget,
    },
    /// Compaction copied a page to another frame and fixed its PTE.
    PageMoved {
        /// The owner.
        pid: ProcessId,
        /// The page.
        vpn: Vpn,
        /// Old frame.
        from: Pfn,
        /// New frame.
        to: Pfn,
    },
    /// A driver got physically contiguous memory.
    ContiguousAllocated {
        /// First frame.
        first: Pfn,
        /// Frames.
        pages: u64,
    },
    /// MmAllocateContiguousMemory returned NULL.
    ContiguousUnavailable {
        /// Frames asked for.
        pages: u64,
    },
    /// A driver freed its contiguous memory.
    ContiguousFreed {
        /// First frame.
        first: Pfn,
        /// Frames.
        pages: u64,
    },
    /// A fragment step scattered pages over memory.
    Fragmented {
        /// Whose pages.
        pid: ProcessId,
        /// Where they went.
        pattern: crate::fragment::FragmentPattern,
        /// How many of each.
        done: crate::fragment::Fragmented,
    },
    /// pagelab's experiment wrote a large page to the page file.
    LargePagePagedOut {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Pages written.
        pages: u64,
        /// Simulated time of the write.
        time: SimNanos,
    },
    /// A paged-out large page came back whole.
    LargePagePagedIn {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Its new first frame.
        frame: Pfn,
        /// Simulated time, finding the region included.
        time: SimNanos,
    },
    /// A paged-out large page could not come back.
    LargePageLost {
        /// The process.
        pid: ProcessId,
        /// First page.
        start: Vpn,
        /// Frames a large page needs.
        frames: u32,
    },
    /// Policy granted a user right to the account.
    PrivilegeGranted {
        /// The privilege.
        privilege: Privilege,
        /// Whether the account did not have it yet.
        new: bool,
        /// The logon session current when it was granted (its tokens do
        /// not change).
        logon: u32,
    },
    /// The account logged on again.
    LoggedOn {
        /// The new session.
        logon: u32,
        /// The rights its tokens hold.
        rights: PrivilegeSet,
    },
    /// AdjustTokenPrivileges returned TRUE, having done `result`.
    PrivilegeAdjusted {
        /// The process.
        pid: ProcessId,
        /// The privilege.
        privilege: Privilege,
        /// Enable or disable.
        enable: bool,
        /// What it did.
        result: Adjusted,
        /// The logon session of the process's token.
        logon: u32,
    },
}

/// Where the modified writer wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WriteTarget {
    /// The page file, starting at this offset.
    PageFile {
        /// First slot.
        slot: PageFileSlot,
    },
    /// Back to the mapped file.
    File {
        /// The file.
        file: FileId,
        /// First page in the file.
        page: u64,
    },
}

/// Names of processes and files, for explanations.
pub trait Names {
    /// A process's name.
    fn process_name(&self, pid: ProcessId) -> String;
    /// A file's name.
    fn file_name(&self, file: FileId) -> String;
}

/// "1 frame", "2 frames".
fn frames(n: u64) -> String {
    if n == 1 {
        "1 frame".into()
    } else {
        format!("{n} frames")
    }
}

/// "1 page", "2 pages".
fn pages(n: u64) -> String {
    if n == 1 {
        "1 page".into()
    } else {
        format!("{n} pages")
    }
}

impl Event {
    /// One sentence explaining the event.
    pub fn explain(&self, names: &dyn Names) -> String {
        let name = |p: ProcessId| names.process_name(p);
        let file_name = |f: FileId| names.file_name(f);
        match self {
            Event::ProcessCreated { pid, ws_min, ws_max } => {
                format!("process {} created, working set min {ws_min} max {ws_max} pages", name(*pid))
            }
            Event::Reserved { pid, start, size, committed } => format!(
                "{} reserved {size} at {start}{}",
                name(*pid),
                if *committed { " and committed it (no physical page taken yet)" } else { " (address space only)" }
            ),
            Event::Committed { pid, start, pages: n } => format!(
                "{} committed {} at {start}: commit charged, no physical page taken until first touch",
                name(*pid),
                pages(*n)
            ),
            Event::Decommitted { pid, start, pages: n, freed } => {
                format!("{} decommitted {} at {start}; {} went to the free list", name(*pid), pages(*n), frames(*freed))
            }
            Event::Released { pid, start, freed } => {
                format!("{} released the reservation at {start}; {} freed", name(*pid), frames(*freed))
            }
            Event::FileMapped { pid, file, start, size } => {
                format!(
                    "{} mapped {size} of file {} at {start}: no commit charged, nothing read yet",
                    name(*pid),
                    file_name(*file)
                )
            }
            Event::ViewUnmapped { pid, file, start, written, writes, freed } => format!(
                "{} unmapped its view of file {} at {start}: {} written back to the file in {writes} I/O{}, {} freed",
                name(*pid),
                file_name(*file),
                pages(*written),
                if *writes == 1 { "" } else { "s" },
                frames(*freed)
            ),
            Event::DemandZeroFault { pid, vpn, pfn, from } => format!(
                "page {vpn} of {} demand-zero fault: got {pfn} {}",
                name(*pid),
                match from {
                    ZeroSource::Zeroed => "from the zeroed list",
                    ZeroSource::Free => "from the free list, zeroed now",
                    ZeroSource::Standby => "from standby (taken from its owner), zeroed now",
                }
            ),
            Event::SoftFault { pid, vpn, pfn, from } => format!(
                "page {vpn} of {} soft fault: {pfn} taken back from the {} list, no I/O",
                name(*pid),
                from.name()
            ),
            Event::HardFault { pid, vpn, pfn, source, pages_read, dummy, time } => format!(
                "page {vpn} of {} hard fault: read from {} into {pfn}, {} in one I/O{}, {time}",
                name(*pid),
                match source {
                    ReadSource::PageFile { slot } => format!("the page file at offset 0x{:x}", slot.0),
                    ReadSource::File { file, page } => format!("file {} page {page}", file_name(*file)),
                },
                pages(*pages_read),
                match dummy {
                    0 => String::new(),
                    1 => " (1 of them already resident, read into a dummy page)".into(),
                    n => format!(" ({n} of them already resident, read into a dummy page)"),
                }
            ),
            Event::ClusterPage { pid, vpn, pfn } => format!(
                "page {vpn} of {} read ahead by the cluster into {pfn}, placed on standby with a transition PTE",
                name(*pid)
            ),
            Event::Evicted { pid, vpn, pfn, to, reason, policy, ws_max } => format!(
                "page {vpn} of {} evicted ({pfn} to {}): {}",
                name(*pid),
                to.name(),
                match reason {
                    EvictReason::Replacement => format!("{} (max {ws_max})", policy.victim_reason()),
                    EvictReason::Trim => "working set trimmed".to_string(),
                    EvictReason::MemoryPressure => "no available pages, trimmed in a batch".to_string(),
                    EvictReason::Balance { age, min, available, below } => format!(
                        "trimmed by the balance set manager: age {age}, the oldest in {n}'s working set, {n} above its minimum of {min}; available {available} below {below}",
                        n = name(*pid)
                    ),
                }
            ),
            Event::Repurposed { pfn, pid, vpn, now } => {
                format!("{pfn} taken from standby; page {vpn} of {} now {now}", name(*pid))
            }
            Event::ModifiedWrite { pid, vpn, pages: n, to } => format!(
                "modified page writer wrote {} of {} from {vpn} to {} in one I/O; now on standby",
                pages(*n),
                name(*pid),
                match to {
                    WriteTarget::PageFile { slot } => format!("the page file at offset 0x{:x}", slot.0),
                    WriteTarget::File { file, page } => format!("file {} page {page}", file_name(*file)),
                }
            ),
            Event::PageWait { pid, trimmed, written, time } => format!(
                "{} waited {time} for a free page: {} trimmed from working sets, {} written by the modified page writer",
                name(*pid),
                pages(*trimmed),
                pages(*written)
            ),
            Event::BalanceTrim { available, below, goal, trimmed, processes } => format!(
                "balance set manager: available {available} below {below}, trimmed {} from {processes} working set{} by age, toward {goal} available",
                pages(*trimmed),
                if *processes == 1 { "" } else { "s" }
            ),
            Event::PageFileFull { modified } => {
                format!("page file full: {} on the modified list cannot be written", pages(*modified))
            }
            Event::PagesZeroed { pages: n } => {
                format!("zero page thread zeroed {} (free -> zeroed)", pages(*n))
            }
            Event::WorkingSetLimits { pid, min, max } => {
                format!("{} working-set limits set to min {min} max {max}", name(*pid))
            }
            Event::ProcessExited { pid, freed } => {
                format!("{} exited; {} went to the free list", name(*pid), frames(*freed))
            }
            Event::AccessViolation { pid, address, reason } => {
                format!("{} access violation at 0x{address:x}: {reason}", name(*pid))
            }
            Event::CallFailed { pid, call, error } => format!("{} {call} failed: {error}", name(*pid)),
            Event::LargePagesAllocated { pid, start, count, frames, zeroed } => {
                let runs: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
                format!(
                    "{} VirtualAlloc(MEM_LARGE_PAGES) at {start}: {count} large page{} up front, each an aligned run of contiguous frames from {} ({} zeroed now, the rest from the zeroed list); mapped valid, in no working set, never paged",
                    name(*pid),
                    if *count == 1 { "" } else { "s" },
                    runs.join(", "),
                    zeroed
                )
            }
            Event::RampedUp { pid, report } => {
                let r = report;
                let ms = |t: SimNanos| t.0 as f64 / 1e6;
                format!(
                    "{} ramped up {} {} pages with {} thread{}: {:.3} ms ({:.3} ms of work); the working-set lock taken {} times, {} of them waited for, {:.3} ms waited; the PFN lock taken {} times, {} waited for, {:.3} ms waited",
                    name(*pid),
                    r.spec.pages,
                    r.spec.memory.name(),
                    r.spec.threads,
                    if r.spec.threads == 1 { "" } else { "s" },
                    ms(r.time),
                    ms(r.work),
                    r.ws.acquisitions,
                    r.ws.contended,
                    ms(r.ws.wait),
                    r.pfn.acquisitions,
                    r.pfn.contended,
                    ms(r.pfn.wait)
                )
            }
            Event::PagesLocked { pid, first, pages, faulted, already } => format!(
                "{} VirtualLock at {first}: {pages} page{} locked in the working set ({faulted} faulted in, {already} locked already); replacement and trimming pass them by",
                name(*pid),
                if *pages == 1 { "" } else { "s" }
            ),
            Event::PagesUnlocked { pid, first, pages: 0, removed } => format!(
                "{} VirtualUnlock at {first}: pages of the range are not locked: ERROR_NOT_LOCKED, and {removed} unlocked resident page{} left the working set",
                name(*pid),
                if *removed == 1 { "" } else { "s" }
            ),
            Event::PagesUnlocked { pid, first, pages, .. } => format!(
                "{} VirtualUnlock at {first}: {pages} page{} unlocked, back in the replacement policy's order",
                name(*pid),
                if *pages == 1 { "" } else { "s" }
            ),
            Event::AweWindowReserved { pid, start, size } => format!(
                "{} VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL) at {start}: an AWE window of {size}, never committed; only MapUserPhysicalPages puts pages in it",
                name(*pid)
            ),
            Event::PhysicalPagesAllocated { pid, asked, allocated: 0, node, .. } => format!(
                "{} AllocateUserPhysicalPages({asked}): no page on any list of node {node} or the others (AWE takes free, zeroed and standby pages, and never trims a working set to make more)",
                name(*pid)
            ),
            Event::PhysicalPagesAllocated { pid, asked, allocated, node, zeroed, time } => format!(
                "{} AllocateUserPhysicalPages({asked}): {allocated} page{} from node {node} first, zeroed ({zeroed} zeroed now), locked, owned by the process, in no working set; the PFN lock taken once for the batch; {:.1} us in all",
                name(*pid),
                if *allocated == 1 { "" } else { "s" },
                time.0 as f64 / 1000.0
            ),
            Event::PhysicalPagesMapped { pid, first, pages, replaced, scatter, time } => format!(
                "{} MapUserPhysicalPages{}: {pages} AWE page{} mapped from {first} ({replaced} address{} had another page, now unmapped but still owned); the working-set lock taken once; {:.1} us in all",
                name(*pid),
                if *scatter { "Scatter" } else { "" },
                if *pages == 1 { "" } else { "s" },
                if *replaced == 1 { "" } else { "es" },
                time.0 as f64 / 1000.0
            ),
            Event::PhysicalPagesUnmapped { pid, first, pages, unmapped, scatter } => format!(
                "{} MapUserPhysicalPages{}(NULL) at {first}: {unmapped} of {pages} address{} unmapped; the pages stay the process's",
                name(*pid),
                if *scatter { "Scatter" } else { "" },
                if *pages == 1 { "" } else { "es" }
            ),
            Event::PhysicalPagesFreed { pid, freed, unmapped } => format!(
                "{} FreeUserPhysicalPages: {freed} AWE page{} to the free list ({unmapped} unmapped first)",
                name(*pid),
                if *freed == 1 { "" } else { "s" }
            ),
            Event::MemoryCondition { condition, available, low, high } => match condition {
                crate::notify::MemoryCondition::Low => format!(
                    "{available} available pages, below the low threshold of {low}: the low memory resource notification is signalled (applications that lock memory should give some back)"
                ),
                crate::notify::MemoryCondition::High => format!(
                    "{available} available pages, at or above the high threshold of {high}: the high memory resource notification is signalled (memory to spare)"
                ),
                crate::notify::MemoryCondition::Normal => format!(
                    "{available} available pages (thresholds low {low}, high {high}): neither memory resource notification is signalled"
                ),
            },
            Event::BufferPoolStarted { pid, spec, base } => format!(
                "{} started a buffer pool of {} at {base}: target {}, {} a batch, giving back {} while memory is low{}",
                name(*pid),
                match spec.memory {
                    crate::buffer_pool::PoolMemory::Awe => "AWE pages (locked)",
                    crate::buffer_pool::PoolMemory::Regular => "regular pages",
                },
                pages(spec.target),
                pages(spec.batch),
                pages(spec.shrink),
                if spec.shrink == 0 { " (it ignores memory pressure)" } else { "" }
            ),
            Event::BufferPoolGrew { pid, added, pages: n, target } => {
                format!("{}'s buffer pool grew by {}: {n} of its target {target}", name(*pid), pages(*added))
            }
            Event::BufferPoolShrank { pid, released, pages: n, available } => format!(
                "{}'s buffer pool sees the low memory notification with {available} pages available and gives back {}, keeping {n}",
                name(*pid),
                pages(*released)
            ),
            Event::LargePagesUnavailable { pid, wanted, free_regions } => format!(
                "{} VirtualAlloc(MEM_LARGE_PAGES) needs {wanted} aligned free region{} but {free_regions} {} entirely free: ERROR_NO_SYSTEM_RESOURCES, whatever the free memory in pieces",
                name(*pid),
                if *wanted == 1 { "" } else { "s" },
                if *free_regions == 1 { "is" } else { "are" }
            ),
            Event::RunEmptied { first, frames, repurposed, written, moved, time } => format!(
                "emptied {frames} frames from {first} for a contiguous request: {repurposed} standby page{} repurposed, {written} modified written out first, {moved} copied to other frames; {time}",
                if *repurposed == 1 { "" } else { "s" }
            ),
            Event::RunAbandoned { first, frames, at, repurposed, written, moved, time } => format!(
                "gave up on the {frames} frames from {first}: {} after repurposing {repurposed}, writing {written} and moving {moved} pages ({time} wasted)",
                match at {
                    Some(p) => format!("{p} cannot move"),
                    None => "no frame or page-file space to move a page to".to_string(),
                }
            ),
            Event::WrittenForRun { pid, vpn, to } => format!(
                "the allocator wrote {} page {vpn} out to {}, one synchronous I/O, to empty its frame",
                name(*pid),
                match to {
                    WriteTarget::PageFile { slot } => format!("the page file at offset 0x{:x}", slot.0),
                    WriteTarget::File { file, page } => format!("file {} page {page}", file_name(*file)),
                }
            ),
            Event::PageMoved { pid, vpn, from, to } => {
                format!("copied {} page {vpn} from {from} to {to} and pointed its PTE there", name(*pid))
            }
            Event::ContiguousAllocated { first, pages } => format!(
                "MmAllocateContiguousMemory: {} from {first}, locked, owned by the system",
                frames(*pages)
            ),
            Event::ContiguousUnavailable { pages } => format!(
                "MmAllocateContiguousMemory returned NULL: no run of {pages} contiguous frames could be had"
            ),
            Event::ContiguousFreed { first, pages } => {
                format!("MmFreeContiguousMemory: {} from {first} went to the free list", frames(*pages))
            }
            Event::Fragmented { pid, pattern, done } => format!(
                "fragment ({}): {} free, {} drivers' nonpaged pages, and {} of {}: {} active, {} standby, {} modified",
                pattern.name(),
                frames(done.free),
                done.unmovable,
                done.active + done.standby + done.modified,
                name(*pid),
                done.active,
                done.standby,
                done.modified
            ),
            Event::LargePagePagedOut { pid, start, pages, time } => format!(
                "{} large page at {start} written to the page file (pagelab's experiment: Windows never pages a large page): {pages} pages in one I/O, {time}; its frames went to the free list",
                name(*pid)
            ),
            Event::LargePagePagedIn { pid, start, frame, time } => format!(
                "{} large page at {start} read back whole into the aligned frames from {frame}: {time}",
                name(*pid)
            ),
            Event::LargePageLost { pid, start, frames } => format!(
                "{} large page at {start} cannot come back: no aligned region of {frames} free frames can be had, however much memory is free in pieces",
                name(*pid)
            ),
            Event::PrivilegeGranted { privilege, new, logon } => format!(
                "policy grants the account \"{}\" ({}){}: tokens of logon session {logon} are unchanged; it is in effect from the next logon",
                privilege.right(),
                privilege.name(),
                if *new { "" } else { ", which it already had" }
            ),
            Event::LoggedOn { logon, rights } => {
                let held: Vec<_> = rights.iter().map(|p| p.name()).collect();
                format!(
                    "the account logs on again: session {logon}; processes started from now on hold {}",
                    if held.is_empty() { "no privileges".to_string() } else { held.join(", ") }
                )
            }
            Event::PrivilegeAdjusted { pid, privilege, enable: true, result: Adjusted::NotAllAssigned, logon } => format!(
                "{} AdjustTokenPrivileges(enable {}) returned TRUE, but GetLastError() = 1300 ERROR_NOT_ALL_ASSIGNED: its token (logon session {logon}) does not hold the privilege, so nothing was enabled",
                name(*pid),
                privilege.name()
            ),
            Event::PrivilegeAdjusted { pid, privilege, enable, logon, .. } => format!(
                "{} AdjustTokenPrivileges({} {}) returned TRUE, GetLastError() = 0: its token (logon session {logon}) has it {}",
                name(*pid),
                if *enable { "enable" } else { "disable" },
                privilege.name(),
                if *enable { "enabled" } else { "disabled" }
            ),
        }
    }

    /// The event's kind as a short name (for filters and breakpoints).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ProcessCreated { .. } => "process_created",
            Event::Reserved { .. } => "reserved",
            Event::Committed { .. } => "committed",
            Event::Decommitted { .. } => "decommitted",
            Event::Released { .. } => "released",
            Event::FileMapped { .. } => "file_mapped",
            Event::ViewUnmapped { .. } => "view_unmapped",
            Event::DemandZeroFault { .. } => "demand_zero_fault",
            Event::SoftFault { .. } => "soft_fault",
            Event::HardFault { .. } => "hard_fault",
            Event::ClusterPage { .. } => "cluster_page",
            Event::Evicted { .. } => "evicted",
            Event::Repurposed { .. } => "repurposed",
            Event::ModifiedWrite { .. } => "modified_write",
            Event::PageWait { .. } => "page_wait",
            Event::BalanceTrim { .. } => "balance_trim",
            Event::PageFileFull { .. } => "page_file_full",
            Event::PagesZeroed { .. } => "pages_zeroed",
            Event::WorkingSetLimits { .. } => "working_set_limits",
            Event::ProcessExited { .. } => "process_exited",
            Event::AccessViolation { .. } => "access_violation",
            Event::CallFailed { .. } => "call_failed",
            Event::LargePagesAllocated { .. } => "large_pages_allocated",
            Event::RampedUp { .. } => "ramped_up",
            Event::PagesLocked { .. } => "pages_locked",
            Event::PagesUnlocked { .. } => "pages_unlocked",
            Event::AweWindowReserved { .. } => "awe_window_reserved",
            Event::PhysicalPagesAllocated { .. } => "physical_pages_allocated",
            Event::PhysicalPagesMapped { .. } => "physical_pages_mapped",
            Event::PhysicalPagesUnmapped { .. } => "physical_pages_unmapped",
            Event::PhysicalPagesFreed { .. } => "physical_pages_freed",
            Event::MemoryCondition { condition, .. } => match condition {
                crate::notify::MemoryCondition::Low => "memory_low",
                crate::notify::MemoryCondition::Normal => "memory_normal",
                crate::notify::MemoryCondition::High => "memory_high",
            },
            Event::BufferPoolStarted { .. } => "buffer_pool_started",
            Event::BufferPoolGrew { .. } => "buffer_pool_grew",
            Event::BufferPoolShrank { .. } => "buffer_pool_shrank",
            Event::LargePagesUnavailable { .. } => "large_pages_unavailable",
            Event::RunEmptied { .. } => "run_emptied",
            Event::RunAbandoned { .. } => "run_abandoned",
            Event::WrittenForRun { .. } => "written_for_run",
            Event::PageMoved { .. } => "page_moved",
            Event::ContiguousAllocated { .. } => "contiguous_allocated",
            Event::ContiguousUnavailable { .. } => "contiguous_unavailable",
            Event::ContiguousFreed { .. } => "contiguous_freed",
            Event::Fragmented { .. } => "fragmented",
            Event::LargePagePagedOut { .. } => "large_page_paged_out",
            Event::LargePagePagedIn { .. } => "large_page_paged_in",
            Event::LargePageLost { .. } => "large_page_lost",
            Event::PrivilegeGranted { .. } => "privilege_granted",
            Event::LoggedOn { .. } => "logged_on",
            Event::PrivilegeAdjusted { .. } => "privilege_adjusted",
        }
    }

    /// Every kind name [`Event::kind`] can return.
    pub const KINDS: [&'static str; 52] = [
        "process_created",
        "reserved",
        "committed",
        "decommitted",
        "released",
        "file_mapped",
        "view_unmapped",
        "demand_zero_fault",
        "soft_fault",
        "hard_fault",
        "cluster_page",
        "evicted",
        "repurposed",
        "modified_write",
        "page_wait",
        "balance_trim",
        "page_file_full",
        "pages_zeroed",
        "working_set_limits",
        "process_exited",
        "access_violation",
        "call_failed",
        "large_pages_allocated",
        "large_pages_unavailable",
        "run_emptied",
        "run_abandoned",
        "written_for_run",
        "page_moved",
        "contiguous_allocated",
        "contiguous_unavailable",
        "contiguous_freed",
        "fragmented",
        "large_page_paged_out",
        "large_page_paged_in",
        "large_page_lost",
        "privilege_granted",
        "logged_on",
        "privilege_adjusted",
        "awe_window_reserved",
        "physical_pages_allocated",
        "physical_pages_mapped",
        "physical_pages_unmapped",
        "physical_pages_freed",
        "pages_locked",
        "pages_unlocked",
        "ramped_up",
        "memory_low",
        "memory_normal",
        "memory_high",
        "buffer_pool_started",
        "buffer_pool_grew",
        "buffer_pool_shrank",
    ];
}
