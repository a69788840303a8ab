//! How large a forum may grow: every count a person can raise with commands
//! or joins is capped here, in one place.
//!
//! Why: a forum's views are sent whole (a welcome's snapshot, the agenda and
//! the speaker queue with each of their events), so one person who could
//! grow a list without end could make every frame too large to send and lock
//! everyone else out. With these caps and the text limits, the largest frame
//! has a bound (`hub::frames` tests it); the WebSocket write buffer is sized
//! above it.
//!
//! A refusal names its rule (`Limits::refuse`), so pages can say which cap
//! was reached.

use super::DomainError;

/// The caps of one forum. The defaults suit a large citizen forum; an
/// operator can change them through `HubConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Ideas one participant may submit to a forum (hidden and merged ones count too).
    pub ideas_per_participant: usize,
    /// Ideas waiting for approval at once, under pre-moderation.
    pub pending_ideas: usize,
    /// Ideas in a forum, of every status.
    pub ideas: usize,
    /// Items on the agenda at once.
    pub agenda_items: usize,
    /// Polls in a forum.
    pub polls: usize,
    /// Options of all the polls of a forum together: a poll's view and its
    /// ranked outcome grow with its options (the outcome with their square).
    pub poll_options: usize,
    /// Participants who may join a forum.
    pub participants: usize,
    /// People waiting to speak at once.
    pub speaker_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ideas_per_participant: 20,
            pending_ideas: 200,
            ideas: 500,
            agenda_items: 100,
            polls: 100,
            poll_options: 500,
            participants: 20_000,
            speaker_queue: 1_000,
        }
    }
}

/// The rule names a refusal carries (`error.rule` on the wire).
pub mod rule {
    pub const IDEAS_PER_PARTICIPANT: &str = "limit.ideas_per_participant";
    pub const PENDING_IDEAS: &str = "limit.pending_ideas";
    pub const IDEAS: &str = "limit.ideas";
    pub const AGENDA_ITEMS: &str = "limit.agenda_items";
    pub const POLLS: &str = "limit.polls";
    pub const POLL_OPTIONS: &str = "limit.poll_options";
    pub const PARTICIPANTS: &str = "limit.participants";
    pub const TICKETS: &str = "limit.tickets";
    pub const SPEAKER_QUEUE: &str = "limit.speaker_queue";
}

impl Limits {
    /// Room for one more beside `count`; otherwise the refusal for `rule`.
    pub(super) fn check(count: usize, cap: usize, rule: &'static str, what: &str) -> Result<(), DomainError> {
        Self::check_total(count.saturating_add(1), cap, rule, what)
    }

    /// `Ok` when `total` is within `cap`; otherwise the refusal for `rule`.
    pub(super) fn check_total(total: usize, cap: usize, rule: &'static str, what: &str) -> Result<(), DomainError> {
        if total <= cap {
            return Ok(());
        }
        Err(DomainError::Limit { rule, message: format!("{what}: at most {cap}") })
    }
}
