//! A real trace, made on the spot: a small C program run under valgrind's
//! lackey tool, replayed with `pagelab replay --format lackey`, and checked
//! against figures computed here independently from the trace file.

use std::collections::HashSet;
use std::process::Command;

use crate::util::{fifo_misses, pagelab, s, uint, TempDir};

const PROGRAM: &str = r#"
static unsigned char src[65536];
static unsigned char dst[65536];

int main(void) {
    unsigned long sum = 0;
    for (int i = 0; i < 65536; i++)
        sum += src[i];
    for (int i = 0; i < 65536; i++)
        dst[i] = (unsigned char)(sum + i);
    return dst[4096] == 255;
}
"#;

fn found(cmd: &str, arg: &str) -> bool {
    Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// The pages a lackey trace touches, in order, parsed here without pagelab:
/// `I`, `L`, `S` and `M` records of `addr,size` touch pages
/// addr>>12 ..= (addr+size-1)>>12; other lines are valgrind's own.
fn pages_of(trace: &str) -> Vec<u64> {
    let mut pages = Vec::new();
    for line in trace.lines() {
        let t = line.trim_start();
        let Some(kind) = t.chars().next() else { continue };
        if !"ILSM".contains(kind) || !t[1..].starts_with(' ') {
            assert!(line.starts_with("==") || line.starts_with("--") || t.is_empty(), "odd line {line:?}");
            continue;
        }
        let (addr, size) = t[1..].trim().split_once(',').unwrap_or_else(|| panic!("odd record {line:?}"));
        let addr = u64::from_str_radix(addr, 16).unwrap();
        let size: u64 = size.trim().parse().unwrap();
        pages.extend(addr >> 12..=(addr + size - 1) >> 12);
    }
    pages
}

#[test]
fn replaying_a_real_lackey_trace_matches_an_independent_count() {
    if !found("valgrind", "--version") {
        println!("skipping: valgrind not found");
        return;
    }
    let Some(cc) = ["cc", "gcc", "clang"].into_iter().find(|c| found(c, "--version")) else {
        println!("skipping: no C compiler (cc, gcc or clang) found");
        return;
    };
    let dir = TempDir::new("lackey");
    let src = dir.write("prog.c", PROGRAM);
    let exe = dir.path().join("prog");
    let built = Command::new(cc).args(["-O1", "-o", s(&exe), s(&src)]).output().unwrap();
    assert!(built.status.success(), "{cc} failed:\n{}", String::from_utf8_lossy(&built.stderr));
    let trace = dir.path().join("trace.lk");
    let ran = Command::new("valgrind")
        .args(["--tool=lackey", "--trace-mem=yes", &format!("--log-file={}", s(&trace)), s(&exe)])
        .output()
        .unwrap();
    assert!(ran.status.code().is_some(), "valgrind was killed: {ran:?}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let pages = pages_of(&text);
    // The program reads 16 pages of `src` and writes 16 of `dst`.
    assert!(pages.len() > 2 * 65536, "only {} page touches", pages.len());

    let o = pagelab(&["replay", s(&trace), "--format", "lackey", "--policy", "fifo", "--frames", "64", "--json"]);
    o.code(0);
    let v = o.json();
    let distinct = pages.iter().collect::<HashSet<_>>().len() as u64;
    assert_eq!(uint(&v, "references"), pages.len() as u64, "references = page touches in the trace");
    assert_eq!(uint(&v, "access_violations"), 0);
    let faults = uint(&v, "faults");
    assert!(faults >= distinct, "{faults} faults for {distinct} distinct pages");
    assert!(faults > 32, "the arrays alone are 32 pages: {faults}");
    assert_eq!(faults, fifo_misses(&pages, 64), "FIFO faults = an independent FIFO over the same pages");
    // Memory is plentiful: first touches are demand zero, the rest soft.
    assert_eq!(uint(&v, "breakdown/demand_zero"), distinct);
    assert_eq!(uint(&v, "breakdown/soft"), faults - distinct);
    assert_eq!(uint(&v, "breakdown/hard"), 0);
}
