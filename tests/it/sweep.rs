//! `pagelab sweep` and `pagelab merge`: results that do not depend on
//! threads or shards, resumption after a kill, refusals.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{pagelab, pagelab_in, s, TempDir};

/// A small experiment: a generated trace and a trace file under three
/// policies and three sizes, two repetitions (36 cells), and a scenario
/// (2 cells).
const EXPERIMENT: &str = r#"
[experiment]
name = "small"
seed = 7
repetitions = 2
metrics = ["references", "faults", "soft", "hard", "fault_rate"]

[[trace]]
name = "zipf"
generate = { generator = "zipf", pages = 400, refs = 6000, alpha = 0.8 }

[[trace]]
name = "belady"
file = "belady.txt"

[[scenario]]
name = "belady"
metrics = ["three.faults", "four.faults"]

[grid]
policy = ["fifo", "lru", "clock"]
frames = [3, 4, 64]
"#;

fn setup(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    d.write("exp.toml", EXPERIMENT);
    d.write("belady.txt", "1 2 3 4 1 2 5 1 2 3 4 5\n");
    d
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn results_do_not_depend_on_threads_or_shards() {
    let d = setup("sweep-shards");
    let dir = Some(d.path());
    pagelab_in(dir, &["sweep", "exp.toml", "--jobs", "1", "--out", "one", "--quiet"]).code(0);
    pagelab_in(dir, &["sweep", "exp.toml", "--jobs", "2", "--out", "two", "--quiet"])
        .code(0)
        .stdout_has(&["sweep small: 38 cells; 38 run now, 0 done before"]);
    let one = read(&d.path().join("one/results.csv"));
    assert_eq!(one, read(&d.path().join("two/results.csv")));
    assert_eq!(read(&d.path().join("one/results.jsonl")), read(&d.path().join("two/results.jsonl")));
    assert_eq!(one.lines().count(), 39, "a header and one row per cell");
    // The cells of a trace sharing one pass give the same rows as each
    // cell reading its trace alone.
    pagelab_in(dir, &["sweep", "exp.toml", "--shared-pass", "--out", "alone", "--quiet"]).code(0);
    assert_eq!(one, read(&d.path().join("alone/results.csv")));
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let out = format!("s{i}");
        pagelab_in(dir, &["sweep", "exp.toml", "--shard", &shard, "--out", &out, "--quiet"]).code(0);
    }
    pagelab_in(dir, &["merge", "s1", "s2", "s3", "--out", "merged"]).code(0).stdout_has(&["38 cells"]);
    assert_eq!(one, read(&d.path().join("merged/results.csv")), "merged shards equal the whole sweep");

    // Belady's string replayed by the sweep agrees with `pagelab replay`,
    // and the scenario's metrics are its own.
    let header: Vec<&str> = one.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let rows: Vec<Vec<&str>> = one.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let fifo = |frames: &str| {
        rows.iter()
            .find(|r| r[col("trace")] == "belady" && r[col("policy")] == "fifo" && r[col("frames")] == frames)
            .map(|r| r[col("faults")].to_string())
            .unwrap()
    };
    assert_eq!((fifo("3"), fifo("4")), ("9".to_string(), "10".to_string()), "Belady's anomaly");
    let replay = pagelab_in(dir, &["replay", "belady.txt", "--policy", "fifo", "--frames", "3", "--json"]);
    assert_eq!(replay.code(0).json()["faults"], 9);
    let scenario = rows.iter().find(|r| r[col("scenario")] == "belady").unwrap();
    assert_eq!((scenario[col("three.faults")], scenario[col("four.faults")]), ("9", "10"));
    assert_eq!(scenario[col("expectations_failed")], "0");
    // The same generated trace for every policy of a repetition: equal
    // reference counts, and the repetitions draw different traces.
    let zipf: Vec<&Vec<&str>> = rows.iter().filter(|r| r[col("trace")] == "zipf").collect();
    assert!(zipf.iter().all(|r| r[col("references")] == "6000"));
    let faults_of = |rep: &str| {
        zipf.iter()
            .find(|r| r[col("policy")] == "lru" && r[col("frames")] == "64" && r[col("repetition")] == rep)
            .map(|r| r[col("faults")].to_string())
            .unwrap()
    };
    assert_ne!(faults_of("0"), faults_of("1"), "each repetition draws its own trace");
}

#[test]
fn merge_refuses_missing_and_duplicate_cells_and_other_experiments() {
    let d = setup("sweep-merge");
    let dir = Some(d.path());
    pagelab_in(dir, &["sweep", "exp.toml", "--shard", "1/2", "--out", "a", "--quiet"]).code(0);
    pagelab_in(dir, &["merge", "a", "--out", "m"]).code(2).stderr_has(&["19 of 38 cells are missing (cells 1, 3, 5"]);
    pagelab_in(dir, &["merge", "a", "a", "--out", "m"]).code(2).stderr_has(&["cell 0 is in both a and a"]);
    d.write("other.toml", EXPERIMENT.replace("seed = 7", "seed = 8"));
    pagelab_in(dir, &["sweep", "other.toml", "--shard", "2/2", "--out", "b", "--quiet"]).code(0);
    pagelab_in(dir, &["merge", "a", "b", "--out", "m"]).code(2).stderr_has(&["is from another experiment"]);
    assert!(!d.path().join("m/results.csv").exists(), "a refused merge writes nothing");
}

#[test]
fn a_killed_sweep_resumes_without_losing_or_repeating_a_cell() {
    let d = TempDir::new("sweep-kill");
    // Twelve cells of a few tenths of a second each, one at a time.
    d.write(
        "exp.toml",
        r#"
[experiment]
name = "slow"
[[trace]]
name = "zipf"
generate = { generator = "zipf", pages = 20000, refs = 150000 }
[grid]
policy = ["fifo", "lru", "clock", "random"]
frames = [100, 1000, 5000]
"#,
    );
    let whole = pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--out", "whole", "--quiet"]);
    whole.code(0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .args(["sweep", "exp.toml", "--out", "cut", "--jobs", "1", "--quiet"])
        .current_dir(d.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = d.path().join("cut/cells.jsonl");
    let start = Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed() < Duration::from_secs(120), "the sweep wrote no cell in two minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!d.path().join("cut/results.csv").exists(), "no results before every cell is done");
    let done_before = read(&journal).lines().count();
    assert!(done_before < 12, "the kill came before the end ({done_before} of 12 done)");
    let resumed = pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--out", "cut", "--quiet"]);
    resumed.code(0).stdout_has(&[&format!("{} run now, {done_before} done before", 12 - done_before)]);
    assert_eq!(read(&d.path().join("cut/results.csv")), read(&d.path().join("whole/results.csv")));
    assert_eq!(read(&journal).lines().count(), 12, "each cell once in the journal");
}

#[test]
fn a_changed_experiment_is_refused_unless_restarted() {
    let d = setup("sweep-changed");
    let dir = Some(d.path());
    pagelab_in(dir, &["sweep", "exp.toml", "--out", "r", "--quiet"]).code(0);
    pagelab_in(dir, &["sweep", "exp.toml", "--out", "r", "--quiet"]).code(0).stdout_has(&["0 run now, 38 done before"]);
    d.write("exp.toml", read(&d.path().join("exp.toml")).replace("frames = [3, 4, 64]", "frames = [3, 4, 65]"));
    pagelab_in(dir, &["sweep", "exp.toml", "--out", "r", "--quiet"])
        .code(2)
        .stderr_has(&["the experiment file changed since", "--restart"]);
    pagelab_in(dir, &["sweep", "exp.toml", "--out", "r", "--quiet", "--shard", "1/2"])
        .code(2)
        .stderr_has(&["--restart"]);
    pagelab_in(dir, &["sweep", "exp.toml", "--out", "r", "--quiet", "--restart"]).code(0).stdout_has(&["38 run now"]);
    assert!(read(&d.path().join("r/results.csv")).contains(",65,"));
}

#[test]
fn bad_experiments_are_located_and_exit_2() {
    let d = setup("sweep-bad");
    let cases = [
        ("[experiment]\nname = \"x\"\n[[trace]]\nname = \"t\"\nfile = \"belady.txt\"\n[grid]\nframes = [0]\n", "x.toml:7:10: frames: 0: expected 1 to"),
        ("[experiment]\nname = \"x\"\n[[trace]]\nname = \"t\"\nfile = \"belady.txt\"\n[grid]\nframes = 3\npolicy = \"best\"\n", "x.toml:8:10: policy: \"best\""),
        ("[experiment]\nname = \"x\"\nmetrics = [\"faults\", \"speed\"]\n[[trace]]\nname = \"t\"\nfile = \"belady.txt\"\n[grid]\nframes = 3\n", "x.toml:3:22: unknown replay metric \"speed\""),
        ("[experiment]\nname = \"x\"\n[[scenario]]\nname = \"belady\"\nmetrics = [\"five.faults\"]\n", "x.toml:5:12: unknown metric \"five.faults\""),
        ("[experiment]\nname = \"x\"\n[[scenario]]\nname = \"belady\"\n[grid.set]\nmemory = [\"1 KiB\"]\n", "x.toml:6:10: scenario belady: set.memory = \"1 KiB\": memory 1 KiB is too small"),
        ("[experiment]\nname = \"x\"\n[[trace]]\nname = \"t\"\ngenerate = { generator = \"zipf\", pages = 10 }\n[grid]\nframes = 3\n", "x.toml:5:12: generate: refs: missing"),
        ("[experiment\nname = \"x\"\n", "x.toml:1:"),
    ];
    for (text, want) in cases {
        d.write("x.toml", text);
        pagelab_in(Some(d.path()), &["sweep", "x.toml", "--quiet", "--out", "o"]).code(2).stderr_has(&[want]);
    }
    pagelab(&["sweep", "/nonexistent/e.toml"]).code(2).stderr_has(&["cannot read the experiment"]);
    pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--shard", "3/2"]).code(2).stderr_has(&["expected I/N"]);
    pagelab_in(Some(d.path()), &["merge", "nowhere", "--out", "m"]).code(2).stderr_has(&["no manifest.json"]);
}

#[test]
fn slurm_script_runs_each_shard_into_its_own_directory() {
    let d = setup("sweep-slurm");
    let out = pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--slurm", "4", "--out", "cluster"]);
    out.code(0).stdout_has(&["a job array of 4 shards over 38 cells", "sbatch", "pagelab merge"]);
    let script = read(&d.path().join("cluster/sweep.sbatch"));
    for want in
        ["#SBATCH --array=1-4", "--shard \"$SLURM_ARRAY_TASK_ID/4\"", "/shard-\"$SLURM_ARRAY_TASK_ID\"", "exp.toml"]
    {
        assert!(script.contains(want), "{want:?} missing from\n{script}");
    }
    // The script itself runs a shard when Slurm's variables are set.
    let status = std::process::Command::new("sh")
        .arg(d.path().join("cluster/sweep.sbatch"))
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_CPUS_PER_TASK", "1")
        .stdout(std::process::Stdio::null())
        .current_dir(d.path())
        .status()
        .unwrap();
    assert!(status.success());
    let shard = read(&d.path().join("cluster/shard-2/results.csv"));
    assert_eq!(shard.lines().count(), 11, "shard 2 of 4 holds 10 of the 38 cells:\n{shard}");
    pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--slurm", "41"]).code(2).stderr_has(&["at most 38 shards"]);
    let _ = s(d.path());
}

#[test]
fn every_generator_can_feed_an_experiment() {
    let d = TempDir::new("sweep-generators");
    d.write(
        "g.toml",
        r#"
[experiment]
name = "loops"
metrics = ["references", "faults"]
[[trace]]
name = "loop"
generate = { generator = "loop", pages = 10, refs = 100 }
[[trace]]
name = "scan"
generate = { generator = "scan", refs = 50 }
[grid]
policy = "fifo"
frames = [9, 10]
"#,
    );
    pagelab_in(Some(d.path()), &["sweep", "g.toml", "--out", "o", "--quiet"]).code(0);
    let csv = read(&d.path().join("o/results.csv"));
    let faults: Vec<&str> = csv.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    // A loop one page larger than the working set faults on every reference
    // under FIFO; one that fits faults once per page. A scan never hits.
    assert_eq!(faults, ["100", "10", "50", "50"], "{csv}");
}

#[test]
fn trace_files_are_detected_and_decompressed_as_replay_reads_them() {
    // Silberschatz's string three ways: a reference string, oracleGeneral
    // compressed with zstd (no format given: detected), and the same bytes
    // under a name that says nothing, with `format = "auto"`.
    let d = TempDir::new("sweep-formats");
    d.write("s.refs", include_bytes!("../../book/src/traces/silberschatz.refs"));
    let zst = include_bytes!("../../book/src/traces/silberschatz.oracleGeneral.zst");
    d.write("s.oracleGeneral.zst", zst);
    d.write("s.dat", zst);
    d.write(
        "exp.toml",
        r#"
[experiment]
name = "formats"
seed = 1
metrics = ["faults"]

[[trace]]
name = "refs"
file = "s.refs"

[[trace]]
name = "zst"
file = "s.oracleGeneral.zst"

[[trace]]
name = "auto"
file = "s.dat"
format = "auto"

[grid]
policy = ["fifo", "lru"]
frames = [3]
"#,
    );
    pagelab_in(Some(d.path()), &["sweep", "exp.toml", "--out", "runs", "--quiet"]).code(0);
    let csv = read(&d.path().join("runs/results.csv"));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name}: {header:?}"));
    let (trace, policy, faults) = (col("trace"), col("policy"), col("faults"));
    let mut got: Vec<(String, String, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[trace].to_string(), f[policy].to_string(), f[faults].to_string())
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = ["auto", "refs", "zst"]
        .iter()
        .flat_map(|t| {
            [(t.to_string(), "fifo".to_string(), "15".to_string()), (t.to_string(), "lru".into(), "12".into())]
        })
        .collect();
    assert_eq!(got, want, "{csv}");
    // A format that is not one is refused with the list, auto included.
    d.write("bad.toml", read(&d.path().join("exp.toml")).replace("format = \"auto\"", "format = \"xml\""));
    pagelab_in(Some(d.path()), &["sweep", "bad.toml", "--out", "bad", "--quiet"])
        .code(2)
        .stderr_has(&["format \"xml\": expected one of auto, refs"]);
}
