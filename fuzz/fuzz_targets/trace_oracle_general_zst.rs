//! The zstd decoder and the oracle-general reader behind it on arbitrary bytes: no panic, no unbounded
//! memory, the same references and error read one at a time and in
//! batches, pages within 48 bits, errors located inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::trace::TraceFormat;

fuzz_target!(|data: &[u8]| pagelab_fuzz::check_trace(data, TraceFormat::OracleGeneralZst));
