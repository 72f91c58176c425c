//! Bad input of every kind exits 2 with `file:LINE:COL: what was expected`
//! on stderr, and never panics.

use crate::util::{pagelab, pagelab_with_stdin, s, TempDir};

/// Joins lines with newlines, so that a case's line numbers can be read off
/// its array index (line n is element n - 1).
fn lines(l: &[&str]) -> String {
    l.join("\n") + "\n"
}

/// The header every case starts from: lines 1-4.
const HEAD: [&str; 4] = ["[scenario]", "name = \"x\"", "[[process]]", "name = \"a\""];

fn with_head(rest: &[&str]) -> String {
    let mut v: Vec<&str> = HEAD.to_vec();
    v.extend_from_slice(rest);
    lines(&v)
}

/// Checks that `text`, as a scenario file, is rejected by both `check` and
/// `run` with exit 2, `FILE:line:col:` (`col` when given) and every
/// fragment of `says` in the message.
#[track_caller]
fn rejects(text: &str, line: usize, col: Option<usize>, says: &[&str]) {
    let dir = TempDir::new("bad");
    let f = dir.write("bad.toml", text);
    let path = s(&f);
    let at = match col {
        Some(c) => format!("{path}:{line}:{c}: "),
        None => format!("{path}:{line}:"),
    };
    for cmd in ["check", "run"] {
        let o = pagelab(&[cmd, path]);
        o.code(2);
        assert!(o.stderr.contains(&at), "`{cmd}`: expected {at:?} in:\n{}\n--- input ---\n{text}", o.stderr);
        for frag in says {
            assert!(o.stderr.contains(frag), "`{cmd}`: expected {frag:?} in:\n{}\n--- input ---\n{text}", o.stderr);
        }
        let msg = o.stderr.split(&at).nth(1).unwrap_or("");
        assert!(!msg.trim().is_empty(), "`{cmd}`: no message after the position:\n{}", o.stderr);
        assert!(o.stdout.is_empty(), "`{cmd}` printed a report for bad input:\n{}", o.stdout);
    }
}

#[test]
fn malformed_toml() {
    rejects(&lines(&["[scenario", "name = \"x\""]), 1, Some(10), &["invalid table header", "expected"]);
    rejects(&lines(&["[scenario]", "name = \"x"]), 2, None, &["invalid basic string"]);
    rejects(&lines(&["[scenario]", "name = \"a\\qb\""]), 2, None, &["invalid escape sequence", "expected"]);
    rejects(&lines(&["[scenario]", "name = \"x\"", "name = \"y\""]), 3, Some(1), &["duplicate key `name`"]);
    rejects(&lines(&["[scenario]", "name = \"x\"", "", "[machine", "memory = 3"]), 4, None, &["invalid table header"]);
    // An array left open runs to the end of the file.
    rejects(&lines(&["[scenario]", "name = \"x\"", "memory = [1,"]), 4, None, &["invalid array", "expected `]`"]);
    rejects(&lines(&["[scenario]", "name = \"x\" extra"]), 2, None, &["expected newline"]);
    rejects("", 1, Some(1), &["missing field `scenario`"]);
    rejects("\u{0}\u{1}\u{2}binary", 1, None, &[]);
}

#[test]
fn a_key_without_a_value_at_the_end_says_what_was_expected() {
    rejects("[scenario]\nname =", 2, Some(7), &["expected"]);
}

#[test]
fn unknown_keys_at_every_level() {
    rejects(&lines(&["[scenario]", "name = \"x\"", "colour = 1"]), 3, Some(1), &["unknown field `colour`", "`name`"]);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "memory = \"1 MiB\"", "colour = 1"]),
        5,
        Some(1),
        &["unknown field `colour`", "expected one of `memory`"],
    );
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "[machine.cluster]", "pagefile = 3", "colour = 1"]),
        6,
        Some(1),
        &["unknown field `colour`", "expected one of `pagefile`, `file`, `direction`"],
    );
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "[machine.writer]", "colour = 1"]),
        5,
        Some(1),
        &["unknown field `colour`", "`free_below`"],
    );
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "costs = { warp = 5 }"]),
        4,
        Some(11),
        &["unknown cost \"warp\"", "expected fault_trap"],
    );
    rejects(&with_head(&["colour = 1"]), 5, Some(1), &["unknown field `colour`", "expected one of `name`"]);
    rejects(
        &with_head(&["[[file]]", "name = \"f\"", "size = 4096", "colour = 1"]),
        8,
        Some(1),
        &["unknown field `colour`"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"exit\"", "process = \"a\"", "colour = 1"]),
        8,
        Some(1),
        &["unknown field `colour`", "expected one of `op`"],
    );
    rejects(&lines(&["[scenario]", "name = \"x\"", "", "[colours]", "red = 1"]), 4, None, &["unknown field `colours`"]);
}

#[test]
fn nested_machine_tables_work_without_an_explicit_machine_table() {
    let dir = TempDir::new("implicit");
    let good = dir.write("good.toml", lines(&["[scenario]", "name = \"x\"", "[machine.cluster]", "pagefile = 3"]));
    pagelab(&["check", s(&good)]).code(0);
    let good = dir.write("good2.toml", lines(&["[scenario]", "name = \"x\"", "[machine.writer]", "cluster = 4"]));
    pagelab(&["check", s(&good)]).code(0);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine.cluster]", "colour = 1"]),
        4,
        Some(1),
        &["unknown field `colour`"],
    );
}

#[test]
fn wrong_types() {
    let m = |v: &str| lines(&["[scenario]", "name = \"x\"", "[machine]", v]);
    rejects(&m("memory = true"), 4, Some(10), &["memory: expected a size such as \"64 MiB\"", "found boolean"]);
    rejects(&m("memory = [1]"), 4, Some(10), &["memory: expected a size"]);
    rejects(
        &m("ws_max = \"ten\""),
        4,
        Some(10),
        &["expected an integer (a number without quotes), found the string \"ten\""],
    );
    rejects(&m("policy = 3"), 4, Some(10), &["expected a string"]);
    rejects(&m("ws_hard_max = \"yes\""), 4, Some(15), &["expected true or false"]);
    rejects(&lines(&["[scenario]", "name = \"x\"", "[[process]]", "name = 3"]), 4, Some(8), &["expected a string"]);
    rejects(&lines(&["[scenario]", "name = 3"]), 2, Some(8), &["expected a string"]);
    rejects(&lines(&["scenario = 3"]), 1, Some(12), &["expected struct"]);
    rejects(
        &with_head(&["[[step]]", "op = \"reserve\"", "process = \"a\"", "size = 4096", "commit = \"yes\""]),
        9,
        Some(10),
        &["\"yes\"", "expected true or false"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"refs\"", "process = \"a\"", "refs = \"1,2,3\""]),
        8,
        Some(8),
        &["expected a list in square brackets, found the string \"1,2,3\""],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"refs\"", "process = \"a\"", "refs = [1, \"two\"]"]),
        8,
        Some(12),
        &["expected an integer (a number without quotes), found the string \"two\""],
    );
    rejects(
        &with_head(&["[expect]", "\"a.faults\" = \"three\""]),
        6,
        Some(14),
        &["a.faults: expected a non-negative integer or { at_least = N, at_most = M }"],
    );
    rejects(
        &with_head(&["[expect]", "\"a.faults\" = { at_leest = 3 }"]),
        6,
        None,
        &["unknown bound `at_leest`", "expected at_least or at_most"],
    );
    rejects(&with_head(&["[expect]", "\"a.faults\" = { at_least = -3 }"]), 6, None, &["non-negative integer"]);
    rejects(&with_head(&["[expect]", "\"a.faults\" = -1"]), 6, Some(14), &["non-negative integer"]);
}

#[test]
fn impossible_sizes() {
    let m = |v: &str| lines(&["[scenario]", "name = \"x\"", "[machine]", v]);
    rejects(&m("memory = \"12 parsecs\""), 4, Some(10), &["unknown size unit \"parsecs\"", "expected B, KiB, MiB"]);
    rejects(&m("memory = \"lots\""), 4, Some(10), &["expected a size such as \"64 MiB\""]);
    rejects(&m("memory = \"99999999999 TiB\""), 4, Some(10), &["does not fit in 64 bits"]);
    rejects(&m("memory = -5"), 4, Some(10), &["memory: expected a size"]);
    // Validated against the whole machine: the error names the setting's line.
    rejects(&m("memory = \"4 TiB\""), 4, None, &["memory 4 TiB is larger than pagelab simulates (256 GiB)"]);
    rejects(&m("memory = 0"), 4, None, &["memory 0 B is too small: at least 16 pages"]);
    rejects(&m("memory = \"0 B\""), 4, None, &["too small"]);
    rejects(&m("memory = \"100000 B\""), 4, None, &["not a whole number of 4 KiB pages"]);
    rejects(&m("pagefile = \"2 TiB\""), 4, None, &["pagefile 2 TiB is larger than the 1 TiB"]);
    rejects(&m("numa_nodes = 0"), 4, Some(14), &["numa_nodes: expected an integer from 1 to 64, found 0"]);
    rejects(&m("numa_nodes = 65"), 4, Some(14), &["found 65"]);
    rejects(&m("ws_max = 0"), 4, Some(10), &["ws_max: expected an integer from 1"]);
    rejects(&m("ws_min = -1"), 4, Some(10), &["ws_min: expected an integer from 0"]);
    rejects(&m("bad_frames = [-1]"), 4, Some(15), &["bad frame: expected an integer from 0"]);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "memory = \"1 MiB\"", "bad_frames = [300]"]),
        5,
        None,
        &["bad frame 300 is beyond the last frame 255"],
    );
    rejects(&with_head(&["ws_min = 5", "ws_max = 2"]), 3, Some(1), &["ws_min 5 is above ws_max 2"]);
    rejects(&with_head(&["[[file]]", "name = \"f\"", "size = \"0\""]), 7, Some(8), &["file size 0 B: expected 1 byte"]);
    rejects(&with_head(&["[[file]]", "name = \"f\"", "size = \"17 TiB\""]), 7, Some(8), &["expected 1 byte to 16 TiB"]);
    let step = |l: &[&str]| {
        let mut v = vec!["[[step]]", "process = \"a\""];
        v.extend_from_slice(l);
        with_head(&v)
    };
    rejects(&step(&["op = \"reserve\"", "size = -4096"]), 8, Some(8), &["size: expected a size"]);
    rejects(&step(&["op = \"reserve\"", "size = \"1 parsec\""]), 8, Some(8), &["unknown size unit"]);
    rejects(
        &step(&["op = \"touch\"", "address = 0x10000", "pages = -3"]),
        9,
        Some(9),
        &["pages: expected an integer from 1 to 1000000000, found -3"],
    );
    rejects(&step(&["op = \"touch\"", "address = 0x10000", "pages = 2000000000"]), 9, Some(9), &["found 2000000000"]);
    rejects(
        &step(&["op = \"touch\"", "address = 0x10000", "pages = 100000", "repeat = 100000"]),
        5,
        Some(1),
        &["at most 1000000000 per step"],
    );
    rejects(&step(&["op = \"touch\"", "address = -1"]), 8, Some(11), &["address: expected a size"]);
    rejects(&step(&["op = \"refs\"", "refs = [1, -2]"]), 8, Some(12), &["page number: expected an integer from 0"]);
    rejects(&step(&["op = \"refs\"", "refs = [1]", "base = 0x10001"]), 9, Some(8), &["page-aligned"]);
    rejects(&step(&["op = \"set_working_set\"", "min = 1", "max = 0"]), 9, Some(7), &["max: expected an integer"]);
    rejects(&with_head(&["[[step]]", "op = \"advance\"", "ticks = 0"]), 7, Some(9), &["ticks: expected an integer"]);
}

#[test]
fn whole_machine_errors_point_at_the_offending_key() {
    for v in ["memory = \"4 TiB\"", "memory = 0", "memory = \"100000 B\"", "pagefile = \"2 TiB\""] {
        rejects(&lines(&["[scenario]", "name = \"x\"", "[machine]", "seed = 1", v]), 5, None, &[]);
    }
}

#[test]
fn unknown_ops_processes_files_metrics_and_pte_kinds() {
    rejects(
        &with_head(&["[[step]]", "op = \"fly\""]),
        6,
        Some(6),
        &["unknown op \"fly\"", "expected reserve, commit, decommit, release, touch, refs, map"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"exit\"", "process = \"a\"", "ticks = 3"]),
        8,
        Some(9),
        &["key `ticks` does not apply to op \"exit\" (it takes: process)"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"write_modified\"", "empty = true"]),
        5,
        None,
        &["key `empty` does not apply to op \"write_modified\""],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"touch\"", "process = \"a\"", "address = 0", "stride = 2"]),
        9,
        Some(10),
        &["`stride` applies only to pattern = \"stride\""],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"touch\"", "process = \"a\"", "address = 0", "pattern = \"zigzag\""]),
        9,
        None,
        &["pattern: expected sequential, reverse, stride or random, found \"zigzag\""],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"touch\"", "process = \"a\"", "address = 0", "access = \"scribble\""]),
        9,
        None,
        &["access: expected one of read, write, execute"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"reserve\"", "process = \"a\"", "size = 1", "protection = \"rwx\""]),
        9,
        None,
        &["protection: expected one of readonly, readwrite"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"exit\"", "process = \"b\""]),
        7,
        Some(11),
        &["unknown process \"b\": expected one declared with [[process]] (a)"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"map\"", "process = \"a\"", "file = \"nope\""]),
        8,
        Some(8),
        &["unknown file \"nope\": expected one declared with [[file]]"],
    );
    rejects(
        &with_head(&["[expect]", "\"a.bogus\" = 3"]),
        6,
        Some(1),
        &["unknown metric \"a.bogus\"", "PROCESS.METRIC"],
    );
    rejects(&with_head(&["[expect]", "\"b.faults\" = 3"]), 6, Some(1), &["unknown metric \"b.faults\""]);
    rejects(&with_head(&["[expect]", "\"faultz\" = 3"]), 6, Some(1), &["unknown metric \"faultz\""]);
    rejects(&with_head(&["[expect]", "\"files.nope.pages_read\" = 3"]), 6, Some(1), &["unknown metric"]);
    rejects(
        &with_head(&["[expect]", "\"a.wsex_nodes.0x10000\" = 0"]),
        6,
        Some(1),
        &["unknown metric \"a.wsex_nodes.0x10000\"", "PROCESS.wsex.ADDRESS"],
    );
    rejects(&with_head(&["[expect]", "\"a.wsex.0xzz\" = 0"]), 6, Some(1), &["a.wsex.0xzz:"]);
    rejects(
        &with_head(&["[expect]", "\"a.wsex_node.0x10000\" = \"one\""]),
        6,
        Some(25),
        &["a.wsex_node.0x10000: expected"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"exit\"", "process = \"a\"", "expect = { \"a.bogus\" = 1 }"]),
        8,
        Some(12),
        &["unknown metric \"a.bogus\""],
    );
    rejects(
        &with_head(&["[expect]", "\"a.pte.0x10000\" = \"weird\""]),
        6,
        Some(19),
        &["a.pte.0x10000: expected a PTE kind (valid, zero, demand_zero, transition", "found \"weird\""],
    );
    rejects(&with_head(&["[expect]", "\"a.pte.0x10000\" = 3"]), 6, Some(19), &["expected a PTE kind as a string"]);
    rejects(&with_head(&["[expect]", "\"a.pte.nowhere\" = \"zero\""]), 6, Some(1), &["a.pte.nowhere"]);
    rejects(
        &with_head(&["[[step]]", "op = \"exit\"", "process = \"a\"", "expect_error = \"oops\""]),
        8,
        Some(16),
        &["expect_error: expected one of access_violation", "found \"oops\""],
    );
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[[process]]", "name = \"faults\""]),
        4,
        Some(8),
        &["process name \"faults\""],
    );
    rejects(&with_head(&["[[process]]", "name = \"a\""]), 6, Some(8), &["process \"a\" is declared twice"]);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "policy = \"best\""]),
        4,
        Some(10),
        &["policy: expected one of fifo, lru, clock, opt, random, aging, wsclock, found \"best\""],
    );
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "layout = \"vax\""]),
        4,
        Some(10),
        &["layout: expected one of nt31, x64"],
    );
}

#[test]
fn missing_required_keys() {
    rejects(&lines(&["[machine]", "memory = \"1 MiB\""]), 1, Some(1), &["missing field `scenario`"]);
    rejects(&lines(&["[scenario]", "title = \"t\""]), 1, Some(1), &["missing field `name`"]);
    rejects(&lines(&["[scenario]", "name = \"\""]), 2, Some(8), &["expected a non-empty name"]);
    rejects(&with_head(&["[[step]]", "process = \"a\""]), 5, Some(1), &["missing field `op`"]);
    rejects(
        &with_head(&["", "[[step]]", "op = \"reserve\"", "process = \"a\""]),
        6,
        Some(1),
        &["op \"reserve\" needs `size`"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"touch\"", "address = 0x10000"]),
        5,
        Some(1),
        &["op \"touch\" needs a `process`"],
    );
    rejects(&with_head(&["[[step]]", "op = \"touch\"", "process = \"a\""]), 5, Some(1), &["needs `address`"]);
    rejects(&with_head(&["[[step]]", "op = \"map\"", "process = \"a\""]), 5, Some(1), &["needs `file`"]);
    rejects(
        &with_head(&["[[step]]", "op = \"set_working_set\"", "process = \"a\"", "min = 20"]),
        5,
        Some(1),
        &["needs `max`"],
    );
    rejects(
        &with_head(&["[[step]]", "op = \"refs\"", "process = \"a\""]),
        5,
        Some(1),
        &["needs `refs` (a list of page numbers) or `trace` (a file)"],
    );
    rejects(&with_head(&["[[file]]", "name = \"f\""]), 5, Some(1), &["missing field `size`"]);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[[process]]", "ws_max = 3"]),
        3,
        Some(1),
        &["missing field `name`"],
    );
}

/// Replays `bytes` as a trace of `format`; expects exit 2 with
/// `FILE:line:` (and `:col:` when given) and every fragment.
#[track_caller]
fn replay_rejects(format: &str, bytes: &[u8], line: u64, col: Option<u64>, says: &[&str]) {
    let dir = TempDir::new("badtrace");
    let f = dir.write("t.trace", bytes);
    let path = s(&f);
    for policy in ["fifo", "opt"] {
        let o = pagelab(&["replay", path, "--format", format, "--frames", "4", "--policy", policy, "--json"]);
        o.code(2);
        let at = match col {
            Some(c) => format!("{path}:{line}:{c}: "),
            None => format!("{path}:{line}:"),
        };
        assert!(o.stderr.contains(&at), "{format}: expected {at:?} in:\n{}", o.stderr);
        for frag in says {
            assert!(o.stderr.contains(frag), "{format}: expected {frag:?} in:\n{}", o.stderr);
        }
        assert!(o.stdout.is_empty(), "a report was printed for a bad trace:\n{}", o.stdout);
    }
}

#[test]
fn garbled_refs_traces() {
    replay_rejects("refs", b"1 2\n3 x7 4\n", 2, Some(3), &["expected a page number (decimal or 0x hex), found \"x7\""]);
    replay_rejects("refs", b"# header\n\n1,2,3\n4,,5 # fine\n6 -7\n", 5, Some(3), &["found \"-7\""]);
    replay_rejects("refs", b"1 0x\n", 1, Some(3), &["found \"0x\""]);
    replay_rejects("refs", b"99999999999999999999999\n", 1, Some(1), &["expected a page number"]);
    replay_rejects("refs", b"1\n0x1000000000\n", 2, Some(1), &["beyond the 48-bit address space"]);
}

#[test]
fn garbled_lackey_traces() {
    let head = "==123== Lackey, an example Valgrind tool\n==123== Command: ./prog\n";
    let lk = |rest: &str| format!("{head}I  04016bc2,3\n L 1ffefff8a8,8\n{rest}");
    // A line cut in the middle of its address, with and without a newline.
    replay_rejects("lackey", lk(" S 1ffefff8").as_bytes(), 5, Some(4), &["expected \"address,size\""]);
    replay_rejects("lackey", lk(" S 1ffe\n M 10,4\n").as_bytes(), 5, Some(4), &["expected \"address,size\""]);
    // Cut after the comma.
    replay_rejects("lackey", lk(" L 1ffefff8a8,").as_bytes(), 5, None, &["expected a positive decimal size"]);
    replay_rejects("lackey", lk(" L 1ffefff8a8,0\n").as_bytes(), 5, None, &["positive decimal size, found \"0\""]);
    replay_rejects("lackey", lk(" L 1ffefff8a8,eight\n").as_bytes(), 5, None, &["found \"eight\""]);
    replay_rejects("lackey", lk(" Q 12,4\n").as_bytes(), 5, Some(2), &["expected a lackey record (I, L, S or M)"]);
    replay_rejects("lackey", lk(" L 1ffzz,8\n").as_bytes(), 5, Some(4), &["expected a hex address, found \"1ffzz\""]);
    replay_rejects("lackey", lk(" L 12345678901234567,8\n").as_bytes(), 5, None, &["expected a hex address"]);
    replay_rejects(
        "lackey",
        lk(" L ffffffffffffffff,8\n").as_bytes(),
        5,
        Some(4),
        &["address 0xffffffffffffffff is beyond"],
    );
    // A size that wraps or reaches past 48 bits is the size's fault.
    replay_rejects(
        "lackey",
        lk(" S 1000,18446744073709551615\n").as_bytes(),
        5,
        Some(9),
        &["size 18446744073709551615 at address 0x1000 reaches beyond"],
    );
    replay_rejects("lackey", lk(" S 1000,9223372036854775807\n").as_bytes(), 5, Some(9), &["size 9223372036854775807"]);
    replay_rejects("lackey", lk(" L 7fffffffffffff,8\n").as_bytes(), 5, None, &["beyond the 48-bit address space"]);
    replay_rejects("lackey", b"\xff\xfe\x00\x01garbage\n", 1, Some(1), &["expected a lackey record"]);
}

#[test]
fn valid_lackey_oddities_are_accepted() {
    // valgrind's own lines, blank lines, CRLF endings and trailing spaces.
    let dir = TempDir::new("lkok");
    let f = dir.write("ok.lk", "==1== hi\r\n\r\nI  00400000,4\r\n L 00400ffe,4  \n--1-- note\n");
    let o = pagelab(&["replay", s(&f), "--format", "lackey", "--frames", "4", "--json"]);
    o.code(0);
    let v = o.json();
    // 0x400000 (1 page) then 0x400ffe..0x401001 (2 pages).
    assert_eq!(v["references"], 3);
    assert_eq!(v["faults"], 2);
}

#[test]
fn truncated_and_garbled_oracle_general_traces() {
    // Two good 24-byte records, then 22 bytes of a third: 70 bytes.
    let mut bytes = Vec::new();
    for (t, id) in [(0u32, 5u64), (1, 6)] {
        bytes.extend_from_slice(&t.to_le_bytes());
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&4096u32.to_le_bytes());
        bytes.extend_from_slice(&(-1i64).to_le_bytes());
    }
    let mut trunc = bytes.clone();
    trunc.extend_from_slice(&bytes[..22]);
    assert_eq!(trunc.len(), 70);
    replay_rejects("oracle-general", &trunc, 3, None, &["truncated record: 22 of 24 bytes"]);
    // 70 bytes of 0xff: the first object id is beyond the address space.
    replay_rejects("oracle-general", &[0xff; 70], 1, Some(5), &["beyond the 48-bit address space"]);
    // 70 bytes of text.
    replay_rejects(
        "oracle-general",
        &b"this is not a binary trace, it is prose and it is 70 bytes long......"[..],
        1,
        None,
        &[],
    );
    // The good part alone replays.
    let dir = TempDir::new("og");
    let f = dir.write("ok.og", &bytes);
    let o = pagelab(&["replay", s(&f), "--format", "oracle-general", "--frames", "4", "--json"]);
    o.code(0);
    assert_eq!(o.json()["references"], 2);
}

#[test]
fn binary_garbage_as_a_refs_trace() {
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(700).collect();
    junk.insert(0, b'x');
    replay_rejects("refs", &junk, 1, Some(1), &["expected a page number"]);
}

#[test]
fn unreadable_traces() {
    let dir = TempDir::new("noread");
    let missing = dir.path().join("missing.refs");
    let o = pagelab(&["replay", s(&missing), "--frames", "4"]);
    o.code(2).stderr_has(&[s(&missing), "cannot open the trace"]);
    let o = pagelab(&["replay", s(dir.path()), "--frames", "4"]);
    o.code(2).stderr_has(&["cannot read the trace"]);
    // Standard input is named `-`.
    let o = pagelab_with_stdin(None, &["replay", "-", "--frames", "4"], Some(b"1 2\n3 zz\n"));
    o.code(2).stderr_has(&["-:2:3: expected a page number"]);
}

#[test]
fn a_scenario_refs_step_names_the_garbled_trace_and_its_line() {
    let dir = TempDir::new("steptrace");
    dir.write("g.refs", "1 2 3\n# comment\n4 5 zz\n");
    dir.write("g.lk", "I  00400000,4\n L 00400ffe\n");
    let scenario = |trace: &str, format: &str| {
        with_head(&[
            "[[step]]",
            "op = \"reserve\"",
            "process = \"a\"",
            "address = 0x10000",
            "size = \"1 MiB\"",
            "commit = true",
            "[[step]]",
            "op = \"refs\"",
            "process = \"a\"",
            "base = 0x10000",
            &format!("trace = \"{trace}\""),
            format,
        ])
    };
    let f = dir.write("s.toml", scenario("g.refs", ""));
    let g = dir.path().join("g.refs");
    for cmd in ["check", "run"] {
        let o = pagelab(&[cmd, s(&f)]);
        o.code(2);
        o.stderr_has(&[&format!("{}:3:5: ", s(&g)), "expected a page number", "\"zz\""]);
    }
    let f = dir.write("l.toml", scenario("g.lk", "format = \"lackey\""));
    let g = dir.path().join("g.lk");
    pagelab(&["check", s(&f)]).code(2).stderr_has(&[&format!("{}:2:4: ", s(&g)), "expected \"address,size\""]);
    // A trace that does not exist: the scenario's own line of `trace`.
    let f = dir.write("m.toml", scenario("missing.refs", ""));
    pagelab(&["check", s(&f)]).code(2).stderr_has(&[&format!("{}:15:9: ", s(&f)), "cannot open trace"]);
    // A format that does not exist.
    let f = dir.write("x.toml", scenario("g.refs", "format = \"xml\""));
    pagelab(&["check", s(&f)])
        .code(2)
        .stderr_has(&[&format!("{}:16:10: ", s(&f)), "format: expected one of auto, refs"]);
    // The same trace, repaired, runs.
    dir.write("g.refs", "1 2 3\n# comment\n4 5 6\n");
    let f = dir.write("s.toml", scenario("g.refs", ""));
    pagelab(&["run", s(&f)]).code(0);
}

#[test]
fn bad_replay_machine_settings() {
    let dir = TempDir::new("replaymem");
    let t = dir.write("t.refs", "1 2 3");
    for (flag, value, says) in [
        ("--memory", "4TiB", "memory 4 TiB is larger than pagelab simulates"),
        ("--memory", "0", "memory 0 B is too small"),
        ("--memory", "12 parsecs", "--memory: unknown size unit"),
        ("--memory", "99999999 TiB", "--memory: size \"99999999 TiB\" does not fit in 64 bits"),
        ("--cost", "abacus", "--cost \"abacus\": expected one of"),
    ] {
        let o = pagelab(&["replay", s(&t), "--frames", "4", flag, value]);
        o.code(2).stderr_has(&[says]);
        assert!(o.stdout.is_empty());
    }
    // More frames than the machine has.
    let o = pagelab(&["replay", s(&t), "--frames", "100000", "--memory", "1MiB"]);
    o.code(2).stderr_has(&["--frames 100000: expected 1 to 256"]);
}

#[test]
fn huge_frames_is_bad_input_not_a_panic() {
    let dir = TempDir::new("frames");
    let t = dir.write("t.refs", "1 2 3");
    for n in ["1125899906842624", "18446744073709551615"] {
        pagelab(&["replay", s(&t), "--frames", n]).code(2).stderr_has(&["--frames"]);
    }
}

/// Steps whose addresses or sizes lie at the very top of the 64-bit range.
/// `check` accepts them today (addresses outside user space are access
/// violations at run time, as in nt31-2gb); running them must end in the
/// step's expected error, or be rejected as bad input, never panic.
const TOP_OF_RANGE: [(&str, &[&str]); 4] = [
    (
        "reserve: base + size rounds up past 2^64",
        &[
            "op = \"reserve\"",
            "process = \"a\"",
            "address = 0x10000",
            "size = \"0xFFFFFFFFFFFEFF00\"",
            "expect_error = \"ERROR_INVALID_PARAMETER\"",
        ],
    ),
    (
        "map: offset + size past 2^64",
        &[
            "op = \"map\"",
            "process = \"a\"",
            "file = \"f\"",
            "offset = \"64 KiB\"",
            "size = \"0xFFFFFFFFFFFFFFFF\"",
            "expect_error = \"ERROR_INVALID_PARAMETER\"",
        ],
    ),
    (
        "touch: the last page of a reverse run is past 2^64",
        &[
            "op = \"touch\"",
            "process = \"a\"",
            "address = \"0xFFFFFFFFFFFFF000\"",
            "pages = 2",
            "pattern = \"reverse\"",
            "expect_error = \"access_violation\"",
        ],
    ),
    (
        "refs: base + page past 2^64",
        &[
            "op = \"refs\"",
            "process = \"a\"",
            "base = \"0xFFFFFFFFFFFFF000\"",
            "refs = [1]",
            "expect_error = \"access_violation\"",
        ],
    ),
];

fn top_of_range_scenario(step: &[&str]) -> String {
    let mut l = vec!["[scenario]", "name = \"top\"", "[[process]]", "name = \"a\"", "[[file]]", "name = \"f\""];
    l.extend(["size = \"1 MiB\"", "[[step]]"]);
    l.extend_from_slice(step);
    lines(&l)
}

#[test]
fn the_top_of_the_address_range_never_panics() {
    let dir = TempDir::new("topnp");
    let mut failed = Vec::new();
    for (what, step) in TOP_OF_RANGE {
        let f = dir.write("top.toml", top_of_range_scenario(step));
        let o = pagelab(&["run", s(&f)]);
        if !(o.code == 0 || (o.code == 2 && o.stderr.contains("top.toml:"))) || o.stderr.contains("panicked") {
            failed.push(format!("{what}: exit {}\n{}", o.code, o.stderr));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A step left out under the machine's allocator era does not start a
/// process for the steps that stay: the loader names the step that uses
/// it (it used to pass and then panic when the expectation measured a
/// process that never ran). An unknown era is named too.
#[test]
fn steps_of_other_allocator_eras_are_left_out_before_checking_starts() {
    let text = lines(&[
        "[scenario]",
        "name = \"x\"",
        "[[process]]",
        "name = \"a\"",
        "started = false",
        "[[step]]",
        "op = \"start\"",
        "process = \"a\"",
        "allocator = \"desperate\"",
        "[[step]]",
        "op = \"advance\"",
        "expect = { \"a.ws_size\" = 0 }",
    ]);
    rejects(&text, 10, Some(1), &["process a", "has not been started yet"]);
    let ok = text.replace("allocator = \"desperate\"", "allocator = [\"desperate\", \"sp1\"]");
    let dir = TempDir::new("eras");
    let f = dir.write("ok.toml", &ok);
    pagelab(&["run", s(&f)]).code(0);
    rejects(
        &with_head(&["[[step]]", "op = \"advance\"", "allocator = \"xp\""]),
        7,
        Some(13),
        &["allocator: expected an era", "desperate, give-up, sp1"],
    );
}

/// A driver's step that cannot be met fails the step with a message that
/// says why, never a panic: freeing contiguous memory when none is held, and
/// an alignment larger than memory (which leaves frame 0 only).
#[test]
fn contiguous_steps_fail_with_reasons() {
    let dir = TempDir::new("contig");
    let f = dir.write("fc.toml", lines(&["[scenario]", "name = \"c\"", "[[step]]", "op = \"free_contiguous\""]));
    let o = pagelab(&["run", s(&f)]);
    o.code(1);
    assert!(o.stdout.contains("no contiguous allocation is held"), "{}", o.stdout);
    let f = dir.write(
        "align.toml",
        lines(&[
            "[scenario]",
            "name = \"c\"",
            "[[step]]",
            "op = \"contiguous\"",
            "size = \"4 KiB\"",
            "alignment = \"16 TiB\"",
            "expect = { \"contiguous.pages\" = 1 }",
            "[[step]]",
            "op = \"contiguous\"",
            "size = \"4 KiB\"",
            "alignment = \"16 TiB\"",
            "expect_error = \"no_contiguous_memory\"",
        ]),
    );
    pagelab(&["run", s(&f)]).code(0);
}

#[test]
fn a_missing_or_unreadable_scenario_is_named_without_a_position() {
    let o = pagelab(&["run", "no-such-scenario"]);
    o.code(2);
    assert!(o.stderr.contains("pagelab: no-such-scenario: no such file"), "{}", o.stderr);
    assert!(!o.stderr.contains(":1:1"), "a file that is not there has no line 1: {}", o.stderr);
    // A directory exists, but cannot be read as a scenario.
    let dir = TempDir::new("unreadable");
    let o = pagelab(&["check", s(dir.path())]);
    o.code(2);
    assert!(o.stderr.contains("cannot read the scenario") && !o.stderr.contains(":1:1"), "{}", o.stderr);
}

/// serde's own words ("invalid type: string \"300\", expected i64") come
/// out as pagelab's: what was expected and what was found, and how to
/// write it; a fractional size is refused with what to write instead.
#[test]
fn type_errors_and_fractional_sizes_read_as_pagelab_messages() {
    rejects(
        &with_head(&["ws_max = \"300\""]),
        5,
        None,
        &["expected an integer (a number without quotes), found the string \"300\""],
    );
    rejects(&with_head(&["hard_max = 1"]), 5, None, &["expected true or false", "found the integer 1"]);
    rejects(
        &lines(&["[scenario]", "name = \"x\"", "[machine]", "memory = \".5 mib\""]),
        4,
        None,
        &["whole numbers", "write \"512 KiB\""],
    );
    let o = pagelab(&["run", "tour", "--set", "memory=1.5MiB"]);
    o.code(2);
    assert!(o.stderr.contains("whole numbers"), "{}", o.stderr);
}

/// A lackey trace read as a reference string says which format it is; a
/// binary file read as one quotes 40 bytes of it, not hundreds; `--frames`
/// beyond the machine's memory is refused as its message says.
#[test]
fn trace_format_mistakes_say_what_to_do() {
    let dir = TempDir::new("fmt");
    let lackey = dir.write("lackey.txt", "I  04010173,3\n L 1ffefffd58,8\n S 1ffefffd50,8\n");
    let o = pagelab(&["replay", s(&lackey), "--format", "refs", "--frames", "4"]);
    o.code(2);
    assert!(o.stderr.contains("use --format lackey"), "{}", o.stderr);
    assert!(o.stderr.contains(":1:"), "the error is located: {}", o.stderr);
    // Without --format, it is detected as what it is.
    let o = pagelab(&["replay", s(&lackey), "--frames", "4"]);
    o.code(0);
    assert!(o.stdout.contains("(lackey; detected: a lackey record on line 1)"), "{}", o.stdout);
    let binary: String = (0..600).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let bin = dir.write("blob.bin", &binary);
    let o = pagelab(&["replay", s(&bin), "--frames", "4"]);
    o.code(2);
    assert!(o.stderr.contains("more bytes"), "{}", o.stderr);
    assert!(o.stderr.len() < 300, "the message quotes the start only: {} bytes\n{}", o.stderr.len(), o.stderr);
    let refs = dir.write("refs.txt", "1 2 3\n");
    let o = pagelab(&["replay", s(&refs), "--frames", "100000", "--memory", "1MiB"]);
    o.code(2);
    assert!(o.stderr.contains("--frames 100000: expected 1 to 256 (the machine's memory)"), "{}", o.stderr);
}
