use madang_protocol::{MajorityRule, TallyResult, YesNoChoice};

use crate::domain::test_support::*;

fn yes_no_result(rule: MajorityRule, yes: usize, no: usize, abstain: usize) -> (bool, bool) {
    let ballots = votes(yes, no, abstain);
    let tally = Options::new(0).tally(&yes_no(rule), &ballots);
    assert_eq!(tally.ballots as usize, yes + no + abstain);
    match tally.result {
        TallyResult::YesNo { yes: y, no: n, abstain: a, rule: r, passed, tie } => {
            assert_eq!((y as usize, n as usize, a as usize, r), (yes, no, abstain, rule));
            (passed, tie)
        }
        other => panic!("expected a yes/no result, got {other:?}"),
    }
}

#[test]
fn yes_no_simple_majority() {
    use MajorityRule::Simple;
    assert_eq!(yes_no_result(Simple, 3, 2, 5), (true, false));
    assert_eq!(yes_no_result(Simple, 2, 2, 1), (false, true));
    assert_eq!(yes_no_result(Simple, 1, 2, 0), (false, false));
}

#[test]
fn yes_no_absolute_majority_counts_abstentions() {
    use MajorityRule::{Absolute, Simple};
    // 3 yes, 2 no, 5 abstain: passes by simple majority, fails absolute (6 > 10 is false).
    assert_eq!(yes_no_result(Simple, 3, 2, 5), (true, false));
    assert_eq!(yes_no_result(Absolute, 3, 2, 5), (false, false));
    // 3 of 5: 6 > 5 passes.
    assert_eq!(yes_no_result(Absolute, 3, 1, 1), (true, false));
    // Exactly half is not more than half: 4 > 4 fails.
    assert_eq!(yes_no_result(Absolute, 2, 1, 1), (false, false));
}

#[test]
fn yes_no_two_thirds_boundary() {
    use MajorityRule::TwoThirds;
    // Exactly two thirds passes: 3·4 >= 2·6.
    assert_eq!(yes_no_result(TwoThirds, 4, 2, 0), (true, false));
    // Abstentions do not count: still exactly two thirds.
    assert_eq!(yes_no_result(TwoThirds, 4, 2, 9), (true, false));
    // Just under: 3·3 = 9 < 2·5 = 10.
    assert_eq!(yes_no_result(TwoThirds, 3, 2, 0), (false, false));
    // Only abstentions: no yes, does not pass.
    assert_eq!(yes_no_result(TwoThirds, 0, 0, 3), (false, true));
}

#[test]
fn yes_no_with_no_ballots_is_a_tie_that_fails() {
    for rule in [MajorityRule::Simple, MajorityRule::Absolute, MajorityRule::TwoThirds] {
        assert_eq!(yes_no_result(rule, 0, 0, 0), (false, true), "{rule:?}");
    }
}

#[test]
fn yes_no_ignores_ballots_of_another_kind_but_counts_them() {
    let ballots = vec![choose(YesNoChoice::Yes), approve(&[1])];
    let tally = Options::new(0).tally(&yes_no(MajorityRule::Simple), &ballots);
    assert_eq!(tally.ballots, 2);
    assert_eq!(
        tally.result,
        TallyResult::YesNo { yes: 1, no: 0, abstain: 0, rule: MajorityRule::Simple, passed: true, tie: false }
    );
}
