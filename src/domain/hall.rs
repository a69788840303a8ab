//! The hall: the number of people in the room, as the moderator counted
//! them, and what a poll's hand count stands for.
//!
//! How a hand count is checked and counted depends on the poll's method, so
//! that lives with each method (`method/`); this module holds what belongs to
//! the hall itself.

use super::DomainError;
use super::method::{MAX_HALL_COUNT, checked_count};

pub use super::method::people_counted;

/// A headcount from the wire.
pub fn headcount(value: i64) -> Result<u32, DomainError> {
    // The bound is a u32, so the conversion cannot fail.
    checked_count("the headcount", value, u64::from(MAX_HALL_COUNT)).map(|n| u32::try_from(n).unwrap_or(MAX_HALL_COUNT))
}
