//! Single choice: a ballot picks exactly one option; the option picked most
//! wins (plurality). Several options sharing the most picks are all winners
//! and the tally says it is a tie; nobody picking anything has no winner.
//!
//! The ballot's shape (one option, not a list) is what makes it single, so
//! the only rule a ballot can break beyond its kind is naming an unknown
//! option. By hand, each person makes one mark, so the people a hand count
//! stands for are the sum of its marks.

use madang_protocol::{Ballot, HallOptionCount, OptionId, TallyResult};

use super::OptionIndex;
use super::counting::{option_counts, tiers};
use super::hand_count::{MAX_HALL_COUNT, check_options, count as checked, invalid, weight};
use crate::domain::DomainError;

/// Check a hand count: every option known and named once, and each count and
/// their sum a plausible number of people.
pub(super) fn validate_hall_count(options: &OptionIndex, counts: &[HallOptionCount]) -> Result<(), DomainError> {
    check_options(options, counts.iter().map(|c| c.option))?;
    let max = u64::from(MAX_HALL_COUNT);
    let mut total = 0u64;
    for c in counts {
        total += checked(&format!("the count for option {}", c.option), c.count, max)?;
    }
    if total > max {
        return Err(invalid(format!("the counts add up to {total}: at most {max} people")));
    }
    Ok(())
}

/// People without a device that the hand count stands for: one mark each.
pub(super) fn people_counted(counts: &[HallOptionCount]) -> u64 {
    counts.iter().map(|c| weight(c.count)).fold(0u64, u64::saturating_add)
}

/// Each option's count as a ballot picking it, weighted by the count.
pub(super) fn weighted_ballots(counts: &[HallOptionCount], out: &mut Vec<(Ballot, u64)>) {
    for c in counts {
        out.push((Ballot::SingleChoice { option: c.option }, weight(c.count)));
    }
}

/// Picks per canonical option; a pick of a merged option counts for its target.
pub(super) fn count<'b>(index: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut counts = vec![0u64; index.canon.len()];
    for (ballot, weight) in ballots {
        let Ballot::SingleChoice { option } = ballot else { continue };
        if let Some(row) = index.row_of(*option) {
            counts[row] = counts[row].saturating_add(weight);
        }
    }
    let ranking = tiers(&index.canon, |a, b| counts[b].cmp(&counts[a]));
    let anything_picked = counts.iter().any(|&c| c > 0);
    let winners: Vec<OptionId> =
        if anything_picked { ranking.first().cloned().unwrap_or_default() } else { Vec::new() };
    let tie = winners.len() > 1;
    TallyResult::SingleChoice { counts: option_counts(&index.canon, &counts), ranking, winners, tie }
}

#[cfg(test)]
mod tests;
