//! Dot voting: a ballot places up to `budget` dots, at most `max_per_option`
//! on one option; options are ranked by their dots.

use madang_protocol::{Allocation, Ballot, HallOptionCount, TallyResult};

use super::counting::{option_counts, tiers};
use super::hand_count::{check_options, marks, over_method, people, weight};
use super::{BallotError, OptionIndex, raw_duplicate};
use crate::domain::DomainError;

pub(super) fn validate(budget: u32, max_per_option: u32, allocations: &[Allocation]) -> Result<(), BallotError> {
    if !allocations.iter().any(|a| a.dots > 0) {
        return Err(BallotError::new("dots.empty", "place at least 1 dot"));
    }
    if let Some(message) = raw_duplicate(allocations.iter().map(|a| a.option)) {
        return Err(BallotError::new("dots.duplicate", message));
    }
    if let Some(over) = allocations.iter().find(|a| a.dots > max_per_option) {
        return Err(BallotError::new(
            "dots.max_per_option",
            format!("place at most {max_per_option} dots on one option (got {} on option {})", over.dots, over.option),
        ));
    }
    let spent = allocations.iter().fold(0u64, |sum, a| sum.saturating_add(u64::from(a.dots)));
    if spent > u64::from(budget) {
        return Err(BallotError::new("dots.budget", format!("place at most {budget} dots in all (got {spent})")));
    }
    Ok(())
}

/// Check a hand count: `people` took part, and no more dots are counted, on
/// one option or in all, than that many people may place.
pub(super) fn validate_hall_count(
    options: &OptionIndex,
    budget: u32,
    max_per_option: u32,
    people_entered: i64,
    counts: &[HallOptionCount],
) -> Result<(), DomainError> {
    let n = people(people_entered)?;
    check_options(options, counts.iter().map(|c| c.option))?;
    let per_option = n.saturating_mul(u64::from(max_per_option));
    let mut spent = 0u64;
    for c in counts {
        spent += marks(&format!("the dots on option {}", c.option), c.count, per_option)?;
    }
    let budget = n.saturating_mul(u64::from(budget));
    if spent > budget {
        return Err(over_method(format!("{spent} dots in all is more than {n} people may place ({budget})")));
    }
    Ok(())
}

/// One dot on the option, weighted by the dots placed on it.
pub(super) fn weighted_ballots(counts: &[HallOptionCount], out: &mut Vec<(Ballot, u64)>) {
    for c in counts {
        out.push((Ballot::Dots { allocations: vec![Allocation { option: c.option, dots: 1 }] }, weight(c.count)));
    }
}

/// Dots per canonical option; dots on merged options add to their target.
pub(super) fn count<'b>(index: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut counts = vec![0u64; index.canon.len()];
    for (ballot, weight) in ballots {
        let Ballot::Dots { allocations } = ballot else { continue };
        for allocation in allocations {
            if let Some(row) = index.row_of(allocation.option) {
                counts[row] = counts[row].saturating_add(u64::from(allocation.dots).saturating_mul(weight));
            }
        }
    }
    let ranking = tiers(&index.canon, |a, b| counts[b].cmp(&counts[a]));
    TallyResult::Dots { counts: option_counts(&index.canon, &counts), ranking }
}

#[cfg(test)]
mod tests;
