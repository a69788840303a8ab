//! Who may send which command.

use madang_protocol::{COMMAND_NAMES, Command};

use crate::domain::test_support::*;
use crate::domain::*;

#[test]
fn the_command_lists_cover_every_command() {
    let mut names: Vec<&str> =
        moderator_commands().iter().chain(participant_commands().iter()).map(Command::name).collect();
    names.sort_unstable();
    let mut all = COMMAND_NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(names, all);
}

#[test]
fn a_display_may_send_nothing() {
    let mut f = open_approval_poll(1);
    for command in moderator_commands().into_iter().chain(participant_commands()) {
        let name = command.name();
        let e = err(&mut f, Actor::Display, command);
        assert_eq!(e, DomainError::Forbidden("displays are read-only".into()), "display sent `{name}`");
    }
}

#[test]
fn a_participant_may_send_only_submit_idea_and_cast_ballot() {
    let mut f = open_approval_poll(1);
    let me = join(&mut f);
    for command in moderator_commands() {
        let name = command.name();
        let e = err(&mut f, Actor::Participant(me), command);
        assert_eq!(e, DomainError::Forbidden(format!("`{name}` is for moderators")));
    }
    assert!(matches!(ok(&mut f, Actor::Participant(me), submit("More trees")), Event::IdeaSubmitted { .. }));
    assert!(matches!(ok(&mut f, Actor::Participant(me), cast(1, approve(&[2]))), Event::BallotCast { .. }));
}

#[test]
fn a_moderator_may_not_cast_a_ballot() {
    let mut f = open_approval_poll(1);
    assert_forbidden(err(&mut f, MOD, cast(1, approve(&[1]))), "moderators do not cast ballots");
}

#[test]
fn a_moderator_may_submit_an_idea() {
    let mut f = live_with_item();
    let event = ok(&mut f, MOD, submit("Benches"));
    assert_eq!(
        event,
        Event::IdeaSubmitted { idea: idea(1), item: item(1), text: "Benches".into(), author: None, approved: true }
    );
}
