//! Runs a scenario on a machine, one step at a time, checking its
//! expectations. The TUI steps a [`Runner`]; `pagelab run` runs it to the
//! end. A runner is cheap to clone (the scenario is shared), which is how
//! the TUI keeps snapshots to step back to.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::event::Event;
use crate::machine::{AccessKind, Machine, Op, OpError, OpValue, Resolution};
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
    /// That error's short name ([`OpError::name`]: "access_violation",
    /// the Win32 name, ...).
    #[serde(skip)]
    pub error_name: Option<String>,
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
    /// Where the current touch or refs step is, when some of its
    /// references have run and some have not.
    cursor: Option<StepCursor>,
}

/// One memory reference a touch or refs step made.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The scenario's process (index into its processes).
    pub process: usize,
    /// The machine's process id.
    pub pid: ProcessId,
    /// The page referenced.
    pub vpn: Vpn,
    /// The first page of the step's range (a touch step's address, a refs
    /// step's base): the page is `vpn - base` in the step's own numbering.
    pub base: Vpn,
    /// Read or write.
    pub access: AccessKind,
    /// How the reference was resolved, or the error it raised.
    pub result: Result<Resolution, OpError>,
    /// The page of the process's working set that left to make room, if
    /// one did (known when the runner records events).
    pub victim: Option<Vpn>,
}

/// What one call of [`Runner::step_reference`] did.
#[derive(Clone, Debug)]
pub struct ReferenceOutcome {
    /// The step the reference belongs to, 1-based.
    pub step: usize,
    /// The reference's number in its step, 1-based.
    pub index: u64,
    /// References in the step (1 for a step that makes none, run whole).
    pub total: u64,
    /// The reference; `None` for a step that is not a touch or refs step,
    /// or one with no references.
    pub reference: Option<Reference>,
    /// Events the reference raised, in the order they happened.
    pub events: Vec<Event>,
    /// The step's outcome, when this reference finished it.
    pub finished: Option<StepOutcome>,
}

/// Position inside a touch or refs step.
#[derive(Clone, Debug)]
struct StepCursor {
    /// References made so far.
    done: u64,
    /// References the step makes.
    total: u64,
    /// Position in the current pass over a touch step's range.
    pos: u64,
    /// Page index a touch step visited last (the stride pattern's state).
    prev: u64,
    /// For refs with OPT: each reference's distance to its page's next use.
    next_uses: Arc<[u64]>,
    /// References of the process before the step (OPT's clock).
    t0: u64,
    /// Events of the references made, at most [`crate::machine::MAX_RECORDED_EVENTS`].
    events: Vec<Event>,
    /// Events beyond that limit.
    events_not_recorded: u64,
}

impl StepCursor {
    /// Appends events drained from the machine, keeping the limit.
    fn keep(&mut self, events: &[Event], not_recorded: u64) {
        let room = crate::machine::MAX_RECORDED_EVENTS.saturating_sub(self.events.len());
        let take = room.min(events.len());
        self.events.extend_from_slice(&events[..take]);
        self.events_not_recorded += (events.len() - take) as u64 + not_recorded;
    }
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
        let workload = workload_generator(scenario.machine.seed);
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
            cursor: None,
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

    /// Runs the next step, or the rest of the current one when some of its
    /// references have run; `None` when there is none.
    pub fn step(&mut self) -> Option<StepOutcome> {
        let scenario = Arc::clone(&self.scenario);
        let step = scenario.steps.get(self.next)?;
        if !makes_references(&step.action) {
            let result = self.perform(&step.action);
            return Some(self.finish(None, result));
        }
        let mut c = self.cursor.take().unwrap_or_else(|| self.begin(&step.action));
        let result = loop {
            if c.done == c.total {
                break Ok(());
            }
            let (_, pid, address, access, node, next_use) = self.next_reference(&step.action, &mut c);
            if let Err(e) = self.machine.access(pid, address, access, node, next_use) {
                break Err(e);
            }
        };
        Some(self.finish(Some(c), result))
    }

    /// Makes one memory reference of the current touch or refs step (the
    /// first one of the next step if none is under way); a step of another
    /// kind, or one without references, runs whole. When the reference is
    /// the step's last, or fails, the step is finished and its expectations
    /// checked as [`Runner::step`] does. `None` when every step has run.
    pub fn step_reference(&mut self) -> Option<ReferenceOutcome> {
        let scenario = Arc::clone(&self.scenario);
        let step = scenario.steps.get(self.next)?;
        if !makes_references(&step.action) {
            let o = self.step()?;
            return Some(ReferenceOutcome {
                step: o.number,
                index: 1,
                total: 1,
                reference: None,
                events: o.events.clone(),
                finished: Some(o),
            });
        }
        let mut c = self.cursor.take().unwrap_or_else(|| self.begin(&step.action));
        if c.total == 0 {
            let o = self.finish(Some(c), Ok(()));
            let events = o.events.clone();
            return Some(ReferenceOutcome {
                step: o.number,
                index: 1,
                total: 1,
                reference: None,
                events,
                finished: Some(o),
            });
        }
        let (process, pid, address, access, node, next_use) = self.next_reference(&step.action, &mut c);
        let result = self.machine.access(pid, address, access, node, next_use);
        let events = self.machine.drain_events();
        let not_recorded = self.machine.take_events_not_recorded();
        c.keep(&events, not_recorded);
        let victim = events.iter().find_map(|e| match e {
            Event::Evicted { pid: p, vpn, .. } if *p == pid => Some(*vpn),
            _ => None,
        });
        let (index, total) = (c.done, c.total);
        let failed = result.is_err();
        let base = match &step.action {
            Action::Touch { address, .. } => Vpn::containing(*address),
            Action::Refs { base, .. } => Vpn::containing(*base),
            _ => unreachable!("a reference step"),
        };
        let reference = Reference { process, pid, vpn: Vpn::containing(address), base, access, result, victim };
        let finished = if failed || c.done == c.total {
            let r = match &reference.result {
                Ok(_) => Ok(()),
                Err(e) => Err(e.clone()),
            };
            Some(self.finish(Some(c), r))
        } else {
            self.cursor = Some(c);
            None
        };
        Some(ReferenceOutcome {
            step: self.next + usize::from(finished.is_none()),
            index,
            total,
            reference: Some(reference),
            events,
            finished,
        })
    }

    /// Where the current step is: (references made, references in it),
    /// while a touch or refs step has made some of its references and not all.
    pub fn reference_position(&self) -> Option<(u64, u64)> {
        self.cursor.as_ref().map(|c| (c.done, c.total))
    }

    /// References step `i` (0-based) makes at reference grain: 1 for a step
    /// that is not a touch or refs step, or that makes none.
    pub fn references_of(&self, i: usize) -> u64 {
        let total = match &self.scenario.steps[i].action {
            Action::Touch { pattern: Pattern::Random { count }, repeat, .. } => count.saturating_mul(*repeat),
            Action::Touch { pages, repeat, .. } => pages.saturating_mul(*repeat),
            Action::Refs { pages, writes, .. } => pages.len().min(writes.len()) as u64,
            _ => 1,
        };
        total.max(1)
    }

    /// The step under way as an outcome so far: its number, the events of
    /// the references made; no checks yet. `None` between steps.
    pub fn step_so_far(&self) -> Option<StepOutcome> {
        let c = self.cursor.as_ref()?;
        let step = &self.scenario.steps[self.next];
        Some(StepOutcome {
            number: self.next + 1,
            line: step.line,
            op: step.action.op_name(),
            label: step.label.clone(),
            events: c.events.clone(),
            events_not_recorded: c.events_not_recorded,
            error: None,
            error_name: None,
            checks: Vec::new(),
        })
    }

    /// Starts a touch or refs step: how many references it makes, and for
    /// refs with OPT, when each page is used next.
    fn begin(&self, action: &Action) -> StepCursor {
        let mut c = StepCursor {
            done: 0,
            total: 0,
            pos: 0,
            prev: 0,
            next_uses: Arc::from(Vec::new()),
            t0: 0,
            events: Vec::new(),
            events_not_recorded: 0,
        };
        match action {
            Action::Touch { pages, pattern, repeat, .. } => {
                let pass = match pattern {
                    Pattern::Random { count } => *count,
                    _ => *pages,
                };
                c.total = pass.saturating_mul(*repeat);
            }
            Action::Refs { process, pages, writes, .. } => {
                let pid = self.pids[*process];
                let opt =
                    self.machine.process(pid).is_some_and(|p| p.ws.policy() == crate::working_set::PolicyKind::Opt);
                if opt {
                    c.next_uses = Arc::from(crate::trace::next_uses(pages));
                }
                c.t0 = self.machine.counters().paging.references;
                c.total = pages.len().min(writes.len()) as u64;
            }
            _ => unreachable!("only touch and refs steps make references one by one"),
        }
        c
    }

    /// The next reference of a touch or refs step, advancing the cursor:
    /// (scenario process, pid, address, access, node, next use). A random
    /// touch draws its page from the workload generator here, one
    /// reference at a time.
    fn next_reference(
        &mut self,
        action: &Action,
        c: &mut StepCursor,
    ) -> (usize, ProcessId, u64, AccessKind, Option<u8>, u64) {
        let r = match action {
            Action::Touch { process, address, pages, access, pattern, node, .. } => {
                let n = *pages;
                let i = match *pattern {
                    Pattern::Sequential => c.pos,
                    Pattern::Reverse => n - 1 - c.pos,
                    // Columns of the stride in turn: 0, k, 2k, ..., then 1, 1+k, ...
                    Pattern::Stride(k) => {
                        if c.pos == 0 {
                            0
                        } else if c.prev + k < n {
                            c.prev + k
                        } else {
                            c.prev % k + 1
                        }
                    }
                    Pattern::Random { .. } => random_page(&mut self.workload, n),
                };
                let pass = match *pattern {
                    Pattern::Random { count } => count,
                    _ => n,
                };
                c.prev = i;
                c.pos += 1;
                if c.pos == pass {
                    c.pos = 0;
                }
                let va = (address / PAGE_SIZE + i) * PAGE_SIZE + address % PAGE_SIZE;
                (*process, self.pids[*process], va, *access, *node, NEVER)
            }
            Action::Refs { process, base, pages, writes } => {
                let i = c.done as usize;
                let next_use = c.next_uses.get(i).map_or(NEVER, |&n| if n == NEVER { NEVER } else { c.t0 + n });
                let kind = if writes[i] { AccessKind::Write } else { AccessKind::Read };
                (*process, self.pids[*process], base + pages[i] * PAGE_SIZE, kind, None, next_use)
            }
            _ => unreachable!("only touch and refs steps make references one by one"),
        };
        c.done += 1;
        r
    }

    /// Ends the current step: collects its events, checks its expectations
    /// (and the scenario's after the last step).
    fn finish(&mut self, cursor: Option<StepCursor>, result: Result<(), OpError>) -> StepOutcome {
        let scenario = Arc::clone(&self.scenario);
        let step = &scenario.steps[self.next];
        self.next += 1;
        let number = self.next;
        let drained = self.machine.drain_events();
        let not_recorded = self.machine.take_events_not_recorded();
        let (events, events_not_recorded) = match cursor {
            Some(mut c) if !c.events.is_empty() || c.events_not_recorded > 0 => {
                c.keep(&drained, not_recorded);
                (c.events, c.events_not_recorded)
            }
            _ => (drained, not_recorded),
        };
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
        StepOutcome {
            number,
            line: step.line,
            op: step.action.op_name(),
            label: step.label.clone(),
            events,
            events_not_recorded,
            error_name: error.as_ref().map(|e| e.name()),
            error: error.map(|e| e.to_string()),
            checks,
        }
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
            // A Linux setting: nothing on the simulated machine.
            Action::HugetlbPool { .. } => Ok(()),
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
            Action::Touch { .. } | Action::Refs { .. } => {
                unreachable!("touch and refs steps run reference by reference")
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

/// The generator of a scenario's random touches, from the machine's seed
/// (separate from the machine's own, so a random policy does not change
/// which pages a random touch visits). A real backend replays the same
/// pages with it.
pub fn workload_generator(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15)
}

/// The next page (0 to `pages` - 1) a random touch visits.
pub fn random_page(workload: &mut ChaCha8Rng, pages: u64) -> u64 {
    workload.gen_range(0..pages)
}

/// The name of a resolution: `hit`, `demand_zero`, `soft`,
/// `hard_pagefile`, `hard_file`.
pub fn resolution_name(r: Resolution) -> &'static str {
    match r {
        Resolution::Hit => "hit",
        Resolution::DemandZero => "demand_zero",
        Resolution::Soft => "soft",
        Resolution::HardPageFile => "hard_pagefile",
        Resolution::HardFile => "hard_file",
    }
}

/// Whether a step's action is memory references, made one at a time.
fn makes_references(action: &Action) -> bool {
    matches!(action, Action::Touch { .. } | Action::Refs { .. })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(name: &str) -> Runner {
        let s = crate::scenario::resolve(name, &[]).unwrap();
        Runner::new(Arc::new(s), true).unwrap()
    }

    /// Everything a test can compare of two runners' states.
    fn state(r: &Runner) -> String {
        format!("{:?} {:?} {:?}", r.machine().snapshot(), r.checks(), r.steps_done())
    }

    /// Every touch pattern, a repeat, an access violation in mid-step and
    /// an OPT refs step.
    const PATTERNS: &str = r#"
[scenario]
name = "patterns"
[machine]
memory = "128 KiB"
pagefile = "1 MiB"
policy = "fifo"
[[process]]
name = "a"
ws_max = 5
[[process]]
name = "o"
ws_max = 3
policy = "opt"
[[step]]
op = "reserve"
process = "a"
address = 0x10000
size = "64 KiB"
commit = true
[[step]]
op = "touch"
process = "a"
address = 0x10000
pages = 10
pattern = "stride"
stride = 3
repeat = 2
[[step]]
op = "touch"
process = "a"
address = 0x10000
pages = 16
pattern = "random"
count = 40
access = "write"
[[step]]
op = "touch"
process = "a"
address = 0x10000
pages = 7
pattern = "reverse"
[[step]]
op = "touch"
process = "a"
address = 0x18000
pages = 16
expect_error = "access_violation"
[[step]]
op = "reserve"
process = "o"
address = 0x10000
size = "64 KiB"
commit = true
[[step]]
op = "refs"
process = "o"
base = 0x10000
refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]
"#;

    #[test]
    fn stepping_references_gives_the_state_events_and_checks_of_whole_steps() {
        let patterns = crate::scenario::load_str(PATTERNS, "patterns", None, &[]).unwrap();
        let builtins = ["belady", "tour", "soft-hard", "demand-zero", "mapped-file", "numa", "awe"]
            .map(|n| crate::scenario::resolve(n, &[]).unwrap());
        for s in std::iter::once(patterns).chain(builtins) {
            let name = s.name.clone();
            let s = Arc::new(s);
            let (mut whole, mut by_ref) = (Runner::new(Arc::clone(&s), true).unwrap(), Runner::new(s, true).unwrap());
            while let Some(w) = whole.step() {
                let finished = loop {
                    let o = by_ref.step_reference().expect("a step is left");
                    assert_eq!(o.step, w.number, "{name}");
                    assert!(o.index >= 1 && o.index <= o.total, "{name}: {} of {}", o.index, o.total);
                    if let Some(f) = o.finished {
                        break f;
                    }
                    assert_eq!(by_ref.reference_position(), Some((o.index, o.total)));
                };
                assert_eq!(format!("{:?}", finished.events), format!("{:?}", w.events), "{name} step {}", w.number);
                assert_eq!(finished.checks, w.checks, "{name} step {}", w.number);
                assert_eq!(finished.error, w.error);
                assert_eq!(state(&whole), state(&by_ref), "{name} after step {}", w.number);
            }
            assert!(by_ref.step_reference().is_none());
            assert_eq!(whole.passed(), by_ref.passed());
        }
    }

    #[test]
    fn belady_by_reference_faults_nine_and_ten_times_in_fifo_order() {
        let mut r = runner("belady");
        r.step();
        r.step();
        let mut faults = 0;
        let mut fifo = Vec::new();
        for k in 1..=12 {
            let o = r.step_reference().unwrap();
            assert_eq!((o.step, o.index, o.total), (3, k, 12));
            let re = o.reference.unwrap();
            faults += u64::from(re.result != Ok(Resolution::Hit));
            let ws: Vec<u64> =
                r.machine().process(re.pid).unwrap().ws.entries_iter().map(|e| e.vpn.0 - re.base.0).collect();
            fifo.push(ws);
            if k == 4 {
                assert_eq!(re.victim.map(|v| v.0 - re.base.0), Some(1), "4 evicts 1, the first in");
            }
        }
        assert_eq!(faults, 9);
        // OSTEP's paging-policy.py -c for FIFO with 3 frames.
        assert_eq!(fifo[3], vec![2, 3, 4]);
        assert_eq!(fifo[6], vec![1, 2, 5]);
        assert_eq!(fifo[11], vec![5, 3, 4]);
        let mut faults = 0;
        while let Some(o) = r.step_reference() {
            faults += u64::from(o.reference.unwrap().result != Ok(Resolution::Hit));
        }
        assert_eq!(faults, 10);
        assert!(r.passed());
    }

    #[test]
    fn a_copy_in_mid_step_replays_to_the_same_state() {
        let mut r = runner("belady");
        r.step();
        r.step();
        for _ in 0..5 {
            r.step_reference();
        }
        let copy = r.clone();
        let later = {
            let mut a = r.clone();
            a.step_reference();
            state(&a)
        };
        r.step_reference();
        assert_eq!(state(&r), later);
        let mut b = copy;
        b.step_reference();
        assert_eq!(state(&b), state(&r));
        assert_eq!(b.reference_position(), Some((6, 12)));
        assert_eq!(b.step_so_far().unwrap().number, 3);
        let rest = b.step().unwrap();
        assert_eq!(rest.number, 3);
        assert!(rest.checks.iter().all(|c| c.passed), "{:?}", rest.checks);
        assert_eq!(b.reference_position(), None);
    }

    #[test]
    fn a_step_that_makes_no_references_is_one_reference() {
        let mut r = runner("belady");
        let o = r.step_reference().unwrap();
        assert_eq!((o.step, o.index, o.total), (1, 1, 1));
        assert!(o.reference.is_none());
        assert_eq!(o.finished.unwrap().op, "reserve");
        assert_eq!(r.steps_done(), 1);
    }
}
