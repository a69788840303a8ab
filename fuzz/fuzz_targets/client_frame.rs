//! Coverage-guided target: see `madang::fuzzing::client_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| madang::fuzzing::client_frame(data));
