//! The README and the book against what pagelab does: a newcomer who
//! follows them gets what they say.

use std::path::Path;

/// A file of the repository, as text.
fn repo_file(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_readme_says_how_to_get_pagelab_before_its_tour_uses_it() {
    let readme = repo_file("README.md");
    let (mut in_code, mut install, mut first_use) = (false, None, None);
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code && line.starts_with("cargo install --path .") {
            install.get_or_insert(n + 1);
        } else if in_code && line.starts_with("pagelab ") {
            first_use.get_or_insert(n + 1);
        }
    }
    let install = install.expect("the README says `cargo install --path .` in a code block");
    let first_use = first_use.expect("the README's tour runs `pagelab`");
    assert!(
        install < first_use,
        "the README runs `pagelab` on line {first_use} before saying `cargo install --path .` on line {install}"
    );
}

/// The keys in the first column of the book's table that follows `marker`.
fn documented_keys(chapter: &str, marker: &str) -> Vec<String> {
    let text = repo_file(chapter);
    let at = text.find(marker).unwrap_or_else(|| panic!("{chapter} has no {marker:?}"));
    let mut keys = Vec::new();
    for line in text[at..].lines().skip(1) {
        if !line.starts_with('|') {
            break;
        }
        let first = line.split('|').nth(1).unwrap_or("");
        keys.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
    }
    assert!(!keys.is_empty(), "{chapter}: no table after {marker:?}");
    keys
}

#[test]
fn every_key_the_book_documents_for_run_json_is_in_real_output() {
    let keys = documented_keys("book/src/scenarios.md", "<!-- run-json-keys");
    // A failed expectation after an override and the event log: every
    // key appears; --no-expect adds its own.
    let o = crate::util::pagelab(&["run", "belady", "--set", "policy=lru", "--events", "--json"]);
    o.code(1);
    let v = o.json();
    let n = crate::util::pagelab(&["run", "belady", "--no-expect", "--json"]);
    n.code(0);
    let nv = n.json();
    for k in &keys {
        assert!(v.get(k).is_some() || nv.get(k).is_some(), "the book documents `{k}`, which run --json lacks: {v:#}");
    }
    let mut documented: Vec<_> = keys.clone();
    documented.sort();
    let mut real: Vec<String> = v.as_object().unwrap().keys().chain(nv.as_object().unwrap().keys()).cloned().collect();
    real.sort();
    real.dedup();
    assert_eq!(documented, real, "the book's table and run --json's keys differ");
    // The top-level figures agree with the state's counters.
    let c = &v["state"]["counters"];
    assert_eq!(v["references"], c["references"]);
    let sum: u64 = ["demand_zero", "soft", "hard_pagefile", "hard_file"].iter().map(|k| c[*k].as_u64().unwrap()).sum();
    assert_eq!(v["faults"].as_u64().unwrap(), sum, "faults are demand zero + soft + hard: {c:#}");
    assert!(sum > 0);
}

#[test]
fn expectations_in_json_are_typed_numbers_ranges_and_names() {
    let o = crate::util::pagelab(&["run", "awe", "--json"]);
    o.code(0);
    let v = o.json();
    let all = v["expectations"].as_array().unwrap();
    let errors: Vec<_> = all.iter().filter(|e| e["key"] == "error").collect();
    assert!(!errors.is_empty() && errors.iter().all(|e| e["expected"].is_string() && e["actual"].is_string()));
    let counts: Vec<_> = all.iter().filter(|e| e["expected"].is_u64()).collect();
    assert!(!counts.is_empty(), "{v:#}");
    for e in counts {
        assert!(e["actual"].is_u64(), "a count expected, a count found: {e}");
    }
    let book = crate::util::pagelab(&["run", "book/src/broken/wrong-expectation.toml", "--json"]);
    book.code(1);
    let failed = &book.json()["expectations"][0];
    assert_eq!(failed["expected"], serde_json::json!({"at_most": 9}));
    assert_eq!(failed["actual"], 10);
}

/// The pages of the book's `silberschatz.refs`.
const SILBERSCHATZ: [u64; 20] = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];

#[test]
fn the_book_s_example_traces_hold_silberschatz_s_string_in_every_format() {
    use pagelab::trace::{open_trace, write_oracle_general, FormatChoice};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The binary examples are what pagelab writes, byte for byte, and the
    // compressed one decompresses to them.
    let mut want = Vec::new();
    write_oracle_general(&SILBERSCHATZ, &mut want).unwrap();
    let og = root.join("book/src/traces/silberschatz.oracleGeneral");
    assert_eq!(std::fs::read(&og).unwrap(), want, "{} is not write_oracle_general's", og.display());
    let mut plain = Vec::new();
    let zst = root.join("book/src/traces/silberschatz.oracleGeneral.zst");
    std::io::Read::read_to_end(&mut pagelab::trace::ZstdDecoder::new(&std::fs::read(&zst).unwrap()[..]), &mut plain)
        .unwrap();
    assert_eq!(plain, want, "{} does not decompress to the oracleGeneral example", zst.display());
    // Every example, read with --format auto, is the same string.
    for f in ["silberschatz.refs", "silberschatz.oracleGeneral", "silberschatz.oracleGeneral.zst", "requests.csv"] {
        let p = root.join("book/src/traces").join(f);
        let t = open_trace(p.to_str().unwrap(), FormatChoice::Auto, None).unwrap();
        let pages: Vec<u64> = pagelab::trace::TraceReader::new(t.input, t.format).map(|r| r.unwrap().page).collect();
        assert_eq!(pages, SILBERSCHATZ, "{f}");
    }
}

#[test]
fn the_trace_formats_chapter_names_every_format_replay_takes() {
    let chapter = repo_file("book/src/formats.md");
    for name in pagelab::trace::FormatChoice::NAMES {
        assert!(chapter.contains(&format!("`--format {name}`")), "book/src/formats.md never says `--format {name}`");
    }
    for key in pagelab::trace::CSV_KEYS {
        assert!(chapter.contains(&format!("`{key}")), "book/src/formats.md never names --trace-params {key}");
    }
}

#[test]
fn the_real_chapter_explains_every_quantity_pagelab_real_compares() {
    let chapter = repo_file("book/src/real.md");
    for q in pagelab::real::compare::QUANTITIES {
        assert!(chapter.contains(&format!("| `{}` |", q.name)), "book/src/real.md's table lacks {}", q.name);
    }
    let summary = repo_file("book/src/SUMMARY.md");
    assert!(summary.contains("[Checking against a real system](real.md)"));
}
