//! Deciding: a command checked against the current forum becomes one event,
//! or an error that says which rule it broke.
//!
//! Deciding never changes the forum; the caller persists the event and then
//! applies it. The time of the decision is passed in (`now_ms`), so these
//! rules run the same in tests, in replay, and on every hub node.
//!
//! This file is the router: who may send what (`authorize`), then one
//! aggregate per group of commands, each in its own module with both its
//! decisions and its state changes (`agenda`, `ideas`, `polls`, `hall`,
//! `speakers`, `signals`, `display`, `lifecycle`; joining is `participants`).

use madang_protocol::{Command, ForumStatus, ParticipantId};

use super::event::Event;
use super::forum::Forum;
use super::limits::Limits;
use super::method::BallotError;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Moderator,
    Display,
    Participant(ParticipantId),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: u32 },
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ballot(#[from] BallotError),
    /// A cap of `Limits` was reached; `rule` names it.
    #[error("{message}")]
    Limit { rule: &'static str, message: String },
    /// A value breaks a named rule of the forum (a hand count larger than
    /// the hall or than its method allows); `rule` names it so that pages
    /// can explain it in their own language.
    #[error("{message}")]
    Rule { rule: &'static str, message: String },
}

pub(super) type Result<T> = std::result::Result<T, DomainError>;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 40;
/// A time box or extension longer than a day is a typo, not a plan.
pub(crate) const MAX_TIMER_SECS: u32 = 24 * 60 * 60;

/// Clean, trim and bound a piece of text that people will see on other
/// people's screens; `what` names it in the error.
///
/// Removed: control characters other than line breaks and tabs (NUL, `\r`,
/// C1 controls: they break terminals, logs and CSV files), and bidirectional
/// formatting characters (embeddings, overrides, isolates, direction marks:
/// they let one person's text reorder how the rest of a screen reads).
/// Refused as empty: text with no visible character, such as only zero-width
/// spaces or Hangul fillers. Zero-width joiners inside visible text stay:
/// emoji sequences and some scripts need them.
pub fn clean_text(what: &str, text: &str, max_chars: usize) -> Result<String> {
    let cleaned: String = text.chars().filter(|&c| !is_removed(c)).collect();
    let trimmed = cleaned.trim();
    if !trimmed.chars().any(|c| !c.is_whitespace() && !is_invisible(c)) {
        return Err(DomainError::Invalid(format!("{what} must not be empty")));
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(DomainError::Invalid(format!("{what} is {chars} characters; at most {max_chars} are allowed")));
    }
    Ok(trimmed.to_string())
}

/// Characters [`clean_text`] removes wherever they are.
fn is_removed(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing on their own: text made only of these (and
/// whitespace) is empty.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}'..='\u{200D}' // zero-width space, non-joiner, joiner
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}' // zero-width no-break space
    )
}

pub(super) fn check_secs(what: &str, secs: u32) -> Result<u32> {
    if secs == 0 || secs > MAX_TIMER_SECS {
        return Err(DomainError::Invalid(format!("{what} must be between 1 and {MAX_TIMER_SECS} seconds")));
    }
    Ok(secs)
}

/// Which commands each role may send.
fn authorize(actor: Actor, command: &Command) -> Result<()> {
    let participant_only = matches!(
        command,
        Command::CastBallot { .. }
            | Command::NextPair { .. }
            | Command::CastComparison { .. }
            | Command::RaiseHand {}
            | Command::LowerHand {}
            | Command::Signal { .. }
            | Command::SupportIdea { .. }
            | Command::WithdrawSupport { .. }
    );
    let participant_command = participant_only || matches!(command, Command::SubmitIdea { .. });
    match actor {
        Actor::Display => Err(DomainError::Forbidden("displays are read-only".into())),
        Actor::Participant(_) if !participant_command => {
            Err(DomainError::Forbidden(format!("`{}` is for moderators", command.name())))
        }
        Actor::Moderator if matches!(command, Command::CastBallot { .. }) => Err(DomainError::Forbidden(
            "moderators do not cast ballots: enter hall counts with `enter_hall_count`".into(),
        )),
        Actor::Moderator if matches!(command, Command::NextPair { .. } | Command::CastComparison { .. }) => {
            Err(DomainError::Forbidden(format!(
                "`{}` is for participants: moderators do not compare pairs",
                command.name()
            )))
        }
        Actor::Moderator if matches!(command, Command::RaiseHand {} | Command::LowerHand {}) => {
            Err(DomainError::Forbidden(format!(
                "`{}` is for participants: add hall people with `add_speaker`",
                command.name()
            )))
        }
        Actor::Moderator if participant_only => {
            Err(DomainError::Forbidden(format!("`{}` is for participants", command.name())))
        }
        _ => Ok(()),
    }
}

impl Forum {
    /// Decide a command. The returned event is what would happen; nothing has happened yet.
    ///
    /// `limits` are the server's caps, passed in like the time: they are
    /// configuration, not the forum's state, so no rebuilt forum can lose them.
    pub fn decide(&self, actor: Actor, command: &Command, now_ms: u64, limits: &Limits) -> Result<Event> {
        authorize(actor, command)?;
        if let Actor::Participant(p) = actor
            && self.participants.get(&p).is_some_and(|p| p.revoked)
        {
            // Named by its rule, so that the phone can say in its own language what happened.
            return Err(DomainError::Rule {
                rule: super::tickets::ticket_rule::REVOKED,
                message: "your ticket was revoked: this device can no longer take part".into(),
            });
        }
        // What was done about the decisions is recorded after the vote, closed forum or not.
        let follow_through = matches!(
            command,
            Command::RecordResponse { .. } | Command::PlanAction { .. } | Command::UpdateAction { .. }
        );
        if self.status == ForumStatus::Closed && !follow_through {
            return Err(DomainError::InvalidState("the forum is closed".into()));
        }
        match command {
            Command::StartForum {} | Command::CloseForum {} | Command::SetPremoderation { .. } => {
                self.decide_lifecycle(command)
            }
            Command::AddItem { .. }
            | Command::EditItem { .. }
            | Command::MoveItem { .. }
            | Command::RemoveItem { .. }
            | Command::ActivateItem { .. }
            | Command::CompleteItem { .. }
            | Command::StartTimer { .. }
            | Command::PauseTimer { .. }
            | Command::ExtendTimer { .. } => self.decide_agenda(command, now_ms, limits),
            Command::SubmitIdea { .. }
            | Command::ApproveIdea { .. }
            | Command::HideIdea { .. }
            | Command::MergeIdea { .. } => self.decide_ideas(actor, command, limits),
            Command::CreatePoll { .. }
            | Command::OpenPoll { .. }
            | Command::ClosePoll { .. }
            | Command::RevealResults { .. }
            | Command::CastBallot { .. }
            | Command::NextPair { .. }
            | Command::CastComparison { .. } => self.decide_polls(actor, command, now_ms, limits),
            Command::EnterHallCount { .. } | Command::SetHallHeadcount { .. } => self.decide_hall(command),
            Command::RaiseHand {}
            | Command::LowerHand {}
            | Command::AddSpeaker { .. }
            | Command::CallNext {}
            | Command::SkipSpeaker {}
            | Command::RemoveSpeaker { .. }
            | Command::MoveSpeaker { .. }
            | Command::SetQueuePolicy { .. }
            | Command::SetSpeakingLimit { .. }
            | Command::EndSpeech {} => self.decide_speakers(actor, command, now_ms, limits),
            Command::Signal { color } => self.decide_signal(actor, *color),
            Command::ShowOnDisplay { screen } => self.decide_display(*screen),
            Command::SupportIdea { .. } | Command::WithdrawSupport { .. } => self.decide_support(actor, command),
            Command::SetEligibility { .. } | Command::IssueTickets { .. } | Command::RevokeTicket { .. } => {
                self.decide_tickets(command, limits)
            }
            Command::RecordResponse { .. } | Command::PlanAction { .. } | Command::UpdateAction { .. } => {
                self.decide_follow_through(command, now_ms)
            }
        }
    }

    pub(super) fn acting_participant(&self, actor: Actor) -> Result<ParticipantId> {
        match actor {
            Actor::Participant(p) => Ok(p),
            _ => Err(DomainError::Forbidden("only participants may do this".into())),
        }
    }

    pub(super) fn require_live(&self) -> Result<()> {
        match self.status {
            ForumStatus::Live => Ok(()),
            ForumStatus::Draft => Err(DomainError::InvalidState("the forum has not started yet".into())),
            ForumStatus::Closed => Err(DomainError::InvalidState("the forum is closed".into())),
        }
    }
}

/// An aggregate asked to decide a command that is not its own: a routing
/// mistake in `decide`, reported as an error rather than a panic.
pub(super) fn misrouted(command: &Command) -> DomainError {
    DomainError::Invalid(format!("`{}` is not decided here", command.name()))
}

#[cfg(test)]
mod tests;
