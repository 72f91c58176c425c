//! The scenario loader on arbitrary text: it never panics, and every error
//! names the file and a place inside the text. A scenario that loads and
//! is small is run to its end with the machine's invariants checked after
//! every step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::scenario::load_str;
use pagelab_fuzz::{check_scenario_error, run_if_small};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match load_str(text, "fuzz.toml", None, &[]) {
        Ok(s) => run_if_small(s),
        Err(e) => check_scenario_error(&e, "fuzz.toml", text),
    }
});
