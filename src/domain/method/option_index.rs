//! The options of a poll as every method counts them: which option each
//! option counts for once ideas were merged, and the row of each counted
//! option in a count.
//!
//! Built once per poll (or per tally), so lookups are by hash rather than by
//! scan. It knows nothing of ideas or merges: the forum resolves merge chains
//! and hands in the result (`Forum::option_index`).

use std::collections::HashMap;

use madang_protocol::OptionId;

/// Every option of a poll, the option it counts for, and the counted options in poll order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionIndex {
    /// Canonical options in poll order: the rows of every count.
    pub(super) canon: Vec<OptionId>,
    /// Every option of the poll → the option it counts for.
    target: HashMap<OptionId, OptionId>,
    /// Canonical option → its row in `canon`.
    row: HashMap<OptionId, usize>,
}

impl OptionIndex {
    /// From every option id of the poll in poll order (merged ones included) and,
    /// for each, the option it counts for: itself, or the option its idea was
    /// merged into (already resolved to the final target; never a chain).
    pub fn new(all: &[OptionId], canonical: impl Fn(OptionId) -> OptionId) -> Self {
        let target: HashMap<OptionId, OptionId> = all.iter().map(|&option| (option, canonical(option))).collect();
        let mut canon = Vec::new();
        let mut row = HashMap::new();
        for &option in all {
            if target.get(&option) == Some(&option) && !row.contains_key(&option) {
                row.insert(option, canon.len());
                canon.push(option);
            }
        }
        OptionIndex { canon, target, row }
    }

    /// The options a poll's counts are over: its options that count for themselves, in poll order.
    pub(crate) fn counted(&self) -> &[OptionId] {
        &self.canon
    }

    /// The option `option` counts for; `None` when it is not an option of the poll.
    pub(crate) fn counts_for(&self, option: OptionId) -> Option<OptionId> {
        self.target.get(&option).copied()
    }

    pub(super) fn first_unknown(&self, options: impl IntoIterator<Item = OptionId>) -> Option<OptionId> {
        options.into_iter().find(|option| !self.target.contains_key(option))
    }

    /// The option `option` counts for (itself if unknown, so unknown ids stay distinct).
    pub(super) fn canonical(&self, option: OptionId) -> OptionId {
        self.target.get(&option).copied().unwrap_or(option)
    }

    /// The row `option` counts in; `None` for an unknown option, or one whose
    /// merge target is not a canonical option of this poll.
    pub(super) fn row_of(&self, option: OptionId) -> Option<usize> {
        self.target.get(&option).and_then(|target| self.row.get(target)).copied()
    }
}
