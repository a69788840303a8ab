use std::collections::HashMap;

use madang_protocol::{
    Allocation, MAX_SCORE, MajorityRule, MethodWinners, OptionCount, PollId, RankedTally, ScoreEntry, ScoreStat, Tally,
    YesNoChoice,
};
use proptest::prelude::*;

use super::*;

fn o(id: u32) -> OptionId {
    OptionId(id)
}

fn ids(list: &[u32]) -> Vec<OptionId> {
    list.iter().copied().map(OptionId).collect()
}

fn tiers_of(list: &[&[u32]]) -> Vec<Vec<OptionId>> {
    list.iter().map(|tier| ids(tier)).collect()
}

fn counts(list: &[(u32, u64)]) -> Vec<OptionCount> {
    list.iter().map(|&(option, count)| OptionCount { option: o(option), count }).collect()
}

/// A poll's options 1..=n, some merged into others.
#[derive(Debug, Clone)]
struct Options {
    all: Vec<OptionId>,
    merged: HashMap<OptionId, OptionId>,
}

impl Options {
    fn new(n: u32) -> Self {
        Options { all: (1..=n).map(OptionId).collect(), merged: HashMap::new() }
    }

    fn merge(mut self, from: u32, into: u32) -> Self {
        self.merged.insert(o(from), o(into));
        self
    }

    fn index(&self) -> OptionIndex {
        OptionIndex::new(&self.all, |option| self.merged.get(&option).copied().unwrap_or(option))
    }

    fn validate(&self, method: &PollMethod, ballot: &Ballot) -> Result<(), BallotError> {
        validate_ballot(method, &self.index(), ballot)
    }

    fn tally(&self, method: &PollMethod, ballots: &[Ballot]) -> Tally {
        tally(PollId(7), method, &self.index(), ballots)
    }
}

/// Count the ballots. Deterministic: the same ballots (in any order) give an equal Tally.
///
/// `ballots` in the result is the number of ballots iterated, including any
/// that do not match the method (those are otherwise ignored). No channel
/// breakdown: the forum adds it (see `Forum::tally`).
fn tally<'b>(
    poll: PollId,
    method: &PollMethod,
    options: &OptionIndex,
    ballots: impl IntoIterator<Item = &'b Ballot>,
) -> Tally {
    let mut counted: u32 = 0;
    let ballots = ballots.into_iter().inspect(|_| counted = counted.saturating_add(1)).map(|ballot| (ballot, 1));
    let result = count(method, options, ballots, None);
    Tally { poll, ballots: counted, result, by_channel: None, ranked: None }
}

fn assert_rule(result: Result<(), BallotError>, rule: &str) {
    match result {
        Err(error) => {
            assert_eq!(error.rule, rule, "message: {}", error.message);
            assert!(!error.message.is_empty());
            assert_eq!(error.to_string(), error.message);
        }
        Ok(()) => panic!("expected rule {rule}, ballot was accepted"),
    }
}

fn yes_no(rule: MajorityRule) -> PollMethod {
    PollMethod::YesNo { rule }
}
fn approval(max_choices: u32) -> PollMethod {
    PollMethod::Approval { max_choices }
}
fn dots(budget: u32, max_per_option: u32) -> PollMethod {
    PollMethod::Dots { budget, max_per_option }
}
fn score() -> PollMethod {
    PollMethod::Score {}
}
fn ranked(max_ranks: Option<u32>) -> PollMethod {
    PollMethod::Ranked { max_ranks, tally: RankedTally::Borda }
}

fn choose(choice: YesNoChoice) -> Ballot {
    Ballot::YesNo { choice }
}
fn votes(yes: usize, no: usize, abstain: usize) -> Vec<Ballot> {
    let mut ballots = vec![choose(YesNoChoice::Yes); yes];
    ballots.extend(vec![choose(YesNoChoice::No); no]);
    ballots.extend(vec![choose(YesNoChoice::Abstain); abstain]);
    ballots
}
fn approve(options: &[u32]) -> Ballot {
    Ballot::Approval { options: ids(options) }
}
fn place(allocations: &[(u32, u32)]) -> Ballot {
    Ballot::Dots {
        allocations: allocations.iter().map(|&(option, dots)| Allocation { option: o(option), dots }).collect(),
    }
}
fn scores(entries: &[(u32, u8)]) -> Ballot {
    Ballot::Score { scores: entries.iter().map(|&(option, score)| ScoreEntry { option: o(option), score }).collect() }
}
fn rank(ranking: &[u32]) -> Ballot {
    Ballot::Ranked { ranking: ids(ranking) }
}

// --- validation: one test per rule --------------------------------------

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

// --- counting ------------------------------------------------------------

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

fn stat(option: u32, ballots: u32, sum: u64, mean: f64, median: f64, distribution: [u32; 6]) -> ScoreStat {
    ScoreStat { option: o(option), ballots, sum, mean, median, distribution }
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
        | TallyResult::Pairwise { ranking, .. } => Some(ranking),
    }
}

/// The Tennessee capital example (English Wikipedia, "Instant-runoff
/// voting" and "Condorcet method"): Memphis 1, Nashville 2, Chattanooga 3,
/// Knoxville 4, entered as weighted paper rankings.
fn tennessee() -> Vec<(Ballot, u64)> {
    vec![(rank(&[1, 2, 3, 4]), 42), (rank(&[2, 3, 4, 1]), 26), (rank(&[3, 4, 2, 1]), 15), (rank(&[4, 3, 2, 1]), 17)]
}

#[test]
fn each_ranked_method_orders_the_poll_by_its_own_rule() {
    let options = Options::new(4);
    let method = |tally| PollMethod::Ranked { max_ranks: None, tally };
    let ranking = |tally| match count_weighted(&options, &method(tally), &tennessee()) {
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
    let ballots = tennessee();
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
