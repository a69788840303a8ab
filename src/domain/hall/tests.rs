//! Hand counts and the headcount: checked, merged into the tally, broken down per channel.

use madang_protocol::{
    Ballot, Channel, Command, HallCounts, HallOptionCount, MajorityRule, PollMethod, PollOptionsSpec, RankedTally,
    TallyResult, YesNoChoice,
};

use crate::domain::method::BallotError;
use crate::domain::test_support::*;
use crate::domain::*;

fn ranked_full() -> PollMethod {
    PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda }
}

/// A live forum with item 1 active and an open poll 1 of `method` over fixed options A, B, C.
fn open_poll_of(method: PollMethod) -> Forum {
    let mut f = live_with_item();
    let options = match method {
        PollMethod::YesNo { .. } => PollOptionsSpec::None {},
        _ => fixed(&["A", "B", "C"]),
    };
    ok(&mut f, MOD, create_poll(None, method, options));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

fn paper(ranking: &[u32], count: i64) -> madang_protocol::PaperBallots {
    madang_protocol::PaperBallots { ranking: ranking.iter().map(|&n| o(n)).collect(), count }
}

fn hall_ranked(ballots: Vec<madang_protocol::PaperBallots>) -> Command {
    Command::EnterHallCount { poll: poll(1), counts: HallCounts::Ranked { ballots } }
}

fn option_counts(list: &[(u32, i64)]) -> Vec<HallOptionCount> {
    list.iter().map(|&(option, count)| HallOptionCount { option: o(option), count }).collect()
}

fn borda(result: &TallyResult) -> Vec<u64> {
    match result {
        TallyResult::Ranked { borda, .. } => borda.iter().map(|c| c.count).collect(),
        other => panic!("expected a ranked result, got {other:?}"),
    }
}

#[test]
fn a_ranked_tally_merges_device_and_paper_ballots_and_breaks_them_down_per_channel() {
    let mut f = open_poll_of(ranked_full());
    let (r1, r2) = (join_on(&mut f, Channel::Remote, None), join_on(&mut f, Channel::Remote, None));
    let h1 = join_on(&mut f, Channel::Hall, None);
    ok(&mut f, Actor::Participant(r1), cast(1, rank(&[1, 2, 3])));
    ok(&mut f, Actor::Participant(r2), cast(1, rank(&[2, 1, 3])));
    ok(&mut f, Actor::Participant(h1), cast(1, rank(&[3, 2, 1])));
    // 12 paper ballots C > A > B, 5 paper ballots B > C > A.
    let event = ok(&mut f, MOD, hall_ranked(vec![paper(&[3, 1, 2], 12), paper(&[2, 3, 1], 5)]));
    assert!(matches!(event, Event::HallCountEntered { .. }));
    let tally = f.tally(&f.polls[&poll(1)]);
    // Borda, 3 options: 2, 1, 0 points.
    // remote: A 2+1=3, B 1+2=3, C 0.   hall: C 2, B 1, A 0.
    // paper:  C 12*2+5*1=29, A 12*1=12, B 5*2=10.
    assert_eq!(tally.ballots, 2 + 1 + 17);
    assert_eq!(borda(&tally.result), [15, 14, 31]);
    let by = tally.by_channel.expect("a breakdown");
    assert_eq!((by.remote.ballots, by.hall.ballots, by.hall_count.ballots), (2, 1, 17));
    assert_eq!(borda(&by.remote.result), [3, 3, 0]);
    assert_eq!(borda(&by.hall.result), [0, 1, 2]);
    assert_eq!(borda(&by.hall_count.result), [12, 10, 29]);
    let TallyResult::Ranked { first_choices, ranking, .. } = &tally.result else { unreachable!() };
    assert_eq!(first_choices, &counts(&[(1, 1), (2, 6), (3, 13)]));
    assert_eq!(ranking, &tiers_of(&[&[3], &[1], &[2]]));
    let TallyResult::Ranked { ranking, .. } = &by.remote.result else { unreachable!() };
    assert_eq!(ranking, &tiers_of(&[&[1, 2], &[3]]), "the remote crowd ties A and B");
}

#[test]
fn a_later_hall_count_replaces_the_earlier_and_the_outcome_keeps_the_breakdown() {
    let mut f = open_poll_of(ranked_full());
    ok(&mut f, MOD, hall_ranked(vec![paper(&[3, 1, 2], 12)]));
    ok(&mut f, MOD, hall_ranked(vec![paper(&[3, 1, 2], 10), paper(&[1, 2, 3], 2)]));
    assert_eq!(
        f.polls[&poll(1)].hall_count,
        Some(HallCounts::Ranked { ballots: vec![paper(&[3, 1, 2], 10), paper(&[1, 2, 3], 2)] })
    );
    let closed = ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 9_000);
    let Event::PollClosed { outcome, .. } = closed else { panic!("expected PollClosed") };
    assert_eq!(outcome.tally.ballots, 12);
    let by = outcome.tally.by_channel.expect("a breakdown");
    assert_eq!(by.hall_count.ballots, 12);
    assert_eq!(by.remote.ballots, 0);
    // A: 10*1 + 2*2 = 14, B: 2*1 = 2, C: 10*2 = 20.
    assert_eq!(borda(&by.hall_count.result), [14, 2, 20]);
    assert_eq!(borda(&outcome.tally.result), [14, 2, 20]);
    // Closed: the count can no longer change.
    assert_invalid_state(err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], 1)])), "poll 1 is closed");
}

#[test]
fn yes_no_hall_counts_add_to_device_ballots_and_decide_the_motion() {
    let mut f = open_poll_of(simple_yes_no());
    let r = join_on(&mut f, Channel::Remote, None);
    let h = join_on(&mut f, Channel::Hall, None);
    ok(&mut f, Actor::Participant(r), cast(1, Ballot::YesNo { choice: YesNoChoice::No }));
    ok(&mut f, Actor::Participant(h), cast(1, Ballot::YesNo { choice: YesNoChoice::No }));
    ok(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes: 3, no: 0, abstain: 4 } });
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 9);
    assert_eq!(
        tally.result,
        TallyResult::YesNo { yes: 3, no: 2, abstain: 4, rule: MajorityRule::Simple, passed: true, tie: false }
    );
    let by = tally.by_channel.unwrap();
    assert_eq!(by.hall_count.ballots, 7);
    assert!(matches!(by.remote.result, TallyResult::YesNo { yes: 0, no: 1, passed: false, .. }));
    assert!(matches!(by.hall_count.result, TallyResult::YesNo { yes: 3, no: 0, abstain: 4, passed: true, .. }));
}

#[test]
fn approval_dots_and_score_hall_counts_give_exactly_the_totals_entered() {
    let mut f = open_poll_of(approval(2));
    let r = join_on(&mut f, Channel::Remote, None);
    ok(&mut f, Actor::Participant(r), cast(1, approve(&[1, 3])));
    ok(
        &mut f,
        MOD,
        Command::EnterHallCount {
            poll: poll(1),
            counts: HallCounts::Approval { people: 20, counts: option_counts(&[(1, 4), (2, 15), (3, 20)]) },
        },
    );
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 21);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(1, 5), (2, 15), (3, 21)]), ranking: tiers_of(&[&[3], &[2], &[1]]) }
    );

    let mut f = open_poll_of(PollMethod::Dots { budget: 5, max_per_option: 3 });
    ok(
        &mut f,
        MOD,
        Command::EnterHallCount {
            poll: poll(1),
            counts: HallCounts::Dots { people: 4, counts: option_counts(&[(1, 12), (3, 7)]) },
        },
    );
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 4);
    assert_eq!(
        tally.result,
        TallyResult::Dots { counts: counts(&[(1, 12), (2, 0), (3, 7)]), ranking: tiers_of(&[&[1], &[3], &[2]]) }
    );

    let mut f = open_poll_of(PollMethod::Score {});
    let scores = vec![madang_protocol::HallScoreCount { option: o(2), distribution: [0, 0, 1, 0, 2, 1] }];
    ok(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: HallCounts::Score { people: 5, scores } });
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 5);
    let TallyResult::Score { stats, .. } = tally.result else { panic!("score") };
    // Option 2: scores 2, 4, 4, 5 → 4 ballots, sum 15, median 4.
    assert_eq!(
        (stats[1].ballots, stats[1].sum, stats[1].median, stats[1].distribution),
        (4, 15, 4.0, [0, 0, 1, 0, 2, 1])
    );
}

#[test]
fn hall_counts_are_for_moderators_only() {
    let mut f = open_poll_of(simple_yes_no());
    let me = join_on(&mut f, Channel::Hall, None);
    let command = Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes: 1, no: 0, abstain: 0 } };
    assert_forbidden(err(&mut f, Actor::Participant(me), command.clone()), "`enter_hall_count` is for moderators");
    assert_forbidden(err(&mut f, Actor::Display, command), "read-only");
    assert_forbidden(err(&mut f, Actor::Participant(me), Command::SetHallHeadcount { count: 3 }), "for moderators");
}

#[test]
fn negative_absurd_or_mismatched_hall_counts_are_invalid() {
    let mut f = open_poll_of(simple_yes_no());
    let yes_no_counts =
        |yes, no, abstain| Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes, no, abstain } };
    assert_invalid(err(&mut f, MOD, yes_no_counts(-3, 0, 0)), "yes is -3: counts cannot be negative");
    assert_invalid(err(&mut f, MOD, yes_no_counts(0, 100_001, 0)), "no is 100001: at most 100000");
    assert_invalid(err(&mut f, MOD, yes_no_counts(60_000, 60_000, 0)), "add up to 120000");
    let approval_counts = Command::EnterHallCount {
        poll: poll(1),
        counts: HallCounts::Approval { people: 1, counts: option_counts(&[(1, 1)]) },
    };
    assert_invalid(err(&mut f, MOD, approval_counts), "this poll takes yes_no hall counts (got approval)");

    let mut f = open_poll_of(approval(2));
    let enter = |people, list: &[(u32, i64)]| Command::EnterHallCount {
        poll: poll(1),
        counts: HallCounts::Approval { people, counts: option_counts(list) },
    };
    assert_invalid(err(&mut f, MOD, enter(-1, &[])), "people is -1");
    assert_invalid(err(&mut f, MOD, enter(5, &[(9, 1)])), "option 9 is not an option of this poll");
    assert_invalid(err(&mut f, MOD, enter(5, &[(1, 1), (1, 2)])), "option 1 is counted more than once");
}

#[test]
fn paper_rankings_follow_the_ballot_rules_and_name_them() {
    let mut f = open_poll_of(ranked_full());
    let e = err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], 4), paper(&[1, 2], 3)]));
    match e {
        DomainError::Ballot(b) => {
            assert_eq!(b.rule, "ranked.incomplete");
            assert!(b.message.starts_with("paper ranking 2: rank all 3 options"), "{}", b.message);
        }
        other => panic!("expected a ballot error, got {other:?}"),
    }
    let e = err(&mut f, MOD, hall_ranked(vec![paper(&[1, 1, 2], 4)]));
    assert!(matches!(e, DomainError::Ballot(BallotError { rule: "ranked.duplicate", .. })), "{e:?}");
    assert_invalid(err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], 0)])), "must be at least 1");
    assert_invalid(err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], -2)])), "cannot be negative");
    assert_invalid(
        err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], 60_000), paper(&[2, 1, 3], 60_000)])),
        "add up to 120000",
    );
}

#[test]
fn hall_counts_only_while_the_poll_is_open() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, simple_yes_no(), PollOptionsSpec::None {}));
    let command = Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes: 1, no: 0, abstain: 0 } };
    assert_invalid_state(err(&mut f, MOD, command.clone()), "poll 1 is not open yet");
    assert_not_found(
        err(
            &mut f,
            MOD,
            Command::EnterHallCount { poll: poll(7), counts: HallCounts::YesNo { yes: 1, no: 0, abstain: 0 } },
        ),
        "poll",
        7,
    );
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, command.clone());
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, MOD, command), "can no longer change");
}

#[test]
fn the_headcount_is_a_plausible_number() {
    let mut f = live();
    assert_invalid(
        err(&mut f, MOD, Command::SetHallHeadcount { count: -1 }),
        "the headcount is -1: counts cannot be negative",
    );
    assert_invalid(err(&mut f, MOD, Command::SetHallHeadcount { count: 1_000_000 }), "at most 100000");
    assert_eq!(ok(&mut f, MOD, Command::SetHallHeadcount { count: 120 }), Event::HallHeadcountSet { count: 120 });
    assert_eq!(f.hall_headcount, Some(120));
}

#[test]
fn people_counted_follows_the_method() {
    use crate::domain::hall::people_counted;
    assert_eq!(people_counted(&HallCounts::YesNo { yes: 3, no: 2, abstain: 1 }), 6);
    assert_eq!(people_counted(&HallCounts::Ranked { ballots: vec![paper(&[1], 12), paper(&[2], 5)] }), 17);
    assert_eq!(people_counted(&HallCounts::Approval { people: 9, counts: option_counts(&[(1, 9), (2, 9)]) }), 9);
}

fn approval_count(people: i64, list: &[(u32, i64)]) -> Command {
    Command::EnterHallCount { poll: poll(1), counts: HallCounts::Approval { people, counts: option_counts(list) } }
}

#[test]
fn approval_marks_cannot_exceed_the_choices_each_person_may_make() {
    // One choice each: 15 people cannot make 21 marks, though no option has more than 15.
    let mut f = open_poll_of(approval(1));
    assert_broken(
        err(&mut f, MOD, approval_count(15, &[(1, 11), (2, 10)])),
        "hall_count.over_method",
        "21 approvals in all is more than 15 people may give (1 each: 15)",
    );
    ok(&mut f, MOD, approval_count(15, &[(1, 5), (2, 10)]));
    // Two choices each: 30 marks is the most 15 people can make.
    let mut f = open_poll_of(approval(2));
    ok(&mut f, MOD, approval_count(15, &[(1, 15), (2, 15)]));
    assert_broken(err(&mut f, MOD, approval_count(15, &[(1, 15), (2, 15), (3, 1)])), "hall_count.over_method", "31");
}

#[test]
fn marks_over_what_the_people_counted_may_give_break_the_method_rule() {
    let mut f = open_poll_of(approval(2));
    assert_broken(
        err(&mut f, MOD, approval_count(5, &[(1, 6)])),
        "hall_count.over_method",
        "the count for option 1 is 6: at most 5",
    );
    let mut f = open_poll_of(PollMethod::Dots { budget: 5, max_per_option: 3 });
    let dots = |people, list: &[(u32, i64)]| Command::EnterHallCount {
        poll: poll(1),
        counts: HallCounts::Dots { people, counts: option_counts(list) },
    };
    assert_broken(err(&mut f, MOD, dots(2, &[(1, 7)])), "hall_count.over_method", "at most 6");
    assert_broken(
        err(&mut f, MOD, dots(2, &[(1, 6), (2, 6)])),
        "hall_count.over_method",
        "12 dots in all is more than 2 people may place (10)",
    );
    let mut f = open_poll_of(PollMethod::Score {});
    let scores = vec![madang_protocol::HallScoreCount { option: o(1), distribution: [1, 1, 1, 0, 0, 0] }];
    assert_broken(
        err(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: HallCounts::Score { people: 2, scores } }),
        "hall_count.over_method",
        "3 people scored option 1 but only 2 took part",
    );
}

#[test]
fn a_hand_count_cannot_count_more_people_than_the_headcount() {
    let headcount = |f: &mut Forum, count| ok(f, MOD, Command::SetHallHeadcount { count });
    let yes_no =
        |yes, no, abstain| Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes, no, abstain } };
    let mut f = open_poll_of(simple_yes_no());
    // Without a headcount nothing is compared.
    ok(&mut f, MOD, yes_no(30, 0, 0));
    headcount(&mut f, 10);
    assert_broken(
        err(&mut f, MOD, yes_no(6, 4, 1)),
        "hall_count.over_headcount",
        "11 people counted by hand is more than the 10 in the hall",
    );
    ok(&mut f, MOD, yes_no(6, 3, 1));

    let mut f = open_poll_of(approval(3));
    headcount(&mut f, 10);
    assert_broken(err(&mut f, MOD, approval_count(11, &[(1, 1)])), "hall_count.over_headcount", "11 people");
    ok(&mut f, MOD, approval_count(10, &[(1, 10)]));

    let mut f = open_poll_of(ranked_full());
    headcount(&mut f, 10);
    assert_broken(
        err(&mut f, MOD, hall_ranked(vec![paper(&[1, 2, 3], 6), paper(&[3, 2, 1], 5)])),
        "hall_count.over_headcount",
        "11 people",
    );
}

#[test]
fn a_single_choice_hand_count_adds_one_mark_per_person_to_the_device_picks() {
    let mut f = open_poll_of(PollMethod::SingleChoice {});
    let r1 = join_on(&mut f, Channel::Remote, None);
    ok(&mut f, Actor::Participant(r1), cast(1, Ballot::SingleChoice { option: o(2) }));
    let enter = |list: &[(u32, i64)]| Command::EnterHallCount {
        poll: poll(1),
        counts: HallCounts::SingleChoice { counts: option_counts(list) },
    };
    ok(&mut f, MOD, enter(&[(1, 4), (3, 2)]));
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 7, "one device, six people counted by hand");
    assert_eq!(
        tally.result,
        TallyResult::SingleChoice {
            counts: counts(&[(1, 4), (2, 1), (3, 2)]),
            ranking: tiers_of(&[&[1], &[3], &[2]]),
            winners: vec![o(1)],
            tie: false,
        }
    );
    let by = tally.by_channel.expect("a breakdown");
    assert_eq!((by.remote.ballots, by.hall_count.ballots), (1, 6));
    assert_eq!(
        crate::domain::hall::people_counted(&HallCounts::SingleChoice { counts: option_counts(&[(1, 4), (3, 2)]) }),
        6
    );

    assert_invalid(err(&mut f, MOD, enter(&[(1, -1)])), "cannot be negative");
    assert_invalid(err(&mut f, MOD, enter(&[(4, 1)])), "option 4 is not an option of this poll");
    assert_invalid(err(&mut f, MOD, enter(&[(1, 60_000), (2, 60_000)])), "add up to 120000");
    ok(&mut f, MOD, Command::SetHallHeadcount { count: 5 });
    assert_broken(err(&mut f, MOD, enter(&[(1, 4), (3, 2)])), "hall_count.over_headcount", "6 people");
}
