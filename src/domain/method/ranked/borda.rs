//! Borda count: points by position in each ranking, and the first choices
//! that the tally shows beside them.

use std::collections::HashMap;

use madang_protocol::OptionId;

use super::WeightedRanking;

/// Borda points: with n options, the option at position k (0-based) of a
/// ranking gets n-1-k points times the weight; unranked options get 0.
pub fn borda(options: &[OptionId], profile: &[WeightedRanking]) -> Vec<(OptionId, u64)> {
    let n = options.len() as u64;
    let mut points: HashMap<OptionId, u64> = options.iter().map(|o| (*o, 0)).collect();
    for (ranking, weight) in profile {
        for (k, option) in ranking.iter().enumerate() {
            if let Some(p) = points.get_mut(option) {
                *p = p.saturating_add(n.saturating_sub(1 + k as u64).saturating_mul(*weight));
            }
        }
    }
    options.iter().map(|o| (*o, points[o])).collect()
}

/// Ballots ranking each option first, in option order.
pub fn first_choices(options: &[OptionId], profile: &[WeightedRanking]) -> Vec<(OptionId, u64)> {
    let mut counts: HashMap<OptionId, u64> = options.iter().map(|o| (*o, 0)).collect();
    for (ranking, weight) in profile {
        if let Some(c) = ranking.first().and_then(|o| counts.get_mut(o)) {
            *c = c.saturating_add(*weight);
        }
    }
    options.iter().map(|o| (*o, counts[o])).collect()
}

/// Tiers of options by a score, highest first; equal scores share a tier (option order within).
pub fn tiers_by_score(scores: &[(OptionId, u64)]) -> Vec<Vec<OptionId>> {
    let mut sorted: Vec<(OptionId, u64)> = scores.to_vec();
    sorted.sort_by_key(|&(_, score)| std::cmp::Reverse(score));
    let mut tiers: Vec<Vec<OptionId>> = Vec::new();
    let mut last: Option<u64> = None;
    for (option, score) in sorted {
        match tiers.last_mut() {
            Some(tier) if last == Some(score) => tier.push(option),
            _ => tiers.push(vec![option]),
        }
        last = Some(score);
    }
    // Within a tier, keep the options' own order.
    let position: HashMap<OptionId, usize> = scores.iter().enumerate().map(|(i, (o, _))| (*o, i)).collect();
    tiers.iter_mut().for_each(|t| t.sort_by_key(|o| position[o]));
    tiers
}
