//! The forum state, and `apply`, which routes each event to the aggregate it changes.
//!
//! `apply` is total: it trusts that an event was validated when it was
//! decided, and quietly ignores references to things that do not exist
//! rather than panicking, so that replay can never crash the server.
//!
//! Each aggregate (`agenda`, `ideas`, `polls`, `participants`, `hall`,
//! `speakers`, `signals`, `display`, `lifecycle`) holds its own state changes beside its
//! decisions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use madang_protocol::{Eligibility, ForumStatus, IdeaId, ItemId, ParticipantId, PollId, Screen, SignalColor};
use serde::{Deserialize, Serialize};

use super::agenda::Item;
use super::event::{Aggregate, Event};
use super::follow_through::FollowThrough;
use super::ideas::Idea;
use super::participants::Participant;
use super::polls::Poll;
use super::receipts;
use super::speakers::SpeakerQueue;
use super::tickets::Tickets;

/// A forum: everything replay rebuilds. Serializable so that a snapshot can
/// stand in for the events before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forum {
    pub id: String,
    pub title: String,
    pub language: String,
    pub status: ForumStatus,
    pub premoderation: bool,
    pub remote_code: String,
    pub hall_code: String,
    pub moderator_token_hash: String,
    pub display_token_hash: String,
    /// What receipts are computed with (`receipts`); empty only in a snapshot
    /// written before receipts existed, which is never used (see `hub::state`).
    #[serde(default)]
    pub receipt_key: String,
    /// Item ids in agenda order.
    pub agenda: Vec<ItemId>,
    pub items: BTreeMap<ItemId, Item>,
    pub active_item: Option<ItemId>,
    pub ideas: BTreeMap<IdeaId, Idea>,
    pub polls: BTreeMap<PollId, Poll>,
    pub participants: BTreeMap<ParticipantId, Participant>,
    pub participant_by_token: HashMap<String, ParticipantId>,
    /// People in the hall, as the moderator counted them.
    #[serde(default)]
    pub hall_headcount: Option<u32>,
    #[serde(default)]
    pub speakers: SpeakerQueue,
    /// Per item, each participant's latest temperature signal.
    #[serde(default)]
    pub signals: BTreeMap<ItemId, BTreeMap<ParticipantId, SignalColor>>,
    /// What the displays show, as the moderator chose it.
    #[serde(default)]
    pub screen: Screen,
    /// Per idea, the participants who support it.
    #[serde(default)]
    pub supports: BTreeMap<IdeaId, BTreeSet<ParticipantId>>,
    /// Who may join.
    #[serde(default)]
    pub eligibility: Eligibility,
    /// Participation tickets issued so far.
    #[serde(default)]
    pub tickets: Tickets,
    /// What was done about each decision since.
    #[serde(default)]
    pub follow_through: FollowThrough,
    pub(super) next_item: u32,
    pub(super) next_idea: u32,
    pub(super) next_poll: u32,
}

impl Forum {
    /// The forum a `ForumCreated` event describes; `None` for any other event.
    pub fn from_created(event: &Event) -> Option<Forum> {
        let Event::ForumCreated {
            id,
            title,
            language,
            remote_code,
            hall_code,
            moderator_token_hash,
            display_token_hash,
            eligibility,
            receipt_key,
        } = event
        else {
            return None;
        };
        Some(Forum {
            id: id.clone(),
            title: title.clone(),
            language: language.clone(),
            status: ForumStatus::Draft,
            premoderation: false,
            remote_code: remote_code.clone(),
            hall_code: hall_code.clone(),
            moderator_token_hash: moderator_token_hash.clone(),
            display_token_hash: display_token_hash.clone(),
            receipt_key: receipt_key
                .clone()
                .unwrap_or_else(|| receipts::legacy_key(moderator_token_hash, display_token_hash)),
            agenda: Vec::new(),
            items: BTreeMap::new(),
            active_item: None,
            ideas: BTreeMap::new(),
            polls: BTreeMap::new(),
            participants: BTreeMap::new(),
            participant_by_token: HashMap::new(),
            hall_headcount: None,
            speakers: SpeakerQueue::default(),
            signals: BTreeMap::new(),
            screen: Screen::Auto,
            supports: BTreeMap::new(),
            eligibility: *eligibility,
            tickets: Tickets::default(),
            follow_through: FollowThrough::default(),
            next_item: 1,
            next_idea: 1,
            next_poll: 1,
        })
    }

    pub(super) fn next_item_id(&self) -> ItemId {
        ItemId(self.next_item)
    }

    pub(super) fn next_idea_id(&self) -> IdeaId {
        IdeaId(self.next_idea)
    }

    pub(super) fn next_poll_id(&self) -> PollId {
        PollId(self.next_poll)
    }

    /// Change the forum by one event: the event's aggregate applies it.
    pub fn apply(&mut self, event: &Event) {
        match event.aggregate() {
            Aggregate::Lifecycle => self.apply_lifecycle(event),
            Aggregate::Agenda => self.apply_agenda(event),
            Aggregate::Participants => self.apply_participants(event),
            Aggregate::Ideas => self.apply_ideas(event),
            Aggregate::Polls => self.apply_polls(event),
            Aggregate::Hall => self.apply_hall(event),
            Aggregate::Speakers => self.apply_speakers(event),
            Aggregate::Signals => self.apply_signal(event),
            Aggregate::Display => self.apply_display(event),
            Aggregate::Supports => self.apply_support(event),
            Aggregate::FollowThrough => self.apply_follow_through(event),
        }
    }
}

#[cfg(test)]
mod tests;
