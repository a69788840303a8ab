//! Support for ideas: a participant backs an approved idea (one support per
//! person per idea) or takes it back, so that moderators see which ideas the
//! room wants to discuss, counted per channel.
//!
//! Only approved ideas take new support: a pending idea is not public yet, a
//! hidden one was taken off the wall, and a merged one lives on in the idea
//! that absorbed it (support that one). Supports already given stay with
//! their idea whatever happens to it, and can always be withdrawn.

use madang_protocol::{Channel, Command, IdeaId, IdeaStatus, ParticipantId, SupportCounts};

use super::decide::{Actor, Result, misrouted};
use super::{DomainError, Event, Forum};

impl Forum {
    /// Decide a participant's support of an idea, or its withdrawal.
    pub(super) fn decide_support(&self, actor: Actor, command: &Command) -> Result<Event> {
        let participant = self.acting_participant(actor)?;
        self.require_live()?;
        match command {
            Command::SupportIdea { idea } => {
                let found = self.idea(*idea)?;
                match (found.status, found.merged_into) {
                    (IdeaStatus::Approved, _) => {}
                    (IdeaStatus::Merged, Some(into)) => {
                        let root = self.root_idea(into);
                        return Err(DomainError::InvalidState(format!(
                            "idea {idea} was merged into idea {root}: support that one"
                        )));
                    }
                    _ => return Err(DomainError::InvalidState(format!("idea {idea} is not approved"))),
                }
                if self.supports_idea(participant, *idea) {
                    return Err(DomainError::InvalidState(format!("you already support idea {idea}")));
                }
                Ok(Event::IdeaSupported { idea: *idea, participant })
            }
            Command::WithdrawSupport { idea } => {
                self.idea(*idea)?;
                if !self.supports_idea(participant, *idea) {
                    return Err(DomainError::InvalidState(format!("you do not support idea {idea}")));
                }
                Ok(Event::SupportWithdrawn { idea: *idea, participant })
            }
            other => Err(misrouted(other)),
        }
    }

    /// Record a support or a withdrawal.
    pub(super) fn apply_support(&mut self, event: &Event) {
        match event {
            // Like every `apply`, ignore what refers to nothing (only in a log
            // the hub did not write): no dangling supports to count or keep.
            Event::IdeaSupported { idea, participant }
                if self.ideas.contains_key(idea) && self.participants.contains_key(participant) =>
            {
                self.supports.entry(*idea).or_default().insert(*participant);
            }
            Event::SupportWithdrawn { idea, participant } => {
                if let Some(supporters) = self.supports.get_mut(idea) {
                    supporters.remove(participant);
                    if supporters.is_empty() {
                        self.supports.remove(idea);
                    }
                }
            }
            _ => {}
        }
    }

    fn supports_idea(&self, participant: ParticipantId, idea: IdeaId) -> bool {
        self.supports.get(&idea).is_some_and(|s| s.contains(&participant))
    }

    /// How many people support `idea`, per channel.
    pub fn support_counts(&self, idea: IdeaId) -> SupportCounts {
        let mut counts = SupportCounts::default();
        for participant in self.supports.get(&idea).into_iter().flatten() {
            match self.participants.get(participant).map(|p| p.channel) {
                Some(Channel::Hall) => counts.hall = counts.hall.saturating_add(1),
                _ => counts.remote = counts.remote.saturating_add(1),
            }
        }
        counts
    }

    /// The ideas `participant` supports now, in id order.
    pub fn supported_by(&self, participant: ParticipantId) -> Vec<IdeaId> {
        self.supports
            .iter()
            .filter(|(_, supporters)| supporters.contains(&participant))
            .map(|(idea, _)| *idea)
            .collect()
    }
}

#[cfg(test)]
mod tests;
