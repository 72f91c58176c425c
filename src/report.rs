//! Reports: what a run did, as text for people and JSON for scripts.

use std::fmt::{self, Write as _};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::config::MachineConfig;
use crate::cost::LatencySummary;
use crate::machine::Snapshot;
use crate::runner::{CheckResult, MetricValue, Runner};
use crate::scenario::Check;
use crate::units::{Bytes, SimNanos};

/// What an expectation wanted: its check (`= 9`, `<= 9`, `= valid`), or
/// the name of the error a step was to end with (or `no error`). The text
/// report shows it as written; JSON gives a number for `= N`, an object of
/// `at_least` and `at_most` for a range, a string for a name.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// A metric's check.
    Check(Check),
    /// An error's name, or "no error".
    Name(String),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Check(c) => write!(f, "{c}"),
            Expected::Name(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Expected {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expected::Check(Check::Equals(n)) => s.serialize_u64(*n),
            Expected::Check(Check::Kind(k)) | Expected::Name(k) => s.serialize_str(k),
            Expected::Check(Check::Range { at_least, at_most }) => {
                let mut m = s.serialize_map(None)?;
                if let Some(a) = at_least {
                    m.serialize_entry("at_least", a)?;
                }
                if let Some(b) = at_most {
                    m.serialize_entry("at_most", b)?;
                }
                m.end()
            }
        }
    }
}

/// What an expectation found: a count, or a name (a PTE kind, "not in
/// memory", an error). JSON gives a number or a string.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// A count.
    Count(u64),
    /// A name.
    Name(String),
}

impl From<MetricValue> for Found {
    fn from(v: MetricValue) -> Found {
        match v {
            MetricValue::Count(n) => Found::Count(n),
            MetricValue::Kind(k) => Found::Name(k.to_string()),
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Count(n) => write!(f, "{n}"),
            Found::Name(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Found {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Found::Count(n) => s.serialize_u64(*n),
            Found::Name(n) => s.serialize_str(n),
        }
    }
}

/// The machine's settings, as a report shows them.
#[derive(Clone, Debug, Serialize)]
pub struct MachineSummary {
    /// Physical memory, bytes.
    pub memory: u64,
    /// Frames.
    pub frames: u64,
    /// Layout name.
    pub layout: &'static str,
    /// Page file, bytes.
    pub pagefile: u64,
    /// NUMA nodes.
    pub numa_nodes: u8,
    /// Default policy.
    pub policy: &'static str,
    /// Cost profile.
    pub cost_profile: String,
    /// Seed.
    pub seed: u64,
    /// Extra pages per page-file read.
    pub cluster_pagefile: u32,
    /// Extra pages per mapped-file read.
    pub cluster_file: u32,
}

impl MachineSummary {
    /// Summarises a configuration.
    pub fn of(c: &MachineConfig) -> MachineSummary {
        MachineSummary {
            memory: c.memory.0,
            frames: c.frames(),
            layout: c.layout.name(),
            pagefile: c.pagefile.0,
            numa_nodes: c.numa_nodes,
            policy: c.policy.name(),
            cost_profile: c.cost.profile.clone(),
            seed: c.seed,
            cluster_pagefile: c.cluster.pagefile,
            cluster_file: c.cluster.file,
        }
    }
}

/// A scenario run's report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Title.
    pub title: String,
    /// Machine.
    pub machine: MachineSummary,
    /// Steps run.
    pub steps: usize,
    /// References made (as `state.counters.paging.references`).
    pub references: u64,
    /// Faults taken: demand zero, soft and hard (as `replay --json`'s `faults`).
    pub faults: u64,
    /// State at the end.
    pub state: Snapshot,
    /// Fault service times.
    pub fault_latency: LatencySummary,
    /// Expectations.
    pub expectations: Vec<CheckResult>,
    /// Whether every expectation held.
    pub passed: bool,
    /// Whether the expectations were checked (`run --no-expect` does not).
    #[serde(skip_serializing_if = "is_true")]
    pub expectations_checked: bool,
    /// The command line's overrides (`--set` keys, `seed`) that changed the
    /// scenario's own machine settings, for which its expectations were
    /// written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Report {
    /// The report of a runner's current state.
    pub fn of(runner: &Runner) -> Report {
        let s = runner.scenario();
        let m = runner.machine();
        let state = m.snapshot();
        Report {
            scenario: s.name.clone(),
            title: s.title.clone(),
            machine: MachineSummary::of(m.config()),
            steps: runner.steps_done(),
            references: state.counters.paging.references,
            faults: state.counters.paging.faults(),
            state,
            fault_latency: m.latency(),
            expectations: runner.checks().to_vec(),
            passed: runner.passed(),
            expectations_checked: true,
            overridden: Vec::new(),
        }
    }

    /// The report without its expectations: none checked, the run passes.
    pub fn without_expectations(mut self) -> Report {
        self.expectations.clear();
        self.passed = true;
        self.expectations_checked = false;
        self
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let title = if self.title.is_empty() { String::new() } else { format!(": {}", self.title) };
        let _ = writeln!(o, "pagelab scenario {}{title}", self.scenario);
        machine_line(&mut o, &self.machine);
        let _ = writeln!(o, "steps run         {}", self.steps);
        state_text(&mut o, &self.state, &self.fault_latency);
        if !self.expectations_checked {
            let _ = writeln!(o, "\nexpectations: not checked (--no-expect)");
            return o;
        }
        let passed = self.expectations.iter().filter(|c| c.passed).count();
        let failed = self.expectations.len() - passed;
        let _ = writeln!(o, "\nexpectations: {passed} passed, {failed} failed");
        for c in &self.expectations {
            let at = c.step.map_or("at the end".to_string(), |s| format!("after step {s}"));
            if c.passed {
                let _ = writeln!(o, "  ok    line {:>3}  {} {} ({at})", c.line, c.key, c.expected);
            } else {
                let _ = writeln!(
                    o,
                    "  FAIL  line {:>3}  {} expected {}, got {} ({at})",
                    c.line, c.key, c.expected, c.actual
                );
            }
        }
        if failed > 0 && !self.overridden.is_empty() {
            let keys: Vec<_> = self.overridden.iter().map(|k| format!("`{k}`")).collect();
            let _ = writeln!(
                o,
                "\nnote: the scenario's expectations were written for its own settings, and this run\n      \
                 overrode {}; run with --no-expect to see the run without checking them",
                keys.join(", ")
            );
        }
        o
    }
}

/// Simulated time as every front end shows it: the time in faults and the
/// time in background work (the modified page writer, the zero page
/// thread, compaction), each in [`SimNanos`]'s units.
pub fn simulated_time(foreground: SimNanos, background: SimNanos) -> String {
    format!("{foreground} in faults, {background} in background work")
}

/// One line describing the machine.
pub fn machine_line(o: &mut String, m: &MachineSummary) {
    let _ = writeln!(
        o,
        "machine           {} ({} frames), {} layout, page file {}, {} NUMA node{}, policy {}, costs {}, seed {}",
        Bytes(m.memory),
        m.frames,
        m.layout,
        Bytes(m.pagefile),
        m.numa_nodes,
        if m.numa_nodes == 1 { "" } else { "s" },
        m.policy,
        m.cost_profile,
        m.seed
    );
}

/// The counters, lists and processes of a snapshot as text.
pub fn state_text(o: &mut String, s: &Snapshot, lat: &LatencySummary) {
    let c = &s.counters;
    let _ = writeln!(o, "references        {}", c.paging.references);
    let _ = writeln!(
        o,
        "faults            {}  (demand zero {}, soft {}, hard {}: page file {}, mapped file {})",
        c.paging.faults(),
        c.paging.demand_zero,
        c.paging.soft,
        c.paging.hard(),
        c.paging.hard_pagefile,
        c.paging.hard_file
    );
    if c.paging.access_violations > 0 {
        let _ = writeln!(o, "access violations {}", c.paging.access_violations);
    }
    if c.paging.remote_references > 0 {
        let _ = writeln!(
            o,
            "remote references {}  (to a frame on another NUMA node than the thread's)",
            c.paging.remote_references
        );
    }
    let _ = writeln!(
        o,
        "pages             evicted {}, repurposed from standby {}, zeroed in faults {}, zeroed by the zero thread {}",
        c.paging.evictions, c.activity.repurposed, c.activity.zeroed_in_fault, c.activity.zeroed_by_thread
    );
    let _ = writeln!(
        o,
        "I/O               {} reads ({} pages, {} read ahead), {} writes ({} pages to the page file, {} to files)",
        c.activity.io_reads,
        c.activity.pages_read,
        c.activity.pages_read_ahead,
        c.activity.io_writes,
        c.activity.pages_written_pagefile,
        c.activity.pages_written_file
    );
    let l = &s.lists;
    let _ = writeln!(
        o,
        "page lists        zeroed {}, free {}, standby {}, modified {}, bad {}, active {}; available {}",
        l.zeroed,
        l.free,
        l.standby,
        l.modified,
        l.bad,
        l.active,
        l.available()
    );
    let _ = writeln!(
        o,
        "commit            {} of {} pages; page file {} of {} slots in use",
        s.commit_charge, s.commit_limit, s.pagefile_used, s.pagefile_capacity
    );
    let _ = writeln!(o, "locks             working set {}, PFN database {}", c.activity.ws_lock, c.activity.pfn_lock);
    let _ = writeln!(o, "simulated time    {}", simulated_time(c.activity.time_foreground, c.activity.time_background));
    if lat.count > 0 {
        let _ = writeln!(
            o,
            "fault service     p50 {}, p90 {}, p99 {}, max {} (mean {})",
            SimNanos(lat.p50_ns),
            SimNanos(lat.p90_ns),
            SimNanos(lat.p99_ns),
            SimNanos(lat.max_ns),
            SimNanos(lat.mean_ns as u64)
        );
    }
    if !s.processes.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<12} {:>14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "process", "ws (min/max)", "refs", "faults", "dz", "soft", "hard", "evicted", "commit"
        );
        for p in &s.processes {
            let name = if p.exited { format!("{} (exited)", p.name) } else { p.name.clone() };
            let _ = writeln!(
                o,
                "{:<12} {:>14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                name,
                format!("{} ({}/{})", p.ws_size, p.ws_min, p.ws_max),
                p.counters.paging.references,
                p.counters.paging.faults(),
                p.counters.paging.demand_zero,
                p.counters.paging.soft,
                p.counters.paging.hard_pagefile + p.counters.paging.hard_file,
                p.counters.paging.evictions,
                p.commit
            );
        }
    }
    for f in &s.files {
        let _ = writeln!(
            o,
            "file {:<12} {} pages; {} read, {} written back",
            f.name, f.pages, f.pages_read, f.pages_written
        );
    }
}
