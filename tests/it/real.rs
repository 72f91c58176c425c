//! `pagelab real`: each built-in real scenario on this Linux machine (as
//! root, which CI is), compared with the simulator; recorded runs compared
//! anywhere; and the errors of a backend that cannot run.

use std::sync::Mutex;

use crate::util::{pagelab, TempDir};

/// The real scenarios change one machine-wide setting (the hugetlb pool):
/// one at a time.
static REAL_SIDE: Mutex<()> = Mutex::new(());

const REAL: [&str; 5] = ["real-demand-zero", "real-large-pages", "real-locked", "real-hard-faults", "real-contiguity"];

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn pool() -> Option<String> {
    std::fs::read_to_string("/proc/sys/vm/nr_hugepages").ok()
}

/// Whether the real runs can be made here; says why not, and fails in CI
/// (`CI` or `PAGELAB_REAL_REQUIRED` set, as .ci/run does), where they must run.
fn can_run_real() -> bool {
    if cfg!(not(target_os = "linux")) {
        eprintln!("pagelab real: not compared on the real side: the Linux backend needs Linux");
        return false;
    }
    if !root() {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("PAGELAB_REAL_REQUIRED").is_none(),
            "CI runs as root so that pagelab real runs its hugetlb and pagemap checks: this run is not root"
        );
        eprintln!("pagelab real: the real scenarios need root (the hugetlb pool, frame numbers in pagemap): run the tests as root to compare them");
        return false;
    }
    true
}

#[test]
fn every_builtin_real_scenario_agrees_with_linux_or_differs_as_it_declares() {
    if !can_run_real() {
        return;
    }
    let _one = REAL_SIDE.lock().unwrap_or_else(|e| e.into_inner());
    for name in REAL {
        let before = pool();
        let out = pagelab(&["real", name, "--json"]);
        out.code(0);
        assert_eq!(pool(), before, "{name}: the hugetlb pool is put back");
        let j = out.json();
        assert_eq!(j["scenario"], name);
        assert_eq!(j["system"]["backend"], "linux");
        assert_eq!(j["system"]["privileged"], true);
        assert_eq!(j["counts"]["differ"], 0, "{}", out.stdout);
        assert!(j["counts"]["agree"].as_u64().unwrap() >= 3, "{name}: {}", out.stdout);
        let rows = j["rows"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["verdict"] != "differ"));
    }
}

#[test]
fn the_text_table_shows_both_sides_a_counterpart_missing_and_a_crash_on_the_real_side() {
    if !can_run_real() {
        return;
    }
    let _one = REAL_SIDE.lock().unwrap_or_else(|e| e.into_inner());
    let out = pagelab(&["real", "real-demand-zero"]);
    out.code(0).stdout_has(&[
        "real side: linux (Linux ",
        "faults.minor       128",
        "differ (expected)",
        "because: Linux maps a read of an untouched anonymous page",
        "access_violation",
        "SIGSEGV (11)",
        "The real side was killed by SIGSEGV at step 10.",
    ]);
    let out = pagelab(&["real", "real-large-pages"]);
    out.code(0).stdout_has(&[
        "ERROR_PRIVILEGE_NOT_HELD (1314)",
        "ENOMEM (12)",
        "no Linux counterpart: Linux has no token privileges",
        "real-only step",
        "large.contiguous   2",
    ]);
}

#[test]
fn an_unexpected_difference_exits_1_and_names_it() {
    if !can_run_real() {
        return;
    }
    let _one = REAL_SIDE.lock().unwrap_or_else(|e| e.into_inner());
    // The demand-zero scenario without its declared difference.
    let text = std::fs::read_to_string(repo("scenarios/real/real-demand-zero.toml")).unwrap();
    let cut: String = text.lines().filter(|l| !l.starts_with("differs")).map(|l| format!("{l}\n")).collect();
    let dir = TempDir::new("real-undeclared");
    let path = dir.write("s.toml", cut);
    let out = pagelab(&["real", path.to_str().unwrap()]);
    out.code(1).stdout_has(&[
        "DIFFER",
        "faults.minor differs and the scenario does not expect it",
        "1 differ unexpectedly",
    ]);
}

#[test]
fn recorded_runs_compare_anywhere() {
    // Not real-contiguity, whose simulator starts from this machine's
    // /proc/buddyinfo.
    for name in &REAL[..4] {
        let rec = repo(&format!("tests/real/{name}.json"));
        let out = pagelab(&["real", name, "--recorded", &rec]);
        out.code(0).stdout_has(&[&format!("pagelab real {name}:"), "agree"]);
    }
    let out = pagelab(&["real", "real-locked", "--recorded", &repo("tests/real/real-locked.json"), "--json"]);
    let j = out.code(0).json();
    assert_eq!(j["counts"]["expected"], 3);
    assert_eq!(j["real"]["system"]["backend"], "linux");
}

#[test]
fn a_backend_that_cannot_run_and_a_bad_recording_exit_2_with_the_reason() {
    pagelab(&["real", "real-locked", "--backend", "windows"]).code(2).stderr_has(&["no Windows backend yet"]);
    pagelab(&["real", "real-locked", "--backend", "vms"]).code(2).stderr_has(&["unknown backend \"vms\""]);
    let dir = TempDir::new("real-bad");
    let bad = dir.write("bad.json", "{\n  \"system\": 1\n");
    pagelab(&["real", "real-locked", "--recorded", bad.to_str().unwrap()]).code(2).stderr_has(&["bad.json:3:"]);
    pagelab(&["real", "no-such-scenario"]).code(2).stderr_has(&["no such file"]);
    if cfg!(target_os = "linux") {
        // More real memory than the machine can spare is refused before any step.
        let huge = dir.write(
            "huge.toml",
            "[scenario]\nname = \"h\"\n[[process]]\nname = \"app\"\n[[step]]\nop = \"reserve\"\nprocess = \"app\"\naddress = 0x100000\nsize = \"64 TiB\"\ncommit = true\n",
        );
        pagelab(&["real", huge.to_str().unwrap()])
            .code(2)
            .stderr_has(&["huge.toml:5: the step takes 64 TiB of real memory"]);
    }
}

#[test]
fn scenario_keys_for_real_runs_are_checked_with_their_position() {
    let dir = TempDir::new("real-keys");
    let head = "[scenario]\nname = \"k\"\n\n[[process]]\nname = \"app\"\n\n";
    let cases = [
        ("[[step]]\nop = \"advance\"\nonly = \"both\"\n", "9:8", "only: expected"),
        (
            "[[step]]\nop = \"advance\"\ndiffers = { faults = \"x\" }\n",
            "9:13",
            "differs: expected result or a measured quantity",
        ),
        (
            "[[step]]\nop = \"advance\"\nonly = \"real\"\ndiffers = { result = \"x\" }\n",
            "7:1",
            "does not apply to a step that only one side runs",
        ),
        (
            "[[step]]\nop = \"hugetlb_pool\"\npages = 1\nonly = \"real\"\nexpect = { \"faults\" = 0 }\n",
            "7:1",
            "is not simulated",
        ),
        (
            "[[step]]\nop = \"reserve\"\nprocess = \"app\"\nsize = \"4 KiB\"\nlinux_large = \"thp\"\n",
            "11:15",
            "linux_large applies only",
        ),
        ("[[step]]\nop = \"advance\"\ndiffers = { result = \" \" }\n", "9:22", "give the reason"),
    ];
    for (i, (step, at, message)) in cases.iter().enumerate() {
        let path = dir.write(&format!("k{i}.toml"), format!("{head}{step}"));
        let out = pagelab(&["check", path.to_str().unwrap()]);
        out.code(2).stderr_has(&[&format!("k{i}.toml:{at}"), message]);
    }
    // A real-only step is left out of the simulation.
    let path = dir.write(
        "ok.toml",
        format!("{head}[[step]]\nop = \"hugetlb_pool\"\npages = 1\nonly = \"real\"\n\n[[step]]\nop = \"advance\"\n"),
    );
    pagelab(&["run", path.to_str().unwrap(), "--json"]).code(0);
}

#[test]
fn a_machine_too_small_for_this_machines_free_blocks_grows_to_hold_them() {
    let Ok(text) = std::fs::read_to_string("/proc/buddyinfo") else {
        eprintln!("no /proc/buddyinfo here: the simulated memory is not sized from it");
        return;
    };
    let counts = pagelab::fragmentation::FreeBlocks::from_buddyinfo(&text).unwrap().total.counts().to_vec();
    let need = pagelab::fragment::frames_to_lay_out(&counts);
    let scenario = "[scenario]\nname = \"g\"\n[machine]\nmemory = \"64 MiB\"\n[[process]]\nname = \"busy\"\n\
                    [[step]]\nop = \"fragment\"\nprocess = \"busy\"\nbuddyinfo = \"/proc/buddyinfo\"\n";
    let s = pagelab::scenario::load_str(scenario, "g.toml", None, &[]).unwrap();
    assert!(s.machine.memory.0 / 4096 >= need.min(64 << 18), "{} bytes for {need} frames", s.machine.memory.0);
    assert_eq!(s.machine.memory.0 % (1 << 30), 0, "whole GiB");
    // --set memory is obeyed as given.
    let set = pagelab::scenario::overrides(&["memory=64MiB".to_string()], None).unwrap();
    let s = pagelab::scenario::load_str(scenario, "g.toml", None, &set).unwrap();
    assert_eq!(s.machine.memory.0, 64 << 20);
}

#[test]
fn a_random_touch_visits_the_simulators_pages_on_the_real_side() {
    if cfg!(not(target_os = "linux")) {
        eprintln!("pagelab real: the Linux backend needs Linux");
        return;
    }
    // A working set that holds every page: each distinct page the
    // generator draws is one demand-zero fault, and one minor fault on Linux.
    let dir = TempDir::new("real-random");
    let path = dir.write(
        "r.toml",
        "[scenario]\nname = \"r\"\n[machine]\nmemory = \"4 MiB\"\nseed = 11\n[[process]]\nname = \"app\"\nws_max = 512\n\
         [[step]]\nop = \"reserve\"\nprocess = \"app\"\naddress = 0x100000\nsize = \"1 MiB\"\ncommit = true\n\
         [[step]]\nop = \"touch\"\nprocess = \"app\"\naddress = 0x100000\npages = 256\npattern = \"random\"\ncount = 100\naccess = \"write\"\n\
         [[step]]\nop = \"touch\"\nprocess = \"app\"\naddress = 0x100000\npages = 256\npattern = \"random\"\ncount = 100\naccess = \"write\"\n",
    );
    let j = pagelab(&["real", path.to_str().unwrap(), "--json"]).code(0).json();
    let faults: Vec<&str> =
        j["rows"].as_array().unwrap()[1..].iter().map(|r| r["items"][1]["real"].as_str().unwrap()).collect();
    assert!(faults.iter().all(|f| f.parse::<u64>().unwrap() > 0), "{faults:?}");
    assert_eq!(j["counts"]["agree"], 3);
}

#[test]
fn a_real_side_that_runs_too_long_is_stopped_and_reported() {
    if cfg!(not(target_os = "linux")) {
        eprintln!("pagelab real: the Linux backend needs Linux");
        return;
    }
    // A real-only touch of 64 MiB, 50,000 times over: far longer than a second.
    let dir = TempDir::new("real-timeout");
    let path = dir.write(
        "slow.toml",
        "[scenario]\nname = \"slow\"\n[machine]\nmemory = \"256 MiB\"\n[[process]]\nname = \"app\"\n\
         [[step]]\nop = \"reserve\"\nprocess = \"app\"\naddress = 0x10000000\nsize = \"64 MiB\"\ncommit = true\n\
         [[step]]\nop = \"touch\"\nonly = \"real\"\nprocess = \"app\"\naddress = 0x10000000\npages = 16384\nrepeat = 50000\naccess = \"write\"\n",
    );
    let started = std::time::Instant::now();
    let out = pagelab(&["real", path.to_str().unwrap(), "--timeout", "1"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "stopped at once");
    out.code(0).stdout_has(&[
        "SIGKILL (9)",
        "pagelab real killed the child process after 1 s (--timeout)",
        "The real side was stopped at step 2 after 1 s (--timeout).",
    ]);
}

#[test]
fn without_root_the_scenarios_that_need_it_exit_2_and_the_others_run() {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !root() || !setpriv.exists() || cfg!(not(target_os = "linux")) {
        eprintln!("pagelab real as another user: needs root and setpriv to become nobody; not run here");
        return;
    }
    // A copy of the binary nobody can run, wherever the build directory is.
    let dir = TempDir::new("real-nobody");
    let bin = dir.path().join("pagelab");
    std::fs::copy(env!("CARGO_BIN_EXE_pagelab"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |name: &str| {
        std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["real", name])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let _one = REAL_SIDE.lock().unwrap_or_else(|e| e.into_inner());
    let out = as_nobody("real-large-pages");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hugetlb_pool writes /proc/sys/vm/nr_hugepages, which needs root"), "{err}");
    let out = as_nobody("real-demand-zero");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(Linux ")
            && String::from_utf8_lossy(&out.stdout).contains("not root")
    );
}
