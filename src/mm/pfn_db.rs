//! The PFN database: one packed 24-byte entry per physical frame, and the
//! page lists threaded through those entries (WI7 pp. 425-442; ReactOS
//! `pfnlist.c`).
//!
//! List numbering follows MMLISTS: Zeroed 0, Free 1, Standby 2, Modified 3,
//! ModifiedNoWrite 4, Bad 5, ActiveAndValid 6, Transition 7. The zeroed and
//! free lists are kept per NUMA node (NT keeps them per node and colour);
//! standby is eight lists by page priority, as on Vista and later (NT 3.1
//! had one; every page here gets priority 5 unless told otherwise).

use serde::Serialize;

use crate::contiguity::{Category, Contiguity, RegionCounts};
use crate::large_page::LargePageSize;
use crate::units::{Pfn, ProcessId, Vpn};

/// Where a frame is: which list, or in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageLocation {
    /// On the zeroed list: free and already filled with zeros (MMLISTS 0).
    Zeroed = 0,
    /// On the free list: free, with stale contents (1).
    Free = 1,
    /// On a standby list: clean, still holds a page its owner can take back (2).
    Standby = 2,
    /// On the modified list: dirty, must be written before reuse (3).
    Modified = 3,
    /// Modified, but must not be written (4).
    ModifiedNoWrite = 4,
    /// Failed a memory test; never used (5).
    Bad = 5,
    /// In a working set, mapped by a valid PTE (6).
    Active = 6,
    /// I/O in progress (7).
    Transition = 7,
}

impl PageLocation {
    fn from_bits(b: u16) -> PageLocation {
        match b & 7 {
            0 => PageLocation::Zeroed,
            1 => PageLocation::Free,
            2 => PageLocation::Standby,
            3 => PageLocation::Modified,
            4 => PageLocation::ModifiedNoWrite,
            5 => PageLocation::Bad,
            6 => PageLocation::Active,
            _ => PageLocation::Transition,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            PageLocation::Zeroed => "zeroed",
            PageLocation::Free => "free",
            PageLocation::Standby => "standby",
            PageLocation::Modified => "modified",
            PageLocation::ModifiedNoWrite => "modified_no_write",
            PageLocation::Bad => "bad",
            PageLocation::Active => "active",
            PageLocation::Transition => "transition",
        }
    }

    /// Whether the page is on one of the system page lists.
    pub fn is_listed(self) -> bool {
        !matches!(self, PageLocation::Active | PageLocation::Transition)
    }
}

/// Where a frame's contents go back to when the frame is taken away: the
/// essential part of NT's OriginalPte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "offset", rename_all = "snake_case")]
pub enum Backing {
    /// No copy anywhere yet (a demand-zero page not yet written out).
    None,
    /// A copy is at this page-file offset.
    PageFile(u32),
    /// The page belongs to a mapped file, at this page offset in the file.
    File(u32),
}

const LOC_MASK: u16 = 0b111;
const MODIFIED: u16 = 1 << 3;
const READ_IN_PROGRESS: u16 = 1 << 4;
const WRITE_IN_PROGRESS: u16 = 1 << 5;
const PROTOTYPE: u16 = 1 << 6;
const LOCKED: u16 = 1 << 7;
const AWE: u16 = 1 << 8;
const LARGE: u16 = 1 << 9;
const BACKING_SHIFT: u16 = 10;
const BACKING_MASK: u16 = 0b11 << BACKING_SHIFT;
const PRIORITY_SHIFT: u16 = 12;
const PRIORITY_MASK: u16 = 0b111 << PRIORITY_SHIFT;

/// "No frame": the end of a list.
pub const NIL: u32 = u32::MAX;
const NO_OWNER: u64 = u64::MAX;

/// One PFN database entry, 24 bytes.
///
/// `flink`/`blink` are the list links while the frame is on a list; while
/// it is active, `flink` holds its working-set list index (as NT's
/// `u1.WsIndex`). `pte` is the back-pointer to the PTE that maps the page:
/// owner process in the top 16 bits, VPN in the low 48. The NUMA node is
/// not stored: it follows from the frame number.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct PfnEntry {
    flink: u32,
    blink: u32,
    pte: u64,
    original: u32,
    share_count: u8,
    reference_count: u8,
    flags: u16,
}

impl PfnEntry {
    fn new() -> PfnEntry {
        PfnEntry { flink: NIL, blink: NIL, pte: NO_OWNER, original: 0, share_count: 0, reference_count: 0, flags: 0 }
    }

    /// The list or state the frame is in.
    #[inline]
    pub fn location(&self) -> PageLocation {
        PageLocation::from_bits(self.flags & LOC_MASK)
    }

    fn set_location(&mut self, loc: PageLocation) {
        self.flags = (self.flags & !LOC_MASK) | loc as u16;
    }

    /// The PTE that maps (or last mapped) this page, as (process, page).
    pub fn owner(&self) -> Option<(ProcessId, Vpn)> {
        (self.pte != NO_OWNER).then_some((ProcessId((self.pte >> 48) as u16), Vpn(self.pte & ((1 << 48) - 1))))
    }

    /// Records the back-pointer to the PTE.
    pub fn set_owner(&mut self, owner: Option<(ProcessId, Vpn)>) {
        self.pte = match owner {
            Some((p, v)) => ((p.0 as u64) << 48) | v.0,
            None => NO_OWNER,
        };
    }

    /// The working-set list index of an active page.
    #[inline]
    pub fn ws_index(&self) -> u32 {
        self.flink
    }

    /// Sets the working-set list index of an active page.
    #[inline]
    pub fn set_ws_index(&mut self, i: u32) {
        self.flink = i;
    }

    /// Whether the contents differ from the backing store copy.
    #[inline]
    pub fn modified(&self) -> bool {
        self.flags & MODIFIED != 0
    }

    /// Sets or clears the modified flag.
    #[inline]
    pub fn set_modified(&mut self, m: bool) {
        self.set_flag(MODIFIED, m)
    }

    fn set_flag(&mut self, bit: u16, on: bool) {
        if on {
            self.flags |= bit
        } else {
            self.flags &= !bit
        }
    }

    /// Whether a read into the page is in progress.
    pub fn read_in_progress(&self) -> bool {
        self.flags & READ_IN_PROGRESS != 0
    }
    /// Whether a write of the page is in progress.
    pub fn write_in_progress(&self) -> bool {
        self.flags & WRITE_IN_PROGRESS != 0
    }
    /// Whether the page is a prototype (shared) page.
    pub fn prototype(&self) -> bool {
        self.flags & PROTOTYPE != 0
    }
    /// Whether the page is locked in memory (never paged).
    pub fn locked(&self) -> bool {
        self.flags & LOCKED != 0
    }
    /// Whether the page was allocated by AllocateUserPhysicalPages.
    pub fn awe(&self) -> bool {
        self.flags & AWE != 0
    }
    /// Whether the page is part of a large page.
    pub fn large(&self) -> bool {
        self.flags & LARGE != 0
    }
    /// Marks the page locked in memory (a driver's or the system's page
    /// that can never move), or no longer. Set only while the frame is on
    /// no list, so the contiguity index sees its category change.
    pub fn set_locked(&mut self, on: bool) {
        self.set_flag(LOCKED, on);
    }
    /// Marks the page as allocated by AllocateUserPhysicalPages, or no
    /// longer. Set only while the frame is on no list (as
    /// [`PfnEntry::set_locked`]).
    pub fn set_awe(&mut self, on: bool) {
        self.set_flag(AWE, on);
    }
    /// Marks the page as part of a large page, or no longer.
    pub fn set_large(&mut self, on: bool) {
        if on {
            self.flags |= LARGE;
        } else {
            self.flags &= !LARGE;
        }
    }
    /// Whether the page can never be moved or paged: locked, AWE, or part
    /// of a large page.
    #[inline]
    pub fn pinned(&self) -> bool {
        self.flags & (LOCKED | AWE | LARGE) != 0
    }

    /// Where the contents go when the frame is taken away.
    pub fn backing(&self) -> Backing {
        match (self.flags & BACKING_MASK) >> BACKING_SHIFT {
            1 => Backing::PageFile(self.original),
            2 => Backing::File(self.original),
            _ => Backing::None,
        }
    }

    /// Records the backing store location.
    pub fn set_backing(&mut self, b: Backing) {
        let (tag, off) = match b {
            Backing::None => (0, 0),
            Backing::PageFile(o) => (1, o),
            Backing::File(o) => (2, o),
        };
        self.flags = (self.flags & !BACKING_MASK) | (tag << BACKING_SHIFT);
        self.original = off;
    }

    /// Page priority 0-7 (which standby list it goes to).
    pub fn priority(&self) -> u8 {
        ((self.flags & PRIORITY_MASK) >> PRIORITY_SHIFT) as u8
    }

    /// Number of PTEs mapping the page.
    pub fn share_count(&self) -> u8 {
        self.share_count
    }
    /// Working-set membership plus I/O references.
    pub fn reference_count(&self) -> u8 {
        self.reference_count
    }
}

/// A doubly linked list of frames, threaded through the PFN entries.
#[derive(Clone, Copy, Debug, Default)]
struct ListHead {
    head: u32,
    tail: u32,
    count: u64,
}

/// Identifies one physical list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListId {
    Zeroed(u8),
    Free(u8),
    Standby(u8),
    Modified,
    ModifiedNoWrite,
    Bad,
}

impl ListId {
    /// Where the list's head is kept: zeroed per node, free per node,
    /// standby by priority, modified, modified-no-write, bad.
    #[inline]
    fn index(self, nodes: u8) -> usize {
        let n = nodes as usize;
        match self {
            ListId::Zeroed(node) => node as usize,
            ListId::Free(node) => n + node as usize,
            ListId::Standby(p) => 2 * n + p as usize,
            ListId::Modified => 2 * n + 8,
            ListId::ModifiedNoWrite => 2 * n + 9,
            ListId::Bad => 2 * n + 10,
        }
    }
}

/// The default page priority (normal priority, 5, as on Vista and later).
pub const DEFAULT_PRIORITY: u8 = 5;

/// Counts of the page lists at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListCounts {
    /// Zeroed pages.
    pub zeroed: u64,
    /// Free pages.
    pub free: u64,
    /// Standby pages (all priorities).
    pub standby: u64,
    /// Modified pages.
    pub modified: u64,
    /// Modified-no-write pages.
    pub modified_no_write: u64,
    /// Bad pages.
    pub bad: u64,
    /// Active pages (in working sets).
    pub active: u64,
}

impl ListCounts {
    /// Available pages = zeroed + free + standby (MODEL.md s3).
    pub fn available(&self) -> u64 {
        self.zeroed + self.free + self.standby
    }
}

/// The entry of every frame that boot left alone: on its node's zeroed
/// list, no owner, default priority (its links are implicit, see
/// [`PfnDatabase`]).
static BOOT_ENTRY: PfnEntry = PfnEntry {
    flink: NIL,
    blink: NIL,
    pte: NO_OWNER,
    original: 0,
    share_count: 0,
    reference_count: 0,
    flags: ((DEFAULT_PRIORITY as u16) << PRIORITY_SHIFT) | PageLocation::Zeroed as u16,
};

/// The PFN database and its lists.
///
/// Boot puts every good frame on its node's zeroed list in frame order.
/// Frames leave a zeroed list from its head, so until a frame is first
/// taken, the frames boot put there are still a contiguous run at the head
/// of the list, in order: the database keeps that run as a range per node
/// (`boot`) instead of writing 24 bytes of links for each of its frames.
/// Entries are stored for the frames below the highest one ever touched;
/// every frame above reads as `BOOT_ENTRY`. A 64 GiB machine that uses a
/// million frames thus holds 24 MB of entries, not 384 MB, and boots at
/// once. The lists are exactly those of a database written out in full:
/// a zeroed list is its node's boot run followed by the frames pushed onto
/// it since (`heads` holds that explicit part), and a frame taken from the
/// middle of a boot run first turns the run into explicit links.
#[derive(Clone)]
pub struct PfnDatabase {
    /// Entries of frames `0..entries.len()`; the rest read as [`BOOT_ENTRY`].
    entries: Vec<PfnEntry>,
    frames: u32,
    nodes: u8,
    frames_per_node: u32,
    /// Every list head, in [`ListId::index`] order; for a zeroed list, the
    /// part after the node's boot run.
    heads: Vec<ListHead>,
    /// Per node, the frames `start..end` still at the head of the node's
    /// zeroed list as boot put them.
    boot: Vec<(u32, u32)>,
    /// Frames in each location but transition (indexed by `PageLocation as
    /// usize`), kept as frames move so that counting walks nothing.
    totals: [u64; 8],
    /// The contiguity index, on machines with large pages.
    contiguity: Option<Box<Contiguity>>,
}

impl PfnDatabase {
    /// A database of `frames` frames split evenly across `nodes` NUMA nodes
    /// (the last node takes the remainder), all on the zeroed list (the
    /// state after boot), except `bad` frames.
    pub fn new(frames: u32, nodes: u8, bad: &[u32]) -> PfnDatabase {
        let mut bad: Vec<u32> = bad.iter().copied().filter(|&b| b < frames).collect();
        bad.sort_unstable();
        bad.dedup();
        let mut db = PfnDatabase::empty(frames, nodes);
        if bad.is_empty() {
            for node in 0..db.nodes {
                let (start, end) = db.node_range(node);
                db.boot[node as usize] = (start, end);
                db.totals[PageLocation::Zeroed as usize] += (end - start) as u64;
            }
        } else {
            db.boot_written_out(&bad);
        }
        db
    }

    fn empty(frames: u32, nodes: u8) -> PfnDatabase {
        let nodes = nodes.max(1);
        let empty = ListHead { head: NIL, tail: NIL, count: 0 };
        PfnDatabase {
            entries: Vec::new(),
            frames,
            nodes,
            frames_per_node: (frames / nodes as u32).max(1),
            heads: vec![empty; ListId::Bad.index(nodes) + 1],
            boot: vec![(0, 0); nodes as usize],
            totals: [0; 8],
            contiguity: None,
        }
    }

    /// The frames of a node: the nodes split the frames evenly, the last
    /// taking the remainder.
    /// The frames of a NUMA node, `start..end`.
    pub fn node_range(&self, node: u8) -> (u32, u32) {
        let start = (node as u32).saturating_mul(self.frames_per_node).min(self.frames);
        let end = if node + 1 == self.nodes { self.frames } else { (start + self.frames_per_node).min(self.frames) };
        (start, end)
    }

    /// Boot with every entry written: each frame in ascending order onto
    /// the tail of its node's zeroed list, or of the bad list.
    fn boot_written_out(&mut self, bad: &[u32]) {
        let mut entries = Vec::with_capacity(self.frames as usize);
        let flags = (DEFAULT_PRIORITY as u16) << PRIORITY_SHIFT;
        for node in 0..self.nodes {
            let (start, end) = self.node_range(node);
            for f in start..end {
                let (loc, id) = if bad.binary_search(&f).is_ok() {
                    (PageLocation::Bad, ListId::Bad)
                } else {
                    (PageLocation::Zeroed, ListId::Zeroed(node))
                };
                self.totals[loc as usize] += 1;
                let list = &mut self.heads[id.index(self.nodes)];
                entries.push(PfnEntry { blink: list.tail, flags: flags | loc as u16, ..PfnEntry::new() });
                if list.tail == NIL {
                    list.head = f;
                } else {
                    entries[list.tail as usize].flink = f;
                }
                list.tail = f;
                list.count += 1;
            }
        }
        self.entries = entries;
    }

    /// Number of frames.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Number of NUMA nodes.
    pub fn nodes(&self) -> u8 {
        self.nodes
    }

    /// The nodes a frame for a thread on `node` is taken from, nearest
    /// first: `node` itself, then `node + 1`, `node + 2`, ... wrapping
    /// round to `node - 1`. Windows orders the other nodes by the distances
    /// the firmware reports (the ACPI SLIT; WI7 Part 1, ch. 5, "NUMA");
    /// pagelab has no distance table and assumes node `node + k` is the
    /// `k`-th nearest, which on two nodes is the only order there is.
    pub fn fallback_order(&self, node: u8) -> impl Iterator<Item = u8> {
        let nodes = self.nodes;
        let node = node.min(nodes - 1);
        (0..nodes).map(move |i| ((node as u16 + i as u16) % nodes as u16) as u8)
    }

    /// The NUMA node a frame belongs to.
    #[inline]
    pub fn node_of(&self, pfn: Pfn) -> u8 {
        if self.nodes == 1 {
            return 0;
        }
        ((pfn.0 / self.frames_per_node) as u8).min(self.nodes - 1)
    }

    /// The entry of a frame. Panics if there is no such frame.
    #[inline]
    pub fn entry(&self, pfn: Pfn) -> &PfnEntry {
        match self.entries.get(pfn.index()) {
            Some(e) => e,
            None => self.untouched(pfn),
        }
    }

    #[cold]
    #[inline(never)]
    fn untouched(&self, pfn: Pfn) -> &'static PfnEntry {
        assert!(pfn.0 < self.frames, "{pfn} is beyond the last frame");
        &BOOT_ENTRY
    }

    /// The entry of a frame, if there is such a frame.
    #[inline]
    pub fn get(&self, pfn: Pfn) -> Option<&PfnEntry> {
        match self.entries.get(pfn.index()) {
            Some(e) => Some(e),
            None => (pfn.0 < self.frames).then_some(&BOOT_ENTRY),
        }
    }

    /// Stores entries up to `pfn`'s (frames not yet touched get
    /// [`BOOT_ENTRY`], which they already read as).
    #[inline(always)]
    fn touch(&mut self, pfn: Pfn) {
        if pfn.index() >= self.entries.len() {
            self.store_up_to(pfn);
        }
    }

    #[cold]
    #[inline(never)]
    fn store_up_to(&mut self, pfn: Pfn) {
        assert!(pfn.0 < self.frames, "{pfn} is beyond the last frame");
        crate::host_memory::grow_to(&mut self.entries, pfn.index() + 1, self.frames as usize);
        self.entries.resize(pfn.index() + 1, BOOT_ENTRY);
    }

    /// Host memory the database holds now, bytes.
    pub fn host_bytes(&self) -> u64 {
        (self.entries.capacity() * std::mem::size_of::<PfnEntry>()
            + self.heads.capacity() * std::mem::size_of::<ListHead>()
            + self.boot.capacity() * 8) as u64
            + self.contiguity.as_ref().map_or(0, |c| c.regions() as u64 * Contiguity::HOST_BYTES_PER_REGION)
    }

    /// A bound on the host memory of a database of `frames` frames of
    /// which `used` are ever touched: their entries, grown by a quarter at
    /// a time but never past the whole machine.
    pub fn host_bytes_for(used: u64, frames: u64) -> u64 {
        let entries = used.saturating_add(used / 4).min(frames).max(used);
        // The contiguity index, at most one record per smallest large page.
        let regions = frames.div_ceil(crate::large_page::LargePageSize::X64.frames() as u64);
        entries * std::mem::size_of::<PfnEntry>() as u64 + 64 * 1024 + regions * Contiguity::HOST_BYTES_PER_REGION
    }

    /// Whether `pfn` is in its node's boot run (so its links are implicit).
    #[inline]
    fn in_boot_run(&self, pfn: Pfn) -> bool {
        let (start, end) = self.boot[self.node_of(pfn) as usize];
        pfn.0 >= start && pfn.0 < end
    }

    /// The frames before and after `pfn` on its page list (none for a frame
    /// on no list, or still where boot put it).
    #[inline]
    pub fn list_neighbours(&self, pfn: Pfn) -> [Option<Pfn>; 2] {
        match self.entries.get(pfn.index()) {
            Some(e) if e.location().is_listed() && !self.in_boot_run(pfn) => {
                [e.blink, e.flink].map(|f| (f != NIL).then_some(Pfn(f)))
            }
            _ => [None, None],
        }
    }

    /// The entry of a frame, for the memory manager to update. Panics if
    /// there is no such frame.
    #[inline]
    pub fn entry_mut(&mut self, pfn: Pfn) -> &mut PfnEntry {
        self.touch(pfn);
        &mut self.entries[pfn.index()]
    }

    #[inline]
    fn list_id(&self, pfn: Pfn, loc: PageLocation) -> Option<ListId> {
        let node = self.node_of(pfn);
        Some(match loc {
            PageLocation::Zeroed => ListId::Zeroed(node),
            PageLocation::Free => ListId::Free(node),
            PageLocation::Standby => ListId::Standby(self.entry(pfn).priority()),
            PageLocation::Modified => ListId::Modified,
            PageLocation::ModifiedNoWrite => ListId::ModifiedNoWrite,
            PageLocation::Bad => ListId::Bad,
            PageLocation::Active | PageLocation::Transition => return None,
        })
    }

    /// Where the head of the list for `loc` is, for a frame of that list
    /// (`None` for active and transition frames, which are on no list):
    /// [`Self::list_id`] and [`ListId::index`] in one step.
    #[inline(always)]
    fn list_index(&self, pfn: Pfn, loc: PageLocation) -> Option<usize> {
        let n = self.nodes as usize;
        Some(match loc {
            PageLocation::Zeroed => self.node_of(pfn) as usize,
            PageLocation::Free => n + self.node_of(pfn) as usize,
            PageLocation::Standby => 2 * n + self.entry(pfn).priority() as usize,
            PageLocation::Modified => 2 * n + 8,
            PageLocation::ModifiedNoWrite => 2 * n + 9,
            PageLocation::Bad => 2 * n + 10,
            PageLocation::Active | PageLocation::Transition => return None,
        })
    }

    #[inline]
    fn head_mut(&mut self, id: ListId) -> &mut ListHead {
        &mut self.heads[id.index(self.nodes)]
    }

    #[inline]
    fn head(&self, id: ListId) -> &ListHead {
        &self.heads[id.index(self.nodes)]
    }

    /// The first frame of a list, boot run included.
    fn first_on(&self, id: ListId) -> Option<Pfn> {
        if let ListId::Zeroed(n) = id {
            let (start, end) = self.boot[n as usize];
            if start < end {
                return Some(Pfn(start));
            }
        }
        let h = self.head(id).head;
        (h != NIL).then_some(Pfn(h))
    }

    /// Writes out the links of a node's boot run, ahead of the rest of its
    /// zeroed list, so that a frame can be taken from the middle of it.
    fn write_out_boot_run(&mut self, node: u8) {
        let (start, end) = self.boot[node as usize];
        if start == end {
            return;
        }
        self.touch(Pfn(end - 1));
        let id = ListId::Zeroed(node);
        let rest = self.head(id).head;
        for f in start..end {
            let e = &mut self.entries[f as usize];
            e.blink = if f == start { NIL } else { f - 1 };
            e.flink = if f + 1 < end { f + 1 } else { rest };
        }
        if rest == NIL {
            self.head_mut(id).tail = end - 1;
        } else {
            self.entries[rest as usize].blink = end - 1;
        }
        let h = self.head_mut(id);
        h.head = start;
        h.count += (end - start) as u64;
        self.boot[node as usize] = (end, end);
    }

    /// Puts a frame that is on no list at the tail of the list for `loc`
    /// (or marks it active / in transition).
    #[inline]
    pub fn push_tail(&mut self, pfn: Pfn, loc: PageLocation) {
        self.touch(pfn);
        if self.contiguity.is_some() {
            self.index_move(pfn, loc);
        }
        self.entries[pfn.index()].set_location(loc);
        if loc == PageLocation::Active {
            self.totals[PageLocation::Active as usize] += 1;
            return;
        }
        if loc != PageLocation::Transition {
            self.totals[loc as usize] += 1;
        }
        let Some(list) = self.list_index(pfn, loc) else { return };
        let tail = self.heads[list].tail;
        {
            let e = &mut self.entries[pfn.index()];
            e.flink = NIL;
            e.blink = tail;
        }
        if tail == NIL {
            self.heads[list].head = pfn.0;
        } else {
            self.entries[tail as usize].flink = pfn.0;
        }
        let h = &mut self.heads[list];
        h.tail = pfn.0;
        h.count += 1;
    }

    /// Takes the frames `first..first + n`, every one zeroed or free, off
    /// their lists, leaving them in transition; returns how many were on
    /// the free list (stale contents) and adds those that were on the
    /// zeroed list to `zeroed`. When they lie on one list in
    /// address order, as frames freed together do, the run is cut out in
    /// one step and the contiguity index told once; otherwise frame by
    /// frame.
    pub fn take_free_run(&mut self, first: Pfn, n: u32, zeroed: &mut Vec<u32>) -> u64 {
        let last = first.0 + n - 1;
        let loc = self.entry(first).location();
        let (bs, be) = self.boot[self.node_of(first) as usize];
        let one_list = n > 1
            && matches!(loc, PageLocation::Zeroed | PageLocation::Free)
            && self.node_of(first) == self.node_of(Pfn(last))
            && (last < bs || first.0 >= be)
            && (last as usize) < self.entries.len()
            && (first.0..last).all(|f| {
                let e = &self.entries[f as usize];
                e.flink == f + 1 && self.entries[f as usize + 1].location() == loc
            });
        if !one_list {
            let mut stale = 0;
            for f in first.0..=last {
                match self.entry(Pfn(f)).location() {
                    PageLocation::Free => stale += 1,
                    _ => zeroed.push(f),
                }
                self.unlink(Pfn(f));
            }
            return stale;
        }
        let list = self.list_index(first, loc).expect("a listed frame");
        let (prev, next) = (self.entries[first.index()].blink, self.entries[last as usize].flink);
        if prev == NIL {
            self.heads[list].head = next;
        } else {
            self.entries[prev as usize].flink = next;
        }
        if next == NIL {
            self.heads[list].tail = prev;
        } else {
            self.entries[next as usize].blink = prev;
        }
        self.heads[list].count -= n as u64;
        self.totals[loc as usize] -= n as u64;
        for e in &mut self.entries[first.index()..=last as usize] {
            e.flink = NIL;
            e.blink = NIL;
            e.set_location(PageLocation::Transition);
        }
        if let Some(c) = self.contiguity.as_deref_mut() {
            c.moved_run(first.0, n, Category::Free, Category::Transition);
        }
        if loc == PageLocation::Free {
            n as u64
        } else {
            zeroed.extend(first.0..=last);
            0
        }
    }

    /// Makes the frames `first..first + n`, every one on no list, the
    /// active frames of one large page mapped at `start` by `pid`: each
    /// owned by its page, part of a large page, modified if `dirty`,
    /// mapped once.
    pub fn activate_large_run(&mut self, first: Pfn, n: u32, pid: ProcessId, start: Vpn, dirty: bool) {
        let last = first.0 + n - 1;
        self.touch(Pfn(last));
        for (i, e) in self.entries[first.index()..=last as usize].iter_mut().enumerate() {
            debug_assert_eq!(e.location(), PageLocation::Transition);
            e.set_owner(Some((pid, start.offset(i as u64))));
            e.set_large(true);
            e.set_modified(dirty);
            e.share_count = 1;
            e.reference_count = 1;
            e.set_location(PageLocation::Active);
        }
        let pinned = true;
        self.totals[PageLocation::Active as usize] += n as u64;
        if let Some(c) = self.contiguity.as_deref_mut() {
            c.moved_run(first.0, n, Category::Transition, Category::of(PageLocation::Active, pinned));
        }
    }

    /// Frees the frames `first..first + n` of one large page (active,
    /// pinned as part of it): they leave the large page, lose their owner,
    /// and go to the tail of their node's free list in one splice, in
    /// address order.
    pub fn free_large_run(&mut self, first: Pfn, n: u32) {
        let last = first.0 + n - 1;
        self.touch(Pfn(last));
        if self.node_of(first) != self.node_of(Pfn(last)) {
            for f in first.0..=last {
                let pfn = Pfn(f);
                self.unlink(pfn);
                let e = &mut self.entries[pfn.index()];
                e.set_large(false);
                e.set_modified(false);
                e.set_owner(None);
                e.share_count = 0;
                e.reference_count = 0;
                self.push_tail(pfn, PageLocation::Free);
            }
            return;
        }
        if let Some(c) = self.contiguity.as_deref_mut() {
            c.moved_run(first.0, n, Category::Unmovable, Category::Free);
        }
        let list = self.list_index(first, PageLocation::Free).expect("the free list");
        let tail = self.heads[list].tail;
        for (i, e) in self.entries[first.index()..=last as usize].iter_mut().enumerate() {
            debug_assert!(e.large() && e.location() == PageLocation::Active);
            let f = first.0 + i as u32;
            e.set_large(false);
            e.set_modified(false);
            e.set_owner(None);
            e.share_count = 0;
            e.reference_count = 0;
            e.set_location(PageLocation::Free);
            e.blink = if f == first.0 { tail } else { f - 1 };
            e.flink = if f == last { NIL } else { f + 1 };
        }
        if tail == NIL {
            self.heads[list].head = first.0;
        } else {
            self.entries[tail as usize].flink = first.0;
        }
        self.heads[list].tail = last;
        self.heads[list].count += n as u64;
        self.totals[PageLocation::Active as usize] -= n as u64;
        self.totals[PageLocation::Free as usize] += n as u64;
    }

    /// Moves the page in frame `src` to frame `dst`, which must be on no
    /// list: `dst` takes `src`'s whole entry (owner, backing, flags,
    /// counts, working-set index) and its state (an active page stays
    /// active, a listed one goes to the tail of the same list); `src` is
    /// left blank, on no list. What memory compaction does after copying
    /// the contents; the caller points the owner's PTE at `dst`.
    pub fn relocate(&mut self, src: Pfn, dst: Pfn) {
        debug_assert_eq!(self.entry(dst).location(), PageLocation::Transition, "the destination is on no list");
        let loc = self.entry(src).location();
        let ws = self.entry(src).flink;
        self.unlink(src);
        self.touch(dst);
        let mut moved = self.entries[src.index()];
        moved.flink = NIL;
        moved.blink = NIL;
        self.entries[dst.index()] = moved;
        let mut blank = PfnEntry::new();
        blank.set_location(PageLocation::Transition);
        self.entries[src.index()] = blank;
        self.push_tail(dst, loc);
        if loc == PageLocation::Active {
            self.entries[dst.index()].flink = ws;
        }
    }

    /// Takes a frame off whatever list it is on (or out of the active
    /// state), leaving it in transition, on no list.
    pub fn unlink(&mut self, pfn: Pfn) {
        self.touch(pfn);
        let loc = self.entries[pfn.index()].location();
        if self.contiguity.is_some() {
            self.index_move(pfn, PageLocation::Transition);
        }
        if loc == PageLocation::Active {
            // On no list: only the count moves.
            self.totals[PageLocation::Active as usize] -= 1;
            self.leave_lists(pfn);
            return;
        }
        if loc != PageLocation::Transition {
            self.totals[loc as usize] -= 1;
        }
        if loc == PageLocation::Zeroed && self.in_boot_run(pfn) {
            let node = self.node_of(pfn) as usize;
            if self.boot[node].0 == pfn.0 {
                // The head of the boot run: the run just gets shorter.
                self.boot[node].0 += 1;
                self.leave_lists(pfn);
                return;
            }
            self.write_out_boot_run(node as u8);
        }
        if let Some(list) = self.list_index(pfn, loc) {
            let PfnEntry { flink, blink, .. } = self.entries[pfn.index()];
            if blink == NIL {
                self.heads[list].head = flink;
            } else {
                self.entries[blink as usize].flink = flink;
            }
            if flink == NIL {
                self.heads[list].tail = blink;
            } else {
                self.entries[flink as usize].blink = blink;
            }
            self.heads[list].count -= 1;
        }
        self.leave_lists(pfn);
    }

    #[inline(always)]
    fn leave_lists(&mut self, pfn: Pfn) {
        let e = &mut self.entries[pfn.index()];
        e.flink = NIL;
        e.blink = NIL;
        e.set_location(PageLocation::Transition);
    }

    fn pop_head(&mut self, id: ListId) -> Option<Pfn> {
        let h = self.first_on(id)?;
        self.unlink(h);
        Some(h)
    }

    /// Takes the first zeroed page of `node`.
    pub fn take_zeroed(&mut self, node: u8) -> Option<Pfn> {
        self.pop_head(ListId::Zeroed(node))
    }

    /// Takes the first free page of `node`.
    pub fn take_free(&mut self, node: u8) -> Option<Pfn> {
        self.pop_head(ListId::Free(node))
    }

    /// The oldest standby page, lowest priority first.
    pub fn oldest_standby(&self) -> Option<Pfn> {
        let first = ListId::Standby(0).index(self.nodes);
        self.heads[first..first + 8].iter().find(|h| h.head != NIL).map(|h| Pfn(h.head))
    }

    /// The oldest modified page.
    pub fn oldest_modified(&self) -> Option<Pfn> {
        let h = self.head(ListId::Modified).head;
        (h != NIL).then_some(Pfn(h))
    }

    /// The next frame on the same list (walking from head to tail).
    pub fn next_on_list(&self, pfn: Pfn) -> Option<Pfn> {
        let e = self.entry(pfn);
        if !e.location().is_listed() {
            return None;
        }
        if e.location() == PageLocation::Zeroed && self.in_boot_run(pfn) {
            let node = self.node_of(pfn);
            if pfn.0 + 1 < self.boot[node as usize].1 {
                return Some(Pfn(pfn.0 + 1));
            }
            let rest = self.head(ListId::Zeroed(node)).head;
            return (rest != NIL).then_some(Pfn(rest));
        }
        (e.flink != NIL).then_some(Pfn(e.flink))
    }

    /// Counts of every list.
    #[inline]
    pub fn counts(&self) -> ListCounts {
        let t = &self.totals;
        ListCounts {
            zeroed: t[PageLocation::Zeroed as usize],
            free: t[PageLocation::Free as usize],
            standby: t[PageLocation::Standby as usize],
            modified: t[PageLocation::Modified as usize],
            modified_no_write: t[PageLocation::ModifiedNoWrite as usize],
            bad: t[PageLocation::Bad as usize],
            active: t[PageLocation::Active as usize],
        }
    }

    /// Zeroed and free counts of one node.
    pub fn node_counts(&self, node: u8) -> (u64, u64) {
        let (start, end) = self.boot[node as usize];
        (self.head(ListId::Zeroed(node)).count + (end - start) as u64, self.head(ListId::Free(node)).count)
    }

    /// Available pages = zeroed + free + standby.
    #[inline]
    pub fn available(&self) -> u64 {
        self.counts().available()
    }

    /// Walks every list from head to tail and returns, per frame, how many
    /// times it was found on a list and whether its list matched its
    /// location; used by the invariant checker.
    pub fn audit_lists(&self) -> Result<(), String> {
        // Frames above the stored entries read as boot entries: on their
        // node's zeroed list, in its boot run, linked to nothing. They are
        // checked as ranges, so an audit costs the frames ever touched,
        // not the machine's size.
        let stored = self.entries.len() as u32;
        let mut implicit = 0u64;
        for node in 0..self.nodes {
            let (ns, ne) = self.node_range(node);
            if ne <= stored {
                continue;
            }
            let (start, end) = self.boot[node as usize];
            if end != ne || start > ns.max(stored) {
                return Err(format!(
                    "node {node}: frames 0x{:x}-0x{:x} were never touched but its boot run is 0x{start:x}-0x{end:x}",
                    ns.max(stored),
                    ne - 1
                ));
            }
            implicit += (ne - ns.max(stored)) as u64;
        }
        let mut seen = vec![false; stored as usize];
        let mut ids = Vec::new();
        for n in 0..self.nodes {
            ids.push((ListId::Zeroed(n), PageLocation::Zeroed));
            ids.push((ListId::Free(n), PageLocation::Free));
        }
        for p in 0..8 {
            ids.push((ListId::Standby(p), PageLocation::Standby));
        }
        ids.push((ListId::Modified, PageLocation::Modified));
        ids.push((ListId::ModifiedNoWrite, PageLocation::ModifiedNoWrite));
        ids.push((ListId::Bad, PageLocation::Bad));
        for (id, loc) in ids {
            let mut visit = |cur: u32, e: &PfnEntry| -> Result<(), String> {
                if cur >= stored {
                    return Err(format!("pfn 0x{cur:x} is linked on {id:?} but its entry was never stored"));
                }
                if seen[cur as usize] {
                    return Err(format!("pfn 0x{cur:x} is on a list twice ({id:?})"));
                }
                seen[cur as usize] = true;
                if e.location() != loc {
                    return Err(format!("pfn 0x{cur:x} is on the {id:?} list but says it is {:?}", e.location()));
                }
                if self.list_id(Pfn(cur), loc) != Some(id) {
                    return Err(format!("pfn 0x{cur:x} is on {id:?}, the wrong node or priority"));
                }
                Ok(())
            };
            if let ListId::Zeroed(node) = id {
                let (start, end) = self.boot[node as usize];
                for f in start..end.min(stored) {
                    visit(f, self.entry(Pfn(f)))?;
                }
            }
            let h = self.head(id);
            let mut n = 0u64;
            let mut prev = NIL;
            let mut cur = h.head;
            while cur != NIL {
                let e = self.entry(Pfn(cur));
                visit(cur, e)?;
                if e.blink != prev {
                    return Err(format!("pfn 0x{cur:x} has a broken back link on {id:?}"));
                }
                prev = cur;
                cur = e.flink;
                n += 1;
            }
            if h.tail != prev {
                return Err(format!("{id:?} tail does not match its last entry"));
            }
            if h.count != n {
                return Err(format!("{id:?} counts {} but holds {n}", h.count));
            }
        }
        let mut found = [0u64; 8];
        found[PageLocation::Zeroed as usize] = implicit;
        for (f, e) in self.entries.iter().enumerate() {
            let loc = e.location();
            if loc.is_listed() && !seen[f] {
                return Err(format!("pfn 0x{f:x} says {loc:?} but is on no list"));
            }
            found[loc as usize] += 1;
        }
        let active = found[PageLocation::Active as usize];
        if active != self.totals[PageLocation::Active as usize] {
            return Err(format!(
                "active count {} but {active} frames are active",
                self.totals[PageLocation::Active as usize]
            ));
        }
        found[PageLocation::Transition as usize] = 0;
        if found != self.totals {
            return Err(format!("running list totals {:?} but the frames say {found:?}", self.totals));
        }
        Ok(())
    }

    /// Sets the share and reference counts of a page.
    #[inline]
    pub fn set_counts(&mut self, pfn: Pfn, share: u8, reference: u8) {
        let e = self.entry_mut(pfn);
        e.share_count = share;
        e.reference_count = reference;
    }

    /// Iterates over every entry with its frame number.
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, &PfnEntry)> {
        (0..self.frames).map(|f| (Pfn(f), self.entry(Pfn(f))))
    }

    /// Every stored entry with its frame number: the frames ever touched
    /// and those below them. Every frame above reads as a boot entry
    /// (zeroed, owned by nothing), which [`Self::audit_lists`] checks.
    pub fn iter_stored(&self) -> impl Iterator<Item = (Pfn, &PfnEntry)> {
        self.entries.iter().enumerate().map(|(f, e)| (Pfn(f as u32), e))
    }

    /// Tells the contiguity index that `pfn` moves to `to`. Out of line, so
    /// that the list operations stay small where there is no index.
    #[cold]
    #[inline(never)]
    fn index_move(&mut self, pfn: Pfn, to: PageLocation) {
        let e = &self.entries[pfn.index()];
        let (from, pinned) = (e.location(), e.pinned());
        if let Some(c) = self.contiguity.as_deref_mut() {
            c.moved(pfn.0, Category::of(from, pinned), Category::of(to, pinned));
        }
    }

    /// Keeps a contiguity index of `size` regions from now on (at boot).
    pub fn index_contiguity(&mut self, size: LargePageSize, bad: &[u32]) {
        self.contiguity = Some(Box::new(Contiguity::new(size, self.frames, bad)));
    }

    /// The contiguity index, on machines with large pages.
    pub fn contiguity(&self) -> Option<&Contiguity> {
        self.contiguity.as_deref()
    }

    /// Counts every frame's category region by region, afresh (what
    /// [`Contiguity::audit`] compares the index with): stored entries one by
    /// one, untouched frames as boot entries (zeroed).
    pub fn recount_regions(&self, size: LargePageSize) -> Vec<RegionCounts> {
        let per = size.frames();
        let n = self.frames.div_ceil(per);
        let mut out = vec![RegionCounts::default(); n as usize];
        for (r, c) in out.iter_mut().enumerate() {
            let present = (self.frames - r as u32 * per).min(per);
            c.counts[Category::Unmovable as usize] = (per - present) as u16;
        }
        for (f, e) in self.entries.iter().enumerate() {
            out[f / per as usize].counts[Category::of(e.location(), e.pinned()) as usize] += 1;
        }
        let stored = self.entries.len() as u32;
        for (r, c) in out.iter_mut().enumerate() {
            let lo = (r as u32 * per).max(stored);
            let hi = ((r as u32 + 1) * per).min(self.frames);
            if hi > lo {
                c.counts[Category::Free as usize] += (hi - lo) as u16;
            }
        }
        out
    }

    /// Frames whose entries are stored (the highest frame touched, plus
    /// one): what the database occupies on the host, in entries.
    pub fn stored_entries(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_24_bytes() {
        assert_eq!(std::mem::size_of::<PfnEntry>(), 24);
    }

    #[test]
    fn boot_puts_every_good_frame_on_its_nodes_zeroed_list() {
        let db = PfnDatabase::new(10, 2, &[3]);
        let c = db.counts();
        assert_eq!((c.zeroed, c.bad, c.available()), (9, 1, 9));
        assert_eq!(db.node_counts(0).0, 4);
        assert_eq!(db.node_counts(1).0, 5);
        assert_eq!(db.node_of(Pfn(4)), 0);
        assert_eq!(db.node_of(Pfn(5)), 1);
        db.audit_lists().unwrap();
    }

    /// Everything the database shows: every list in order, every entry's
    /// fields, the counts.
    type View = (Vec<Vec<u32>>, Vec<(PageLocation, u64, u16, u8, u8)>, ListCounts, Vec<(u64, u64)>);

    fn view(db: &PfnDatabase) -> View {
        let mut ids = Vec::new();
        for n in 0..db.nodes {
            ids.extend([ListId::Zeroed(n), ListId::Free(n)]);
        }
        ids.extend((0..8).map(ListId::Standby));
        ids.extend([ListId::Modified, ListId::ModifiedNoWrite, ListId::Bad]);
        let lists = ids
            .into_iter()
            .map(|id| {
                let mut order = Vec::new();
                let mut cur = db.first_on(id);
                while let Some(f) = cur {
                    order.push(f.0);
                    cur = db.next_on_list(f);
                }
                order
            })
            .collect();
        let entries =
            db.iter().map(|(_, e)| (e.location(), e.pte, e.flags, e.share_count, e.reference_count)).collect();
        let nodes = (0..db.nodes).map(|n| db.node_counts(n)).collect();
        (lists, entries, db.counts(), nodes)
    }

    /// The database as it would be with every entry written out at boot.
    fn written_out(frames: u32, nodes: u8) -> PfnDatabase {
        let mut db = PfnDatabase::empty(frames, nodes);
        db.boot_written_out(&[]);
        db
    }

    #[test]
    fn boot_builds_the_lists_frame_by_frame() {
        // Boot gives what pushing each frame in turn gives.
        for (frames, nodes, bad) in [
            (10, 1, vec![]),
            (10, 2, vec![3]),
            (37, 3, vec![0, 36, 12, 12, 99]),
            (37, 3, vec![]),
            (64, 4, vec![15, 16, 17]),
            (5, 8, vec![]),
        ] {
            let db = PfnDatabase::new(frames, nodes, &bad);
            let mut slow = PfnDatabase::empty(frames, nodes);
            slow.entries = vec![BOOT_ENTRY; frames as usize];
            for f in 0..frames {
                slow.entries[f as usize].set_location(PageLocation::Transition);
                let loc = if bad.contains(&f) { PageLocation::Bad } else { PageLocation::Zeroed };
                slow.push_tail(Pfn(f), loc);
            }
            assert!(view(&db) == view(&slow), "{frames} frames on {nodes} nodes, bad {bad:?}");
            assert!(view(&written_out(frames, nodes)) == view(&PfnDatabase::new(frames, nodes, &[])));
            db.audit_lists().unwrap();
            slow.audit_lists().unwrap();
            if bad.is_empty() {
                assert_eq!(db.stored_entries(), 0, "boot writes no entry");
            }
        }
    }

    #[test]
    fn boot_runs_behave_as_lists_written_out() {
        use rand::{Rng, SeedableRng};
        for (frames, nodes, seed) in [(40, 1, 1), (40, 1, 2), (50, 3, 3), (64, 2, 4), (9, 4, 5)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut lazy = PfnDatabase::new(frames, nodes, &[]);
            let mut full = written_out(frames, nodes);
            let mut held: Vec<Pfn> = Vec::new();
            let places = [
                PageLocation::Zeroed,
                PageLocation::Free,
                PageLocation::Standby,
                PageLocation::Modified,
                PageLocation::Active,
            ];
            for step in 0..3000 {
                match rng.gen_range(0..10) {
                    0..=2 => {
                        let n = rng.gen_range(0..nodes);
                        let (a, b) = (lazy.take_zeroed(n), full.take_zeroed(n));
                        assert_eq!(a, b, "step {step}");
                        held.extend(a);
                    }
                    3 => {
                        let n = rng.gen_range(0..nodes);
                        let (a, b) = (lazy.take_free(n), full.take_free(n));
                        assert_eq!(a, b, "step {step}");
                        held.extend(a);
                    }
                    4..=7 if !held.is_empty() => {
                        let f = held.swap_remove(rng.gen_range(0..held.len()));
                        let loc = places[rng.gen_range(0..places.len())];
                        lazy.push_tail(f, loc);
                        full.push_tail(f, loc);
                    }
                    _ => {
                        // Anything on a list or active, from anywhere, boot
                        // runs included.
                        let f = Pfn(rng.gen_range(0..frames));
                        if lazy.entry(f).location() != PageLocation::Transition {
                            lazy.unlink(f);
                            full.unlink(f);
                            held.push(f);
                        }
                    }
                }
                assert!(view(&lazy) == view(&full), "step {step} of seed {seed}");
                assert_eq!(lazy.oldest_standby(), full.oldest_standby());
                lazy.audit_lists().unwrap_or_else(|e| panic!("step {step} of seed {seed}: {e}"));
            }
        }
    }

    /// A run on one list in address order is cut in one step, anything
    /// else frame by frame; both leave the same lists, counts and index.
    #[test]
    fn a_free_run_is_taken_whole_or_frame_by_frame_with_the_same_result() {
        let size = LargePageSize::X64;
        let mut fast = written_out(2048, 1);
        fast.index_contiguity(size, &[]);
        // Scramble region 1 on the free list for the slow path's copy.
        let mut slow = fast.clone();
        for f in (512..1024).rev() {
            slow.unlink(Pfn(f));
            slow.push_tail(Pfn(f), PageLocation::Free);
        }
        for f in 512..1024 {
            fast.unlink(Pfn(f));
            fast.push_tail(Pfn(f), PageLocation::Free);
        }
        let (mut zf, mut zs) = (Vec::new(), Vec::new());
        assert_eq!(fast.take_free_run(Pfn(512), 512, &mut zf), 512);
        assert_eq!(slow.take_free_run(Pfn(512), 512, &mut zs), 512);
        assert_eq!(fast.take_free_run(Pfn(0), 512, &mut zf), 0, "zeroed, one list");
        assert_eq!(zf, (0..512).collect::<Vec<_>>());
        for db in [&fast, &slow] {
            db.audit_lists().unwrap();
            assert_eq!(db.counts().free, 0);
            db.contiguity().unwrap().audit(&db.recount_regions(size)).unwrap();
        }
        assert_eq!(fast.counts().zeroed, 1024);
        assert_eq!(fast.contiguity().unwrap().free_regions().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn a_frame_taken_from_inside_a_boot_run_leaves_the_rest_in_order() {
        let mut lazy = PfnDatabase::new(10, 1, &[]);
        let mut full = written_out(10, 1);
        for db in [&mut lazy, &mut full] {
            let a = db.take_zeroed(0).unwrap();
            db.take_zeroed(0).unwrap();
            db.push_tail(a, PageLocation::Zeroed);
            db.unlink(Pfn(5));
        }
        assert!(view(&lazy) == view(&full));
        assert_eq!(view(&lazy).0[0], vec![2, 3, 4, 6, 7, 8, 9, 0]);
        lazy.audit_lists().unwrap();
    }

    #[test]
    fn lists_keep_fifo_order_and_unlink_from_the_middle() {
        let mut db = PfnDatabase::new(6, 1, &[]);
        let taken: Vec<_> = (0..4).map(|_| db.take_zeroed(0).unwrap()).collect();
        assert_eq!(taken, vec![Pfn(0), Pfn(1), Pfn(2), Pfn(3)]);
        for &p in &taken {
            db.push_tail(p, PageLocation::Standby);
        }
        db.unlink(Pfn(1));
        db.push_tail(Pfn(1), PageLocation::Active);
        assert_eq!(db.oldest_standby(), Some(Pfn(0)));
        assert_eq!(db.next_on_list(Pfn(0)), Some(Pfn(2)));
        assert_eq!(db.counts().standby, 3);
        assert_eq!(db.counts().active, 1);
        db.audit_lists().unwrap();
    }

    #[test]
    fn owner_and_backing_pack_and_unpack() {
        let mut e = PfnEntry::new();
        e.set_owner(Some((ProcessId(7), Vpn(0x7_ffff_ffff))));
        assert_eq!(e.owner(), Some((ProcessId(7), Vpn(0x7_ffff_ffff))));
        e.set_backing(Backing::File(42));
        assert_eq!(e.backing(), Backing::File(42));
        e.set_modified(true);
        assert!(e.modified());
        assert_eq!(e.backing(), Backing::File(42));
        assert_eq!(e.priority(), 0);
    }
}
