//! The Bradley–Terry fit that ranks a pairwise poll's options.
//!
//! Bradley–Terry: option i is preferred over j with probability
//! `p_i / (p_i + p_j)`. Every option also gets a prior of one virtual win and
//! one virtual loss against a reference option of strength 1, so estimates
//! stay finite for options with no comparisons or only wins or only losses,
//! and an option nobody compared has strength exactly 1. The fit is Hunter's
//! (2004) MM iteration, every option updated from the previous iterate:
//!
//! ```text
//! p_i ← (W_i + 1) / (Σ_j N_ij / (p_i + p_j) + 2 / (p_i + 1))
//! ```
//!
//! with `W_i` the wins of i and `N_ij` the comparisons of i and j, starting
//! from every `p_i = 1`, stopping when no `ln p_i` moved by more than
//! [`TOLERANCE`] or after [`MAX_ITERATIONS`]. Each denominator's terms are
//! summed in increasing order, so options in symmetric positions get
//! bit-identical estimates. The uncertainty is the standard error of `ln p_i`
//! from the observed Fisher information (the prior's comparisons included):
//! the square root of the diagonal of its inverse.

// Matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

/// The MM iteration stops when no log-strength moves more than this.
pub const TOLERANCE: f64 = 1e-10;
/// The MM iteration stops after this many rounds whatever happens.
pub const MAX_ITERATIONS: u32 = 5000;

/// A Bradley–Terry fit: per option, `ln p` and its standard error (unrounded).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub log_strength: Vec<f64>,
    pub std_error: Vec<f64>,
    /// MM rounds run.
    pub iterations: u32,
}

/// Fit the model to a square wins matrix (see the module comment).
pub fn fit(wins: &[Vec<u64>]) -> Fit {
    let k = wins.len();
    let n = |i: usize, j: usize| (wins[i][j].saturating_add(wins[j][i])) as f64;
    let won: Vec<f64> = (0..k).map(|i| wins[i].iter().map(|&w| w as f64).sum::<f64>() + 1.0).collect();
    let mut p = vec![1.0f64; k];
    let mut iterations = 0;
    let mut terms = Vec::with_capacity(k + 1);
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let mut next = vec![0.0f64; k];
        let mut moved = 0.0f64;
        for i in 0..k {
            terms.clear();
            terms.push(2.0 / (p[i] + 1.0));
            for j in (0..k).filter(|&j| j != i) {
                let nij = n(i, j);
                if nij > 0.0 {
                    terms.push(nij / (p[i] + p[j]));
                }
            }
            terms.sort_by(f64::total_cmp);
            next[i] = won[i] / terms.iter().sum::<f64>();
            moved = moved.max((next[i].ln() - p[i].ln()).abs());
        }
        p = next;
        if moved <= TOLERANCE {
            break;
        }
    }
    // Observed Fisher information of θ = ln p (the reference is fixed at θ = 0).
    let mut info = vec![vec![0.0f64; k]; k];
    for i in 0..k {
        let reference = p[i] / (p[i] + 1.0);
        info[i][i] += 2.0 * reference * (1.0 - reference);
        for j in (0..k).filter(|&j| j != i) {
            let nij = n(i, j);
            if nij > 0.0 {
                let pij = p[i] / (p[i] + p[j]);
                let v = nij * pij * (1.0 - pij);
                info[i][i] += v;
                info[i][j] -= v;
            }
        }
    }
    let std_error = inverse_diagonal(&info).into_iter().map(|v| v.max(0.0).sqrt()).collect();
    Fit { log_strength: p.iter().map(|x| x.ln()).collect(), std_error, iterations }
}

/// The diagonal of the inverse of a symmetric positive definite matrix, by
/// Cholesky factorisation. (The prior makes the information matrix strictly
/// diagonally dominant, hence positive definite.)
fn inverse_diagonal(m: &[Vec<f64>]) -> Vec<f64> {
    let k = m.len();
    let mut l = vec![vec![0.0f64; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = m[i][j] - (0..j).map(|t| l[i][t] * l[j][t]).sum::<f64>();
            l[i][j] = if i == j { s.max(f64::MIN_POSITIVE).sqrt() } else { s / l[j][j] };
        }
    }
    // (M⁻¹)_ii = Σ_t (L⁻¹)_ti²; solve L x = e_i column by column.
    let mut diag = vec![0.0f64; k];
    for i in 0..k {
        let mut x = vec![0.0f64; k];
        for r in i..k {
            let s: f64 = if r == i { 1.0 } else { 0.0 } - (i..r).map(|t| l[r][t] * x[t]).sum::<f64>();
            x[r] = s / l[r][r];
        }
        diag[i] = x.iter().map(|v| v * v).sum();
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A beat B once, nothing else: with the prior, A has 2 wins in 3
    /// comparisons and B 1 in 3. The model is symmetric under p ↦ 1/p with
    /// wins and losses swapped, so p_B = 1/p_A = 1/x, and A's MM fixed point
    /// x·(1/(x + 1/x) + 2/(x + 1)) = 2 reduces to x³ − x² − 2 = 0.
    #[test]
    fn worked_example_matches_the_hand_derived_fixed_point() {
        let f = fit(&[vec![0, 1], vec![0, 0]]);
        let x = f.log_strength[0].exp();
        assert!((x * x * x - x * x - 2.0).abs() < 1e-8, "x = {x}");
        assert!((x - 1.695_620_8).abs() < 1e-6, "x = {x}");
        assert!((f.log_strength[0] + f.log_strength[1]).abs() < 1e-9);
        // Standard errors: information [[a, -c], [-c, a]] with c = π(1-π),
        // π = x²/(x²+1), a = c + 2·r(1-r), r = x/(x+1); its inverse's diagonal is a/(a²-c²).
        let pi = x * x / (x * x + 1.0);
        let r = x / (x + 1.0);
        let c = pi * (1.0 - pi);
        let a = c + 2.0 * r * (1.0 - r);
        let se = (a / (a * a - c * c)).sqrt();
        assert!((f.std_error[0] - se).abs() < 1e-9 && (f.std_error[1] - se).abs() < 1e-9);
    }

    /// The fit satisfies the likelihood equations: each option's wins (prior
    /// included) equal its expected wins.
    #[test]
    fn the_fit_solves_the_likelihood_equations() {
        let wins = vec![vec![0, 3, 5, 1], vec![2, 0, 4, 0], vec![1, 2, 0, 6], vec![4, 0, 1, 0]];
        let f = fit(&wins);
        assert!(f.iterations < MAX_ITERATIONS);
        let p: Vec<f64> = f.log_strength.iter().map(|x| x.exp()).collect();
        for i in 0..4 {
            let observed = wins[i].iter().sum::<u64>() as f64 + 1.0;
            let mut expected = 2.0 * p[i] / (p[i] + 1.0);
            for j in (0..4).filter(|&j| j != i) {
                expected += (wins[i][j] + wins[j][i]) as f64 * p[i] / (p[i] + p[j]);
            }
            assert!((observed - expected).abs() < 1e-7, "option {i}: {observed} vs {expected}");
        }
    }

    #[test]
    fn adding_a_win_never_lowers_the_winner() {
        let base = vec![vec![0, 1, 2, 0], vec![2, 0, 1, 1], vec![0, 2, 0, 3], vec![1, 1, 0, 0]];
        for i in 0..4 {
            for j in (0..4).filter(|&j| j != i) {
                let before = fit(&base).log_strength;
                let mut more = base.clone();
                more[i][j] += 1;
                let after = fit(&more).log_strength;
                assert!(after[i] >= before[i] - 1e-9, "win {i} over {j}: {} < {}", after[i], before[i]);
                assert!(after[j] <= before[j] + 1e-9, "loss of {j} to {i}");
            }
        }
    }
}
