use madang_protocol::{Channel, Command, Eligibility};

use super::*;
use crate::domain::{Actor, Limits};

fn forum_with_tickets(moderator_token_hash: &str) -> Forum {
    let created = crate::domain::Event::ForumCreated {
        id: "f1".into(),
        title: "Hall".into(),
        language: "ko".into(),
        remote_code: "REMOTE".into(),
        hall_code: "HALL22".into(),
        moderator_token_hash: moderator_token_hash.into(),
        display_token_hash: "d".into(),
        eligibility: Eligibility::Ticketed,
        receipt_key: None,
    };
    let mut forum = Forum::from_created(&created).expect("a forum");
    for (channel, count) in [(Channel::Hall, 3), (Channel::Remote, 2)] {
        let event = forum
            .decide(Actor::Moderator, &Command::IssueTickets { channel, count }, 0, &Limits::default())
            .expect("issue");
        forum.apply(&event);
    }
    forum
}

#[test]
fn a_code_names_its_ticket_in_any_case_with_or_without_dashes() {
    let forum = forum_with_tickets("m");
    let key = TicketKey::of(&forum);
    for (number, channel) in [(1, Channel::Hall), (3, Channel::Hall), (5, Channel::Remote)] {
        let code = key.code(number, channel);
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
        assert_eq!(number_of(&forum, &code), Some(number));
        assert_eq!(number_of(&forum, &code.to_lowercase()), Some(number));
        assert_eq!(number_of(&forum, &code.replace('-', "")), Some(number));
        assert_eq!(number_of(&forum, &format!(" {} ", code.replace('-', " "))), Some(number));
        // Read the way people mistype Crockford's look-alikes: O for 0, I or L for 1.
        let mistyped = code.replace('0', "O").replace('1', "l");
        assert_eq!(number_of(&forum, &mistyped), Some(number), "{mistyped}");
    }
}

#[test]
fn codes_cannot_be_forged_moved_between_forums_or_channels() {
    let forum = forum_with_tickets("m");
    let key = TicketKey::of(&forum);
    let code = key.code(2, Channel::Hall);
    // Any one symbol changed is refused.
    let plain: Vec<char> = code.replace('-', "").chars().collect();
    for i in 0..plain.len() {
        let mut changed = plain.clone();
        changed[i] = if changed[i] == 'Z' { 'Y' } else { 'Z' };
        let changed: String = changed.into_iter().collect();
        assert_eq!(number_of(&forum, &changed), None, "position {i}: {changed}");
    }
    // The same number under another forum's key, or for the wrong channel, is refused.
    let other = forum_with_tickets("another moderator");
    assert_eq!(number_of(&other, &code), None);
    assert_eq!(number_of(&forum, &key.code(2, Channel::Remote)), None);
    // Unissued numbers, junk and overlong input are refused.
    assert_eq!(number_of(&forum, &key.code(9, Channel::Hall)), None);
    for junk in ["", "----", "ABCD", "UUUU-UUUU-UUUU-UUUU", &"A".repeat(400)] {
        assert_eq!(number_of(&forum, junk), None, "{junk}");
    }
}

#[test]
fn the_book_lists_every_ticket_with_its_status() {
    let mut forum = forum_with_tickets("m");
    let revoke =
        forum.decide(Actor::Moderator, &Command::RevokeTicket { ticket: 2 }, 0, &Limits::default()).expect("revoke");
    forum.apply(&revoke);
    let book = TicketBook::of(&forum);
    let statuses: Vec<_> = book.tickets.iter().map(|(n, c, s)| (*n, *c, *s)).collect();
    assert_eq!(statuses[1], (2, Channel::Hall, TicketStatus::Revoked));
    assert_eq!(statuses[4], (5, Channel::Remote, TicketStatus::Unused));
    assert_eq!(book.hall_code, "HALL22");
}
