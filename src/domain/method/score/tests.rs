use madang_protocol::{MAX_SCORE, TallyResult};

use crate::domain::test_support::*;

#[test]
fn score_empty() {
    assert_rule(Options::new(3).validate(&score(), &scores(&[])), "score.empty");
}

#[test]
fn score_range() {
    let options = Options::new(3);
    assert_eq!(options.validate(&score(), &scores(&[(1, MAX_SCORE)])), Ok(()));
    let error = options.validate(&score(), &scores(&[(1, 2), (2, 6)])).unwrap_err();
    assert_eq!(error.rule, "score.range");
    assert_eq!(error.message, "scores go from 0 to 5 (got 6 for option 2)");
    // Range is checked before duplicates.
    assert_rule(options.validate(&score(), &scores(&[(1, 2), (1, 255)])), "score.range");
}

#[test]
fn score_duplicate_by_raw_id_only() {
    let options = Options::new(3).merge(3, 1);
    assert_rule(options.validate(&score(), &scores(&[(2, 1), (2, 4)])), "score.duplicate");
    assert_eq!(options.validate(&score(), &scores(&[(1, 1), (3, 4)])), Ok(()));
}

#[test]
fn score_stats_with_merge_even_median_and_unscored_last() {
    // Options 1..=6; 4 merged into 3. Option 5 is never scored.
    let options = Options::new(6).merge(4, 3);
    let ballots = [
        // 3 gets max(2, 4) = 4 once.
        scores(&[(1, 5), (2, 3), (3, 2), (4, 4)]),
        scores(&[(1, 3), (2, 3), (3, 5)]),
        scores(&[(1, 4), (6, 0)]),
        scores(&[(1, 0)]),
    ];
    let tally = options.tally(&score(), &ballots);
    assert_eq!(tally.ballots, 4);
    assert_eq!(
        tally.result,
        TallyResult::Score {
            stats: vec![
                // 5, 3, 4, 0: mean 12/4 = 3, median of [0, 3, 4, 5] = 3.5.
                stat(1, 4, 12, 3.0, 3.5, [1, 0, 0, 1, 1, 1]),
                // 3, 3: mean 3, ties option 1 exactly.
                stat(2, 2, 6, 3.0, 3.0, [0, 0, 0, 2, 0, 0]),
                // 4, 5.
                stat(3, 2, 9, 4.5, 4.5, [0, 0, 0, 0, 1, 1]),
                stat(5, 0, 0, 0.0, 0.0, [0; 6]),
                // Scored 0 by one ballot: ranks above unscored option 5.
                stat(6, 1, 0, 0.0, 0.0, [1, 0, 0, 0, 0, 0]),
            ],
            ranking: tiers_of(&[&[3], &[1, 2], &[6], &[5]]),
        }
    );
}

#[test]
fn score_odd_median_and_exact_mean_order() {
    let options = Options::new(2);
    // Option 1: 1, 1, 2 → mean 4/3, median 1. Option 2: 1, 2 → mean 3/2 (higher).
    let ballots = [scores(&[(1, 1), (2, 1)]), scores(&[(1, 1), (2, 2)]), scores(&[(1, 2)])];
    let tally = options.tally(&score(), &ballots);
    let TallyResult::Score { stats, ranking } = tally.result else { panic!("expected a score result") };
    assert_eq!(stats[0].median, 1.0);
    assert_eq!((stats[0].sum, stats[0].ballots), (4, 3));
    assert_eq!(stats[1].median, 1.5);
    assert_eq!(ranking, tiers_of(&[&[2], &[1]]));
}
