//! Eligibility and participation tickets: who may become a participant.
//!
//! An `open` forum admits anyone with a join code. A `ticketed` forum admits
//! only holders of a ticket the organizer issued, so that N tickets give at
//! most N voters whatever devices people use: a ticket binds to the first
//! participant who joins with it and never admits another. A lost ticket is
//! revoked: its participant is shut out and their ballots in open polls are
//! withdrawn (a closed poll's outcome is history and stays).
//!
//! The domain knows tickets by number only. Their codes are credentials the
//! hub derives and checks (`hub::tickets`), so no code is ever in the log.

use madang_protocol::{Channel, Command, ForumStatus, ParticipantId, PollId, PollStatus};
use serde::{Deserialize, Serialize};

use super::decide::{Result, misrouted};
use super::limits::{Limits, rule};
use super::{DomainError, Event, Forum};

/// Tickets one `issue_tickets` may issue at once: a print run, not the whole forum.
pub const MAX_TICKETS_PER_ISSUE: u32 = 1_000;

/// The rules a ticketed join can break (`error.rule` on the wire).
pub mod ticket_rule {
    /// A ticketed forum admits no one by join code alone.
    pub const REQUIRED: &str = "ticket.required";
    /// The ticket was revoked by the organizer.
    pub const REVOKED: &str = "ticket.revoked";
    /// The ticket already admitted another device.
    pub const USED: &str = "ticket.used";
    /// The ticket is for the other channel's code.
    pub const CHANNEL: &str = "ticket.channel";
}

/// One issued ticket, numbered from 1 in the order issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub channel: Channel,
    /// The participant it admitted, once used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<ParticipantId>,
    #[serde(default)]
    pub revoked: bool,
}

/// Every ticket of a forum; ticket `n` is `issued[n - 1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tickets {
    pub issued: Vec<Ticket>,
}

impl Tickets {
    pub fn get(&self, ticket: u32) -> Option<&Ticket> {
        self.issued.get(usize::try_from(ticket).ok()?.checked_sub(1)?)
    }

    fn get_mut(&mut self, ticket: u32) -> Option<&mut Ticket> {
        self.issued.get_mut(usize::try_from(ticket).ok()?.checked_sub(1)?)
    }

    /// Whether tickets `first..first + count` continue the list. An event out
    /// of step or oversized (never in a log the hub wrote) is ignored rather
    /// than renumbering tickets or exhausting memory on replay.
    pub fn continue_with(&self, first: u32, count: u32) -> bool {
        first as usize == self.issued.len() + 1 && count <= MAX_TICKETS_PER_ISSUE
    }

    /// Issued, used and revoked tickets of `channel`.
    pub fn counts(&self, channel: Channel) -> (u32, u32, u32) {
        let of_channel = self.issued.iter().filter(|t| t.channel == channel);
        let (mut issued, mut used, mut revoked) = (0u32, 0u32, 0u32);
        for t in of_channel {
            issued += 1;
            used += u32::from(t.holder.is_some() && !t.revoked);
            revoked += u32::from(t.revoked);
        }
        (issued, used, revoked)
    }
}

impl Forum {
    /// Decide a command on eligibility or tickets (moderator only; `authorize` checked the role).
    pub(super) fn decide_tickets(&self, command: &Command, limits: &Limits) -> Result<Event> {
        match command {
            Command::SetEligibility { eligibility } => {
                if self.status != ForumStatus::Draft {
                    return Err(DomainError::InvalidState(
                        "who may join is chosen before the forum starts: it has started".into(),
                    ));
                }
                Ok(Event::EligibilitySet { eligibility: *eligibility })
            }
            Command::IssueTickets { channel, count } => {
                if *channel == Channel::HallCount {
                    return Err(DomainError::Invalid("tickets are for the remote or the hall channel".into()));
                }
                if *count == 0 || *count > MAX_TICKETS_PER_ISSUE {
                    return Err(DomainError::Invalid(format!(
                        "issue between 1 and {MAX_TICKETS_PER_ISSUE} tickets at a time"
                    )));
                }
                // Every ticket can admit a participant, so tickets share the participants' cap.
                Limits::check_total(
                    self.tickets.issued.len().saturating_add(*count as usize),
                    limits.participants,
                    rule::TICKETS,
                    "a forum issues no more tickets than it can take participants",
                )?;
                let first = self.tickets.issued.len() as u32 + 1;
                Ok(Event::TicketsIssued { channel: *channel, first, count: *count })
            }
            Command::RevokeTicket { ticket } => {
                let found = self.tickets.get(*ticket).ok_or(DomainError::NotFound { what: "ticket", id: *ticket })?;
                if found.revoked {
                    return Err(DomainError::InvalidState(format!("ticket {ticket} is already revoked")));
                }
                let withdrawn = match found.holder {
                    Some(holder) => self.open_polls_voted_in(holder),
                    None => Vec::new(),
                };
                Ok(Event::TicketRevoked { ticket: *ticket, participant: found.holder, withdrawn })
            }
            other => Err(misrouted(other)),
        }
    }

    /// Whether a join on `channel` with `ticket` (already authenticated by
    /// the hub) may admit a new participant.
    pub(super) fn check_ticketed_join(&self, channel: Channel, ticket: Option<u32>) -> Result<()> {
        if self.eligibility.is_open() {
            return Ok(());
        }
        let refuse = |rule, message: &str| Err(DomainError::Rule { rule, message: message.into() });
        let Some(number) = ticket else {
            return refuse(ticket_rule::REQUIRED, "this forum admits ticket holders only: enter your ticket's code");
        };
        let Some(found) = self.tickets.get(number) else {
            return Err(DomainError::NotFound { what: "ticket", id: number });
        };
        if found.revoked {
            return refuse(ticket_rule::REVOKED, "this ticket was revoked: ask the organizers for a new one");
        }
        if found.holder.is_some() {
            return refuse(
                ticket_rule::USED,
                "this ticket is already in use on another device: a ticket admits one device",
            );
        }
        if found.channel != channel {
            return refuse(ticket_rule::CHANNEL, "this ticket is for the other join code of this forum");
        }
        Ok(())
    }

    /// Open polls in which `participant` has a ballot or comparisons.
    fn open_polls_voted_in(&self, participant: ParticipantId) -> Vec<PollId> {
        self.polls
            .values()
            .filter(|p| p.status == PollStatus::Open)
            .filter(|p| p.ballots.contains_key(&participant) || p.comparisons.answers.contains_key(&participant))
            .map(|p| p.id)
            .collect()
    }

    /// Change the tickets by one event.
    pub(super) fn apply_tickets(&mut self, event: &Event) {
        match event {
            Event::TicketsIssued { channel, first, count } if self.tickets.continue_with(*first, *count) => {
                let ticket = Ticket { channel: *channel, holder: None, revoked: false };
                self.tickets.issued.extend(std::iter::repeat_n(ticket, *count as usize));
            }
            Event::TicketRevoked { ticket, participant, withdrawn } => {
                if let Some(t) = self.tickets.get_mut(*ticket) {
                    t.revoked = true;
                }
                if let Some(holder) = participant {
                    self.shut_out(*holder, withdrawn);
                }
            }
            _ => {}
        }
    }

    /// A revoked participant's token admits no one and their ballots in the
    /// listed polls are withdrawn.
    fn shut_out(&mut self, participant: ParticipantId, withdrawn: &[PollId]) {
        self.participant_by_token.retain(|_, p| *p != participant);
        if let Some(p) = self.participants.get_mut(&participant) {
            p.revoked = true;
        }
        for poll in withdrawn {
            if let Some(p) = self.polls.get_mut(poll) {
                p.ballots.remove(&participant);
                p.comparisons.answers.remove(&participant);
                p.comparisons.offers.remove(&participant);
            }
            self.rebuild_live(*poll);
        }
    }

    /// Bind the ticket a participant joined with.
    pub(super) fn bind_ticket(&mut self, ticket: u32, participant: ParticipantId) {
        if let Some(t) = self.tickets.get_mut(ticket).filter(|t| t.holder.is_none()) {
            t.holder = Some(participant);
        }
    }
}

#[cfg(test)]
mod tests;
