//! Schulze's method: margins as link strengths, widest paths, and tiers of
//! the options no remaining option beats.

use madang_protocol::OptionId;

use super::{PairwiseMatrix, WeightedRanking};

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
