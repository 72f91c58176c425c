//! Format detection on arbitrary bytes (named after the first byte), then
//! the reader of the format detected: no panic, the same references and error
//! read one at a time and in batches, pages within 48 bits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pagelab_fuzz::check_detected(data));
