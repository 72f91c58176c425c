//! The teaching commands: `replay --trace` (one line per reference, as
//! text, CSV or JSON Lines) and `quiz` (a seeded reference string, asked
//! and scored, with `--answers` for the key).

use std::collections::VecDeque;

use crate::util::{pagelab, pagelab_with_stdin, s, TempDir};

const SILBERSCHATZ: &str = "book/src/traces/silberschatz.refs";
const SILBERSCHATZ_REFS: [u64; 20] = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];

fn jsonl(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}"))).collect()
}

fn pages(v: &serde_json::Value) -> Vec<u64> {
    v.as_array().expect("an array").iter().map(|p| p.as_u64().expect("a page number")).collect()
}

#[test]
fn replay_trace_follows_a_fifo_queue_reference_by_reference() {
    let o = pagelab(&["replay", SILBERSCHATZ, "--policy", "fifo", "--frames", "3", "--trace", "jsonl"]);
    o.code(0);
    let lines = jsonl(&o.stdout);
    assert_eq!(lines.len(), 20);
    // An independent FIFO queue of 3 frames, oldest first.
    let mut q: VecDeque<u64> = VecDeque::new();
    let (mut hits, mut misses) = (0, 0);
    for (i, (line, &p)) in lines.iter().zip(&SILBERSCHATZ_REFS).enumerate() {
        let mut victims = Vec::new();
        let hit = q.contains(&p);
        if hit {
            hits += 1;
        } else {
            misses += 1;
            if q.len() == 3 {
                victims.push(q.pop_front().unwrap());
            }
            q.push_back(p);
        }
        assert_eq!(line["ref"], i as u64 + 1);
        assert_eq!(line["page"], p);
        assert_eq!(line["access"], "read");
        assert_eq!(line["result"] == "hit", hit, "reference {}", i + 1);
        assert_eq!(pages(&line["working_set"]), q.iter().copied().collect::<Vec<_>>(), "reference {}", i + 1);
        assert_eq!(line["ws_size"], q.len() as u64);
        let got: Vec<u64> = line["victims"].as_array().unwrap().iter().map(|v| v["page"].as_u64().unwrap()).collect();
        assert_eq!(got, victims, "reference {}", i + 1);
        for v in line["victims"].as_array().unwrap() {
            assert!(v["list"] == "standby" || v["list"] == "modified", "{v}");
        }
        assert_eq!((line["hits"].as_u64(), line["misses"].as_u64()), (Some(hits), Some(misses)));
    }
    assert_eq!(misses, 15);
    // First touches are demand zero, the refaults of evicted pages soft.
    assert_eq!(lines[0]["result"], "demand_zero");
    assert_eq!(lines[6]["result"], "soft");
}

#[test]
fn replay_trace_text_ends_with_the_report_and_agrees_with_plain_replay() {
    let plain = pagelab(&["replay", SILBERSCHATZ, "--frames", "3"]);
    plain.code(0);
    let o = pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--trace"]);
    o.code(0).stdout_has(&["oldest first", "7 to modified", "faults            15 "]);
    assert!(o.stdout.ends_with(&plain.stdout), "{}", o.stdout);
    // The last reference: 15 misses, 5 hits, FIFO order 7 0 1.
    let last = o.stdout.lines().find(|l| l.trim_start().starts_with("20 ")).expect("line of reference 20");
    let f: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(f[..], ["20", "1", "read", "soft", "2", "to", "modified", "5", "15", "7", "0", "1"]);
    // Every policy gives the plain replay's fault count.
    for (policy, faults) in [("lru", 12), ("opt", 9), ("clock", 14)] {
        let o = pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--policy", policy, "--trace", "jsonl"]);
        o.code(0);
        assert_eq!(jsonl(&o.stdout).last().unwrap()["misses"], faults, "{policy}");
    }
}

#[test]
fn replay_trace_csv_has_a_header_and_one_row_per_reference() {
    let o = pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--policy", "lru", "--trace", "csv"]);
    o.code(0);
    let mut rows = o.stdout.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        ["ref", "page", "access", "result", "victim", "victim_list", "hits", "misses", "ws_size", "working_set"]
    );
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 20);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert_eq!(r[0].parse::<usize>().unwrap(), i + 1);
        assert_eq!(r[1].parse::<u64>().unwrap(), SILBERSCHATZ_REFS[i]);
        let (h, m): (usize, usize) = (r[6].parse().unwrap(), r[7].parse().unwrap());
        assert_eq!(h + m, i + 1);
        let ws: Vec<u64> = r[9].split(' ').map(|p| p.parse().unwrap()).collect();
        assert_eq!(ws.len(), r[8].parse::<usize>().unwrap());
        // LRU lists the page just referenced last.
        assert_eq!(*ws.last().unwrap(), SILBERSCHATZ_REFS[i]);
        assert_eq!(r[4].is_empty(), r[5].is_empty());
    }
    assert_eq!(rows[19][7], "12");
}

#[test]
fn replay_trace_caps_long_working_sets_and_streams_from_standard_input() {
    let refs: String = (0..100).map(|p| format!("{p}\n")).collect();
    let o = pagelab_with_stdin(None, &["replay", "-", "--frames", "40", "--trace", "jsonl"], Some(refs.as_bytes()));
    o.code(0);
    let lines = jsonl(&o.stdout);
    assert_eq!(lines.len(), 100);
    assert_eq!(lines[99]["ws_size"], 40);
    assert_eq!(pages(&lines[99]["working_set"]), (60..76).collect::<Vec<u64>>());
    let o = pagelab_with_stdin(None, &["replay", "-", "--frames", "40", "--trace"], Some(refs.as_bytes()));
    o.code(0).stdout_has(&["60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 ... and 24 more"]);
}

#[test]
fn replay_trace_to_a_file_is_whole_or_nothing() {
    let d = TempDir::new("trace-out");
    let out = d.path().join("trace.csv");
    let o = pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--trace", "csv", "-o", s(&out)]);
    o.code(0);
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 21);
    // A trace that breaks half-way leaves the old file as it was.
    let bad = d.write("bad.refs", "1 2 3 4 5 x 6");
    let o = pagelab(&["replay", s(&bad), "--frames", "3", "--trace", "csv", "-o", s(&out)]);
    o.code(2).stderr_has(&["bad.refs:1:11"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 21);
    assert_eq!(d.names(), ["bad.refs", "trace.csv"]);
}

#[test]
fn replay_trace_rejects_unknown_formats_and_json() {
    pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--trace", "xml"])
        .code(2)
        .stderr_has(&["--trace \"xml\"", "jsonl"]);
    pagelab(&["replay", SILBERSCHATZ, "--frames", "3", "--trace", "--json"]).code(2).stderr_has(&["choose one"]);
}

/// The answer key's rows: (page, miss, victim or None).
fn key(stdout: &str) -> Vec<(u64, bool, Option<u64>)> {
    stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("ref "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let victim = if f[3] == "-" { None } else { Some(f[3].parse().unwrap()) };
            (f[1].parse().unwrap(), f[2] == "miss", victim)
        })
        .collect()
}

fn references(stdout: &str) -> Vec<u64> {
    let l = stdout.lines().find_map(|l| l.strip_prefix("references: ")).expect("the reference string");
    l.split(' ').map(|p| p.parse().unwrap()).collect()
}

#[test]
fn quiz_answers_are_the_same_for_a_seed_and_match_a_fifo_model() {
    let args = ["quiz", "--answers", "--seed", "42", "--length", "30", "--pages", "6", "--frames", "3"];
    let a = pagelab(&args);
    a.code(0);
    let b = pagelab(&args);
    assert_eq!(a.stdout, b.stdout);
    let other = pagelab(&["quiz", "--answers", "--seed", "43", "--length", "30", "--pages", "6", "--frames", "3"]);
    assert_ne!(references(&a.stdout), references(&other.stdout));
    let refs = references(&a.stdout);
    assert_eq!(refs.len(), 30);
    assert!(refs.iter().all(|&p| p < 6));
    let rows = key(&a.stdout);
    assert_eq!(rows.len(), 30);
    let mut q: VecDeque<u64> = VecDeque::new();
    let mut misses = 0;
    for (&p, &(page, miss, victim)) in refs.iter().zip(&rows) {
        assert_eq!(page, p);
        let mut want = None;
        let m = !q.contains(&p);
        if m {
            misses += 1;
            if q.len() == 3 {
                want = q.pop_front();
            }
            q.push_back(p);
        }
        assert_eq!((miss, victim), (m, want), "page {p}");
    }
    a.stdout_has(&[&format!("misses {misses} of 30 references; a perfect score is {}", 30 + misses)]);
}

/// What a student who knows the key types.
fn perfect_answers(rows: &[(u64, bool, Option<u64>)]) -> String {
    rows.iter()
        .map(|&(_, miss, victim)| match (miss, victim) {
            (false, _) => "h\n".to_string(),
            (true, None) => "m\n-\n".to_string(),
            (true, Some(v)) => format!("m\n{v}\n"),
        })
        .collect()
}

#[test]
fn a_quiz_answered_from_the_key_scores_full_marks() {
    for policy in ["fifo", "lru", "clock", "opt"] {
        let args = ["quiz", "--seed", "42", "--length", "25", "--pages", "7", "--frames", "4", "--policy", policy];
        let key_out = pagelab(&[&args[..], &["--answers"]].concat());
        key_out.code(0);
        let rows = key(&key_out.stdout);
        let misses = rows.iter().filter(|r| r.1).count();
        let total = 25 + misses;
        let o = pagelab_with_stdin(None, &args, Some(perfect_answers(&rows).as_bytes()));
        o.code(0).stdout_has(&[&format!("score: {total} of {total} (100%)"), "Perfect"]);
        assert!(!o.stdout.contains("wrong"), "{policy}:\n{}", o.stdout);
        assert!(o.stdout.contains("demand-zero fault"), "the machine's explanations are shown");
    }
}

#[test]
fn wrong_answers_lose_points_and_show_the_right_ones() {
    let args = ["quiz", "--seed", "42", "--length", "12", "--pages", "5", "--frames", "2"];
    let rows = key(&pagelab(&[&args[..], &["--answers"]].concat()).stdout);
    let misses = rows.iter().filter(|r| r.1).count();
    assert!(misses > 0 && misses < 12, "the string has hits and misses");
    // Always "hit": every miss costs its two points.
    let o = pagelab_with_stdin(None, &args, Some("h\n".repeat(12).as_bytes()));
    o.code(0).stdout_has(&[
        "wrong: it is a miss (demand_zero), not a hit",
        &format!("score: {} of {}", 12 - misses, 12 + misses),
    ]);
    // Always "miss, page 99": the hits are wrong, and so is every victim.
    let o = pagelab_with_stdin(None, &args, Some("m\n99\n".repeat(12).as_bytes()));
    o.code(0).stdout_has(&[
        "wrong: it is a hit, not a miss",
        "(you said 99)",
        &format!("score: {misses} of {}", 12 + misses),
    ]);
    // Nonsense is asked again; the end of the input ends the quiz.
    let o = pagelab_with_stdin(None, &args, Some(b"maybe\n"));
    o.code(0).stdout_has(&[
        "\"maybe\": please answer h (hit) or m (miss)",
        "the input ended at reference 1 of 12",
        "score: 0 of 0",
    ]);
}

#[test]
fn bad_quiz_arguments_exit_2() {
    for (args, msg) in [
        (&["--length", "0"][..], "--length 0"),
        (&["--pages", "0"], "--pages 0"),
        (&["--frames", "0"], "--frames 0"),
        (&["--frames", "100000"], "--frames 100000"),
        (&["--length", "1000000"], "--length 1000000"),
        (&["--policy", "best"], "--policy \"best\""),
    ] {
        pagelab(&[&["quiz", "--answers"][..], args].concat()).code(2).stderr_has(&[msg]);
    }
    pagelab(&["quiz", "--seed", "x"]).code(2);
    pagelab(&["quiz", "--colour"]).code(2);
}

/// `quiz --deep` asks more on a miss: the kind of fault and the victim's
/// list. Answered from its own key (which names the kind of each fault), it
/// scores full marks; with the kind always wrong, it loses a point a miss.
#[test]
fn a_deep_quiz_asks_the_kind_of_fault_and_the_victims_list() {
    let args = ["quiz", "--deep", "--seed", "7", "--length", "24", "--pages", "6", "--frames", "3"];
    let key_out = pagelab(&[&args[..], &["--answers"]].concat());
    key_out.code(0);
    // (kind, victim, its list) per reference; kind "hit" for a hit.
    let rows: Vec<(String, Option<(u64, String)>)> = key_out
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("ref "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let victim = (f[3] != "-").then(|| (f[3].parse().unwrap(), f[5].to_string()));
            (f[2].to_string(), victim)
        })
        .collect();
    assert_eq!(rows.len(), 24);
    assert!(rows.iter().any(|r| r.0 == "demand_zero") && rows.iter().any(|r| r.1.is_some()), "{}", key_out.stdout);
    let letter = |kind: &str| match kind {
        "demand_zero" => "z",
        "soft" => "s",
        _ => "h",
    };
    let answers = |wrong_kind: bool| -> String {
        rows.iter()
            .map(|(kind, victim)| match (kind.as_str(), victim) {
                ("hit", _) => "h\n".to_string(),
                (k, None) => format!("m\n{}\n-\n", if wrong_kind { "h" } else { letter(k) }),
                (k, Some((v, list))) => format!(
                    "m\n{}\n{v}\n{}\n",
                    if wrong_kind { "h" } else { letter(k) },
                    if list == "modified" { "m" } else { "s" }
                ),
            })
            .collect()
    };
    let misses = rows.iter().filter(|r| r.0 != "hit").count();
    let victims = rows.iter().filter(|r| r.1.is_some()).count();
    let total = 24 + 2 * misses + victims;
    key_out.stdout_has(&[&format!("a perfect score is {total}")]);
    let o = pagelab_with_stdin(None, &args, Some(answers(false).as_bytes()));
    o.code(0).stdout_has(&[
        &format!("score: {total} of {total} (100%)"),
        "which kind of fault?",
        "which list does it go to?",
    ]);
    let hard = rows.iter().filter(|r| r.0.starts_with("hard")).count();
    let o = pagelab_with_stdin(None, &args, Some(answers(true).as_bytes()));
    o.code(0)
        .stdout_has(&[&format!("score: {} of {total}", total - (misses - hard)), "wrong: a demand_zero fault (z)"]);
}

/// `run SCENARIO --quiz`: the scenario's references asked on standard
/// input, as `quiz` asks a generated string; answered perfectly from the
/// FIFO model, Belady's two processes score 12 + 9 and 12 + 10.
#[test]
fn run_quiz_asks_a_scenarios_references() {
    let model = |frames: usize| -> String {
        let mut q: VecDeque<u64> = VecDeque::new();
        let mut out = String::new();
        for p in [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5] {
            if q.contains(&p) {
                out += "h\n";
                continue;
            }
            q.push_back(p);
            out += &match (q.len() > frames).then(|| q.pop_front().unwrap()) {
                Some(v) => format!("m\n{v}\n"),
                None => "m\n-\n".into(),
            };
        }
        out
    };
    let answers = model(3) + &model(4);
    let o = pagelab_with_stdin(None, &["run", "belady", "--quiz"], Some(answers.as_bytes()));
    o.code(0).stdout_has(&[
        "quiz: scenario belady",
        "step 3, reference 1 of 12: three reads page 1 (0x11000) - hit or miss? (h/m) m",
        "| page 0x11000 of three demand-zero fault",
        "score: 43 of 43 (100%)",
        "Perfect",
    ]);
    // --deep asks the kind of fault too; the end of the input ends it.
    let o = pagelab_with_stdin(None, &["run", "belady", "--quiz", "--deep"], Some(b"m\nz\n-\n"));
    o.code(0).stdout_has(&[
        "which kind of fault? (z demand zero, s soft, h hard) z",
        "(the input ended at step 3, reference 2 of 12)",
        "score: 3 of 3 (100%)",
    ]);
    for args in [
        &["run", "belady", "--quiz", "--events"][..],
        &["run", "belady", "--quiz", "--trace"],
        &["run", "belady", "--quiz", "--json"],
        &["run", "belady", "--deep"],
        &["run", "nope", "--quiz"],
    ] {
        pagelab(args).code(2);
    }
}

/// The TUI's new modes refuse bad input with exit 2 and a message, before
/// they need a terminal.
#[test]
fn tui_quiz_and_compare_refuse_bad_input() {
    for (args, msg) in [
        (&["tui", "--compare", "fifo"][..], "expected POLICY:FRAMES"),
        (&["tui", "--compare", "fifo:3"], "expected 2 to 4 replays"),
        (&["tui", "--compare", "best:3,fifo:4"], "unknown policy \"best\""),
        (&["tui", "--compare", "fifo:0,fifo:4"], "frames \"0\""),
        (&["tui", "--compare", "fifo:3,fifo:4", "--trace", "no-such.refs"], "no-such.refs: cannot open the trace"),
        (&["tui", "--quiz", "--frames", "0"], "--frames 0"),
        (&["tui", "--quiz", "--length", "0"], "--length 0"),
        (&["tui", "--quiz", "--policy", "best"], "--policy \"best\""),
        (&["tui", "--policy", "lru"], "--policy and --frames are for --trace or --quiz"),
        (&["tui", "--quiz", "--seed", "1", "belady"], "cannot be used with"),
        (&["tui", "--compare", "fifo:3,fifo:4", "--quiz"], "cannot be used with"),
        (&["tui", "--seed", "3"], "--quiz"),
        // Good arguments, but no terminal: the command to use instead.
        (&["tui", "--quiz", "--seed", "42"], "try `pagelab quiz --seed 42"),
        (&["tui", "belady", "--quiz"], "try `pagelab run belady --quiz`"),
        (&["tui", "--compare", "fifo:3,fifo:4"], "pagelab replay - --policy fifo --frames 3 --trace"),
    ] {
        pagelab(args).code(2).stderr_has(&[msg]);
    }
    let dir = TempDir::new("tui-compare");
    let bad = dir.path().join("bad.refs");
    std::fs::write(&bad, "1 2 x\n").unwrap();
    pagelab(&["tui", "--compare", "fifo:3,fifo:4", "--trace", bad.to_str().unwrap()])
        .code(2)
        .stderr_has(&["bad.refs:1:5"]);
}
