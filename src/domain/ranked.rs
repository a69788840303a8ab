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

use std::collections::HashMap;

use madang_protocol::OptionId;

/// A weighted ranking. Options must be distinct and among the profile's options.
pub type WeightedRanking = (Vec<OptionId>, u64);

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchulzeResult {
    /// `pairwise[i][j]`: ballots ranking option i above option j (option order).
    pub pairwise: Vec<Vec<u64>>,
    /// `strongest[i][j]`: the strength of the strongest path from i to j,
    /// where a link i→j exists when i beats j and has strength margin(i, j).
    pub strongest: Vec<Vec<u64>>,
    /// Tiers, best first: i is above j when strongest[i][j] > strongest[j][i].
    pub ranking: Vec<Vec<OptionId>>,
}

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

/// Pairwise counts kept up to date ballot by ballot: adding or removing one
/// ranking costs O(k·n) for a ranking of k over n options, so a live
/// Schulze tally never recounts every ballot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairwiseMatrix {
    options: Vec<OptionId>,
    index: HashMap<OptionId, usize>,
    /// Row-major n×n: `counts[i*n + j]` ballots rank option i above option j.
    counts: Vec<u64>,
}

impl PairwiseMatrix {
    pub fn new(options: &[OptionId]) -> PairwiseMatrix {
        let n = options.len();
        PairwiseMatrix {
            options: options.to_vec(),
            index: options.iter().enumerate().map(|(i, o)| (*o, i)).collect(),
            counts: vec![0; n * n],
        }
    }

    pub fn options(&self) -> &[OptionId] {
        &self.options
    }

    pub fn add(&mut self, ranking: &[OptionId], weight: u64) {
        self.update(ranking, |c| *c = c.saturating_add(weight));
    }

    /// Take back a ranking added earlier (a replaced ballot).
    pub fn remove(&mut self, ranking: &[OptionId], weight: u64) {
        self.update(ranking, |c| *c = c.saturating_sub(weight));
    }

    /// Add every count of `other` (over the same options).
    pub fn absorb(&mut self, other: &PairwiseMatrix) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    pub fn rows(&self) -> Vec<Vec<u64>> {
        let n = self.options.len();
        (0..n).map(|i| self.counts[i * n..(i + 1) * n].to_vec()).collect()
    }

    /// A listed option is above every option listed after it and above every
    /// option not listed; unlisted options say nothing about each other.
    fn update(&mut self, ranking: &[OptionId], mut change: impl FnMut(&mut u64)) {
        let n = self.options.len();
        let positions: Vec<usize> = ranking.iter().filter_map(|o| self.index.get(o).copied()).collect();
        let mut listed = vec![false; n];
        positions.iter().for_each(|&i| listed[i] = true);
        for (k, &i) in positions.iter().enumerate() {
            for &j in &positions[k + 1..] {
                change(&mut self.counts[i * n + j]);
            }
            for j in (0..n).filter(|&j| !listed[j]) {
                change(&mut self.counts[i * n + j]);
            }
        }
    }
}

/// For each ordered pair, the weight of ballots ranking the first above the second.
pub fn pairwise(options: &[OptionId], profile: &[WeightedRanking]) -> Vec<Vec<u64>> {
    let mut matrix = PairwiseMatrix::new(options);
    for (ranking, weight) in profile {
        matrix.add(ranking, *weight);
    }
    matrix.rows()
}

/// Schulze's method with margins as link strengths.
pub fn schulze(options: &[OptionId], profile: &[WeightedRanking]) -> SchulzeResult {
    schulze_from_pairwise(options, pairwise(options, profile))
}

/// Schulze's method from pairwise counts already kept (see [`PairwiseMatrix`]).
pub fn schulze_from_pairwise(options: &[OptionId], d: Vec<Vec<u64>>) -> SchulzeResult {
    let n = options.len();
    let mut p = vec![vec![0u64; n]; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && d[i][j] > d[j][i] {
                p[i][j] = d[i][j] - d[j][i];
            }
        }
    }
    // Widest paths (Floyd–Warshall with max-min).
    for k in 0..n {
        for i in 0..n {
            if i == k {
                continue;
            }
            for j in 0..n {
                if j != i && j != k {
                    p[i][j] = p[i][j].max(p[i][k].min(p[k][j]));
                }
            }
        }
    }
    let beats = |i: usize, j: usize| p[i][j] > p[j][i];
    let mut remaining: Vec<usize> = (0..n).collect();
    let mut ranking = Vec::new();
    while !remaining.is_empty() {
        // Unbeaten among the rest; the relation is a strict partial order, so the tier is never empty.
        let tier: Vec<usize> = remaining.iter().copied().filter(|&i| !remaining.iter().any(|&j| beats(j, i))).collect();
        let tier = if tier.is_empty() { remaining.clone() } else { tier };
        remaining.retain(|i| !tier.contains(i));
        ranking.push(tier.into_iter().map(|i| options[i]).collect());
    }
    SchulzeResult { pairwise: d, strongest: p, ranking }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> Vec<OptionId> {
        (1..=n).map(OptionId).collect()
    }

    fn r(order: &[u32], weight: u64) -> WeightedRanking {
        (order.iter().map(|o| OptionId(*o)).collect(), weight)
    }

    /// The Tennessee capital example from the English Wikipedia articles on
    /// instant-runoff voting, the Borda count and the Condorcet method:
    /// Memphis (1) 42%, Nashville (2) 26%, Chattanooga (3) 15%, Knoxville (4) 17%.
    fn tennessee() -> Vec<WeightedRanking> {
        vec![r(&[1, 2, 3, 4], 42), r(&[2, 3, 4, 1], 26), r(&[3, 4, 2, 1], 15), r(&[4, 3, 2, 1], 17)]
    }

    #[test]
    fn tennessee_instant_runoff_elects_knoxville() {
        let result = instant_runoff(&ids(4), &tennessee());
        // Round 1: Chattanooga (15) out; round 2: Nashville (26) out; Knoxville 58 beats Memphis 42.
        assert_eq!(
            result.rounds[0].counts,
            vec![(OptionId(1), 42), (OptionId(2), 26), (OptionId(3), 15), (OptionId(4), 17)]
        );
        assert_eq!(result.rounds[0].eliminated, vec![OptionId(3)]);
        assert_eq!(result.rounds[1].counts, vec![(OptionId(1), 42), (OptionId(2), 26), (OptionId(4), 32)]);
        assert_eq!(result.rounds[1].eliminated, vec![OptionId(2)]);
        assert_eq!(result.rounds[2].counts, vec![(OptionId(1), 42), (OptionId(4), 58)]);
        assert_eq!(result.rounds[2].eliminated, vec![OptionId(1)]);
        assert_eq!(result.winners, vec![OptionId(4)]);
        assert!(result.rounds.iter().all(|round| !round.simultaneous));
    }

    #[test]
    fn tennessee_borda_and_schulze_elect_nashville() {
        // Borda (Wikipedia, "Borda count", Tennessee): Nashville 194, Chattanooga 173, Memphis 126, Knoxville 107.
        let points = borda(&ids(4), &tennessee());
        assert_eq!(points, vec![(OptionId(1), 126), (OptionId(2), 194), (OptionId(3), 173), (OptionId(4), 107)]);
        // Nashville is the Condorcet winner (Wikipedia, "Condorcet method"): it beats each other city.
        let s = schulze(&ids(4), &tennessee());
        assert_eq!(s.pairwise[1][0], 58);
        assert_eq!(s.pairwise[1][2], 68);
        assert_eq!(s.pairwise[1][3], 68);
        assert_eq!(s.ranking, vec![vec![OptionId(2)], vec![OptionId(3)], vec![OptionId(4)], vec![OptionId(1)]]);
    }

    /// The example of the English Wikipedia article "Schulze method": 45
    /// voters, candidates A..E; the result is E > A > C > B > D, and the
    /// strongest paths (there in winning votes; here margins, which give the
    /// same order for complete ballots) are as listed below.
    #[test]
    fn wikipedia_schulze_example() {
        let (a, b, c, d, e) = (1, 2, 3, 4, 5);
        let profile = vec![
            r(&[a, c, b, e, d], 5),
            r(&[a, d, e, c, b], 5),
            r(&[b, e, d, a, c], 8),
            r(&[c, a, b, e, d], 3),
            r(&[c, a, e, b, d], 7),
            r(&[c, b, a, d, e], 2),
            r(&[d, c, e, b, a], 7),
            r(&[e, b, a, d, c], 8),
        ];
        let s = schulze(&ids(5), &profile);
        // Pairwise counts d[*,*] from the article.
        assert_eq!(s.pairwise[0], vec![0, 20, 26, 30, 22]);
        assert_eq!(s.pairwise[1], vec![25, 0, 16, 33, 18]);
        assert_eq!(s.pairwise[2], vec![19, 29, 0, 17, 24]);
        assert_eq!(s.pairwise[3], vec![15, 12, 28, 0, 14]);
        assert_eq!(s.pairwise[4], vec![23, 27, 21, 31, 0]);
        let ranking: Vec<u32> = s.ranking.iter().map(|t| t[0].0).collect();
        assert!(s.ranking.iter().all(|t| t.len() == 1));
        assert_eq!(ranking, vec![e, a, c, b, d]);
        // The article's strongest paths in winning votes w are, from E: 25, 28, 28, 31 and
        // from A: 28, 28, 30, 24; margins are 2w - 45 (a monotone map, so the same paths).
        assert_eq!(s.strongest[4], vec![5, 11, 11, 17, 0]);
        assert_eq!(s.strongest[0], vec![0, 11, 11, 15, 3]);
    }

    #[test]
    fn instant_runoff_eliminates_tied_lowest_together_and_reports_a_final_tie() {
        // 1: 4 ballots, 2: 4, 3: 1, 4: 1 → 3 and 4 out together; their ballots exhaust; 1 and 2 tie.
        let profile = vec![r(&[1], 4), r(&[2], 4), r(&[3], 1), r(&[4], 1)];
        let result = instant_runoff(&ids(4), &profile);
        assert_eq!(result.rounds[0].eliminated, vec![OptionId(3), OptionId(4)]);
        assert!(result.rounds[0].simultaneous);
        assert_eq!(result.rounds[1].exhausted, 2);
        assert_eq!(result.winners, vec![OptionId(1), OptionId(2)]);
        assert_eq!(result.rounds.len(), 2);
    }

    #[test]
    fn truncated_rankings_count_listed_above_unlisted() {
        // One ballot ranks only 2; it prefers 2 to 1 and 3, and says nothing of 1 vs 3.
        let m = pairwise(&ids(3), &[r(&[2], 1)]);
        assert_eq!(m, vec![vec![0, 0, 0], vec![1, 0, 1], vec![0, 0, 0]]);
        let s = schulze(&ids(3), &[r(&[2], 1)]);
        assert_eq!(s.ranking, vec![vec![OptionId(2)], vec![OptionId(1), OptionId(3)]]);
    }

    #[test]
    fn a_condorcet_cycle_is_a_tie_under_schulze() {
        // Rock-paper-scissors: 1>2>3, 2>3>1, 3>1>2, one each: every margin is 1, every path 1.
        let profile = vec![r(&[1, 2, 3], 1), r(&[2, 3, 1], 1), r(&[3, 1, 2], 1)];
        let s = schulze(&ids(3), &profile);
        assert_eq!(s.ranking, vec![ids(3)]);
    }

    #[test]
    fn no_ballots_ties_everyone() {
        assert_eq!(instant_runoff(&ids(3), &[]).winners, ids(3));
        assert_eq!(schulze(&ids(3), &[]).ranking, vec![ids(3)]);
        assert_eq!(tiers_by_score(&borda(&ids(3), &[])), vec![ids(3)]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A profile over options 1..=n: up to 12 rankings (complete or truncated) with weights 1..=9.
        fn profile() -> impl Strategy<Value = (Vec<OptionId>, Vec<WeightedRanking>)> {
            (2u32..=6).prop_flat_map(|n| {
                let ranking = (Just((1..=n).map(OptionId).collect::<Vec<_>>()).prop_shuffle(), 0..=n as usize)
                    .prop_map(|(order, len)| order[..len.max(1)].to_vec());
                (Just(ids(n)), prop::collection::vec((ranking, 1u64..=9), 0..12))
            })
        }

        proptest! {
            #[test]
            fn ballot_order_does_not_matter((options, mut profile) in profile(), seed in any::<u64>()) {
                let before = (borda(&options, &profile), instant_runoff(&options, &profile), schulze(&options, &profile));
                let k = if profile.is_empty() { 0 } else { (seed as usize) % profile.len() };
                profile.rotate_left(k);
                profile.reverse();
                let after = (borda(&options, &profile), instant_runoff(&options, &profile), schulze(&options, &profile));
                prop_assert_eq!(before, after);
            }

            #[test]
            fn a_condorcet_winner_wins_schulze((options, profile) in profile()) {
                let d = pairwise(&options, &profile);
                let n = options.len();
                if let Some(w) = (0..n).find(|&i| (0..n).all(|j| j == i || d[i][j] > d[j][i])) {
                    prop_assert_eq!(schulze(&options, &profile).ranking[0].clone(), vec![options[w]]);
                }
            }

            #[test]
            fn a_majority_first_choice_wins_instant_runoff((options, profile) in profile()) {
                let total: u64 = profile.iter().map(|(_, w)| *w).sum();
                for (option, firsts) in first_choices(&options, &profile) {
                    if 2 * firsts > total {
                        prop_assert_eq!(instant_runoff(&options, &profile).winners, vec![option]);
                    }
                }
            }

            #[test]
            fn kept_pairwise_counts_equal_a_recount((options, profile) in profile(), replace in any::<prop::sample::Index>()) {
                // Add everything, take one ranking back and add it again: same counts as a recount.
                let mut matrix = PairwiseMatrix::new(&options);
                profile.iter().for_each(|(r, w)| matrix.add(r, *w));
                if !profile.is_empty() {
                    let (r, w) = &profile[replace.index(profile.len())];
                    matrix.remove(r, *w);
                    matrix.add(r, *w);
                }
                prop_assert_eq!(matrix.rows(), pairwise(&options, &profile));
            }
        }
    }
}
