//! Commands: what a moderator or participant asks the forum to do.
//!
//! A command is sent inside a client frame `{"type": "<command>", "id": "<request id>", ...}`.
//! Every command is answered with an `ack` (carrying the sequence number of
//! the event it caused) or an `error`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ActionId, Channel, Eligibility, IdeaId, ItemId, OptionId, PollId, Screen, SpeakerId};

/// A command, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Moderator: draft → live. Participants can vote only in a live forum.
    StartForum {},
    /// Moderator: live → closed. Nothing changes after this.
    CloseForum {},
    /// Moderator: when on, new ideas wait for approval; when off, they are approved at once.
    SetPremoderation { enabled: bool },
    /// Moderator: append an agenda item.
    AddItem {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    /// Moderator: change a pending item. Absent fields stay as they are.
    EditItem {
        item: ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timebox_secs: Option<u32>,
    },
    /// Moderator: move a pending item to `position` (0-based) in the agenda.
    MoveItem { item: ItemId, position: u32 },
    /// Moderator: remove a pending item.
    RemoveItem { item: ItemId },
    /// Moderator: make an item the current one; the previous current item is marked done.
    ActivateItem { item: ItemId },
    /// Moderator: mark an item done.
    CompleteItem { item: ItemId },
    /// Moderator: start (or resume) the item's timer from its time box or what was left.
    StartTimer { item: ItemId },
    /// Moderator: pause the item's timer, keeping what is left.
    PauseTimer { item: ItemId },
    /// Moderator: add seconds to the item's timer.
    ExtendTimer { item: ItemId, secs: u32 },
    /// Participant or moderator: put an idea forward under the current item.
    SubmitIdea { text: String },
    /// Participant: support an approved idea; one support per person per idea.
    SupportIdea { idea: IdeaId },
    /// Participant: take back one's support of an idea.
    WithdrawSupport { idea: IdeaId },
    /// Moderator: make a pending or hidden idea visible.
    ApproveIdea { idea: IdeaId },
    /// Moderator: hide an idea from the public.
    HideIdea { idea: IdeaId },
    /// Moderator: merge `idea` into `into`; ballots for `idea` count for `into`.
    MergeIdea { idea: IdeaId, into: IdeaId },
    /// Moderator: create a poll (in draft) on an item.
    CreatePoll {
        /// Defaults to the current item.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<ItemId>,
        title: String,
        method: PollMethod,
        options: PollOptionsSpec,
        #[serde(default, deserialize_with = "crate::null_as_default")]
        #[schemars(with = "Option<ResultsVisibility>")]
        results: ResultsVisibility,
        /// `secret` (the default) or `named`: a named poll publishes each
        /// ballot with its voter's name (committees, not the public).
        #[serde(default, skip_serializing_if = "BallotSecrecy::is_secret")]
        #[schemars(with = "Option<BallotSecrecy>")]
        ballots: BallotSecrecy,
    },
    /// Moderator: open a draft poll for ballots. The forum must be live.
    OpenPoll { poll: PollId },
    /// Moderator: close an open poll; its outcome is recorded with the full tally.
    ClosePoll { poll: PollId },
    /// Moderator: show the results of a poll whose results were hidden.
    RevealResults { poll: PollId },
    /// Participant: cast or replace one's ballot in an open poll.
    CastBallot { poll: PollId, ballot: Ballot },
    /// Participant: ask for one's next pair of options in an open pairwise
    /// poll. The `ack` carries the pair (`pair`) and how many pairs are left.
    NextPair { poll: PollId },
    /// Participant: answer one pair of a pairwise poll: `winner` was preferred
    /// over `loser`. With `skip: true` the participant could not decide: the
    /// pair counts as answered but as nobody's win. Answering the same pair
    /// again replaces the earlier answer.
    CastComparison {
        poll: PollId,
        winner: OptionId,
        loser: OptionId,
        #[serde(default, skip_serializing_if = "std::ops::Not::not", deserialize_with = "crate::null_as_default")]
        #[schemars(with = "Option<bool>")]
        skip: bool,
    },
    /// Moderator: enter the hand count of hall people without a device for an
    /// open poll. A later entry for the same poll replaces (corrects) the
    /// earlier one; both stay in the log. Counts are signed on the wire so
    /// that a negative number is refused with a clear `invalid` error.
    EnterHallCount { poll: PollId, counts: HallCounts },
    /// Moderator: how many people are in the hall (devices or not), to check
    /// hand counts against.
    SetHallHeadcount { count: i64 },
    /// Participant: raise one's hand to speak (join the speaker queue).
    RaiseHand {},
    /// Participant: lower one's raised hand (leave the speaker queue).
    LowerHand {},
    /// Moderator: add a person in the hall without a device to the speaker queue by name.
    AddSpeaker { name: String },
    /// Moderator: end the current speech (if any) and give the floor to the
    /// next speaker under the queue's policy.
    CallNext {},
    /// Moderator: pass over the next speaker: they wait at the back of the queue.
    SkipSpeaker {},
    /// Moderator: take a waiting speaker out of the queue.
    RemoveSpeaker { speaker: SpeakerId },
    /// Moderator: move a waiting speaker to `position` (0-based) in the arrival order.
    MoveSpeaker { speaker: SpeakerId, position: u32 },
    /// Moderator: choose who `call_next` picks.
    SetQueuePolicy { policy: QueuePolicy },
    /// Moderator: the speaking time limit from the next speech on; absent: no limit.
    SetSpeakingLimit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secs: Option<u32>,
    },
    /// Moderator: end the current speech.
    EndSpeech {},
    /// Participant: signal green, yellow or red on the current item; replaces one's earlier signal.
    Signal { color: SignalColor },
    /// Moderator: choose what the displays (projectors) show; it stays until
    /// the next `show_on_display`. Persisted, so a display that restarts shows it again.
    ShowOnDisplay { screen: Screen },
    /// Moderator, before the forum starts: who may join (`open` or `ticketed`).
    SetEligibility { eligibility: Eligibility },
    /// Organizer (moderator), once a poll is closed, even after the forum
    /// closed: the responsible body's response to its outcome. A later
    /// response replaces the earlier as the current one; both stay in the record.
    RecordResponse { poll: PollId, body: String, response: ResponseKind, reasons: String },
    /// Organizer (moderator), once a poll is closed: an action planned in
    /// response, with an optional target date (`YYYY-MM-DD`).
    PlanAction {
        poll: PollId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_date: Option<String>,
    },
    /// Organizer (moderator): where a planned action stands now, with a
    /// note (required when it is dropped: the reason).
    UpdateAction {
        action: ActionId,
        status: ActionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Moderator: issue `count` new participation tickets for `channel`
    /// (`remote` or `hall`), numbered on from the last one issued. Their codes
    /// are read with `GET /api/forums/{id}/tickets`.
    IssueTickets { channel: Channel, count: u32 },
    /// Moderator: revoke a ticket (a lost card): it admits no one any more,
    /// its holder's device is shut out, and their ballots in open polls are
    /// withdrawn. Issue a new ticket as the replacement.
    RevokeTicket { ticket: u32 },
}

impl Command {
    /// The `type` tag of this command, as it appears on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::StartForum {} => "start_forum",
            Command::CloseForum {} => "close_forum",
            Command::SetPremoderation { .. } => "set_premoderation",
            Command::AddItem { .. } => "add_item",
            Command::EditItem { .. } => "edit_item",
            Command::MoveItem { .. } => "move_item",
            Command::RemoveItem { .. } => "remove_item",
            Command::ActivateItem { .. } => "activate_item",
            Command::CompleteItem { .. } => "complete_item",
            Command::StartTimer { .. } => "start_timer",
            Command::PauseTimer { .. } => "pause_timer",
            Command::ExtendTimer { .. } => "extend_timer",
            Command::SubmitIdea { .. } => "submit_idea",
            Command::SupportIdea { .. } => "support_idea",
            Command::WithdrawSupport { .. } => "withdraw_support",
            Command::ApproveIdea { .. } => "approve_idea",
            Command::HideIdea { .. } => "hide_idea",
            Command::MergeIdea { .. } => "merge_idea",
            Command::CreatePoll { .. } => "create_poll",
            Command::OpenPoll { .. } => "open_poll",
            Command::ClosePoll { .. } => "close_poll",
            Command::RevealResults { .. } => "reveal_results",
            Command::CastBallot { .. } => "cast_ballot",
            Command::NextPair { .. } => "next_pair",
            Command::CastComparison { .. } => "cast_comparison",
            Command::EnterHallCount { .. } => "enter_hall_count",
            Command::SetHallHeadcount { .. } => "set_hall_headcount",
            Command::RaiseHand {} => "raise_hand",
            Command::LowerHand {} => "lower_hand",
            Command::AddSpeaker { .. } => "add_speaker",
            Command::CallNext {} => "call_next",
            Command::SkipSpeaker {} => "skip_speaker",
            Command::RemoveSpeaker { .. } => "remove_speaker",
            Command::MoveSpeaker { .. } => "move_speaker",
            Command::SetQueuePolicy { .. } => "set_queue_policy",
            Command::SetSpeakingLimit { .. } => "set_speaking_limit",
            Command::EndSpeech {} => "end_speech",
            Command::Signal { .. } => "signal",
            Command::ShowOnDisplay { .. } => "show_on_display",
            Command::RecordResponse { .. } => "record_response",
            Command::PlanAction { .. } => "plan_action",
            Command::UpdateAction { .. } => "update_action",
            Command::SetEligibility { .. } => "set_eligibility",
            Command::IssueTickets { .. } => "issue_tickets",
            Command::RevokeTicket { .. } => "revoke_ticket",
        }
    }
}

/// Every command `type`, for telling an unknown message from a malformed one.
pub const COMMAND_NAMES: &[&str] = &[
    "start_forum",
    "close_forum",
    "set_premoderation",
    "add_item",
    "edit_item",
    "move_item",
    "remove_item",
    "activate_item",
    "complete_item",
    "start_timer",
    "pause_timer",
    "extend_timer",
    "submit_idea",
    "approve_idea",
    "hide_idea",
    "merge_idea",
    "create_poll",
    "open_poll",
    "close_poll",
    "reveal_results",
    "cast_ballot",
    "next_pair",
    "cast_comparison",
    "enter_hall_count",
    "set_hall_headcount",
    "raise_hand",
    "lower_hand",
    "add_speaker",
    "call_next",
    "skip_speaker",
    "remove_speaker",
    "move_speaker",
    "set_queue_policy",
    "set_speaking_limit",
    "end_speech",
    "signal",
    "show_on_display",
    "support_idea",
    "withdraw_support",
    "set_eligibility",
    "issue_tickets",
    "revoke_ticket",
    "record_response",
    "plan_action",
    "update_action",
];

/// How a yes/no/abstain poll passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MajorityRule {
    /// More yes than no; abstentions do not count.
    Simple,
    /// More yes than half of all ballots, abstentions included.
    Absolute,
    /// At least two thirds of yes and no ballots are yes; abstentions do not count.
    TwoThirds,
}

/// How a ranked poll decides. Every ranked tally also carries the other methods' results (`Tally.ranked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankedTally {
    /// Borda count: with n options, rank 1 scores n-1 points, rank 2 n-2, ...; unranked options score 0.
    #[default]
    Borda,
    /// Instant-runoff: the options with the fewest first choices among the continuing ones are
    /// eliminated round by round (all of them together when several share the fewest).
    InstantRunoff,
    /// Schulze: strongest paths over the pairwise margins; a Condorcet winner always wins.
    Schulze,
}

/// The voting method of a poll, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PollMethod {
    /// Yes, no or abstain, with a majority rule. The poll has no options.
    YesNo { rule: MajorityRule },
    /// Approve between 1 and `max_choices` options.
    Approval { max_choices: u32 },
    /// Spread up to `budget` dots, at most `max_per_option` on one option.
    Dots { budget: u32, max_per_option: u32 },
    /// Score each option from 0 to 5 (options left out are not scored).
    Score {},
    /// Rank options in order of preference: all of them (`max_ranks` absent) or the top `max_ranks`.
    Ranked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ranks: Option<u32>,
        #[serde(default, deserialize_with = "crate::null_as_default")]
        #[schemars(with = "Option<RankedTally>")]
        tally: RankedTally,
    },
    /// Participants are shown pairs of options (`next_pair`) and pick one of
    /// each (`cast_comparison`); options are ranked by a Bradley–Terry fit.
    Pairwise {},
    /// Pick exactly one option; the option picked most wins (plurality), and
    /// a tie for the most is reported as a tie.
    SingleChoice {},
}

impl PollMethod {
    /// The `kind` tag of this method, as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            PollMethod::YesNo { .. } => "yes_no",
            PollMethod::Approval { .. } => "approval",
            PollMethod::Dots { .. } => "dots",
            PollMethod::Score {} => "score",
            PollMethod::Ranked { .. } => "ranked",
            PollMethod::Pairwise {} => "pairwise",
            PollMethod::SingleChoice {} => "single_choice",
        }
    }
}

/// The highest score of a score poll.
pub const MAX_SCORE: u8 = 5;

/// Where a poll's options come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum PollOptionsSpec {
    /// The approved ideas of the poll's item, at the moment the poll is created.
    Ideas {},
    /// Fixed labels, in order.
    Fixed { labels: Vec<String> },
    /// No options: for yes/no polls.
    None {},
}

/// Whether a poll's ballots are secret or published with their voters' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BallotSecrecy {
    /// No one can link a ballot to its voter (the default).
    #[default]
    Secret,
    /// Each ballot is published with its voter's name: for committees whose
    /// members vote on the record.
    Named,
}

impl BallotSecrecy {
    pub fn is_secret(&self) -> bool {
        *self == BallotSecrecy::Secret
    }
}

/// The responsible body's answer to a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    Adopted,
    AdoptedInPart,
    Declined,
}

/// Where a planned action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Planned,
    InProgress,
    Done,
    /// Given up; the update's note says why.
    Dropped,
}

/// When participants and displays see a poll's tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultsVisibility {
    /// Live while the poll is open.
    #[default]
    Live,
    /// Only the moderator sees the tally until `reveal_results`.
    Hidden,
}

/// A yes/no/abstain choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum YesNoChoice {
    Yes,
    No,
    Abstain,
}

/// Dots on one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Allocation {
    pub option: OptionId,
    pub dots: u32,
}

/// A score for one option, 0 to [`MAX_SCORE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreEntry {
    pub option: OptionId,
    pub score: u8,
}

/// A ballot, tagged by `kind`; the kind must match the poll's method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ballot {
    YesNo {
        choice: YesNoChoice,
    },
    Approval {
        options: Vec<OptionId>,
    },
    Dots {
        allocations: Vec<Allocation>,
    },
    Score {
        scores: Vec<ScoreEntry>,
    },
    /// Options from most to least preferred.
    Ranked {
        ranking: Vec<OptionId>,
    },
    /// The one option picked.
    SingleChoice {
        option: OptionId,
    },
}

/// A hand count for one option: people (approval, single choice) or dots (dots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HallOptionCount {
    pub option: OptionId,
    pub count: i64,
}

/// How many hall people gave one option each score: `distribution[s]` people gave score `s` (0 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HallScoreCount {
    pub option: OptionId,
    pub distribution: [i64; 6],
}

/// `count` paper ballots with the same ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaperBallots {
    /// Options from most to least preferred, under the same rules as a device ballot.
    pub ranking: Vec<OptionId>,
    pub count: i64,
}

/// The hand count of one poll, tagged by `kind`; the kind must match the poll's method.
///
/// `people` is how many hall people without a device took part: it is the
/// count of `hall_count` ballots and what the hall check adds up. For yes/no
/// it is `yes + no + abstain`; for ranked polls the sum of the paper ballots'
/// counts; for single choice the sum of the counts (one mark per person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HallCounts {
    YesNo {
        yes: i64,
        no: i64,
        abstain: i64,
    },
    /// Per option, how many people approved it.
    Approval {
        people: i64,
        counts: Vec<HallOptionCount>,
    },
    /// Per option, how many dots the hall put on it.
    Dots {
        people: i64,
        counts: Vec<HallOptionCount>,
    },
    /// Per option, how many people gave each score.
    Score {
        people: i64,
        scores: Vec<HallScoreCount>,
    },
    /// Paper ballots, as (ranking, count) pairs.
    Ranked {
        ballots: Vec<PaperBallots>,
    },
    /// Per option, how many people picked it.
    SingleChoice {
        counts: Vec<HallOptionCount>,
    },
}

/// Who `call_next` picks from the speaker queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueuePolicy {
    /// First come, first served: the arrival order.
    #[default]
    Fifo,
    /// The room (`hall` and `hall_count`) and `remote` take turns, each side in
    /// arrival order; the side that did not speak last goes first.
    Alternate,
    /// People who have not spoken yet in this forum first, then the others,
    /// each group in arrival order.
    NotSpokenFirst,
}

/// A temperature-check signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalColor {
    Green,
    Yellow,
    Red,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_with_a_default_accept_null() {
        let create: Command = serde_json::from_str(
            r#"{"type":"create_poll","title":"t","method":{"kind":"ranked","tally":null,"max_ranks":null},
                "options":{"from":"ideas"},"results":null,"item":null}"#,
        )
        .expect("null reads as the default");
        let Command::CreatePoll { results, method, .. } = create else { panic!("not create_poll: {create:?}") };
        assert_eq!(results, ResultsVisibility::Live);
        assert_eq!(method, PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda });
        let compare: Command =
            serde_json::from_str(r#"{"type":"cast_comparison","poll":1,"winner":1,"loser":2,"skip":null}"#)
                .expect("null reads as false");
        assert!(matches!(compare, Command::CastComparison { skip: false, .. }), "{compare:?}");
    }
}
