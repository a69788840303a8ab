//! Coverage-guided target: see `madang::fuzzing::ballot`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| madang::fuzzing::ballot(data));
