//! The arithmetic that every method's count shares: saturating weights,
//! per-ballot scratch space, and grouping options into tiers.
//!
//! Nothing here knows a method's rules; it only keeps counts exact and
//! independent of ballot order.

use std::cmp::Ordering;

use madang_protocol::{OptionCount, OptionId};

pub(super) fn add_u32(counter: &mut u32, weight: u64) {
    *counter = u32::try_from(u64::from(*counter).saturating_add(weight)).unwrap_or(u32::MAX);
}

pub(super) fn option_counts(canon: &[OptionId], counts: &[u64]) -> Vec<OptionCount> {
    canon.iter().zip(counts).map(|(&option, &count)| OptionCount { option, count }).collect()
}

/// Groups the canonical options into tiers, best first. `order(a, b)` on rows
/// is `Less` when `a` ranks above `b` and `Equal` when they tie. The sort is
/// stable, so tier members stay in poll order. No empty tiers; no options, no tiers.
pub(super) fn tiers(canon: &[OptionId], order: impl Fn(usize, usize) -> Ordering) -> Vec<Vec<OptionId>> {
    let mut rows: Vec<usize> = (0..canon.len()).collect();
    rows.sort_by(|&a, &b| order(a, b));
    let mut ranking: Vec<Vec<OptionId>> = Vec::new();
    let mut previous: Option<usize> = None;
    for row in rows {
        match (previous, ranking.last_mut()) {
            (Some(prev), Some(tier)) if order(prev, row) == Ordering::Equal => tier.push(canon[row]),
            _ => ranking.push(vec![canon[row]]),
        }
        previous = Some(row);
    }
    ranking
}

/// Scratch space for one ballot: a value per row, remembered in the order rows
/// were first touched and cleared in O(touched) between ballots.
pub(super) struct PerBallot<T> {
    slots: Vec<Option<T>>,
    touched: Vec<usize>,
}

impl<T: Copy + Ord> PerBallot<T> {
    pub(super) fn new(rows: usize) -> Self {
        PerBallot { slots: vec![None; rows], touched: Vec::new() }
    }

    /// Records `value` for `row` unless the row already has one.
    pub(super) fn keep_first(&mut self, row: usize, value: T) {
        if let Some(slot @ None) = self.slots.get_mut(row) {
            *slot = Some(value);
            self.touched.push(row);
        }
    }

    /// Records `value` for `row`, keeping the larger if the row already has one.
    pub(super) fn keep_max(&mut self, row: usize, value: T) {
        match self.slots.get_mut(row) {
            Some(Some(current)) => *current = (*current).max(value),
            Some(slot @ None) => {
                *slot = Some(value);
                self.touched.push(row);
            }
            None => {}
        }
    }

    /// The touched rows with their values, in first-touched order; clears them.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (usize, T)> + '_ {
        let slots = &mut self.slots;
        self.touched
            .drain(..)
            .filter_map(move |row| slots.get_mut(row).and_then(Option::take).map(|value| (row, value)))
    }
}
