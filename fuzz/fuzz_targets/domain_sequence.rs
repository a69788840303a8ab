//! Coverage-guided target: see `madang::fuzzing::domain_sequence`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| madang::fuzzing::domain_sequence(data));
