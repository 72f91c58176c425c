//! The Linux backend: a scenario's calls mapped onto their Linux
//! counterparts, run in the current process (the child of `pagelab real`).
//!
//! | scenario step (Windows call) | Linux |
//! |---|---|
//! | reserve (VirtualAlloc MEM_RESERVE) | mmap(PROT_NONE, MAP_NORESERVE) |
//! | reserve with commit, commit (MEM_COMMIT) | mmap / mprotect(PROT_READ\|PROT_WRITE) |
//! | decommit (VirtualFree MEM_DECOMMIT) | madvise(MADV_DONTNEED) + mprotect(PROT_NONE) |
//! | release (VirtualFree MEM_RELEASE) | munmap |
//! | map (MapViewOfFile) | mmap(MAP_SHARED) of a real file, written, synced and dropped from the page cache |
//! | touch, refs | a read or write of one byte per page, in the simulator's order (random ones from its seeded generator), faults from getrusage |
//! | reserve with large_pages (MEM_LARGE_PAGES) | mmap(MAP_HUGETLB \| MAP_POPULATE), or with `linux_large = "thp"` madvise(MADV_HUGEPAGE) + MADV_POPULATE_WRITE |
//! | virtual_lock, virtual_unlock | mlock, munlock |
//! | set_working_set with `empty`, trim | madvise(MADV_PAGEOUT) |
//! | hugetlb_pool | /proc/sys/vm/nr_hugepages, written and read back |
//! | privileges, AWE, contiguous memory, background work | none: the row says so |
//!
//! Ordinary memory is madvised MADV_NOHUGEPAGE, as Windows gives large
//! pages only when asked (MODEL.md s5), so that a machine whose THP
//! setting is `always` counts one fault per 4 KiB page too.
//!
//! The real run is one process holding the memory of every scenario
//! process; each mapping remembers whose it is, and what is measured
//! (mincore, /proc/self/smaps, /proc/self/pagemap) is measured over the
//! mappings of the step's process.

use std::ffi::c_void;
use std::ptr;

use super::compare::quantities_for;
use super::{Backend, CallResult, Observation, System};
use crate::machine::AccessKind;
use crate::pte::Protection;
use crate::scenario::{Action, LinuxLarge, Pattern, Scenario, Step};
use crate::units::Bytes;

const PAGE: usize = 4096;
/// Linux's huge page on x86-64 (Hugepagesize in /proc/meminfo), the size
/// of the x64 large page (GetLargePageMinimum, MODEL.md s5).
const LARGE: usize = 2 << 20;
const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Normal,
    /// A view of a file (`map`).
    File,
    Hugetlb,
    Thp,
}

#[derive(Debug)]
struct Mapping {
    /// The scenario process whose memory it is.
    process: usize,
    /// The scenario's address for it.
    sim: u64,
    size: usize,
    real: *mut u8,
    kind: Kind,
}

/// The Linux backend's state: the mappings made so far, and the hugetlb
/// pool's size before the run changed it (restored at the end).
#[derive(Debug)]
pub struct Linux {
    mappings: Vec<Mapping>,
    pool_before: Option<u64>,
    root: bool,
    /// The simulator's generator of random touches, replayed.
    workload: rand_chacha::ChaCha8Rng,
    /// The scenario's files: their sizes, and each file made so far (open,
    /// already unlinked, so nothing is left behind even after a crash).
    file_sizes: Vec<u64>,
    files: std::collections::BTreeMap<usize, std::fs::File>,
}

impl Default for Linux {
    fn default() -> Self {
        Self::new()
    }
}

impl Linux {
    /// A backend with nothing mapped.
    pub fn new() -> Linux {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        Linux {
            mappings: Vec::new(),
            pool_before: None,
            root,
            workload: crate::runner::workload_generator(0),
            file_sizes: Vec::new(),
            files: std::collections::BTreeMap::new(),
        }
    }
}

impl Backend for Linux {
    fn system(&self) -> System {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        System { backend: "linux".into(), version: format!("Linux {}", release.trim()), privileged: self.root }
    }

    fn check(&self, scenario: &Scenario) -> Result<(), String> {
        // The real side takes real memory: no step may take more than half
        // of what this machine has available.
        let limit = mem_available().map(|b| b / 2);
        for s in scenario.plan.iter().filter(|s| s.real.side.real()) {
            let at = format!("{}:{}", scenario.file, s.line);
            let takes = match &s.action {
                Action::Reserve { size, commit: true, .. }
                | Action::Reserve { size, large_pages: true, .. }
                | Action::Commit { size, .. } => *size,
                Action::HugetlbPool { pages } => pages.saturating_mul(LARGE as u64),
                _ => 0,
            };
            if let Some(limit) = limit.filter(|&l| takes > l) {
                return Err(format!(
                    "{at}: the step takes {} of real memory, more than half of what this machine has available ({}): pagelab real does not take that much",
                    Bytes(takes),
                    Bytes((limit * 2) >> 20 << 20)
                ));
            }
            match &s.action {
                Action::HugetlbPool { .. } if !self.root => {
                    return Err(format!(
                        "{at}: hugetlb_pool writes {NR_HUGEPAGES}, which needs root: run pagelab real as root"
                    ))
                }
                Action::HugetlbPool { .. } | Action::Reserve { large_pages: true, .. }
                    if !std::path::Path::new(NR_HUGEPAGES).exists() =>
                {
                    return Err(format!("{at}: this kernel has no hugetlb pages ({NR_HUGEPAGES} is missing)"))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn run(&mut self, scenario: &Scenario, emit: &mut dyn FnMut(&Observation)) -> Result<(), String> {
        self.check(scenario)?;
        // A step that is meant to crash (a touch of reserved memory) should
        // not leave a core file behind.
        let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: a valid rlimit; failure only leaves core dumps on.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        warm_up();
        self.workload = crate::runner::workload_generator(scenario.machine.seed);
        self.file_sizes = scenario.files.iter().map(|f| f.size).collect();
        for (i, step) in scenario.plan.iter().enumerate() {
            if !step.real.side.real() {
                // The simulator's random touches draw from the generator
                // even when the real side does not run them.
                if let Action::Touch { pattern: Pattern::Random { count }, pages, repeat, .. } = step.action {
                    self.random_order(pages, count, repeat);
                }
                continue;
            }
            let o = self.step(i + 1, step);
            emit(&o);
        }
        self.restore_pool();
        Ok(())
    }
}

impl Drop for Linux {
    fn drop(&mut self) {
        self.restore_pool();
    }
}

/// Runs the touch loop and getrusage once, so that their own code and
/// data pages are mapped before any step counts faults.
fn warm_up() {
    let mut buf = vec![0u8; 2 * PAGE];
    let order = [0, 1];
    touch_pages(buf.as_mut_ptr(), &order, &[true, false], 1);
    let _ = faults();
}

/// Reads or writes one byte in each page of `order` (page indexes from
/// `base`), in order, `passes` times.
fn touch_pages(base: *mut u8, order: &[u64], writes: &[bool], passes: u64) -> u8 {
    let mut sum = 0u8;
    for (&i, &w) in (0..passes).flat_map(|_| order.iter().zip(writes)) {
        // SAFETY: the caller checked that every page lies in one of its
        // mappings; a page the mapping does not allow is a SIGSEGV, which
        // ends this child process and is reported by the parent.
        unsafe {
            let p = base.add(i as usize * PAGE);
            if w {
                ptr::write_volatile(p, 0x5a);
            } else {
                sum = sum.wrapping_add(ptr::read_volatile(p));
            }
        }
    }
    std::hint::black_box(sum)
}

/// (minor, major) faults of this process so far.
fn faults() -> (u64, u64) {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    (u.ru_minflt as u64, u.ru_majflt as u64)
}

/// The result of a call that returned -1 (or MAP_FAILED): errno, by name.
fn failed() -> CallResult {
    let n = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    CallResult::Failed { code: errno_name(n), number: n as i64 }
}

fn errno_name(n: i32) -> String {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EAGAIN => "EAGAIN",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::ENOSYS => "ENOSYS",
        libc::EBUSY => "EBUSY",
        _ => return format!("errno {n}"),
    }
    .to_string()
}

/// The mmap protection of a Windows page protection.
fn prot(p: Protection) -> (i32, &'static str) {
    use Protection::*;
    match p {
        ReadOnly => (libc::PROT_READ, "PROT_READ"),
        Execute => (libc::PROT_EXEC, "PROT_EXEC"),
        ExecuteRead => (libc::PROT_READ | libc::PROT_EXEC, "PROT_READ|PROT_EXEC"),
        // Private memory: copy-on-write is what a private mapping is anyway.
        ReadWrite | WriteCopy => (libc::PROT_READ | libc::PROT_WRITE, "PROT_READ|PROT_WRITE"),
        ExecuteReadWrite | ExecuteWriteCopy => {
            (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC, "PROT_READ|PROT_WRITE|PROT_EXEC")
        }
        NoAccess => (libc::PROT_NONE, "PROT_NONE"),
    }
}

fn size_text(n: usize) -> String {
    Bytes(n as u64).to_string()
}

const NO_PRIVILEGES: &str = "Linux has no token privileges: hugetlb pages need a pool that root reserves (/proc/sys/vm/nr_hugepages), and mlock past RLIMIT_MEMLOCK needs CAP_IPC_LOCK";
const NO_AWE: &str =
    "AWE: a Linux process owns no physical pages of its own to map into a window (remap_pfn_range is for drivers)";
const ONE_PROCESS: &str = "the real run is one child process holding the memory of every scenario process";

impl Linux {
    fn step(&mut self, number: usize, step: &Step) -> Observation {
        let op = step.action.op_name();
        let none = |why: &str| Observation::new(number, op, "", CallResult::NoCounterpart { why: why.into() });
        let not_run = |why: String| Observation::new(number, op, "", CallResult::NotRun { why });
        let mut o = match &step.action {
            Action::Reserve { physical: true, .. } => none(NO_AWE),
            Action::Reserve { address: None, .. } => {
                not_run("give the reserve an address: the real run finds its memory by the scenario's addresses".into())
            }
            Action::Reserve { process, address: Some(a), size, protection, commit, large_pages, .. } => {
                self.reserve(number, *process, *a, *size as usize, *protection, *commit, *large_pages, step)
            }
            Action::Commit { process, address, size, protection } => match self.find(*process, *address, *size) {
                None => not_run(format!("no mapping of the real run holds {:#x}..+{}", address, size_text(*size as usize))),
                Some((p, _)) => {
                    let (pr, name) = prot(*protection);
                    // SAFETY: the range lies in one of this backend's mappings.
                    let r = unsafe { libc::mprotect(p as *mut c_void, *size as usize, pr) };
                    Observation::new(number, op, format!("mprotect({}, {name})", size_text(*size as usize)), ok_if(r == 0))
                }
            },
            Action::Decommit { process, address, size } => match self.find(*process, *address, *size) {
                None => not_run(format!("no mapping of the real run holds {address:#x}")),
                Some((p, _)) => {
                    let len = *size as usize;
                    // SAFETY: the range lies in one of this backend's mappings.
                    let r = unsafe {
                        if libc::madvise(p as *mut c_void, len, libc::MADV_DONTNEED) == 0 {
                            libc::mprotect(p as *mut c_void, len, libc::PROT_NONE)
                        } else {
                            -1
                        }
                    };
                    Observation::new(
                        number,
                        op,
                        format!("madvise({}, MADV_DONTNEED) + mprotect(PROT_NONE)", size_text(len)),
                        ok_if(r == 0),
                    )
                }
            },
            Action::Release { process, address } => {
                match self.mappings.iter().position(|m| m.process == *process && m.sim == *address) {
                    None => not_run(format!("no mapping of the real run starts at {address:#x}")),
                    Some(i) => {
                        let m = self.mappings.remove(i);
                        // SAFETY: a mapping this backend made, unmapped once.
                        let r = unsafe { libc::munmap(m.real as *mut c_void, m.size) };
                        Observation::new(number, op, format!("munmap({})", size_text(m.size)), ok_if(r == 0))
                    }
                }
            }
            Action::Touch { pattern: Pattern::Random { .. }, .. } if step.real.side == crate::scenario::Side::Real => {
                not_run("a random touch the simulator does not make has no pages drawn for it".into())
            }
            Action::Touch { process, address, pages, access, pattern, repeat, .. } => {
                let (order, passes) = match *pattern {
                    Pattern::Random { count } => (self.random_order(*pages, count, *repeat), 1),
                    _ => (visit_order(*pages, *pattern), *repeat),
                };
                let write = *access == AccessKind::Write;
                let writes = vec![write; order.len()];
                let kind = if write { "a write" } else { "a read" };
                let plural = if *pages == 1 { "" } else { "s" };
                let what = match *pattern {
                    Pattern::Random { .. } => {
                        format!("{kind} of one byte at each of {} references to {pages} page{plural}, the simulator's random ones", order.len())
                    }
                    _ if passes > 1 => format!("{kind} of one byte in each of {pages} page{plural}, {passes} times"),
                    _ => format!("{kind} of one byte in each of {pages} page{plural}"),
                };
                self.touch(number, op, *process, *address, *pages, (&order, &writes, passes), what)
            }
            Action::Refs { process, base, pages, writes } => {
                let span = pages.iter().max().map_or(0, |m| m + 1);
                let what = format!("{} references, one byte each", pages.len());
                self.touch(number, op, *process, *base, span, (pages, writes, 1), what)
            }
            Action::VirtualLock { process, address, size } | Action::VirtualUnlock { process, address, size } => {
                let lock = matches!(step.action, Action::VirtualLock { .. });
                let name = if lock { "mlock" } else { "munlock" };
                match self.find(*process, *address, *size) {
                    None => not_run(format!("no mapping of the real run holds {address:#x}")),
                    Some((p, _)) => {
                        let len = (*size as usize).div_ceil(PAGE) * PAGE;
                        // SAFETY: the range lies in one of this backend's mappings.
                        let r = unsafe {
                            if lock {
                                libc::mlock(p as *const c_void, len)
                            } else {
                                libc::munlock(p as *const c_void, len)
                            }
                        };
                        Observation::new(number, op, format!("{name}({})", size_text(len)), ok_if(r == 0))
                    }
                }
            }
            Action::SetWorkingSet { process, limits: None } | Action::Trim { process, pages: None } => {
                // MADV_PAGEOUT refuses (EINVAL) an area that is mlocked:
                // locked pages stay, as on Windows, so those areas are left out.
                let mine: Vec<&Mapping> =
                    self.mappings.iter().filter(|m| m.process == *process && m.kind == Kind::Normal).collect();
                let mut ok = true;
                for (start, end) in unlocked_areas(&mine) {
                    // SAFETY: an area inside a mapping this backend made.
                    ok &= unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_PAGEOUT) } == 0;
                }
                Observation::new(
                    number,
                    op,
                    "madvise(MADV_PAGEOUT) over the process's mappings, mlocked areas left out",
                    ok_if(ok),
                )
            }
            Action::SetWorkingSet { .. } => none("Linux has no per-process working-set limits (the nearest is a cgroup's memory.high)"),
            Action::Trim { .. } => none("Linux reclaims address ranges (MADV_PAGEOUT), not a count of a process's pages"),
            Action::Exit { process } => {
                let mut ok = true;
                let (gone, kept): (Vec<Mapping>, Vec<Mapping>) =
                    std::mem::take(&mut self.mappings).into_iter().partition(|m| m.process == *process);
                self.mappings = kept;
                for m in gone {
                    // SAFETY: a mapping this backend made, unmapped once.
                    ok &= unsafe { libc::munmap(m.real as *mut c_void, m.size) } == 0;
                }
                Observation::new(number, op, "munmap of every mapping of the process", ok_if(ok))
            }
            Action::Start { .. } => none(ONE_PROCESS),
            Action::HugetlbPool { pages } => self.pool(number, *pages),
            Action::Grant { .. } | Action::Logon | Action::AdjustPrivileges { .. } => none(NO_PRIVILEGES),
            Action::AllocatePhysical { .. }
            | Action::MapPhysical { .. }
            | Action::MapScatter { .. }
            | Action::FreePhysical { .. }
            | Action::PhysicalLimit { .. } => none(NO_AWE),
            Action::Fragment { .. } => {
                none("the real machine's memory is as it is; a fragment step can start the simulator from its /proc/buddyinfo")
            }
            Action::Contiguous { .. } | Action::FreeContiguous => {
                none("MmAllocateContiguousMemory is a driver's call, as is the kernel's alloc_contig_range")
            }
            Action::WriteModified { .. } => none("Linux writes dirty pages back from its own threads, not at a process's request"),
            Action::Advance { .. } => none("the kernel's background work runs on its own"),
            Action::WaitNotification { .. } => {
                none("Linux signals memory pressure through PSI and cgroup events, not these notifications")
            }
            Action::Map { address: None, .. } => {
                not_run("give the map an address: the real run finds its memory by the scenario's addresses".into())
            }
            Action::Map { process, file, offset, size, address: Some(a), protection } => {
                self.map(number, *process, *file, *offset, *size, *a, *protection)
            }
            Action::PageOutLarge { .. } | Action::BufferPool { .. } | Action::PoolGrow { .. } | Action::RampUp { .. } => {
                not_run("a pagelab experiment with no single real call".into())
            }
        };
        if o.result.ran() {
            let process = step.action.process();
            self.measure(process, &step.action, &mut o);
        }
        o
    }

    /// MapViewOfFile: mmap(MAP_SHARED) of a real file of the scenario
    /// file's size, written (not sparse, so reading it back is I/O), synced
    /// and dropped from the page cache (posix_fadvise POSIX_FADV_DONTNEED),
    /// so that the first reference to each page reads the disk.
    #[allow(clippy::too_many_arguments)]
    fn map(
        &mut self,
        number: usize,
        process: usize,
        file: usize,
        offset: u64,
        size: u64,
        address: u64,
        protection: Protection,
    ) -> Observation {
        use std::os::unix::io::AsRawFd;
        let total = self.file_sizes.get(file).copied().unwrap_or(0);
        let len = if size == 0 { total.saturating_sub(offset) } else { size } as usize;
        let (pr, name) = prot(protection);
        let call = format!(
            "mmap({}, {name}, MAP_SHARED) of a {} file, written, synced and dropped from the page cache",
            size_text(len),
            size_text(total as usize)
        );
        if let std::collections::btree_map::Entry::Vacant(e) = self.files.entry(file) {
            match make_file(total) {
                Ok(f) => {
                    e.insert(f);
                }
                Err(err) => {
                    let mut o = Observation::new(number, "map", call, failed());
                    o.notes.push(format!("cannot make the file: {err}"));
                    return o;
                }
            }
        }
        let fd = self.files[&file].as_raw_fd();
        // SAFETY: a shared mapping of a file this backend made; the hint is only a hint.
        let p = unsafe { libc::mmap(address as *mut c_void, len, pr, libc::MAP_SHARED, fd, offset as libc::off_t) };
        if p == libc::MAP_FAILED {
            return Observation::new(number, "map", call, failed());
        }
        self.mappings.push(Mapping { process, sim: address, size: len, real: p as *mut u8, kind: Kind::File });
        Observation::new(number, "map", call, CallResult::Ok)
    }

    /// The pages of a random touch: the simulator's, from the same seeded
    /// generator drawn in the same order.
    fn random_order(&mut self, pages: u64, count: u64, repeat: u64) -> Vec<u64> {
        (0..count.saturating_mul(repeat)).map(|_| crate::runner::random_page(&mut self.workload, pages)).collect()
    }

    /// The real address of `[address, address + len)` of a scenario
    /// process, when one mapping holds it all.
    fn find(&self, process: usize, address: u64, len: u64) -> Option<(*mut u8, usize)> {
        self.mappings.iter().enumerate().find_map(|(i, m)| {
            let inside = m.process == process && address >= m.sim && address.checked_add(len)? <= m.sim + m.size as u64;
            // SAFETY (of the add): the offset lies inside the mapping.
            inside.then(|| (unsafe { m.real.add((address - m.sim) as usize) }, i))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn reserve(
        &mut self,
        number: usize,
        process: usize,
        address: u64,
        size: usize,
        protection: Protection,
        commit: bool,
        large: bool,
        step: &Step,
    ) -> Observation {
        let op = "reserve";
        let hint = address as *mut c_void;
        let base = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let (kind, call, p) = if large && step.real.linux_large == LinuxLarge::Hugetlb {
            let call = format!(
                "mmap({}, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_POPULATE)",
                size_text(size)
            );
            // SAFETY: an anonymous mapping; the hint is only a hint.
            let p = unsafe {
                libc::mmap(
                    hint,
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    base | libc::MAP_HUGETLB | libc::MAP_POPULATE,
                    -1,
                    0,
                )
            };
            (Kind::Hugetlb, call, p)
        } else if large {
            let call = format!(
                "mmap({}, PROT_READ|PROT_WRITE) + madvise(MADV_HUGEPAGE) + madvise(MADV_POPULATE_WRITE)",
                size_text(size)
            );
            // SAFETY: an anonymous mapping; the hint is only a hint.
            let p = unsafe { libc::mmap(hint, size, libc::PROT_READ | libc::PROT_WRITE, base, -1, 0) };
            if p != libc::MAP_FAILED {
                // SAFETY: the mapping just made.
                unsafe {
                    libc::madvise(p, size, libc::MADV_HUGEPAGE);
                    if libc::madvise(p, size, libc::MADV_POPULATE_WRITE) != 0 {
                        // Before Linux 5.14: fault each page in by hand.
                        let order: Vec<u64> = (0..(size / PAGE) as u64).collect();
                        touch_pages(p as *mut u8, &order, &vec![true; order.len()], 1);
                    }
                }
            }
            (Kind::Thp, call, p)
        } else {
            let (pr, name) = if commit { prot(protection) } else { (libc::PROT_NONE, "PROT_NONE") };
            let flags = if commit { base } else { base | libc::MAP_NORESERVE };
            let call = format!(
                "mmap({}, {name}, MAP_PRIVATE|MAP_ANONYMOUS{}) + madvise(MADV_NOHUGEPAGE)",
                size_text(size),
                if commit { "" } else { "|MAP_NORESERVE" }
            );
            // SAFETY: an anonymous mapping; the hint is only a hint.
            let p = unsafe { libc::mmap(hint, size, pr, flags, -1, 0) };
            if p != libc::MAP_FAILED {
                // SAFETY: the mapping just made.
                unsafe { libc::madvise(p, size, libc::MADV_NOHUGEPAGE) };
            }
            (Kind::Normal, call, p)
        };
        if p == libc::MAP_FAILED {
            return Observation::new(number, op, call, failed());
        }
        self.mappings.push(Mapping { process, sim: address, size, real: p as *mut u8, kind });
        Observation::new(number, op, call, CallResult::Ok)
    }

    #[allow(clippy::too_many_arguments)]
    fn touch(
        &mut self,
        number: usize,
        op: &str,
        process: usize,
        address: u64,
        span: u64,
        refs: (&[u64], &[bool], u64),
        what: String,
    ) -> Observation {
        let page = address & !(PAGE as u64 - 1);
        let Some((p, _)) = self.find(process, page, span * PAGE as u64) else {
            return Observation::new(
                number,
                op,
                what,
                CallResult::NotRun {
                    why: format!("{address:#x}..+{span} pages is in no mapping of the real run: touching it could hit the child's own memory"),
                },
            );
        };
        // Faults are counted around the loop alone: nothing else in it
        // allocates or touches new memory.
        let before = faults();
        touch_pages(p, refs.0, refs.1, refs.2);
        let after = faults();
        let mut o = Observation::new(number, op, what, CallResult::Ok);
        o.measured.insert("faults.minor".into(), after.0 - before.0);
        o.measured.insert("faults.major".into(), after.1 - before.1);
        o
    }

    fn pool(&mut self, number: usize, pages: u64) -> Observation {
        let call = format!("write {pages} to {NR_HUGEPAGES}, read it back");
        let read = || std::fs::read_to_string(NR_HUGEPAGES).ok().and_then(|t| t.trim().parse::<u64>().ok());
        if self.pool_before.is_none() {
            self.pool_before = read();
        }
        if std::fs::write(NR_HUGEPAGES, format!("{pages}\n")).is_err() {
            return Observation::new(number, "hugetlb_pool", call, failed());
        }
        let mut o = Observation::new(number, "hugetlb_pool", call, CallResult::Ok);
        match read() {
            Some(got) => {
                o.measured.insert("pool".into(), got);
                if got < pages {
                    o.notes.push(format!("asked for {pages} huge pages, the kernel found {got}"));
                }
            }
            None => o.notes.push(format!("cannot read {NR_HUGEPAGES} back")),
        }
        o
    }

    fn restore_pool(&mut self) {
        if let Some(v) = self.pool_before.take() {
            let _ = std::fs::write(NR_HUGEPAGES, format!("{v}\n"));
        }
    }

    fn measure(&self, process: Option<usize>, action: &Action, o: &mut Observation) {
        let wanted = quantities_for(action);
        let Some(process) = process else { return };
        let mine: Vec<&Mapping> = self.mappings.iter().filter(|m| m.process == process).collect();
        if wanted.contains(&"resident") {
            o.measured.insert("resident".into(), mine.iter().map(|m| resident(m)).sum());
        }
        if wanted.contains(&"locked") || wanted.contains(&"large_pages") {
            let smaps = smaps(&mine);
            if wanted.contains(&"locked") {
                o.measured.insert("locked".into(), smaps.locked_kb / 4);
                if let Some(kb) = vm_lck_kb() {
                    o.notes.push(format!("VmLck of the whole child process: {kb} kB"));
                }
            }
            if wanted.contains(&"large_pages") {
                o.measured.insert("large_pages".into(), smaps.huge_kb / 2048);
            }
        }
        if wanted.contains(&"large.contiguous") {
            if !self.root {
                o.notes
                    .push("large.contiguous not measured: /proc/self/pagemap shows frame numbers to root only".into());
                return;
            }
            let mut count = 0;
            for m in mine.iter().filter(|m| m.kind != Kind::Normal) {
                match contiguous_large_pages(m) {
                    Ok((n, firsts)) => {
                        count += n;
                        let kind = if m.kind == Kind::Thp { "transparent huge pages" } else { "hugetlb pages" };
                        let shown: Vec<String> = firsts.iter().take(4).map(|f| format!("{f:#x}")).collect();
                        let more = if firsts.len() > 4 { ", ..." } else { "" };
                        o.notes.push(format!(
                            "{kind} at {:#x}: {n} of {} contiguous and aligned, first frames {}{more}",
                            m.sim,
                            m.size / LARGE,
                            if shown.is_empty() { "-".to_string() } else { shown.join(", ") }
                        ));
                        if m.kind == Kind::Thp && !firsts.is_empty() {
                            let thp = firsts.iter().filter(|&&f| kpage_thp_head(f) == Some(true)).count();
                            o.notes.push(format!(
                                "/proc/kpageflags: {thp} of those {} first frames are heads of transparent huge pages",
                                firsts.len()
                            ));
                        }
                    }
                    Err(e) => o.notes.push(format!("cannot read /proc/self/pagemap: {e}")),
                }
            }
            o.measured.insert("large.contiguous".into(), count);
        }
    }
}

fn ok_if(ok: bool) -> CallResult {
    if ok {
        CallResult::Ok
    } else {
        failed()
    }
}

/// The pages of a touch step, in the order the simulator visits them
/// (the runner's patterns; random ones come from [`Linux::random_order`]),
/// one pass.
fn visit_order(pages: u64, pattern: Pattern) -> Vec<u64> {
    let mut pass = Vec::with_capacity(pages as usize);
    let mut prev = 0;
    for pos in 0..pages {
        let i = match pattern {
            Pattern::Sequential | Pattern::Random { .. } => pos,
            Pattern::Reverse => pages - 1 - pos,
            Pattern::Stride(k) => {
                if pos == 0 {
                    0
                } else if prev + k < pages {
                    prev + k
                } else {
                    prev % k + 1
                }
            }
        };
        prev = i;
        pass.push(i);
    }
    pass
}

/// Pages of a mapping in memory, by mincore(2).
fn resident(m: &Mapping) -> u64 {
    let mut vec = vec![0u8; m.size.div_ceil(PAGE)];
    // SAFETY: a mapping this backend made, and a vector of one byte per page.
    let r = unsafe { libc::mincore(m.real as *mut c_void, m.size, vec.as_mut_ptr()) };
    if r != 0 {
        return 0;
    }
    vec.iter().filter(|b| *b & 1 == 1).count() as u64
}

#[derive(Default)]
struct Smaps {
    locked_kb: u64,
    huge_kb: u64,
}

/// The areas (VMAs, from /proc/self/smaps) inside the given mappings that
/// are not mlocked (no `lo` in VmFlags).
fn unlocked_areas(mappings: &[&Mapping]) -> Vec<(usize, usize)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps") else { return Vec::new() };
    let mut out = Vec::new();
    let mut current = None;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                current =
                    mappings.iter().any(|m| a >= m.real as usize && b <= m.real as usize + m.size).then_some((a, b));
                continue;
            }
        }
        if let (Some(area), Some(flags)) = (current, line.strip_prefix("VmFlags:")) {
            if !flags.split_whitespace().any(|f| f == "lo") {
                out.push(area);
            }
        }
    }
    out
}

/// Sums the smaps fields of the areas inside the given mappings.
fn smaps(mappings: &[&Mapping]) -> Smaps {
    let mut s = Smaps::default();
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps") else { return s };
    let mut inside = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = mappings.iter().any(|m| a >= m.real as usize && b <= m.real as usize + m.size);
                continue;
            }
        }
        if !inside {
            continue;
        }
        let kb = words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        match first {
            "Locked:" => s.locked_kb += kb,
            "AnonHugePages:" | "Private_Hugetlb:" | "Shared_Hugetlb:" => s.huge_kb += kb,
            _ => {}
        }
    }
    s
}

/// A file of `size` bytes in the temporary directory, already unlinked:
/// written with non-zero bytes, synced, and out of the page cache.
fn make_file(size: u64) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    let path = std::env::temp_dir().join(format!("pagelab-real-{}-{}", std::process::id(), size));
    let mut f = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
    std::fs::remove_file(&path)?;
    let chunk = vec![0x5au8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    // SAFETY: a file descriptor this function owns.
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        return Err(std::io::Error::from_raw_os_error(r));
    }
    Ok(f)
}

/// MemAvailable in /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// VmLck in /proc/self/status: the process's mlocked memory, in kB.
fn vm_lck_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmLck:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether a frame is the head of a transparent huge page, by
/// /proc/kpageflags (root): bit 15 COMPOUND_HEAD and bit 22 THP (Linux's
/// Documentation/admin-guide/mm/pagemap.rst).
fn kpage_thp_head(pfn: u64) -> Option<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open("/proc/kpageflags").ok()?;
    f.seek(SeekFrom::Start(pfn * 8)).ok()?;
    let mut b = [0u8; 8];
    f.read_exact(&mut b).ok()?;
    let flags = u64::from_le_bytes(b);
    Some(flags >> 15 & 1 == 1 && flags >> 22 & 1 == 1)
}

/// The 2 MiB pages of a mapping whose 512 frames are present, contiguous
/// and 2 MiB aligned, by /proc/self/pagemap (bit 63 present, bits 0-54 the
/// frame number; Linux's Documentation/admin-guide/mm/pagemap.rst), and
/// the first frame of each.
fn contiguous_large_pages(m: &Mapping) -> Result<(u64, Vec<u64>), String> {
    use std::io::{Read, Seek, SeekFrom};
    let start = (m.real as usize).next_multiple_of(LARGE);
    let end = m.real as usize + m.size;
    let mut f = std::fs::File::open("/proc/self/pagemap").map_err(|e| e.to_string())?;
    let (mut count, mut firsts) = (0, Vec::new());
    let mut buf = vec![0u8; LARGE / PAGE * 8];
    let mut chunk = start;
    while chunk + LARGE <= end {
        f.seek(SeekFrom::Start((chunk / PAGE * 8) as u64)).map_err(|e| e.to_string())?;
        f.read_exact(&mut buf).map_err(|e| e.to_string())?;
        let entries: Vec<u64> =
            buf.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
        let pfn = |e: u64| e & ((1 << 55) - 1);
        let present = entries.iter().all(|e| e >> 63 == 1);
        let first = pfn(entries[0]);
        let contiguous = entries.iter().enumerate().all(|(j, e)| pfn(*e) == first + j as u64);
        if present && contiguous && first % (LARGE / PAGE) as u64 == 0 && first != 0 {
            count += 1;
            firsts.push(first);
        }
        chunk += LARGE;
    }
    Ok((count, firsts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_visit_pages_in_the_runners_order() {
        assert_eq!(visit_order(4, Pattern::Sequential), [0, 1, 2, 3]);
        assert_eq!(visit_order(4, Pattern::Reverse), [3, 2, 1, 0]);
        assert_eq!(visit_order(6, Pattern::Stride(2)), [0, 2, 4, 1, 3, 5]);
    }

    #[test]
    fn protections_map_onto_mmap_protections() {
        assert_eq!(prot(Protection::ReadWrite).0, libc::PROT_READ | libc::PROT_WRITE);
        assert_eq!(prot(Protection::NoAccess).0, libc::PROT_NONE);
        assert_eq!(errno_name(libc::ENOMEM), "ENOMEM");
        assert_eq!(errno_name(4095), "errno 4095");
    }
}
