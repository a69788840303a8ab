//! Approval voting: a ballot approves some options, at most `max_choices`;
//! options are ranked by how many ballots approve them.

use madang_protocol::{Ballot, HallOptionCount, OptionId, TallyResult};

use super::counting::{PerBallot, option_counts, tiers};
use super::hand_count::{check_options, marks, over_method, people, weight};
use super::{BallotError, OptionIndex, canonical_duplicate};
use crate::domain::DomainError;

pub(super) fn validate(index: &OptionIndex, max_choices: u32, chosen: &[OptionId]) -> Result<(), BallotError> {
    if chosen.is_empty() {
        return Err(BallotError::new("approval.empty", "approve at least 1 option"));
    }
    if let Some(message) = canonical_duplicate(index, chosen) {
        return Err(BallotError::new("approval.duplicate", message));
    }
    // Duplicates are rejected above, so the length is the number of distinct options.
    if chosen.len() as u64 > u64::from(max_choices) {
        return Err(BallotError::new(
            "approval.max_choices",
            format!("approve at most {max_choices} options (got {})", chosen.len()),
        ));
    }
    Ok(())
}

/// Check a hand count: `people` took part, no option has more approvals
/// than people, and there are no more approvals in all than `people` may
/// give with `max_choices` each.
pub(super) fn validate_hall_count(
    options: &OptionIndex,
    max_choices: u32,
    people_entered: i64,
    counts: &[HallOptionCount],
) -> Result<(), DomainError> {
    let n = people(people_entered)?;
    check_options(options, counts.iter().map(|c| c.option))?;
    let mut given = 0u64;
    for c in counts {
        // One person approves an option at most once.
        given += marks(&format!("the count for option {}", c.option), c.count, n)?;
    }
    let most = n.saturating_mul(u64::from(max_choices));
    if given > most {
        return Err(over_method(format!(
            "{given} approvals in all is more than {n} people may give ({max_choices} each: {most})"
        )));
    }
    Ok(())
}

/// Each option's total as a single-option ballot weighted by it.
pub(super) fn weighted_ballots(counts: &[HallOptionCount], out: &mut Vec<(Ballot, u64)>) {
    for c in counts {
        out.push((Ballot::Approval { options: vec![c.option] }, weight(c.count)));
    }
}

/// Approvals per canonical option; a ballot approves each canonical option at
/// most once, however many of its merged options it names.
pub(super) fn count<'b>(index: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut counts = vec![0u64; index.canon.len()];
    let mut marks = PerBallot::new(index.canon.len());
    for (ballot, weight) in ballots {
        let Ballot::Approval { options } = ballot else { continue };
        for row in options.iter().filter_map(|&option| index.row_of(option)) {
            marks.keep_first(row, ());
        }
        for (row, ()) in marks.drain() {
            counts[row] = counts[row].saturating_add(weight);
        }
    }
    let ranking = tiers(&index.canon, |a, b| counts[b].cmp(&counts[a]));
    TallyResult::Approval { counts: option_counts(&index.canon, &counts), ranking }
}

#[cfg(test)]
mod tests;
