//! Free-block distributions and Linux's fragmentation indices: properties
//! of the library against a bitmap model of a buddy allocator, and
//! `pagelab fragmentation` on real and broken buddyinfo texts.

use proptest::prelude::*;

use pagelab::fragmentation::{FreeBlocks, FreeRun, Order, Thousandths};
use pagelab::units::Pfn;

use crate::util::{pagelab, pagelab_with_stdin, proptest_config, s, uint, TempDir};

/// This machine's `/proc/buddyinfo` when the book's sample was taken.
const SAMPLE: &str = "book/src/traces/buddyinfo.txt";

/// Reference model: the free blocks of a fully merged buddy allocator with
/// orders 0 to `highest` over the free frames of `free`. An aligned block
/// of order k is one free block when all its frames are free and it is of
/// the highest order or its parent block (order k+1) is not all free.
fn buddy_model(free: &[bool], highest: u8) -> Vec<u64> {
    let all_free = |start: usize, k: u8| -> bool {
        let end = start + (1usize << k);
        end <= free.len() && free[start..end].iter().all(|&f| f)
    };
    (0..=highest)
        .map(|k| {
            (0..free.len())
                .step_by(1 << k)
                .filter(|&start| {
                    all_free(start, k) && (k == highest || !all_free(start & !((1usize << (k + 1)) - 1), k + 1))
                })
                .count() as u64
        })
        .collect()
}

fn runs_strategy() -> impl Strategy<Value = Vec<(u16, u16)>> {
    prop::collection::vec((0u16..600, 0u16..80), 0..12)
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// Every free frame is in exactly one block, and the blocks are those
    /// of a buddy allocator that merges every free pair of buddies.
    #[test]
    fn free_runs_keep_every_page_and_match_a_buddy_allocator(runs in runs_strategy(), highest in 0u8..8) {
        let mut free = vec![false; 1024];
        for &(start, len) in &runs {
            for f in &mut free[start as usize..(start + len) as usize] {
                *f = true;
            }
        }
        let runs: Vec<FreeRun> =
            runs.iter().map(|&(start, len)| FreeRun { start: Pfn(start as u32), frames: len as u32 }).collect();
        let b = FreeBlocks::from_free_runs(runs, Order::new(highest));
        let pages: u64 = b.counts().iter().enumerate().map(|(k, &n)| n << k).sum();
        prop_assert_eq!(b.free_pages(), free.iter().filter(|&&f| f).count() as u64);
        prop_assert_eq!(pages, b.free_pages());
        prop_assert_eq!(b.counts(), &buddy_model(&free, highest)[..]);
    }

    /// The indices stay in their ranges, agree with each other on when an
    /// allocation would fail, and the unusable share never falls as the
    /// order rises.
    #[test]
    fn the_indices_stay_in_their_ranges(counts in prop::collection::vec(
        prop_oneof![Just(0u64), 0u64..4, 0u64..100_000], 1..14)) {
        let b = FreeBlocks::from_counts(&counts).unwrap();
        let mut last = Thousandths(0);
        for k in 0..=(counts.len() as u8 + 1) {
            let k = Order::new(k);
            let u = b.unusable_index(k);
            let e = b.extfrag_index(k);
            prop_assert!((0..=1000).contains(&u.0), "unusable {u:?} at {k}");
            prop_assert!(u >= last, "unusable fell from {last:?} to {u:?} at {k}");
            last = u;
            if b.free_pages() == 0 || k > b.highest_order() {
                prop_assert_eq!(e, Thousandths(0));
            } else if b.available_blocks(k) > 0 {
                prop_assert_eq!(e, Thousandths(-1000));
                prop_assert!(u.0 < 1000);
            } else {
                prop_assert!((-500..=1000).contains(&e.0), "extfrag {e:?} at {k}");
                prop_assert_eq!(u, Thousandths(1000));
            }
        }
    }

    /// A line printed as the kernel prints buddyinfo reads back the same.
    #[test]
    fn kernel_formatted_lines_read_back(zones in prop::collection::vec(
        prop::collection::vec(0u64..1_000_000, 11), 1..5)) {
        let text: String = zones
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let counts: String = c.iter().map(|n| format!("{n:6} ")).collect();
                format!("Node {}, zone {:>8} {counts}\n", i / 3, ["DMA", "DMA32", "Normal"][i % 3])
            })
            .collect();
        let info = FreeBlocks::from_buddyinfo(&text).unwrap();
        prop_assert_eq!(info.zones.len(), zones.len());
        for (z, c) in info.zones.iter().zip(&zones) {
            prop_assert_eq!(z.blocks.counts(), &c[..]);
        }
        let sum: Vec<u64> = (0..11).map(|k| zones.iter().map(|c| c[k]).sum()).collect();
        prop_assert_eq!(info.total.counts(), &sum[..]);
    }
}

#[test]
fn the_sample_prints_linux_layouts_and_a_table_per_order() {
    let o = pagelab(&["fragmentation", SAMPLE]);
    o.code(0);
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    // The buddyinfo lines come back as the kernel wrote them (less the
    // trailing space).
    for line in text.lines() {
        o.stdout_has(&[line.trim_end()]);
    }
    o.stdout_has(&[
        "/sys/kernel/debug/extfrag/unusable_index",
        "/sys/kernel/debug/extfrag/extfrag_index",
        "Node 0, zone      DMA 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.066 0.200\n",
        "Node 0, zone      DMA -1.000 -1.000",
        "largest free block  order 10: 4 MiB, 1024 pages\n",
    ]);
}

#[test]
fn json_gives_the_figures_as_integers() {
    let o = pagelab(&["fragmentation", SAMPLE, "--json"]);
    o.code(0);
    let v = o.json();
    assert_eq!(v["source"], SAMPLE);
    assert_eq!(uint(&v, "highest_order"), 10);
    assert_eq!(uint(&v, "large_page_order"), 9);
    assert_eq!(v["zones"].as_array().unwrap().len(), 3);
    assert_eq!(v["zones"][0]["zone"], "DMA");
    assert_eq!(uint(&v["zones"][0], "free_pages"), 3840);
    assert_eq!(uint(&v["zones"][0], "large_pages_free"), 7);
    assert_eq!(uint(&v["zones"][0]["orders"][10], "unusable_index"), 200);
    assert_eq!(v["zones"][0]["orders"][10]["extfrag_index"], -1000);
    assert_eq!(uint(&v, "total/free_pages"), 2_779_073);
    assert_eq!(uint(&v, "total/largest_free_block/pages"), 1024);
    assert_eq!(uint(&v, "total/large_pages_free"), 5174);
}

#[test]
fn standard_input_and_the_output_file() {
    let text = std::fs::read(SAMPLE).unwrap();
    let from_stdin = pagelab_with_stdin(None, &["fragmentation", "-"], Some(&text));
    from_stdin.code(0);
    let from_file = pagelab(&["fragmentation", SAMPLE]);
    assert_eq!(
        from_stdin.stdout.replace("free memory in -:", ""),
        from_file.stdout.replace(&format!("free memory in {SAMPLE}:"), "")
    );
    let dir = TempDir::new("frag");
    let out = dir.path().join("report.json");
    pagelab(&["fragmentation", SAMPLE, "--json", "-o", s(&out)]).code(0);
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"large_pages_free\": 5174"));
}

#[test]
fn the_default_is_this_machines_buddyinfo() {
    if !std::path::Path::new("/proc/buddyinfo").exists() {
        pagelab(&["fragmentation"]).code(2).stderr_has(&["/proc/buddyinfo: cannot read it"]);
        return;
    }
    let o = pagelab(&["fragmentation", "--json"]);
    o.code(0);
    assert_eq!(o.json()["source"], "/proc/buddyinfo");
}

#[test]
fn a_fragmented_memory_reports_why_an_allocation_fails() {
    // Orders 0 to 3 with 6, 3, 1, 0 free blocks (worked by hand in
    // src/fragmentation.rs): nothing of order 3 is free, 16 pages are.
    let dir = TempDir::new("frag");
    let f = dir.write("b.txt", "Node 0, zone   Normal      6      3      1      0 \n");
    let o = pagelab(&["fragmentation", s(&f)]);
    o.code(0);
    o.stdout_has(&[
        "Node 0, zone   Normal 0.000 0.375 0.750 1.000\n",
        "Node 0, zone   Normal -1.000 -1.000 -1.000  0.700\n",
        "largest free block  order 2: 16 KiB, 4 pages\n",
        "2 MiB blocks free   0 (order 9, from free memory alone)\n",
    ]);
    let f = dir.write("none.txt", "Node 0, zone DMA 0 0\n");
    pagelab(&["fragmentation", s(&f)]).code(0).stdout_has(&["largest free block  none: nothing is free\n"]);
}

#[test]
fn malformed_buddyinfo_exits_2_with_file_line_and_column() {
    let dir = TempDir::new("frag");
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "typo.txt",
            b"Node 0, zone      DMA      0      1\nNode 0, zone   Normal     12     l3\n",
            ":2:34: expected a count of free blocks (a decimal number), found \"l3\"",
        ),
        (
            "short.txt",
            b"Node 0, zone DMA 1 2 3\nNode 0, zone Normal 1 2\n",
            ":2:24: expected 3 counts (orders 0 to 2), as on line 1, found 2",
        ),
        ("empty.txt", b"", ":1:1: expected a line per zone"),
        ("meminfo.txt", b"MemTotal:       16318412 kB\n", ":1:1: expected \"Node\""),
        ("binary.txt", b"Node 0, zone DMA 1\nNode 1, zone \xff 2\n", ":2:14: expected UTF-8 text, found byte 0xff"),
    ];
    for (name, text, says) in cases {
        let f = dir.write(name, text);
        let o = pagelab(&["fragmentation", s(&f), "--json"]);
        o.code(2).stderr_has(&[&format!("pagelab: {}{says}", s(&f))]);
        assert!(o.stdout.is_empty(), "{name}: {}", o.stdout);
    }
    pagelab(&["fragmentation", s(&dir.path().join("missing"))]).code(2).stderr_has(&["missing: cannot read it"]);
    let o = pagelab_with_stdin(None, &["fragmentation", "-"], Some(b"Node 0, zone DMA"));
    o.code(2).stderr_has(&["pagelab: -:1:17: expected the free blocks of each order"]);
}

/// The `eras` scenario's large-page request under each era: the before-Vista
/// allocator succeeds after seconds of writing and moving pages, Vista RTM
/// fails at once with 1450, SP1 succeeds in milliseconds without I/O.
#[test]
fn the_three_eras_meet_one_request_on_one_fragmented_machine() {
    let mut time = Vec::new();
    for era in ["desperate", "give-up", "sp1"] {
        let o = pagelab(&["run", "eras", "--json", "--set", &format!("large_page_allocator={era}")]);
        o.code(0);
        let v = o.json();
        assert_eq!(v["passed"], true, "{era}");
        let c = &v["state"]["counters"];
        time.push((era, uint(c, "time_foreground"), uint(c, "io_writes")));
    }
    let (desperate, give_up, sp1) = (time[0], time[1], time[2]);
    assert!(desperate.1 > 1_000_000_000 && desperate.2 > 100, "{desperate:?}");
    assert_eq!((give_up.1, give_up.2), (0, 0));
    assert!(sp1.1 < 10_000_000 && sp1.2 == 0, "{sp1:?}");
    assert!(desperate.1 > 1000 * sp1.1, "{desperate:?} vs {sp1:?}");
}

/// `fragmentation --scenario` reports the simulated machine's free memory
/// in Linux's layout and what the allocator could obtain; SP1's placement
/// leaves far more regions that compaction can empty.
#[test]
fn fragmentation_of_a_scenario_reports_simulated_memory() {
    let figures = |era: &str| {
        let o = pagelab(&[
            "fragmentation",
            "--scenario",
            "eras",
            "--json",
            "--set",
            &format!("large_page_allocator={era}"),
        ]);
        o.code(0);
        let v = o.json();
        let sim = &v["simulated"];
        assert_eq!(sim["regions"], 256);
        assert_eq!(v["total"]["free_pages"], v["zones"][0]["free_pages"]);
        // No run of 512 free frames is left, and yet there is free memory.
        let run = uint(sim, "largest_free_run");
        assert!(run > 0 && run < 512, "{era}: largest free run {run}");
        (uint(sim, "free"), uint(sim, "cheap"), uint(sim, "compacted"))
    };
    let (free, cheap, compacted) = figures("desperate");
    assert_eq!((free, cheap), (0, 0));
    assert!(compacted < 40, "{compacted}");
    assert!(figures("sp1").2 > 250);
    let o = pagelab(&["fragmentation", "--scenario", "eras"]);
    o.code(0);
    assert!(o.stdout.contains("/proc/buddyinfo (free blocks)\nNode 0, zone  pagelab"), "{}", o.stdout);
    assert!(o.stdout.contains("after full compaction"), "{}", o.stdout);
    pagelab(&["fragmentation", "--scenario", "no-such-scenario"]).code(2);
    pagelab(&["fragmentation", "--set", "memory=1MiB"]).code(2);
}

/// `replay --tlb`: a trace whose pages are beyond the reach of 64 small
/// entries misses on nearly every reference, and far less on 2 MiB pages;
/// a malformed shape is exit 2.
#[test]
fn replay_counts_tlb_misses_on_small_pages_and_as_if_large() {
    let dir = TempDir::new("tlb");
    let trace = dir.path().join("cycle.refs");
    // 2048 pages (8 MiB, four 2 MiB pages) in a cycle, five times.
    let text: String = (0..5).flat_map(|_| 0..2048).map(|p| format!("{p}\n")).collect();
    std::fs::write(&trace, text).unwrap();
    let t = trace.to_str().unwrap();
    let o = pagelab(&["replay", t, "--frames", "4096", "--tlb", "64,32", "--json"]);
    o.code(0);
    let v = o.json();
    assert_eq!(uint(&v["tlb"], "misses"), 10_240, "LRU over 64 entries misses a cycle of 2048 every time");
    assert_eq!(uint(&v["tlb"], "misses_if_large"), 4, "one miss per 2 MiB page");
    let o = pagelab(&["replay", t, "--frames", "4096"]);
    o.code(0);
    assert!(!o.stdout.contains("TLB"), "no TLB model unless asked");
    for bad in ["0", "64,x", "63", "64,32,1"] {
        let o = pagelab(&["replay", t, "--frames", "16", "--tlb", bad]);
        o.code(2);
        assert!(o.stderr.contains("--tlb"), "{bad}: {}", o.stderr);
    }
}
