use madang_protocol::TallyResult;

use crate::domain::test_support::*;

#[test]
fn dots_empty_for_no_allocations_or_only_zeros() {
    let options = Options::new(3);
    assert_rule(options.validate(&dots(5, 3), &place(&[])), "dots.empty");
    assert_rule(options.validate(&dots(5, 3), &place(&[(1, 0), (2, 0)])), "dots.empty");
}

#[test]
fn dots_duplicate_by_raw_id_only() {
    let options = Options::new(3).merge(3, 1);
    assert_rule(options.validate(&dots(9, 3), &place(&[(2, 1), (2, 1)])), "dots.duplicate");
    // A zero allocation repeated is still a duplicate.
    assert_rule(options.validate(&dots(9, 3), &place(&[(2, 1), (1, 0), (1, 0)])), "dots.duplicate");
    // A merged option and its target are different raw ids: allowed, and summed when counted.
    assert_eq!(options.validate(&dots(9, 3), &place(&[(1, 3), (3, 3)])), Ok(()));
}

#[test]
fn dots_max_per_option() {
    let error = Options::new(3).validate(&dots(10, 3), &place(&[(1, 2), (2, 4)])).unwrap_err();
    assert_eq!(error.rule, "dots.max_per_option");
    assert_eq!(error.message, "place at most 3 dots on one option (got 4 on option 2)");
}

#[test]
fn dots_budget_with_no_overflow() {
    let options = Options::new(3);
    assert_eq!(options.validate(&dots(6, 3), &place(&[(1, 3), (2, 3)])), Ok(()));
    let error = options.validate(&dots(6, 3), &place(&[(1, 3), (2, 3), (3, 1)])).unwrap_err();
    assert_eq!(error.rule, "dots.budget");
    assert_eq!(error.message, "place at most 6 dots in all (got 7)");
    // Sums past u32::MAX do not wrap around to something under budget.
    let huge = dots(u32::MAX, u32::MAX);
    assert_rule(options.validate(&huge, &place(&[(1, u32::MAX), (2, u32::MAX), (3, 2)])), "dots.budget");
}

#[test]
fn dots_counts_with_merge_and_tie() {
    // Option 4 merged into 1: its dots add to option 1.
    let options = Options::new(4).merge(4, 1);
    let ballots = [place(&[(1, 5), (4, 3)]), place(&[(2, 5), (3, 5)]), place(&[(3, 3), (2, 0)])];
    let tally = options.tally(&dots(10, 5), &ballots);
    assert_eq!(tally.ballots, 3);
    assert_eq!(
        tally.result,
        TallyResult::Dots { counts: counts(&[(1, 8), (2, 5), (3, 8)]), ranking: tiers_of(&[&[1, 3], &[2]]) }
    );
    assert_eq!(tally.result.winners(), &[o(1), o(3)]);
}
