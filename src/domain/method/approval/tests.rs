use madang_protocol::{PollId, TallyResult};

use crate::domain::test_support::*;

#[test]
fn approval_empty() {
    assert_rule(Options::new(3).validate(&approval(2), &approve(&[])), "approval.empty");
}

#[test]
fn approval_duplicate_by_raw_and_by_merged_id() {
    let options = Options::new(3).merge(3, 1);
    assert_rule(options.validate(&approval(3), &approve(&[2, 2])), "approval.duplicate");
    let error = options.validate(&approval(3), &approve(&[1, 3])).unwrap_err();
    assert_eq!(error.rule, "approval.duplicate");
    assert_eq!(error.message, "options 1 and 3 both count for option 1 (merged)");
    // Duplicate is checked before max_choices.
    assert_rule(options.validate(&approval(1), &approve(&[2, 2])), "approval.duplicate");
}

#[test]
fn approval_max_choices() {
    let options = Options::new(5);
    assert_eq!(options.validate(&approval(3), &approve(&[1, 2, 3])), Ok(()));
    let error = options.validate(&approval(3), &approve(&[1, 2, 3, 4])).unwrap_err();
    assert_eq!(error.rule, "approval.max_choices");
    assert_eq!(error.message, "approve at most 3 options (got 4)");
}

#[test]
fn approval_counts_with_merge_and_tie() {
    // Option 4 merged into 2.
    let options = Options::new(4).merge(4, 2);
    let ballots = [approve(&[1, 2]), approve(&[4]), approve(&[3, 4]), approve(&[1]), approve(&[3])];
    let tally = options.tally(&approval(2), &ballots);
    assert_eq!(tally.poll, PollId(7));
    assert_eq!(tally.ballots, 5);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(1, 2), (2, 3), (3, 2)]), ranking: tiers_of(&[&[2], &[1, 3]]) }
    );
    assert_eq!(tally.result.winners(), &[o(2)]);
}

#[test]
fn approval_counts_a_canonical_option_once_per_ballot() {
    // Invalid ballot (2 and 4 are the same option), but counting must not double it.
    let options = Options::new(4).merge(4, 2);
    let tally = options.tally(&approval(3), &[approve(&[2, 4, 2, 99])]);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(1, 0), (2, 1), (3, 0)]), ranking: tiers_of(&[&[2], &[1, 3]]) }
    );
}
