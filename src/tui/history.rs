//! Checkpoints for stepping back.
//!
//! The engine only runs forward, so the TUI keeps copies of the runner
//! (machine, workload generator and expectation results) every `interval`
//! steps. Stepping back to step N restores the last copy taken before N
//! and replays the steps in between; the engine is deterministic, so the
//! replayed state is the state the student saw, bit for bit.
//!
//! Copies of a large machine are large (24 bytes per frame, plus page
//! tables and working sets), so the copies share a byte budget: when it is
//! exceeded, every other copy is dropped and the interval doubles. A
//! 64-frame scenario of 10,000 steps keeps a copy every 16 steps; a 4 GiB
//! machine keeps a handful. Copying a 4 GiB machine takes tens of
//! milliseconds, so the app takes a due copy while it is idle, after the
//! step has been drawn, or just before the next step.

use crate::runner::Runner;

/// Steps between checkpoints at first.
pub const FIRST_INTERVAL: usize = 16;
/// Bytes all checkpoints together may take (estimated).
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Runner copies taken every `interval` steps, oldest first.
#[derive(Clone)]
pub struct History {
    copies: Vec<Runner>,
    interval: usize,
    budget: usize,
    bytes_each: usize,
}

impl History {
    /// A history whose first checkpoint is `start` (normally before step 1).
    pub fn new(start: &Runner, budget: usize) -> History {
        History {
            copies: vec![start.clone()],
            interval: FIRST_INTERVAL,
            budget,
            bytes_each: start.machine().host_bytes() as usize,
        }
    }

    /// Whether `runner` is at least an interval beyond the last checkpoint,
    /// and between steps (a step is replayed whole from its start).
    pub fn due(&self, runner: &Runner) -> bool {
        if runner.reference_position().is_some() {
            return false;
        }
        let last = self.copies.last().map_or(0, Runner::steps_done);
        runner.steps_done() >= last + self.interval
    }

    /// Takes a checkpoint if one is due; thins the copies when they exceed
    /// the budget (keeping the first).
    pub fn record(&mut self, runner: &Runner) {
        if !self.due(runner) {
            return;
        }
        self.bytes_each = self.bytes_each.max(runner.machine().host_bytes() as usize);
        self.copies.push(runner.clone());
        while self.copies.len() > 2 && self.copies.len() * self.bytes_each > self.budget {
            self.interval *= 2;
            let mut i = 0;
            self.copies.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
    }

    /// The checkpoint to replay from to reach step `target`: the last one
    /// taken before it (so the replay runs step `target` itself and yields
    /// its events), or the first one when `target` is 0.
    pub fn before(&self, target: usize) -> &Runner {
        let i = self.copies.partition_point(|r| r.steps_done() < target);
        &self.copies[i.saturating_sub(1)]
    }

    /// Steps between checkpoints now.
    pub fn interval(&self) -> usize {
        self.interval
    }

    /// Number of checkpoints kept.
    pub fn len(&self) -> usize {
        self.copies.len()
    }

    /// Whether no checkpoint is kept (never: the first one is always kept).
    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    /// The step of every checkpoint, oldest first.
    pub fn steps(&self) -> Vec<usize> {
        self.copies.iter().map(Runner::steps_done).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tour() -> Runner {
        let s = crate::scenario::resolve("tour", &[]).unwrap();
        Runner::new(Arc::new(s), true).unwrap()
    }

    #[test]
    fn takes_a_copy_every_interval_and_finds_the_one_before() {
        let mut r = tour();
        let mut h = History::new(&r, DEFAULT_BUDGET);
        h.interval = 4;
        while r.step().is_some() {
            h.record(&r);
        }
        assert_eq!(h.steps(), vec![0, 4, 8, 12]);
        assert_eq!(h.before(0).steps_done(), 0);
        assert_eq!(h.before(4).steps_done(), 0);
        assert_eq!(h.before(5).steps_done(), 4);
        assert_eq!(h.before(14).steps_done(), 12);
    }

    #[test]
    fn thins_copies_to_stay_within_the_budget() {
        let mut r = tour();
        let each = r.machine().host_bytes() as usize;
        let mut h = History::new(&r, each * 3);
        h.interval = 2;
        while r.step().is_some() {
            h.record(&r);
        }
        assert!(h.len() * h.bytes_each <= each * 3 || h.len() <= 2, "{:?}", h.steps());
        assert!(h.interval() > 2);
        assert_eq!(h.steps()[0], 0);
        assert!(h.steps().windows(2).all(|w| w[1] - w[0] >= 2));
    }

    #[test]
    fn a_late_copy_is_taken_where_the_runner_is() {
        let mut r = tour();
        let mut h = History::new(&r, DEFAULT_BUDGET);
        h.interval = 4;
        for _ in 0..6 {
            r.step();
        }
        assert!(h.due(&r));
        h.record(&r);
        assert!(!h.due(&r));
        assert_eq!(h.steps(), vec![0, 6]);
        r.step();
        h.record(&r);
        assert_eq!(h.steps(), vec![0, 6], "not due until step 10");
    }
}
