//! Tallies and outcomes: what a poll's ballots add up to.
//!
//! Counts are exact integers. Means and medians are derived for display.
//! Rankings are given as tiers, best first: options in one tier are tied,
//! and a tie is never broken silently.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{MajorityRule, OptionId, PollId, PollMethod, RankedTally, RecordStamp};

/// The tally of one poll at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tally {
    pub poll: PollId,
    /// Ballots counted: one per participant, plus the people of the hall count
    /// (a paper ranking entered with count 12 counts 12).
    pub ballots: u32,
    /// Over all channels merged.
    pub result: TallyResult,
    /// The same method over each channel's ballots alone. Always sent by this
    /// server; optional so that tallies without it stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_channel: Option<ChannelBreakdown>,
    /// For ranked polls: every ranked method over the same (merged) ballots,
    /// with its full working, and whether they agree on the winner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranked: Option<Box<RankedDetail>>,
    /// Nothing was counted (`ballots` is 0): the poll has no winner, and its
    /// ranking's single tier means "no votes", not a tie. Sent only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_votes: bool,
}

/// Every ranked method over one poll's ballots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RankedDetail {
    /// The options in the order of the matrices below (the poll's options, merged ones left out).
    pub options: Vec<OptionId>,
    pub instant_runoff: InstantRunoff,
    pub schulze: SchulzeDetail,
    /// The winners (more than one when tied) under each method.
    pub winners: MethodWinners,
    /// The methods do not all have the same winners: the outcome depends on the method chosen.
    pub methods_disagree: bool,
}

/// Instant-runoff, round by round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InstantRunoff {
    pub rounds: Vec<RunoffRound>,
    pub winners: Vec<OptionId>,
}

/// One instant-runoff round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunoffRound {
    /// Ballots counting for each continuing option (their highest-ranked continuing option).
    pub counts: Vec<OptionCount>,
    /// Ballots that rank no continuing option.
    pub exhausted: u64,
    /// Eliminated after this round; empty in the last round.
    pub eliminated: Vec<OptionId>,
    /// Several options shared the fewest votes and were eliminated together
    /// (the tie rule: no option is picked over another).
    pub simultaneous: bool,
}

/// Schulze's method, with its matrices (rows and columns in `RankedDetail.options` order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SchulzeDetail {
    /// `pairwise[i][j]`: ballots ranking option i above option j.
    pub pairwise: Vec<Vec<u64>>,
    /// `strongest[i][j]`: the strongest path from i to j, a path's strength being its weakest margin.
    pub strongest: Vec<Vec<u64>>,
    /// Tiers, best first.
    pub ranking: Vec<Vec<OptionId>>,
}

/// Winners under each ranked method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MethodWinners {
    pub borda: Vec<OptionId>,
    pub instant_runoff: Vec<OptionId>,
    pub schulze: Vec<OptionId>,
}

/// A tally per channel: where the hall and the remote crowd agree and differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelBreakdown {
    /// Ballots from devices that joined with the remote code.
    pub remote: ChannelTally,
    /// Ballots from devices that joined with the hall code.
    pub hall: ChannelTally,
    /// The moderator's hand count for hall people without a device.
    pub hall_count: ChannelTally,
}

/// One channel's share of a tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelTally {
    pub ballots: u32,
    pub result: TallyResult,
}

/// The method-specific result, tagged by `method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TallyResult {
    YesNo {
        yes: u32,
        no: u32,
        abstain: u32,
        rule: MajorityRule,
        /// Whether the motion carries under `rule`.
        passed: bool,
        /// Yes and no are equal (the motion does not carry).
        tie: bool,
    },
    Approval {
        /// Approvals per option, in option order.
        counts: Vec<OptionCount>,
        ranking: Vec<Vec<OptionId>>,
    },
    Dots {
        /// Dots per option, in option order.
        counts: Vec<OptionCount>,
        ranking: Vec<Vec<OptionId>>,
    },
    Score {
        /// Per option, in option order.
        stats: Vec<ScoreStat>,
        /// By mean score; options nobody scored come last.
        ranking: Vec<Vec<OptionId>>,
    },
    Ranked {
        tally: RankedTally,
        /// Borda points per option, in option order.
        borda: Vec<OptionCount>,
        /// How many ballots rank each option first, in option order.
        first_choices: Vec<OptionCount>,
        /// By the method in `tally`.
        ranking: Vec<Vec<OptionId>>,
    },
    /// A Bradley–Terry fit of the comparisons (SPEC §10.3).
    Pairwise {
        /// Comparisons counted (a win for one option), skips left out.
        comparisons: u64,
        /// Answers that were "can't decide".
        skipped: u64,
        /// Per option, in option order (merged options left out).
        stats: Vec<PairwiseStat>,
        /// `wins[i][j]`: how often option i was preferred over option j (rows and columns in `stats` order).
        wins: Vec<Vec<u64>>,
        /// By `log_strength`, highest first; equal values are one tier.
        ranking: Vec<Vec<OptionId>>,
    },
    SingleChoice {
        /// How many picked each option, in option order.
        counts: Vec<OptionCount>,
        /// By count, most first.
        ranking: Vec<Vec<OptionId>>,
        /// The options picked most: one, several when tied, none when nobody picked any.
        winners: Vec<OptionId>,
        /// Several options share the most picks.
        tie: bool,
    },
}

impl TallyResult {
    /// The options in the first tier: the winners, more than one when tied.
    /// Empty for yes/no polls, and for single choice when nobody picked any
    /// option. Other methods rank every option in one tier when nothing was
    /// counted: [`Tally::no_votes`] tells that apart from a tie.
    pub fn winners(&self) -> &[OptionId] {
        match self {
            TallyResult::YesNo { .. } => &[],
            TallyResult::Approval { ranking, .. }
            | TallyResult::Dots { ranking, .. }
            | TallyResult::Score { ranking, .. }
            | TallyResult::Ranked { ranking, .. }
            | TallyResult::Pairwise { ranking, .. } => ranking.first().map(Vec::as_slice).unwrap_or(&[]),
            TallyResult::SingleChoice { winners, .. } => winners,
        }
    }
}

/// A count for one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OptionCount {
    pub option: OptionId,
    pub count: u64,
}

/// Score statistics for one option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreStat {
    pub option: OptionId,
    /// Ballots that scored this option.
    pub ballots: u32,
    /// Sum of scores (exact).
    pub sum: u64,
    /// `sum / ballots`, for display; 0 when nobody scored the option.
    pub mean: f64,
    /// The median score; the midpoint of the two middle scores for an even count.
    pub median: f64,
    /// How many ballots gave 0, 1, 2, 3, 4 and 5.
    pub distribution: [u32; 6],
}

/// One option of a pairwise tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PairwiseStat {
    pub option: OptionId,
    /// Comparisons this option won (exact).
    pub wins: u64,
    /// Comparisons this option lost (exact).
    pub losses: u64,
    /// The Bradley–Terry strength, `exp(log_strength)` rounded to 6 decimals: against an option of
    /// strength s it is preferred with probability `strength / (strength + s)`.
    /// The prior's reference option has strength 1. For display.
    pub strength: f64,
    /// The natural log of the strength, rounded to 6 decimals; the ranking is by this value.
    pub log_strength: f64,
    /// The standard error of `log_strength` (observed Fisher information), rounded to 6 decimals.
    pub std_error: f64,
}

/// A closed poll's recorded result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    pub poll: PollId,
    pub title: String,
    pub method: PollMethod,
    /// Unix time in milliseconds.
    pub closed_at_ms: u64,
    pub tally: Tally,
    /// The public record's head just before this outcome's line, with its
    /// fingerprint (RECORD.md). Absent in outcomes closed before the record existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordStamp>,
}
