//! Views: what a client sees of a forum, as a whole (a snapshot) and as
//! changes (updates).
//!
//! There are two audiences. Moderators see everything: pending and hidden
//! ideas, hidden tallies. Participants and displays see the public view:
//! approved and merged ideas only, tallies only once they are visible.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Channel, IdeaId, ItemId, OptionId, Outcome, PollId, PollMethod, ResultsVisibility, Tally};

/// A forum's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForumStatus {
    Draft,
    Live,
    Closed,
}

/// The forum's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForumHeader {
    pub id: String,
    pub title: String,
    /// A BCP 47 language tag, such as `ko` or `en`.
    pub language: String,
    pub status: ForumStatus,
    pub premoderation: bool,
}

/// Where an agenda item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    Active,
    Done,
}

/// An item's timer, given as a deadline so that clients count down themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimerView {
    pub running: bool,
    /// When running: the unix time in milliseconds at which time is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// When paused or not started: milliseconds left (may be 0).
    pub remaining_ms: u64,
}

/// An agenda item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemView {
    pub id: ItemId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebox_secs: Option<u32>,
    pub state: ItemState,
    /// Present once the timer was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerView>,
}

/// Where an idea stands in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdeaStatus {
    Pending,
    Approved,
    Hidden,
    Merged,
}

/// An idea.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdeaView {
    pub id: IdeaId,
    pub item: ItemId,
    pub text: String,
    /// The author's display name, if they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Absent for ideas the moderator entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    pub status: IdeaStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<IdeaId>,
}

/// Where a poll stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    Draft,
    Open,
    Closed,
}

/// One option of a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollOptionView {
    pub id: OptionId,
    pub label: String,
    /// The idea this option stands for, in polls over ideas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<IdeaId>,
    /// Set when this option's idea was merged into another option's idea:
    /// its ballots count for that option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<OptionId>,
}

/// A poll. The tally is sent separately in `tally` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PollView {
    pub id: PollId,
    pub item: ItemId,
    pub title: String,
    pub method: PollMethod,
    pub options: Vec<PollOptionView>,
    pub status: PollStatus,
    pub results: ResultsVisibility,
    /// Whether this audience may see the tally now.
    pub results_visible: bool,
    /// Present once the poll is closed and its results are visible to this audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// How many participants joined, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantCounts {
    pub remote: u32,
    pub hall: u32,
}

/// The whole forum as one audience sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ForumView {
    pub forum: ForumHeader,
    /// In agenda order.
    pub agenda: Vec<ItemView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_item: Option<ItemId>,
    /// In submission order.
    pub ideas: Vec<IdeaView>,
    pub polls: Vec<PollView>,
    /// Current tallies of polls whose results this audience may see.
    pub tallies: Vec<Tally>,
    pub participants: ParticipantCounts,
    /// The sequence number this view is current at.
    pub seq: u64,
}

/// One change to the forum, tagged by `kind`. Each carries the new state of
/// what changed, so a client replaces rather than recomputes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Update {
    /// The forum's own fields changed (status, premoderation).
    Forum { forum: ForumHeader },
    /// The agenda changed: the whole agenda, in order.
    Agenda {
        agenda: Vec<ItemView>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        active_item: Option<ItemId>,
    },
    /// An idea was added or changed.
    Idea { idea: IdeaView },
    /// An idea is no longer visible to this audience.
    IdeaRemoved { idea: IdeaId },
    /// A poll was created or changed.
    Poll { poll: PollView },
    /// Someone joined.
    Participants { participants: ParticipantCounts },
}
