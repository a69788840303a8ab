//! Yes/no motions: a ballot is yes, no or abstain; the motion carries by its
//! majority rule.
//!
//! A yes/no poll has no options, so nothing here knows of merges.

use madang_protocol::{Ballot, MajorityRule, TallyResult, YesNoChoice};

use super::counting::add_u32;
use super::hand_count::{MAX_HALL_COUNT, count as checked, invalid, weight};
use crate::domain::DomainError;

/// Check a hand count of yes, no and abstain: each a plausible number of people, and so is their sum.
pub(super) fn validate_hall_count(yes: i64, no: i64, abstain: i64) -> Result<(), DomainError> {
    let max = u64::from(MAX_HALL_COUNT);
    let total = checked("yes", yes, max)? + checked("no", no, max)? + checked("abstain", abstain, max)?;
    if total > max {
        return Err(invalid(format!("yes, no and abstain add up to {total}: at most {max} people")));
    }
    Ok(())
}

/// People without a device that the hand count stands for.
pub(super) fn people_counted(yes: i64, no: i64, abstain: i64) -> u64 {
    weight(yes) + weight(no) + weight(abstain)
}

/// The totals as one weighted ballot per choice.
pub(super) fn weighted_ballots(yes: i64, no: i64, abstain: i64, out: &mut Vec<(Ballot, u64)>) {
    for (choice, n) in [(YesNoChoice::Yes, yes), (YesNoChoice::No, no), (YesNoChoice::Abstain, abstain)] {
        out.push((Ballot::YesNo { choice }, weight(n)));
    }
}

/// Whether a yes/no motion carries:
///
/// - `Simple`: more yes than no (`yes > no`); abstentions do not count.
/// - `Absolute`: yes is more than half of all ballots, abstentions included
///   (`2·yes > yes + no + abstain`). So abstaining works like voting no.
/// - `TwoThirds`: at least two thirds of the yes and no ballots are yes
///   (`3·yes ≥ 2·(yes + no)`), and at least one yes, so an empty or
///   all-abstain poll does not carry. Exactly two thirds passes.
///
/// Arithmetic is in u64, so it cannot overflow.
fn passes(rule: MajorityRule, yes: u32, no: u32, abstain: u32) -> bool {
    let (yes, no, abstain) = (u64::from(yes), u64::from(no), u64::from(abstain));
    match rule {
        MajorityRule::Simple => yes > no,
        MajorityRule::Absolute => 2 * yes > yes + no + abstain,
        MajorityRule::TwoThirds => yes > 0 && 3 * yes >= 2 * (yes + no),
    }
}

/// Counts yes, no and abstain. `tie` is `yes == no` under every rule (then the
/// motion never carries: no rule passes without more yes than no).
pub(super) fn count<'b>(rule: MajorityRule, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let (mut yes, mut no, mut abstain) = (0u32, 0u32, 0u32);
    for (ballot, weight) in ballots {
        if let Ballot::YesNo { choice } = ballot {
            let counter = match choice {
                YesNoChoice::Yes => &mut yes,
                YesNoChoice::No => &mut no,
                YesNoChoice::Abstain => &mut abstain,
            };
            add_u32(counter, weight);
        }
    }
    TallyResult::YesNo { yes, no, abstain, rule, passed: passes(rule, yes, no, abstain), tie: yes == no }
}

#[cfg(test)]
mod tests;
