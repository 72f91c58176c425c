//! Regression tests of the hardening work: output files that keep what a
//! user had, readers that go away, and inputs that would exhaust host
//! memory. Each test is named after the defect it guards.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{pagelab, s, TempDir};

/// Spawns `pagelab args` with standard output piped, reads one line, closes
/// the pipe, and waits at most `limit` for the process to end (killing it
/// if it does not). Returns the exit code and standard error.
fn read_one_line_then_close(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pagelab starts");
    let mut first = String::new();
    {
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        out.read_line(&mut first).expect("a first line");
    } // the read end is closed here
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().expect("piped stderr").read_to_string(&mut err).expect("stderr");
    (code, first, err)
}

#[test]
fn run_events_stops_when_its_reader_goes_away() {
    // 300 steps of 160,000 references each, and an expectation at the end
    // that fails: a run that goes on after its reader left ends with exit 1
    // (or is still running after 60 s); one that stops at the closed pipe
    // ends with 0 at its next step.
    let dir = TempDir::new("pipe-run");
    let mut text = String::from(
        "[scenario]\nname = \"long\"\n[machine]\nmemory = \"1 MiB\"\n[[process]]\nname = \"p\"\nws_max = 8\n\
         [expect]\n\"p.faults\" = 1\n\
         [[step]]\nop = \"reserve\"\nprocess = \"p\"\naddress = 0x10000\nsize = \"64 KiB\"\ncommit = true\n",
    );
    for _ in 0..300 {
        text += "[[step]]\nop = \"touch\"\nprocess = \"p\"\naddress = 0x10000\npages = 8\nrepeat = 20000\n";
    }
    let f = dir.write("long.toml", text);
    let (code, first, err) = read_one_line_then_close(&["run", s(&f), "--events"], Duration::from_secs(60));
    assert!(first.starts_with("  setup: process p created"), "{first}");
    assert_eq!(code, Some(0), "exit code (None: still running after 60 s); stderr: {err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn gen_trace_to_a_closed_pipe_exits_0_quietly() {
    let args = ["gen-trace", "--pages", "1000", "--refs", "1000000000", "-o", "-"];
    let (code, first, err) = read_one_line_then_close(&args, Duration::from_secs(60));
    assert!(first.trim().parse::<u64>().is_ok(), "{first}");
    assert_eq!(code, Some(0), "exit code (None: still running after 60 s); stderr: {err}");
    assert!(err.is_empty(), "{err}");
}

#[cfg(unix)]
mod files {
    use super::*;
    use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};

    #[test]
    fn output_through_a_symlink_writes_its_target() {
        let dir = TempDir::new("out-link");
        let real = dir.write("real.txt", "old");
        symlink("real.txt", dir.path().join("link.txt")).unwrap();
        pagelab(&["run", "belady", "-o", s(&dir.path().join("link.txt"))]).code(0);
        assert!(std::fs::symlink_metadata(dir.path().join("link.txt")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), pagelab(&["run", "belady"]).stdout);
        assert_eq!(dir.names(), vec!["link.txt".to_string(), "real.txt".to_string()]);
    }

    #[test]
    fn output_keeps_the_mode_of_the_file_it_replaces() {
        let dir = TempDir::new("out-mode");
        let out = dir.write("report.json", "{}");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
        pagelab(&["run", "tour", "--json", "-o", s(&out)]).code(0);
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&out).unwrap().contains("\"passed\""));
    }

    #[test]
    fn output_into_a_fifo_reaches_its_reader() {
        let dir = TempDir::new("out-fifo");
        let fifo = dir.path().join("pipe");
        let made = Command::new("mkfifo").arg(&fifo).status();
        if !matches!(made, Ok(s) if s.success()) {
            eprintln!("SKIP: mkfifo is not available");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        let o = pagelab(&["run", "belady", "-o", s(&fifo)]);
        o.code(0);
        let got = reader.join().unwrap();
        assert_eq!(got, pagelab(&["run", "belady"]).stdout);
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
        // gen-trace writes into it the same way.
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        pagelab(&["gen-trace", "--pages", "10", "--refs", "5", "-o", s(&fifo)]).code(0);
        assert_eq!(reader.join().unwrap().lines().count(), 5);
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn output_to_a_device_writes_it_and_keeps_it() {
        pagelab(&["run", "belady", "-o", "/dev/null"]).code(0);
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        if std::path::Path::new("/dev/full").exists() {
            pagelab(&["run", "belady", "-o", "/dev/full"]).code(2).stderr_has(&["cannot write /dev/full"]);
            assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
        }
    }
}

/// The scenario of the report: every value within its documented range,
/// about 3.3 GiB of host memory to run.
const HUGE: &str = r#"[scenario]
name = "huge"
[machine]
memory = "256 GiB"
pagefile = "1 TiB"
[[process]]
name = "p"
ws_min = 20
ws_max = 100000000
[[step]]
op = "reserve"
process = "p"
address = 0x10000
size = "1000 GiB"
commit = true
[[step]]
op = "touch"
process = "p"
address = 0x10000
pages = 100000000
access = "write"
"#;

#[test]
fn a_scenario_that_would_exhaust_host_memory_is_refused_up_front() {
    let dir = TempDir::new("huge");
    let f = dir.write("huge.toml", HUGE);
    let o = pagelab(&["run", s(&f), "--host-memory", "2GiB"]);
    o.code(2).stderr_has(&[
        "huge.toml: scenario huge can need up to",
        "PFN database 1.5 GiB",
        "more than the limit of 2.0 GiB (--host-memory 2.0 GiB)",
        "--host-memory SIZE",
    ]);
    assert!(o.stdout.is_empty());
    // The environment sets the limit for every command, the TUI included
    // (refused before it looks for a terminal).
    let run = |args: &[&str], limit: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_pagelab"))
            .args(args)
            .env("PAGELAB_HOST_MEMORY", limit)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["run", s(&f)], "3 GiB");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("limit of 3.0 GiB (PAGELAB_HOST_MEMORY 3.0 GiB)"), "{err}");
    let (code, err) = run(&["tui", s(&f)], "3 GiB");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("checkpoints"), "the TUI counts its copies of the machine: {err}");
    let (code, err) = run(&["run", s(&f)], "a lot");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("PAGELAB_HOST_MEMORY \"a lot\""), "{err}");
    // A small scenario runs under a small limit.
    pagelab(&["run", "belady", "--host-memory", "64MiB"]).code(0);
}

#[test]
fn a_replay_whose_page_tables_outgrow_the_limit_stops_with_a_clear_error() {
    // One store of 1 TiB: 2^28 distinct pages, 4 KiB of page table per 512.
    let dir = TempDir::new("replay-grow");
    let t = dir.write("big.lackey", " S 1000,1099511627776\n");
    let o = pagelab(&["replay", s(&t), "--format", "lackey", "--frames", "64", "--host-memory", "20MiB"]);
    o.code(2).stderr_has(&["big.lackey: the replay holds", "page tables grow", "more than the limit of 20.0 MiB"]);
    // Its fixed part alone: a working set of 60M frames on a 240 GiB machine.
    let o = pagelab(&["replay", s(&t), "--format", "lackey", "--frames", "60000000", "--host-memory", "2GiB"]);
    o.code(2).stderr_has(&["the replay can need up to", "PFN database", "working set"]);
}

#[test]
fn gen_trace_and_opt_replays_that_would_hold_too_much_are_refused() {
    let dir = TempDir::new("hold");
    let out = dir.path().join("t.bin");
    let o = pagelab(&[
        "gen-trace",
        "--pages",
        "1000",
        "--refs",
        "10000000000",
        "--format",
        "oracle-general",
        "-o",
        s(&out),
        "--host-memory",
        "1GiB",
    ]);
    o.code(2).stderr_has(&["gen-trace can need up to 149.0 GiB", "--format refs, which streams"]);
    assert!(!out.exists());
    // OPT holds the whole trace: refused once it outgrows the limit.
    let t = dir.write("t.refs", "1\n2\n3\n".repeat(23_334));
    let o = pagelab(&["replay", s(&t), "--policy", "opt", "--frames", "2", "--host-memory", "20MiB"]);
    o.code(2).stderr_has(&["the OPT replay, which holds the whole trace (65536 references read)"]);
    let held = pagelab(&["replay", s(&t), "--policy", "opt", "--frames", "2", "--host-memory", "64MiB", "--json"]);
    held.code(0);
    // The same references as oracleGeneral, whose records carry each next
    // use: OPT streams them within the limit that refused the text, with
    // the same result.
    let mut og = Vec::new();
    let n = 3 * 23_334u64;
    for i in 0..n {
        og.extend_from_slice(&(i as u32).to_le_bytes());
        og.extend_from_slice(&(i % 3 + 1).to_le_bytes());
        og.extend_from_slice(&4096u32.to_le_bytes());
        let next = if i + 3 < n { (i + 3) as i64 } else { -1 };
        og.extend_from_slice(&next.to_le_bytes());
    }
    let b = dir.write("t.oracleGeneral", &og);
    let streamed = pagelab(&["replay", s(&b), "--policy", "opt", "--frames", "2", "--host-memory", "20MiB", "--json"]);
    streamed.code(0);
    assert_eq!(streamed.json()["faults"], held.json()["faults"]);
    assert_eq!(streamed.json()["references"], n);
}
