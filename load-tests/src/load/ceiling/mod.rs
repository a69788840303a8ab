//! The raw fan-out ceiling: the fastest the machine can hand the same bytes
//! to N TCP connections, with no WebSocket, no JSON and no forum.
//!
//! Why: a fan-out figure for Madang means little alone; next to this one it
//! says how much of the machine's limit the server reaches. `serve` is the
//! server side (`madang-load ceiling-serve`), `run` the generator's side
//! (`madang-load run --target ceiling`). Each message starts with its
//! 20-digit write time in µs since the Unix epoch (both sides are on one
//! machine), and ends with a newline.

mod run;
mod serve;

pub(crate) use run::run;
pub(crate) use serve::serve;

/// The time stamp at the head of a message: 20 digits.
const STAMP_DIGITS: usize = 20;

/// Microseconds since the Unix epoch: the clock both sides share.
fn unix_micros() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}
