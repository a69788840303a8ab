//! Hall counts: what the moderator enters for people in the hall without a
//! device, checked and turned into weighted ballots for the tally.
//!
//! A hand count is not a list of ballots: for approval, dots and score it is
//! per-option totals. Each total becomes one single-option ballot weighted by
//! the total (12 people approving option 2 is a ballot `[2]` of weight 12),
//! which gives exactly the per-option counts, sums and score distributions the
//! hall reported; paper rankings are weighted by their count. The tally never
//! expands a weight into copies. `people` (the number of hall people without a
//! device who took part) is entered separately where totals cannot tell it.
//!
//! This module holds what every method's hand count shares: the bounds and
//! the checked conversion of wire numbers. Each method's own rules for its
//! totals live in that method's file.

use std::collections::HashSet;

use madang_protocol::OptionId;

use super::OptionIndex;
use crate::domain::DomainError;

/// No hall holds more people than this: a larger number is a typo.
pub(crate) const MAX_HALL_COUNT: u32 = 100_000;
/// Distinct paper rankings in one entry.
pub(crate) const MAX_PAPER_RANKINGS: usize = 1_000;

/// The rule a hand count breaks when it has more marks than the people
/// counted may give under the poll's method.
pub(crate) const OVER_METHOD: &str = "hall_count.over_method";
/// The rule a hand count breaks when it counts more people than the hall's headcount.
pub(crate) const OVER_HEADCOUNT: &str = "hall_count.over_headcount";

type Result<T> = std::result::Result<T, DomainError>;

pub(super) fn invalid(message: String) -> DomainError {
    DomainError::Invalid(message)
}

/// More marks than the people counted may give: a miscount, named so that
/// the console can say so in its own language.
pub(super) fn over_method(message: String) -> DomainError {
    DomainError::Rule { rule: OVER_METHOD, message }
}

/// A count of marks from the wire: not negative (`invalid`), and at most
/// `max`, what the people counted may give ([`OVER_METHOD`]).
pub(super) fn marks(what: &str, value: i64, max: u64) -> Result<u64> {
    match u64::try_from(value) {
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(over_method(format!("{what} is {value}: at most {max} is allowed"))),
        Err(_) => Err(invalid(format!("{what} is {value}: counts cannot be negative"))),
    }
}

/// A count from the wire, as a checked number of people (or dots).
pub(crate) fn count(what: &str, value: i64, max: u64) -> Result<u64> {
    match u64::try_from(value) {
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(invalid(format!("{what} is {value}: at most {max} is allowed"))),
        Err(_) => Err(invalid(format!("{what} is {value}: counts cannot be negative"))),
    }
}

pub(super) fn people(value: i64) -> Result<u64> {
    count("people", value, u64::from(MAX_HALL_COUNT))
}

/// Every option named once, and known to the poll.
pub(super) fn check_options(options: &OptionIndex, named: impl IntoIterator<Item = OptionId>) -> Result<()> {
    let mut seen = HashSet::new();
    for option in named {
        if options.counts_for(option).is_none() {
            return Err(invalid(format!("option {option} is not an option of this poll")));
        }
        if !seen.insert(option) {
            return Err(invalid(format!("option {option} is counted more than once")));
        }
    }
    Ok(())
}

/// A count already validated; a negative one (never in a valid log) counts 0.
pub(super) fn weight(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
