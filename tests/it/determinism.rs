//! Determinism: the same inputs give the same output, bit for bit.

use std::sync::Arc;

use pagelab::event::Event;
use pagelab::machine::Snapshot;
use pagelab::runner::{CheckResult, Runner};
use pagelab::scenario::{builtin::BUILTINS, load_str, Override};

use crate::util::{pagelab, s, TempDir};

#[test]
fn every_builtin_gives_identical_json_and_events_twice() {
    for (name, _) in BUILTINS {
        let a = pagelab(&["run", name, "--json", "--events"]);
        a.code(0);
        let b = pagelab(&["run", name, "--json", "--events"]);
        assert_eq!(a.stdout, b.stdout, "{name}: two runs differ");
        let steps = a.json()["steps_log"].as_array().expect("steps_log").clone();
        assert_eq!(steps[1]["number"], 1, "{name}: step 1 missing from the log");
        assert!(steps.iter().any(|s| !s["events"].as_array().expect("events").is_empty()), "{name}: no events");
        // The text report with events too.
        let a = pagelab(&["run", name, "--events"]);
        let b = pagelab(&["run", name, "--events"]);
        assert_eq!(a.stdout, b.stdout, "{name}: two text runs differ");
    }
}

/// A pseudo-random reference string with some locality.
fn trace_text(n: usize, seed: u64) -> String {
    let mut x = seed;
    let mut out = String::new();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let page = if x % 4 == 0 { x % 200 } else { (i as u64 / 10) % 40 + x % 8 };
        out.push_str(&page.to_string());
        out.push(if i % 16 == 15 { '\n' } else { ' ' });
    }
    out
}

#[test]
fn random_replay_with_a_seed_is_reproducible() {
    let dir = TempDir::new("random");
    let t = dir.write("t.refs", trace_text(3000, 0x9e37_79b9));
    let run = || pagelab(&["replay", s(&t), "--policy", "random", "--seed", "7", "--frames", "16", "--json"]);
    let a = run();
    a.code(0);
    let b = run();
    assert_eq!(a.stdout, b.stdout);
    let v = a.json();
    assert_eq!(v["references"], 3000);
    // Text reports are identical too (no host timings in them).
    let args = ["replay", s(&t), "--policy", "random", "--seed", "7", "--frames", "16"];
    assert_eq!(pagelab(&args).stdout, pagelab(&args).stdout);
    // Every other policy is deterministic as well.
    for p in ["fifo", "lru", "clock", "opt"] {
        let args = ["replay", s(&t), "--policy", p, "--frames", "16", "--json"];
        assert_eq!(pagelab(&args).stdout, pagelab(&args).stdout, "{p}");
    }
}

/// Everything a run produced: each step's events, error and checks, the
/// final snapshot, and every check.
type RunLog = (Vec<(usize, Vec<Event>, Option<String>, Vec<CheckResult>)>, Snapshot, Vec<CheckResult>);

fn run_in_process(text: &str, name: &str, overrides: &[Override]) -> RunLog {
    let s = load_str(text, name, None, overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut r = Runner::new(Arc::new(s), true).unwrap();
    let mut steps = vec![(0, r.setup_events().to_vec(), None, Vec::new())];
    while let Some(o) = r.step() {
        steps.push((o.number, o.events, o.error, o.checks));
    }
    (steps, r.machine().snapshot(), r.checks().to_vec())
}

#[test]
fn runner_events_are_identical_in_process() {
    for (name, text) in BUILTINS {
        let a = run_in_process(text, name, &[]);
        let b = run_in_process(text, name, &[]);
        assert!(a.0.iter().map(|s| s.1.len()).sum::<usize>() > 0, "{name} recorded no events");
        assert_eq!(a, b, "{name}");
        // With a random policy and a fixed seed, too.
        let o = [Override::parse("policy=random").unwrap(), Override::parse("seed=99").unwrap()];
        assert_eq!(run_in_process(text, name, &o), run_in_process(text, name, &o), "{name}, random policy");
    }
}

#[test]
fn a_cloned_runner_continues_exactly_like_the_original() {
    // The TUI keeps clones of the runner to step back to: a clone taken
    // halfway must finish exactly as the original does.
    for (name, text) in BUILTINS {
        let o = [Override::parse("policy=random").unwrap()];
        let s = Arc::new(load_str(text, name, None, &o).unwrap());
        let mut r = Runner::new(Arc::clone(&s), true).unwrap();
        let half = s.steps.len() / 2;
        for _ in 0..half {
            r.step().unwrap();
        }
        let mut c = r.clone();
        let rest = |r: &mut Runner| {
            let mut v = Vec::new();
            while let Some(o) = r.step() {
                v.push((o.events, o.error, o.checks));
            }
            (v, r.machine().snapshot(), r.passed())
        };
        assert_eq!(rest(&mut r), rest(&mut c), "{name}");
    }
}
