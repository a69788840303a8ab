//! Pairwise counts kept ballot by ballot, so that a live Schulze tally of a
//! ranked poll costs O(n³) rather than a recount of every ballot.
//!
//! The counts are derived from the poll's ballots and never stored: the
//! forum recounts them after a merge and after a snapshot is loaded.

use std::collections::HashMap;

use madang_protocol::{Ballot, OptionId};

use super::counted_ranking;
use crate::domain::method::OptionIndex;

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

/// Pairwise counts of a ranked poll's device ballots, per channel, so that a
/// live tally does not recount every ballot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LivePairwise {
    pub remote: PairwiseMatrix,
    pub hall: PairwiseMatrix,
}

impl LivePairwise {
    /// Count the device ballots afresh; `in_hall` says which channel a ballot came from.
    pub(crate) fn recount<'b>(options: &OptionIndex, ballots: impl Iterator<Item = (&'b Ballot, bool)>) -> Self {
        let counted = options.counted();
        let mut live = LivePairwise { remote: PairwiseMatrix::new(counted), hall: PairwiseMatrix::new(counted) };
        for (ballot, in_hall) in ballots {
            let Ballot::Ranked { ranking } = ballot else { continue };
            live.channel(in_hall).add(&counted_ranking(options, ranking), 1);
        }
        live
    }

    /// A participant's ballot replaced by `new` (`old` is `None` for their first).
    pub(crate) fn replace(&mut self, options: &OptionIndex, old: Option<&Ballot>, new: &Ballot, in_hall: bool) {
        let counted = |ballot: &Ballot| match ballot {
            Ballot::Ranked { ranking } => Some(counted_ranking(options, ranking)),
            _ => None,
        };
        let (old, new) = (old.and_then(counted), counted(new));
        let matrix = self.channel(in_hall);
        old.iter().for_each(|ranking| matrix.remove(ranking, 1));
        new.iter().for_each(|ranking| matrix.add(ranking, 1));
    }

    fn channel(&mut self, in_hall: bool) -> &mut PairwiseMatrix {
        if in_hall { &mut self.hall } else { &mut self.remote }
    }
}
