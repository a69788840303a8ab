//! Poll methods: for each method, ballot validation, hand-count validation
//! and conversion to weighted ballots, and counting, in one file per method
//! (`yes_no`, `single_choice`, `approval`, `dots`, `score`, `ranked/`, `pairwise/`). This
//! file only dispatches on the method; adding a method means adding its file
//! and one arm in each dispatch below.
//!
//! Two promises rest on this module. A participant whose ballot is refused
//! must learn which rule it broke (`rule` is sent to the client), so every
//! check has a stable dotted name. And everyone watching a poll (hall screen,
//! remote participants, the recorded outcome) must see the same numbers for
//! the same ballots, so counting is exact integer arithmetic, independent of
//! ballot order, and a tie is shown as a tie rather than broken silently.
//!
//! The code is pure (no I/O, no clock) so a tally can be recomputed from the
//! event log at any time and tested without a server.
//!
//! Merged ideas: when an idea is merged into another, ballots naming the
//! merged option count for the target. Counts and rankings list canonical
//! options only, in poll order.
//!
//! Counting trusts that ballots were validated, but never panics on one that
//! was not: a ballot of the wrong kind is counted in `ballots` and otherwise
//! ignored, unknown options and out-of-range scores are skipped, repeats
//! count once, and sums saturate.
//!
//! Nothing here knows the forum: a poll's options come in as an
//! [`OptionIndex`] and its ballots as (ballot, weight) pairs.

mod approval;
mod counting;
mod dots;
mod hand_count;
mod option_index;
pub mod pairwise;
pub mod ranked;
mod score;
mod single_choice;
#[cfg(test)]
mod tests;
mod yes_no;

use std::collections::{HashMap, HashSet};

use madang_protocol::{Ballot, HallCounts, OptionId, PollMethod, TallyResult};

pub(crate) use hand_count::count as checked_count;
pub(crate) use hand_count::{MAX_HALL_COUNT, OVER_HEADCOUNT};
pub use option_index::OptionIndex;
pub use ranked::{PairwiseMatrix, counted_ranking, ranked_detail};

use crate::domain::DomainError;

/// A ballot that breaks a rule of its poll's method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BallotError {
    /// Dotted rule name, e.g. "approval.max_choices"; sent to clients as `rule`.
    pub rule: &'static str,
    /// Human-readable, names the limit, e.g. "approve at most 3 options (got 4)".
    pub message: String,
}

impl BallotError {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        BallotError { rule, message: message.into() }
    }
}

/// Check a ballot against the poll's method and options.
///
/// Checks run in a fixed order (kind, unknown options, then the method's own
/// rules), so a ballot breaking several rules always reports the same one.
pub fn validate_ballot(method: &PollMethod, options: &OptionIndex, ballot: &Ballot) -> Result<(), BallotError> {
    match (method, ballot) {
        (PollMethod::YesNo { .. }, Ballot::YesNo { .. }) => Ok(()),
        (PollMethod::Approval { max_choices }, Ballot::Approval { options: chosen }) => {
            check_known(options, chosen.iter().copied())?;
            approval::validate(options, *max_choices, chosen)
        }
        (PollMethod::Dots { budget, max_per_option }, Ballot::Dots { allocations }) => {
            check_known(options, allocations.iter().map(|a| a.option))?;
            dots::validate(*budget, *max_per_option, allocations)
        }
        (PollMethod::Score {}, Ballot::Score { scores }) => {
            check_known(options, scores.iter().map(|s| s.option))?;
            score::validate(scores)
        }
        (PollMethod::Ranked { max_ranks, .. }, Ballot::Ranked { ranking }) => {
            check_known(options, ranking.iter().copied())?;
            ranked::validate(options, *max_ranks, ranking)
        }
        (PollMethod::SingleChoice {}, Ballot::SingleChoice { option }) => check_known(options, [*option]),
        (PollMethod::Pairwise {}, _) => Err(BallotError::new(
            "ballot.kind",
            "a pairwise poll takes comparisons, not ballots: use next_pair and cast_comparison",
        )),
        _ => Err(BallotError::new(
            "ballot.kind",
            format!("this poll takes {} ballots (got a {} ballot)", method.kind(), ballot_kind(ballot)),
        )),
    }
}

fn ballot_kind(ballot: &Ballot) -> &'static str {
    match ballot {
        Ballot::YesNo { .. } => "yes_no",
        Ballot::Approval { .. } => "approval",
        Ballot::Dots { .. } => "dots",
        Ballot::Score { .. } => "score",
        Ballot::Ranked { .. } => "ranked",
        Ballot::SingleChoice { .. } => "single_choice",
    }
}

fn check_known(options: &OptionIndex, named: impl IntoIterator<Item = OptionId>) -> Result<(), BallotError> {
    match options.first_unknown(named) {
        Some(option) => {
            Err(BallotError::new("option.unknown", format!("option {option} is not an option of this poll")))
        }
        None => Ok(()),
    }
}

/// Describes the first option that repeats an earlier one by raw id.
pub(super) fn raw_duplicate(options: impl IntoIterator<Item = OptionId>) -> Option<String> {
    let mut seen = HashSet::new();
    options
        .into_iter()
        .find(|&option| !seen.insert(option))
        .map(|option| format!("option {option} appears more than once"))
}

/// Describes the first option that counts for the same canonical option as an earlier one.
pub(super) fn canonical_duplicate(index: &OptionIndex, options: &[OptionId]) -> Option<String> {
    let mut first_for: HashMap<OptionId, OptionId> = HashMap::new();
    for &option in options {
        let target = index.canonical(option);
        if let Some(&earlier) = first_for.get(&target) {
            return Some(if earlier == option {
                format!("option {option} appears more than once")
            } else {
                format!("options {earlier} and {option} both count for option {target} (merged)")
            });
        }
        first_for.insert(target, option);
    }
    None
}

/// Check a hand count against the poll's method and options. Numbers must
/// be whole, not negative, and plausible for the people counted.
pub(crate) fn validate_hall_count(
    method: &PollMethod,
    options: &OptionIndex,
    counts: &HallCounts,
) -> Result<(), DomainError> {
    match (method, counts) {
        (PollMethod::YesNo { .. }, HallCounts::YesNo { yes, no, abstain }) => {
            yes_no::validate_hall_count(*yes, *no, *abstain)
        }
        (PollMethod::Approval { max_choices }, HallCounts::Approval { people, counts }) => {
            approval::validate_hall_count(options, *max_choices, *people, counts)
        }
        (PollMethod::Dots { budget, max_per_option }, HallCounts::Dots { people, counts }) => {
            dots::validate_hall_count(options, *budget, *max_per_option, *people, counts)
        }
        (PollMethod::Score {}, HallCounts::Score { people, scores }) => {
            score::validate_hall_count(options, *people, scores)
        }
        (PollMethod::Ranked { .. }, HallCounts::Ranked { ballots }) => {
            ranked::validate_hall_count(method, options, ballots)
        }
        (PollMethod::SingleChoice {}, HallCounts::SingleChoice { counts }) => {
            single_choice::validate_hall_count(options, counts)
        }
        _ => Err(hand_count::invalid(format!(
            "this poll takes {} hall counts (got {})",
            method.kind(),
            hall_count_kind(counts)
        ))),
    }
}

fn hall_count_kind(counts: &HallCounts) -> &'static str {
    match counts {
        HallCounts::YesNo { .. } => "yes_no",
        HallCounts::Approval { .. } => "approval",
        HallCounts::Dots { .. } => "dots",
        HallCounts::Score { .. } => "score",
        HallCounts::Ranked { .. } => "ranked",
        HallCounts::SingleChoice { .. } => "single_choice",
    }
}

/// How many hall people without a device a hand count stands for: for
/// yes/no `yes + no + abstain`, for ranked polls the sum of the paper
/// ballots' counts, for single choice the sum of the counts (one mark per
/// person), otherwise the `people` entered.
pub(crate) fn people_counted(counts: &HallCounts) -> u32 {
    let total = match counts {
        HallCounts::YesNo { yes, no, abstain } => yes_no::people_counted(*yes, *no, *abstain),
        HallCounts::Approval { people, .. } | HallCounts::Dots { people, .. } | HallCounts::Score { people, .. } => {
            hand_count::weight(*people)
        }
        HallCounts::Ranked { ballots } => ranked::people_counted(ballots),
        HallCounts::SingleChoice { counts } => single_choice::people_counted(counts),
    };
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// The hand count as weighted ballots that the tally counts exactly like the
/// totals entered (see `hand_count`). Zero weights are left out.
pub(crate) fn weighted_ballots(counts: &HallCounts) -> Vec<(Ballot, u64)> {
    let mut out = Vec::new();
    match counts {
        HallCounts::YesNo { yes, no, abstain } => yes_no::weighted_ballots(*yes, *no, *abstain, &mut out),
        HallCounts::Approval { counts, .. } => approval::weighted_ballots(counts, &mut out),
        HallCounts::Dots { counts, .. } => dots::weighted_ballots(counts, &mut out),
        HallCounts::Score { scores, .. } => score::weighted_ballots(scores, &mut out),
        HallCounts::Ranked { ballots } => ranked::weighted_ballots(ballots, &mut out),
        HallCounts::SingleChoice { counts } => single_choice::weighted_ballots(counts, &mut out),
    }
    out.retain(|(_, w)| *w > 0);
    out
}

/// [`count`], and for a ranked poll every method's detail too, counting
/// the ballots once.
pub fn count_with_detail<'b>(
    method: &PollMethod,
    options: &OptionIndex,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
    kept: Option<&PairwiseMatrix>,
) -> (TallyResult, Option<madang_protocol::RankedDetail>) {
    match method {
        PollMethod::Ranked { tally, .. } => {
            let (result, detail) = ranked::count_with_detail(*tally, options, ballots.into_iter(), kept);
            (result, Some(detail))
        }
        _ => (count(method, options, ballots, kept), None),
    }
}

/// Count weighted ballots: a ballot of weight `w` counts exactly as `w`
/// identical ballots would, without expanding them (a paper ranking entered
/// with count 12 weighs 12). Counts stay exact integers (saturating).
///
/// `kept` are the pairwise counts of exactly these ballots when a live ranked
/// poll keeps them ([`PairwiseMatrix`]), so Schulze need not recount them.
pub fn count<'b>(
    method: &PollMethod,
    options: &OptionIndex,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
    kept: Option<&PairwiseMatrix>,
) -> TallyResult {
    let ballots = ballots.into_iter();
    match method {
        PollMethod::YesNo { rule } => yes_no::count(*rule, ballots),
        PollMethod::Approval { .. } => approval::count(options, ballots),
        PollMethod::Dots { .. } => dots::count(options, ballots),
        PollMethod::Score {} => score::count(options, ballots),
        PollMethod::Ranked { tally, .. } => ranked::count(*tally, options, ballots, kept),
        PollMethod::SingleChoice {} => single_choice::count(options, ballots),
        // Comparisons are not ballots: `Forum::tally` counts them (see `pairwise`).
        PollMethod::Pairwise {} => pairwise::no_comparisons(options),
    }
}
