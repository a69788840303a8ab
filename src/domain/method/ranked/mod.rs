//! Ranked-ballot counting: Borda, instant-runoff and Schulze over one
//! weighted profile, with every intermediate step kept so the outcome can
//! show its work.
//!
//! A profile is a list of (ranking, weight): a ranking lists options from
//! most to least preferred, possibly truncated (options left out are ranked
//! below every listed one and tied with each other); a weight is how many
//! ballots carry that ranking (a paper ballot counted by hand weighs its
//! count). All counts are exact integers. Nothing here breaks a tie
//! silently: results come as tiers, and the one place a rule must choose
//! (which options instant-runoff eliminates) uses a documented rule and says so.

//!
//! A ranked poll keeps every ballot and hand-entered paper ranking as one
//! weighted profile over its canonical options (merged options count for
//! their target); each method's file counts that profile its own way, and
//! `ranked_detail` shows all three side by side.

mod borda;
mod instant_runoff;
mod live;
mod schulze;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use madang_protocol::{
    Ballot, InstantRunoff, MethodWinners, OptionCount, OptionId, PaperBallots, PollMethod, RankedDetail, RankedTally,
    RunoffRound, SchulzeDetail, TallyResult,
};

pub use borda::{borda, first_choices, tiers_by_score};
pub use instant_runoff::{IrvResult, IrvRound, instant_runoff};
pub use live::{LivePairwise, PairwiseMatrix};
pub use schulze::{SchulzeResult, pairwise, schulze, schulze_from_pairwise};

use super::counting::PerBallot;
use super::hand_count::{MAX_HALL_COUNT, MAX_PAPER_RANKINGS, count as checked, invalid, weight};
use super::{BallotError, OptionIndex, canonical_duplicate};
use crate::domain::DomainError;

/// A weighted ranking. Options must be distinct and among the profile's options.
pub type WeightedRanking = (Vec<OptionId>, u64);

pub(super) fn validate(index: &OptionIndex, max_ranks: Option<u32>, ranking: &[OptionId]) -> Result<(), BallotError> {
    if ranking.is_empty() {
        return Err(BallotError::new("ranked.empty", "rank at least 1 option"));
    }
    if let Some(message) = canonical_duplicate(index, ranking) {
        return Err(BallotError::new("ranked.duplicate", message));
    }
    match max_ranks {
        Some(limit) => {
            if ranking.len() as u64 > u64::from(limit) {
                return Err(BallotError::new(
                    "ranked.max_ranks",
                    format!("rank at most {limit} options (got {})", ranking.len()),
                ));
            }
        }
        None => {
            // A full ranking: every canonical option exactly once. Duplicates are
            // already rejected, so it is complete when it covers every row and
            // names nothing that does not count for one.
            let covered: HashSet<usize> = ranking.iter().filter_map(|&option| index.row_of(option)).collect();
            let wanted = index.canon.len();
            if covered.len() != wanted || ranking.len() != wanted {
                let missing = index.canon.iter().zip(0usize..).find(|(_, row)| !covered.contains(row));
                let detail = match missing {
                    Some((option, _)) => format!("option {option} is missing"),
                    None => format!("got {}", ranking.len()),
                };
                return Err(BallotError::new("ranked.incomplete", format!("rank all {wanted} options ({detail})")));
            }
        }
    }
    Ok(())
}

/// Check paper rankings entered by hand: each count a plausible number of
/// people (at least 1), their sum too, and each ranking passing the same rules
/// as a device ballot (the error names the rule, as for a device ballot).
pub(super) fn validate_hall_count(
    method: &PollMethod,
    options: &OptionIndex,
    papers: &[PaperBallots],
) -> Result<(), DomainError> {
    let max = u64::from(MAX_HALL_COUNT);
    if papers.len() > MAX_PAPER_RANKINGS {
        return Err(invalid(format!("at most {MAX_PAPER_RANKINGS} distinct rankings in one entry")));
    }
    let mut total = 0u64;
    for (index, paper) in papers.iter().enumerate() {
        let n = checked(&format!("the count of paper ranking {}", index + 1), paper.count, max)?;
        if n == 0 {
            return Err(invalid(format!("the count of paper ranking {} must be at least 1", index + 1)));
        }
        total += n;
        let ballot = Ballot::Ranked { ranking: paper.ranking.clone() };
        super::validate_ballot(method, options, &ballot).map_err(|e| {
            DomainError::Ballot(BallotError {
                rule: e.rule,
                message: format!("paper ranking {}: {}", index + 1, e.message),
            })
        })?;
    }
    if total > max {
        return Err(invalid(format!("the paper ballots add up to {total}: at most {max} people")));
    }
    Ok(())
}

/// People without a device that the paper rankings stand for.
pub(super) fn people_counted(papers: &[PaperBallots]) -> u64 {
    papers.iter().map(|b| weight(b.count)).fold(0u64, u64::saturating_add)
}

/// Each paper ranking, weighted by its count.
pub(super) fn weighted_ballots(papers: &[PaperBallots], out: &mut Vec<(Ballot, u64)>) {
    for paper in papers {
        out.push((Ballot::Ranked { ranking: paper.ranking.clone() }, weight(paper.count)));
    }
}

/// The ranked ballots of a poll as canonical rows, best first, each row at
/// most once per ballot (its first occurrence). Every ranked method works from this.
struct Profile {
    /// Each distinct ballot once, with how many it stands for.
    rankings: Vec<(Vec<usize>, u64)>,
}

#[cfg(test)]
thread_local! {
    /// Profiles built on this thread: a profile is the costly first step of
    /// every ranked count, so counting them shows how often ballots are counted.
    pub(crate) static PROFILES_BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Profile {
    fn new<'b>(index: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> Self {
        #[cfg(test)]
        PROFILES_BUILT.with(|built| built.set(built.get() + 1));
        let mut seen = PerBallot::new(index.canon.len());
        let mut rankings = Vec::new();
        for (ballot, weight) in ballots {
            let Ballot::Ranked { ranking } = ballot else { continue };
            for row in ranking.iter().filter_map(|&option| index.row_of(option)) {
                seen.keep_first(row, ());
            }
            // Drained in first-occurrence order: the ranking without repeats.
            rankings.push((seen.drain().map(|(row, ())| row).collect::<Vec<_>>(), weight));
        }
        Profile { rankings }
    }

    /// The profile in option ids, as the ranked methods take it.
    fn weighted(&self, canon: &[OptionId]) -> Vec<WeightedRanking> {
        self.rankings.iter().map(|(rows, weight)| (rows.iter().map(|&row| canon[row]).collect(), *weight)).collect()
    }
}

pub(super) fn count<'b>(
    method: RankedTally,
    index: &OptionIndex,
    ballots: impl Iterator<Item = (&'b Ballot, u64)>,
    kept: Option<&PairwiseMatrix>,
) -> TallyResult {
    let profile = Profile::new(index, ballots).weighted(&index.canon);
    let borda = borda(&index.canon, &profile);
    TallyResult::Ranked {
        tally: method,
        ranking: ranked_order(method, &index.canon, &profile, &borda, kept),
        borda: borda.iter().map(|&(option, count)| OptionCount { option, count }).collect(),
        first_choices: first_choices(&index.canon, &profile)
            .into_iter()
            .map(|(option, count)| OptionCount { option, count })
            .collect(),
    }
}

/// The count of a ranked poll under its method, and every method's detail,
/// from one profile: the tally of a poll needs both for the same ballots.
pub(super) fn count_with_detail<'b>(
    method: RankedTally,
    index: &OptionIndex,
    ballots: impl Iterator<Item = (&'b Ballot, u64)>,
    kept: Option<&PairwiseMatrix>,
) -> (TallyResult, RankedDetail) {
    let profile = Profile::new(index, ballots).weighted(&index.canon);
    let borda_scores = borda(&index.canon, &profile);
    let irv = instant_runoff(&index.canon, &profile);
    let schulze = schulze_kept_or_recounted(&index.canon, &profile, kept);
    let ranking = match method {
        RankedTally::Borda => tiers_by_score(&borda_scores),
        RankedTally::InstantRunoff => instant_runoff::runoff_order(&irv),
        RankedTally::Schulze => schulze.ranking.clone(),
    };
    let result = TallyResult::Ranked {
        tally: method,
        ranking,
        borda: borda_scores.iter().map(|&(option, count)| OptionCount { option, count }).collect(),
        first_choices: first_choices(&index.canon, &profile)
            .into_iter()
            .map(|(option, count)| OptionCount { option, count })
            .collect(),
    };
    (result, detail(index, &borda_scores, irv, schulze))
}

/// The ranking of a ranked poll under its method. Each method gets the whole profile.
fn ranked_order(
    method: RankedTally,
    canon: &[OptionId],
    profile: &[WeightedRanking],
    borda: &[(OptionId, u64)],
    kept: Option<&PairwiseMatrix>,
) -> Vec<Vec<OptionId>> {
    match method {
        RankedTally::Borda => tiers_by_score(borda),
        RankedTally::InstantRunoff => instant_runoff::runoff_order(&instant_runoff(canon, profile)),
        RankedTally::Schulze => schulze_kept_or_recounted(canon, profile, kept).ranking,
    }
}

/// Schulze from kept pairwise counts when they are over these options, else from the profile.
fn schulze_kept_or_recounted(
    canon: &[OptionId],
    profile: &[WeightedRanking],
    kept: Option<&PairwiseMatrix>,
) -> SchulzeResult {
    match kept {
        Some(matrix) if matrix.options() == canon => schulze_from_pairwise(canon, matrix.rows()),
        _ => schulze(canon, profile),
    }
}

/// A ranked ballot as it is counted: each option mapped to the option it
/// counts for, unknown options and repeats dropped (the first place wins).
pub fn counted_ranking(index: &OptionIndex, ranking: &[OptionId]) -> Vec<OptionId> {
    let mut seen = HashSet::new();
    ranking
        .iter()
        .filter_map(|&option| index.row_of(option))
        .filter(|row| seen.insert(*row))
        .map(|row| index.canon[row])
        .collect()
}

/// Every ranked method over the same weighted ballots, with its working, for
/// a ranked poll; `None` for other methods.
/// `kept` are the pairwise counts of exactly these ballots when a live poll
/// keeps them, so Schulze need not recount.
pub fn ranked_detail<'b>(
    method: &PollMethod,
    index: &OptionIndex,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
    kept: Option<&PairwiseMatrix>,
) -> Option<RankedDetail> {
    let PollMethod::Ranked { .. } = method else { return None };
    let profile = Profile::new(index, ballots.into_iter()).weighted(&index.canon);
    let borda_scores = borda(&index.canon, &profile);
    let irv = instant_runoff(&index.canon, &profile);
    let schulze = schulze_kept_or_recounted(&index.canon, &profile, kept);
    Some(detail(index, &borda_scores, irv, schulze))
}

/// Every method's result side by side, with its working.
fn detail(
    index: &OptionIndex,
    borda_scores: &[(OptionId, u64)],
    irv: IrvResult,
    schulze: SchulzeResult,
) -> RankedDetail {
    let borda = tiers_by_score(borda_scores).into_iter().next().unwrap_or_default();
    let sorted = |mut v: Vec<OptionId>| {
        v.sort();
        v
    };
    let winners = MethodWinners {
        borda: borda.clone(),
        instant_runoff: irv.winners.clone(),
        schulze: schulze.ranking.first().cloned().unwrap_or_default(),
    };
    let methods_disagree = sorted(winners.borda.clone()) != sorted(winners.instant_runoff.clone())
        || sorted(winners.instant_runoff.clone()) != sorted(winners.schulze.clone());
    let to_counts =
        |counts: &[(OptionId, u64)]| counts.iter().map(|&(option, count)| OptionCount { option, count }).collect();
    RankedDetail {
        options: index.canon.clone(),
        instant_runoff: InstantRunoff {
            rounds: irv
                .rounds
                .iter()
                .map(|r| RunoffRound {
                    counts: to_counts(&r.counts),
                    exhausted: r.exhausted,
                    eliminated: r.eliminated.clone(),
                    simultaneous: r.simultaneous,
                })
                .collect(),
            winners: irv.winners,
        },
        schulze: SchulzeDetail { pairwise: schulze.pairwise, strongest: schulze.strongest, ranking: schulze.ranking },
        winners,
        methods_disagree,
    }
}
