//! Shared helpers: running the `pagelab` binary, temporary directories,
//! and small reference models of replacement policies.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The built-in scenarios, in the order `pagelab scenarios` lists them.
pub const BUILTINS: [&str; 18] = [
    "tour",
    "demand-zero",
    "belady",
    "soft-hard",
    "mapped-file",
    "nt31-2gb",
    "numa",
    "numa-drift",
    "privileges",
    "balance",
    "eras",
    "contiguous",
    "tlb",
    "paging-large",
    "awe",
    "ramp-up",
    "buffer-pool",
    "buffer-pool-ignores-pressure",
];

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The command line, for failure messages.
    pub cmd: String,
}

impl Out {
    /// Asserts the exit code and that nothing panicked; returns self.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Out {
        self.no_panic();
        assert_eq!(
            self.code, want,
            "`{}` exited {} (wanted {want})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts that the process did not panic.
    #[track_caller]
    pub fn no_panic(&self) -> &Out {
        assert!(
            !self.stderr.contains("panicked") && self.code != 101,
            "`{}` panicked (exit {}):\n{}",
            self.cmd,
            self.code,
            self.stderr
        );
        self
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed invalid JSON ({e}):\n{}", self.cmd, self.stdout))
    }

    /// Asserts that standard output contains every fragment.
    #[track_caller]
    pub fn stdout_has(&self, fragments: &[&str]) -> &Out {
        for f in fragments {
            assert!(self.stdout.contains(f), "`{}`: stdout lacks {f:?}:\n{}", self.cmd, self.stdout);
        }
        self
    }

    /// Asserts that standard error contains every fragment.
    #[track_caller]
    pub fn stderr_has(&self, fragments: &[&str]) -> &Out {
        for f in fragments {
            assert!(self.stderr.contains(f), "`{}`: stderr lacks {f:?}:\n{}", self.cmd, self.stderr);
        }
        self
    }
}

/// Runs `pagelab` with `args`, stdin empty, in `dir` (the current directory
/// if `None`).
pub fn pagelab_in(dir: Option<&Path>, args: &[&str]) -> Out {
    pagelab_with_stdin(dir, args, None)
}

/// Runs `pagelab` with `args`.
pub fn pagelab(args: &[&str]) -> Out {
    pagelab_in(None, args)
}

/// Runs `pagelab` with `args`, feeding `input` on standard input.
pub fn pagelab_with_stdin(dir: Option<&Path>, args: &[&str], input: Option<&[u8]>) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pagelab"));
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c.env("RUST_BACKTRACE", "0");
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = c.spawn().expect("the pagelab binary starts");
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(bytes).expect("write stdin");
    }
    let o = child.wait_with_output().expect("pagelab finishes");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        cmd: format!("pagelab {}", args.join(" ")),
    }
}

/// A directory under the system temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new, empty directory whose name includes `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pagelab-it-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file in the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }

    /// Every file name in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .expect("read temp dir")
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A path as a `&str` (temporary paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// An integer field of a JSON object, failing clearly if it is missing or
/// not an unsigned integer.
#[track_caller]
pub fn uint(v: &serde_json::Value, path: &str) -> u64 {
    let mut cur = v;
    for key in path.split('/') {
        cur = &cur[key];
    }
    cur.as_u64().unwrap_or_else(|| panic!("`{path}` is not an unsigned integer: {cur} in\n{v:#}"))
}

/// Reference model: misses of FIFO replacement with `frames` frames.
pub fn fifo_misses(refs: &[u64], frames: usize) -> u64 {
    let mut q: VecDeque<u64> = VecDeque::new();
    let mut resident: HashSet<u64> = HashSet::new();
    let mut misses = 0;
    for &r in refs {
        if resident.contains(&r) {
            continue;
        }
        misses += 1;
        if q.len() == frames {
            let v = q.pop_front().expect("full queue");
            resident.remove(&v);
        }
        q.push_back(r);
        resident.insert(r);
    }
    misses
}

/// Reference model: misses of LRU replacement with `frames` frames.
pub fn lru_misses(refs: &[u64], frames: usize) -> u64 {
    let mut last_use: HashMap<u64, usize> = HashMap::new();
    let mut misses = 0;
    for (t, &r) in refs.iter().enumerate() {
        if !last_use.contains_key(&r) {
            misses += 1;
            if last_use.len() == frames {
                let (&victim, _) = last_use.iter().min_by_key(|(_, &t)| t).expect("non-empty");
                last_use.remove(&victim);
            }
        }
        last_use.insert(r, t);
    }
    misses
}

/// Reference model: misses of Belady's OPT with `frames` frames (evict the
/// page whose next use is furthest away, never-used-again first).
pub fn opt_misses(refs: &[u64], frames: usize) -> u64 {
    let mut resident: Vec<u64> = Vec::new();
    let mut misses = 0;
    for (t, &r) in refs.iter().enumerate() {
        if resident.contains(&r) {
            continue;
        }
        misses += 1;
        if resident.len() == frames {
            let next_use = |p: u64| refs[t + 1..].iter().position(|&x| x == p).unwrap_or(usize::MAX);
            let (i, _) = resident.iter().enumerate().max_by_key(|(_, &p)| next_use(p)).expect("non-empty");
            resident.swap_remove(i);
        }
        resident.push(r);
    }
    misses
}

/// Reference model: misses of second-chance CLOCK with `frames` frames,
/// as a queue whose front is under the hand. The use bit is set when a
/// page is loaded and when it is referenced; a page loaded after a miss
/// goes just behind the hand.
pub fn clock_misses(refs: &[u64], frames: usize) -> u64 {
    let mut circle: VecDeque<(u64, bool)> = VecDeque::new();
    let mut misses = 0;
    for &r in refs {
        if let Some(e) = circle.iter_mut().find(|(p, _)| *p == r) {
            e.1 = true;
            continue;
        }
        misses += 1;
        if circle.len() == frames {
            loop {
                let (p, used) = circle.pop_front().expect("full circle");
                if used {
                    circle.push_back((p, false));
                } else {
                    break;
                }
            }
        }
        circle.push_back((r, true));
    }
    misses
}

/// One page of an aging circle: the page, its age, its accessed bit.
struct Aged {
    page: u64,
    age: u8,
    accessed: bool,
}

impl Aged {
    /// One look by a scan: referenced, age 0; otherwise a year older, up
    /// to 3. The bit is cleared either way.
    fn look(&mut self) {
        self.age = if self.accessed { 0 } else { (self.age + 1).min(3) };
        self.accessed = false;
    }
}

/// Misses of the aging policy (the book's working sets chapter), a circle
/// kept as a queue whose front is under the hand: a miss in a full set
/// looks at up to 17 pages from the hand, ageing each, and stops at the
/// first of age 2; the oldest it saw (the first of equals) goes; the new
/// page goes just behind the hand with age 0 and its accessed bit set.
/// Every `refresh` references, every page is looked at once.
pub fn aging_misses(refs: &[u64], frames: usize, refresh: Option<usize>) -> u64 {
    let mut circle: VecDeque<Aged> = VecDeque::new();
    let mut misses = 0;
    for (t, &r) in refs.iter().enumerate() {
        if let Some(e) = circle.iter_mut().find(|e| e.page == r) {
            e.accessed = true;
        } else {
            misses += 1;
            if circle.len() == frames {
                let mut oldest: Option<(u64, u8)> = None;
                for _ in 0..frames.min(17) {
                    let mut e = circle.pop_front().expect("full circle");
                    e.look();
                    let (page, age) = (e.page, e.age);
                    circle.push_back(e);
                    if oldest.is_none_or(|(_, a)| age > a) {
                        oldest = Some((page, age));
                    }
                    if age >= 2 {
                        break;
                    }
                }
                let victim = oldest.expect("a page was looked at").0;
                circle.retain(|e| e.page != victim);
            }
            circle.push_back(Aged { page: r, age: 0, accessed: true });
        }
        if refresh.is_some_and(|n| (t + 1) % n == 0) {
            circle.iter_mut().for_each(Aged::look);
        }
    }
    misses
}

/// Misses of WSClock (the book's convention), a circle kept as a queue
/// whose front is under the hand. Time is the number of the reference,
/// from 1. A miss in a full set goes round once at most: a page whose bit
/// is set has it cleared and its last use set to now; the first page whose
/// last use is more than `tau` ago goes; after a whole turn without one,
/// the page with the oldest last use (the first of equals) goes. Every
/// `refresh` references, referenced pages get now as their last use.
pub fn wsclock_misses(refs: &[u64], frames: usize, tau: u64, refresh: Option<usize>) -> u64 {
    // (page, last use, accessed)
    let mut circle: VecDeque<(u64, u64, bool)> = VecDeque::new();
    let mut misses = 0;
    for (t, &r) in refs.iter().enumerate() {
        let now = t as u64 + 1;
        if let Some(e) = circle.iter_mut().find(|e| e.0 == r) {
            e.2 = true;
        } else {
            misses += 1;
            if circle.len() == frames {
                let mut victim = None;
                let mut longest: Option<(u64, u64)> = None;
                for _ in 0..frames {
                    let mut e = circle.pop_front().expect("full circle");
                    if e.2 {
                        e.2 = false;
                        e.1 = now;
                    } else if now - e.1 > tau {
                        victim = Some(e.0);
                        circle.push_back(e);
                        break;
                    }
                    if longest.is_none_or(|(_, l)| e.1 < l) {
                        longest = Some((e.0, e.1));
                    }
                    circle.push_back(e);
                }
                let victim = victim.or(longest.map(|l| l.0)).expect("a page was looked at");
                circle.retain(|e| e.0 != victim);
            }
            circle.push_back((r, 0, true));
        }
        if refresh.is_some_and(|n| (t + 1) % n == 0) {
            for e in circle.iter_mut().filter(|e| e.2) {
                e.2 = false;
                e.1 = now;
            }
        }
    }
    misses
}

/// The number of proptest cases: `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The environment variable that asks for the long run of the properties
/// that have one (CI runs it in a step of its own).
pub const LONG_RUN: &str = "PAGELAB_PROPTEST_LONG";

/// The number of cases of a property with a long run: `PROPTEST_CASES` if
/// set, else `long` when [`LONG_RUN`] is set, else `default`.
pub fn cases_or_long(default: u32, long: u32) -> u32 {
    cases(if std::env::var_os(LONG_RUN).is_some() { long } else { default })
}

/// A proptest configuration with [`cases`] cases. Failures are not saved
/// to regression files: the failure message prints the minimal input.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference models are themselves checked against figures worked
    // out by hand (see oracles.rs for the working).
    #[test]
    fn reference_models_reproduce_hand_worked_figures() {
        let belady = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        let fifo: Vec<u64> = (1..=6).map(|f| fifo_misses(&belady, f)).collect();
        let lru: Vec<u64> = (1..=6).map(|f| lru_misses(&belady, f)).collect();
        let opt: Vec<u64> = (1..=6).map(|f| opt_misses(&belady, f)).collect();
        assert_eq!(fifo, [12, 12, 9, 10, 5, 5]);
        assert_eq!(lru, [12, 12, 10, 8, 5, 5]);
        assert_eq!(opt, [12, 9, 7, 6, 5, 5]);
        let silberschatz = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(fifo_misses(&silberschatz, 3), 15);
        assert_eq!(lru_misses(&silberschatz, 3), 12);
        assert_eq!(opt_misses(&silberschatz, 3), 9);
        assert_eq!(clock_misses(&silberschatz, 3), 14);
    }
}
