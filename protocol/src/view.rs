//! Views: what a client sees of a forum, as a whole (a snapshot) and as
//! changes (updates).
//!
//! There are two audiences. Moderators see everything: pending and hidden
//! ideas, hidden tallies. Participants and displays see the public view:
//! approved and merged ideas only, tallies only once they are visible.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ActionId, ActionStatus, BallotSecrecy, Channel, Eligibility, HallCounts, IdeaId, ItemId, OptionId, Outcome,
    ParticipantId, PollId, PollMethod, QueuePolicy, ResponseKind, ResultsVisibility, SpeakerId, Tally,
};

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
    /// Who may join: `ticketed`, or absent for `open` (anyone with a join code).
    #[serde(default, skip_serializing_if = "Eligibility::is_open")]
    #[schemars(with = "Option<Eligibility>")]
    pub eligibility: Eligibility,
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
    /// How many people support this idea, per channel.
    #[serde(default)]
    pub supports: SupportCounts,
}

/// How many people support an idea, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SupportCounts {
    pub remote: u32,
    pub hall: u32,
}

/// One idea's support counts, as a `supports` frame carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdeaSupport {
    pub idea: IdeaId,
    pub remote: u32,
    pub hall: u32,
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
    /// Moderators only: the hand count in force, as entered last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_count: Option<HallCounts>,
    /// Moderators only: whether the moderator revealed this poll's hidden
    /// results (a `reveal_results` was applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed: Option<bool>,
    /// `named` when each ballot is published with its voter's name; absent: secret.
    #[serde(default, skip_serializing_if = "BallotSecrecy::is_secret")]
    #[schemars(with = "Option<BallotSecrecy>")]
    pub ballots: BallotSecrecy,
    /// What was done about the outcome since the poll closed, once the
    /// organizer recorded anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_through: Option<FollowThroughView>,
}

/// The follow-through of a decision: the responsible body's responses
/// (the last is current) and the actions planned, each with its updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FollowThroughView {
    /// Oldest first.
    pub responses: Vec<ResponseView>,
    /// In the order planned.
    pub actions: Vec<ActionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseView {
    pub at_ms: u64,
    /// The responsible body (a department, a committee).
    pub body: String,
    pub response: ResponseKind,
    pub reasons: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionView {
    pub id: ActionId,
    pub title: String,
    /// `YYYY-MM-DD`; clients mark an action overdue once it has passed
    /// while the action is neither done nor dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_date: Option<String>,
    pub planned_at_ms: u64,
    /// The latest status.
    pub status: ActionStatus,
    /// Oldest first.
    pub updates: Vec<ActionUpdateView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionUpdateView {
    pub at_ms: u64,
    pub status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How many participants joined, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantCounts {
    pub remote: u32,
    pub hall: u32,
    /// Once any ticket is issued: tickets per channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<TicketCounts>,
}

/// Participation tickets of a forum, per channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TicketCounts {
    pub remote: TicketTally,
    pub hall: TicketTally,
}

/// Tickets of one channel: `issued` counts every ticket ever issued, `used`
/// those that admitted a participant and are not revoked, `revoked` those
/// that admit no one any more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TicketTally {
    pub issued: u32,
    pub used: u32,
    pub revoked: u32,
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
    /// The speaker queue.
    #[serde(default)]
    pub speakers: SpeakerQueueView,
    /// The temperature check of the current item; absent without a current item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<TemperatureView>,
    /// Moderators only: the hall headcount against devices and hand counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_check: Option<HallCheck>,
    /// What the displays show, as the moderator chose it; absent: `auto`.
    #[serde(default, skip_serializing_if = "Screen::is_auto")]
    #[schemars(with = "Option<Screen>")]
    pub screen: Screen,
    /// The sequence number this view is current at.
    pub seq: u64,
}

/// One place in the speaker queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpeakerView {
    pub id: SpeakerId,
    /// `remote` or `hall` for a raised hand, `hall_count` for a person the moderator added.
    pub channel: Channel,
    /// The participant who raised their hand; absent for people added by name.
    /// A participant finds their own place by their id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    /// The name given at join or by the moderator; absent when none was given
    /// (clients show "participant").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Passed over with `skip_speaker`: waits at the back until called.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// The speech in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpeechView {
    pub speaker: SpeakerView,
    /// Unix time in milliseconds the speech started.
    pub started_ms: u64,
    /// With a speaking limit: when time is up. Past it, the speaker is over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// Speeches of one channel so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SpeakingStats {
    /// Speeches started (the floor given by `call_next`).
    pub speeches: u32,
    /// Total time of the speeches that ended, in milliseconds.
    pub speaking_ms: u64,
}

/// Speaking statistics per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SpeakingByChannel {
    pub remote: SpeakingStats,
    pub hall: SpeakingStats,
    pub hall_count: SpeakingStats,
}

/// The speaker queue: one queue for the hall and the remote crowd.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SpeakerQueueView {
    pub policy: QueuePolicy,
    /// Speaking time limit for each speech, in seconds; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<SpeechView>,
    /// Waiting speakers in the order `call_next` will call them under `policy`.
    pub waiting: Vec<SpeakerView>,
    pub stats: SpeakingByChannel,
}

/// How many participants signal each color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SignalCounts {
    pub green: u32,
    pub yellow: u32,
    pub red: u32,
}

/// The temperature check of one agenda item: the latest signal of each participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemperatureView {
    pub item: ItemId,
    pub total: SignalCounts,
    pub remote: SignalCounts,
    pub hall: SignalCounts,
}

/// One poll's hall people against the headcount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollHallCheck {
    pub poll: PollId,
    /// Ballots cast from devices that joined with the hall code.
    pub hall_ballots: u32,
    /// People in the poll's hall count.
    pub hand_counted: u32,
    /// `hall_ballots + hand_counted`.
    pub total: u32,
    /// `total` is more than the headcount: someone was probably counted twice.
    pub exceeds: bool,
}

/// The hall headcount against what was counted (moderators only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HallCheck {
    /// As set with `set_hall_headcount`; absent until then (nothing exceeds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headcount: Option<u32>,
    /// Devices that joined with the hall code.
    pub hall_devices: u32,
    /// In a ticketed forum: hall tickets in use (each admitted one device in the hall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_tickets_used: Option<u32>,
    /// Every poll that is open or closed, in poll order.
    pub polls: Vec<PollHallCheck>,
    /// Some poll's hall total is above the headcount.
    pub exceeds: bool,
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
    Poll { poll: Box<PollView> },
    /// Someone joined.
    Participants { participants: ParticipantCounts },
    /// The speaker queue changed: the whole queue.
    Speakers { speakers: SpeakerQueueView },
    /// Moderators only: a hand count was entered or corrected. The tally
    /// follows in a `tally` frame.
    HallCount { poll: PollId, counts: HallCounts, hall_check: HallCheck },
    /// Moderators only: the headcount was set, or a hall device voted.
    HallCheck { hall_check: HallCheck },
    /// The moderator chose what the displays show.
    Screen { screen: Screen },
}

/// What the displays (projectors) show, tagged by `kind`, as the moderator
/// chose it with `show_on_display`. A closed forum's displays show the end
/// screen whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Screen {
    /// The current item's open polls; else its latest closed poll whose
    /// results are visible; else its ideas wall; without a current item,
    /// the join slide.
    #[default]
    Auto,
    /// One poll, live while it is open (its final result once closed).
    Poll { poll: PollId },
    /// A closed poll's final result. For an instant-runoff poll, `step` is how
    /// many rounds are revealed (absent: all of them); the moderator advances it.
    Result {
        poll: PollId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<u32>,
    },
    /// The ideas wall of the current item.
    Ideas,
    /// The speaker queue.
    Speakers,
    /// A full-screen join slide: QR code, address and join code.
    Join,
    /// Nothing: a pause.
    Blank,
}

impl Screen {
    /// The default: the display picks what to show from the current item.
    pub fn is_auto(&self) -> bool {
        *self == Screen::Auto
    }
}
