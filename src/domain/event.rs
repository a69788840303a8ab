//! Events: the only thing the forum persists.
//!
//! An event records a decision already taken: applying it never fails and
//! never consults a clock (deadlines and outcomes are computed when the
//! command is decided and carried in the event). Replaying the same events in
//! the same order always yields the same forum.

use madang_protocol::{
    ActionId, ActionStatus, Ballot, BallotSecrecy, Channel, Eligibility, HallCounts, IdeaId, ItemId, OptionId, Outcome,
    ParticipantId, PollId, PollMethod, QueuePolicy, ResponseKind, ResultsVisibility, Screen, SignalColor, SpeakerId,
};
use serde::{Deserialize, Serialize};

/// One option of a poll as created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSpec {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<IdeaId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Always the first event of a forum. Tokens are stored as SHA-256 hashes
    /// so that a published log gives no one a credential.
    ForumCreated {
        id: String,
        title: String,
        language: String,
        remote_code: String,
        hall_code: String,
        moderator_token_hash: String,
        display_token_hash: String,
        /// Who may join; absent in forums created before eligibility existed: `open`.
        #[serde(default, skip_serializing_if = "Eligibility::is_open")]
        eligibility: Eligibility,
        /// The secret (32 bytes, hex) that receipts are computed with; never
        /// leaves the server. Absent in logs written before receipts existed
        /// (`receipts::legacy_key`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt_key: Option<String>,
    },
    ForumStarted {},
    ForumClosed {},
    PremoderationSet {
        enabled: bool,
    },
    EligibilitySet {
        eligibility: Eligibility,
    },
    /// The responsible body's response to a closed poll's outcome.
    ResponseRecorded {
        poll: PollId,
        body: String,
        response: ResponseKind,
        reasons: String,
        at_ms: u64,
    },
    /// An action planned in response to a closed poll's outcome.
    ActionPlanned {
        action: ActionId,
        poll: PollId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_date: Option<String>,
        at_ms: u64,
    },
    /// Where a planned action stands now.
    ActionUpdated {
        action: ActionId,
        status: ActionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        at_ms: u64,
    },
    /// Tickets `first`, `first + 1`, ... `first + count - 1`, all for `channel`.
    TicketsIssued {
        channel: Channel,
        first: u32,
        count: u32,
    },
    /// The ticket admits no one any more; its participant (if it admitted
    /// one) is shut out and their ballots in `withdrawn` (the polls open at
    /// the time in which they had voted) are withdrawn.
    TicketRevoked {
        ticket: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<ParticipantId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        withdrawn: Vec<PollId>,
    },
    ItemAdded {
        item: ItemId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    ItemEdited {
        item: ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    ItemMoved {
        item: ItemId,
        position: u32,
    },
    ItemRemoved {
        item: ItemId,
    },
    /// The previously active item, if any, becomes done. With `deadline_ms`,
    /// the item's time box countdown starts with it (decided at activation;
    /// absent in logs written before activation started timers).
    ItemActivated {
        item: ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_ms: Option<u64>,
    },
    ItemCompleted {
        item: ItemId,
    },
    TimerStarted {
        item: ItemId,
        deadline_ms: u64,
    },
    TimerPaused {
        item: ItemId,
        remaining_ms: u64,
    },
    TimerExtended {
        item: ItemId,
        extra_ms: u64,
    },
    ParticipantJoined {
        participant: ParticipantId,
        channel: Channel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        token_hash: String,
        /// The ticket that admitted them, in a ticketed forum.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<u32>,
    },
    IdeaSubmitted {
        idea: IdeaId,
        item: ItemId,
        text: String,
        /// Absent for ideas the moderator entered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<ParticipantId>,
        /// Whether it was visible at once (pre-moderation off, or the moderator's own).
        approved: bool,
    },
    IdeaApproved {
        idea: IdeaId,
    },
    IdeaHidden {
        idea: IdeaId,
    },
    IdeaMerged {
        idea: IdeaId,
        into: IdeaId,
    },
    PollCreated {
        poll: PollId,
        item: ItemId,
        title: String,
        method: PollMethod,
        /// Option ids are 1, 2, ... in this order.
        options: Vec<OptionSpec>,
        results: ResultsVisibility,
        /// `named`: each ballot is published with its voter's name.
        #[serde(default, skip_serializing_if = "BallotSecrecy::is_secret")]
        secrecy: BallotSecrecy,
    },
    PollOpened {
        poll: PollId,
    },
    /// Carries the outcome computed at close, so the record is self-contained.
    PollClosed {
        poll: PollId,
        outcome: Box<Outcome>,
    },
    ResultsRevealed {
        poll: PollId,
    },
    /// Replaces the participant's earlier ballot in this poll, if any.
    BallotCast {
        poll: PollId,
        participant: ParticipantId,
        ballot: Ballot,
        /// The ballot's receipt (decided with it); absent in older logs, where it is recomputed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<String>,
    },
    /// A pairwise poll's next pair for a participant, with the pairs they had
    /// left (this one included), as decided by `pairwise::next_pair`.
    PairOffered {
        poll: PollId,
        participant: ParticipantId,
        pair: [OptionId; 2],
        pairs_left: u32,
    },
    /// A participant's answer to one pair; replaces their earlier answer to the same pair.
    ComparisonCast {
        poll: PollId,
        participant: ParticipantId,
        winner: OptionId,
        loser: OptionId,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        skip: bool,
        /// The participant's one receipt in this poll; absent in older logs, where it is recomputed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<String>,
    },
    /// The moderator's hand count for this poll; replaces the earlier entry
    /// (which stays in the log before it). Attributed to the moderator by the
    /// journal entry's request.
    HallCountEntered {
        poll: PollId,
        counts: HallCounts,
    },
    HallHeadcountSet {
        count: u32,
    },
    /// A participant raised their hand; `channel` is theirs, carried so the
    /// record stands alone.
    HandRaised {
        speaker: SpeakerId,
        participant: ParticipantId,
        channel: Channel,
    },
    HandLowered {
        speaker: SpeakerId,
    },
    /// The moderator added a hall person without a device by name.
    SpeakerAdded {
        speaker: SpeakerId,
        name: String,
    },
    /// The current speech (if any) ends at `at_ms` and `speaker` starts then.
    SpeakerCalled {
        speaker: SpeakerId,
        at_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_ms: Option<u64>,
    },
    SpeakerSkipped {
        speaker: SpeakerId,
    },
    SpeakerRemoved {
        speaker: SpeakerId,
    },
    SpeakerMoved {
        speaker: SpeakerId,
        position: u32,
    },
    QueuePolicySet {
        policy: QueuePolicy,
    },
    SpeakingLimitSet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secs: Option<u32>,
    },
    SpeechEnded {
        at_ms: u64,
    },
    /// A participant supports an idea (at most once per idea).
    IdeaSupported {
        idea: IdeaId,
        participant: ParticipantId,
    },
    /// A participant took back their support of an idea.
    SupportWithdrawn {
        idea: IdeaId,
        participant: ParticipantId,
    },
    /// Replaces the participant's earlier signal on this item.
    SignalSet {
        item: ItemId,
        participant: ParticipantId,
        color: SignalColor,
    },
    /// The moderator chose what the displays show.
    ScreenShown {
        screen: Screen,
    },
}

/// The part of the forum an event changes. Each aggregate's module holds
/// both its decisions and how its events change the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Lifecycle,
    Agenda,
    Participants,
    Ideas,
    Polls,
    Hall,
    Speakers,
    Signals,
    Display,
    Supports,
    FollowThrough,
}

impl Event {
    /// Which aggregate this event belongs to: the one table that routes
    /// events, so that a new event is placed once.
    pub fn aggregate(&self) -> Aggregate {
        match self {
            Event::ForumCreated { .. }
            | Event::ForumStarted {}
            | Event::ForumClosed {}
            | Event::PremoderationSet { .. }
            | Event::EligibilitySet { .. } => Aggregate::Lifecycle,
            Event::ItemAdded { .. }
            | Event::ItemEdited { .. }
            | Event::ItemMoved { .. }
            | Event::ItemRemoved { .. }
            | Event::ItemActivated { .. }
            | Event::ItemCompleted { .. }
            | Event::TimerStarted { .. }
            | Event::TimerPaused { .. }
            | Event::TimerExtended { .. } => Aggregate::Agenda,
            Event::ParticipantJoined { .. } | Event::TicketsIssued { .. } | Event::TicketRevoked { .. } => {
                Aggregate::Participants
            }
            Event::IdeaSubmitted { .. }
            | Event::IdeaApproved { .. }
            | Event::IdeaHidden { .. }
            | Event::IdeaMerged { .. } => Aggregate::Ideas,
            Event::PollCreated { .. }
            | Event::PollOpened { .. }
            | Event::PollClosed { .. }
            | Event::ResultsRevealed { .. }
            | Event::BallotCast { .. }
            | Event::PairOffered { .. }
            | Event::ComparisonCast { .. } => Aggregate::Polls,
            Event::HallCountEntered { .. } | Event::HallHeadcountSet { .. } => Aggregate::Hall,
            Event::HandRaised { .. }
            | Event::HandLowered { .. }
            | Event::SpeakerAdded { .. }
            | Event::SpeakerCalled { .. }
            | Event::SpeakerSkipped { .. }
            | Event::SpeakerRemoved { .. }
            | Event::SpeakerMoved { .. }
            | Event::QueuePolicySet { .. }
            | Event::SpeakingLimitSet { .. }
            | Event::SpeechEnded { .. } => Aggregate::Speakers,
            Event::SignalSet { .. } => Aggregate::Signals,
            Event::ScreenShown { .. } => Aggregate::Display,
            Event::IdeaSupported { .. } | Event::SupportWithdrawn { .. } => Aggregate::Supports,
            Event::ResponseRecorded { .. } | Event::ActionPlanned { .. } | Event::ActionUpdated { .. } => {
                Aggregate::FollowThrough
            }
        }
    }

    /// Whether the public audience (participants, displays) is shown this
    /// event at all. Ballots and comparisons are secret; joins are shown as counts.
    pub fn is_ballot(&self) -> bool {
        matches!(self, Event::BallotCast { .. } | Event::PairOffered { .. } | Event::ComparisonCast { .. })
    }
}
