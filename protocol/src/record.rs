//! The public record of a forum (`madang.record.v1`): JSON lines, each one
//! object, chained by the SHA-256 of the line before it. `RECORD.md` beside
//! this crate is its specification; `schema/record.schema.json` describes one
//! line and `examples/record/` holds a whole small forum's record.
//!
//! The record is derived from the forum's private log: it carries what was
//! decided and how (agenda, public ideas, polls, every ballot under a
//! receipt, hand counts, outcomes) and nothing that names or identifies a
//! person (no names, participant ids, tokens or their hashes, join codes).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ActionId, ActionStatus, Ballot, BallotSecrecy, Channel, Eligibility, HallCounts, IdeaId, ItemId, OptionId, Outcome,
    PollId, PollMethod, ResponseKind, ResultsVisibility,
};

/// The `format` of the first line of every record of this version.
pub const RECORD_FORMAT: &str = "madang.record.v1";

/// The `prev` of a record's first line: 64 zeros.
pub const RECORD_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every line `type` of `madang.record.v1` this version writes ([`RecordBody`]);
/// a verifier chains lines of other types but otherwise skips them (RECORD.md
/// §8). A test keeps it equal to the schema's line types.
pub const RECORD_LINE_TYPES: &[&str] = &[
    "forum",
    "forum_started",
    "forum_closed",
    "item_added",
    "item_edited",
    "item_moved",
    "item_removed",
    "item_activated",
    "item_completed",
    "idea_published",
    "idea_hidden",
    "idea_merged",
    "headcount",
    "poll_opened",
    "poll_ballots",
    "poll_outcome",
    "eligibility",
    "tickets_issued",
    "ticket_revoked",
    "response_recorded",
    "action_planned",
    "action_updated",
];

/// The record's head at one moment, as a closed poll's outcome carries it:
/// the hall can compare the fingerprint on the projector with the one in
/// the published record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordStamp {
    /// Lowercase hex SHA-256 of the record line just before the outcome's
    /// line (the poll's `poll_ballots` line).
    pub head: String,
    /// The first 60 bits of `head` in Crockford base32, as `XXXX-XXXX-XXXX`.
    pub fingerprint: String,
}

/// One line of the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordLine {
    /// The line's number, from 1.
    pub n: u64,
    /// Lowercase hex SHA-256 of the exact bytes of line `n - 1` (without its
    /// newline); 64 zeros on line 1.
    pub prev: String,
    /// Unix time in milliseconds of the log entry this line comes from.
    pub at_ms: u64,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// What a line says, tagged by `type`. Verifiers skip types they do not
/// know (still chaining them) and ignore fields they do not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordBody {
    /// Always line 1.
    Forum {
        /// `madang.record.v1`.
        format: String,
        /// The forum's public id (as in its URLs).
        forum: String,
        title: String,
        /// A BCP 47 language tag.
        language: String,
        /// `ticketed` when only ticket holders may join; absent: `open`.
        #[serde(default, skip_serializing_if = "Eligibility::is_open")]
        #[schemars(with = "Option<Eligibility>")]
        eligibility: Eligibility,
    },
    /// The forum went live: polls may open.
    ForumStarted {},
    /// The forum closed: nothing changes after this.
    ForumClosed {},
    ItemAdded {
        item: ItemId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    /// Fields given changed; absent ones stayed.
    ItemEdited {
        item: ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    /// The item moved to `position` (0-based) in the agenda.
    ItemMoved {
        item: ItemId,
        position: u32,
    },
    ItemRemoved {
        item: ItemId,
    },
    /// The item became the current one; `completed` is the item that was
    /// current until then and is now done.
    ItemActivated {
        item: ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        completed: Option<ItemId>,
    },
    ItemCompleted {
        item: ItemId,
    },
    /// An idea became public: submitted without premoderation, entered by
    /// the moderator, or approved (again, after it was hidden).
    IdeaPublished {
        idea: IdeaId,
        item: ItemId,
        text: String,
        /// The channel of the participant who submitted it; absent for the moderator's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<Channel>,
    },
    /// A public idea was hidden.
    IdeaHidden {
        idea: IdeaId,
    },
    /// `idea` was merged into `into`: ballots for `idea`'s option count for `into`'s.
    IdeaMerged {
        idea: IdeaId,
        into: IdeaId,
    },
    /// The moderator counted the people in the hall.
    Headcount {
        count: u32,
    },
    /// A poll opened, with its whole definition.
    PollOpened {
        poll: PollId,
        item: ItemId,
        title: String,
        method: PollMethod,
        /// Empty for yes/no polls.
        options: Vec<RecordOption>,
        results: ResultsVisibility,
        /// `named`: its ballots are published with their voters' names; absent: secret.
        #[serde(default, skip_serializing_if = "BallotSecrecy::is_secret")]
        #[schemars(with = "Option<BallotSecrecy>")]
        ballots: BallotSecrecy,
    },
    /// At a poll's close: everything its count used.
    PollBallots(Box<PollBallots>),
    /// At a poll's close, right after its `poll_ballots`: the outcome with
    /// the full working. `outcome.record.head` is the hash of the line before.
    PollOutcome {
        poll: PollId,
        outcome: Box<Outcome>,
    },
    /// Who may join was chosen (before the forum started): `open` or `ticketed`.
    Eligibility {
        eligibility: Eligibility,
    },
    /// Participation tickets were issued for a channel (numbers `first` on).
    TicketsIssued {
        channel: Channel,
        first: u32,
        count: u32,
    },
    /// A ticket was revoked; the ballots its holder had cast in the polls
    /// then open were withdrawn (those polls' `poll_ballots` lack them).
    /// Which ticket is not said: its number could name its holder.
    TicketRevoked {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        withdrawn: Vec<PollId>,
    },
    /// The responsible body's response to a decided poll.
    ResponseRecorded {
        poll: PollId,
        body: String,
        response: ResponseKind,
        reasons: String,
    },
    /// An action planned in response to a decided poll.
    ActionPlanned {
        action: ActionId,
        poll: PollId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_date: Option<String>,
    },
    /// Where a planned action stands now.
    ActionUpdated {
        action: ActionId,
        status: ActionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// One option of a poll as it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordOption {
    pub id: OptionId,
    pub label: String,
    /// The idea this option stands for, in polls over ideas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<IdeaId>,
}

/// Everything a closed poll's count used, self-contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PollBallots {
    pub poll: PollId,
    /// Every device ballot in force at the close (a replaced ballot is left
    /// out), sorted by `receipt` (byte order), so that the order tells
    /// nothing of who voted when.
    pub ballots: Vec<RecordBallot>,
    /// Every hand count entered for this poll, in order; the last one counts.
    pub hall_counts: Vec<HallCountEntry>,
    /// Who could take part at the close.
    pub participants: RecordParticipants,
    /// Options whose idea was merged, and the option each counts for at the
    /// close. Options not listed count for themselves.
    pub merged_options: Vec<MergedOption>,
}

/// One ballot of the record: a device ballot (weight 1) or one
/// participant's comparisons in a pairwise poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RecordBallot {
    Ballot {
        /// The receipt its voter was given (`XXXX-XXXX-XXXX`).
        receipt: String,
        /// `remote` or `hall`.
        channel: Channel,
        /// Always 1 for a device ballot.
        weight: u32,
        ballot: Ballot,
        /// In a named poll only: the voter's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Comparisons {
        receipt: String,
        channel: Channel,
        /// In a named poll only: the voter's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The participant's latest answer to each pair they answered, in
        /// the order they gave them (a later answer wins when a merge makes
        /// two pairs one).
        comparisons: Vec<RecordComparison>,
    },
}

impl RecordBallot {
    pub fn receipt(&self) -> &str {
        match self {
            RecordBallot::Ballot { receipt, .. } | RecordBallot::Comparisons { receipt, .. } => receipt,
        }
    }
}

/// One answer to a pair: `winner` preferred over `loser`, or with `skip`
/// "can't decide" between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordComparison {
    pub winner: OptionId,
    pub loser: OptionId,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
}

/// One hand count as the moderator entered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HallCountEntry {
    pub at_ms: u64,
    pub counts: HallCounts,
}

/// Participants at a poll's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordParticipants {
    /// Devices that joined with the remote code.
    pub remote: u32,
    /// Devices that joined with the hall code.
    pub hall: u32,
    /// People in the hall as last counted by the moderator; absent if never counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headcount: Option<u32>,
}

/// A merged option and the option it counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MergedOption {
    pub option: OptionId,
    pub counts_for: OptionId,
}
