//! Score voting: a ballot scores options from 0 to `MAX_SCORE`; options are
//! ranked by their exact mean score, and each shows its distribution and median.

use std::cmp::Ordering;

use madang_protocol::{Ballot, HallScoreCount, MAX_SCORE, OptionId, ScoreEntry, ScoreStat, TallyResult};

use super::counting::{PerBallot, add_u32, tiers};
use super::hand_count::{check_options, marks, over_method, people, weight};
use super::{BallotError, OptionIndex, raw_duplicate};
use crate::domain::DomainError;

pub(super) fn validate(scores: &[ScoreEntry]) -> Result<(), BallotError> {
    if scores.is_empty() {
        return Err(BallotError::new("score.empty", "score at least 1 option"));
    }
    if let Some(out) = scores.iter().find(|s| s.score > MAX_SCORE) {
        return Err(BallotError::new(
            "score.range",
            format!("scores go from 0 to {MAX_SCORE} (got {} for option {})", out.score, out.option),
        ));
    }
    if let Some(message) = raw_duplicate(scores.iter().map(|s| s.option)) {
        return Err(BallotError::new("score.duplicate", message));
    }
    Ok(())
}

/// Check a hand count: `people` took part, and no option was scored by more of them.
pub(super) fn validate_hall_count(
    options: &OptionIndex,
    people_entered: i64,
    scores: &[HallScoreCount],
) -> Result<(), DomainError> {
    let n = people(people_entered)?;
    check_options(options, scores.iter().map(|s| s.option))?;
    for s in scores {
        let mut scored = 0u64;
        for (score, &c) in s.distribution.iter().enumerate() {
            scored += marks(&format!("the count of score {score} for option {}", s.option), c, n)?;
        }
        if scored > n {
            return Err(over_method(format!("{scored} people scored option {} but only {n} took part", s.option)));
        }
    }
    Ok(())
}

/// Each option's count per score as a single-entry ballot weighted by it.
pub(super) fn weighted_ballots(scores: &[HallScoreCount], out: &mut Vec<(Ballot, u64)>) {
    for s in scores {
        for (score, &n) in (0u8..=MAX_SCORE).zip(s.distribution.iter()) {
            out.push((Ballot::Score { scores: vec![ScoreEntry { option: s.option, score }] }, weight(n)));
        }
    }
}

/// Running score totals for one canonical option.
#[derive(Default, Clone, Copy)]
struct ScoreTotals {
    ballots: u32,
    sum: u64,
    distribution: [u32; 6],
}

impl ScoreTotals {
    /// Mean as an exact fraction (sum, ballots); `None` when nobody scored.
    fn mean_fraction(&self) -> Option<(u128, u128)> {
        (self.ballots > 0).then(|| (u128::from(self.sum), u128::from(self.ballots)))
    }

    fn stat(&self, option: OptionId) -> ScoreStat {
        let mean = if self.ballots == 0 { 0.0 } else { self.sum as f64 / f64::from(self.ballots) };
        ScoreStat {
            option,
            ballots: self.ballots,
            sum: self.sum,
            mean,
            median: median(&self.distribution),
            distribution: self.distribution,
        }
    }
}

/// The median of the scores a distribution describes (midpoint of the two
/// middle scores for an even count; 0 when empty).
fn median(distribution: &[u32; 6]) -> f64 {
    let total: u64 = distribution.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    // The score at 0-based position `index` in the sorted list of scores.
    let nth = |index: u64| -> u8 {
        let mut before = 0u64;
        for (score, &count) in (0u8..).zip(distribution.iter()) {
            before += u64::from(count);
            if index < before {
                return score;
            }
        }
        MAX_SCORE
    };
    if total % 2 == 1 {
        f64::from(nth(total / 2))
    } else {
        (f64::from(nth(total / 2 - 1)) + f64::from(nth(total / 2))) / 2.0
    }
}

/// Score statistics per canonical option. A ballot scoring several options
/// that count for the same canonical option gives it the highest of those
/// scores, once. Ranked by exact mean, options nobody scored last.
pub(super) fn count<'b>(index: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut totals = vec![ScoreTotals::default(); index.canon.len()];
    let mut best = PerBallot::new(index.canon.len());
    for (ballot, weight) in ballots {
        let Ballot::Score { scores } = ballot else { continue };
        for entry in scores.iter().filter(|entry| entry.score <= MAX_SCORE) {
            if let Some(row) = index.row_of(entry.option) {
                best.keep_max(row, entry.score);
            }
        }
        for (row, score) in best.drain() {
            let totals = &mut totals[row];
            add_u32(&mut totals.ballots, weight);
            totals.sum = totals.sum.saturating_add(u64::from(score).saturating_mul(weight));
            if let Some(count) = totals.distribution.get_mut(usize::from(score)) {
                add_u32(count, weight);
            }
        }
    }
    let ranking = tiers(&index.canon, |a, b| by_mean_desc(totals[a].mean_fraction(), totals[b].mean_fraction()));
    let stats = index.canon.iter().zip(&totals).map(|(&option, totals)| totals.stat(option)).collect();
    TallyResult::Score { stats, ranking }
}

/// Orders two exact means best first, comparing `sa/na` with `sb/nb` by
/// cross-multiplying in u128 (no floats, no overflow); unscored comes last.
fn by_mean_desc(a: Option<(u128, u128)>, b: Option<(u128, u128)>) -> Ordering {
    match (a, b) {
        (Some((sum_a, n_a)), Some((sum_b, n_b))) => (sum_b * n_a).cmp(&(sum_a * n_b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests;
