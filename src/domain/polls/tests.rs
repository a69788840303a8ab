//! Polls from creation to outcome, ballots, what merges do to them, and pairwise polls.

use std::collections::{BTreeMap, HashMap};

use madang_protocol::{
    Ballot, Channel, Command, HallCounts, MajorityRule, OptionId, PollId, PollMethod, PollOptionsSpec, PollStatus,
    RankedTally, ResultsVisibility, TallyResult, YesNoChoice,
};

use crate::domain::method::BallotError;
use crate::domain::test_support::*;
use crate::domain::*;

#[test]
fn create_poll_over_ideas_takes_the_approved_ideas_of_the_item_in_id_order() {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, submit("One")); // 1 approved
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    ok(&mut f, Actor::Participant(me), submit("Two")); // 2 pending
    ok(&mut f, MOD, submit("Three")); // 3 approved
    ok(&mut f, MOD, submit("Four")); // 4 -> hidden
    ok(&mut f, MOD, Command::HideIdea { idea: idea(4) });
    ok(&mut f, MOD, submit("Five")); // 5 -> merged into 1
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(5), into: idea(1) });
    ok(&mut f, Actor::Participant(me), submit("Six")); // 6 pending -> approved
    ok(&mut f, MOD, Command::ApproveIdea { idea: idea(6) });
    // An approved idea under another item is not taken.
    ok(&mut f, MOD, add_item("Roads"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, MOD, submit("Seven"));

    let event = ok(&mut f, MOD, create_poll(Some(item(1)), approval(2), PollOptionsSpec::Ideas {}));
    let expected = [(1, "One"), (3, "Three"), (6, "Six")];
    match &event {
        Event::PollCreated { poll: id, item: it, options, .. } => {
            assert_eq!((*id, *it), (poll(1), item(1)));
            let specs: Vec<OptionSpec> =
                expected.iter().map(|&(n, label)| OptionSpec { label: label.into(), idea: Some(idea(n)) }).collect();
            assert_eq!(options, &specs);
        }
        other => panic!("{other:?}"),
    }
    let created = &f.polls[&poll(1)];
    let options: Vec<PollOption> = expected
        .iter()
        .zip(1..)
        .map(|(&(n, label), k)| PollOption { id: o(k), label: label.into(), idea: Some(idea(n)) })
        .collect();
    assert_eq!(created.options, options);
    assert_eq!(created.status, PollStatus::Draft);
    assert_eq!(created.title, "Which?");
    assert_eq!(created.method, approval(2));
    assert!(!created.revealed);
    assert!(created.ballots.is_empty());
    assert_eq!(created.outcome, None);
}

#[test]
fn create_poll_with_fewer_than_two_options_is_invalid() {
    let mut f = ideas(1);
    assert_invalid(
        err(&mut f, MOD, create_poll(None, approval(1), PollOptionsSpec::Ideas {})),
        "at least 2 options, it has 1",
    );
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), fixed(&["Only"]))), "at least 2 options, it has 1");
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), PollOptionsSpec::None {})), "it has 0");
    assert!(f.polls.is_empty());
}

#[test]
fn create_yes_no_poll_with_options_is_invalid() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, create_poll(None, simple_yes_no(), fixed(&["A", "B"]))),
        "a yes/no poll has no options",
    );
}

#[test]
fn create_yes_no_poll_over_ideas_is_invalid_even_without_ideas() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::Ideas {})),
        "a yes/no poll has no options",
    );
}

#[test]
fn create_yes_no_poll_without_options() {
    let mut f = live_with_item();
    let event = ok(&mut f, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::None {}));
    assert_eq!(
        event,
        Event::PollCreated {
            secrecy: Default::default(),
            poll: poll(1),
            item: item(1),
            title: "Which?".into(),
            method: simple_yes_no(),
            options: vec![],
            results: ResultsVisibility::Live
        }
    );
    assert!(f.polls[&poll(1)].options.is_empty());
}

#[test]
fn create_poll_trims_title_and_fixed_labels() {
    let mut f = live_with_item();
    let command = Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "  Where?  ".into(),
        method: approval(1),
        options: fixed(&[" North ", "\tSouth"]),
        results: ResultsVisibility::Hidden,
    };
    ok(&mut f, MOD, command);
    let created = &f.polls[&poll(1)];
    assert_eq!(created.title, "Where?");
    assert_eq!(
        created.options,
        vec![
            PollOption { id: o(1), label: "North".into(), idea: None },
            PollOption { id: o(2), label: "South".into(), idea: None }
        ]
    );
    assert_eq!(created.results, ResultsVisibility::Hidden);
}

#[test]
fn create_poll_with_an_empty_label_or_title_is_invalid() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "  "]))),
        "option label must not be empty",
    );
    let command = Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: " ".into(),
        method: approval(1),
        options: fixed(&["A", "B"]),
        results: ResultsVisibility::Live,
    };
    assert_invalid(err(&mut f, MOD, command), "title must not be empty");
}

#[test]
fn create_poll_with_more_than_100_options_is_invalid() {
    let mut f = live_with_item();
    let labels: Vec<String> = (1..=101).map(|n| format!("Option {n}")).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), fixed(&refs))), "at most 100 options");
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&refs[..100])));
    assert_eq!(f.polls[&poll(1)].options.len(), 100);
    assert_eq!(f.polls[&poll(1)].options[99].id, o(100));
}

#[test]
fn create_poll_without_item_and_without_active_item_is_invalid_state() {
    let mut f = live();
    ok(&mut f, MOD, add_item("Parks"));
    assert_invalid_state(
        err(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"]))),
        "no item given and no current agenda item",
    );
}

#[test]
fn create_poll_defaults_to_the_active_item() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_eq!(f.polls[&poll(1)].item, item(2));
    // An explicit item wins over the active one.
    ok(&mut f, MOD, create_poll(Some(item(1)), approval(1), fixed(&["A", "B"])));
    assert_eq!(f.polls[&poll(2)].item, item(1));
}

#[test]
fn create_poll_with_invalid_method_parameters_is_invalid() {
    let mut f = live_with_item();
    let cases = [
        (approval(0), "max_choices must be at least 1"),
        (PollMethod::Dots { budget: 0, max_per_option: 1 }, "budget must be at least 1"),
        (PollMethod::Dots { budget: 5, max_per_option: 0 }, "max_per_option must be at least 1"),
        (PollMethod::Ranked { max_ranks: Some(0), tally: RankedTally::Borda }, "max_ranks must be at least 1"),
    ];
    for (method, message) in cases {
        assert_invalid(err(&mut f, MOD, create_poll(None, method, fixed(&["A", "B"]))), message);
    }
    for method in [
        approval(1),
        PollMethod::Dots { budget: 1, max_per_option: 1 },
        PollMethod::Score {},
        PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda },
        PollMethod::Ranked { max_ranks: Some(1), tally: RankedTally::Borda },
    ] {
        ok(&mut f, MOD, create_poll(None, method, fixed(&["A", "B"])));
    }
    assert_eq!(f.polls.len(), 5);
}

#[test]
fn polls_are_numbered_in_order() {
    let mut f = live_with_item();
    for n in 1..=3 {
        let event = ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
        assert!(matches!(event, Event::PollCreated { poll: PollId(id), .. } if id == n), "{event:?}");
    }
}

#[test]
fn open_a_draft_poll() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_eq!(ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), Event::PollOpened { poll: poll(1) });
    assert_eq!(f.polls[&poll(1)].status, PollStatus::Open);
}

#[test]
fn open_twice_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert_invalid_state(err(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), "poll 1 is already open");
}

#[test]
fn open_a_closed_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), "poll 1 is closed");
}

#[test]
fn close_a_poll_that_is_not_open_is_invalid_state() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, MOD, Command::ClosePoll { poll: poll(1) }), "poll 1 is not open");
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, MOD, Command::ClosePoll { poll: poll(1) }), "poll 1 is not open");
}

#[test]
fn close_records_the_outcome_with_the_time_and_the_tally() {
    let mut f = open_approval_poll(2);
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1, 2])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[2, 3])));
    let live_tally = f.tally(&f.polls[&poll(1)]);
    let event = ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 1_234_567);
    let closed = &f.polls[&poll(1)];
    assert_eq!(closed.status, PollStatus::Closed);
    let outcome = closed.outcome.as_ref().expect("an outcome");
    assert_eq!(event, Event::PollClosed { poll: poll(1), outcome: Box::new(outcome.clone()) });
    assert_eq!(outcome.poll, poll(1));
    assert_eq!(outcome.title, "Which?");
    assert_eq!(outcome.method, approval(2));
    assert_eq!(outcome.closed_at_ms, 1_234_567);
    assert_eq!(outcome.tally, live_tally);
    assert_eq!(outcome.tally.poll, poll(1));
    assert_eq!(outcome.tally.ballots, 3);
    assert_eq!(
        outcome.tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (2, 3), (3, 1)]), ranking: tiers_of(&[&[2], &[1, 3]]) }
    );
}

#[test]
fn close_a_yes_no_poll_records_the_vote() {
    let mut f = live_with_item();
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::None {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, Actor::Participant(a), cast(1, Ballot::YesNo { choice: YesNoChoice::Yes }));
    ok(&mut f, Actor::Participant(b), cast(1, Ballot::YesNo { choice: YesNoChoice::Abstain }));
    ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 9);
    let outcome = f.polls[&poll(1)].outcome.clone().expect("an outcome");
    assert_eq!(outcome.closed_at_ms, 9);
    assert_eq!(
        outcome.tally.result,
        TallyResult::YesNo { yes: 1, no: 0, abstain: 1, rule: MajorityRule::Simple, passed: true, tie: false }
    );
}

#[test]
fn reveal_results_of_a_live_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert!(f.polls[&poll(1)].results_public());
    assert_invalid_state(err(&mut f, MOD, Command::RevealResults { poll: poll(1) }), "already visible");
}

#[test]
fn reveal_results_of_a_hidden_poll_makes_them_public_once() {
    let mut f = live_with_item();
    let command = Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Secret".into(),
        method: approval(1),
        options: fixed(&["A", "B"]),
        results: ResultsVisibility::Hidden,
    };
    ok(&mut f, MOD, command);
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    assert!(!f.polls[&poll(1)].results_public());
    assert_eq!(ok(&mut f, MOD, Command::RevealResults { poll: poll(1) }), Event::ResultsRevealed { poll: poll(1) });
    assert!(f.polls[&poll(1)].revealed);
    assert!(f.polls[&poll(1)].results_public());
    assert_invalid_state(err(&mut f, MOD, Command::RevealResults { poll: poll(1) }), "already visible");
}

#[test]
fn unknown_polls_are_not_found() {
    let mut f = live_with_item();
    let me = join(&mut f);
    for command in [
        Command::OpenPoll { poll: poll(3) },
        Command::ClosePoll { poll: poll(3) },
        Command::RevealResults { poll: poll(3) },
    ] {
        assert_not_found(err(&mut f, MOD, command), "poll", 3);
    }
    assert_not_found(err(&mut f, Actor::Participant(me), cast(3, approve(&[1]))), "poll", 3);
}

#[test]
fn cast_a_ballot_in_an_open_poll() {
    let mut f = open_approval_poll(2);
    let me = join(&mut f);
    let receipt = crate::domain::receipts::receipt(&f.receipt_key, poll(1), me, 0);
    assert_eq!(
        ok(&mut f, Actor::Participant(me), cast(1, approve(&[1, 3]))),
        Event::BallotCast { poll: poll(1), participant: me, ballot: approve(&[1, 3]), receipt: Some(receipt.clone()) }
    );
    assert_eq!(f.polls[&poll(1)].ballots, BTreeMap::from([(me, approve(&[1, 3]))]));
    assert_eq!(f.polls[&poll(1)].receipts[&me].current, receipt);
    // A recast gets a new receipt, and the poll keeps only the one in force.
    let Event::BallotCast { receipt: Some(second), .. } = ok(&mut f, Actor::Participant(me), cast(1, approve(&[2])))
    else {
        panic!("a ballot carries its receipt");
    };
    assert_ne!(second, receipt);
    assert_eq!((f.polls[&poll(1)].receipts[&me].casts, &f.polls[&poll(1)].receipts[&me].current), (2, &second));
}

#[test]
fn cast_on_a_draft_poll_is_invalid_state() {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, Actor::Participant(me), cast(1, approve(&[1]))), "poll 1 is not open");
}

#[test]
fn cast_on_a_closed_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    let me = join(&mut f);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, Actor::Participant(me), cast(1, approve(&[1]))), "poll 1 is not open");
}

#[test]
fn a_ballot_breaking_the_method_is_a_ballot_error_with_its_rule() {
    let mut f = open_approval_poll(2);
    let me = join(&mut f);
    let e = err(&mut f, Actor::Participant(me), cast(1, approve(&[1, 2, 3])));
    match e {
        DomainError::Ballot(ballot) => {
            assert_eq!(ballot.rule, "approval.max_choices");
            assert_eq!(ballot.message, "approve at most 2 options (got 3)");
        }
        other => panic!("expected a ballot error, got {other:?}"),
    }
    let e = err(&mut f, Actor::Participant(me), cast(1, approve(&[4])));
    assert!(matches!(&e, DomainError::Ballot(b) if b.rule == "option.unknown"), "{e:?}");
    assert!(f.polls[&poll(1)].ballots.is_empty());
}

#[test]
fn a_later_ballot_replaces_the_earlier() {
    let mut f = open_approval_poll(2);
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[2, 3])));
    let ballots = &f.polls[&poll(1)].ballots;
    assert_eq!(ballots.len(), 2);
    assert_eq!(ballots[&a], approve(&[2, 3]));
    assert_eq!(ballots[&b], approve(&[1]));
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 2);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (2, 1), (3, 1)]), ranking: tiers_of(&[&[1, 2, 3]]) }
    );
}

#[test]
fn merging_an_option_idea_counts_its_approvals_for_the_target() {
    let mut f = poll_over_ideas(3, approval(2));
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[1, 3])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });

    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(2)), (o(2), o(2)), (o(3), o(3))]));
    let tally = f.tally(p);
    assert_eq!(tally.ballots, 3);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(2, 3), (3, 1)]), ranking: tiers_of(&[&[2], &[3]]) }
    );

    // After the merge, options 1 and 2 are one: naming both is a duplicate.
    let d = join(&mut f);
    let e = err(&mut f, Actor::Participant(d), cast(1, approve(&[1, 2])));
    assert!(matches!(&e, DomainError::Ballot(b) if b.rule == "approval.duplicate"), "{e:?}");
    // Naming the merged option alone is fine and counts for the target.
    ok(&mut f, Actor::Participant(d), cast(1, approve(&[1])));
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(2, 4), (3, 1)]), ranking: tiers_of(&[&[2], &[3]]) }
    );
}

#[test]
fn merging_an_option_idea_counts_its_borda_points_for_the_target() {
    let mut f = poll_over_ideas(3, PollMethod::Ranked { max_ranks: Some(2), tally: RankedTally::Borda });
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, rank(&[3, 1])));
    ok(&mut f, Actor::Participant(b), cast(1, rank(&[1, 2])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    // Two canonical options (2, 3): first place scores 1, second 0.
    // a: 3 first (1), 1->2 second (0). b: 1->2 first (1), 2 again is skipped.
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(
        tally.result,
        TallyResult::Ranked {
            tally: RankedTally::Borda,
            borda: counts(&[(2, 1), (3, 1)]),
            first_choices: counts(&[(2, 1), (3, 1)]),
            ranking: tiers_of(&[&[2, 3]]),
        }
    );
}

#[test]
fn the_outcome_of_a_poll_closed_after_a_merge_counts_the_merged_option_for_the_target() {
    let mut f = poll_over_ideas(3, approval(1));
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[3])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[3])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[1])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(1) });
    ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 77);
    let outcome = f.polls[&poll(1)].outcome.clone().expect("outcome");
    assert_eq!(
        outcome.tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (3, 2)]), ranking: tiers_of(&[&[3], &[1]]) }
    );
}

#[test]
fn merging_into_an_idea_that_is_not_an_option_leaves_the_option_alone() {
    let mut f = poll_over_ideas(2, approval(1));
    ok(&mut f, MOD, submit("Three")); // idea 3: approved after the poll was created
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(3) });
    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(1)), (o(2), o(2))]));
}

#[test]
fn a_merge_chain_through_options_counts_for_the_last_option_in_the_chain() {
    // Ideas 1 and 2 are options; 1 is merged into 2, so ballots for 1 count
    // for 2. Then 2 is merged into idea 3, which is not an option of the
    // poll: option 2 stays as it is, and ballots for option 1 must still
    // count for option 2 (they were merged into it, and nothing undid that).
    let mut f = poll_over_ideas(2, approval(1));
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, MOD, submit("Three"));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    let before = f.tally(&f.polls[&poll(1)]);
    assert_eq!(before.result, TallyResult::Approval { counts: counts(&[(2, 2)]), ranking: tiers_of(&[&[2]]) });

    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(3) });
    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(2)), (o(2), o(2))]));
    assert_eq!(f.tally(p), before);
}

fn next_pair(poll_id: u32) -> Command {
    Command::NextPair { poll: poll(poll_id) }
}

fn compare(poll_id: u32, winner: u32, loser: u32) -> Command {
    Command::CastComparison { poll: poll(poll_id), winner: o(winner), loser: o(loser), skip: false }
}

/// A live forum with item 1 active, ideas 1..=4 approved, and an open
/// pairwise poll 1 over them (options 1..=4 are ideas 1..=4).
fn open_pairwise_poll() -> Forum {
    let mut f = live_with_item();
    for text in ["A", "B", "C", "D"] {
        ok(&mut f, MOD, submit(text));
    }
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, PollOptionsSpec::Ideas {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

fn offered(event: Event) -> ([OptionId; 2], u32) {
    match event {
        Event::PairOffered { pair, pairs_left, .. } => (pair, pairs_left),
        other => panic!("expected PairOffered, got {other:?}"),
    }
}

#[track_caller]
fn assert_domain_rule(e: DomainError, rule: &str) {
    match e {
        DomainError::Ballot(BallotError { rule: got, .. }) => assert_eq!(got, rule),
        other => panic!("expected ballot rule {rule}, got {other:?}"),
    }
}

fn pairwise_result(f: &Forum) -> (u32, TallyResult) {
    let tally = f.tally(&f.polls[&poll(1)]);
    (tally.ballots, tally.result)
}

#[test]
fn pairwise_poll_needs_two_options_and_takes_fixed_labels() {
    let mut f = live_with_item();
    assert_invalid(err(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A"]))), "at least 2 options");
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A", "B"])));
}

#[test]
fn next_pair_offers_each_pair_once_then_refuses() {
    let mut f = open_pairwise_poll();
    let me = join(&mut f);
    let mut seen = std::collections::BTreeSet::new();
    for left in (1..=6).rev() {
        let (pair, n) = offered(ok(&mut f, Actor::Participant(me), next_pair(1)));
        assert_eq!(n, left);
        // Asking again before answering gives the same pair.
        assert_eq!(offered(ok(&mut f, Actor::Participant(me), next_pair(1))).0, pair);
        assert!(seen.insert((pair[0].min(pair[1]), pair[0].max(pair[1]))));
        ok(&mut f, Actor::Participant(me), compare(1, pair[0].0, pair[1].0));
    }
    assert_invalid_state(err(&mut f, Actor::Participant(me), next_pair(1)), "every pair");
}

#[test]
fn comparisons_are_tallied_and_a_repeat_replaces_the_earlier_answer() {
    let mut f = open_pairwise_poll();
    let (a, b) = (join(&mut f), join(&mut f));
    ok(&mut f, Actor::Participant(a), compare(1, 2, 1));
    ok(&mut f, Actor::Participant(a), compare(1, 1, 2)); // replaces: 1 over 2
    ok(&mut f, Actor::Participant(b), compare(1, 1, 3));
    ok(&mut f, Actor::Participant(b), Command::CastComparison { poll: poll(1), winner: o(3), loser: o(4), skip: true });
    let (people, result) = pairwise_result(&f);
    assert_eq!(people, 2);
    let TallyResult::Pairwise { comparisons, skipped, stats, wins, ranking } = result else { panic!("not pairwise") };
    assert_eq!((comparisons, skipped), (2, 1));
    assert_eq!(wins[0], vec![0, 1, 1, 0]);
    assert_eq!((stats[0].wins, stats[0].losses, stats[1].losses, stats[2].losses), (2, 0, 1, 1));
    // 1 first; 2 and 3 each lost once to 1: tied; 4 untouched, above them.
    assert_eq!(ranking, tiers_of(&[&[1], &[4], &[2, 3]]));
}

#[test]
fn comparison_rules() {
    let mut f = open_pairwise_poll();
    let me = Actor::Participant(join(&mut f));
    assert_domain_rule(err(&mut f, me, compare(1, 1, 9)), "option.unknown");
    assert_domain_rule(err(&mut f, me, compare(1, 2, 2)), "pairwise.same_option");
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(4), into: idea(3) });
    assert_domain_rule(err(&mut f, me, compare(1, 4, 1)), "pairwise.merged");
    assert_domain_rule(err(&mut f, me, compare(1, 1, 4)), "pairwise.merged");
    ok(&mut f, me, compare(1, 3, 1));
    // A pairwise poll takes no ballots, and other polls take no comparisons.
    assert_domain_rule(err(&mut f, me, cast(1, rank(&[1, 2]))), "ballot.kind");
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["X", "Y"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(2) });
    assert_invalid(err(&mut f, me, compare(2, 1, 2)), "not a pairwise poll");
    assert_invalid(err(&mut f, me, next_pair(2)), "not a pairwise poll");
    assert_not_found(err(&mut f, me, next_pair(9)), "poll", 9);
}

#[test]
fn after_a_merge_pairs_use_canonical_options_only() {
    let mut f = open_pairwise_poll();
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(4), into: idea(3) });
    let me = Actor::Participant(join(&mut f));
    for left in (1..=3).rev() {
        let (pair, n) = offered(ok(&mut f, me, next_pair(1)));
        assert_eq!(n, left);
        assert!(!pair.contains(&o(4)), "offered merged option: {pair:?}");
        ok(&mut f, me, compare(1, pair[0].0, pair[1].0));
    }
    let TallyResult::Pairwise { stats, .. } = pairwise_result(&f).1 else { panic!("not pairwise") };
    assert_eq!(stats.iter().map(|s| s.option).collect::<Vec<_>>(), vec![o(1), o(2), o(3)]);
}

#[test]
fn pairwise_commands_need_a_participant_an_open_poll_and_a_live_forum() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A", "B", "C"])));
    let me = Actor::Participant(join(&mut f));
    assert_invalid_state(err(&mut f, me, next_pair(1)), "not open");
    assert_invalid_state(err(&mut f, me, compare(1, 1, 2)), "not open");
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    assert_forbidden(err(&mut f, MOD, next_pair(1)), "moderators do not compare");
    assert_forbidden(err(&mut f, MOD, compare(1, 1, 2)), "moderators do not compare");
    assert_forbidden(err(&mut f, Actor::Display, compare(1, 1, 2)), "read-only");
    let hall = HallCounts::Approval { people: 1, counts: vec![] };
    assert_invalid_state(err(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: hall }), "no hall count");
    ok(&mut f, me, compare(1, 1, 2));
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, me, compare(1, 1, 3)), "not open");
    assert_invalid_state(err(&mut f, me, next_pair(1)), "not open");
    let outcome = f.polls[&poll(1)].outcome.clone().expect("an outcome");
    assert_eq!(outcome.tally.result.winners(), &[o(1)]);
    ok(&mut f, MOD, Command::CloseForum {});
    assert_invalid_state(err(&mut f, me, next_pair(1)), "closed");
}

#[test]
fn pairwise_tally_splits_by_channel() {
    let mut f = open_pairwise_poll();
    let remote = Actor::Participant(join(&mut f));
    let event = f.decide_join(Channel::Hall, None, None, "hall-token".into(), &Limits::default()).unwrap();
    f.apply(&event);
    let Event::ParticipantJoined { participant: hall, .. } = event else { unreachable!() };
    ok(&mut f, remote, compare(1, 1, 2));
    ok(&mut f, Actor::Participant(hall), compare(1, 2, 1));
    let tally = f.tally(&f.polls[&poll(1)]);
    let by = tally.by_channel.expect("by channel");
    assert_eq!((tally.ballots, by.remote.ballots, by.hall.ballots, by.hall_count.ballots), (2, 1, 1, 0));
    assert_eq!(by.remote.result.winners(), &[o(1)]);
    assert_eq!(by.hall.result.winners(), &[o(2)]);
    // Merged: 1 and 2 won once each against the other, so both stay at
    // strength 1, level with the untouched 3 and 4: one tier.
    assert_eq!(tally.result.winners(), &[o(1), o(2), o(3), o(4)]);
}

#[test]
fn replaying_pairwise_events_gives_the_same_tally_bytes() {
    let mut f = open_pairwise_poll();
    let mut log = Vec::new();
    let people: Vec<Actor> = (0..3).map(|_| Actor::Participant(join(&mut f))).collect();
    for round in 0..4 {
        for &who in &people {
            let e = ok(&mut f, who, next_pair(1));
            log.push(e.clone());
            let (pair, _) = offered(e);
            let (w, l) = if pair[0] < pair[1] { (pair[0], pair[1]) } else { (pair[1], pair[0]) };
            let skip = round == 3;
            log.push(ok(&mut f, who, Command::CastComparison { poll: poll(1), winner: w, loser: l, skip }));
        }
    }
    let mut g = open_pairwise_poll();
    for _ in 0..3 {
        join(&mut g);
    }
    for e in &log {
        g.apply(e);
    }
    let a = serde_json::to_string(&f.tally(&f.polls[&poll(1)])).unwrap();
    let b = serde_json::to_string(&g.tally(&g.polls[&poll(1)])).unwrap();
    assert_eq!(a, b);
    // Everyone prefers lower ids: the order is 1, 2, 3, 4.
    let TallyResult::Pairwise { ranking, skipped, comparisons, .. } = pairwise_result(&f).1 else { panic!() };
    assert_eq!((comparisons, skipped), (9, 3));
    assert_eq!(ranking, tiers_of(&[&[1], &[2], &[3], &[4]]));
}

#[test]
fn a_forum_holds_at_most_the_polls_cap() {
    let mut f = live_with_item();
    let limits = Limits { polls: 2, ..Limits::default() };
    for _ in 0..2 {
        ok_with(&mut f, &limits, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::None {}));
    }
    let refused = err_with(&mut f, &limits, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::None {}));
    assert_limit(refused, limits::rule::POLLS);
}

#[test]
fn a_forum_holds_at_most_the_poll_options_cap_across_its_polls() {
    let mut f = live_with_item();
    let limits = Limits { poll_options: 5, ..Limits::default() };
    ok_with(&mut f, &limits, MOD, create_poll(None, approval(1), fixed(&["a", "b", "c"])));
    let refused = err_with(&mut f, &limits, MOD, create_poll(None, approval(1), fixed(&["d", "e", "f"])));
    assert_limit(refused, limits::rule::POLL_OPTIONS);
    ok_with(&mut f, &limits, MOD, create_poll(None, approval(1), fixed(&["d", "e"])));
}
