//! Runs a scenario on a machine, one step at a time, checking its
//! expectations. The TUI steps a [`Runner`]; `pagelab run` runs it to the
//! end. A runner is cheap to clone (the scenario is shared), which is how
//! the TUI keeps snapshots to step back to.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::event::Event;
use crate::machine::{AccessKind, Machine, Op, OpError, OpValue};
use crate::pte::PteKind;
pub use crate::report::{Expected, Found};
use crate::scenario::{Action, Check, Expectation, Metric, Pattern, ProcessSpec, Scenario, WsExField};
use crate::token::Privilege;
use crate::units::{FileId, ProcessId, Vpn, PAGE_SIZE};
use crate::working_set::NEVER;

/// The result of checking one expectation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    /// The metric as written.
    pub key: String,
    /// Source line of the expectation.
    pub line: usize,
    /// Step after which it was checked (1-based), or `None` at the end.
    pub step: Option<usize>,
    /// What was expected.
    pub expected: Expected,
    /// What was found.
    pub actual: Found,
    /// Whether it held.
    pub passed: bool,
}

/// What one step did.
#[derive(Clone, Debug, Serialize)]
pub struct StepOutcome {
    /// Step number, 1-based.
    pub number: usize,
    /// Source line of the step.
    pub line: usize,
    /// The op.
    pub op: &'static str,
    /// Label, if any.
    pub label: Option<String>,
    /// Events, when recording (at most [`crate::machine::MAX_RECORDED_EVENTS`]).
    pub events: Vec<Event>,
    /// Events beyond that limit: counted, not recorded.
    pub events_not_recorded: u64,
    /// The error the step ended with, if any.
    pub error: Option<String>,
    /// Expectation results of the step (including its expected error).
    pub checks: Vec<CheckResult>,
}

/// A scenario being run.
#[derive(Clone)]
pub struct Runner {
    scenario: Arc<Scenario>,
    machine: Machine,
    pids: Vec<ProcessId>,
    files: Vec<FileId>,
    next: usize,
    workload: ChaCha8Rng,
    checks: Vec<CheckResult>,
    setup_events: Vec<Event>,
    /// Physical addresses of the contiguous allocations still held, oldest first.
    contiguous: Vec<u64>,
    /// Each scenario process's PFN array: every frame AllocateUserPhysicalPages
    /// returned to it, in order (freed ones stay, as in a program's array).
    pfn_arrays: Vec<Vec<crate::units::Pfn>>,
}

/// The id of a process not started yet (never used: the loader checks).
const NOT_STARTED: ProcessId = ProcessId(u16::MAX);

/// Creates a scenario's process on the machine.
fn create(machine: &mut Machine, p: &ProcessSpec) -> Result<ProcessId, OpError> {
    let v = machine.apply(&Op::CreateProcess {
        name: p.name.clone(),
        ws_min: p.ws_min,
        ws_max: p.ws_max,
        hard_max: p.hard_max,
        policy: p.policy,
        node: p.node,
        auto_commit: p.commit_on_touch,
    })?;
    let OpValue::Process(pid) = v else { unreachable!("CreateProcess returns a process") };
    Ok(pid)
}

impl Runner {
    /// Builds the machine, creates the scenario's processes and files.
    pub fn new(scenario: Arc<Scenario>, record: bool) -> Result<Runner, String> {
        let mut machine = Machine::new(scenario.machine.clone())?;
        machine.set_recording(record);
        let mut pids = Vec::new();
        for p in &scenario.processes {
            // A process started by a step has no id until then; the
            // scenario loader checks that nothing uses it before.
            pids.push(if p.started { create(&mut machine, p).map_err(|e| e.to_string())? } else { NOT_STARTED });
        }
        let mut files = Vec::new();
        for f in &scenario.files {
            let OpValue::File(id) =
                machine.apply(&Op::CreateFile { name: f.name.clone(), size: f.size }).map_err(|e| e.to_string())?
            else {
                unreachable!("CreateFile returns a file")
            };
            files.push(id);
        }
        let setup_events = machine.drain_events();
        let scenario_processes = scenario.processes.len();
        // The workload generator is separate from the machine's own, so a
        // random policy does not change which pages a random touch visits.
        let workload = ChaCha8Rng::seed_from_u64(scenario.machine.seed ^ 0x9E37_79B9_7F4A_7C15);
        let mut runner = Runner {
            scenario,
            machine,
            pids,
            files,
            next: 0,
            workload,
            checks: Vec::new(),
            setup_events,
            contiguous: Vec::new(),
            pfn_arrays: vec![Vec::new(); scenario_processes],
        };
        // A scenario without steps is at its end from the start.
        if runner.scenario.steps.is_empty() {
            let end: Vec<_> = runner.scenario.expect.iter().map(|e| runner.check(e, None)).collect();
            runner.checks = end;
        }
        Ok(runner)
    }

    /// The scenario.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The machine (read only).
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The machine, for tests that reach states no scenario step gives.
    #[cfg(test)]
    pub(crate) fn machine_mut(&mut self) -> &mut Machine {
        &mut self.machine
    }

    /// Events of creating the processes and files.
    pub fn setup_events(&self) -> &[Event] {
        &self.setup_events
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> usize {
        self.next
    }

    /// Whether every step has run.
    pub fn finished(&self) -> bool {
        self.next >= self.scenario.steps.len()
    }

    /// The machine's process id of the scenario's process `i`.
    pub fn pid(&self, i: usize) -> ProcessId {
        self.pids[i]
    }

    /// Every expectation result so far.
    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// Runs the next step; `None` when there is none.
    pub fn step(&mut self) -> Option<StepOutcome> {
        let scenario = Arc::clone(&self.scenario);
        let step = scenario.steps.get(self.next)?;
        self.next += 1;
        let number = self.next;
        let result = self.perform(&step.action);
        let events = self.machine.drain_events();
        let events_not_recorded = self.machine.take_events_not_recorded();
        let mut checks = Vec::new();
        let error = result.err();
        match (&step.expect_error, &error) {
            (Some(want), got) => {
                let actual = got.as_ref().map_or("no error".to_string(), |e| e.name());
                checks.push(CheckResult {
                    key: "error".into(),
                    line: step.line,
                    step: Some(number),
                    expected: Expected::Name(want.clone()),
                    passed: &actual == want,
                    actual: Found::Name(actual),
                });
            }
            (None, Some(e)) => checks.push(CheckResult {
                key: "error".into(),
                line: step.line,
                step: Some(number),
                expected: Expected::Name("no error".into()),
                actual: Found::Name(e.to_string()),
                passed: false,
            }),
            (None, None) => {}
        }
        for e in &step.expect {
            checks.push(self.check(e, Some(number)));
        }
        self.checks.extend(checks.iter().cloned());
        if self.finished() {
            let end: Vec<_> = scenario.expect.iter().map(|e| self.check(e, None)).collect();
            self.checks.extend(end.iter().cloned());
            checks.extend(end);
        }
        Some(StepOutcome {
            number,
            line: step.line,
            op: step.action.op_name(),
            label: step.label.clone(),
            events,
            events_not_recorded,
            error: error.map(|e| e.to_string()),
            checks,
        })
    }

    /// Whether every expectation checked so far held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    fn perform(&mut self, action: &Action) -> Result<(), OpError> {
        let m = &mut self.machine;
        match action {
            Action::Reserve { process, address, size, protection, commit, large_pages, physical } => {
                let (pid, address, size, protection, commit) =
                    (self.pids[*process], *address, *size, *protection, *commit);
                let op = if *large_pages {
                    Op::AllocateLarge { pid, address, size, protection, commit }
                } else if *physical {
                    Op::ReservePhysical { pid, address, size, protection, commit }
                } else {
                    Op::Reserve { pid, address, size, protection, commit }
                };
                m.apply(&op).map(drop)
            }
            Action::Commit { process, address, size, protection } => m
                .apply(&Op::Commit {
                    pid: self.pids[*process],
                    address: *address,
                    size: *size,
                    protection: *protection,
                })
                .map(drop),
            Action::Decommit { process, address, size } => {
                m.apply(&Op::Decommit { pid: self.pids[*process], address: *address, size: *size }).map(drop)
            }
            Action::Release { process, address } => {
                m.apply(&Op::Release { pid: self.pids[*process], address: *address }).map(drop)
            }
            Action::Map { process, file, offset, size, address, protection } => m
                .apply(&Op::MapView {
                    pid: self.pids[*process],
                    file: self.files[*file],
                    offset: *offset,
                    size: *size,
                    address: *address,
                    protection: *protection,
                })
                .map(drop),
            Action::SetWorkingSet { process, limits } => {
                m.apply(&Op::SetWorkingSetSize { pid: self.pids[*process], limits: *limits }).map(drop)
            }
            Action::Trim { process, pages } => m.apply(&Op::Trim { pid: self.pids[*process], pages: *pages }).map(drop),
            Action::WriteModified { pages } => m.apply(&Op::WriteModified { pages: *pages }).map(drop),
            Action::Advance { ticks } => m.apply(&Op::Advance { ticks: *ticks }).map(drop),
            Action::Exit { process } => m.apply(&Op::Exit { pid: self.pids[*process] }).map(drop),
            Action::Start { process } => {
                self.pids[*process] = create(m, &self.scenario.processes[*process])?;
                Ok(())
            }
            Action::Grant { privilege } => m.apply(&Op::GrantPrivilege { privilege: *privilege }).map(drop),
            Action::Fragment { process, free, free_blocks, unmovable, standby, modified, pattern } => m
                .apply(&Op::Fragment(crate::fragment::FragmentSpec {
                    pid: self.pids[*process],
                    free: *free,
                    free_blocks: free_blocks.clone().map(std::sync::Arc::new),
                    unmovable: *unmovable,
                    standby: *standby,
                    modified: *modified,
                    pattern: *pattern,
                }))
                .map(drop),
            Action::Contiguous { size, alignment, highest } => {
                if let crate::machine::OpValue::Address(a) =
                    m.apply(&Op::AllocateContiguous { size: *size, alignment: *alignment, highest: *highest })?
                {
                    self.contiguous.push(a);
                }
                Ok(())
            }
            Action::PageOutLarge { process, address } => {
                m.apply(&Op::PageOutLarge { pid: self.pids[*process], address: *address }).map(drop)
            }
            Action::AllocatePhysical { process, pages, node } => {
                let r = m.apply(&Op::AllocatePhysical { pid: self.pids[*process], pages: *pages, node: *node })?;
                if let OpValue::Frames(f) = r {
                    self.pfn_arrays[*process].extend(f);
                }
                Ok(())
            }
            Action::MapPhysical { process, address, pages, frames } => {
                let frames = frames.as_ref().map(|f| self.frames(f)).transpose()?;
                let op = Op::MapPhysical { pid: self.pids[*process], address: *address, pages: *pages, frames };
                self.machine.apply(&op).map(drop)
            }
            Action::MapScatter { process, addresses, frames } => {
                let frames = frames.as_ref().map(|f| self.frames(f)).transpose()?;
                let op = Op::MapPhysicalScatter { pid: self.pids[*process], addresses: addresses.clone(), frames };
                self.machine.apply(&op).map(drop)
            }
            Action::FreePhysical { process, frames } => {
                let frames = self.frames(frames)?;
                self.machine.apply(&Op::FreePhysical { pid: self.pids[*process], frames }).map(drop)
            }
            Action::PhysicalLimit { process, pages } => {
                m.apply(&Op::SetPhysicalLimit { pid: self.pids[*process], pages: *pages }).map(drop)
            }
            Action::VirtualLock { process, address, size } => {
                m.apply(&Op::VirtualLock { pid: self.pids[*process], address: *address, size: *size }).map(drop)
            }
            Action::VirtualUnlock { process, address, size } => {
                m.apply(&Op::VirtualUnlock { pid: self.pids[*process], address: *address, size: *size }).map(drop)
            }
            Action::FreeContiguous => match self.contiguous.pop() {
                Some(address) => m.apply(&Op::FreeContiguous { address }).map(drop),
                None => Err(OpError::NoContiguousHeld),
            },
            Action::Logon => m.apply(&Op::Logon).map(drop),
            Action::BufferPool { process, spec, grow } => {
                m.apply(&Op::StartBufferPool { pid: self.pids[*process], spec: *spec, grow: *grow }).map(drop)
            }
            Action::PoolGrow { process } => m.apply(&Op::GrowBufferPool { pid: self.pids[*process] }).map(drop),
            Action::RampUp { process, spec } => {
                m.apply(&Op::RampUp { pid: self.pids[*process], spec: *spec }).map(drop)
            }
            Action::WaitNotification { notification, ticks } => {
                // One background round at a time, looking before each.
                for round in 0..=*ticks {
                    if m.query_memory_resource_notification(*notification) {
                        return Ok(());
                    }
                    if round < *ticks {
                        m.apply(&Op::Advance { ticks: 1 })?;
                    }
                }
                Err(OpError::WaitTimeout { notification: notification.name(), ticks: *ticks })
            }
            Action::AdjustPrivileges { process, privilege, enable } => m
                .apply(&Op::AdjustTokenPrivileges { pid: self.pids[*process], privilege: *privilege, enable: *enable })
                .map(drop),
            Action::Touch { process, address, pages, access, pattern, repeat, node } => {
                let pid = self.pids[*process];
                let first = address / PAGE_SIZE;
                let offset = address % PAGE_SIZE;
                let (machine, workload) = (&mut self.machine, &mut self.workload);
                for _ in 0..*repeat {
                    let order: Box<dyn Iterator<Item = u64> + '_> = match *pattern {
                        Pattern::Sequential => Box::new(0..*pages),
                        Pattern::Reverse => Box::new((0..*pages).rev()),
                        Pattern::Stride(k) => {
                            let n = *pages;
                            Box::new((0..k.min(n)).flat_map(move |s| (s..n).step_by(k as usize)))
                        }
                        // Drawn one at a time: a billion picks need no host memory.
                        Pattern::Random { count } => {
                            let (n, rng) = (*pages, &mut *workload);
                            Box::new((0..count).map(move |_| rng.gen_range(0..n)))
                        }
                    };
                    for i in order {
                        let va = (first + i) * PAGE_SIZE + offset;
                        machine.access(pid, va, *access, *node, NEVER)?;
                    }
                }
                Ok(())
            }
            Action::Refs { process, base, pages, writes } => {
                let pid = self.pids[*process];
                let opt =
                    self.machine.process(pid).is_some_and(|p| p.ws.policy() == crate::working_set::PolicyKind::Opt);
                let next = if opt { crate::trace::next_uses(pages) } else { Vec::new() };
                let t0 = self.machine.counters().paging.references;
                for (i, (&p, &w)) in pages.iter().zip(writes).enumerate() {
                    let next_use = next.get(i).map_or(NEVER, |&n| if n == NEVER { NEVER } else { t0 + n });
                    let kind = if w { AccessKind::Write } else { AccessKind::Read };
                    self.machine.access(pid, base + p * PAGE_SIZE, kind, None, next_use)?;
                }
                Ok(())
            }
        }
    }

    /// The frames a step names in a PFN array.
    fn frames(&self, f: &crate::scenario::FrameRefs) -> Result<Vec<crate::units::Pfn>, OpError> {
        let array = &self.pfn_arrays[f.of];
        f.indexes
            .iter()
            .map(|&i| {
                array.get(i as usize).copied().ok_or_else(|| OpError::BadFrameIndex {
                    owner: self.scenario.processes[f.of].name.clone(),
                    index: i,
                    len: array.len(),
                })
            })
            .collect()
    }

    /// The current value of a metric, as text.
    pub fn metric_value(&self, metric: &Metric) -> MetricValue {
        let m = &self.machine;
        let c = m.counters();
        let s = m.pfn_db().counts();
        match metric {
            Metric::Global(name) => MetricValue::Count(c.paging.metric(name).unwrap_or_else(|| match *name {
                "balance.runs" => m.balance().runs,
                "balance.trimmed" => m.balance().pages_trimmed,
                "repurposed" => c.activity.repurposed,
                "zeroed_in_fault" => c.activity.zeroed_in_fault,
                "zeroed_by_thread" => c.activity.zeroed_by_thread,
                "io.reads" => c.activity.io_reads,
                "io.pages_read" => c.activity.pages_read,
                "io.pages_read_ahead" => c.activity.pages_read_ahead,
                "io.writes" => c.activity.io_writes,
                "io.pages_written_pagefile" => c.activity.pages_written_pagefile,
                "io.pages_written_file" => c.activity.pages_written_file,
                "lists.zeroed" => s.zeroed,
                "lists.free" => s.free,
                "lists.standby" => s.standby,
                "lists.modified" => s.modified,
                "lists.bad" => s.bad,
                "lists.active" => s.active,
                "available" => s.available(),
                "commit.charge" => m.snapshot().commit_charge,
                "commit.limit" => m.snapshot().commit_limit,
                "pagefile.used" => m.pagefile_usage().0,
                "locks.ws" => c.activity.ws_lock,
                "locks.pfn" => c.activity.pfn_lock,
                "time_us" => m.time().0 / 1000,
                "large_page_minimum" => m.large_page_minimum(),
                "regions.free" => m.pfn_db().contiguity().map_or(0, |c| c.free_count()),
                "regions.cheap" => m.pfn_db().contiguity().map_or(0, |c| c.obtainable().cheap),
                "regions.movable" => m.pfn_db().contiguity().map_or(0, |c| c.obtainable().compacted),
                "compaction.runs_emptied" => m.compaction().runs_emptied,
                "compaction.runs_abandoned" => m.compaction().runs_abandoned,
                "compaction.repurposed" => m.compaction().repurposed,
                "compaction.written" => m.compaction().written,
                "compaction.moved" => m.compaction().moved,
                "compaction.time_us" => m.compaction().time.0 / 1000,
                "system.pages" => m.system_pages().frames(),
                "tlb.misses_small" => m.tlb().map_or(0, |t| t.small_misses),
                "tlb.misses_large" => m.tlb().map_or(0, |t| t.large_misses),
                "contiguous.pages" => m.system_pages().frames_for(crate::system_pages::SystemUse::Contiguous),
                "awe.pages" => m.awe_frames(),
                "ramp.time_us" => m.last_ramp().map_or(0, |r| r.time.0 / 1000),
                "ramp.work_us" => m.last_ramp().map_or(0, |r| r.work.0 / 1000),
                "ramp.wait_us" => m.last_ramp().map_or(0, |r| r.wait().0 / 1000),
                "ramp.ws_acquisitions" => m.last_ramp().map_or(0, |r| r.ws.acquisitions),
                "ramp.ws_contended" => m.last_ramp().map_or(0, |r| r.ws.contended),
                "ramp.pfn_acquisitions" => m.last_ramp().map_or(0, |r| r.pfn.acquisitions),
                "ramp.pfn_contended" => m.last_ramp().map_or(0, |r| r.pfn.contended),
                "locks.ws_held_us" => c.activity.ws_lock_held.0 / 1000,
                "locks.pfn_held_us" => c.activity.pfn_lock_held.0 / 1000,
                "notify.low" => m.notifications().low as u64,
                "notify.high" => m.notifications().high as u64,
                "notify.low_signals" => m.notifications().low_signals,
                "notify.high_signals" => m.notifications().high_signals,
                "notify.low_threshold" => m.notifications().thresholds.low,
                "notify.high_threshold" => m.notifications().thresholds.high,
                other => unreachable!("metric {other} validated"),
            })),
            Metric::Process(i, name) => {
                let p = m.process(self.pids[*i]).expect("scenario process exists");
                let pc = &p.counters;
                MetricValue::Count(pc.paging.metric(name).unwrap_or_else(|| match *name {
                    "ws_size" => p.ws.len(),
                    "ws_peak" => pc.peak_ws,
                    "commit" => p.commit,
                    "last_error" => p.last_error as u64,
                    "lock_memory_held" => p.token.held.contains(Privilege::LockMemory) as u64,
                    "lock_memory_enabled" => p.token.enabled.contains(Privilege::LockMemory) as u64,
                    "logon" => p.token.logon as u64,
                    "large_pages" => p.large_frames / m.config().large_page_size().map_or(1, |s| s.frames() as u64),
                    "ws_locked" => p.ws.locked_len(),
                    "awe_pages" => p.awe.len(),
                    "awe_mapped" => p.awe.mapped(),
                    "pool.pages" => m.buffer_pool(p.id).map_or(0, |b| b.pages),
                    "pool.target" => m.buffer_pool(p.id).map_or(0, |b| b.spec.target),
                    "pool.queries" => m.buffer_pool(p.id).map_or(0, |b| b.queries),
                    "pool.shrinks" => m.buffer_pool(p.id).map_or(0, |b| b.shrinks),
                    "pool.remote" => m.buffer_pool(p.id).map_or(0, |b| b.remote()),
                    other => unreachable!("metric {other} validated"),
                }))
            }
            Metric::Pte(i, addr) => {
                let pte = m.pte(self.pids[*i], Vpn::containing(*addr)).map_or(PteKind::Zero, |p| p.kind());
                MetricValue::Kind(pte.name())
            }
            Metric::Node(i, addr) => match m.frame_of(self.pids[*i], Vpn::containing(*addr)) {
                Some(pfn) => MetricValue::Count(m.pfn_db().node_of(pfn) as u64),
                None => MetricValue::Kind("not in memory"),
            },
            Metric::WsEx(i, addr, field) => {
                let b = m.query_working_set_ex(self.pids[*i], *addr);
                match field {
                    WsExField::Block => MetricValue::Count(b.0),
                    WsExField::Valid => MetricValue::Count(b.valid() as u64),
                    WsExField::Node if !b.valid() => MetricValue::Kind("not valid"),
                    WsExField::Node => MetricValue::Count(b.node() as u64),
                    WsExField::Locked => MetricValue::Count(b.locked() as u64),
                    WsExField::Large => MetricValue::Count(b.large_page() as u64),
                }
            }
            Metric::File(i, name) => {
                let f = &m.snapshot().files[self.files[*i].0 as usize];
                MetricValue::Count(if *name == "pages_read" { f.pages_read } else { f.pages_written })
            }
        }
    }

    fn check(&self, e: &Expectation, step: Option<usize>) -> CheckResult {
        let v = self.metric_value(&e.metric);
        let passed = match (&e.check, &v) {
            (Check::Equals(x), MetricValue::Count(y)) => x == y,
            (Check::Range { at_least, at_most }, MetricValue::Count(y)) => {
                at_least.is_none_or(|a| *y >= a) && at_most.is_none_or(|b| *y <= b)
            }
            (Check::Kind(k), MetricValue::Kind(got)) => k == got,
            _ => false,
        };
        CheckResult {
            key: e.key.clone(),
            line: e.line,
            step,
            expected: Expected::Check(e.check.clone()),
            actual: Found::from(v),
            passed,
        }
    }
}

/// A metric's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricValue {
    /// A count.
    Count(u64),
    /// A PTE kind.
    Kind(&'static str),
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Count(n) => write!(f, "{n}"),
            MetricValue::Kind(k) => write!(f, "{k}"),
        }
    }
}
