//! `--set` overrides: the input picks a built-in scenario (first byte) and
//! gives one `key=value` per line. Parsing never panics; the scenario
//! loads with the overrides or fails naming `--set` (or the scenario) with
//! a message; one that loads and is small is run to its end with the
//! machine's invariants checked after every step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::scenario::{builtin::BUILTINS, load_str, Override};
use pagelab_fuzz::run_if_small;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (name, scenario) = BUILTINS[which as usize % BUILTINS.len()];
    let mut overrides = Vec::new();
    for line in text.lines().take(16) {
        match Override::parse(line) {
            Ok(o) => overrides.push(o),
            Err(msg) => assert!(msg.contains("--set"), "override error without --set: {msg}"),
        }
    }
    match load_str(scenario, name, None, &overrides) {
        Ok(s) => run_if_small(s),
        Err(e) => {
            assert!(e.file.starts_with("--set") || e.file == name, "error names neither --set nor {name}: {e}");
            assert!(e.line >= 1 && e.col >= 1, "error without a position: {e}");
            assert!(!e.message.trim().is_empty(), "error without a message: {e}");
        }
    }
});
