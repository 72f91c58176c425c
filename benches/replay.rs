//! Replay throughput of the full machine on a Zipf trace.
//!
//! The headline: 50M references over 1M distinct pages (Zipf alpha 0.99,
//! seed 1, the trace `pagelab gen-trace --pages 1000000 --refs 50000000
//! --alpha 0.99 --seed 1` writes), replayed with FIFO into a 131072-frame
//! working set on a 64 GiB simulated machine, from an in-memory
//! oracleGeneral buffer, so record parsing is timed as libCacheSim's
//! reading is. Every run builds its machine (16M frames) inside the timed
//! region. Smaller variants follow: the same replay from pages already in
//! memory (no parsing), and LRU and CLOCK on the first 10M references.
//! Last, text against binary: the first 10M references as a `refs` text
//! (one page number a line, as `gen-trace` writes it) and as oracleGeneral
//! records, the same FIFO replay of each, and the ratio of their times,
//! which should be at most 1.3 (the text reader is not the bottleneck).
//! Results and how they compare with libCacheSim: `benches/README.md`.
//!
//! `cargo bench --bench replay [-- NAME...]`: only the cases whose name
//! contains one of the NAMEs (`-- text` for text against binary).
//! `PAGELAB_BENCH_REFS` (default 50000000) and `PAGELAB_BENCH_RUNS`
//! (default 3) change the size; the best run counts.
//! `PAGELAB_BENCH_STRICT=1` makes a text/binary ratio over 1.3 a failure.
//! `scripts/bench-vs-libcachesim.sh` runs the same trace through the
//! command line and libCacheSim side by side.

use std::time::{Duration, Instant};

use pagelab::replay::{replay, replay_pages, ReplayConfig, ReplayResult};
use pagelab::trace::{write_oracle_general, TraceFormat};
use pagelab::tracegen::{zipf_pages, ZipfSpec};
use pagelab::units::Bytes;
use pagelab::working_set::PolicyKind;

const PAGES: u64 = 1_000_000;
const FRAMES: u64 = 131_072;
const ALPHA: f64 = 0.99;
const SEED: u64 = 1;
const MEMORY: Bytes = Bytes(64 << 30);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(policy: PolicyKind) -> ReplayConfig {
    let mut cfg = ReplayConfig::new(policy, FRAMES);
    cfg.set_memory(MEMORY);
    cfg
}

/// Runs `f` `runs` times; returns the best time and the (identical) result.
fn best_of(runs: u64, mut f: impl FnMut() -> ReplayResult) -> (Duration, ReplayResult) {
    let mut best = Duration::MAX;
    let mut result = None;
    for _ in 0..runs {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed());
        if let Some(prev) = &result {
            let prev: &ReplayResult = prev;
            assert_eq!((prev.references, prev.faults), (r.references, r.faults), "replay is deterministic");
        }
        result = Some(r);
    }
    (best, result.expect("at least one run"))
}

fn report(name: &str, (time, r): (Duration, ReplayResult)) {
    let secs = time.as_secs_f64();
    println!(
        "{name:<34} {:>11} refs {:>10} faults ({:>5.2}%) {:>8.3} s {:>7.2} M refs/s",
        r.references,
        r.faults,
        r.fault_rate * 100.0,
        secs,
        r.references as f64 / secs / 1e6
    );
}

/// The most a text replay may take, as a multiple of the binary replay of
/// the same references.
const TEXT_OVER_BINARY: f64 = 1.3;

/// The references as a `refs` text, one decimal page number a line.
fn refs_text(pages: &[u64]) -> Vec<u8> {
    let mut text = Vec::with_capacity(pages.len() * 8);
    for p in pages {
        text.extend_from_slice(p.to_string().as_bytes());
        text.push(b'\n');
    }
    text
}

fn main() {
    let refs = env("PAGELAB_BENCH_REFS", 50_000_000);
    let runs = env("PAGELAB_BENCH_RUNS", 3).max(1);
    // Arguments that are not cargo's own flags select cases by name.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |case: &str| only.is_empty() || only.iter().any(|o| case.contains(o.as_str()));
    let small = refs.min(10_000_000) as usize;
    println!(
        "trace: Zipf alpha {ALPHA}, seed {SEED}, {PAGES} pages, {refs} references; \
         {FRAMES} frames, memory {MEMORY}; best of {runs}"
    );
    let t = Instant::now();
    // The whole trace only for the cases that replay all of it.
    let full = wanted("fifo, oracleGeneral in memory") || wanted("fifo, pages in memory");
    let n = if full { refs } else { small as u64 };
    let pages = zipf_pages(ZipfSpec { pages: PAGES, refs: n, alpha: ALPHA, seed: SEED }).expect("valid trace settings");
    println!("(trace generated in {:.1} s)", t.elapsed().as_secs_f64());

    let fifo = config(PolicyKind::Fifo);
    if wanted("fifo, oracleGeneral in memory") {
        let mut og = Vec::with_capacity(pages.len() * 24);
        write_oracle_general(&pages, &mut og).expect("writing to memory");
        report(
            "fifo, oracleGeneral in memory",
            best_of(runs, || replay(&og[..], TraceFormat::OracleGeneral, &fifo).expect("replay")),
        );
    }
    if wanted("fifo, pages in memory") {
        report("fifo, pages in memory", best_of(runs, || replay_pages(&pages, &fifo).expect("replay")));
    }
    for policy in [PolicyKind::Lru, PolicyKind::Clock] {
        let cfg = config(policy);
        let name = format!("{}, pages in memory, first {}M", policy.name(), small / 1_000_000);
        if wanted(&name) {
            report(&name, best_of(runs, || replay_pages(&pages[..small], &cfg).expect("replay")));
        }
    }
    if wanted("text against binary") {
        text_against_binary(&pages[..small], runs, &fifo);
    }
}

/// The same FIFO replay from a `refs` text and from oracleGeneral records
/// in memory: the same faults, and the text's time over the binary's.
fn text_against_binary(pages: &[u64], runs: u64, fifo: &ReplayConfig) {
    let m = pages.len() as f64 / 1e6;
    let text = refs_text(pages);
    let mut og = Vec::with_capacity(pages.len() * 24);
    write_oracle_general(pages, &mut og).expect("writing to memory");
    let binary = best_of(runs, || replay(&og[..], TraceFormat::OracleGeneral, fifo).expect("replay"));
    drop(og);
    let refs = best_of(runs, || replay(&text[..], TraceFormat::Refs, fifo).expect("replay"));
    assert_eq!((refs.1.references, refs.1.faults), (binary.1.references, binary.1.faults), "the same trace");
    let ratio = refs.0.as_secs_f64() / binary.0.as_secs_f64();
    println!("text against binary, fifo, first {m:.0}M:");
    report("  oracleGeneral in memory", binary);
    report("  refs text in memory", refs);
    let verdict = if ratio <= TEXT_OVER_BINARY { "within" } else { "OVER" };
    println!("text against binary: {ratio:.2}x the binary time, {verdict} the target of {TEXT_OVER_BINARY}x");
    if ratio > TEXT_OVER_BINARY && std::env::var_os("PAGELAB_BENCH_STRICT").is_some() {
        eprintln!("replay bench: the refs text took {ratio:.2}x the oracleGeneral replay's time");
        std::process::exit(1);
    }
}
