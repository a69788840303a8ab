//! Coverage-guided target: see `madang::fuzzing::log_replay`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| madang::fuzzing::log_replay(data));
