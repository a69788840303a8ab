use madang_protocol::{Ballot, MethodWinners, OptionId, PollMethod, RankedTally, TallyResult};

use super::*;
use crate::domain::method::{count, ranked_detail};
use crate::domain::test_support::*;

fn options_up_to(n: u32) -> Vec<OptionId> {
    (1..=n).map(OptionId).collect()
}

fn r(order: &[u32], weight: u64) -> WeightedRanking {
    (order.iter().map(|o| OptionId(*o)).collect(), weight)
}

/// The Tennessee capital example from the English Wikipedia articles on
/// instant-runoff voting, the Borda count and the Condorcet method:
/// Memphis (1) 42%, Nashville (2) 26%, Chattanooga (3) 15%, Knoxville (4) 17%.
fn tennessee() -> Vec<WeightedRanking> {
    vec![r(&[1, 2, 3, 4], 42), r(&[2, 3, 4, 1], 26), r(&[3, 4, 2, 1], 15), r(&[4, 3, 2, 1], 17)]
}

#[test]
fn tennessee_instant_runoff_elects_knoxville() {
    let result = instant_runoff(&options_up_to(4), &tennessee());
    // Round 1: Chattanooga (15) out; round 2: Nashville (26) out; Knoxville 58 beats Memphis 42.
    assert_eq!(
        result.rounds[0].counts,
        vec![(OptionId(1), 42), (OptionId(2), 26), (OptionId(3), 15), (OptionId(4), 17)]
    );
    assert_eq!(result.rounds[0].eliminated, vec![OptionId(3)]);
    assert_eq!(result.rounds[1].counts, vec![(OptionId(1), 42), (OptionId(2), 26), (OptionId(4), 32)]);
    assert_eq!(result.rounds[1].eliminated, vec![OptionId(2)]);
    assert_eq!(result.rounds[2].counts, vec![(OptionId(1), 42), (OptionId(4), 58)]);
    assert_eq!(result.rounds[2].eliminated, vec![OptionId(1)]);
    assert_eq!(result.winners, vec![OptionId(4)]);
    assert!(result.rounds.iter().all(|round| !round.simultaneous));
}

#[test]
fn tennessee_borda_and_schulze_elect_nashville() {
    // Borda (Wikipedia, "Borda count", Tennessee): Nashville 194, Chattanooga 173, Memphis 126, Knoxville 107.
    let points = borda(&options_up_to(4), &tennessee());
    assert_eq!(points, vec![(OptionId(1), 126), (OptionId(2), 194), (OptionId(3), 173), (OptionId(4), 107)]);
    // Nashville is the Condorcet winner (Wikipedia, "Condorcet method"): it beats each other city.
    let s = schulze(&options_up_to(4), &tennessee());
    assert_eq!(s.pairwise[1][0], 58);
    assert_eq!(s.pairwise[1][2], 68);
    assert_eq!(s.pairwise[1][3], 68);
    assert_eq!(s.ranking, vec![vec![OptionId(2)], vec![OptionId(3)], vec![OptionId(4)], vec![OptionId(1)]]);
}

/// The example of the English Wikipedia article "Schulze method": 45
/// voters, candidates A..E; the result is E > A > C > B > D, and the
/// strongest paths (there in winning votes; here margins, which give the
/// same order for complete ballots) are as listed below.
#[test]
fn wikipedia_schulze_example() {
    let (a, b, c, d, e) = (1, 2, 3, 4, 5);
    let profile = vec![
        r(&[a, c, b, e, d], 5),
        r(&[a, d, e, c, b], 5),
        r(&[b, e, d, a, c], 8),
        r(&[c, a, b, e, d], 3),
        r(&[c, a, e, b, d], 7),
        r(&[c, b, a, d, e], 2),
        r(&[d, c, e, b, a], 7),
        r(&[e, b, a, d, c], 8),
    ];
    let s = schulze(&options_up_to(5), &profile);
    // Pairwise counts d[*,*] from the article.
    assert_eq!(s.pairwise[0], vec![0, 20, 26, 30, 22]);
    assert_eq!(s.pairwise[1], vec![25, 0, 16, 33, 18]);
    assert_eq!(s.pairwise[2], vec![19, 29, 0, 17, 24]);
    assert_eq!(s.pairwise[3], vec![15, 12, 28, 0, 14]);
    assert_eq!(s.pairwise[4], vec![23, 27, 21, 31, 0]);
    let ranking: Vec<u32> = s.ranking.iter().map(|t| t[0].0).collect();
    assert!(s.ranking.iter().all(|t| t.len() == 1));
    assert_eq!(ranking, vec![e, a, c, b, d]);
    // The article's strongest paths in winning votes w are, from E: 25, 28, 28, 31 and
    // from A: 28, 28, 30, 24; margins are 2w - 45 (a monotone map, so the same paths).
    assert_eq!(s.strongest[4], vec![5, 11, 11, 17, 0]);
    assert_eq!(s.strongest[0], vec![0, 11, 11, 15, 3]);
}

#[test]
fn instant_runoff_eliminates_tied_lowest_together_and_reports_a_final_tie() {
    // 1: 4 ballots, 2: 4, 3: 1, 4: 1 → 3 and 4 out together; their ballots exhaust; 1 and 2 tie.
    let profile = vec![r(&[1], 4), r(&[2], 4), r(&[3], 1), r(&[4], 1)];
    let result = instant_runoff(&options_up_to(4), &profile);
    assert_eq!(result.rounds[0].eliminated, vec![OptionId(3), OptionId(4)]);
    assert!(result.rounds[0].simultaneous);
    assert_eq!(result.rounds[1].exhausted, 2);
    assert_eq!(result.winners, vec![OptionId(1), OptionId(2)]);
    assert_eq!(result.rounds.len(), 2);
}

#[test]
fn truncated_rankings_count_listed_above_unlisted() {
    // One ballot ranks only 2; it prefers 2 to 1 and 3, and says nothing of 1 vs 3.
    let m = pairwise(&options_up_to(3), &[r(&[2], 1)]);
    assert_eq!(m, vec![vec![0, 0, 0], vec![1, 0, 1], vec![0, 0, 0]]);
    let s = schulze(&options_up_to(3), &[r(&[2], 1)]);
    assert_eq!(s.ranking, vec![vec![OptionId(2)], vec![OptionId(1), OptionId(3)]]);
}

#[test]
fn a_condorcet_cycle_is_a_tie_under_schulze() {
    // Rock-paper-scissors: 1>2>3, 2>3>1, 3>1>2, one each: every margin is 1, every path 1.
    let profile = vec![r(&[1, 2, 3], 1), r(&[2, 3, 1], 1), r(&[3, 1, 2], 1)];
    let s = schulze(&options_up_to(3), &profile);
    assert_eq!(s.ranking, vec![options_up_to(3)]);
}

#[test]
fn no_ballots_ties_everyone() {
    assert_eq!(instant_runoff(&options_up_to(3), &[]).winners, options_up_to(3));
    assert_eq!(schulze(&options_up_to(3), &[]).ranking, vec![options_up_to(3)]);
    assert_eq!(tiers_by_score(&borda(&options_up_to(3), &[])), vec![options_up_to(3)]);
}

#[test]
fn ranked_empty() {
    assert_rule(Options::new(3).validate(&ranked(Some(2)), &rank(&[])), "ranked.empty");
    assert_rule(Options::new(3).validate(&ranked(None), &rank(&[])), "ranked.empty");
}

#[test]
fn ranked_duplicate_by_raw_and_by_merged_id() {
    let options = Options::new(4).merge(4, 2);
    assert_rule(options.validate(&ranked(None), &rank(&[1, 1, 2, 3])), "ranked.duplicate");
    assert_rule(options.validate(&ranked(Some(3)), &rank(&[4, 1, 2])), "ranked.duplicate");
    // Duplicate is checked before max_ranks.
    assert_rule(options.validate(&ranked(Some(1)), &rank(&[2, 4])), "ranked.duplicate");
}

#[test]
fn ranked_max_ranks() {
    let options = Options::new(4);
    assert_eq!(options.validate(&ranked(Some(2)), &rank(&[3, 1])), Ok(()));
    let error = options.validate(&ranked(Some(2)), &rank(&[3, 1, 2])).unwrap_err();
    assert_eq!(error.rule, "ranked.max_ranks");
    assert_eq!(error.message, "rank at most 2 options (got 3)");
}

#[test]
fn ranked_incomplete_when_a_full_ranking_misses_an_option() {
    let options = Options::new(4).merge(4, 2);
    let error = options.validate(&ranked(None), &rank(&[1, 4])).unwrap_err();
    assert_eq!(error.rule, "ranked.incomplete");
    assert_eq!(error.message, "rank all 3 options (option 3 is missing)");
    assert_eq!(options.validate(&ranked(None), &rank(&[3, 4, 1])), Ok(()));
}

#[test]
fn ranked_borda_with_partial_rankings_and_merge() {
    // Options 1..=5; 5 merged into 4. n = 4 canonical options: first place scores 3.
    let options = Options::new(5).merge(5, 4);
    let ballots = [
        rank(&[1, 2]), // 1: 3, 2: 2 (3 and 4 unranked: 0)
        rank(&[2, 5]), // 2: 3, 4: 2
        rank(&[3, 1]), // 3: 3, 1: 2
        rank(&[4]),    // 4: 3
        rank(&[1]),    // 1: 3
    ];
    let tally = options.tally(&ranked(Some(2)), &ballots);
    assert_eq!(tally.ballots, 5);
    assert_eq!(
        tally.result,
        TallyResult::Ranked {
            tally: RankedTally::Borda,
            borda: counts(&[(1, 8), (2, 5), (3, 3), (4, 5)]),
            first_choices: counts(&[(1, 2), (2, 1), (3, 1), (4, 1)]),
            ranking: tiers_of(&[&[1], &[2, 4], &[3]]),
        }
    );
}

#[test]
fn ranked_borda_full_rankings() {
    let options = Options::new(3);
    // Points 2, 1, 0 by position.
    let ballots = [rank(&[1, 2, 3]), rank(&[3, 1, 2]), rank(&[2, 1, 3])];
    let tally = options.tally(&ranked(None), &ballots);
    assert_eq!(
        tally.result,
        TallyResult::Ranked {
            tally: RankedTally::Borda,
            borda: counts(&[(1, 4), (2, 3), (3, 2)]),
            first_choices: counts(&[(1, 1), (2, 1), (3, 1)]),
            ranking: tiers_of(&[&[1], &[2], &[3]]),
        }
    );
}

#[test]
fn ranked_keeps_first_occurrence_of_each_canonical_option() {
    // 5 → 4. [5, 4, 3] counts as [4, 3]: 4 gets 3 points, 3 gets 2 (not 1).
    let options = Options::new(5).merge(5, 4);
    let tally = options.tally(&ranked(Some(3)), &[rank(&[5, 4, 3])]);
    let TallyResult::Ranked { borda, first_choices, ranking, .. } = tally.result else {
        panic!("expected a ranked result")
    };
    assert_eq!(borda, counts(&[(1, 0), (2, 0), (3, 2), (4, 3)]));
    assert_eq!(first_choices, counts(&[(1, 0), (2, 0), (3, 0), (4, 1)]));
    assert_eq!(ranking, tiers_of(&[&[4], &[3], &[1, 2]]));
}

/// The Tennessee capital example (English Wikipedia, "Instant-runoff
/// voting" and "Condorcet method"): Memphis 1, Nashville 2, Chattanooga 3,
/// Knoxville 4, entered as weighted paper rankings.
fn tennessee_papers() -> Vec<(Ballot, u64)> {
    vec![(rank(&[1, 2, 3, 4]), 42), (rank(&[2, 3, 4, 1]), 26), (rank(&[3, 4, 2, 1]), 15), (rank(&[4, 3, 2, 1]), 17)]
}

#[test]
fn each_ranked_method_orders_the_poll_by_its_own_rule() {
    let options = Options::new(4);
    let method = |tally| PollMethod::Ranked { max_ranks: None, tally };
    let ranking = |tally| match count_weighted(&options, &method(tally), &tennessee_papers()) {
        TallyResult::Ranked { ranking, .. } => ranking,
        other => panic!("expected a ranked result, got {other:?}"),
    };
    // Instant-runoff: Chattanooga, then Nashville, then Memphis are eliminated.
    assert_eq!(ranking(RankedTally::InstantRunoff), tiers_of(&[&[4], &[1], &[2], &[3]]));
    // Schulze: Nashville is the Condorcet winner; Chattanooga beats Knoxville beats Memphis.
    assert_eq!(ranking(RankedTally::Schulze), tiers_of(&[&[2], &[3], &[4], &[1]]));
    // Borda: 194, 173, 126, 107.
    assert_eq!(ranking(RankedTally::Borda), tiers_of(&[&[2], &[3], &[1], &[4]]));
}

#[test]
fn the_ranked_detail_shows_every_method_and_flags_disagreement() {
    let options = Options::new(4);
    let set = options.index();
    let method = PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze };
    let ballots = tennessee_papers();
    let detail = ranked_detail(&method, &set, ballots.iter().map(|(b, w)| (b, *w)), None).expect("a ranked poll");
    assert_eq!(detail.winners, MethodWinners { borda: ids(&[2]), instant_runoff: ids(&[4]), schulze: ids(&[2]) });
    assert!(detail.methods_disagree, "Knoxville wins instant-runoff, Nashville the others");
    assert_eq!(detail.instant_runoff.rounds.len(), 4);
    assert_eq!(detail.instant_runoff.rounds[1].counts, counts(&[(1, 42), (2, 26), (4, 32)]));
    assert_eq!(detail.schulze.pairwise[1], vec![58, 0, 68, 68]);
    // Without ballots every method ties everyone: they agree.
    let none = ranked_detail(&method, &set, std::iter::empty(), None).expect("a ranked poll");
    assert!(!none.methods_disagree);
    assert_eq!(none.winners.instant_runoff, ids(&[1, 2, 3, 4]));
    assert_eq!(ranked_detail(&PollMethod::Score {}, &set, std::iter::empty(), None), None);
}

fn count_weighted(options: &Options, method: &PollMethod, ballots: &[(Ballot, u64)]) -> TallyResult {
    count(method, &options.index(), ballots.iter().map(|(ballot, weight)| (ballot, *weight)), None)
}

#[test]
fn a_weighted_paper_ranking_counts_as_that_many_ballots() {
    let options = Options::new(3);
    let weighted = [(rank(&[3, 1, 2]), 12), (rank(&[2, 3, 1]), 5)];
    let result = count_weighted(&options, &ranked(None), &weighted);
    assert_eq!(
        result,
        TallyResult::Ranked {
            tally: RankedTally::Borda,
            borda: counts(&[(1, 12), (2, 10), (3, 29)]),
            first_choices: counts(&[(1, 0), (2, 5), (3, 12)]),
            ranking: tiers_of(&[&[3], &[1], &[2]]),
        }
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A profile over options 1..=n: up to 12 rankings (complete or truncated) with weights 1..=9.
    fn profile() -> impl Strategy<Value = (Vec<OptionId>, Vec<WeightedRanking>)> {
        (2u32..=6).prop_flat_map(|n| {
            let ranking = (Just((1..=n).map(OptionId).collect::<Vec<_>>()).prop_shuffle(), 0..=n as usize)
                .prop_map(|(order, len)| order[..len.max(1)].to_vec());
            (Just(options_up_to(n)), prop::collection::vec((ranking, 1u64..=9), 0..12))
        })
    }

    proptest! {
        #[test]
        fn ballot_order_does_not_matter((options, mut profile) in profile(), seed in any::<u64>()) {
            let before = (borda(&options, &profile), instant_runoff(&options, &profile), schulze(&options, &profile));
            let k = if profile.is_empty() { 0 } else { (seed as usize) % profile.len() };
            profile.rotate_left(k);
            profile.reverse();
            let after = (borda(&options, &profile), instant_runoff(&options, &profile), schulze(&options, &profile));
            prop_assert_eq!(before, after);
        }

        #[test]
        fn a_condorcet_winner_wins_schulze((options, profile) in profile()) {
            let d = pairwise(&options, &profile);
            let n = options.len();
            if let Some(w) = (0..n).find(|&i| (0..n).all(|j| j == i || d[i][j] > d[j][i])) {
                prop_assert_eq!(schulze(&options, &profile).ranking[0].clone(), vec![options[w]]);
            }
        }

        #[test]
        fn a_majority_first_choice_wins_instant_runoff((options, profile) in profile()) {
            let total: u64 = profile.iter().map(|(_, w)| *w).sum();
            for (option, firsts) in first_choices(&options, &profile) {
                if 2 * firsts > total {
                    prop_assert_eq!(instant_runoff(&options, &profile).winners, vec![option]);
                }
            }
        }

        #[test]
        fn kept_pairwise_counts_equal_a_recount((options, profile) in profile(), replace in any::<prop::sample::Index>()) {
            // Add everything, take one ranking back and add it again: same counts as a recount.
            let mut matrix = PairwiseMatrix::new(&options);
            profile.iter().for_each(|(r, w)| matrix.add(r, *w));
            if !profile.is_empty() {
                let (r, w) = &profile[replace.index(profile.len())];
                matrix.remove(r, *w);
                matrix.add(r, *w);
            }
            prop_assert_eq!(matrix.rows(), pairwise(&options, &profile));
        }
    }
}
