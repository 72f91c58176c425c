//! Memory resource notifications and the buffer-pool model, end to end:
//! the two built-in scenarios, and bad input to the new keys.

use crate::util::{pagelab, uint, TempDir};

/// The hard faults of one process in a `run --json` report, and available
/// pages at the end.
fn hard_faults_and_available(scenario: &str, process: &str) -> (u64, u64) {
    let o = pagelab(&["run", scenario, "--json"]);
    o.code(0);
    let v = o.json();
    assert_eq!(v["passed"], true, "{scenario}");
    let p = v["state"]["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["name"] == process)
        .unwrap_or_else(|| panic!("{scenario} has no process {process}"))
        .clone();
    let c = &p["counters"];
    (uint(c, "hard_pagefile") + uint(c, "hard_file"), uint(&v["state"], "available"))
}

#[test]
fn a_pool_that_shrinks_on_low_memory_spares_the_other_process_its_hard_faults() {
    let (shrinking, avail_shrinking) = hard_faults_and_available("buffer-pool", "app");
    let (ignoring, avail_ignoring) = hard_faults_and_available("buffer-pool-ignores-pressure", "app");
    assert_eq!((shrinking, ignoring), (590, 3072));
    assert!(shrinking * 5 < ignoring, "{shrinking} hard faults with a shrinking pool, {ignoring} without");
    assert!(avail_shrinking > avail_ignoring, "{avail_shrinking} available against {avail_ignoring}");
}

#[test]
fn bad_pool_and_notification_keys_are_located() {
    let dir = TempDir::new("pressure");
    let head = "[scenario]\nname = \"x\"\n[machine]\nmemory = \"1 MiB\"\n[[process]]\nname = \"p\"\n";
    let cases = [
        ("[[step]]\nop = \"wait_notification\"\nticks = 1\n", "7:1", "needs `notification`"),
        (
            "[[step]]\nop = \"wait_notification\"\nnotification = \"medium\"\nticks = 1\n",
            "9:16",
            "expected one of low, high",
        ),
        (
            "[[step]]\nop = \"buffer_pool\"\nprocess = \"p\"\ntarget = \"2 MiB\"\n",
            "10:10",
            "to the machine's memory (1 MiB), found 2 MiB",
        ),
        (
            "[[step]]\nop = \"buffer_pool\"\nprocess = \"p\"\ntarget = \"64 KiB\"\nmemory = \"paged\"\n",
            "11:10",
            "expected one of regular, awe",
        ),
        ("[[step]]\nop = \"pool_grow\"\nprocess = \"p\"\nshrink = 3\n", "10:10", "does not apply to op \"pool_grow\""),
        ("[machine.notifications]\nlow = \"3 MiB\"\n", "8:7", "notifications.low"),
    ];
    for (i, (body, at, message)) in cases.iter().enumerate() {
        let f = dir.write(&format!("bad{i}.toml"), format!("{head}{body}"));
        let o = pagelab(&["check", f.to_str().unwrap()]);
        o.code(2).no_panic().stderr_has(&[&format!("bad{i}.toml:{at}:"), message]);
    }
}

#[test]
fn waiting_for_a_notification_that_does_not_come_is_wait_timeout() {
    // 256 frames are below the default low threshold of 400 pages: on a
    // machine this small, low memory is signalled from boot.
    let dir = TempDir::new("pressure-wait");
    let f = dir.write(
        "wait.toml",
        "[scenario]\nname = \"w\"\n[machine]\nmemory = \"1 MiB\"\n[[step]]\nop = \"wait_notification\"\nnotification = \"high\"\nticks = 3\n",
    );
    pagelab(&["run", f.to_str().unwrap()])
        .code(1)
        .stdout_has(&["high memory resource notification was not signalled after 3"]);
    let g = dir.write(
        "wait-ok.toml",
        "[scenario]\nname = \"w\"\n[machine]\nmemory = \"1 MiB\"\n[[step]]\nop = \"wait_notification\"\nnotification = \"high\"\nticks = 3\nexpect_error = \"wait_timeout\"\nexpect = { \"notify.low\" = 1, \"notify.low_threshold\" = 400, \"notify.high_threshold\" = 1200 }\n",
    );
    pagelab(&["run", g.to_str().unwrap()]).code(0);
}
