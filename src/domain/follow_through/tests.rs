use madang_protocol::{ActionId, ActionStatus, BallotSecrecy, Command, ResponseKind, YesNoChoice};

use crate::domain::test_support::*;
use crate::domain::{Actor, DomainError, Event, Forum};

/// A live forum whose yes/no poll 1 is closed (one ballot) and poll 2 still open.
fn decided() -> Forum {
    let mut f = live_with_item();
    let voter = join(&mut f);
    ok(&mut f, MOD, create_poll(None, simple_yes_no(), madang_protocol::PollOptionsSpec::None {}));
    ok(&mut f, MOD, create_poll(None, simple_yes_no(), madang_protocol::PollOptionsSpec::None {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(2) });
    ok(&mut f, Actor::Participant(voter), cast(1, choose(YesNoChoice::Yes)));
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    f
}

fn respond(poll_id: u32) -> Command {
    Command::RecordResponse {
        poll: poll(poll_id),
        body: " Parks Department ".into(),
        response: ResponseKind::AdoptedInPart,
        reasons: "Funded for the north bank this year; the south bank needs a flood study first.".into(),
    }
}

#[test]
fn a_decided_poll_gets_responses_and_actions_with_their_times_even_after_the_forum_closes() {
    let mut f = decided();
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(2) });
    ok(&mut f, MOD, Command::CloseForum {});
    let event = ok_at(&mut f, MOD, respond(1), 5_000);
    assert_eq!(
        event,
        Event::ResponseRecorded {
            poll: poll(1),
            body: "Parks Department".into(),
            response: ResponseKind::AdoptedInPart,
            reasons: "Funded for the north bank this year; the south bank needs a flood study first.".into(),
            at_ms: 5_000,
        }
    );
    let plan =
        Command::PlanAction { poll: poll(1), title: "Plant 40 trees".into(), target_date: Some("2027-04-30".into()) };
    assert!(matches!(ok_at(&mut f, MOD, plan, 6_000), Event::ActionPlanned { action: ActionId(1), at_ms: 6_000, .. }));
    let start = Command::UpdateAction {
        action: ActionId(1),
        status: ActionStatus::InProgress,
        note: Some("Tender out".into()),
    };
    ok_at(&mut f, MOD, start, 7_000);
    let done = Command::UpdateAction { action: ActionId(1), status: ActionStatus::Done, note: None };
    ok_at(&mut f, MOD, done.clone(), 8_000);
    assert_invalid_state(err(&mut f, MOD, done), "already");
    let action = &f.follow_through.actions[&ActionId(1)];
    assert_eq!(action.status(), ActionStatus::Done);
    assert_eq!(action.updates.iter().map(|u| u.at_ms).collect::<Vec<_>>(), vec![7_000, 8_000]);
    // Everything else stays closed.
    assert_invalid_state(err(&mut f, MOD, add_item("More")), "closed");
}

#[test]
fn follow_through_is_for_decided_polls_from_the_organizer_with_bounded_text() {
    let mut f = decided();
    assert_invalid_state(err(&mut f, MOD, respond(2)), "not closed");
    assert_not_found(err(&mut f, MOD, respond(9)), "poll", 9);
    for actor in [p(1), Actor::Display] {
        assert!(matches!(err(&mut f, actor, respond(1)), DomainError::Forbidden(_)));
    }
    let long = Command::RecordResponse {
        poll: poll(1),
        body: "x".repeat(201),
        response: ResponseKind::Declined,
        reasons: "r".into(),
    };
    assert!(matches!(err(&mut f, MOD, long), DomainError::Invalid(_)));
    for date in ["2027-02-30", "27-01-01", "2027-1-01", "2027-13-01", "not a date", "1999-12-31"] {
        let plan = Command::PlanAction { poll: poll(1), title: "t".into(), target_date: Some(date.into()) };
        assert!(matches!(err(&mut f, MOD, plan), DomainError::Invalid(_)), "{date}");
    }
    let plan = Command::PlanAction { poll: poll(1), title: "Leap".into(), target_date: Some("2028-02-29".into()) };
    ok(&mut f, MOD, plan);
    let dropped = Command::UpdateAction { action: ActionId(1), status: ActionStatus::Dropped, note: Some("  ".into()) };
    assert!(matches!(err(&mut f, MOD, dropped), DomainError::Invalid(_)), "dropping needs a reason");
    assert_not_found(
        err(&mut f, MOD, Command::UpdateAction { action: ActionId(7), status: ActionStatus::Done, note: None }),
        "action",
        7,
    );
}

#[test]
fn a_forum_holds_a_bounded_amount_of_follow_through() {
    let mut f = decided();
    for _ in 0..crate::domain::follow_through::MAX_FOLLOW_THROUGH_ENTRIES {
        ok(&mut f, MOD, respond(1));
    }
    match err(&mut f, MOD, respond(1)) {
        DomainError::Limit { rule, .. } => assert_eq!(rule, "limit.follow_through"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_named_poll_takes_ballots_only_from_participants_with_a_name() {
    let mut f = live_with_item();
    let named = join_on(&mut f, madang_protocol::Channel::Hall, Some("Councillor Park"));
    let anonymous = join(&mut f);
    let mut command = create_poll(None, simple_yes_no(), madang_protocol::PollOptionsSpec::None {});
    if let Command::CreatePoll { ballots, .. } = &mut command {
        *ballots = BallotSecrecy::Named;
    }
    ok(&mut f, MOD, command);
    assert_eq!(f.polls[&poll(1)].secrecy, BallotSecrecy::Named);
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, Actor::Participant(named), cast(1, choose(YesNoChoice::No)));
    match err(&mut f, Actor::Participant(anonymous), cast(1, choose(YesNoChoice::Yes))) {
        DomainError::Rule { rule, .. } => assert_eq!(rule, "named.requires_name"),
        other => panic!("{other:?}"),
    }
}
