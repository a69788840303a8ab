//! Participants: who joined, on which channel, under which name.
//!
//! Joining is decided apart from commands: a participant who joins has no
//! token yet, so there is no actor to authorize.

use madang_protocol::{Channel, ForumStatus, ParticipantId};
use serde::{Deserialize, Serialize};

use super::decide::{MAX_NAME_CHARS, Result, clean_text};
use super::limits::{Limits, rule};
use super::{DomainError, Event, Forum};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub channel: Channel,
    pub name: Option<String>,
    /// Shut out: their ticket was revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

impl Forum {
    /// A new participant joining with a code of `channel`, and in a ticketed
    /// forum with `ticket` (its code already checked by the hub).
    pub fn decide_join(
        &self,
        channel: Channel,
        name: Option<&str>,
        ticket: Option<u32>,
        token_hash: String,
        limits: &Limits,
    ) -> Result<Event> {
        if self.status == ForumStatus::Closed {
            return Err(DomainError::InvalidState("the forum is closed".into()));
        }
        if channel == Channel::HallCount {
            return Err(DomainError::Invalid("participants join as remote or hall".into()));
        }
        self.check_ticketed_join(channel, ticket)?;
        Limits::check(
            self.participants.len(),
            limits.participants,
            rule::PARTICIPANTS,
            "this forum has as many participants as it can take",
        )?;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(clean_text("name", n, MAX_NAME_CHARS)?),
            None => None,
        };
        // In an open forum a ticket means nothing and is not recorded.
        let ticket = ticket.filter(|_| !self.eligibility.is_open());
        Ok(Event::ParticipantJoined { participant: self.next_participant_id(), channel, name, token_hash, ticket })
    }

    pub(super) fn next_participant_id(&self) -> ParticipantId {
        ParticipantId(self.participants.len() as u32 + 1)
    }

    /// The channel a participant votes in; one the forum does not know (never
    /// in a valid log) counts as remote.
    pub fn channel_of(&self, participant: &ParticipantId) -> Channel {
        self.participants.get(participant).map_or(Channel::Remote, |x| x.channel)
    }

    /// Change the participants (and tickets) by one event.
    pub(super) fn apply_participants(&mut self, event: &Event) {
        match event {
            Event::ParticipantJoined { .. } => self.apply_joined(event),
            _ => self.apply_tickets(event),
        }
    }

    /// Record a participant who joined.
    fn apply_joined(&mut self, event: &Event) {
        if let Event::ParticipantJoined { participant, channel, name, token_hash, ticket } = event
            // Ids are never reused, so a second join under one (only in a log
            // the hub did not write) is ignored: a changed channel would split
            // ranked polls' kept counts differently from a recount.
            && !self.participants.contains_key(participant)
        {
            self.participants.insert(
                *participant,
                Participant { id: *participant, channel: *channel, name: name.clone(), revoked: false },
            );
            self.participant_by_token.insert(token_hash.clone(), *participant);
            if let Some(ticket) = ticket {
                self.bind_ticket(*ticket, *participant);
            }
        }
    }
}

#[cfg(test)]
mod tests;
