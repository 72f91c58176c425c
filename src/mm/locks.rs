//! Lock contention: threads that share locks, run as a deterministic
//! discrete-event simulation.
//!
//! NT serialises changes to a process's working set with the process's
//! working-set lock, and changes to the PFN database with one system-wide
//! PFN lock. An ordinary demand-zero fault takes both once per page; AWE
//! takes the PFN lock once per `AllocateUserPhysicalPages` call and the
//! working-set lock once per `MapUserPhysicalPages` call, however many
//! pages either covers. With several threads ramping a buffer up at once,
//! a lock held by one of them makes the others wait, and the per-page
//! pattern waits far more often. This module measures by how much.
//!
//! Each thread follows a [`ThreadPlan`]: a prologue, a unit repeated any
//! number of times, and an epilogue, each a list of [`Segment`]s (run for a
//! while, acquire a lock, release it). A million pages are one unit
//! repeated a million times, not a million segments. [`simulate`] runs
//! every plan from time 0 and returns a [`Contention`]: when each thread
//! finished, and per lock how often it was taken, how often a thread had
//! to wait for it, and how long it was held and waited for.
//!
//! The rules:
//!
//! - every thread has a processor of its own: `Run(d)` takes `d` whatever
//!   the other threads do;
//! - `Acquire` takes a free lock at once; a held one puts the thread at
//!   the back of the lock's queue, and `Release` hands the lock to the
//!   front of the queue at the release time (first come, first served:
//!   a thread that releases and asks again goes behind those waiting);
//! - locks nest: a thread may hold any number, taken in any order;
//! - simultaneous events happen in thread order: of two threads due at
//!   the same time, the lower-numbered one goes first. A thread that
//!   asks for a lock at the instant its holder (a higher-numbered thread)
//!   releases it therefore queues, waits zero, and counts as contended.
//!   A thread goes on without yielding through acquisitions and releases;
//!   a `Run`, even of zero, lets every thread due earlier go first.
//!
//! The same plans always give the same [`Contention`]: there is no clock,
//! no randomness and no I/O.
//!
//! Plans are checked before anything runs ([`PlanError`]): a thread may
//! only release what it holds, not acquire what it holds, and must end
//! holding nothing; a repeated unit must leave the thread holding what it
//! held before. Plans that can deadlock (two threads taking two locks in
//! opposite orders) are valid; a run that does deadlock stops with
//! [`PlanError::Deadlock`] as soon as every unfinished thread waits.
//!
//! Cost: the events processed are the segments done, each O(1) plus, when
//! a thread stops or starts, O(log T) for T threads to move it in or out
//! of the binary heap that holds the threads that can run, by time and
//! thread number. Nothing is allocated after setup. `Run`s in a row are added up first, and a unit
//! with no acquisition or release is done as one stretch of its time
//! times its repetitions, since no other thread can see anything in
//! between. 16 threads of a million repetitions of a 6-segment unit are
//! about 10^8 events.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

use serde::Serialize;

use crate::units::SimNanos;

/// A lock the model knows: an index into the simulation's lock table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LockId(pub u8);

impl LockId {
    /// The conventional index of a process's working-set lock.
    pub const WORKING_SET: LockId = LockId(0);
    /// The conventional index of the system-wide PFN-database lock.
    pub const PFN_DATABASE: LockId = LockId(1);

    /// The lock as an index into per-lock tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lock {}", self.0)
    }
}

/// One step of a thread's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Compute (or anything else that needs no lock) for this long.
    Run(SimNanos),
    /// Take the lock, waiting in its queue while another thread holds it.
    Acquire(LockId),
    /// Give the lock up, to the first waiter if there is one.
    Release(LockId),
}

/// What one thread does: `prologue`, then `unit` repeated `repeats` times,
/// then `epilogue`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ThreadPlan {
    /// Done once, first.
    pub prologue: Vec<Segment>,
    /// Done `repeats` times after the prologue.
    pub unit: Vec<Segment>,
    /// How many times the unit is done (0: never, and it is not checked
    /// beyond its lock numbers).
    pub repeats: u64,
    /// Done once, last.
    pub epilogue: Vec<Segment>,
}

impl ThreadPlan {
    /// A plan that is only `unit`, `repeats` times.
    pub fn repeated(unit: Vec<Segment>, repeats: u64) -> ThreadPlan {
        ThreadPlan { prologue: Vec::new(), unit, repeats, epilogue: Vec::new() }
    }

    /// The plan's total `Run` time (saturating).
    pub fn run_time(&self) -> SimNanos {
        SimNanos(run_total(&self.prologue))
            + SimNanos(run_total(&self.unit)) * self.repeats
            + SimNanos(run_total(&self.epilogue))
    }
}

/// What happened to one lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct LockStats {
    /// Times the lock was taken.
    pub acquisitions: u64,
    /// Acquisitions that found the lock held and queued (a handover at the
    /// same instant waits zero but still counts).
    pub contended: u64,
    /// Total time the lock was held, from each acquisition to its release.
    pub hold: SimNanos,
    /// Total time threads spent in the lock's queue, summed over threads.
    pub wait: SimNanos,
    /// The longest the queue got (waiters, not counting the holder).
    pub max_waiters: u32,
}

/// The outcome of a simulation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Contention {
    /// When the last thread finished (0 with no threads).
    pub makespan: SimNanos,
    /// When each thread finished, by thread.
    pub finish: Vec<SimNanos>,
    /// What happened to each lock, by lock index.
    pub locks: Vec<LockStats>,
    /// The `Run` time of every thread, summed.
    pub busy: SimNanos,
}

impl Contention {
    /// Time spent waiting for any lock, summed over threads.
    pub fn total_wait(&self) -> SimNanos {
        self.locks.iter().fold(SimNanos(0), |sum, l| sum + l.wait)
    }
}

/// Where in a plan a segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The prologue's segment at this index.
    Prologue(usize),
    /// The unit's segment `index`, in repetition `repetition` (from 0).
    Unit {
        /// Which repetition of the unit, from 0.
        repetition: u64,
        /// The segment's index in the unit.
        index: usize,
    },
    /// The epilogue's segment at this index.
    Epilogue(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Prologue(i) => write!(f, "prologue segment {i}"),
            Position::Unit { repetition, index } => write!(f, "unit repetition {repetition}, segment {index}"),
            Position::Epilogue(i) => write!(f, "epilogue segment {i}"),
        }
    }
}

/// Why plans cannot be simulated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A segment names a lock beyond the lock table.
    #[error("thread {thread}, {at}: {lock} does not exist (there are {locks} locks)")]
    UnknownLock {
        /// The thread.
        thread: usize,
        /// The segment.
        at: Position,
        /// The lock named.
        lock: LockId,
        /// How many locks there are.
        locks: usize,
    },
    /// A thread releases a lock it does not hold.
    #[error("thread {thread}, {at}: releases {lock}, which it does not hold")]
    ReleaseNotHeld {
        /// The thread.
        thread: usize,
        /// The segment.
        at: Position,
        /// The lock.
        lock: LockId,
    },
    /// A thread acquires a lock it already holds (locks are not recursive).
    #[error("thread {thread}, {at}: acquires {lock}, which it already holds")]
    AcquireHeld {
        /// The thread.
        thread: usize,
        /// The segment.
        at: Position,
        /// The lock.
        lock: LockId,
    },
    /// A thread's plan ends with a lock still held.
    #[error("thread {thread} ends still holding {lock}")]
    HeldAtEnd {
        /// The thread.
        thread: usize,
        /// The lowest-numbered lock it still holds.
        lock: LockId,
    },
    /// Every unfinished thread waits for a lock another of them holds.
    #[error("deadlock at {at}: thread {thread} waits for {lock}, held by thread {holder}; {blocked} threads wait and none can run")]
    Deadlock {
        /// The time of the last event before the threads stuck.
        at: SimNanos,
        /// The lowest-numbered waiting thread.
        thread: usize,
        /// The lock it waits for.
        lock: LockId,
        /// The thread holding that lock.
        holder: usize,
        /// How many threads wait.
        blocked: usize,
    },
}

/// Runs `threads` against a table of `locks` locks, all from time 0.
///
/// The plans are checked first; see [`PlanError`].
pub fn simulate(threads: &[ThreadPlan], locks: usize) -> Result<Contention, PlanError> {
    for (thread, plan) in threads.iter().enumerate() {
        check(thread, plan, locks)?;
    }

    let mut runners: Vec<Runner> = threads.iter().map(Runner::new).collect();
    let mut table: Vec<LockState> = (0..locks).map(|_| LockState::new(threads.len())).collect();
    let mut finish = vec![SimNanos(0); threads.len()];
    // Threads that can run, but for the one running, by (time, thread); a
    // waiting thread is in a lock's queue instead, a finished one nowhere.
    let mut ready: BinaryHeap<Reverse<Due>> = (0..threads.len()).map(|i| Reverse(Due::new(0, i))).collect();
    let mut unfinished = threads.len();
    let mut last = 0u64;

    // The thread due first runs until it waits, finishes, or is about to
    // take or give up a lock at a time at which another thread is due
    // before it; then that one runs.
    let mut running = ready.pop();
    while let Some(Reverse(due)) = running {
        let (mut now, thread) = (due.time(), due.thread());
        let runner = &mut runners[thread];
        // Whether the thread has run on since it last took or gave up a lock.
        let mut ran = false;
        running = loop {
            let Some(step) = runner.next() else {
                finish[thread] = SimNanos(now);
                unfinished -= 1;
                break ready.pop();
            };
            now = now.saturating_add(step.run);
            ran |= step.ran;
            let (l, acquire) = match step.op {
                Op::Nothing => continue,
                Op::Acquire(l) => (l, true),
                Op::Release(l) => (l, false),
            };
            // A lock is about to change hands, so every thread due before
            // this one goes first. When none is, going on at once is the
            // same as yielding and being taken straight back.
            if ran {
                ran = false;
                let me = Reverse(Due::new(now, thread));
                if let Some(mut first) = ready.peek_mut().filter(|first| **first > me) {
                    runner.stash = Some(Step { run: 0, ran: false, op: step.op });
                    break Some(std::mem::replace(&mut *first, me));
                }
            }
            let lock = &mut table[l.index()];
            if acquire {
                lock.acquisitions += 1;
                if lock.holder.is_none() {
                    lock.holder = Some(thread);
                    lock.since = now;
                } else {
                    lock.queue.push_back((thread, now));
                    lock.contended += 1;
                    lock.max_waiters = lock.max_waiters.max(u32::try_from(lock.queue.len()).unwrap_or(u32::MAX));
                    break ready.pop();
                }
            } else {
                debug_assert_eq!(lock.holder, Some(thread), "plans are checked before they run");
                lock.hold = lock.hold.saturating_add(now - lock.since);
                match lock.queue.pop_front() {
                    Some((next, asked)) => {
                        lock.holder = Some(next);
                        lock.since = now;
                        lock.wait = lock.wait.saturating_add(now - asked);
                        ready.push(Reverse(Due::new(now, next)));
                    }
                    None => lock.holder = None,
                }
            }
        };
        last = last.max(now);
    }

    if unfinished > 0 {
        return Err(deadlock(&table, last));
    }

    let makespan = finish.iter().copied().max().unwrap_or_default();
    let busy = threads.iter().fold(SimNanos(0), |sum, p| sum + p.run_time());
    let locks = table.iter().map(LockState::stats).collect();
    Ok(Contention { makespan, finish, locks, busy })
}

/// When a thread can run next, and which: ordered by time, then by thread,
/// packed so that one comparison orders them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due(u128);

impl Due {
    fn new(time: u64, thread: usize) -> Due {
        Due((u128::from(time) << 64) | thread as u128)
    }
    fn time(self) -> u64 {
        (self.0 >> 64) as u64
    }
    fn thread(self) -> usize {
        self.0 as u64 as usize
    }
}

/// The lock a segment acquires or releases.
fn lock_of(segment: &Segment) -> Option<LockId> {
    match *segment {
        Segment::Run(_) => None,
        Segment::Acquire(l) | Segment::Release(l) => Some(l),
    }
}

/// The `Run` time of a list of segments (saturating).
fn run_total(segments: &[Segment]) -> u64 {
    segments.iter().fold(0u64, |sum, s| match s {
        Segment::Run(d) => sum.saturating_add(d.0),
        _ => sum,
    })
}

/// The locks a thread holds, as a bit set over every possible [`LockId`].
#[derive(Clone, Copy, Default)]
struct Held([u64; 4]);

impl Held {
    fn contains(&self, l: LockId) -> bool {
        self.0[l.index() / 64] & (1 << (l.index() % 64)) != 0
    }
    fn insert(&mut self, l: LockId) {
        self.0[l.index() / 64] |= 1 << (l.index() % 64);
    }
    fn remove(&mut self, l: LockId) {
        self.0[l.index() / 64] &= !(1 << (l.index() % 64));
    }
    /// The lowest-numbered lock held.
    fn first(&self) -> Option<LockId> {
        (0..=u8::MAX).map(LockId).find(|&l| self.contains(l))
    }
}

/// Checks one thread's plan on its own; see [`PlanError`].
fn check(thread: usize, plan: &ThreadPlan, locks: usize) -> Result<(), PlanError> {
    // Every lock named must exist, even in a unit that is never done.
    let every = (plan.prologue.iter().enumerate().map(|(i, s)| (Position::Prologue(i), s)))
        .chain(plan.unit.iter().enumerate().map(|(index, s)| (Position::Unit { repetition: 0, index }, s)))
        .chain(plan.epilogue.iter().enumerate().map(|(i, s)| (Position::Epilogue(i), s)));
    for (at, s) in every {
        if let Some(lock) = lock_of(s).filter(|l| l.index() >= locks) {
            return Err(PlanError::UnknownLock { thread, at, lock, locks });
        }
    }

    let step = |held: &mut Held, at: Position, s: &Segment| match *s {
        Segment::Run(_) => Ok(()),
        Segment::Acquire(lock) if held.contains(lock) => Err(PlanError::AcquireHeld { thread, at, lock }),
        Segment::Acquire(lock) => {
            held.insert(lock);
            Ok(())
        }
        Segment::Release(lock) if !held.contains(lock) => Err(PlanError::ReleaseNotHeld { thread, at, lock }),
        Segment::Release(lock) => {
            held.remove(lock);
            Ok(())
        }
    };
    let mut held = Held::default();
    for (i, s) in plan.prologue.iter().enumerate() {
        step(&mut held, Position::Prologue(i), s)?;
    }
    // Two repetitions are enough: a unit that gets through its second one
    // takes every lock it releases and releases every lock it takes, so it
    // ends each repetition holding what it started with and the third and
    // later ones see what the second saw.
    for repetition in 0..plan.repeats.min(2) {
        for (index, s) in plan.unit.iter().enumerate() {
            step(&mut held, Position::Unit { repetition, index }, s)?;
        }
    }
    for (i, s) in plan.epilogue.iter().enumerate() {
        step(&mut held, Position::Epilogue(i), s)?;
    }
    match held.first() {
        Some(lock) => Err(PlanError::HeldAtEnd { thread, lock }),
        None => Ok(()),
    }
}

/// What a step does after its `Run`s.
#[derive(Clone, Copy)]
enum Op {
    /// Nothing: the step is the `Run`s at the end of a part.
    Nothing,
    /// Take the lock.
    Acquire(LockId),
    /// Give it up.
    Release(LockId),
}

/// Segments as a thread runs them: a stretch of `Run`s merged into one
/// time, then a lock operation.
#[derive(Clone, Copy)]
struct Step {
    /// The `Run` time before the operation.
    run: u64,
    /// Whether there is any `Run` before it, if only of zero.
    ran: bool,
    op: Op,
}

/// `segments` as steps; `Run`s after the last lock operation make a last
/// step that does nothing else.
fn compile(segments: &[Segment]) -> Vec<Step> {
    let mut steps = Vec::new();
    let (mut run, mut ran) = (0u64, false);
    for s in segments {
        let op = match *s {
            Segment::Run(d) => {
                run = run.saturating_add(d.0);
                ran = true;
                continue;
            }
            Segment::Acquire(l) => Op::Acquire(l),
            Segment::Release(l) => Op::Release(l),
        };
        steps.push(Step { run, ran, op });
        (run, ran) = (0, false);
    }
    if ran {
        steps.push(Step { run, ran, op: Op::Nothing });
    }
    steps
}

/// A thread's plan as steps, and its place in it.
struct Runner {
    /// The prologue's, the unit's and the epilogue's steps, in a row.
    steps: Vec<Step>,
    /// Where the unit's steps start and end in `steps`.
    unit: (usize, usize),
    /// Times left to go back to the start of the unit from its end.
    again: u64,
    /// The next step's index in `steps`.
    at: usize,
    /// A step put back, to be done first when the thread runs again.
    stash: Option<Step>,
}

impl Runner {
    /// The plan's steps. A unit that takes no lock is one step of all its
    /// repetitions' time, since nothing in it can be seen by other threads.
    fn new(plan: &ThreadPlan) -> Runner {
        let mut steps = compile(&plan.prologue);
        let mut unit = if plan.repeats == 0 { Vec::new() } else { compile(&plan.unit) };
        let mut again = plan.repeats.saturating_sub(1);
        if let [Step { run, op: Op::Nothing, .. }] = unit[..] {
            unit = vec![Step { run: run.saturating_mul(plan.repeats), ran: true, op: Op::Nothing }];
            again = 0;
        }
        if unit.is_empty() {
            again = 0;
        }
        let start = steps.len();
        steps.extend(unit);
        let unit = (start, steps.len());
        steps.extend(compile(&plan.epilogue));
        Runner { steps, unit, again, at: 0, stash: None }
    }

    /// The next step, or `None` when the plan is done.
    fn next(&mut self) -> Option<Step> {
        if let Some(s) = self.stash.take() {
            return Some(s);
        }
        if self.at == self.unit.1 && self.again > 0 {
            self.again -= 1;
            self.at = self.unit.0;
        }
        let step = self.steps.get(self.at).copied();
        self.at += 1;
        step
    }
}

/// A lock during a simulation, with its running totals.
struct LockState {
    holder: Option<usize>,
    /// When the holder took it.
    since: u64,
    /// Waiting threads, first come first, with when each asked.
    queue: VecDeque<(usize, u64)>,
    acquisitions: u64,
    contended: u64,
    hold: u64,
    wait: u64,
    max_waiters: u32,
}

impl LockState {
    fn new(threads: usize) -> LockState {
        LockState {
            holder: None,
            since: 0,
            queue: VecDeque::with_capacity(threads),
            acquisitions: 0,
            contended: 0,
            hold: 0,
            wait: 0,
            max_waiters: 0,
        }
    }

    fn stats(&self) -> LockStats {
        LockStats {
            acquisitions: self.acquisitions,
            contended: self.contended,
            hold: SimNanos(self.hold),
            wait: SimNanos(self.wait),
            max_waiters: self.max_waiters,
        }
    }
}

/// The error for a run in which every unfinished thread waits.
fn deadlock(table: &[LockState], at: u64) -> PlanError {
    let blocked = table.iter().map(|l| l.queue.len()).sum();
    // Some lock has a queue: an unfinished thread that cannot run waits
    // in one. Its lock number fits a `LockId`, as a segment named it.
    let (thread, lock, holder) = table
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((l.queue.iter().map(|&(t, _)| t).min()?, i, l.holder?)))
        .min()
        .unwrap_or_default();
    PlanError::Deadlock {
        at: SimNanos(at),
        thread,
        lock: LockId(u8::try_from(lock).unwrap_or(u8::MAX)),
        holder,
        blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: LockId = LockId::WORKING_SET;
    const PFN: LockId = LockId::PFN_DATABASE;

    fn run(ns: u64) -> Segment {
        Segment::Run(SimNanos(ns))
    }

    fn acquire(l: LockId) -> Segment {
        Segment::Acquire(l)
    }

    fn release(l: LockId) -> Segment {
        Segment::Release(l)
    }

    fn ns(v: &[u64]) -> Vec<SimNanos> {
        v.iter().copied().map(SimNanos).collect()
    }

    /// A unit with `outside` of work, then `held` under lock 0.
    fn critical_unit(outside: u64, held: u64) -> Vec<Segment> {
        vec![run(outside), acquire(LockId(0)), run(held), release(LockId(0))]
    }

    #[test]
    fn one_thread_never_waits_and_takes_the_sum_of_its_segments() {
        let plan = ThreadPlan {
            prologue: vec![run(5)],
            unit: vec![run(10), acquire(WS), run(20), acquire(PFN), run(3), release(PFN), release(WS)],
            repeats: 4,
            epilogue: vec![run(7)],
        };
        let c = simulate(&[plan], 2).unwrap();
        assert_eq!(c.makespan, SimNanos(5 + 4 * 33 + 7));
        assert_eq!(c.finish, ns(&[144]));
        assert_eq!(c.busy, SimNanos(144));
        assert_eq!(
            c.locks,
            vec![
                LockStats { acquisitions: 4, contended: 0, hold: SimNanos(4 * 23), wait: SimNanos(0), max_waiters: 0 },
                LockStats { acquisitions: 4, contended: 0, hold: SimNanos(4 * 3), wait: SimNanos(0), max_waiters: 0 },
            ]
        );
        assert_eq!(c.total_wait(), SimNanos(0));
    }

    #[test]
    fn two_threads_on_one_lock_alternate() {
        // Thread 0 holds [0,100), [200,300), [400,500); thread 1 holds
        // [100,200), [300,400), [500,600). Each acquisition but thread 0's
        // first finds the other holding the lock and waits 100.
        let plan = ThreadPlan::repeated(vec![acquire(LockId(0)), run(100), release(LockId(0))], 3);
        let c = simulate(&[plan.clone(), plan], 1).unwrap();
        assert_eq!(c.makespan, SimNanos(600));
        assert_eq!(c.finish, ns(&[500, 600]));
        assert_eq!(c.busy, SimNanos(600));
        assert_eq!(
            c.locks,
            vec![LockStats { acquisitions: 6, contended: 5, hold: SimNanos(600), wait: SimNanos(500), max_waiters: 1 }]
        );
    }

    #[test]
    fn threads_that_only_run_scale_perfectly() {
        for threads in [1, 2, 8, 64] {
            let plan = ThreadPlan {
                prologue: vec![run(7)],
                unit: vec![run(10), run(5)],
                repeats: 1000,
                epilogue: vec![run(3)],
            };
            let c = simulate(&vec![plan; threads], 0).unwrap();
            assert_eq!(c.makespan, SimNanos(7 + 15_000 + 3), "{threads} threads");
            assert_eq!(c.finish, vec![SimNanos(15_010); threads]);
            assert_eq!(c.busy, SimNanos(15_010 * threads as u64));
            assert!(c.locks.is_empty());
        }
    }

    #[test]
    fn work_outside_the_lock_hides_it() {
        // Two threads, 3 units of 300 outside and 100 under the lock: the
        // lock is free more than it is busy, so after one wait of 100 (at
        // 300, thread 1 queues behind thread 0) the threads stay out of
        // step. Makespan n(w+h) + h: thread 1 is one hold behind.
        let plan = ThreadPlan::repeated(critical_unit(300, 100), 3);
        let c = simulate(&[plan.clone(), plan], 1).unwrap();
        assert_eq!(c.makespan, SimNanos(3 * 400 + 100));
        assert_eq!(c.finish, ns(&[1200, 1300]));
        assert_eq!(
            c.locks,
            vec![LockStats { acquisitions: 6, contended: 1, hold: SimNanos(600), wait: SimNanos(100), max_waiters: 1 }]
        );
    }

    #[test]
    fn a_busy_lock_bounds_the_makespan() {
        // Four threads, 3 units of 100 outside and 100 under the lock: the
        // lock is the bottleneck. From 100 on it is never free, so the
        // makespan is w + T*n*h = 100 + 1200. In the first round thread j
        // waits 100*j; every later acquisition comes 100 after its own
        // release and waits out the other three's holds less that: 200.
        let plan = ThreadPlan::repeated(critical_unit(100, 100), 3);
        let c = simulate(&vec![plan; 4], 1).unwrap();
        assert_eq!(c.makespan, SimNanos(100 + 4 * 3 * 100));
        assert_eq!(c.finish, ns(&[1000, 1100, 1200, 1300]));
        assert_eq!(c.busy, SimNanos(4 * 3 * 200));
        assert_eq!(
            c.locks,
            vec![LockStats {
                acquisitions: 12,
                contended: 11,
                hold: SimNanos(1200),
                wait: SimNanos((100 + 200 + 300) + 8 * 200),
                max_waiters: 3,
            }]
        );
    }

    #[test]
    fn nested_locks_serialise_a_process_and_share_the_pfn_lock() {
        // Threads 0 and 1 fault in process A: its working-set lock, then the
        // PFN lock inside. Thread 2 faults in process B, with its own
        // working-set lock (2), and meets A's threads only at the PFN lock.
        let ws_b = LockId(2);
        let in_a = ThreadPlan::repeated(
            vec![acquire(WS), run(20), acquire(PFN), run(30), release(PFN), run(10), release(WS)],
            1,
        );
        let in_b = ThreadPlan::repeated(
            vec![run(30), acquire(ws_b), run(5), acquire(PFN), run(25), release(PFN), release(ws_b)],
            1,
        );
        let c = simulate(&[in_a.clone(), in_a, in_b], 3).unwrap();
        // Thread 0: WS 0-60, PFN 20-50. Thread 2 asks for the PFN lock at
        // 35 and has it 50-75. Thread 1 waits for A's working-set lock
        // until 60, then has the PFN lock 80-110 and finishes at 120: the
        // two threads of A never overlap.
        assert_eq!(c.finish, ns(&[60, 120, 75]));
        assert_eq!(c.makespan, SimNanos(120));
        assert_eq!(
            c.locks,
            vec![
                LockStats { acquisitions: 2, contended: 1, hold: SimNanos(120), wait: SimNanos(60), max_waiters: 1 },
                LockStats { acquisitions: 3, contended: 1, hold: SimNanos(85), wait: SimNanos(15), max_waiters: 1 },
                LockStats { acquisitions: 1, contended: 0, hold: SimNanos(45), wait: SimNanos(0), max_waiters: 0 },
            ]
        );
    }

    #[test]
    fn waiters_get_the_lock_in_the_order_they_asked() {
        // Thread 0 holds the lock 0-1000; threads 1, 2 and 3 ask at 300,
        // 100 and 200, and get it in that order of time, not of number.
        let holder = ThreadPlan::repeated(vec![acquire(LockId(0)), run(1000), release(LockId(0))], 1);
        let asker = |at| ThreadPlan::repeated(vec![run(at), acquire(LockId(0)), run(10), release(LockId(0))], 1);
        let c = simulate(&[holder, asker(300), asker(100), asker(200)], 1).unwrap();
        assert_eq!(c.finish, ns(&[1000, 1030, 1010, 1020]));
        assert_eq!(c.locks[0].wait, SimNanos((1020 - 300) + (1000 - 100) + (1010 - 200)));
        assert_eq!(c.locks[0].contended, 3);
        assert_eq!(c.locks[0].max_waiters, 3);
    }

    #[test]
    fn a_thread_that_asks_again_goes_behind_those_waiting() {
        // Thread 0 releases and asks again at once; thread 1, waiting since
        // 0, has the lock first.
        let greedy = ThreadPlan::repeated(vec![acquire(LockId(0)), run(50), release(LockId(0))], 2);
        let other = ThreadPlan::repeated(vec![acquire(LockId(0)), run(10), release(LockId(0))], 1);
        let c = simulate(&[greedy, other], 1).unwrap();
        assert_eq!(c.finish, ns(&[110, 60]));
        assert_eq!(c.locks[0].wait, SimNanos(50 + 10));
    }

    #[test]
    fn simultaneous_events_go_in_thread_order() {
        let holds = ThreadPlan::repeated(vec![acquire(LockId(0)), run(100), release(LockId(0))], 1);
        let asks = ThreadPlan::repeated(vec![run(100), acquire(LockId(0)), run(10), release(LockId(0))], 1);
        // Thread 0 asks at 100, the instant thread 1 releases: it goes
        // first, so it queues and is handed the lock, waiting zero.
        let c = simulate(&[asks.clone(), holds.clone()], 1).unwrap();
        assert_eq!(c.finish, ns(&[110, 100]));
        assert_eq!((c.locks[0].contended, c.locks[0].wait), (1, SimNanos(0)));
        // Thread 0 releases at 100, the instant thread 1 asks: the lock is
        // free by then.
        let c = simulate(&[holds, asks], 1).unwrap();
        assert_eq!(c.finish, ns(&[100, 110]));
        assert_eq!((c.locks[0].contended, c.locks[0].wait), (0, SimNanos(0)));
    }

    #[test]
    fn a_rotated_unit_that_holds_a_lock_across_repetitions_is_valid() {
        let plan = ThreadPlan {
            prologue: vec![acquire(LockId(0))],
            unit: vec![run(5), release(LockId(0)), run(1), acquire(LockId(0))],
            repeats: 10,
            epilogue: vec![release(LockId(0))],
        };
        let c = simulate(&[plan], 1).unwrap();
        assert_eq!(c.makespan, SimNanos(60));
        assert_eq!(c.locks[0].acquisitions, 11);
        assert_eq!(c.locks[0].hold, SimNanos(50));
    }

    #[test]
    fn every_plan_error_is_reported_where_it_is() {
        let one = |plan: ThreadPlan| simulate(&[ThreadPlan::default(), plan], 2).unwrap_err();
        assert_eq!(
            one(ThreadPlan { epilogue: vec![run(1), acquire(LockId(2))], ..Default::default() }),
            PlanError::UnknownLock { thread: 1, at: Position::Epilogue(1), lock: LockId(2), locks: 2 }
        );
        // Even in a unit that is never done.
        assert_eq!(
            one(ThreadPlan::repeated(vec![release(LockId(9))], 0)),
            PlanError::UnknownLock {
                thread: 1,
                at: Position::Unit { repetition: 0, index: 0 },
                lock: LockId(9),
                locks: 2
            }
        );
        assert_eq!(
            one(ThreadPlan { prologue: vec![run(1), release(PFN)], ..Default::default() }),
            PlanError::ReleaseNotHeld { thread: 1, at: Position::Prologue(1), lock: PFN }
        );
        assert_eq!(
            one(ThreadPlan { prologue: vec![acquire(WS), acquire(WS)], ..Default::default() }),
            PlanError::AcquireHeld { thread: 1, at: Position::Prologue(1), lock: WS }
        );
        assert_eq!(
            one(ThreadPlan { prologue: vec![acquire(PFN), acquire(WS)], ..Default::default() }),
            PlanError::HeldAtEnd { thread: 1, lock: WS }
        );
        // A unit that takes a lock and keeps it fails on its second
        // repetition, one that gives up a lock it did not take on its
        // second too (after the prologue's one is gone).
        assert_eq!(
            one(ThreadPlan::repeated(vec![acquire(PFN)], 5)),
            PlanError::AcquireHeld { thread: 1, at: Position::Unit { repetition: 1, index: 0 }, lock: PFN }
        );
        assert_eq!(one(ThreadPlan::repeated(vec![acquire(PFN)], 1)), PlanError::HeldAtEnd { thread: 1, lock: PFN });
        assert_eq!(
            one(ThreadPlan {
                prologue: vec![acquire(WS)],
                unit: vec![run(1), release(WS)],
                repeats: 3,
                epilogue: vec![]
            }),
            PlanError::ReleaseNotHeld { thread: 1, at: Position::Unit { repetition: 1, index: 1 }, lock: WS }
        );
        let e = one(ThreadPlan::repeated(vec![acquire(PFN)], 5));
        assert_eq!(e.to_string(), "thread 1, unit repetition 1, segment 0: acquires lock 1, which it already holds");
    }

    #[test]
    fn a_deadlock_is_an_error_not_a_hang() {
        // Thread 1 takes WS then PFN, thread 2 PFN then WS; both have their
        // first lock at 0 and ask for the other's at 10.
        let a_then_b = ThreadPlan::repeated(vec![acquire(WS), run(10), acquire(PFN), release(PFN), release(WS)], 1);
        let b_then_a = ThreadPlan::repeated(vec![acquire(PFN), run(10), acquire(WS), release(WS), release(PFN)], 1);
        let bystander = ThreadPlan::repeated(vec![run(5)], 1);
        let e = simulate(&[bystander, a_then_b.clone(), b_then_a.clone()], 2).unwrap_err();
        assert_eq!(e, PlanError::Deadlock { at: SimNanos(10), thread: 1, lock: PFN, holder: 2, blocked: 2 });
        assert!(e.to_string().starts_with("deadlock at 10 ns: thread 1 waits for lock 1, held by thread 2"));
        // The same plans out of step do not deadlock.
        let late = ThreadPlan { prologue: vec![run(20)], ..b_then_a };
        let c = simulate(&[a_then_b, late], 2).unwrap();
        assert_eq!(c.finish, ns(&[10, 30]));
    }

    #[test]
    fn no_threads_and_empty_units_finish_at_once() {
        let c = simulate(&[], 3).unwrap();
        assert_eq!(c.makespan, SimNanos(0));
        assert_eq!(c.locks, vec![LockStats::default(); 3]);
        let c = simulate(&[ThreadPlan::repeated(Vec::new(), u64::MAX)], 0).unwrap();
        assert_eq!(c.finish, ns(&[0]));
    }

    fn mixed() -> Vec<ThreadPlan> {
        (0..6u64)
            .map(|t| ThreadPlan {
                prologue: vec![run(t * 7)],
                unit: if t % 2 == 0 {
                    vec![run(20 + t), acquire(WS), run(5), acquire(PFN), run(3 + t), release(PFN), release(WS)]
                } else {
                    vec![run(40), acquire(PFN), run(11), release(PFN)]
                },
                repeats: 50 + t,
                epilogue: vec![acquire(WS), run(1), release(WS)],
            })
            .collect()
    }

    #[test]
    fn the_same_plans_give_the_same_contention() {
        let a = simulate(&mixed(), 2).unwrap();
        let b = simulate(&mixed(), 2).unwrap();
        assert_eq!(a, b);
        assert!(a.locks[0].contended > 0 && a.locks[1].contended > 0);
        // Every lock's holds fit in the makespan: each is mutually exclusive.
        for l in &a.locks {
            assert!(l.hold <= a.makespan);
        }
        assert_eq!(a.busy, mixed().iter().fold(SimNanos(0), |s, p| s + p.run_time()));
    }

    /// The rules read literally, segment by segment, every `Run` a yield:
    /// what [`simulate`] must agree with. `None` for a deadlock.
    fn literal(threads: &[ThreadPlan], locks: usize) -> Option<Contention> {
        let plans: Vec<Vec<Segment>> = threads
            .iter()
            .map(|p| {
                let mut all = p.prologue.clone();
                for _ in 0..p.repeats {
                    all.extend(&p.unit);
                }
                all.extend(&p.epilogue);
                all
            })
            .collect();
        let mut at = vec![0; plans.len()];
        let mut finish = vec![SimNanos(0); plans.len()];
        let mut holder: Vec<Option<usize>> = vec![None; locks];
        let mut since = vec![0u64; locks];
        let mut queue: Vec<VecDeque<(usize, u64)>> = vec![VecDeque::new(); locks];
        let mut stats = vec![LockStats::default(); locks];
        let mut ready: BinaryHeap<Reverse<(u64, usize)>> = (0..plans.len()).map(|i| Reverse((0, i))).collect();
        let mut done = 0;
        while let Some(Reverse((t, i))) = ready.pop() {
            loop {
                let Some(&segment) = plans[i].get(at[i]) else {
                    finish[i] = SimNanos(t);
                    done += 1;
                    break;
                };
                at[i] += 1;
                match segment {
                    Segment::Run(d) => {
                        ready.push(Reverse((t + d.0, i)));
                        break;
                    }
                    Segment::Acquire(l) => {
                        let l = l.index();
                        stats[l].acquisitions += 1;
                        if holder[l].is_none() {
                            holder[l] = Some(i);
                            since[l] = t;
                        } else {
                            queue[l].push_back((i, t));
                            stats[l].contended += 1;
                            stats[l].max_waiters = stats[l].max_waiters.max(queue[l].len() as u32);
                            break;
                        }
                    }
                    Segment::Release(l) => {
                        let l = l.index();
                        stats[l].hold += SimNanos(t - since[l]);
                        holder[l] = None;
                        if let Some((w, asked)) = queue[l].pop_front() {
                            holder[l] = Some(w);
                            since[l] = t;
                            stats[l].wait += SimNanos(t - asked);
                            ready.push(Reverse((t, w)));
                        }
                    }
                }
            }
        }
        (done == plans.len()).then(|| Contention {
            makespan: finish.iter().copied().max().unwrap_or_default(),
            finish,
            locks: stats,
            busy: threads.iter().fold(SimNanos(0), |s, p| s + p.run_time()),
        })
    }

    /// A valid list of segments from `next` (a pseudo-random source):
    /// runs, often of zero so that events tie, and lock operations in any
    /// order, every lock taken released by the end.
    fn random_segments(next: &mut impl FnMut(u64) -> u64, locks: u8) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut held: Vec<LockId> = Vec::new();
        for _ in 0..next(8) {
            let l = LockId(next(u64::from(locks)) as u8);
            match next(3) {
                0 => out.push(run(next(4) * 5)),
                _ if held.contains(&l) => {
                    held.retain(|&h| h != l);
                    out.push(release(l));
                }
                _ => {
                    held.push(l);
                    out.push(acquire(l));
                }
            }
        }
        while !held.is_empty() {
            let l = held.remove(next(held.len() as u64) as usize);
            out.push(run(next(3)));
            out.push(release(l));
        }
        out
    }

    #[test]
    fn agrees_with_the_rules_read_literally() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n.max(1)
        };
        let (mut deadlocks, mut contended) = (0, 0);
        for _ in 0..400 {
            let locks = 1 + next(3) as u8;
            let threads: Vec<ThreadPlan> = (0..1 + next(5))
                .map(|_| ThreadPlan {
                    prologue: random_segments(&mut next, locks),
                    unit: random_segments(&mut next, locks),
                    repeats: next(6),
                    epilogue: random_segments(&mut next, locks),
                })
                .collect();
            let fast = simulate(&threads, usize::from(locks));
            match literal(&threads, usize::from(locks)) {
                Some(expected) => {
                    contended += expected.locks.iter().map(|l| l.contended).sum::<u64>();
                    assert_eq!(fast, Ok(expected), "{threads:?}");
                }
                None => {
                    deadlocks += 1;
                    assert!(matches!(fast, Err(PlanError::Deadlock { .. })), "{threads:?}: {fast:?}");
                }
            }
        }
        // The cases exercise what they are meant to.
        assert!(deadlocks > 5 && contended > 100, "{deadlocks} deadlocks, {contended} contended");
    }

    #[test]
    fn sixteen_threads_on_a_saturated_lock_keep_it_busy() {
        // w <= (T-1)h: once every thread has queued, the lock never idles,
        // so the makespan is exactly w + T*n*h.
        let (threads, repeats) = (16u64, 100_000u64);
        let plan = ThreadPlan::repeated(vec![run(60), acquire(WS), run(50), release(WS), run(40), run(0)], repeats);
        let c = simulate(&vec![plan; threads as usize], 1).unwrap();
        assert_eq!(c.makespan, SimNanos(60 + threads * repeats * 50 + 40));
        assert_eq!(c.busy, SimNanos(threads * repeats * 150));
        assert_eq!(c.locks[0].acquisitions, threads * repeats);
        assert_eq!(c.locks[0].hold, SimNanos(threads * repeats * 50));
        assert_eq!(c.locks[0].max_waiters, 15);
    }
}
