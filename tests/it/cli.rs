//! The command-line contract of DESIGN.md ("Interface contract").

use crate::util::{pagelab, pagelab_in, pagelab_with_stdin, s, uint, TempDir, BUILTINS};

/// A small scenario: one process writes 4 pages through a 3-page working
/// set. `faults` is what the last expectation demands (4 is right).
fn small_scenario(faults: u64) -> String {
    format!(
        r#"[scenario]
name = "small"
title = "four pages through three frames"

[machine]
memory = "1 MiB"

[[process]]
name = "p1"
ws_min = 1
ws_max = 3

[[step]]
op = "reserve"
process = "p1"
address = 0x10000
size = "64 KiB"
commit = true

[[step]]
op = "touch"
process = "p1"
address = 0x10000
pages = 4
access = "write"

[expect]
"p1.faults" = {faults}
"p1.ws_size" = 3
"#
    )
}

#[test]
fn bare_pagelab_off_a_terminal_prints_the_tour_report() {
    let bare = pagelab(&[]);
    bare.code(0);
    assert!(bare.stdout.starts_with("pagelab scenario tour: "), "{}", bare.stdout);
    assert!(bare.stdout.contains("expectations: "), "{}", bare.stdout);
    assert!(bare.stdout.contains(" 0 failed"), "{}", bare.stdout);
    // It is the same report `run tour` prints, from any directory (the
    // scenario is embedded in the binary).
    let dir = TempDir::new("bare");
    let elsewhere = pagelab_in(Some(dir.path()), &[]);
    elsewhere.code(0);
    assert_eq!(bare.stdout, elsewhere.stdout);
    let run = pagelab(&["run", "tour"]);
    run.code(0);
    assert_eq!(bare.stdout, run.stdout);
}

#[test]
fn every_builtin_runs_and_meets_its_expectations() {
    let dir = TempDir::new("builtins");
    for name in BUILTINS {
        let o = pagelab_in(Some(dir.path()), &["run", name]);
        o.code(0);
        assert!(o.stdout.starts_with(&format!("pagelab scenario {name}")), "{name}:\n{}", o.stdout);
        assert!(o.stdout.contains(" 0 failed"), "{name}:\n{}", o.stdout);
        assert!(!o.stdout.contains("FAIL"), "{name}:\n{}", o.stdout);
    }
}

#[test]
fn run_json_is_valid_with_passed_and_counters() {
    for name in BUILTINS {
        let o = pagelab(&["run", name, "--json"]);
        o.code(0);
        let v = o.json();
        assert_eq!(v["scenario"], name);
        assert_eq!(v["passed"], true, "{name}");
        let c = &v["state"]["counters"];
        let refs = uint(c, "references");
        assert!(refs > 0, "{name} made no references");
        let faults = uint(c, "demand_zero") + uint(c, "soft") + uint(c, "hard_pagefile") + uint(c, "hard_file");
        assert!(faults <= refs, "{name}: {faults} faults but {refs} references");
        let exp = v["expectations"].as_array().expect("expectations array");
        assert!(!exp.is_empty(), "{name} checks nothing");
        for e in exp {
            assert_eq!(e["passed"], true, "{name}: {e}");
            assert!(e["line"].as_u64().is_some_and(|l| l > 0), "{name}: {e}");
        }
    }
}

#[test]
fn a_failed_expectation_exits_1_and_says_which() {
    let dir = TempDir::new("fail");
    let bad = dir.write("fail.toml", small_scenario(5));
    let o = pagelab(&["run", s(&bad)]);
    o.code(1);
    assert!(o.stdout.contains("1 passed, 1 failed"), "{}", o.stdout);
    assert!(o.stdout.contains("FAIL") && o.stdout.contains("p1.faults expected = 5, got 4"), "{}", o.stdout);
    let j = pagelab(&["run", s(&bad), "--json"]);
    j.code(1);
    let v = j.json();
    assert_eq!(v["passed"], false);
    let failed: Vec<_> = v["expectations"].as_array().unwrap().iter().filter(|e| e["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{v:#}");
    assert_eq!(failed[0]["key"], "p1.faults");
    assert_eq!(failed[0]["actual"], 4);
    assert_eq!(failed[0]["expected"], 5);
    assert_eq!(failed[0]["line"], 28, "the line of the expectation in the file");
    // The same scenario with the right figure passes.
    let good = dir.write("good.toml", small_scenario(4));
    pagelab(&["run", s(&good)]).code(0);
}

#[test]
fn an_unexpected_step_error_fails_the_run() {
    // Touching reserved, uncommitted memory without `expect_error`.
    let dir = TempDir::new("steperr");
    let text = small_scenario(4).replace("commit = true\n", "").replace("\"p1.ws_size\" = 3\n", "");
    let f = dir.write("av.toml", text);
    let o = pagelab(&["run", s(&f)]);
    o.code(1);
    assert!(o.stdout.contains("access violation"), "{}", o.stdout);
}

#[test]
fn check_accepts_good_files_and_rejects_bad_ones() {
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<String> = BUILTINS.iter().map(|n| format!("{root}/scenarios/{n}.toml")).collect();
    let args: Vec<&str> = std::iter::once("check").chain(files.iter().map(|f| f.as_str())).collect();
    let o = pagelab(&args);
    o.code(0);
    assert_eq!(o.stdout.lines().count(), BUILTINS.len(), "{}", o.stdout);
    assert!(o.stdout.lines().all(|l| l.contains(": ok (")), "{}", o.stdout);
    // Built-in names work too.
    let o = pagelab(&["check", "tour", "belady"]);
    o.code(0);
    assert!(o.stdout.contains("tour: ok (14 steps"), "{}", o.stdout);

    let dir = TempDir::new("check");
    let bad = dir.write("bad.toml", small_scenario(4).replace("op = \"touch\"", "op = \"poke\""));
    let good = dir.write("good.toml", small_scenario(4));
    let o = pagelab(&["check", s(&good), s(&bad)]);
    o.code(2);
    assert!(o.stdout.contains("good.toml: ok"), "the good file is still reported: {}", o.stdout);
    o.stderr_has(&["bad.toml:21:", "unknown op \"poke\""]);
    // `check` validates without running: a failing expectation is fine.
    let failing = dir.write("failing.toml", small_scenario(99));
    pagelab(&["check", s(&failing)]).code(0);
    // A name that is neither a file nor a built-in.
    pagelab(&["check", "no-such-scenario"]).code(2).stderr_has(&["no-such-scenario", "built-ins: tour"]);
    // `check` with nothing to check is a usage error.
    pagelab(&["check"]).code(2);
}

#[test]
fn scenarios_lists_every_builtin() {
    let o = pagelab(&["scenarios"]);
    o.code(0);
    let names: Vec<&str> = o.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    for n in BUILTINS {
        assert!(names.contains(&n), "{n} missing from:\n{}", o.stdout);
    }
    let j = pagelab(&["scenarios", "--json"]);
    j.code(0);
    let v = j.json();
    let listed: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(listed, BUILTINS);
    assert!(v.as_array().unwrap().iter().all(|e| !e["title"].as_str().unwrap().is_empty()));
    // Every listed name runs by name.
    for n in listed {
        pagelab(&["check", n]).code(0);
    }
}

#[test]
fn replay_json_has_integer_references_and_faults() {
    let dir = TempDir::new("replay");
    let t = dir.write("t.refs", "# a reference string\n1,2,3,4,1,2,5,1,2,3,4,5\n0x10 0x11, 16\n");
    for policy in ["fifo", "lru", "clock", "opt", "random"] {
        let o = pagelab(&["replay", s(&t), "--policy", policy, "--frames", "3", "--json"]);
        o.code(0);
        let v = o.json();
        assert_eq!(uint(&v, "references"), 15, "{policy}");
        let faults = uint(&v, "faults");
        let sum = uint(&v, "breakdown/demand_zero") + uint(&v, "breakdown/soft") + uint(&v, "breakdown/hard");
        assert_eq!(faults, sum, "{policy}: faults = demand_zero + soft + hard");
        // Seven distinct pages: 1-5, 0x10 (= 16) and 0x11.
        assert_eq!(uint(&v, "breakdown/demand_zero"), 7, "{policy}: one first touch per distinct page");
        assert!((7..=15).contains(&faults), "{policy}: {faults}");
        assert_eq!(v["policy"], policy);
        assert_eq!(uint(&v, "frames"), 3);
    }
}

#[test]
fn invariant_checks_change_no_output_and_can_be_turned_off() {
    for name in BUILTINS {
        let checked = pagelab(&["run", name, "--json"]);
        checked.code(0);
        let unchecked = pagelab(&["run", name, "--json", "--no-check"]);
        unchecked.code(0);
        assert_eq!(checked.stdout, unchecked.stdout, "{name}");
    }
    let dir = TempDir::new("check-every");
    let t = dir.write("t.refs", "1,2,3,4,1,2,5,1,2,3,4,5\n");
    let every_one = pagelab(&["replay", s(&t), "--frames", "3", "--check-every", "1"]);
    every_one.code(0);
    let unchecked = pagelab(&["replay", s(&t), "--frames", "3", "--no-check"]);
    assert_eq!(every_one.stdout, unchecked.stdout);
    pagelab(&["replay", s(&t), "--frames", "3", "--check-every", "0"]).code(2).stderr_has(&["--check-every 0"]);
}

#[test]
fn replay_reads_standard_input_and_prints_text() {
    let o =
        pagelab_with_stdin(None, &["replay", "-", "--frames", "3"], Some(b"7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1"));
    o.code(0);
    assert!(o.stdout.contains("references        20"), "{}", o.stdout);
    assert!(o.stdout.contains("faults            15 "), "{}", o.stdout);
}

#[test]
fn help_works_for_every_subcommand() {
    for sub in ["run", "check", "scenarios", "replay", "tui", "gen-trace", "fragmentation", "ramp-up", "quiz", "real"] {
        let o = pagelab(&[sub, "--help"]);
        o.code(0);
        assert!(o.stdout.contains("Usage: pagelab"), "{sub}:\n{}", o.stdout);
        let o = pagelab(&["help", sub]);
        o.code(0);
        assert!(o.stdout.contains(&format!("pagelab {sub}")), "{sub}:\n{}", o.stdout);
    }
    let o = pagelab(&["--help"]);
    o.code(0);
    for sub in ["run", "check", "scenarios", "replay", "tui", "gen-trace", "fragmentation", "ramp-up", "quiz", "real"] {
        assert!(o.stdout.contains(sub), "--help does not mention {sub}:\n{}", o.stdout);
    }
    assert!(!o.stdout.contains("__real-child"), "the real side's child command is hidden");
    let o = pagelab(&["replay", "--help"]);
    for flag in ["--policy", "--frames", "--format", "--json", "--seed", "--output"] {
        assert!(o.stdout.contains(flag), "replay --help lacks {flag}");
    }
    let o = pagelab(&["run", "--help"]);
    for flag in ["--json", "--seed", "--set", "--events", "--output"] {
        assert!(o.stdout.contains(flag), "run --help lacks {flag}");
    }
    let o = pagelab(&["tui", "--help"]);
    for flag in ["--set", "--host-memory"] {
        assert!(o.stdout.contains(flag), "tui --help lacks {flag}");
    }
    pagelab(&["--version"]).code(0);
}

#[test]
fn tui_takes_machine_settings_and_checks_them_before_the_terminal() {
    pagelab(&["tui", "eras", "--set", "large_page_allocator=bogus"])
        .code(2)
        .stderr_has(&["large_page_allocator", "desperate, give-up, sp1"]);
    pagelab(&["tui", "eras", "--set", "nonsense"]).code(2).stderr_has(&["expected key=value"]);
    // A good setting gets as far as the terminal, and the hint keeps it.
    pagelab(&["tui", "eras", "--set", "large_page_allocator=sp1"])
        .code(2)
        .stderr_has(&["needs a terminal", "pagelab run eras --set large_page_allocator=sp1 --events"]);
}

#[test]
fn unknown_subcommands_and_flags_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["--frobnicate"],
        &["run", "tour", "--frobnicate"],
        &["run"],
        &["replay", "x.refs"],
        &["replay", "x.refs", "--frames", "lots"],
        &["replay", "x.refs", "--frames", "-3"],
        &["run", "tour", "--seed", "minus-one"],
        &["scenarios", "--json", "extra"],
    ] {
        let o = pagelab(args);
        o.code(2);
        assert!(!o.stderr.is_empty(), "`{}` said nothing on stderr", o.cmd);
        assert!(o.stdout.is_empty(), "`{}` printed a report:\n{}", o.cmd, o.stdout);
    }
    let dir = TempDir::new("badflag");
    let t = dir.write("t.refs", "1 2 3");
    pagelab(&["replay", s(&t), "--frames", "2", "--policy", "best"]).code(2).stderr_has(&["--policy", "best"]);
    pagelab(&["replay", s(&t), "--frames", "2", "--format", "xml"]).code(2).stderr_has(&["--format", "xml"]);
    pagelab(&["replay", s(&t), "--frames", "2", "--cost", "abacus"]).code(2).stderr_has(&["--cost", "abacus"]);
    pagelab(&["replay", s(&t), "--frames", "2", "--memory", "lots"]).code(2).stderr_has(&["--memory"]);
    pagelab(&["replay", s(&t), "--frames", "0"]).code(2).stderr_has(&["--frames 0"]);
}

#[test]
fn set_and_seed_override_machine_settings() {
    let o = pagelab(&["run", "tour", "--json", "--set", "memory=512KiB", "--seed", "42"]);
    o.no_panic();
    let v = o.json();
    assert_eq!(uint(&v, "machine/memory"), 512 * 1024);
    assert_eq!(uint(&v, "machine/frames"), 128);
    assert_eq!(uint(&v, "machine/seed"), 42);
    // `machine.` prefix and `--set seed=` are accepted too.
    let v = pagelab(&["run", "tour", "--json", "--set", "machine.seed=7"]).json();
    assert_eq!(uint(&v, "machine/seed"), 7);
    // Belady's scenario expects FIFO's figures; under LRU its expectations
    // fail (exit 1) and the processes show LRU's: 10 faults with 3 frames,
    // 8 with 4.
    let o = pagelab(&["run", "belady", "--json", "--set", "policy=lru"]);
    o.code(1);
    let v = o.json();
    assert_eq!(v["machine"]["policy"], "lru");
    let faults = |i: usize| {
        let c = &v["state"]["processes"][i]["counters"];
        uint(c, "demand_zero") + uint(c, "soft") + uint(c, "hard_pagefile") + uint(c, "hard_file")
    };
    assert_eq!((faults(0), faults(1)), (10, 8));
    // A setting the scenario file also sets: the command line wins.
    let v = pagelab(&["run", "soft-hard", "--json", "--set", "cost=nvme"]).json();
    assert_eq!(v["machine"]["cost_profile"], "nvme");
}

#[test]
fn bad_set_exits_2_naming_set() {
    for (set, what) in [
        ("policy=best", "expected one of fifo"),
        ("colour=red", "unknown field `colour`"),
        ("memory", "expected key=value"),
        ("memory=12 parsecs", "unknown size unit"),
        ("ws_max=-1", "ws_max: expected an integer from 1"),
        ("ws_max=zero", "\"zero\""),
    ] {
        let o = pagelab(&["run", "tour", "--set", set]);
        o.code(2).stderr_has(&["--set", what]);
        assert!(o.stdout.is_empty(), "{set}: {}", o.stdout);
    }
}

#[test]
fn bad_set_caught_by_machine_validation_names_set() {
    for set in ["memory=4TiB", "memory=0"] {
        let o = pagelab(&["run", "tour", "--set", set]);
        o.code(2);
        assert!(o.stderr.starts_with(&format!("pagelab: --set {set}:")), "{set}: {}", o.stderr);
    }
}

#[test]
fn set_reaches_nested_machine_tables() {
    let v = pagelab(&["run", "soft-hard", "--json", "--set", "cluster.pagefile=3"]).json();
    assert_eq!(uint(&v, "machine/cluster_pagefile"), 3);
    let o = pagelab(&["run", "soft-hard", "--set", "writer.cluster=4"]);
    o.no_panic();
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    pagelab(&["run", "tour", "--set", "cluster.pagefile=999"]).code(2).stderr_has(&["--set", "cluster.pagefile"]);
}

#[test]
fn output_writes_the_whole_report_and_prints_nothing() {
    let dir = TempDir::new("output");
    let refs = dir.write("t.refs", "1 2 3 4 1 2 5 1 2 3 4 5");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["run", "tour"], 0),
        (vec!["run", "demand-zero", "--json"], 0),
        (vec!["run", "belady", "--events"], 0),
        (vec!["run", "belady", "--set", "policy=lru"], 1),
        (vec!["replay", s(&refs), "--frames", "3", "--json"], 0),
        (vec!["replay", s(&refs), "--frames", "3"], 0),
    ];
    for (i, (args, code)) in cases.into_iter().enumerate() {
        let plain = pagelab(&args);
        plain.code(code);
        let out = dir.path().join(format!("out{i}.txt"));
        let mut with = args.clone();
        with.extend(["--output", s(&out)]);
        let o = pagelab(&with);
        o.code(code);
        assert!(o.stdout.is_empty(), "`{}` printed:\n{}", o.cmd, o.stdout);
        let written = std::fs::read_to_string(&out).expect("the output file exists");
        assert_eq!(written, plain.stdout, "`{}` wrote something else than it prints", o.cmd);
    }
    // An existing file is replaced whole.
    let out = dir.write("existing.txt", "x".repeat(100_000));
    pagelab(&["run", "belady", "-o", s(&out)]).code(0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), pagelab(&["run", "belady"]).stdout);
    // Nothing but the output files is left behind.
    assert!(dir.names().iter().all(|n| !n.starts_with('.')), "{:?}", dir.names());
}

#[test]
fn output_to_an_impossible_path_exits_2_and_leaves_nothing() {
    let dir = TempDir::new("badout");
    let missing = dir.path().join("no").join("such").join("dir").join("out.txt");
    let o = pagelab(&["run", "tour", "--output", s(&missing)]);
    o.code(2).stderr_has(&["cannot write", "out.txt"]);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(!missing.exists());
    // A directory in the way.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let o = pagelab(&["run", "tour", "--json", "--output", s(&sub)]);
    o.code(2).stderr_has(&["cannot write"]);
    assert!(sub.is_dir());
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 0);
    assert_eq!(dir.names(), vec!["sub".to_string()], "no partial or temporary file is left");
    let refs = dir.write("t.refs", "1 2 3");
    let o = pagelab(&["replay", s(&refs), "--frames", "2", "--output", s(&missing)]);
    o.code(2).stderr_has(&["cannot write"]);
    assert_eq!(dir.names(), vec!["sub".to_string(), "t.refs".to_string()]);
}

#[test]
fn timing_goes_to_stderr_and_leaves_the_report_alone() {
    let dir = TempDir::new("timing");
    let t = dir.write("t.refs", "1 2 3 4 1 2 5 1 2 3 4 5");
    let plain = pagelab(&["replay", s(&t), "--frames", "3", "--json"]);
    let timed = pagelab(&["replay", s(&t), "--frames", "3", "--json", "--timing"]);
    timed.code(0);
    assert_eq!(plain.stdout, timed.stdout);
    assert!(timed.stderr.contains("12 references in") && timed.stderr.contains("references/s"), "{}", timed.stderr);
}

#[test]
fn a_scenario_without_steps_still_checks_its_expectations() {
    let dir = TempDir::new("nosteps");
    let f = dir
        .write("s.toml", "[scenario]\nname = \"s\"\n[machine]\nmemory = \"1 MiB\"\n[expect]\n\"lists.zeroed\" = 7\n");
    pagelab(&["run", s(&f)]).code(1).stdout_has(&["lists.zeroed expected = 7, got 256"]);
    let ok = dir
        .write("t.toml", "[scenario]\nname = \"t\"\n[machine]\nmemory = \"1 MiB\"\n[expect]\n\"lists.zeroed\" = 256\n");
    pagelab(&["run", s(&ok)]).code(0).stdout_has(&["1 passed, 0 failed"]);
}

/// The choices pagelab makes where it departs from Windows on purpose are
/// named in the book, where a reader of its figures will look.
#[test]
fn the_book_names_the_commit_limit_and_the_empty_initial_address_space() {
    let book =
        |chapter: &str| std::fs::read_to_string(format!("{}/book/src/{chapter}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let simplifications = book("simplifications.md");
    let address_spaces = book("address-spaces.md");
    for (text, what) in [
        (&simplifications, "The commit limit counts every good frame"),
        (&simplifications, "A process starts with an empty address space"),
        (&address_spaces, "MmOverCommit"),
        (&address_spaces, "KUSER_SHARED_DATA"),
    ] {
        assert!(text.contains(what), "the book does not say {what:?}");
    }
}

#[test]
fn the_book_describes_the_balance_set_manager_its_defaults_and_conventions() {
    let book =
        |chapter: &str| std::fs::read_to_string(format!("{}/book/src/{chapter}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (ws, simplifications) = (book("working-sets.md"), book("simplifications.md"));
    for (text, what) in [
        (&ws, "## The balance set manager"),
        (&ws, "MmPlentyFreePages"),
        (&ws, "{{#include output/balance/events-06.txt}}"),
        (&ws, "**`wsclock`**"),
        (&simplifications, "The balance set manager manages aging working sets only"),
        (&simplifications, "Aging's replacement scan ages the pages it passes"),
        (&simplifications, "WSClock follows vmsim's form"),
    ] {
        assert!(text.contains(what), "the book does not say {what:?}");
    }
    // The scenario the section quotes is built in and listed.
    let o = pagelab(&["scenarios"]);
    o.code(0).stdout_has(&["balance"]);
}

/// Every chapter in the book's summary exists, and every output a chapter
/// includes is one `book/regen.sh` writes: a chapter never quotes a file
/// that is not there.
#[test]
fn every_chapter_and_every_included_output_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let summary = std::fs::read_to_string(root.join("SUMMARY.md")).expect("the summary");
    let mut chapters = Vec::new();
    for part in summary.split("](").skip(1) {
        let file = part.split(')').next().expect("a link");
        assert!(root.join(file).exists(), "SUMMARY.md lists {file}, which does not exist");
        chapters.push(file.to_string());
    }
    assert!(chapters.len() >= 10, "{chapters:?}");
    for c in &chapters {
        let text = std::fs::read_to_string(root.join(c)).expect("a chapter");
        for part in text.split("{{#include ").skip(1) {
            let file = part.split("}}").next().expect("an include").split(':').next().expect("a path");
            assert!(root.join(file).exists(), "{c} includes {file}, which does not exist");
        }
    }
}

/// `pagelab ramp-up` prints the regular-versus-AWE table the AWE chapter
/// quotes: regular pages stop scaling at the working-set lock, AWE keeps
/// scaling; its JSON has the same rows; bad arguments are exit code 2.
#[test]
fn ramp_up_compares_regular_and_awe_pages_as_threads_grow() {
    let o = pagelab(&["ramp-up", "--size", "8MiB", "--threads", "1,4,16"]);
    o.code(0).stdout_has(&["2048 pages", "threads |", "regular", "awe", "from 1 to 16 threads"]);
    let o = pagelab(&["ramp-up", "--size", "8MiB", "--threads", "1,16", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.code(0).stdout).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    let t = |r: usize, m: &str| rows[r][m]["time"].as_u64().expect("a time");
    // One thread: AWE is faster for lack of a trap and a lock per page.
    assert!(t(0, "awe") * 3 < t(0, "regular"), "{v}");
    // Sixteen threads: regular gains under 2x, AWE more than 8x.
    assert!(t(1, "regular") * 2 > t(0, "regular"), "{v}");
    assert!(t(1, "awe") * 8 < t(0, "awe"), "{v}");
    assert_eq!(rows[1]["regular"]["ws"]["acquisitions"], 2048);
    assert_eq!(rows[1]["awe"]["ws"]["acquisitions"], 16, "one map call per thread of 128 pages");
    for bad in [
        vec!["ramp-up", "--size", "5000"],
        vec!["ramp-up", "--size", "100GiB"],
        vec!["ramp-up", "--threads", "0"],
        vec!["ramp-up", "--costs", "abacus"],
        vec!["ramp-up", "--batch", "0"],
    ] {
        pagelab(&bad).code(2);
    }
}

#[test]
fn an_override_that_fails_expectations_says_why_and_no_expect_runs_without_them() {
    let o = pagelab(&["run", "belady", "--set", "policy=lru"]);
    o.code(1);
    assert!(o.stdout.contains("6 failed"), "{}", o.stdout);
    assert!(
        o.stdout.contains("expectations were written for its own settings")
            && o.stdout.contains("overrode `policy`")
            && o.stdout.contains("--no-expect"),
        "{}",
        o.stdout
    );
    let j = pagelab(&["run", "belady", "--set", "policy=lru", "--json"]);
    j.code(1);
    assert_eq!(j.json()["overridden"], serde_json::json!(["policy"]));
    // An override that changes nothing fails nothing, and says nothing.
    let same = pagelab(&["run", "belady", "--set", "policy=fifo"]);
    same.code(0);
    assert!(!same.stdout.contains("note:"), "{}", same.stdout);
    // Without the expectations: exit 0, and the report says they were not checked.
    let n = pagelab(&["run", "belady", "--set", "policy=lru", "--no-expect"]);
    n.code(0);
    assert!(n.stdout.contains("expectations: not checked (--no-expect)"), "{}", n.stdout);
    assert!(!n.stdout.contains("FAIL") && !n.stdout.contains("note:"), "{}", n.stdout);
    let nj = pagelab(&["run", "belady", "--set", "policy=lru", "--no-expect", "--json"]);
    nj.code(0);
    let v = nj.json();
    assert_eq!(v["expectations_checked"], false);
    assert_eq!(v["passed"], true);
    assert_eq!(v["expectations"], serde_json::json!([]));
}

#[test]
fn replay_names_its_simulated_memory_and_what_hard_faults_mean() {
    let dir = TempDir::new("footprint");
    // 20,000 pages twice: more than the default 64 MiB (16,384 pages) of a
    // one-frame replay, so the second pass takes hard faults.
    let pages: String = (0..20_000).map(|p| format!("{p}\n")).collect();
    let trace = dir.write("big.refs", format!("{pages}{pages}"));
    let o = pagelab(&["replay", s(&trace), "--frames", "1"]);
    o.code(0);
    o.stdout_has(&[
        "memory            64 MiB simulated (the default: 4 x frames, at least 64 MiB; --memory sets it)",
        "hard faults mean the trace's footprint exceeded it (here ",
    ]);
    assert!(!o.stdout.contains("here none"), "{}", o.stdout);
    let small = dir.write("small.refs", "1 2 3 1 2 3\n");
    let o = pagelab(&["replay", s(&small), "--frames", "2", "--memory", "1MiB"]);
    o.code(0);
    o.stdout_has(&["memory            1 MiB simulated (--memory)", "(here none: the footprint fit)"]);
}

#[test]
fn run_trace_prints_belady_one_reference_a_line_in_three_formats() {
    // Text: 24 reference lines; the last of each process has OSTEP's
    // totals (FIFO, 3 frames: 9 misses; 4 frames: 10) and FIFO order.
    let text = pagelab(&["run", "belady", "--trace"]);
    text.code(0);
    let lines: Vec<&str> = text.stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 25, "{}", text.stdout);
    assert!(lines[0].starts_with("step"), "{}", lines[0]);
    let cols = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let three = cols(lines[12]);
    assert_eq!(&three[..10], ["3", "12", "three", "5", "0x15000", "read", "hit", "-", "3", "9"], "{}", lines[12]);
    assert!(lines[12].ends_with("[5, 3, 4]"), "{}", lines[12]);
    let four = cols(lines[24]);
    assert_eq!(&four[..10], ["4", "12", "four", "5", "0x15000", "read", "soft", "1", "2", "10"], "{}", lines[24]);
    assert!(lines[24].ends_with("[2, 3, 4, 5]"), "{}", lines[24]);
    assert!(lines[4].contains("demand_zero") && lines[4].ends_with("[2, 3, 4]"), "{}", lines[4]);
    assert!(text.stdout.contains("pagelab scenario belady"), "the text ends with the report");

    // CSV: a header, then the same 24 references.
    let csv = pagelab(&["run", "belady", "--trace=csv"]);
    csv.code(0);
    let rows: Vec<Vec<&str>> = csv.stdout.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "step",
            "reference",
            "process",
            "page",
            "vpn",
            "access",
            "result",
            "victim",
            "hits",
            "misses",
            "ws_size",
            "working_set"
        ]
    );
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|r| r.len() == 12), "{}", csv.stdout);
    assert_eq!(rows[4], ["3", "4", "three", "4", "0x14000", "read", "demand_zero", "1", "0", "4", "3", "2 3 4"]);
    assert_eq!(rows[8][6..10], ["hit", "", "1", "7"]);

    // JSON Lines: every line an object.
    let jsonl = pagelab(&["run", "belady", "--trace=jsonl"]);
    jsonl.code(0);
    let objs: Vec<serde_json::Value> =
        jsonl.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(objs.len(), 24);
    let last = &objs[23];
    assert_eq!(last["process"], "four");
    assert_eq!(last["misses"], 10);
    assert_eq!(last["victim"], 1);
    assert_eq!(last["working_set"], serde_json::json!([2, 3, 4, 5]));
    assert_eq!(objs[7]["result"], "hit");
    assert_eq!(objs[7]["victim"], serde_json::Value::Null);
}

#[test]
fn run_trace_rejects_a_bad_format_and_events_or_json() {
    let bad = pagelab(&["run", "belady", "--trace=xml"]);
    bad.code(2);
    assert!(bad.stderr.contains("xml"), "{}", bad.stderr);
    for extra in ["--events", "--json"] {
        let o = pagelab(&["run", "belady", "--trace", extra]);
        o.code(2);
        assert!(o.stderr.contains("cannot be combined"), "{}", o.stderr);
    }
}

/// `pagelab tui --trace FILE` steps a trace's references; without a
/// terminal it says which command prints them instead, and a trace that
/// cannot be read is an error naming it (exit 2 both).
#[test]
fn tui_on_a_trace_needs_a_terminal_and_a_readable_trace() {
    let o = pagelab(&["tui", "--trace", "book/src/traces/silberschatz.refs", "--frames", "3"]);
    o.code(2);
    assert!(
        o.stderr.contains("pagelab replay book/src/traces/silberschatz.refs --policy fifo --frames 3 --trace"),
        "{}",
        o.stderr
    );
    let o = pagelab(&["tui", "--trace", "no/such.refs"]);
    o.code(2);
    assert!(o.stderr.contains("no/such.refs"), "{}", o.stderr);
    pagelab(&["tui", "--trace", "book/src/traces/silberschatz.refs", "--policy", "astrology"]).code(2);
    pagelab(&["tui", "tour", "--trace", "book/src/traces/silberschatz.refs"]).code(2);
}
