//! Speed of the LRU miss-ratio curve: Mattson's stack in one pass.
//!
//! The trace is what `pagelab gen-trace --pages 100000 --refs 10000000`
//! writes (Zipf alpha 0.99, seed 1): 10M references to 100,000 distinct
//! pages, timed three ways: from the `refs` text in memory (parsing
//! included, as `pagelab mrc` reads a file), from oracleGeneral records in
//! memory, and from a page array (the stack alone). Each run computes the
//! curve's every size; the curve is checked against replays of the machine
//! at a few sizes first.
//!
//! `cargo bench --bench mrc`; `PAGELAB_BENCH_REFS` (default 10000000) and
//! `PAGELAB_BENCH_RUNS` (default 3) change the size; the best run counts.

use std::time::{Duration, Instant};

use pagelab::mrc::{lru_distances, lru_pass, StackDistances};
use pagelab::replay::{replay_pages, ReplayConfig};
use pagelab::trace::{write_oracle_general, TraceFormat};
use pagelab::tracegen::{zipf_pages, ZipfSpec};
use pagelab::working_set::PolicyKind;

const PAGES: u64 = 100_000;
const ALPHA: f64 = 0.99;
const SEED: u64 = 1;
/// One past the last user page of x64.
const END_PAGE: u64 = 0x7FFF_FFFF_0000 >> 12;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Time this thread has spent on a CPU (Linux's schedstat, in
/// nanoseconds), if it can be read: on a machine shared with other work,
/// a truer measure of the pass's own cost than the wall clock.
fn on_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

/// Best times of a pass: wall clock, and on a CPU where known.
struct Best {
    wall: Duration,
    cpu: Option<Duration>,
}

/// Runs `f` `runs` times; the best times and the (identical) distances.
fn best_of(runs: u64, mut f: impl FnMut() -> StackDistances) -> (Best, StackDistances) {
    let mut best = Best { wall: Duration::MAX, cpu: None };
    let mut result: Option<StackDistances> = None;
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), on_cpu());
        let d = f();
        best.wall = best.wall.min(start.elapsed());
        if let (Some(a), Some(b)) = (cpu, on_cpu()) {
            best.cpu = Some(best.cpu.map_or(b - a, |c: Duration| c.min(b - a)));
        }
        if let Some(prev) = &result {
            assert_eq!(prev, &d, "the pass is deterministic");
        }
        result = Some(d);
    }
    (best, result.expect("at least one run"))
}

fn report(name: &str, (time, d): (Best, StackDistances)) {
    let rate = |t: Duration| d.references as f64 / t.as_secs_f64() / 1e6;
    println!(
        "{name:<32} {:>10} refs {:>7} pages, misses at 1024 frames {:>8}: {:>6.3} s {:>6.2} M refs/s{}",
        d.references,
        d.compulsory,
        d.misses(1024),
        time.wall.as_secs_f64(),
        rate(time.wall),
        time.cpu.map_or(String::new(), |c| format!(" (on CPU {:.3} s: {:.2} M refs/s)", c.as_secs_f64(), rate(c)))
    );
}

fn main() {
    let refs = env("PAGELAB_BENCH_REFS", 10_000_000);
    let runs = env("PAGELAB_BENCH_RUNS", 3).max(1);
    println!("trace: Zipf alpha {ALPHA}, seed {SEED}, {PAGES} pages, {refs} references; best of {runs}");
    let pages = zipf_pages(ZipfSpec { pages: PAGES, refs, alpha: ALPHA, seed: SEED }).expect("valid trace settings");
    let mut text = Vec::with_capacity(pages.len() * 7);
    for p in &pages {
        text.extend_from_slice(format!("{p}\n").as_bytes());
    }
    let mut og = Vec::with_capacity(pages.len() * 24);
    write_oracle_general(&pages, &mut og).expect("writing to memory");

    // The stack's curve is the machine's: a few sizes, on the first 1M.
    let head = &pages[..pages.len().min(1_000_000)];
    let d = lru_distances(head, END_PAGE);
    for frames in [16, 1024, 16384] {
        let r = replay_pages(head, &ReplayConfig::new(PolicyKind::Lru, frames)).expect("replay");
        assert_eq!(d.misses(frames), r.faults, "LRU at {frames} frames");
    }

    let pass = |input: &[u8], format| lru_pass(input, format, END_PAGE, |_| Ok(())).expect("a valid trace");
    report("lru curve, refs text in memory", best_of(runs, || pass(&text, TraceFormat::Refs)));
    report("lru curve, oracleGeneral", best_of(runs, || pass(&og, TraceFormat::OracleGeneral)));
    report("lru curve, pages in memory", best_of(runs, || lru_distances(&pages, END_PAGE)));
}
