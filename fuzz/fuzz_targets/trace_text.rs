//! The text trace reader (libCacheSim's one object id per line, numeric
//! and hashed) on arbitrary bytes: no panic, no unbounded
//! memory, the same references and error read one at a time and in
//! batches, pages within 48 bits, errors located inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::trace::{ObjIds, TraceFormat};

fuzz_target!(|data: &[u8]| {
    let ids = if data.first().is_some_and(|b| b & 1 == 1) { ObjIds::Hashed } else { ObjIds::Numbers };
    pagelab_fuzz::check_trace(data.get(1..).unwrap_or_default(), TraceFormat::Text(ids))
});
