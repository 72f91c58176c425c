//! Scenarios: TOML files that set up a machine, run steps on it and state
//! what should come out.
//!
//! Loading has two stages. [`raw`] mirrors the TOML with serde, rejecting
//! unknown keys and keeping the position of every value; [`validate`] turns
//! that into a typed [`Scenario`], checking every value and naming the file,
//! line and column of anything wrong together with what was expected.

pub mod builtin;
pub mod raw;
pub mod validate;

use std::fmt;

use crate::config::MachineConfig;
use crate::machine::AccessKind;
use crate::process::PagingCounts;
use crate::pte::Protection;
use crate::token::Privilege;
use crate::working_set::PolicyKind;

pub(crate) use validate::{line_col, toml_error};
pub use validate::{load, load_str, machine_from_settings, overrides, parse_metric, Override};

/// A scenario error: file, line, column and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or built-in scenario name, or "--set").
    pub file: String,
    /// 1-based line; 0 when the error is about the file as a whole (it
    /// does not exist, or cannot be read), which is then shown without a
    /// position.
    pub line: usize,
    /// 1-based column (0 with line 0).
    pub col: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// One-line title.
    pub title: String,
    /// What the scenario teaches.
    pub description: String,
    /// Where it came from (path or `builtin:NAME`).
    pub file: String,
    /// The TOML text (to show step sources).
    pub source: String,
    /// Machine settings.
    pub machine: MachineConfig,
    /// Processes created before the first step.
    pub processes: Vec<ProcessSpec>,
    /// Files created before the first step.
    pub files: Vec<FileSpec>,
    /// The steps the simulator runs, in order.
    pub steps: Vec<Step>,
    /// Every step in order, the real-only ones too: what `pagelab real`
    /// runs on both sides ([`Side`]).
    pub plan: Vec<Step>,
    /// Expectations checked after the last step.
    pub expect: Vec<Expectation>,
}

/// A process to create.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessSpec {
    /// Name (no dots).
    pub name: String,
    /// Working-set minimum.
    pub ws_min: Option<u64>,
    /// Working-set maximum.
    pub ws_max: Option<u64>,
    /// Hard maximum.
    pub hard_max: Option<bool>,
    /// Policy.
    pub policy: Option<PolicyKind>,
    /// NUMA node.
    pub node: u8,
    /// Every address is committed private memory (as in `pagelab replay`),
    /// so a trace of a real program needs no reservations.
    pub commit_on_touch: bool,
    /// Created at setup (true), or by a `start` step, in the logon session
    /// current then.
    pub started: bool,
}

/// A file to create.
#[derive(Clone, Debug, PartialEq)]
pub struct FileSpec {
    /// Name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// One step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Line of the `[[step]]` header in the source.
    pub line: usize,
    /// Optional label.
    pub label: Option<String>,
    /// Optional note for the reader.
    pub note: Option<String>,
    /// What to do.
    pub action: Action,
    /// Expectations checked after the step.
    pub expect: Vec<Expectation>,
    /// The error the step is expected to end with (its name:
    /// "access_violation", "ERROR_COMMITMENT_LIMIT", ...).
    pub expect_error: Option<String>,
    /// How `pagelab real` runs the step.
    pub real: RealOptions,
}

/// Which side of a `pagelab real` comparison runs a step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// The simulator and the real system (the default).
    #[default]
    Both,
    /// Only the real system (`only = "real"`): the simulator leaves the
    /// step out, `pagelab run` too.
    Real,
    /// Only the simulator (`only = "simulated"`).
    Simulated,
}

impl Side {
    /// Whether the simulator runs the step.
    pub fn simulated(self) -> bool {
        self != Side::Real
    }

    /// Whether the real system runs the step.
    pub fn real(self) -> bool {
        self != Side::Simulated
    }
}

/// How a real Linux backend backs a large-page reserve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinuxLarge {
    /// mmap(MAP_HUGETLB | MAP_POPULATE): the hugetlb pool, allocated up front.
    #[default]
    Hugetlb,
    /// Ordinary memory with madvise(MADV_HUGEPAGE): transparent huge pages,
    /// given (or not) at the first touch of each 2 MiB.
    Thp,
}

/// A difference a scenario expects between the simulator and a real
/// system at one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedDifference {
    /// What differs: "result" or a measured quantity
    /// ([`crate::real::compare::QUANTITIES`]).
    pub what: String,
    /// Why the real system differs from the model.
    pub reason: String,
    /// Source line.
    pub line: usize,
}

/// A step's settings for `pagelab real`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RealOptions {
    /// Which side runs it.
    pub side: Side,
    /// Differences expected at the step.
    pub differs: Vec<ExpectedDifference>,
    /// How Linux backs a large-page reserve.
    pub linux_large: LinuxLarge,
}

/// The order in which a touch step visits its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// First to last.
    Sequential,
    /// Last to first.
    Reverse,
    /// Every n-th page, wrapping round until each page is visited once.
    Stride(u64),
    /// `count` pages chosen uniformly with the scenario's workload generator.
    Random {
        /// References made.
        count: u64,
    },
}

/// What a step does. Process and file fields are indexes into the
/// scenario's process and file lists.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// VirtualAlloc(MEM_RESERVE [| MEM_COMMIT]).
    Reserve {
        /// Process.
        process: usize,
        /// Base or system's choice.
        address: Option<u64>,
        /// Bytes.
        size: u64,
        /// Protection.
        protection: Protection,
        /// Commit too.
        commit: bool,
        /// MEM_LARGE_PAGES.
        large_pages: bool,
        /// MEM_PHYSICAL: an AWE window.
        physical: bool,
    },
    /// VirtualAlloc(MEM_COMMIT).
    Commit {
        /// Process.
        process: usize,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
        /// Protection.
        protection: Protection,
    },
    /// VirtualFree(MEM_DECOMMIT).
    Decommit {
        /// Process.
        process: usize,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// VirtualFree(MEM_RELEASE) or UnmapViewOfFile.
    Release {
        /// Process.
        process: usize,
        /// Base address.
        address: u64,
    },
    /// Touch a range of pages.
    Touch {
        /// Process.
        process: usize,
        /// First address.
        address: u64,
        /// Pages in the range.
        pages: u64,
        /// Read or write.
        access: AccessKind,
        /// Visiting order.
        pattern: Pattern,
        /// Times over the range.
        repeat: u64,
        /// NUMA node of the touching thread.
        node: Option<u8>,
    },
    /// Reference pages given as a list (page numbers relative to `base`).
    Refs {
        /// Process.
        process: usize,
        /// Address of page 0.
        base: u64,
        /// The page numbers.
        pages: Vec<u64>,
        /// Writes or reads.
        writes: Vec<bool>,
    },
    /// Map a view of a file.
    Map {
        /// Process.
        process: usize,
        /// File.
        file: usize,
        /// Offset in bytes.
        offset: u64,
        /// Size in bytes (0: to the end).
        size: u64,
        /// Base or system's choice.
        address: Option<u64>,
        /// Protection.
        protection: Protection,
    },
    /// SetProcessWorkingSetSize; `None` empties the working set.
    SetWorkingSet {
        /// Process.
        process: usize,
        /// (min, max) or empty.
        limits: Option<(u64, u64)>,
    },
    /// Trim a working set.
    Trim {
        /// Process.
        process: usize,
        /// Pages (all if `None`).
        pages: Option<u64>,
    },
    /// Run the modified page writer.
    WriteModified {
        /// Page limit.
        pages: Option<u64>,
    },
    /// Let background work run.
    Advance {
        /// Rounds.
        ticks: u32,
    },
    /// Exit a process.
    Exit {
        /// Process.
        process: usize,
    },
    /// Start a process declared with `started = false`.
    Start {
        /// Process.
        process: usize,
    },
    /// Policy grants the account a user right (from the next logon).
    Grant {
        /// The privilege.
        privilege: Privilege,
    },
    /// The account logs on again.
    Logon,
    /// AdjustTokenPrivileges.
    AdjustPrivileges {
        /// Process.
        process: usize,
        /// The privilege.
        privilege: Privilege,
        /// Enable or disable.
        enable: bool,
    },
    /// Scatter pages over physical memory ([`crate::fragment`]); the
    /// spec's process is filled in by the runner.
    Fragment {
        /// Process whose pages fill memory.
        process: usize,
        /// Fractions (ppm) and pattern.
        free: u64,
        /// Or the free blocks per order to leave (a buddyinfo distribution).
        free_blocks: Option<Vec<u64>>,
        /// Unmovable frames, ppm of all frames.
        unmovable: u64,
        /// Standby share, ppm.
        standby: u64,
        /// Modified share, ppm.
        modified: u64,
        /// Pattern.
        pattern: crate::fragment::FragmentPattern,
    },
    /// A driver's MmAllocateContiguousMemorySpecifyCache.
    Contiguous {
        /// Bytes.
        size: u64,
        /// Alignment of the physical address, bytes.
        alignment: u64,
        /// Highest acceptable physical address.
        highest: u64,
    },
    /// MmFreeContiguousMemory of the latest contiguous allocation still held.
    FreeContiguous,
    /// AllocateUserPhysicalPages (or the Numa variant): the frames are
    /// appended to the process's PFN array.
    AllocatePhysical {
        /// Process.
        process: usize,
        /// Pages asked for.
        pages: u64,
        /// The preferred node (AllocateUserPhysicalPagesNuma).
        node: Option<u8>,
    },
    /// MapUserPhysicalPages: frames at an address, or unmap (`frames` `None`).
    MapPhysical {
        /// Process.
        process: usize,
        /// First address.
        address: u64,
        /// Pages (the frames' count when they are given).
        pages: u64,
        /// The frames.
        frames: Option<FrameRefs>,
    },
    /// MapUserPhysicalPagesScatter.
    MapScatter {
        /// Process.
        process: usize,
        /// One address per page.
        addresses: Vec<u64>,
        /// The frames, or `None` to unmap.
        frames: Option<FrameRefs>,
    },
    /// FreeUserPhysicalPages.
    FreePhysical {
        /// Process.
        process: usize,
        /// The frames.
        frames: FrameRefs,
    },
    /// The most AWE pages the process may own (a job's limit).
    PhysicalLimit {
        /// Process.
        process: usize,
        /// Pages (0: none).
        pages: u64,
    },
    /// VirtualLock.
    VirtualLock {
        /// Process.
        process: usize,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// VirtualUnlock.
    VirtualUnlock {
        /// Process.
        process: usize,
        /// Address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// Threads of a process fill a buffer at once ([`crate::ramp`]).
    RampUp {
        /// Process.
        process: usize,
        /// Pages, threads, memory, batch.
        spec: crate::ramp::RampSpec,
    },
    /// pagelab's experiment: write a large page out to the page file.
    PageOutLarge {
        /// Process.
        process: usize,
        /// An address in the large page.
        address: u64,
    },
    /// Start a buffer pool ([`crate::buffer_pool`]).
    BufferPool {
        /// Process.
        process: usize,
        /// Target, memory, batch, shrink, queries.
        spec: crate::buffer_pool::PoolSpec,
        /// Grow to the target now.
        grow: bool,
    },
    /// Grow a buffer pool to its target now.
    PoolGrow {
        /// Process.
        process: usize,
    },
    /// Linux's hugetlb pool: `pagelab real` writes `pages` to
    /// /proc/sys/vm/nr_hugepages and reads back how many the kernel gave.
    /// The simulator changes nothing; its prediction is the 2 MiB regions
    /// free now, at most `pages`.
    HugetlbPool {
        /// Large pages asked for.
        pages: u64,
    },
    /// Run background rounds until a memory resource notification is
    /// signalled, at most `ticks` of them.
    WaitNotification {
        /// Which.
        notification: crate::notify::Notification,
        /// The most rounds to run (0: only look).
        ticks: u32,
    },
}

impl Action {
    /// The process the step acts on, if it acts on one.
    pub fn process(&self) -> Option<usize> {
        match self {
            Action::Reserve { process, .. }
            | Action::Commit { process, .. }
            | Action::Decommit { process, .. }
            | Action::Release { process, .. }
            | Action::Touch { process, .. }
            | Action::Refs { process, .. }
            | Action::Map { process, .. }
            | Action::SetWorkingSet { process, .. }
            | Action::Trim { process, .. }
            | Action::Exit { process }
            | Action::Start { process }
            | Action::AdjustPrivileges { process, .. }
            | Action::Fragment { process, .. }
            | Action::AllocatePhysical { process, .. }
            | Action::MapPhysical { process, .. }
            | Action::MapScatter { process, .. }
            | Action::FreePhysical { process, .. }
            | Action::PhysicalLimit { process, .. }
            | Action::VirtualLock { process, .. }
            | Action::VirtualUnlock { process, .. }
            | Action::PageOutLarge { process, .. }
            | Action::BufferPool { process, .. }
            | Action::PoolGrow { process }
            | Action::RampUp { process, .. } => Some(*process),
            Action::WriteModified { .. }
            | Action::Advance { .. }
            | Action::Grant { .. }
            | Action::Logon
            | Action::Contiguous { .. }
            | Action::FreeContiguous
            | Action::HugetlbPool { .. }
            | Action::WaitNotification { .. } => None,
        }
    }

    /// The op name as scenarios write it.
    pub fn op_name(&self) -> &'static str {
        match self {
            Action::Reserve { .. } => "reserve",
            Action::Commit { .. } => "commit",
            Action::Decommit { .. } => "decommit",
            Action::Release { .. } => "release",
            Action::Touch { .. } => "touch",
            Action::Refs { .. } => "refs",
            Action::Map { .. } => "map",
            Action::SetWorkingSet { .. } => "set_working_set",
            Action::Trim { .. } => "trim",
            Action::WriteModified { .. } => "write_modified",
            Action::Advance { .. } => "advance",
            Action::Exit { .. } => "exit",
            Action::Start { .. } => "start",
            Action::Grant { .. } => "grant",
            Action::Logon => "logon",
            Action::AdjustPrivileges { .. } => "adjust_privileges",
            Action::Fragment { .. } => "fragment",
            Action::Contiguous { .. } => "contiguous",
            Action::FreeContiguous => "free_contiguous",
            Action::PageOutLarge { .. } => "page_out_large",
            Action::AllocatePhysical { .. } => "allocate_physical",
            Action::MapPhysical { .. } => "map_physical",
            Action::MapScatter { .. } => "map_scatter",
            Action::FreePhysical { .. } => "free_physical",
            Action::PhysicalLimit { .. } => "physical_limit",
            Action::VirtualLock { .. } => "virtual_lock",
            Action::VirtualUnlock { .. } => "virtual_unlock",
            Action::BufferPool { .. } => "buffer_pool",
            Action::PoolGrow { .. } => "pool_grow",
            Action::WaitNotification { .. } => "wait_notification",
            Action::RampUp { .. } => "ramp_up",
            Action::HugetlbPool { .. } => "hugetlb_pool",
        }
    }
}

/// Entries of a process's PFN array (the frames AllocateUserPhysicalPages
/// returned to it, in order, freed ones included: a program's array still
/// holds them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRefs {
    /// Whose array.
    pub of: usize,
    /// Indexes into it.
    pub indexes: Vec<u64>,
}

/// Something to measure at a point of the run.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// A machine-wide counter, by name (see [`machine_metrics`]).
    Global(&'static str),
    /// A per-process counter (see [`process_metrics`]).
    Process(usize, &'static str),
    /// The kind of the PTE of a process's page.
    Pte(usize, u64),
    /// The NUMA node of the frame holding a process's page.
    Node(usize, u64),
    /// A process's page as QueryWorkingSetEx reports it: the whole block,
    /// or one of its fields.
    WsEx(usize, u64, WsExField),
    /// A per-file counter (see [`FILE_METRICS`]).
    File(usize, &'static str),
}

/// What a `PROCESS.wsex*.ADDRESS` metric reads of the
/// PSAPI_WORKING_SET_EX_BLOCK ([`crate::query::WorkingSetExBlock`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsExField {
    /// `wsex`: the whole block as a number.
    Block,
    /// `wsex_valid`: bit 0, 1 or 0.
    Valid,
    /// `wsex_node`: bits 16-21, the frame's node (a valid page only).
    Node,
    /// `wsex_locked`: bit 22, 1 or 0.
    Locked,
    /// `wsex_large`: bit 23, 1 or 0.
    Large,
}

impl WsExField {
    /// The metric prefixes, written `PROCESS.PREFIX.ADDRESS`.
    pub const PREFIXES: [(&'static str, WsExField); 5] = [
        ("wsex", WsExField::Block),
        ("wsex_valid", WsExField::Valid),
        ("wsex_node", WsExField::Node),
        ("wsex_locked", WsExField::Locked),
        ("wsex_large", WsExField::Large),
    ];
}

/// Machine-wide metric names, besides the paging counts
/// ([`PagingCounts::METRICS`]) that every process has too.
pub const GLOBAL_METRICS: &[&str] = &[
    "balance.runs",
    "balance.trimmed",
    "repurposed",
    "zeroed_in_fault",
    "zeroed_by_thread",
    "io.reads",
    "io.pages_read",
    "io.pages_read_ahead",
    "io.writes",
    "io.pages_written_pagefile",
    "io.pages_written_file",
    "lists.zeroed",
    "lists.free",
    "lists.standby",
    "lists.modified",
    "lists.bad",
    "lists.active",
    "available",
    "commit.charge",
    "commit.limit",
    "pagefile.used",
    "locks.ws",
    "locks.pfn",
    "time_us",
    "large_page_minimum",
    "regions.free",
    "regions.cheap",
    "regions.movable",
    "compaction.runs_emptied",
    "compaction.runs_abandoned",
    "compaction.repurposed",
    "compaction.written",
    "compaction.moved",
    "compaction.time_us",
    "system.pages",
    "contiguous.pages",
    "tlb.misses_small",
    "tlb.misses_large",
    "awe.pages",
    "locks.ws_held_us",
    "locks.pfn_held_us",
    "notify.low",
    "notify.high",
    "notify.low_signals",
    "notify.high_signals",
    "notify.low_threshold",
    "notify.high_threshold",
    "ramp.time_us",
    "ramp.work_us",
    "ramp.wait_us",
    "ramp.ws_acquisitions",
    "ramp.ws_contended",
    "ramp.pfn_acquisitions",
    "ramp.pfn_contended",
];

/// Per-process metric names (written `PROCESS.NAME`), besides the paging
/// counts ([`PagingCounts::METRICS`]).
pub const PROCESS_METRICS: &[&str] = &[
    "ws_size",
    "ws_peak",
    "commit",
    "last_error",
    "lock_memory_held",
    "lock_memory_enabled",
    "logon",
    "large_pages",
    "ws_locked",
    "awe_pages",
    "awe_mapped",
    "pool.pages",
    "pool.target",
    "pool.queries",
    "pool.shrinks",
    "pool.remote",
];

/// Every machine-wide metric name.
pub fn machine_metrics() -> impl Iterator<Item = &'static str> {
    PagingCounts::METRICS.into_iter().chain(GLOBAL_METRICS.iter().copied())
}

/// Every per-process metric name.
pub fn process_metrics() -> impl Iterator<Item = &'static str> {
    PagingCounts::METRICS.into_iter().chain(PROCESS_METRICS.iter().copied())
}

/// Per-file metric names (written `files.FILE.NAME`).
pub const FILE_METRICS: &[&str] = &["pages_read", "pages_written"];

/// What a metric must satisfy.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// Exactly this value.
    Equals(u64),
    /// Within bounds.
    Range {
        /// At least.
        at_least: Option<u64>,
        /// At most.
        at_most: Option<u64>,
    },
    /// A PTE kind name.
    Kind(String),
}

/// One expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// The key as written.
    pub key: String,
    /// Source line.
    pub line: usize,
    /// What to measure.
    pub metric: Metric,
    /// What it must satisfy.
    pub check: Check,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Equals(v) => write!(f, "= {v}"),
            Check::Range { at_least: Some(a), at_most: Some(b) } => write!(f, "in {a}..={b}"),
            Check::Range { at_least: Some(a), at_most: None } => write!(f, ">= {a}"),
            Check::Range { at_least: None, at_most: Some(b) } => write!(f, "<= {b}"),
            Check::Range { .. } => write!(f, "anything"),
            Check::Kind(k) => write!(f, "= {k}"),
        }
    }
}

/// Where a scenario comes from: a file, or a built-in by name.
pub fn resolve(name: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let path = std::path::Path::new(name);
    if path.exists() {
        return load(path, overrides);
    }
    if let Some(text) = builtin::find(name) {
        return load_str(text, &format!("builtin:{name}"), None, overrides);
    }
    let names: Vec<_> = builtin::BUILTINS.iter().map(|(n, _)| *n).collect();
    Err(ScenarioError {
        file: name.to_string(),
        line: 0,
        col: 0,
        message: format!("no such file, and no built-in scenario of that name (built-ins: {})", names.join(", ")),
    })
}

/// A one-process scenario on the machine `pagelab replay` builds for
/// `frames` frames (replay's default memory, its 64 GiB page file, no
/// large pages, no balance set manager), whose process treats every
/// address as committed, with a working set of `frames` under `policy`
/// (a policy's name, checked as a scenario's `policy` is), and one `refs`
/// step whose keys besides `op` and `process` are `step` (TOML lines).
/// So a front-end can step, one at a time, the references a replay makes.
#[allow(clippy::too_many_arguments)]
pub fn replay_scenario(
    name: &str,
    title: &str,
    description: &str,
    policy: &str,
    frames: u64,
    seed: u64,
    step: &str,
    file: &str,
    base_dir: Option<&std::path::Path>,
) -> Result<Scenario, ScenarioError> {
    let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
    let machine = crate::replay::ReplayConfig::new(crate::working_set::PolicyKind::Fifo, frames).machine;
    let text = format!(
        r#"[scenario]
name = {name}
title = {title}
description = {description}

[machine]
memory = "{memory} B"
pagefile = "{pagefile} B"
policy = {policy}
seed = {seed}
large_pages = false

[machine.balance]
enabled = false

[[process]]
name = {name}
ws_min = 1
ws_max = {frames}
hard_max = true
commit_on_touch = true

[[step]]
op = "refs"
process = {name}
{step}
"#,
        name = quote(name),
        title = quote(title),
        description = quote(description),
        memory = machine.memory.0,
        pagefile = machine.pagefile.0,
        policy = quote(policy),
    );
    validate::load_str(&text, file, base_dir, &[])
}

/// A trace of memory references as a scenario ([`replay_scenario`]): one
/// `refs` step of the whole trace, so that the TUI can step a real
/// program's references one at a time. `format` is a trace format name
/// (default auto); the trace is read as any scenario's trace is, with its
/// errors located in the trace file.
pub fn from_trace(path: &str, format: Option<&str>, policy: &str, frames: u64) -> Result<Scenario, ScenarioError> {
    let at = |message: String| ScenarioError { file: "--trace".into(), line: 1, col: 1, message };
    if frames == 0 || frames > 1 << 28 {
        return Err(at(format!("--frames {frames}: expected 1 to {}", 1u64 << 28)));
    }
    let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
    let name = std::path::Path::new(path).file_name().map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
    let cwd = std::env::current_dir().map_err(|e| at(format!("cannot read the current directory: {e}")))?;
    replay_scenario(
        "trace",
        &format!("{name}: {policy}, {frames} frames"),
        "The references of a trace, one process treating every address as committed (as pagelab replay does).",
        policy,
        frames,
        0,
        &format!("trace = {}\nformat = {}", quote(path), quote(format.unwrap_or("auto"))),
        "--trace",
        Some(&cwd),
    )
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    fn silberschatz() -> String {
        format!("{}/book/src/traces/silberschatz.refs", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn a_trace_becomes_a_one_process_scenario_that_steps_reference_by_reference() {
        let s = from_trace(&silberschatz(), None, "fifo", 3).unwrap();
        assert_eq!((s.processes.len(), s.steps.len()), (1, 1));
        assert!(s.processes[0].commit_on_touch);
        assert_eq!(s.processes[0].ws_max, Some(3));
        let mut r = crate::runner::Runner::new(std::sync::Arc::new(s), true).unwrap();
        let mut refs = 0;
        while !r.finished() {
            r.step_reference();
            refs += 1;
        }
        assert_eq!(refs, 20, "Silberschatz's string, one reference at a time");
        assert_eq!(r.machine().counters().paging.faults(), 15, "FIFO with 3 frames");
    }

    #[test]
    fn a_stepped_trace_splits_soft_and_hard_faults_as_its_replay_does() {
        // Two passes over 20,000 pages: more than replay's 64 MiB (16,384
        // pages) holds, so the second pass has hard faults.
        let text: String = (0..2).flat_map(|_| 0..20_000u64).map(|p| format!("{p}\n")).collect();
        let path = std::env::temp_dir().join(format!("pagelab-stepped-{}.refs", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let s = from_trace(path.to_str().unwrap(), None, "fifo", 16).unwrap();
        let mut r = crate::runner::Runner::new(std::sync::Arc::new(s), false).unwrap();
        while r.step().is_some() {}
        let c = r.machine().counters().paging;
        let cfg = crate::replay::ReplayConfig::new(crate::working_set::PolicyKind::Fifo, 16);
        let alone = crate::replay::replay(text.as_bytes(), crate::trace::TraceFormat::Refs, &cfg).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(alone.breakdown.hard > 0, "the trace outgrows the memory");
        assert_eq!(
            (c.demand_zero, c.soft, c.hard_pagefile),
            (alone.breakdown.demand_zero, alone.breakdown.soft, alone.breakdown.hard)
        );
    }

    #[test]
    fn a_bad_trace_policy_or_frame_count_is_an_error_naming_it() {
        let e = from_trace("no/such/trace.refs", None, "fifo", 3).unwrap_err();
        assert!(e.message.contains("cannot open trace") && e.message.contains("no/such/trace.refs"), "{e}");
        let e = from_trace(&silberschatz(), Some("tarot"), "fifo", 3).unwrap_err();
        assert!(e.message.contains("format"), "{e}");
        let e = from_trace(&silberschatz(), None, "astrology", 3).unwrap_err();
        assert!(e.message.contains("policy"), "{e}");
        assert!(from_trace(&silberschatz(), None, "fifo", 0).unwrap_err().message.contains("--frames 0"));
        let s = from_trace(&silberschatz(), None, "lru", 3).unwrap();
        let mut r = crate::runner::Runner::new(std::sync::Arc::new(s), false).unwrap();
        r.step();
        assert_eq!(r.machine().counters().paging.faults(), 12, "LRU with 3 frames");
    }
}
