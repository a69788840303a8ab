//! The forum's own life: started, closed, and whether participants' ideas
//! wait for approval.

use madang_protocol::{Command, ForumStatus, PollStatus};

use super::decide::{Result, misrouted};
use super::{DomainError, Event, Forum};

impl Forum {
    /// Decide a command on the forum itself.
    pub(super) fn decide_lifecycle(&self, command: &Command) -> Result<Event> {
        match command {
            Command::StartForum {} => match self.status {
                ForumStatus::Draft => Ok(Event::ForumStarted {}),
                _ => Err(DomainError::InvalidState("the forum is already live".into())),
            },
            Command::CloseForum {} => match self.polls.values().find(|p| p.status == PollStatus::Open) {
                Some(open) => Err(DomainError::InvalidState(format!("poll {} is still open: close it first", open.id))),
                None => Ok(Event::ForumClosed {}),
            },
            Command::SetPremoderation { enabled } => Ok(Event::PremoderationSet { enabled: *enabled }),
            other => Err(misrouted(other)),
        }
    }

    /// Change the forum's status or premoderation by one event.
    pub(super) fn apply_lifecycle(&mut self, event: &Event) {
        match event {
            Event::ForumCreated { .. } => {}
            Event::ForumStarted {} => self.status = ForumStatus::Live,
            Event::ForumClosed {} => self.status = ForumStatus::Closed,
            Event::PremoderationSet { enabled } => self.premoderation = *enabled,
            Event::EligibilitySet { eligibility } => self.eligibility = *eligibility,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
