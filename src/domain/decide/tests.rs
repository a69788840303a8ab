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

// Text cleaning: what people type is shown on the projector and other
// people's phones, so invisible and direction-changing characters must not
// let one person disguise or reorder what others read.

#[test]
fn clean_text_strips_bidi_controls() {
    let overridden = "\u{202E}evil\u{202C} \u{2066}idea\u{2069}\u{200F}";
    assert_eq!(clean_text("idea", overridden, 500).expect("visible text remains"), "evil idea");
}

#[test]
fn clean_text_strips_nul_and_other_controls_but_keeps_line_breaks() {
    let text = "first\u{0}line\r\nsecond\u{7}\u{85}\u{7f} line\tend";
    assert_eq!(clean_text("idea", text, 500).expect("visible text remains"), "firstline\nsecond line\tend");
}

#[test]
fn clean_text_refuses_text_with_nothing_visible() {
    for blank in [
        "\u{200B}",
        "\u{200B}\u{200C}\u{200D}",
        " \u{2060}\u{FEFF} ",
        "\u{0}\u{0}",
        "\u{202E}",
        "\u{3164}",
        "\u{115F}\u{1160}",
    ] {
        let e = clean_text("name", blank, 40).unwrap_err();
        assert_eq!(e, DomainError::Invalid("name must not be empty".into()), "{blank:?}");
    }
}

#[test]
fn clean_text_keeps_joiners_inside_visible_text() {
    // Zero-width joiners build emoji sequences and some scripts' letters.
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
    assert_eq!(clean_text("name", family, 40).expect("an emoji is visible"), family);
    assert_eq!(clean_text("name", "  김민지  ", 40).expect("plain text"), "김민지");
}

#[test]
fn clean_text_counts_characters_after_cleaning() {
    let padded = format!("{}{}", "a".repeat(40), "\u{202E}".repeat(10));
    assert_eq!(clean_text("name", &padded, 40).expect("controls do not count"), "a".repeat(40));
}
