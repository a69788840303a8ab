//! Pairwise polls: which pair a participant is shown next, and the
//! Bradley–Terry fit that ranks the options from the comparisons.
//!
//! Pure and deterministic: no randomness and no clock. The same comparisons
//! always give the same tally, byte for byte.
//!
//! Which pair a participant sees next is `pair_choice`; the model that
//! ranks the options is `bradley_terry`. This file holds the comparisons as
//! the forum keeps them, the rules a comparison must pass, and the tally.
//!
//! **Ranking.** By `ln p_i` rounded to 6 decimals, highest first; equal
//! rounded values are one tier, in option order. Every float of the result
//! is rounded to 6 decimals, so it reads back from JSON as the same value
//! (the journal's hash chain re-serializes outcomes on replay).

mod bradley_terry;
mod pair_choice;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use madang_protocol::{OptionId, PairwiseStat, ParticipantId, TallyResult};
use serde::{Deserialize, Serialize};

use bradley_terry::fit;
pub(crate) use pair_choice::next_pair;

use super::{BallotError, OptionIndex};

/// Log-strengths and standard errors are rounded to this many decimals.
const DECIMALS: f64 = 1e6;

/// One participant's answer to one pair. `a < b` are the raw option ids as answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub a: OptionId,
    pub b: OptionId,
    /// `None`: "can't decide".
    pub winner: Option<OptionId>,
    /// The poll's answer counter when it was given: the later answer wins
    /// when two answers come to count for the same pair after a merge.
    pub order: u64,
}

/// The comparisons of one pairwise poll, as the forum holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparisons {
    /// Each participant's answers, one per raw pair (a later answer replaces the earlier).
    pub answers: BTreeMap<ParticipantId, Vec<Answer>>,
    /// The pair last offered to each participant.
    pub offers: BTreeMap<ParticipantId, [OptionId; 2]>,
    /// Answers given so far (replacements included).
    pub given: u64,
}

impl Comparisons {
    /// Record an answer; the same raw pair answered again replaces the earlier answer.
    pub fn answer(&mut self, participant: ParticipantId, winner: OptionId, loser: OptionId, skip: bool) {
        self.given = self.given.saturating_add(1);
        let (a, b) = if winner <= loser { (winner, loser) } else { (loser, winner) };
        let answer = Answer { a, b, winner: (!skip).then_some(winner), order: self.given };
        let list = self.answers.entry(participant).or_default();
        match list.iter_mut().find(|x| x.a == a && x.b == b) {
            Some(slot) => *slot = answer,
            None => list.push(answer),
        }
        if self.offers.get(&participant).is_some_and(|o| (o[0].min(o[1]), o[0].max(o[1])) == (a, b)) {
            self.offers.remove(&participant);
        }
    }
}

/// Check a comparison of `winner` over `loser`: two different options of the
/// poll, each counting for itself (a merged option is compared as its target).
pub(crate) fn validate_comparison(options: &OptionIndex, winner: OptionId, loser: OptionId) -> Result<(), BallotError> {
    for option in [winner, loser] {
        match options.counts_for(option) {
            None => {
                let message = format!("option {option} is not an option of this poll");
                return Err(BallotError { rule: "option.unknown", message });
            }
            Some(target) if target != option => {
                let message = format!("option {option} was merged into option {target}: compare option {target}");
                return Err(BallotError { rule: "pairwise.merged", message });
            }
            Some(_) => {}
        }
    }
    if winner == loser {
        let message = format!("a pair is two different options (got option {winner} twice)");
        return Err(BallotError { rule: "pairwise.same_option", message });
    }
    Ok(())
}

/// The canonical pair of rows (lower first) of two options; `None` when
/// either is unknown or both count for the same option.
fn canonical_pair(options: &OptionIndex, x: OptionId, y: OptionId) -> Option<(usize, usize)> {
    let (i, j) = (options.row_of(x)?, options.row_of(y)?);
    (i != j).then(|| (i.min(j), i.max(j)))
}

/// One participant's answers by canonical pair of rows: the latest answer for each.
fn latest(options: &OptionIndex, answers: &[Answer]) -> BTreeMap<(usize, usize), Answer> {
    let mut out: BTreeMap<(usize, usize), Answer> = BTreeMap::new();
    for answer in answers {
        if let Some(key) = canonical_pair(options, answer.a, answer.b) {
            let slot = out.entry(key).or_insert(*answer);
            if answer.order >= slot.order {
                *slot = *answer;
            }
        }
    }
    out
}

/// The wins matrix (rows in `options.canon` order) and the skips of the given participants' answers.
pub(crate) fn wins<'a>(options: &OptionIndex, answers: impl Iterator<Item = &'a Vec<Answer>>) -> (Vec<Vec<u64>>, u64) {
    let k = options.canon.len();
    let mut wins = vec![vec![0u64; k]; k];
    let mut skipped = 0u64;
    for list in answers {
        for ((i, j), answer) in latest(options, list) {
            match answer.winner.and_then(|w| options.row_of(w)) {
                Some(w) if w == i => wins[i][j] = wins[i][j].saturating_add(1),
                Some(w) if w == j => wins[j][i] = wins[j][i].saturating_add(1),
                _ => skipped = skipped.saturating_add(1),
            }
        }
    }
    (wins, skipped)
}

fn round(x: f64) -> f64 {
    let r = (x * DECIMALS).round() / DECIMALS;
    // No negative zero on the wire.
    if r == 0.0 { 0.0 } else { r }
}

/// The tally result of a wins matrix over `canon` (in its order).
pub(crate) fn result(canon: &[OptionId], wins: Vec<Vec<u64>>, skipped: u64) -> TallyResult {
    let fit = fit(&wins);
    let k = canon.len();
    let stats: Vec<PairwiseStat> = (0..k)
        .map(|i| {
            let log_strength = round(fit.log_strength[i]);
            PairwiseStat {
                option: canon[i],
                wins: wins[i].iter().fold(0u64, |s, &w| s.saturating_add(w)),
                losses: (0..k).fold(0u64, |s, j| s.saturating_add(wins[j][i])),
                // Rounded too: every float on the wire and in the log survives a JSON round trip.
                strength: round(log_strength.exp()),
                log_strength,
                std_error: round(fit.std_error[i]),
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&x, &y| stats[y].log_strength.total_cmp(&stats[x].log_strength).then(x.cmp(&y)));
    let mut ranking: Vec<Vec<OptionId>> = Vec::new();
    let mut last: Option<f64> = None;
    for i in order {
        let value = stats[i].log_strength;
        match ranking.last_mut() {
            Some(tier) if last == Some(value) => tier.push(canon[i]),
            _ => ranking.push(vec![canon[i]]),
        }
        last = Some(value);
    }
    let comparisons = wins.iter().flatten().fold(0u64, |s, &w| s.saturating_add(w));
    TallyResult::Pairwise { comparisons, skipped, stats, wins, ranking }
}

/// The tally of a poll nobody compared: every option tied at strength 1.
pub(crate) fn no_comparisons(options: &OptionIndex) -> TallyResult {
    let k = options.canon.len();
    result(&options.canon, vec![vec![0; k]; k], 0)
}
