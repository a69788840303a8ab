//! Supporting ideas and withdrawing support.

use madang_protocol::{Channel, Command, SupportCounts};

use crate::domain::test_support::*;
use crate::domain::*;

fn support(n: u32) -> Command {
    Command::SupportIdea { idea: idea(n) }
}

fn withdraw(n: u32) -> Command {
    Command::WithdrawSupport { idea: idea(n) }
}

#[test]
fn a_participant_supports_an_approved_idea_counted_on_their_channel() {
    let mut f = ideas(2);
    let remote = join_on(&mut f, Channel::Remote, None);
    let hall = join_on(&mut f, Channel::Hall, None);
    assert_eq!(
        ok(&mut f, Actor::Participant(remote), support(1)),
        Event::IdeaSupported { idea: idea(1), participant: remote }
    );
    ok(&mut f, Actor::Participant(hall), support(1));
    ok(&mut f, Actor::Participant(hall), support(2));
    assert_eq!(f.support_counts(idea(1)), SupportCounts { remote: 1, hall: 1 });
    assert_eq!(f.support_counts(idea(2)), SupportCounts { remote: 0, hall: 1 });
    assert_eq!(f.supported_by(hall), vec![idea(1), idea(2)]);
    assert_eq!(f.supported_by(remote), vec![idea(1)]);
}

#[test]
fn supporting_an_idea_twice_is_refused_and_counts_once() {
    let mut f = ideas(1);
    let me = join(&mut f);
    ok(&mut f, Actor::Participant(me), support(1));
    assert_invalid_state(err(&mut f, Actor::Participant(me), support(1)), "already support");
    assert_eq!(f.support_counts(idea(1)), SupportCounts { remote: 1, hall: 0 });
}

#[test]
fn only_approved_ideas_take_support() {
    let mut f = ideas(3);
    let me = join(&mut f);
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(3) });
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    ok(&mut f, Actor::Participant(me), submit("Pending"));
    assert_invalid_state(err(&mut f, Actor::Participant(me), support(1)), "not approved");
    assert_invalid_state(err(&mut f, Actor::Participant(me), support(2)), "merged into idea 3");
    assert_invalid_state(err(&mut f, Actor::Participant(me), support(4)), "not approved");
    assert_not_found(err(&mut f, Actor::Participant(me), support(9)), "idea", 9);
}

#[test]
fn withdrawing_takes_back_ones_own_support_only() {
    let mut f = ideas(1);
    let (me, other) = (join(&mut f), join(&mut f));
    ok(&mut f, Actor::Participant(other), support(1));
    assert_invalid_state(err(&mut f, Actor::Participant(me), withdraw(1)), "do not support");
    ok(&mut f, Actor::Participant(me), support(1));
    assert_eq!(
        ok(&mut f, Actor::Participant(me), withdraw(1)),
        Event::SupportWithdrawn { idea: idea(1), participant: me }
    );
    assert_eq!(f.support_counts(idea(1)), SupportCounts { remote: 1, hall: 0 });
    assert!(f.supported_by(me).is_empty());
}

#[test]
fn a_hidden_idea_keeps_its_supports_and_they_may_be_withdrawn() {
    let mut f = ideas(1);
    let me = join(&mut f);
    ok(&mut f, Actor::Participant(me), support(1));
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    assert_eq!(f.support_counts(idea(1)), SupportCounts { remote: 1, hall: 0 });
    ok(&mut f, Actor::Participant(me), withdraw(1));
    assert_eq!(f.support_counts(idea(1)), SupportCounts::default());
}

#[test]
fn moderators_and_displays_do_not_support() {
    let mut f = ideas(1);
    assert_forbidden(err(&mut f, MOD, support(1)), "for participants");
    assert_forbidden(err(&mut f, Actor::Display, support(1)), "read-only");
    assert_forbidden(err(&mut f, MOD, withdraw(1)), "for participants");
}

#[test]
fn a_closed_forum_takes_no_support_and_no_withdrawal() {
    let mut f = ideas(1);
    let me = join(&mut f);
    ok(&mut f, Actor::Participant(me), support(1));
    ok(&mut f, MOD, Command::CloseForum {});
    assert_invalid_state(err(&mut f, Actor::Participant(me), support(1)), "closed");
    assert_invalid_state(err(&mut f, Actor::Participant(me), withdraw(1)), "closed");
}

#[test]
fn applying_a_support_of_an_unknown_idea_or_by_an_unknown_participant_changes_nothing() {
    let mut f = ideas(1);
    let me = join(&mut f);
    let before = f.clone();
    f.apply(&Event::IdeaSupported { idea: idea(9), participant: me });
    f.apply(&Event::IdeaSupported { idea: idea(1), participant: madang_protocol::ParticipantId(99) });
    assert_eq!(f, before, "a log the hub did not write must not grow the forum with dangling supports");
}
