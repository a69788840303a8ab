//! Instant-runoff: rounds of first choices among the continuing options,
//! eliminating the fewest each round, every round kept for the outcome.

use std::collections::HashMap;

use madang_protocol::OptionId;

use super::WeightedRanking;

/// One round of instant-runoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrvRound {
    /// Ballots whose highest continuing option is each continuing option, in option order.
    pub counts: Vec<(OptionId, u64)>,
    /// Ballots with no continuing option left.
    pub exhausted: u64,
    /// Options eliminated after this round (empty in the last round).
    pub eliminated: Vec<OptionId>,
    /// More than one option shared the fewest votes and all of them were
    /// eliminated together (the documented rule; no option is picked over another).
    pub simultaneous: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrvResult {
    pub rounds: Vec<IrvRound>,
    /// One winner, or several when the last continuing options tie.
    pub winners: Vec<OptionId>,
}

/// Instant-runoff: each round counts every ballot for its highest-ranked
/// continuing option; the options with the fewest votes are eliminated, all
/// of them together when several share the fewest (so no tie is broken by an
/// arbitrary choice); this repeats until one option is left, or the
/// continuing options all tie, in which case they are the (tied) winners.
/// An option with a majority of the continuing ballots wins the same way, as
/// it can never have the fewest votes.
pub fn instant_runoff(options: &[OptionId], profile: &[WeightedRanking]) -> IrvResult {
    let mut continuing: Vec<OptionId> = options.to_vec();
    let mut rounds = Vec::new();
    loop {
        let mut counts: HashMap<OptionId, u64> = continuing.iter().map(|o| (*o, 0)).collect();
        let mut exhausted = 0u64;
        for (ranking, weight) in profile {
            match ranking.iter().find(|o| counts.contains_key(o)).and_then(|o| counts.get_mut(o)) {
                Some(c) => *c = c.saturating_add(*weight),
                None => exhausted = exhausted.saturating_add(*weight),
            }
        }
        let counts: Vec<(OptionId, u64)> = continuing.iter().map(|o| (*o, counts[o])).collect();
        let fewest = counts.iter().map(|(_, c)| *c).min().unwrap_or(0);
        let lowest: Vec<OptionId> = counts.iter().filter(|(_, c)| *c == fewest).map(|(o, _)| *o).collect();
        if continuing.len() <= 1 || lowest.len() == continuing.len() {
            rounds.push(IrvRound { counts, exhausted, eliminated: Vec::new(), simultaneous: false });
            return IrvResult { rounds, winners: continuing };
        }
        continuing.retain(|o| !lowest.contains(o));
        let simultaneous = lowest.len() > 1;
        rounds.push(IrvRound { counts, exhausted, eliminated: lowest, simultaneous });
    }
}

/// Instant-runoff as tiers: the winners, then the options eliminated last
/// before those eliminated earlier; options eliminated together share a tier.
pub(super) fn runoff_order(result: &IrvResult) -> Vec<Vec<OptionId>> {
    let mut tiers = vec![result.winners.clone()];
    tiers.extend(result.rounds.iter().rev().filter(|r| !r.eliminated.is_empty()).map(|r| r.eliminated.clone()));
    tiers.retain(|t| !t.is_empty());
    tiers
}
