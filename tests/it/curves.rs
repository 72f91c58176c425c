//! `pagelab mrc` and `pagelab plot`: curves that agree with replays of the
//! real engine, SVG a paper can use, and bad tables refused.

use crate::util::{pagelab, pagelab_in, pagelab_with_stdin, TempDir};

/// `policy -> frames -> misses` from mrc's CSV.
fn points(csv: &str) -> Vec<(String, u64, u64)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("policy,frames,references,misses,miss_ratio,compulsory"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

#[test]
fn every_point_of_a_curve_is_the_fault_count_of_a_replay_at_that_size() {
    let d = TempDir::new("mrc-replays");
    let trace = d.path().join("z.txt");
    pagelab(&[
        "gen-trace",
        "--pages",
        "300",
        "--refs",
        "5000",
        "--alpha",
        "0.7",
        "--seed",
        "4",
        "-o",
        crate::util::s(&trace),
    ])
    .code(0);
    let t = crate::util::s(&trace);
    let out = pagelab(&["mrc", t, "--policy", "lru,fifo,clock", "--sizes", "1,7,50,120,299,300"]);
    let pts = points(&out.code(0).stdout);
    assert_eq!(pts.len(), 18);
    for (policy, frames, misses) in pts {
        let f = frames.to_string();
        let r = pagelab(&["replay", t, "--policy", &policy, "--frames", &f, "--json"]);
        assert_eq!(r.code(0).json()["faults"], misses, "{policy} at {frames} frames");
    }
}

#[test]
fn fifo_s_curve_shows_beladys_anomaly_and_lru_s_never_does() {
    let d = TempDir::new("mrc-belady");
    d.write("b.refs", "1 2 3 4 1 2 5 1 2 3 4 5\n");
    let out = pagelab_in(Some(d.path()), &["mrc", "b.refs", "--policy", "fifo,lru", "--sizes", "1-6"]);
    let pts = points(&out.code(0).stdout);
    let of = |p: &str| pts.iter().filter(|x| x.0 == p).map(|x| x.2).collect::<Vec<_>>();
    assert_eq!(&of("fifo")[2..4], [9, 10], "more frames, more faults");
    assert!(of("lru").windows(2).all(|w| w[1] <= w[0]), "LRU is a stack algorithm: {:?}", of("lru"));
}

#[test]
fn plots_are_svg_with_axis_labels_and_a_legend() {
    let d = TempDir::new("plot");
    d.write("b.refs", "1 2 3 4 1 2 5 1 2 3 4 5\n");
    pagelab_in(
        Some(d.path()),
        &["mrc", "b.refs", "--policy", "fifo,lru", "--sizes", "1-6", "-o", "m.csv", "--plot", "m.svg"],
    )
    .code(0);
    let svg = std::fs::read_to_string(d.path().join("m.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    for want in ["miss ratio", "working-set size (frames of 4 KiB)", "fifo", "lru"] {
        assert!(svg.contains(want), "the plot lacks {want:?}");
    }
    // The same table drawn by `plot`, and a sweep's fault breakdown.
    pagelab_in(Some(d.path()), &["plot", "m.csv", "-o", "again.svg"]).code(0);
    assert!(std::fs::read_to_string(d.path().join("again.svg")).unwrap().contains("lru"));
    d.write(
        "e.toml",
        "[experiment]\nname = \"e\"\n[[trace]]\nname = \"b\"\nfile = \"b.refs\"\n[grid]\npolicy = [\"fifo\", \"lru\"]\nframes = [3, 4]\n",
    );
    pagelab_in(Some(d.path()), &["sweep", "e.toml", "--out", "r", "--quiet"]).code(0);
    pagelab_in(Some(d.path()), &["plot", "r/results.csv", "--kind", "breakdown", "-o", "b.svg"]).code(0);
    let bars = std::fs::read_to_string(d.path().join("b.svg")).unwrap();
    assert!(bars.contains("demand zero") && bars.contains("soft"), "the breakdown's legend");
}

#[test]
fn bad_tables_and_traces_exit_2_naming_what_was_wrong() {
    let d = TempDir::new("plot-bad");
    d.write("t.csv", "policy,frames,miss_ratio\nfifo,3,0.5\nfifo,4\n");
    pagelab_in(Some(d.path()), &["plot", "t.csv", "-o", "x.svg"])
        .code(2)
        .stderr_has(&["t.csv:3: expected 3 fields, as the header has, found 2"]);
    assert!(!d.path().join("x.svg").exists(), "nothing written");
    d.write("u.csv", "policy,frames,miss_ratio\nfifo,3,0.5\n");
    pagelab_in(Some(d.path()), &["plot", "u.csv", "--x", "size"])
        .code(2)
        .stderr_has(&["--x \"size\": expected a column of the header"]);
    pagelab_with_stdin(Some(d.path()), &["plot", "-"], Some(b"frames,miss_ratio\n3,half\n")).code(2);
    pagelab(&["mrc", "/nonexistent.refs"]).code(2).stderr_has(&["cannot open the trace"]);
    d.write("g.refs", "1 2 zz\n");
    pagelab_in(Some(d.path()), &["mrc", "g.refs"]).code(2).stderr_has(&["g.refs:1:5"]);
    pagelab_in(Some(d.path()), &["mrc", "g.refs", "--sizes", "0"]).code(2).stderr_has(&["--sizes"]);
}
