use madang_protocol::{Ballot, TallyResult};

use crate::domain::test_support::*;

fn pick(option: u32) -> Ballot {
    Ballot::SingleChoice { option: o(option) }
}

#[test]
fn a_ballot_picks_one_known_option_of_the_poll() {
    let options = Options::new(3);
    assert_eq!(options.validate(&single_choice(), &pick(2)), Ok(()));
    assert_rule(options.validate(&single_choice(), &pick(9)), "option.unknown");
    assert_rule(options.validate(&single_choice(), &approve(&[1])), "ballot.kind");
    assert_rule(options.validate(&approval(1), &pick(1)), "ballot.kind");
}

#[test]
fn the_option_picked_most_wins() {
    let options = Options::new(3);
    let tally = options.tally(&single_choice(), &[pick(2), pick(1), pick(2), pick(3), pick(2)]);
    assert_eq!(tally.ballots, 5);
    assert_eq!(
        tally.result,
        TallyResult::SingleChoice {
            counts: counts(&[(1, 1), (2, 3), (3, 1)]),
            ranking: tiers_of(&[&[2], &[1, 3]]),
            winners: ids(&[2]),
            tie: false,
        }
    );
    assert_eq!(tally.result.winners(), &[o(2)]);
}

#[test]
fn a_tie_for_the_most_is_reported_not_broken() {
    let options = Options::new(3);
    let result = options.tally(&single_choice(), &[pick(3), pick(1), pick(1), pick(3), pick(2)]).result;
    assert_eq!(
        result,
        TallyResult::SingleChoice {
            counts: counts(&[(1, 2), (2, 1), (3, 2)]),
            ranking: tiers_of(&[&[1, 3], &[2]]),
            winners: ids(&[1, 3]),
            tie: true,
        }
    );
}

#[test]
fn nobody_picked_anything_means_no_winner_and_no_tie() {
    let result = Options::new(3).tally(&single_choice(), &[]).result;
    assert_eq!(
        result,
        TallyResult::SingleChoice {
            counts: counts(&[(1, 0), (2, 0), (3, 0)]),
            ranking: tiers_of(&[&[1, 2, 3]]),
            winners: vec![],
            tie: false,
        }
    );
    assert!(result.winners().is_empty());
}

#[test]
fn a_merged_option_counts_for_its_target_and_weights_count_exactly() {
    let options = Options::new(3).merge(3, 1);
    let result = count_weighted(&options, &single_choice(), &[(pick(3), 12), (pick(1), 1), (pick(2), 10)]);
    assert_eq!(
        result,
        TallyResult::SingleChoice {
            counts: counts(&[(1, 13), (2, 10)]),
            ranking: tiers_of(&[&[1], &[2]]),
            winners: ids(&[1]),
            tie: false,
        }
    );
}
