//! The hall: the number of people in the room, as the moderator counted
//! them, and what a poll's hand count stands for.
//!
//! How a hand count is checked and counted depends on the poll's method, so
//! that lives with each method (`method/`); this module holds what belongs to
//! the hall itself.

use madang_protocol::{Command, HallCounts, PollMethod, PollStatus};

use super::decide::{Result, misrouted};
use super::method::{self, MAX_HALL_COUNT, checked_count};
use super::{DomainError, Event, Forum};

pub(crate) use super::method::people_counted;

/// A headcount from the wire.
pub fn headcount(value: i64) -> Result<u32> {
    // The bound is a u32, so the conversion cannot fail.
    checked_count("the headcount", value, u64::from(MAX_HALL_COUNT)).map(|n| u32::try_from(n).unwrap_or(MAX_HALL_COUNT))
}

impl Forum {
    /// Decide a hand count or the hall's headcount.
    pub(super) fn decide_hall(&self, command: &Command) -> Result<Event> {
        match command {
            Command::EnterHallCount { poll, counts } => {
                let p = self.poll(*poll)?;
                if matches!(p.method, PollMethod::Pairwise {}) {
                    return Err(DomainError::InvalidState(format!(
                        "poll {poll} is a pairwise poll: it takes no hall count (pairs cannot be counted by hand)"
                    )));
                }
                match p.status {
                    PollStatus::Open => {}
                    PollStatus::Draft => {
                        return Err(DomainError::InvalidState(format!(
                            "poll {poll} is not open yet: hall counts are entered while it is open"
                        )));
                    }
                    PollStatus::Closed => {
                        return Err(DomainError::InvalidState(format!(
                            "poll {poll} is closed: its hall count can no longer change"
                        )));
                    }
                }
                method::validate_hall_count(&p.method, &self.option_index(p), counts)?;
                self.check_against_headcount(counts)?;
                Ok(Event::HallCountEntered { poll: *poll, counts: counts.clone() })
            }
            Command::SetHallHeadcount { count } => Ok(Event::HallHeadcountSet { count: headcount(*count)? }),
            other => Err(misrouted(other)),
        }
    }

    /// A hand count counts people without a device, who are in the hall: never
    /// more than the headcount, when one is set. A headcount set lower later
    /// leaves earlier counts alone (the hall check shows the excess).
    fn check_against_headcount(&self, counts: &HallCounts) -> Result<()> {
        let counted = people_counted(counts);
        match self.hall_headcount {
            Some(headcount) if counted > headcount => Err(DomainError::Rule {
                rule: method::OVER_HEADCOUNT,
                message: format!("{counted} people counted by hand is more than the {headcount} in the hall"),
            }),
            _ => Ok(()),
        }
    }

    /// Change a hand count or the headcount by one event.
    pub(super) fn apply_hall(&mut self, event: &Event) {
        match event {
            Event::HallCountEntered { poll, counts } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.hall_count = Some(counts.clone());
                }
            }
            Event::HallHeadcountSet { count } => self.hall_headcount = Some(*count),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
