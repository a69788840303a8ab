//! What every method shares: the kind and unknown-option checks, and
//! properties of counting (order, weights, ranking every option once).

use madang_protocol::{
    Allocation, Ballot, MajorityRule, OptionId, PollMethod, RankedTally, ScoreEntry, TallyResult, YesNoChoice,
};
use proptest::prelude::*;

use crate::domain::test_support::*;

#[test]
fn ballot_kind_must_match_method() {
    let options = Options::new(3);
    assert_rule(options.validate(&yes_no(MajorityRule::Simple), &approve(&[1])), "ballot.kind");
    assert_rule(options.validate(&approval(2), &choose(YesNoChoice::Yes)), "ballot.kind");
    assert_rule(options.validate(&dots(5, 5), &scores(&[(1, 3)])), "ballot.kind");
    assert_rule(options.validate(&score(), &rank(&[1])), "ballot.kind");
    assert_rule(options.validate(&ranked(None), &place(&[(1, 1)])), "ballot.kind");
    // Kind is checked before anything else, even an unknown option.
    assert_rule(options.validate(&score(), &approve(&[99])), "ballot.kind");
}

#[test]
fn valid_ballots_pass() {
    let options = Options::new(3).merge(3, 1);
    assert_eq!(options.validate(&yes_no(MajorityRule::TwoThirds), &choose(YesNoChoice::Abstain)), Ok(()));
    assert_eq!(options.validate(&approval(2), &approve(&[3, 2])), Ok(()));
    assert_eq!(options.validate(&dots(6, 3), &place(&[(1, 3), (3, 3), (2, 0)])), Ok(()));
    assert_eq!(options.validate(&score(), &scores(&[(1, 0), (3, 5)])), Ok(()));
    assert_eq!(options.validate(&ranked(Some(2)), &rank(&[2, 3])), Ok(()));
    // The merged option 3 stands in for its target 1: a complete ranking.
    assert_eq!(options.validate(&ranked(None), &rank(&[3, 2])), Ok(()));
}

#[test]
fn option_unknown_for_every_method_with_options() {
    let options = Options::new(3);
    assert_rule(options.validate(&approval(3), &approve(&[1, 4])), "option.unknown");
    assert_rule(options.validate(&dots(5, 5), &place(&[(9, 1)])), "option.unknown");
    assert_rule(options.validate(&score(), &scores(&[(0, 3)])), "option.unknown");
    assert_rule(options.validate(&ranked(None), &rank(&[1, 2, 3, 4])), "option.unknown");
    // Unknown is checked before the method's own rules (here: duplicate and too many).
    assert_rule(options.validate(&approval(1), &approve(&[1, 1, 4])), "option.unknown");
}

#[test]
fn no_ballots_ties_every_canonical_option() {
    let options = Options::new(3).merge(2, 1);
    let everyone = tiers_of(&[&[1, 3]]);
    let zero = counts(&[(1, 0), (3, 0)]);
    assert_eq!(
        options.tally(&approval(1), &[]).result,
        TallyResult::Approval { counts: zero.clone(), ranking: everyone.clone() }
    );
    assert_eq!(
        options.tally(&dots(3, 3), &[]).result,
        TallyResult::Dots { counts: zero.clone(), ranking: everyone.clone() }
    );
    assert_eq!(
        options.tally(&score(), &[]).result,
        TallyResult::Score {
            stats: vec![stat(1, 0, 0, 0.0, 0.0, [0; 6]), stat(3, 0, 0, 0.0, 0.0, [0; 6])],
            ranking: everyone.clone(),
        }
    );
    let empty_ranked = options.tally(&ranked(None), &[]);
    assert_eq!(empty_ranked.ballots, 0);
    assert_eq!(
        empty_ranked.result,
        TallyResult::Ranked { tally: RankedTally::Borda, borda: zero.clone(), first_choices: zero, ranking: everyone }
    );
}

/// One ballot set per method, all in one list, with one poll to count each.
fn mixed_polls() -> Vec<(Options, PollMethod, Vec<Ballot>)> {
    let merged = Options::new(4).merge(4, 2);
    vec![
        (Options::new(0), yes_no(MajorityRule::TwoThirds), votes(4, 2, 3)),
        (merged.clone(), approval(2), vec![approve(&[1, 2]), approve(&[4]), approve(&[3, 4]), approve(&[1])]),
        (merged.clone(), dots(6, 3), vec![place(&[(1, 3), (4, 3)]), place(&[(2, 1)]), place(&[(3, 3), (1, 2)])]),
        (
            merged.clone(),
            score(),
            vec![scores(&[(1, 5), (2, 1), (4, 3)]), scores(&[(3, 4)]), scores(&[(1, 2), (3, 3)])],
        ),
        (merged, ranked(Some(2)), vec![rank(&[1, 4]), rank(&[3]), rank(&[4, 3]), rank(&[1, 2])]),
    ]
}

#[test]
fn ballot_order_does_not_change_any_tally() {
    for (options, method, ballots) in mixed_polls() {
        let expected = options.tally(&method, &ballots);
        let mut reversed = ballots.clone();
        reversed.reverse();
        let mut rotated = ballots.clone();
        rotated.rotate_left(1);
        let mut interleaved: Vec<Ballot> = ballots.iter().step_by(2).cloned().collect();
        interleaved.extend(ballots.iter().skip(1).step_by(2).cloned());
        for order in [reversed, rotated, interleaved] {
            assert_eq!(options.tally(&method, &order), expected, "{method:?}");
        }
    }
}

// --- properties ----------------------------------------------------------

/// Options 1..=seeds.len(); each option after the first is either its own
/// (even seed) or merged into an earlier canonical option.
fn options_from(seeds: &[u8]) -> Options {
    let mut options = Options::new(seeds.len() as u32);
    let mut canonical: Vec<u32> = Vec::new();
    for (id, &seed) in (1u32..).zip(seeds) {
        if canonical.is_empty() || seed % 2 == 0 {
            canonical.push(id);
        } else {
            let into = canonical[usize::from(seed) % canonical.len()];
            options = options.merge(id, into);
        }
    }
    options
}

fn arb_method() -> impl Strategy<Value = PollMethod> {
    prop_oneof![
        prop_oneof![Just(MajorityRule::Simple), Just(MajorityRule::Absolute), Just(MajorityRule::TwoThirds)]
            .prop_map(yes_no),
        (0u32..5).prop_map(approval),
        (0u32..15, 0u32..8).prop_map(|(budget, max)| dots(budget, max)),
        Just(score()),
        prop::option::of(0u32..5).prop_map(ranked),
        Just(single_choice()),
    ]
}

/// Any ballot, including invalid ones: unknown ids, repeats, scores over 5.
fn arb_ballot() -> impl Strategy<Value = Ballot> {
    let id = || (0u32..9).prop_map(OptionId);
    prop_oneof![
        prop_oneof![Just(YesNoChoice::Yes), Just(YesNoChoice::No), Just(YesNoChoice::Abstain)].prop_map(choose),
        prop::collection::vec(id(), 0..6).prop_map(|options| Ballot::Approval { options }),
        prop::collection::vec((id(), 0u32..12).prop_map(|(option, dots)| Allocation { option, dots }), 0..6)
            .prop_map(|allocations| Ballot::Dots { allocations }),
        prop::collection::vec((id(), 0u8..8).prop_map(|(option, score)| ScoreEntry { option, score }), 0..6)
            .prop_map(|scores| Ballot::Score { scores }),
        prop::collection::vec(id(), 0..8).prop_map(|ranking| Ballot::Ranked { ranking }),
        id().prop_map(|option| Ballot::SingleChoice { option }),
    ]
}

fn arb_poll() -> impl Strategy<Value = (Options, PollMethod, Vec<Ballot>, Vec<Ballot>)> {
    (prop::collection::vec(any::<u8>(), 1..7), arb_method(), prop::collection::vec(arb_ballot(), 0..40)).prop_flat_map(
        |(seeds, method, ballots)| {
            let shuffled = Just(ballots.clone()).prop_shuffle();
            (Just(options_from(&seeds)), Just(method), Just(ballots), shuffled)
        },
    )
}

fn ranking_of(result: &TallyResult) -> Option<&Vec<Vec<OptionId>>> {
    match result {
        TallyResult::YesNo { .. } => None,
        TallyResult::Approval { ranking, .. }
        | TallyResult::Dots { ranking, .. }
        | TallyResult::Score { ranking, .. }
        | TallyResult::Ranked { ranking, .. }
        | TallyResult::Pairwise { ranking, .. }
        | TallyResult::SingleChoice { ranking, .. } => Some(ranking),
    }
}

proptest! {
    #[test]
    fn prop_a_weight_counts_as_that_many_copies(
        (options, method, ballots, _shuffled) in arb_poll(),
        weights in prop::collection::vec(0u64..4, 40),
    ) {
        let weighted: Vec<(Ballot, u64)> = ballots.iter().cloned().zip(weights.iter().copied()).collect();
        let expanded: Vec<Ballot> = weighted
            .iter()
            .flat_map(|(ballot, weight)| std::iter::repeat_n(ballot.clone(), *weight as usize))
            .collect();
        prop_assert_eq!(count_weighted(&options, &method, &weighted), options.tally(&method, &expanded).result);
    }

    #[test]
    fn prop_ballot_order_does_not_matter((options, method, ballots, shuffled) in arb_poll()) {
        for ballot in &ballots {
            // Never panics, whatever the ballot.
            let _ = options.validate(&method, ballot);
        }
        prop_assert_eq!(options.tally(&method, &shuffled), options.tally(&method, &ballots));
    }

    #[test]
    fn prop_every_canonical_option_ranked_exactly_once((options, method, ballots, _shuffled) in arb_poll()) {
        let tally = options.tally(&method, &ballots);
        prop_assert_eq!(tally.ballots as usize, ballots.len());
        match ranking_of(&tally.result) {
            Some(ranking) => {
                prop_assert!(ranking.iter().all(|tier| !tier.is_empty()));
                let mut ranked: Vec<OptionId> = ranking.iter().flatten().copied().collect();
                ranked.sort();
                let mut canonical: Vec<OptionId> =
                    options.all.iter().copied().filter(|option| !options.merged.contains_key(option)).collect();
                canonical.sort();
                prop_assert_eq!(ranked, canonical);
            }
            None => {
                let TallyResult::YesNo { yes, no, abstain, .. } = tally.result else { unreachable!() };
                prop_assert!(u64::from(yes) + u64::from(no) + u64::from(abstain) <= u64::from(tally.ballots));
            }
        }
    }
}
