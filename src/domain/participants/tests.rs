//! Joining: numbering, names, and the channels one may join on.

use madang_protocol::{Channel, ParticipantId};

use crate::domain::test_support::*;
use crate::domain::*;

#[test]
fn join_numbers_participants_in_order() {
    let mut f = forum();
    for n in 1..=3 {
        let event =
            f.decide_join(Channel::Hall, Some("Min"), None, format!("hash-{n}"), &Limits::default()).expect("join");
        assert_eq!(
            event,
            Event::ParticipantJoined {
                participant: ParticipantId(n),
                channel: Channel::Hall,
                name: Some("Min".into()),
                token_hash: format!("hash-{n}"),
                ticket: None
            }
        );
        f.apply(&event);
    }
    assert_eq!(f.participants.len(), 3);
    assert_eq!(
        f.participants[&ParticipantId(2)],
        Participant { id: ParticipantId(2), channel: Channel::Hall, name: Some("Min".into()), revoked: false }
    );
    assert_eq!(f.participant_by_token.get("hash-3"), Some(&ParticipantId(3)));
}

#[test]
fn join_trims_the_name() {
    let f = live();
    let event = f.decide_join(Channel::Remote, Some("  지우  "), None, "h".into(), &Limits::default()).expect("join");
    assert!(matches!(event, Event::ParticipantJoined { name: Some(ref n), .. } if n == "지우"), "{event:?}");
}

#[test]
fn join_with_an_empty_or_blank_name_has_no_name() {
    let f = live();
    for name in [None, Some(""), Some("   ")] {
        let event = f.decide_join(Channel::Remote, name, None, "h".into(), &Limits::default()).expect("join");
        assert_eq!(
            event,
            Event::ParticipantJoined {
                participant: ParticipantId(1),
                channel: Channel::Remote,
                name: None,
                token_hash: "h".into(),
                ticket: None
            }
        );
    }
}

#[test]
fn join_name_is_limited_to_40_characters() {
    let f = live();
    let event = f
        .decide_join(Channel::Remote, Some(&"김".repeat(MAX_NAME_CHARS)), None, "h".into(), &Limits::default())
        .expect("40 is fine");
    assert!(matches!(event, Event::ParticipantJoined { name: Some(ref n), .. } if n.chars().count() == 40));
    let e = f
        .decide_join(Channel::Remote, Some(&"김".repeat(MAX_NAME_CHARS + 1)), None, "h".into(), &Limits::default())
        .unwrap_err();
    assert_invalid(e, "name is 41 characters; at most 40");
}

#[test]
fn participants_never_join_as_hall_count() {
    let f = live();
    assert_invalid(
        f.decide_join(Channel::HallCount, None, None, "t".into(), &Limits::default()).unwrap_err(),
        "remote or hall",
    );
}

#[test]
fn a_forum_takes_at_most_the_participants_cap() {
    let mut f = forum();
    let limits = Limits { participants: 2, ..Limits::default() };
    join(&mut f);
    join(&mut f);
    let refused = f.decide_join(Channel::Remote, None, None, "hash-3".into(), &limits).expect_err("a third join");
    assert_limit(refused, limits::rule::PARTICIPANTS);
}
