//! Starting and closing a forum, premoderation, and what a forum that is not live refuses.

use madang_protocol::{Channel, Command, ForumStatus, ItemId, ItemState, PollStatus};

use crate::domain::test_support::*;
use crate::domain::*;

#[test]
fn from_created_builds_a_draft_forum_and_refuses_other_events() {
    let f = forum();
    assert_eq!(f.id, "forum-1");
    assert_eq!(f.title, "Town hall");
    assert_eq!(f.language, "ko");
    assert_eq!(f.status, ForumStatus::Draft);
    assert!(!f.premoderation);
    assert_eq!(f.remote_code, "REMOTE");
    assert_eq!(f.hall_code, "HALL");
    assert_eq!(f.moderator_token_hash, "mod-hash");
    assert_eq!(f.display_token_hash, "display-hash");
    assert_eq!(f.agenda, Vec::<ItemId>::new());
    assert_eq!(f.active_item, None);
    assert_eq!(Forum::from_created(&Event::ForumStarted {}), None);
}

#[test]
fn start_forum_makes_a_draft_forum_live() {
    let mut f = forum();
    assert_eq!(ok(&mut f, MOD, Command::StartForum {}), Event::ForumStarted {});
    assert_eq!(f.status, ForumStatus::Live);
}

#[test]
fn start_forum_twice_is_invalid_state() {
    let mut f = live();
    assert_invalid_state(err(&mut f, MOD, Command::StartForum {}), "already live");
    assert_eq!(f.status, ForumStatus::Live);
}

#[test]
fn close_forum_closes_a_live_forum() {
    let mut f = live();
    assert_eq!(ok(&mut f, MOD, Command::CloseForum {}), Event::ForumClosed {});
    assert_eq!(f.status, ForumStatus::Closed);
}

#[test]
fn after_close_every_command_but_follow_through_is_invalid_state() {
    let mut f = open_approval_poll(1);
    let me = join(&mut f);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    ok(&mut f, MOD, Command::CloseForum {});
    let follow_through = |c: &Command| {
        matches!(c, Command::RecordResponse { .. } | Command::PlanAction { .. } | Command::UpdateAction { .. })
    };
    for command in moderator_commands().into_iter().filter(|c| !follow_through(c)) {
        assert_invalid_state(err(&mut f, MOD, command), "the forum is closed");
    }
    // What was done about the decisions is recorded after the forum, too.
    for command in moderator_commands().into_iter().filter(follow_through) {
        ok(&mut f, MOD, command);
    }
    for command in participant_commands() {
        assert_invalid_state(err(&mut f, Actor::Participant(me), command), "the forum is closed");
    }
}

#[test]
fn close_forum_while_a_poll_is_open_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert_invalid_state(err(&mut f, MOD, Command::CloseForum {}), "poll 1 is still open");
    assert_eq!(f.status, ForumStatus::Live);
}

#[test]
fn join_on_a_closed_forum_is_invalid_state() {
    let mut f = live();
    ok(&mut f, MOD, Command::CloseForum {});
    let e = f.decide_join(Channel::Hall, Some("Jiwoo"), None, "t".into(), &Limits::default()).unwrap_err();
    assert_invalid_state(e, "the forum is closed");
}

#[test]
fn activate_item_in_draft_is_invalid_state() {
    let mut f = forum();
    ok(&mut f, MOD, add_item("Parks"));
    assert_invalid_state(err(&mut f, MOD, Command::ActivateItem { item: item(1) }), "not started");
    assert_eq!(f.items[&item(1)].state, ItemState::Pending);
}

#[test]
fn submit_idea_in_draft_is_invalid_state() {
    let mut f = forum();
    let me = join(&mut f);
    assert_invalid_state(err(&mut f, Actor::Participant(me), submit("Trees")), "not started");
}

#[test]
fn open_poll_in_draft_is_invalid_state() {
    let mut f = forum();
    ok(&mut f, MOD, add_item("Parks"));
    ok(&mut f, MOD, create_poll(Some(item(1)), approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), "not started");
    assert_eq!(f.polls[&poll(1)].status, PollStatus::Draft);
}

#[test]
fn cast_ballot_in_draft_is_invalid_state() {
    let mut f = forum();
    let me = join(&mut f);
    ok(&mut f, MOD, add_item("Parks"));
    ok(&mut f, MOD, create_poll(Some(item(1)), approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, Actor::Participant(me), cast(1, approve(&[1]))), "not started");
}

#[test]
fn set_premoderation_switches_it() {
    let mut f = live();
    assert_eq!(ok(&mut f, MOD, Command::SetPremoderation { enabled: true }), Event::PremoderationSet { enabled: true });
    assert!(f.premoderation);
    ok(&mut f, MOD, Command::SetPremoderation { enabled: false });
    assert!(!f.premoderation);
}
