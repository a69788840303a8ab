//! Hall counts: what the moderator enters for people in the hall without a
//! device, checked and turned into weighted ballots for the tally.
//!
//! A hand count is not a list of ballots: for approval, dots and score it is
//! per-option totals. Each total becomes one single-option ballot weighted by
//! the total (12 people approving option 2 is a ballot `[2]` of weight 12),
//! which gives exactly the per-option counts, sums and score distributions the
//! hall reported; paper rankings are weighted by their count. The tally never
//! expands a weight into copies. `people` (the number of hall people without a
//! device who took part) is entered separately where totals cannot tell it.

use std::collections::HashSet;

use madang_protocol::{Allocation, Ballot, HallCounts, MAX_SCORE, OptionId, PollMethod, ScoreEntry, YesNoChoice};

use super::decide::DomainError;
use super::tally::{self, BallotError, OptionSet};

/// No hall holds more people than this: a larger number is a typo.
pub const MAX_HALL_COUNT: u32 = 100_000;
/// Distinct paper rankings in one entry.
pub const MAX_PAPER_RANKINGS: usize = 1_000;

type Result<T> = std::result::Result<T, DomainError>;

fn invalid(message: String) -> DomainError {
    DomainError::Invalid(message)
}

/// A count from the wire, as a checked number of people (or dots).
fn count(what: &str, value: i64, max: u64) -> Result<u64> {
    match u64::try_from(value) {
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(invalid(format!("{what} is {value}: at most {max} is allowed"))),
        Err(_) => Err(invalid(format!("{what} is {value}: counts cannot be negative"))),
    }
}

/// A headcount from the wire.
pub fn headcount(value: i64) -> Result<u32> {
    // The bound is a u32, so the conversion cannot fail.
    count("the headcount", value, u64::from(MAX_HALL_COUNT)).map(|n| u32::try_from(n).unwrap_or(MAX_HALL_COUNT))
}

fn people(value: i64) -> Result<u64> {
    count("people", value, u64::from(MAX_HALL_COUNT))
}

/// Every option named once, and known to the poll.
fn check_options(all: &[OptionId], named: impl IntoIterator<Item = OptionId>) -> Result<()> {
    let mut seen = HashSet::new();
    for option in named {
        if !all.contains(&option) {
            return Err(invalid(format!("option {option} is not an option of this poll")));
        }
        if !seen.insert(option) {
            return Err(invalid(format!("option {option} is counted more than once")));
        }
    }
    Ok(())
}

fn kind(counts: &HallCounts) -> &'static str {
    match counts {
        HallCounts::YesNo { .. } => "yes_no",
        HallCounts::Approval { .. } => "approval",
        HallCounts::Dots { .. } => "dots",
        HallCounts::Score { .. } => "score",
        HallCounts::Ranked { .. } => "ranked",
    }
}

/// Check a hand count against the poll's method and options. Numbers must
/// be whole, not negative, and plausible for the people counted; each paper
/// ranking must pass the same rules as a device ballot (the error names the
/// rule, as for a device ballot).
pub fn validate(method: &PollMethod, options: &OptionSet<'_>, counts: &HallCounts) -> Result<()> {
    let max = u64::from(MAX_HALL_COUNT);
    match (method, counts) {
        (PollMethod::YesNo { .. }, HallCounts::YesNo { yes, no, abstain }) => {
            let total = count("yes", *yes, max)? + count("no", *no, max)? + count("abstain", *abstain, max)?;
            if total > max {
                return Err(invalid(format!("yes, no and abstain add up to {total}: at most {max} people")));
            }
            Ok(())
        }
        (PollMethod::Approval { .. }, HallCounts::Approval { people: n, counts }) => {
            let n = people(*n)?;
            check_options(options.all, counts.iter().map(|c| c.option))?;
            for c in counts {
                // One person approves an option at most once.
                count(&format!("the count for option {}", c.option), c.count, n)?;
            }
            Ok(())
        }
        (PollMethod::Dots { budget, max_per_option }, HallCounts::Dots { people: n, counts }) => {
            let n = people(*n)?;
            check_options(options.all, counts.iter().map(|c| c.option))?;
            let per_option = n.saturating_mul(u64::from(*max_per_option));
            let mut spent = 0u64;
            for c in counts {
                spent += count(&format!("the dots on option {}", c.option), c.count, per_option)?;
            }
            let budget = n.saturating_mul(u64::from(*budget));
            if spent > budget {
                return Err(invalid(format!("{spent} dots in all is more than {n} people may place ({budget})")));
            }
            Ok(())
        }
        (PollMethod::Score {}, HallCounts::Score { people: n, scores }) => {
            let n = people(*n)?;
            check_options(options.all, scores.iter().map(|s| s.option))?;
            for s in scores {
                let mut scored = 0u64;
                for (score, &c) in s.distribution.iter().enumerate() {
                    scored += count(&format!("the count of score {score} for option {}", s.option), c, n)?;
                }
                if scored > n {
                    return Err(invalid(format!("{scored} people scored option {} but only {n} took part", s.option)));
                }
            }
            Ok(())
        }
        (PollMethod::Ranked { .. }, HallCounts::Ranked { ballots }) => {
            if ballots.len() > MAX_PAPER_RANKINGS {
                return Err(invalid(format!("at most {MAX_PAPER_RANKINGS} distinct rankings in one entry")));
            }
            let mut total = 0u64;
            for (index, paper) in ballots.iter().enumerate() {
                let n = count(&format!("the count of paper ranking {}", index + 1), paper.count, max)?;
                if n == 0 {
                    return Err(invalid(format!("the count of paper ranking {} must be at least 1", index + 1)));
                }
                total += n;
                let ballot = Ballot::Ranked { ranking: paper.ranking.clone() };
                tally::validate_ballot(method, options, &ballot).map_err(|e| {
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
        _ => Err(invalid(format!("this poll takes {} hall counts (got {})", method.kind(), kind(counts)))),
    }
}

/// A count already validated; a negative one (never in a valid log) counts 0.
fn weight(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// How many hall people without a device a hand count stands for: for
/// yes/no `yes + no + abstain`, for ranked polls the sum of the paper
/// ballots' counts, otherwise the `people` entered.
pub fn people_counted(counts: &HallCounts) -> u32 {
    let total = match counts {
        HallCounts::YesNo { yes, no, abstain } => weight(*yes) + weight(*no) + weight(*abstain),
        HallCounts::Approval { people, .. } | HallCounts::Dots { people, .. } | HallCounts::Score { people, .. } => {
            weight(*people)
        }
        HallCounts::Ranked { ballots } => ballots.iter().map(|b| weight(b.count)).fold(0u64, u64::saturating_add),
    };
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// The hand count as weighted ballots that the tally counts exactly like the
/// totals entered (see the module comment). Zero weights are left out.
pub fn weighted_ballots(counts: &HallCounts) -> Vec<(Ballot, u64)> {
    let mut out = Vec::new();
    match counts {
        HallCounts::YesNo { yes, no, abstain } => {
            for (choice, n) in [(YesNoChoice::Yes, yes), (YesNoChoice::No, no), (YesNoChoice::Abstain, abstain)] {
                out.push((Ballot::YesNo { choice }, weight(*n)));
            }
        }
        HallCounts::Approval { counts, .. } => {
            for c in counts {
                out.push((Ballot::Approval { options: vec![c.option] }, weight(c.count)));
            }
        }
        HallCounts::Dots { counts, .. } => {
            // One dot on the option, weighted by the dots placed on it.
            for c in counts {
                out.push((
                    Ballot::Dots { allocations: vec![Allocation { option: c.option, dots: 1 }] },
                    weight(c.count),
                ));
            }
        }
        HallCounts::Score { scores, .. } => {
            for s in scores {
                for (score, &n) in (0u8..=MAX_SCORE).zip(s.distribution.iter()) {
                    out.push((Ballot::Score { scores: vec![ScoreEntry { option: s.option, score }] }, weight(n)));
                }
            }
        }
        HallCounts::Ranked { ballots } => {
            for paper in ballots {
                out.push((Ballot::Ranked { ranking: paper.ranking.clone() }, weight(paper.count)));
            }
        }
    }
    out.retain(|(_, w)| *w > 0);
    out
}
