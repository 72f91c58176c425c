//! `pagelab gen-trace` with every generator, and `pagelab mrc` reading
//! what it writes in whatever format, detected once.

use crate::util::{pagelab, pagelab_in, pagelab_with_stdin, s, TempDir};

/// Each generator, as gen-trace's flags or a spec, with its reference count.
const GENERATORS: [(&str, &[&str], u64); 6] = [
    ("zipf", &["--pages", "300", "--refs", "2000", "--alpha", "0.7"], 2000),
    ("uniform", &["--generator", "uniform", "--pages", "300", "--refs", "2000", "--base", "4096"], 2000),
    ("scan", &["--generator", "scan", "--refs", "700"], 700),
    ("loop", &["--generator", "loop", "--pages", "40", "--refs", "1000"], 1000),
    (
        "phases",
        &[
            "--spec",
            "{ generator = \"phases\", phases = [{ generator = \"loop\", pages = 20, refs = 500 }, \
             { generator = \"uniform\", pages = 50, base = 1000, refs = 500 }] }",
        ],
        1000,
    ),
    (
        "mix",
        &[
            "--spec",
            "{ generator = \"mix\", refs = 1500, parts = [{ weight = 3, generator = \"zipf\", pages = 100 }, \
             { weight = 1, generator = \"scan\", base = 100000 }] }",
        ],
        1500,
    ),
];

fn gen(dir: &TempDir, name: &str, args: &[&str], extra: &[&str]) -> Vec<u8> {
    let out = dir.path().join(name);
    let mut all = vec!["gen-trace"];
    all.extend_from_slice(args);
    all.extend_from_slice(extra);
    all.extend_from_slice(&["-o", s(&out)]);
    pagelab(&all).code(0);
    std::fs::read(&out).unwrap()
}

#[test]
fn every_generator_writes_a_trace_that_replay_reads_in_both_formats() {
    let d = TempDir::new("gen-every");
    for (name, args, refs) in GENERATORS {
        for (file, format) in [(format!("{name}.refs"), "refs"), (format!("{name}.bin"), "oracle-general")] {
            gen(&d, &file, args, &["--format", format]);
            let r = pagelab_in(Some(d.path()), &["replay", &file, "--frames", "16", "--json"]);
            let j = r.code(0).json();
            assert_eq!(j["references"], refs, "{name} as {format}");
            assert_eq!(j["access_violations"], 0, "{name} as {format}");
        }
        // Both formats carry the same pages: the same faults under LRU.
        let faults = |f: &str| {
            pagelab_in(Some(d.path()), &["replay", f, "--policy", "lru", "--frames", "16", "--json"]).code(0).json()
                ["faults"]
                .clone()
        };
        assert_eq!(faults(&format!("{name}.refs")), faults(&format!("{name}.bin")), "{name}");
    }
    // The loop of 40 pages in 16 frames: LRU misses every reference.
    let r = pagelab_in(Some(d.path()), &["replay", "loop.refs", "--policy", "lru", "--frames", "16", "--json"]);
    assert_eq!(r.code(0).json()["faults"], 1000);
    let scan = String::from_utf8(std::fs::read(d.path().join("scan.refs")).unwrap()).unwrap();
    assert_eq!(scan.lines().take(3).collect::<Vec<_>>(), ["0", "1", "2"]);
    let uniform = String::from_utf8(std::fs::read(d.path().join("uniform.refs")).unwrap()).unwrap();
    assert!(uniform.lines().all(|l| (4096..4396).contains(&l.parse::<u64>().unwrap())));
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_others() {
    let d = TempDir::new("gen-seed");
    for (name, args, _) in GENERATORS {
        let a = gen(&d, "a", args, &["--seed", "9"]);
        assert_eq!(a, gen(&d, "b", args, &["--seed", "9"]), "{name}");
        assert_eq!(a, gen(&d, "c", args, &["--seed", "9", "--format", "refs"]), "{name}");
        let other = gen(&d, "d", args, &["--seed", "10"]);
        if matches!(name, "scan" | "loop") {
            assert_eq!(a, other, "{name} draws nothing at random");
        } else {
            assert_ne!(a, other, "{name}");
        }
    }
}

#[test]
fn the_zipf_flags_write_what_a_zipf_spec_and_the_library_write() {
    let d = TempDir::new("gen-zipf");
    let flags = gen(&d, "f", &["--pages", "1000", "--refs", "5000", "--alpha", "0.9", "--seed", "7"], &[]);
    let spec =
        gen(&d, "s", &["--spec", "{ generator = \"zipf\", pages = 1000, refs = 5000, alpha = 0.9, seed = 7 }"], &[]);
    assert_eq!(flags, spec);
    let pages =
        pagelab::tracegen::zipf_pages(pagelab::tracegen::ZipfSpec { pages: 1000, refs: 5000, alpha: 0.9, seed: 7 })
            .unwrap();
    let text: String = pages.iter().map(|p| format!("{p}\n")).collect();
    assert_eq!(String::from_utf8(flags).unwrap(), text);
    // Defaults: alpha 0.99, seed 1, as always.
    let short = gen(&d, "d", &["--pages", "1000", "--refs", "50"], &[]);
    let long = gen(&d, "l", &["--pages", "1000", "--refs", "50", "--alpha", "0.99", "--seed", "1"], &[]);
    assert_eq!(short, long);
}

#[test]
fn a_spec_file_reads_like_the_spec_flag_and_seed_replaces_its_seed() {
    let d = TempDir::new("gen-file");
    let table =
        "generator = \"mix\"\nrefs = 800\nseed = 3\nparts = [{ weight = 1, generator = \"uniform\", pages = 30 }, \
                 { weight = 1, generator = \"loop\", pages = 5, base = 100 }]\n";
    let f = d.write("mix.toml", table);
    let from_file = gen(&d, "a", &["--spec-file", s(&f)], &[]);
    let inline = format!("{{ {} }}", table.trim().replace('\n', ", "));
    assert_eq!(from_file, gen(&d, "b", &["--spec", &inline], &[]));
    let reseeded = gen(&d, "c", &["--spec-file", s(&f), "--seed", "4"], &[]);
    assert_ne!(from_file, reseeded);
    assert_eq!(reseeded, gen(&d, "e", &["--spec", &inline.replace("seed = 3", "seed = 4")], &[]));
}

#[test]
fn bad_generators_and_specs_exit_2_naming_what_was_expected() {
    let d = TempDir::new("gen-bad");
    let o = s(&d.path().join("t")).to_string();
    for (args, says) in [
        (
            vec!["--generator", "zipff", "--pages", "5", "--refs", "5"],
            "--generator \"zipff\": expected one of zipf, uniform",
        ),
        (vec!["--generator", "uniform", "--refs", "5"], "--pages: missing"),
        (vec!["--generator", "loop", "--pages", "5"], "--refs: missing"),
        (vec!["--pages", "0", "--refs", "5"], "--pages 0: expected 1 to 268435456"),
        (vec!["--pages", "5", "--refs", "5", "--alpha=-1"], "--alpha -1: expected a number from 0 to 100"),
        (
            vec!["--generator", "loop", "--pages", "5", "--refs", "5", "--alpha", "1"],
            "--alpha 1: applies only to --generator zipf",
        ),
        (vec!["--generator", "scan", "--pages", "5", "--refs", "9"], "--pages 5: a scan touches each page once"),
        (vec!["--generator", "phases", "--refs", "9"], "--generator phases: its phases come from a spec"),
        (vec!["--spec", "{ generator = \"loop\", pages = 0, refs = 5 }"], "--spec: pages = 0: expected 1"),
        (vec!["--spec", "{ generator = \"loop\", pagse = 3, refs = 5 }"], "--spec: unknown field `pagse`"),
        (vec!["--spec", "{ generator = \"mix\", refs = 5, parts = [] }"], "--spec: parts: expected at least one part"),
        (vec!["--spec", "{ generator = \"loop\" pages = 5 }"], "(at column"),
        (vec!["--spec", "{ generator = \"loop\", pages = 5, refs = 5 }", "--pages", "3"], "cannot be used with"),
        (vec!["--spec-file", "no-such.toml"], "--spec-file no-such.toml: cannot read it"),
        (
            vec!["--pages", "5", "--refs", "5", "--format", "lackey"],
            "--format \"lackey\": expected refs or oracle-general",
        ),
    ] {
        let mut all = vec!["gen-trace"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["-o", &o]);
        pagelab_in(Some(d.path()), &all).code(2).stderr_has(&[says]);
        assert!(!d.path().join("t").exists(), "{args:?} wrote a trace");
    }
}

/// mrc's CSV with the trace's name and format left out (they differ).
fn mrc_csv(dir: &TempDir, args: &[&str]) -> String {
    let mut all = vec!["mrc"];
    all.extend_from_slice(args);
    pagelab_in(Some(dir.path()), &all).code(0).stdout.clone()
}

#[test]
fn mrc_detects_the_format_once_and_every_replay_reads_it_so() {
    let d = TempDir::new("mrc-auto");
    gen(&d, "z.bin", &["--pages", "200", "--refs", "3000", "--alpha", "0.8"], &["--format", "oracle-general"]);
    gen(&d, "z.refs", &["--pages", "200", "--refs", "3000", "--alpha", "0.8"], &[]);
    let sizes = ["--policy", "lru,fifo,clock,opt", "--sizes", "1,10,50,150,200"];
    let text = mrc_csv(&d, &[&["z.refs"][..], &sizes[..]].concat());
    assert_eq!(text.lines().count(), 21);
    // Binary records found from the first bytes, for the stack pass and
    // for each replay; as --format names them; from standard input.
    assert_eq!(mrc_csv(&d, &[&["z.bin"][..], &sizes[..]].concat()), text);
    assert_eq!(mrc_csv(&d, &[&["z.bin", "--format", "oracle-general"][..], &sizes[..]].concat()), text);
    let bin = std::fs::read(d.path().join("z.bin")).unwrap();
    let mut args = vec!["mrc", "-"];
    args.extend_from_slice(&sizes);
    assert_eq!(pagelab_with_stdin(Some(d.path()), &args, Some(&bin)).code(0).stdout, text);
    let j = pagelab_in(Some(d.path()), &["mrc", "z.bin", "--json"]).code(0).json();
    assert_eq!(j["format"], "oracle-general");
    assert_eq!(j["format_read_as"], "oracle-general; detected: binary records");

    // zstd-compressed oracleGeneral, named without a hint: decompressed
    // for every replay, and the curve agrees with replay at each size.
    let z = d.write("t.dat", include_bytes!("../../src/trace/testdata/zipf100.oracleGeneral.zst"));
    let auto = mrc_csv(&d, &["t.dat", "--policy", "fifo,lru", "--sizes", "1-4"]);
    assert_eq!(
        auto,
        mrc_csv(&d, &["t.dat", "--format", "oracle-general-zst", "--policy", "fifo,lru", "--sizes", "1-4"])
    );
    for line in auto.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let r = pagelab(&["replay", s(&z), "--policy", f[0], "--frames", f[1], "--json"]);
        assert_eq!(r.code(0).json()["faults"].to_string(), f[3], "{line}");
    }
    let j = pagelab_in(Some(d.path()), &["mrc", "t.dat", "--json"]).code(0).json();
    assert_eq!(j["format_read_as"], "oracle-general-zst; detected: zstd data, binary records");
}

#[test]
fn mrc_reports_a_bad_trace_with_the_format_it_read_and_refuses_a_bad_format() {
    let d = TempDir::new("mrc-auto-bad");
    d.write("b.refs", "1 2 x3\n");
    pagelab_in(Some(d.path()), &["mrc", "b.refs"])
        .code(2)
        .stderr_has(&["b.refs:1:5:", "(read as refs; detected: named .refs)"]);
    pagelab_in(Some(d.path()), &["mrc", "b.refs", "--format", "xml"])
        .code(2)
        .stderr_has(&["--format \"xml\": expected one of auto, refs, lackey, oracle-general"]);
}

#[test]
fn a_spec_gen_trace_writes_is_the_trace_a_sweep_generates_from_the_same_table() {
    let d = TempDir::new("gen-sweep");
    let table = "{ generator = \"phases\", seed = 5, phases = [{ generator = \"uniform\", pages = 60, refs = 1500 }, \
                 { generator = \"mix\", refs = 1500, parts = [{ weight = 1, generator = \"zipf\", pages = 90 }, \
                 { weight = 1, generator = \"loop\", pages = 25, base = 500 }] }] }";
    gen(&d, "t.refs", &["--spec", table], &[]);
    d.write(
        "e.toml",
        format!(
            "[experiment]\nname = \"e\"\nmetrics = [\"faults\"]\n[[trace]]\nname = \"g\"\ngenerate = {table}\n\
             [grid]\npolicy = [\"fifo\", \"lru\"]\nframes = [8, 40]\n"
        ),
    );
    pagelab_in(Some(d.path()), &["sweep", "e.toml", "--out", "r", "--quiet"]).code(0);
    let results = std::fs::read_to_string(d.path().join("r/results.csv")).unwrap();
    let mut lines = results.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (policy, frames, faults) = (f[col("policy")], f[col("frames")], f[col("faults")]);
        let r = pagelab_in(Some(d.path()), &["replay", "t.refs", "--policy", policy, "--frames", frames, "--json"]);
        assert_eq!(r.code(0).json()["faults"].to_string(), faults, "{line}");
        rows += 1;
    }
    assert_eq!(rows, 4);
}

#[test]
fn mrc_s_opt_streams_an_oracle_general_trace_within_a_limit_that_refuses_the_text() {
    let d = TempDir::new("mrc-opt-stream");
    let spec = ["--spec", "{ generator = \"loop\", pages = 3, refs = 70002 }"];
    gen(&d, "t.refs", &spec, &[]);
    gen(&d, "t.bin", &spec, &["--format", "oracle-general"]);
    let args = |t: &'static str| ["mrc", t, "--policy", "opt,lru", "--sizes", "2,3", "--host-memory", "20MiB"];
    pagelab_in(Some(d.path()), &args("t.refs")).code(2).stderr_has(&["the OPT replay, which holds the whole trace"]);
    let out = pagelab_in(Some(d.path()), &args("t.bin")).code(0).stdout.clone();
    assert!(out.contains("\nopt,2,70002,35002,"), "{out}");
    assert!(out.contains("\nopt,3,70002,3,"), "{out}");
}
