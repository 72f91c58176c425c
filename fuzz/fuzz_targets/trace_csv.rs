//! The CSV trace reader, its settings drawn from the first byte, on arbitrary bytes: no panic, no unbounded
//! memory, the same references and error read one at a time and in
//! batches, pages within 48 bits, errors located inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::trace::TraceFormat;

fuzz_target!(|data: &[u8]| {
    let params = pagelab_fuzz::csv_params(data.first().copied().unwrap_or(0));
    pagelab_fuzz::check_trace(data.get(1..).unwrap_or_default(), TraceFormat::Csv(params))
});
