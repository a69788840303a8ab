use madang_protocol::{Channel, Command, Eligibility, ParticipantId, PollStatus};

use crate::domain::limits::{Limits, rule};
use crate::domain::test_support::*;
use crate::domain::tickets::ticket_rule;
use crate::domain::{Actor, DomainError, Event, Forum};

fn ticketed() -> Forum {
    let mut f = forum();
    ok(&mut f, MOD, Command::SetEligibility { eligibility: Eligibility::Ticketed });
    ok(&mut f, MOD, Command::IssueTickets { channel: Channel::Hall, count: 3 });
    ok(&mut f, MOD, Command::IssueTickets { channel: Channel::Remote, count: 2 });
    ok(&mut f, MOD, Command::StartForum {});
    ok(&mut f, MOD, add_item("Parks"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    f
}

fn join_with(f: &mut Forum, channel: Channel, ticket: Option<u32>) -> Result<ParticipantId, DomainError> {
    let token = format!("token-{}", f.participants.len() + 1);
    let event = f.decide_join(channel, None, ticket, token, &Limits::default())?;
    f.apply(&event);
    match event {
        Event::ParticipantJoined { participant, .. } => Ok(participant),
        other => panic!("a join gave {other:?}"),
    }
}

#[track_caller]
fn assert_rule(e: DomainError, expected: &str) {
    match e {
        DomainError::Rule { rule, .. } => assert_eq!(rule, expected),
        other => panic!("expected rule {expected}, got {other:?}"),
    }
}

#[test]
fn tickets_are_numbered_on_across_channels_and_counted_per_channel() {
    let f = ticketed();
    assert_eq!(f.tickets.issued.len(), 5);
    assert_eq!(f.tickets.get(1).map(|t| t.channel), Some(Channel::Hall));
    assert_eq!(f.tickets.get(4).map(|t| t.channel), Some(Channel::Remote));
    assert_eq!(f.tickets.get(0), None);
    assert_eq!(f.tickets.get(6), None);
    assert_eq!(f.tickets.counts(Channel::Hall), (3, 0, 0));
    assert_eq!(f.tickets.counts(Channel::Remote), (2, 0, 0));
}

#[test]
fn a_ticketed_forum_admits_each_ticket_once_and_nothing_else() {
    let mut f = ticketed();
    assert_rule(join_with(&mut f, Channel::Hall, None).unwrap_err(), ticket_rule::REQUIRED);
    let first = join_with(&mut f, Channel::Hall, Some(2)).expect("a fresh ticket admits");
    assert_eq!(f.tickets.get(2).and_then(|t| t.holder), Some(first));
    assert_rule(join_with(&mut f, Channel::Hall, Some(2)).unwrap_err(), ticket_rule::USED);
    assert_rule(join_with(&mut f, Channel::Remote, Some(1)).unwrap_err(), ticket_rule::CHANNEL);
    assert_eq!(join_with(&mut f, Channel::Hall, Some(9)).unwrap_err(), DomainError::NotFound { what: "ticket", id: 9 });
    assert_eq!(f.participants.len(), 1, "refused joins create nobody");
    assert_eq!(f.tickets.counts(Channel::Hall), (3, 1, 0));
}

#[test]
fn an_open_forum_ignores_tickets() {
    let f = live();
    let event = f.decide_join(Channel::Remote, None, Some(3), "t".into(), &Limits::default()).expect("join");
    assert!(matches!(event, Event::ParticipantJoined { ticket: None, .. }), "{event:?}");
}

#[test]
fn eligibility_is_chosen_before_the_forum_starts() {
    let mut f = ticketed();
    let e = err(&mut f, MOD, Command::SetEligibility { eligibility: Eligibility::Open });
    assert_invalid_state(e, "before the forum starts");
    let e = err(&mut f, p(1), Command::IssueTickets { channel: Channel::Hall, count: 1 });
    assert!(matches!(e, DomainError::Forbidden(_)), "{e:?}");
}

#[test]
fn issuing_is_bounded_per_command_and_by_the_participants_cap() {
    let mut f = forum();
    for count in [0, 1_001] {
        let e = err(&mut f, MOD, Command::IssueTickets { channel: Channel::Hall, count });
        assert!(matches!(e, DomainError::Invalid(_)), "{count}: {e:?}");
    }
    let e = err(&mut f, MOD, Command::IssueTickets { channel: Channel::HallCount, count: 1 });
    assert!(matches!(e, DomainError::Invalid(_)), "{e:?}");
    let limits = Limits { participants: 5, ..Limits::default() };
    ok_with(&mut f, &limits, MOD, Command::IssueTickets { channel: Channel::Remote, count: 4 });
    match err_with(&mut f, &limits, MOD, Command::IssueTickets { channel: Channel::Remote, count: 2 }) {
        DomainError::Limit { rule: r, .. } => assert_eq!(r, rule::TICKETS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoking_a_used_ticket_shuts_its_holder_out_and_withdraws_their_open_ballots() {
    let mut f = ticketed();
    let holder = join_with(&mut f, Channel::Hall, Some(1)).unwrap();
    let other = join_with(&mut f, Channel::Remote, Some(4)).unwrap();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["C", "D"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(2) });
    for voter in [holder, other] {
        ok(&mut f, Actor::Participant(voter), cast(1, approve(&[1])));
        ok(&mut f, Actor::Participant(voter), cast(2, approve(&[2])));
    }
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });

    let event = ok(&mut f, MOD, Command::RevokeTicket { ticket: 1 });
    assert_eq!(event, Event::TicketRevoked { ticket: 1, participant: Some(holder), withdrawn: vec![poll(2)] });
    // The closed poll is history; the open one no longer holds the ballot.
    assert!(f.polls[&poll(1)].ballots.contains_key(&holder));
    assert_eq!(f.polls[&poll(1)].status, PollStatus::Closed);
    assert!(!f.polls[&poll(2)].ballots.contains_key(&holder));
    assert!(f.polls[&poll(2)].ballots.contains_key(&other));
    assert_eq!(f.tally(&f.polls[&poll(2)]).ballots, 1);
    // Their device's token admits no one, and a connection still open can do nothing.
    assert!(!f.participant_by_token.values().any(|p| *p == holder));
    assert_rule(err(&mut f, Actor::Participant(holder), cast(2, approve(&[1]))), ticket_rule::REVOKED);
    // The ticket admits no one either; a replacement does.
    assert_rule(join_with(&mut f, Channel::Hall, Some(1)).unwrap_err(), ticket_rule::REVOKED);
    assert_invalid_state(err(&mut f, MOD, Command::RevokeTicket { ticket: 1 }), "already revoked");
    ok(&mut f, MOD, Command::IssueTickets { channel: Channel::Hall, count: 1 });
    join_with(&mut f, Channel::Hall, Some(6)).expect("the replacement admits");
    assert_eq!(f.tickets.counts(Channel::Hall), (4, 1, 1));
}

#[test]
fn n_tickets_give_at_most_n_ballots_whatever_the_devices_do() {
    let mut f = ticketed();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    // Every device tries every ticket and the bare code; each admitted one votes.
    for _device in 0..20 {
        for ticket in [None, Some(1), Some(2), Some(3), Some(4), Some(5)] {
            for channel in [Channel::Hall, Channel::Remote] {
                if let Ok(voter) = join_with(&mut f, channel, ticket) {
                    ok(&mut f, Actor::Participant(voter), cast(1, approve(&[1])));
                }
            }
        }
    }
    assert_eq!(f.participants.len(), 5);
    assert_eq!(f.tally(&f.polls[&poll(1)]).ballots, 5);
}

#[test]
fn replaying_ticket_events_gives_the_same_forum() {
    let mut f = ticketed();
    let holder = join_with(&mut f, Channel::Hall, Some(1)).unwrap();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, Actor::Participant(holder), cast(1, approve(&[2])));
    ok(&mut f, MOD, Command::RevokeTicket { ticket: 1 });
    let json = serde_json::to_string(&f).expect("a forum serializes");
    let back: Forum = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, f);
}
