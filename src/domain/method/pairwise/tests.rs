use super::*;
use crate::domain::test_support::{o, pid};

fn ranking_of(result: &TallyResult) -> Vec<Vec<u32>> {
    let TallyResult::Pairwise { ranking, .. } = result else { panic!("not pairwise") };
    ranking.iter().map(|t| t.iter().map(|x| x.0).collect()).collect()
}

#[test]
fn no_comparisons_tie_every_option_at_strength_one() {
    let result = result(&[o(1), o(2), o(3)], vec![vec![0; 3]; 3], 0);
    assert_eq!(ranking_of(&result), vec![vec![1, 2, 3]]);
    let TallyResult::Pairwise { stats, comparisons, .. } = &result else { unreachable!() };
    assert_eq!(*comparisons, 0);
    assert!(stats.iter().all(|s| s.strength == 1.0 && s.log_strength == 0.0 && s.std_error > 0.0));
}

#[test]
fn symmetric_data_gives_ties() {
    // A cycle: A>B, B>C, C>A, twice each.
    let cycle = vec![vec![0, 2, 0], vec![0, 0, 2], vec![2, 0, 0]];
    assert_eq!(ranking_of(&result(&[o(1), o(2), o(3)], cycle, 0)), vec![vec![1, 2, 3]]);
    // 2 and 3 split evenly with 1, which also lost to 4 five times: 2 and 3 are
    // in symmetric positions and stay tied, between 4 and 1.
    let split = vec![vec![0, 3, 3, 0], vec![3, 0, 0, 0], vec![3, 0, 0, 0], vec![5, 0, 0, 0]];
    let split = result(&[o(1), o(2), o(3), o(4)], split, 0);
    assert_eq!(ranking_of(&split), vec![vec![4], vec![2, 3], vec![1]]);
}

#[test]
fn a_dominant_option_ranks_first_alone_and_all_wins_stay_finite() {
    let wins = vec![vec![0, 4, 4], vec![0, 0, 1], vec![0, 1, 0]];
    let r = result(&[o(1), o(2), o(3)], wins, 0);
    assert_eq!(ranking_of(&r), vec![vec![1], vec![2, 3]]);
    let TallyResult::Pairwise { stats, .. } = &r else { unreachable!() };
    assert!(stats.iter().all(|s| s.strength.is_finite() && s.strength > 0.0 && s.std_error.is_finite()));
    assert!(stats[0].log_strength > 0.0 && stats[1].log_strength < 0.0);
}

#[test]
fn the_same_wins_give_the_same_bytes() {
    let wins = vec![vec![0, 3, 5], vec![2, 0, 4], vec![1, 2, 0]];
    let a = serde_json::to_string(&result(&[o(1), o(2), o(3)], wins.clone(), 2)).unwrap();
    let b = serde_json::to_string(&result(&[o(1), o(2), o(3)], wins, 2)).unwrap();
    assert_eq!(a, b);
}

/// The journal hashes the JSON of each entry and checks it on replay, so an
/// outcome must read back from JSON as exactly the same value.
#[test]
fn every_float_survives_a_json_round_trip() {
    for n in 1..40u64 {
        let wins = vec![vec![0, n, 2 * n + 1], vec![n / 2, 0, 3], vec![1, n % 7, 0]];
        let r = result(&[o(1), o(2), o(3)], wins, n);
        let text = serde_json::to_string(&r).unwrap();
        let back: TallyResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r, "{text}");
    }
}

#[test]
fn wins_count_the_latest_answer_per_canonical_pair_and_skips() {
    // Option 3 merged into option 1.
    let all = [o(1), o(2), o(3)];
    let options = OptionIndex::new(&all, |x| if x == o(3) { o(1) } else { x });
    assert_eq!(options.canon, vec![o(1), o(2)]);
    let mut c = Comparisons::default();
    c.answer(pid(1), o(2), o(1), false); // 2 over 1
    c.answer(pid(1), o(3), o(2), false); // later, counts as 1 over 2: replaces
    c.answer(pid(1), o(1), o(3), false); // same canonical option: not counted
    c.answer(pid(2), o(1), o(2), true); // skip
    c.answer(pid(3), o(2), o(1), false);
    c.answer(pid(3), o(1), o(2), false); // same raw pair: replaces
    assert_eq!(c.answers[&pid(3)].len(), 1);
    let (w, skipped) = wins(&options, c.answers.values());
    assert_eq!(w, vec![vec![0, 2], vec![0, 0]]);
    assert_eq!(skipped, 1);
}

/// SPEC's pairwise tally example is one this server could send: each
/// participant answers a pair at most once, and its numbers are the fit of its counts.
#[test]
fn the_spec_example_keeps_one_answer_per_pair_and_matches_the_fit() {
    let example: serde_json::Value =
        serde_json::from_str(include_str!("../../../../protocol/examples/frames/server.tally.pairwise.json")).unwrap();
    let tally = &example["tally"];
    let people = tally["ballots"].as_u64().unwrap();
    let shown: TallyResult = serde_json::from_value(tally["result"].clone()).unwrap();
    let TallyResult::Pairwise { wins, skipped, stats, .. } = &shown else { panic!("a pairwise result") };
    let k = wins.len();
    for (i, j) in (0..k).flat_map(|i| (i + 1..k).map(move |j| (i, j))) {
        let answers = wins[i][j] + wins[j][i];
        assert!(answers <= people, "pair ({i}, {j}) has {answers} wins among {people} participants");
    }
    let pairs = (k * (k - 1) / 2) as u64;
    let answered = wins.iter().flatten().sum::<u64>() + skipped;
    assert!(answered <= people * pairs, "{answered} answers: at most one per participant and pair");
    let canon: Vec<OptionId> = stats.iter().map(|s| s.option).collect();
    assert_eq!(result(&canon, wins.clone(), *skipped), shown);
}
