//! What the displays show: who may choose it, and which choices a display can show.

use madang_protocol::{Command, PollMethod, RankedTally, ResultsVisibility, Screen};

use crate::domain::test_support::*;
use crate::domain::*;

fn show(screen: Screen) -> Command {
    Command::ShowOnDisplay { screen }
}

fn instant_runoff() -> PollMethod {
    PollMethod::Ranked { max_ranks: None, tally: RankedTally::InstantRunoff }
}

/// Item 1 active, poll 1 over ideas 1..=4 with `method`, ranked by three
/// participants, then closed.
fn closed_ranked_poll(method: PollMethod) -> Forum {
    let mut f = poll_over_ideas(4, method);
    for ranking in [[1, 2, 3, 4], [2, 3, 1, 4], [3, 4, 2, 1]] {
        let me = join(&mut f);
        ok(&mut f, Actor::Participant(me), cast(1, rank(&ranking)));
    }
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    f
}

fn rounds(f: &Forum) -> u32 {
    let outcome = f.polls[&poll(1)].outcome.as_ref().expect("closed");
    outcome.tally.ranked.as_ref().expect("ranked detail").instant_runoff.rounds.len() as u32
}

#[test]
fn a_new_forum_shows_auto() {
    assert_eq!(forum().screen, Screen::Auto);
}

#[test]
fn the_moderator_chooses_each_screen_without_a_poll() {
    let mut f = live_with_item();
    for screen in [Screen::Ideas, Screen::Speakers, Screen::Join, Screen::Blank, Screen::Auto] {
        assert_eq!(ok(&mut f, MOD, show(screen)), Event::ScreenShown { screen });
        assert_eq!(f.screen, screen);
    }
}

#[test]
fn the_join_slide_can_be_shown_before_the_forum_starts() {
    let mut f = forum();
    ok(&mut f, MOD, show(Screen::Join));
    assert_eq!(f.screen, Screen::Join);
}

#[test]
fn displays_and_participants_may_not_choose_the_screen() {
    let mut f = live_with_item();
    assert_forbidden(err(&mut f, Actor::Display, show(Screen::Blank)), "read-only");
    let me = join(&mut f);
    assert_forbidden(err(&mut f, Actor::Participant(me), show(Screen::Blank)), "for moderators");
    assert_eq!(f.screen, Screen::Auto);
}

#[test]
fn an_open_poll_can_be_shown_live() {
    let mut f = open_approval_poll(1);
    ok(&mut f, MOD, show(Screen::Poll { poll: poll(1) }));
    assert_eq!(f.screen, Screen::Poll { poll: poll(1) });
}

#[test]
fn an_unknown_poll_is_not_found() {
    let mut f = open_approval_poll(1);
    assert_not_found(err(&mut f, MOD, show(Screen::Poll { poll: poll(9) })), "poll", 9);
    assert_not_found(err(&mut f, MOD, show(Screen::Result { poll: poll(9), step: None })), "poll", 9);
}

#[test]
fn a_draft_poll_is_not_shown() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, MOD, show(Screen::Poll { poll: poll(1) })), "draft");
}

#[test]
fn the_result_of_a_poll_not_closed_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert_invalid_state(err(&mut f, MOD, show(Screen::Result { poll: poll(1), step: None })), "not closed");
}

#[test]
fn a_hidden_result_is_shown_only_once_revealed() {
    let mut f = live_with_item();
    let command = Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Which?".into(),
        method: approval(1),
        options: fixed(&["A", "B"]),
        results: ResultsVisibility::Hidden,
    };
    ok(&mut f, MOD, command);
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    let result = Screen::Result { poll: poll(1), step: None };
    assert_invalid_state(err(&mut f, MOD, show(result)), "reveal them first");
    ok(&mut f, MOD, Command::RevealResults { poll: poll(1) });
    ok(&mut f, MOD, show(result));
    assert_eq!(f.screen, result);
}

#[test]
fn instant_runoff_steps_go_up_to_the_last_round() {
    let mut f = closed_ranked_poll(instant_runoff());
    let last = rounds(&f);
    assert!(last >= 2, "the ballots need a runoff, got {last} rounds");
    for step in 0..=last {
        ok(&mut f, MOD, show(Screen::Result { poll: poll(1), step: Some(step) }));
        assert_eq!(f.screen, Screen::Result { poll: poll(1), step: Some(step) });
    }
    let beyond = show(Screen::Result { poll: poll(1), step: Some(last + 1) });
    assert_invalid(err(&mut f, MOD, beyond), "beyond");
    assert_eq!(f.screen, Screen::Result { poll: poll(1), step: Some(last) });
}

#[test]
fn a_step_is_only_for_instant_runoff_polls() {
    let mut f = closed_ranked_poll(PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze });
    assert_invalid(err(&mut f, MOD, show(Screen::Result { poll: poll(1), step: Some(1) })), "not an instant-runoff");
    ok(&mut f, MOD, show(Screen::Result { poll: poll(1), step: None }));
}

#[test]
fn a_closed_forum_keeps_its_screen_and_refuses_a_new_one() {
    let mut f = live_with_item();
    ok(&mut f, MOD, show(Screen::Join));
    ok(&mut f, MOD, Command::CloseForum {});
    assert_invalid_state(err(&mut f, MOD, show(Screen::Blank)), "the forum is closed");
    assert_eq!(f.screen, Screen::Join);
}

#[test]
fn replay_restores_the_screen() {
    let mut f = open_approval_poll(1);
    let event = ok(&mut f, MOD, show(Screen::Poll { poll: poll(1) }));
    let mut replayed = open_approval_poll(1);
    replayed.apply(&event);
    assert_eq!(replayed, f);
}
