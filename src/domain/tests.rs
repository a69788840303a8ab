//! Unit tests for every rule of `Forum::decide`, `Forum::decide_join` and
//! `Forum::apply`. Forums are built by replaying events, the way the hub
//! builds them: decide, then apply the event on success.
//!
//! Ballot validation and counting per method are tested in `tally.rs`; here
//! only how the forum feeds them (options, merges, replacement) is checked.

use std::collections::{BTreeMap, HashMap};

use madang_protocol::{
    Ballot, COMMAND_NAMES, Channel, Command, ForumStatus, HallCounts, HallOptionCount, IdeaId, IdeaStatus, ItemId,
    ItemState, MajorityRule, OptionCount, OptionId, ParticipantId, PollId, PollMethod, PollOptionsSpec, PollStatus,
    QueuePolicy, RankedTally, ResultsVisibility, SignalColor, SpeakerId, TallyResult, YesNoChoice,
};

use super::method::BallotError;
use super::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const MOD: Actor = Actor::Moderator;

fn p(n: u32) -> Actor {
    Actor::Participant(ParticipantId(n))
}

fn item(n: u32) -> ItemId {
    ItemId(n)
}

fn idea(n: u32) -> IdeaId {
    IdeaId(n)
}

fn poll(n: u32) -> PollId {
    PollId(n)
}

fn o(n: u32) -> OptionId {
    OptionId(n)
}

fn created() -> Event {
    Event::ForumCreated {
        id: "forum-1".into(),
        title: "Town hall".into(),
        language: "ko".into(),
        remote_code: "REMOTE".into(),
        hall_code: "HALL".into(),
        moderator_token_hash: "mod-hash".into(),
        display_token_hash: "display-hash".into(),
    }
}

/// A fresh forum in draft.
fn forum() -> Forum {
    Forum::from_created(&created()).expect("ForumCreated builds a forum")
}

/// Decide, and on success apply: what the hub does.
fn run(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> Result<Event, DomainError> {
    let event = forum.decide(actor, &command, now)?;
    forum.apply(&event);
    Ok(event)
}

/// `run` that must succeed.
#[track_caller]
fn ok_at(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> Event {
    let name = command.name();
    run(forum, actor, command, now).unwrap_or_else(|e| panic!("`{name}` was refused: {e:?}"))
}

#[track_caller]
fn ok(forum: &mut Forum, actor: Actor, command: Command) -> Event {
    ok_at(forum, actor, command, 0)
}

/// `run` that must fail, and must leave the forum unchanged.
#[track_caller]
fn err_at(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> DomainError {
    let before = forum.clone();
    let name = command.name();
    let event = forum.decide(actor, &command, now);
    assert_eq!(*forum, before, "deciding `{name}` changed the forum");
    match event {
        Ok(event) => panic!("`{name}` was accepted: {event:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn err(forum: &mut Forum, actor: Actor, command: Command) -> DomainError {
    err_at(forum, actor, command, 0)
}

#[track_caller]
fn assert_invalid_state(e: DomainError, fragment: &str) {
    match e {
        DomainError::InvalidState(message) => {
            assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}")
        }
        other => panic!("expected InvalidState containing {fragment:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid(e: DomainError, fragment: &str) {
    match e {
        DomainError::Invalid(message) => assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}"),
        other => panic!("expected Invalid containing {fragment:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_forbidden(e: DomainError, fragment: &str) {
    match e {
        DomainError::Forbidden(message) => {
            assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}")
        }
        other => panic!("expected Forbidden containing {fragment:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found(e: DomainError, what: &'static str, id: u32) {
    assert_eq!(e, DomainError::NotFound { what, id });
}

fn add_item(title: &str) -> Command {
    Command::AddItem { title: title.into(), description: None, timebox_secs: None }
}

fn add_timed_item(title: &str, secs: u32) -> Command {
    Command::AddItem { title: title.into(), description: None, timebox_secs: Some(secs) }
}

fn submit(text: &str) -> Command {
    Command::SubmitIdea { text: text.into() }
}

fn join(forum: &mut Forum) -> ParticipantId {
    let token = format!("token-{}", forum.participants.len() + 1);
    let event = forum.decide_join(Channel::Remote, None, token).expect("join");
    forum.apply(&event);
    match event {
        Event::ParticipantJoined { participant, .. } => participant,
        other => panic!("join gave {other:?}"),
    }
}

/// A live forum with no items.
fn live() -> Forum {
    let mut f = forum();
    ok(&mut f, MOD, Command::StartForum {});
    f
}

/// A live forum whose item 1 ("Parks", time box 300 s) is active, its
/// countdown (started by the activation) paused at the full 300 s so that
/// timer tests start it at a time of their choosing.
fn live_with_item() -> Forum {
    let mut f = live();
    ok(&mut f, MOD, add_timed_item("Parks", 300));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    ok(&mut f, MOD, Command::PauseTimer { item: item(1) });
    f
}

fn approval(max_choices: u32) -> PollMethod {
    PollMethod::Approval { max_choices }
}

fn yes_no() -> PollMethod {
    PollMethod::YesNo { rule: MajorityRule::Simple }
}

fn fixed(labels: &[&str]) -> PollOptionsSpec {
    PollOptionsSpec::Fixed { labels: labels.iter().map(|l| l.to_string()).collect() }
}

fn create_poll(item: Option<ItemId>, method: PollMethod, options: PollOptionsSpec) -> Command {
    Command::CreatePoll { item, title: "Which?".into(), method, options, results: ResultsVisibility::Live }
}

fn approve(options: &[u32]) -> Ballot {
    Ballot::Approval { options: options.iter().map(|&n| o(n)).collect() }
}

fn rank(options: &[u32]) -> Ballot {
    Ballot::Ranked { ranking: options.iter().map(|&n| o(n)).collect() }
}

fn cast(poll_id: u32, ballot: Ballot) -> Command {
    Command::CastBallot { poll: poll(poll_id), ballot }
}

fn counts(list: &[(u32, u64)]) -> Vec<OptionCount> {
    list.iter().map(|&(option, count)| OptionCount { option: o(option), count }).collect()
}

fn tiers(list: &[&[u32]]) -> Vec<Vec<OptionId>> {
    list.iter().map(|tier| tier.iter().map(|&n| o(n)).collect()).collect()
}

/// A live forum with item 1 active and an open approval poll 1 over fixed options A, B, C.
fn open_approval_poll(max_choices: u32) -> Forum {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(max_choices), fixed(&["A", "B", "C"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

/// One instance of every command a participant may not send (all but
/// submit_idea and cast_ballot), with plausible arguments.
fn moderator_commands() -> Vec<Command> {
    vec![
        Command::StartForum {},
        Command::CloseForum {},
        Command::SetPremoderation { enabled: true },
        add_item("Budget"),
        Command::EditItem { item: item(1), title: Some("New".into()), description: None, timebox_secs: None },
        Command::MoveItem { item: item(1), position: 0 },
        Command::RemoveItem { item: item(1) },
        Command::ActivateItem { item: item(1) },
        Command::CompleteItem { item: item(1) },
        Command::StartTimer { item: item(1) },
        Command::PauseTimer { item: item(1) },
        Command::ExtendTimer { item: item(1), secs: 60 },
        Command::ApproveIdea { idea: idea(1) },
        Command::HideIdea { idea: idea(1) },
        Command::MergeIdea { idea: idea(1), into: idea(2) },
        create_poll(None, approval(1), fixed(&["A", "B"])),
        Command::OpenPoll { poll: poll(1) },
        Command::ClosePoll { poll: poll(1) },
        Command::RevealResults { poll: poll(1) },
        Command::EnterHallCount {
            poll: poll(1),
            counts: HallCounts::Approval { people: 1, counts: vec![HallOptionCount { option: o(1), count: 1 }] },
        },
        Command::SetHallHeadcount { count: 10 },
        Command::AddSpeaker { name: "Mrs Kim".into() },
        Command::CallNext {},
        Command::SkipSpeaker {},
        Command::RemoveSpeaker { speaker: SpeakerId(1) },
        Command::MoveSpeaker { speaker: SpeakerId(1), position: 0 },
        Command::SetQueuePolicy { policy: QueuePolicy::Alternate },
        Command::SetSpeakingLimit { secs: Some(60) },
        Command::EndSpeech {},
    ]
}

fn participant_commands() -> Vec<Command> {
    vec![
        submit("An idea"),
        cast(1, approve(&[1])),
        Command::NextPair { poll: poll(1) },
        Command::CastComparison { poll: poll(1), winner: o(1), loser: o(2), skip: false },
        Command::RaiseHand {},
        Command::LowerHand {},
        Command::Signal { color: SignalColor::Green },
    ]
}

#[test]
fn the_command_lists_cover_every_command() {
    let mut names: Vec<&str> =
        moderator_commands().iter().chain(participant_commands().iter()).map(Command::name).collect();
    names.sort_unstable();
    let mut all = COMMAND_NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(names, all);
}

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

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
fn after_close_every_command_is_invalid_state() {
    let mut f = open_approval_poll(1);
    let me = join(&mut f);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    ok(&mut f, MOD, Command::CloseForum {});
    for command in moderator_commands() {
        assert_invalid_state(err(&mut f, MOD, command), "the forum is closed");
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
    let e = f.decide_join(Channel::Hall, Some("Jiwoo"), "t".into()).unwrap_err();
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

// ---------------------------------------------------------------------------
// Agenda
// ---------------------------------------------------------------------------

#[test]
fn add_item_numbers_items_in_order_and_appends_to_the_agenda() {
    let mut f = forum();
    for (n, title) in [(1, "One"), (2, "Two"), (3, "Three")] {
        assert_eq!(
            ok(&mut f, MOD, add_item(title)),
            Event::ItemAdded { item: item(n), title: title.into(), description: None, timebox_secs: None }
        );
    }
    assert_eq!(f.agenda, vec![item(1), item(2), item(3)]);
    assert_eq!(f.items[&item(2)].title, "Two");
    assert_eq!(f.items[&item(2)].state, ItemState::Pending);
    assert_eq!(f.items[&item(2)].timer, None);
}

#[test]
fn add_item_trims_title_and_description() {
    let mut f = forum();
    let command = Command::AddItem {
        title: "  Parks \n".into(),
        description: Some("\tGreen spaces  ".into()),
        timebox_secs: Some(600),
    };
    assert_eq!(
        ok(&mut f, MOD, command),
        Event::ItemAdded {
            item: item(1),
            title: "Parks".into(),
            description: Some("Green spaces".into()),
            timebox_secs: Some(600)
        }
    );
    let it = &f.items[&item(1)];
    assert_eq!(
        (it.title.as_str(), it.description.as_deref(), it.timebox_secs),
        ("Parks", Some("Green spaces"), Some(600))
    );
}

#[test]
fn add_item_with_empty_or_blank_title_is_invalid() {
    let mut f = forum();
    assert_invalid(err(&mut f, MOD, add_item("")), "title must not be empty");
    assert_invalid(err(&mut f, MOD, add_item(" \t\n ")), "title must not be empty");
    assert!(f.agenda.is_empty());
}

#[test]
fn add_item_title_is_limited_to_200_characters_not_bytes() {
    let mut f = forum();
    // Hangul syllables are 3 bytes each in UTF-8: 200 chars = 600 bytes.
    let ok_title = "가".repeat(MAX_TITLE_CHARS);
    assert_eq!(ok_title.len(), 600);
    ok(&mut f, MOD, add_item(&ok_title));
    assert_eq!(f.items[&item(1)].title, ok_title);
    let long = "가".repeat(MAX_TITLE_CHARS + 1);
    assert_invalid(err(&mut f, MOD, add_item(&long)), "title is 201 characters; at most 200");
}

#[test]
fn add_item_with_an_empty_description_is_invalid() {
    let mut f = forum();
    let command = Command::AddItem { title: "Parks".into(), description: Some("  ".into()), timebox_secs: None };
    assert_invalid(err(&mut f, MOD, command), "description must not be empty");
}

#[test]
fn add_item_timebox_must_be_between_1_and_86400_seconds() {
    let mut f = forum();
    assert_invalid(err(&mut f, MOD, add_timed_item("Parks", 0)), "between 1 and 86400");
    assert_invalid(err(&mut f, MOD, add_timed_item("Parks", 86_401)), "between 1 and 86400");
    ok(&mut f, MOD, add_timed_item("Short", 1));
    ok(&mut f, MOD, add_timed_item("Long", 86_400));
    assert_eq!(f.items[&item(1)].timebox_secs, Some(1));
    assert_eq!(f.items[&item(2)].timebox_secs, Some(86_400));
}

#[test]
fn agenda_holds_at_most_200_items() {
    let mut f = forum();
    for n in 1..=200 {
        ok(&mut f, MOD, add_item(&format!("Item {n}")));
    }
    assert_eq!(f.agenda.len(), 200);
    assert_invalid(err(&mut f, MOD, add_item("One too many")), "at most 200 items");
    // Removing one frees a place.
    ok(&mut f, MOD, Command::RemoveItem { item: item(7) });
    assert_eq!(
        ok(&mut f, MOD, add_item("Again")),
        Event::ItemAdded { item: item(201), title: "Again".into(), description: None, timebox_secs: None }
    );
}

#[test]
fn edit_item_changes_given_fields_and_keeps_absent_ones() {
    let mut f = forum();
    ok(
        &mut f,
        MOD,
        Command::AddItem { title: "Parks".into(), description: Some("Green".into()), timebox_secs: Some(300) },
    );
    let edit = Command::EditItem {
        item: item(1),
        title: Some("  Playgrounds ".into()),
        description: None,
        timebox_secs: None,
    };
    assert_eq!(
        ok(&mut f, MOD, edit),
        Event::ItemEdited { item: item(1), title: Some("Playgrounds".into()), description: None, timebox_secs: None }
    );
    let it = &f.items[&item(1)];
    assert_eq!(
        (it.title.as_str(), it.description.as_deref(), it.timebox_secs),
        ("Playgrounds", Some("Green"), Some(300))
    );

    let edit =
        Command::EditItem { item: item(1), title: None, description: Some("Swings".into()), timebox_secs: Some(90) };
    ok(&mut f, MOD, edit);
    let it = &f.items[&item(1)];
    assert_eq!(
        (it.title.as_str(), it.description.as_deref(), it.timebox_secs),
        ("Playgrounds", Some("Swings"), Some(90))
    );
}

#[test]
fn edit_item_checks_its_fields() {
    let mut f = forum();
    ok(&mut f, MOD, add_item("Parks"));
    let blank = Command::EditItem { item: item(1), title: Some(" ".into()), description: None, timebox_secs: None };
    assert_invalid(err(&mut f, MOD, blank), "title must not be empty");
    let long =
        Command::EditItem { item: item(1), title: Some("가".repeat(201)), description: None, timebox_secs: None };
    assert_invalid(err(&mut f, MOD, long), "201 characters");
    let zero = Command::EditItem { item: item(1), title: None, description: None, timebox_secs: Some(0) };
    assert_invalid(err(&mut f, MOD, zero), "between 1 and 86400");
}

#[test]
fn edit_item_only_while_pending() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    let edit = |n| Command::EditItem { item: item(n), title: Some("X".into()), description: None, timebox_secs: None };
    assert_invalid_state(err(&mut f, MOD, edit(1)), "item 1 is no longer pending");
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    assert_eq!(f.items[&item(1)].state, ItemState::Done);
    assert_invalid_state(err(&mut f, MOD, edit(1)), "item 1 is no longer pending");
    assert_eq!(f.items[&item(1)].title, "One");
}

#[test]
fn edit_unknown_item_is_not_found() {
    let mut f = forum();
    let edit = Command::EditItem { item: item(9), title: Some("X".into()), description: None, timebox_secs: None };
    assert_not_found(err(&mut f, MOD, edit), "item", 9);
}

fn three_items() -> Forum {
    let mut f = forum();
    for title in ["One", "Two", "Three"] {
        ok(&mut f, MOD, add_item(title));
    }
    f
}

#[test]
fn move_item_to_the_front() {
    let mut f = three_items();
    assert_eq!(
        ok(&mut f, MOD, Command::MoveItem { item: item(3), position: 0 }),
        Event::ItemMoved { item: item(3), position: 0 }
    );
    assert_eq!(f.agenda, vec![item(3), item(1), item(2)]);
}

#[test]
fn move_item_to_the_middle() {
    let mut f = three_items();
    ok(&mut f, MOD, Command::MoveItem { item: item(1), position: 1 });
    assert_eq!(f.agenda, vec![item(2), item(1), item(3)]);
    let mut f = three_items();
    ok(&mut f, MOD, Command::MoveItem { item: item(3), position: 1 });
    assert_eq!(f.agenda, vec![item(1), item(3), item(2)]);
}

#[test]
fn move_item_to_the_end() {
    let mut f = three_items();
    ok(&mut f, MOD, Command::MoveItem { item: item(1), position: 2 });
    assert_eq!(f.agenda, vec![item(2), item(3), item(1)]);
}

#[test]
fn move_item_past_the_end_is_invalid() {
    let mut f = three_items();
    assert_invalid(err(&mut f, MOD, Command::MoveItem { item: item(1), position: 3 }), "position 3 is past the end");
    assert_eq!(f.agenda, vec![item(1), item(2), item(3)]);
}

#[test]
fn move_item_only_while_pending_and_known() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::MoveItem { item: item(1), position: 1 }), "no longer pending");
    assert_not_found(err(&mut f, MOD, Command::MoveItem { item: item(5), position: 0 }), "item", 5);
}

#[test]
fn remove_a_pending_item() {
    let mut f = three_items();
    assert_eq!(ok(&mut f, MOD, Command::RemoveItem { item: item(2) }), Event::ItemRemoved { item: item(2) });
    assert_eq!(f.agenda, vec![item(1), item(3)]);
    assert!(!f.items.contains_key(&item(2)));
    // Ids are never reused.
    assert!(matches!(ok(&mut f, MOD, add_item("Four")), Event::ItemAdded { item: ItemId(4), .. }));
}

#[test]
fn remove_an_item_with_a_poll_is_invalid_state() {
    let mut f = three_items();
    ok(&mut f, MOD, create_poll(Some(item(2)), approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, MOD, Command::RemoveItem { item: item(2) }), "item 2 has polls");
    assert_eq!(f.agenda, vec![item(1), item(2), item(3)]);
}

#[test]
fn remove_an_active_or_done_item_is_invalid_state() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::RemoveItem { item: item(1) }), "no longer pending");
    ok(&mut f, MOD, Command::CompleteItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::RemoveItem { item: item(1) }), "no longer pending");
}

#[test]
fn unknown_items_are_not_found() {
    let mut f = live();
    let cmds = [
        Command::RemoveItem { item: item(4) },
        Command::ActivateItem { item: item(4) },
        Command::CompleteItem { item: item(4) },
        Command::StartTimer { item: item(4) },
        Command::PauseTimer { item: item(4) },
        Command::ExtendTimer { item: item(4), secs: 10 },
        create_poll(Some(item(4)), approval(1), fixed(&["A", "B"])),
    ];
    for command in cmds {
        assert_not_found(err(&mut f, MOD, command), "item", 4);
    }
    assert_eq!(DomainError::NotFound { what: "item", id: 4 }.to_string(), "item 4 does not exist");
}

#[test]
fn activate_makes_a_pending_item_active_and_the_previous_one_done() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    assert_eq!(
        ok(&mut f, MOD, Command::ActivateItem { item: item(1) }),
        Event::ItemActivated { item: item(1), deadline_ms: None }
    );
    assert_eq!(f.active_item, Some(item(1)));
    assert_eq!(f.items[&item(1)].state, ItemState::Active);
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    assert_eq!(f.active_item, Some(item(2)));
    assert_eq!(f.items[&item(1)].state, ItemState::Done);
    assert_eq!(f.items[&item(2)].state, ItemState::Active);
}

#[test]
fn activate_an_active_item_is_invalid_state() {
    let mut f = live_with_item();
    assert_invalid_state(err(&mut f, MOD, Command::ActivateItem { item: item(1) }), "item 1 is already active");
}

#[test]
fn activate_a_done_item_is_invalid_state() {
    let mut f = live_with_item();
    ok(&mut f, MOD, Command::CompleteItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::ActivateItem { item: item(1) }), "item 1 is done");
}

#[test]
fn complete_item_marks_it_done_and_clears_the_active_item() {
    let mut f = live_with_item();
    assert_eq!(ok(&mut f, MOD, Command::CompleteItem { item: item(1) }), Event::ItemCompleted { item: item(1) });
    assert_eq!(f.items[&item(1)].state, ItemState::Done);
    assert_eq!(f.active_item, None);
}

#[test]
fn complete_a_pending_item_keeps_the_active_item() {
    let mut f = live_with_item();
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::CompleteItem { item: item(2) });
    assert_eq!(f.items[&item(2)].state, ItemState::Done);
    assert_eq!(f.active_item, Some(item(1)));
    assert_eq!(f.items[&item(1)].state, ItemState::Active);
}

#[test]
fn complete_twice_is_invalid_state() {
    let mut f = live_with_item();
    ok(&mut f, MOD, Command::CompleteItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::CompleteItem { item: item(1) }), "item 1 is already done");
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

fn timer(f: &Forum, n: u32) -> Option<Timer> {
    f.items[&item(n)].timer
}

#[test]
fn start_timer_sets_the_deadline_from_the_time_box() {
    let mut f = live_with_item();
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 300_000 }));
    assert_eq!(
        ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000),
        Event::TimerStarted { item: item(1), deadline_ms: 301_000 }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: Some(301_000), remaining_ms: 0 }));
}

#[test]
fn start_timer_while_running_is_invalid_state() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    assert_invalid_state(err_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 2_000), "already running");
}

#[test]
fn pause_keeps_what_is_left_and_start_resumes_from_it() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    assert_eq!(
        ok_at(&mut f, MOD, Command::PauseTimer { item: item(1) }, 101_000),
        Event::TimerPaused { item: item(1), remaining_ms: 200_000 }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 200_000 }));
    assert_eq!(
        ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 500_000),
        Event::TimerStarted { item: item(1), deadline_ms: 700_000 }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: Some(700_000), remaining_ms: 0 }));
}

#[test]
fn pause_after_the_deadline_leaves_zero() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    assert_eq!(
        ok_at(&mut f, MOD, Command::PauseTimer { item: item(1) }, 400_000),
        Event::TimerPaused { item: item(1), remaining_ms: 0 }
    );
}

#[test]
fn extend_a_running_timer_moves_the_deadline() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    assert_eq!(
        ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 50_000),
        Event::TimerExtended { item: item(1), extra_ms: 60_000 }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: Some(361_000), remaining_ms: 0 }));
}

#[test]
fn extend_after_time_ran_out_counts_from_now() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    // The 300 s time box ran out at 301_000; 100 s later the moderator adds a minute.
    assert_eq!(
        ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 401_000),
        Event::TimerStarted { item: item(1), deadline_ms: 461_000 }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: Some(461_000), remaining_ms: 0 }));
}

#[test]
fn extend_a_paused_timer_adds_to_what_is_left() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    ok_at(&mut f, MOD, Command::PauseTimer { item: item(1) }, 101_000);
    ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 200_000);
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 260_000 }));
}

#[test]
fn extend_a_never_started_timer_adds_to_the_time_box() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 5_000);
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 360_000 }));
}

#[test]
fn start_timer_without_time_box_and_never_extended_is_invalid_state() {
    let mut f = live();
    ok(&mut f, MOD, add_item("Open floor"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    assert_invalid_state(err(&mut f, MOD, Command::StartTimer { item: item(1) }), "item 1 has no time box");
    assert_invalid_state(err(&mut f, MOD, Command::PauseTimer { item: item(1) }), "item 1 has no time box");
}

#[test]
fn extend_without_time_box_creates_a_paused_timer_with_the_extension() {
    let mut f = live();
    ok(&mut f, MOD, add_item("Open floor"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 90 }, 1_000);
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 90_000 }));
    assert_eq!(
        ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 10_000),
        Event::TimerStarted { item: item(1), deadline_ms: 100_000 }
    );
}

#[test]
fn timers_on_a_done_item_are_invalid_state() {
    let mut f = live_with_item();
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    ok(&mut f, MOD, Command::CompleteItem { item: item(1) });
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 0 }), "a done item's timer stops");
    assert_invalid_state(err(&mut f, MOD, Command::StartTimer { item: item(1) }), "item 1 is done");
    assert_invalid_state(err(&mut f, MOD, Command::PauseTimer { item: item(1) }), "item 1 is done");
    assert_invalid_state(err(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }), "item 1 is done");
}

#[test]
fn pause_when_not_running_is_invalid_state() {
    let mut f = live_with_item();
    // Never started.
    assert_invalid_state(err(&mut f, MOD, Command::PauseTimer { item: item(1) }), "is not running");
    // Paused already.
    ok_at(&mut f, MOD, Command::StartTimer { item: item(1) }, 1_000);
    ok_at(&mut f, MOD, Command::PauseTimer { item: item(1) }, 2_000);
    assert_invalid_state(err_at(&mut f, MOD, Command::PauseTimer { item: item(1) }, 3_000), "is not running");
}

#[test]
fn extend_by_zero_or_more_than_a_day_is_invalid() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 0 }),
        "secs must be between 1 and 86400",
    );
    assert_invalid(err(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 86_401 }), "between 1 and 86400");
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 300_000 }));
}

// ---------------------------------------------------------------------------
// Ideas
// ---------------------------------------------------------------------------

#[test]
fn submit_idea_needs_an_active_item() {
    let mut f = live();
    let me = join(&mut f);
    ok(&mut f, MOD, add_item("Parks"));
    assert_invalid_state(err(&mut f, Actor::Participant(me), submit("Trees")), "no current agenda item");
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    ok(&mut f, MOD, Command::CompleteItem { item: item(1) });
    assert_invalid_state(err(&mut f, Actor::Participant(me), submit("Trees")), "no current agenda item");
}

#[test]
fn submit_idea_trims_its_text_and_goes_under_the_active_item() {
    let mut f = live_with_item();
    let me = join(&mut f);
    assert_eq!(
        ok(&mut f, Actor::Participant(me), submit("  More trees\n")),
        Event::IdeaSubmitted {
            idea: idea(1),
            item: item(1),
            text: "More trees".into(),
            author: Some(me),
            approved: true
        }
    );
    assert_eq!(
        f.ideas[&idea(1)],
        Idea {
            id: idea(1),
            item: item(1),
            text: "More trees".into(),
            author: Some(me),
            status: IdeaStatus::Approved,
            merged_into: None
        }
    );
}

#[test]
fn submit_idea_text_must_not_be_empty_or_longer_than_500_characters() {
    let mut f = live_with_item();
    let me = join(&mut f);
    assert_invalid(err(&mut f, Actor::Participant(me), submit("   ")), "idea must not be empty");
    assert_invalid(
        err(&mut f, Actor::Participant(me), submit(&"나".repeat(501))),
        "idea is 501 characters; at most 500",
    );
    ok(&mut f, Actor::Participant(me), submit(&"나".repeat(500)));
    assert_eq!(f.ideas[&idea(1)].text.chars().count(), 500);
}

#[test]
fn ideas_are_numbered_in_order() {
    let mut f = live_with_item();
    let me = join(&mut f);
    for n in 1..=3 {
        let event = ok(&mut f, Actor::Participant(me), submit(&format!("Idea {n}")));
        assert!(matches!(event, Event::IdeaSubmitted { idea: IdeaId(id), .. } if id == n), "{event:?}");
    }
    assert_eq!(f.ideas.keys().copied().collect::<Vec<_>>(), vec![idea(1), idea(2), idea(3)]);
}

#[test]
fn with_premoderation_a_participants_idea_waits() {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    assert!(matches!(
        ok(&mut f, Actor::Participant(me), submit("Trees")),
        Event::IdeaSubmitted { approved: false, .. }
    ));
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Pending);
}

#[test]
fn the_moderators_own_idea_is_approved_even_with_premoderation_and_has_no_author() {
    let mut f = live_with_item();
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    ok(&mut f, MOD, submit("Benches"));
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Approved);
    assert_eq!(f.ideas[&idea(1)].author, None);
}

/// A live forum, item 1 active, premoderation on, participant 1 joined, and
/// idea 1 pending.
fn pending_idea() -> Forum {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    ok(&mut f, Actor::Participant(me), submit("Trees"));
    f
}

#[test]
fn approve_a_pending_idea() {
    let mut f = pending_idea();
    assert_eq!(ok(&mut f, MOD, Command::ApproveIdea { idea: idea(1) }), Event::IdeaApproved { idea: idea(1) });
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Approved);
}

#[test]
fn approve_a_hidden_idea() {
    let mut f = pending_idea();
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    ok(&mut f, MOD, Command::ApproveIdea { idea: idea(1) });
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Approved);
}

#[test]
fn approve_an_approved_idea_is_invalid_state() {
    let mut f = pending_idea();
    ok(&mut f, MOD, Command::ApproveIdea { idea: idea(1) });
    assert_invalid_state(err(&mut f, MOD, Command::ApproveIdea { idea: idea(1) }), "idea 1 is already approved");
}

#[test]
fn hide_a_pending_or_approved_idea() {
    let mut f = pending_idea();
    assert_eq!(ok(&mut f, MOD, Command::HideIdea { idea: idea(1) }), Event::IdeaHidden { idea: idea(1) });
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Hidden);
    ok(&mut f, MOD, Command::ApproveIdea { idea: idea(1) });
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Hidden);
}

#[test]
fn hide_a_hidden_idea_is_invalid_state() {
    let mut f = pending_idea();
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    assert_invalid_state(err(&mut f, MOD, Command::HideIdea { idea: idea(1) }), "idea 1 is already hidden");
}

#[test]
fn unknown_ideas_are_not_found() {
    let mut f = live_with_item();
    ok(&mut f, MOD, submit("Benches"));
    assert_not_found(err(&mut f, MOD, Command::ApproveIdea { idea: idea(8) }), "idea", 8);
    assert_not_found(err(&mut f, MOD, Command::HideIdea { idea: idea(8) }), "idea", 8);
    assert_not_found(err(&mut f, MOD, Command::MergeIdea { idea: idea(8), into: idea(1) }), "idea", 8);
    assert_not_found(err(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(8) }), "idea", 8);
}

/// A live forum, item 1 active, with approved moderator ideas 1..=n.
fn ideas(n: u32) -> Forum {
    let mut f = live_with_item();
    for k in 1..=n {
        ok(&mut f, MOD, submit(&format!("Idea {k}")));
    }
    f
}

#[test]
fn merge_an_idea_into_another() {
    let mut f = ideas(2);
    assert_eq!(
        ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) }),
        Event::IdeaMerged { idea: idea(1), into: idea(2) }
    );
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Merged);
    assert_eq!(f.ideas[&idea(1)].merged_into, Some(idea(2)));
    assert_eq!(f.ideas[&idea(2)].status, IdeaStatus::Approved);
    assert_eq!(f.root_idea(idea(1)), idea(2));
    assert_eq!(f.root_idea(idea(2)), idea(2));
}

#[test]
fn merge_a_pending_idea_into_an_approved_one() {
    let mut f = pending_idea();
    ok(&mut f, MOD, submit("Benches"));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    assert_eq!(f.ideas[&idea(1)].status, IdeaStatus::Merged);
}

#[test]
fn merge_into_itself_is_invalid() {
    let mut f = ideas(1);
    assert_invalid(err(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(1) }), "into itself");
}

#[test]
fn a_merged_idea_cannot_be_merged_approved_or_hidden_again() {
    let mut f = ideas(3);
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    assert_invalid_state(
        err(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(3) }),
        "idea 1 was already merged",
    );
    assert_invalid_state(err(&mut f, MOD, Command::ApproveIdea { idea: idea(1) }), "idea 1 was merged");
    assert_invalid_state(err(&mut f, MOD, Command::HideIdea { idea: idea(1) }), "idea 1 was merged");
}

#[test]
fn merge_into_a_merged_idea_is_invalid_state() {
    let mut f = ideas(3);
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    assert_invalid_state(
        err(&mut f, MOD, Command::MergeIdea { idea: idea(3), into: idea(1) }),
        "idea 1 must be approved to take a merge",
    );
}

#[test]
fn merge_into_a_pending_or_hidden_idea_is_invalid_state() {
    let mut f = pending_idea(); // idea 1 pending
    ok(&mut f, MOD, submit("Benches")); // idea 2 approved
    assert_invalid_state(
        err(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(1) }),
        "idea 1 must be approved",
    );
    ok(&mut f, MOD, Command::HideIdea { idea: idea(1) });
    assert_invalid_state(
        err(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(1) }),
        "idea 1 must be approved",
    );
}

#[test]
fn merge_ideas_of_different_items_is_invalid() {
    let mut f = ideas(1);
    ok(&mut f, MOD, add_item("Roads"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, MOD, submit("Bike lanes"));
    assert_eq!(f.ideas[&idea(2)].item, item(2));
    assert_invalid(err(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) }), "different agenda items");
}

#[test]
fn a_merge_target_may_itself_be_merged_later_and_root_idea_follows_the_chain() {
    // A merged idea cannot take a merge, but the target of a merge is still
    // approved and may be merged on: 1 -> 2, then 2 -> 3.
    let mut f = ideas(3);
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(3) });
    assert_eq!(f.ideas[&idea(1)].merged_into, Some(idea(2)));
    assert_eq!(f.ideas[&idea(2)].merged_into, Some(idea(3)));
    assert_eq!(f.root_idea(idea(1)), idea(3));
    assert_eq!(f.root_idea(idea(2)), idea(3));
    assert_eq!(f.root_idea(idea(3)), idea(3));
    // An unknown idea is its own root.
    assert_eq!(f.root_idea(idea(42)), idea(42));
}

// ---------------------------------------------------------------------------
// Polls: creation
// ---------------------------------------------------------------------------

#[test]
fn create_poll_over_ideas_takes_the_approved_ideas_of_the_item_in_id_order() {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, submit("One")); // 1 approved
    ok(&mut f, MOD, Command::SetPremoderation { enabled: true });
    ok(&mut f, Actor::Participant(me), submit("Two")); // 2 pending
    ok(&mut f, MOD, submit("Three")); // 3 approved
    ok(&mut f, MOD, submit("Four")); // 4 -> hidden
    ok(&mut f, MOD, Command::HideIdea { idea: idea(4) });
    ok(&mut f, MOD, submit("Five")); // 5 -> merged into 1
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(5), into: idea(1) });
    ok(&mut f, Actor::Participant(me), submit("Six")); // 6 pending -> approved
    ok(&mut f, MOD, Command::ApproveIdea { idea: idea(6) });
    // An approved idea under another item is not taken.
    ok(&mut f, MOD, add_item("Roads"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, MOD, submit("Seven"));

    let event = ok(&mut f, MOD, create_poll(Some(item(1)), approval(2), PollOptionsSpec::Ideas {}));
    let expected = [(1, "One"), (3, "Three"), (6, "Six")];
    match &event {
        Event::PollCreated { poll: id, item: it, options, .. } => {
            assert_eq!((*id, *it), (poll(1), item(1)));
            let specs: Vec<OptionSpec> =
                expected.iter().map(|&(n, label)| OptionSpec { label: label.into(), idea: Some(idea(n)) }).collect();
            assert_eq!(options, &specs);
        }
        other => panic!("{other:?}"),
    }
    let created = &f.polls[&poll(1)];
    let options: Vec<PollOption> = expected
        .iter()
        .zip(1..)
        .map(|(&(n, label), k)| PollOption { id: o(k), label: label.into(), idea: Some(idea(n)) })
        .collect();
    assert_eq!(created.options, options);
    assert_eq!(created.status, PollStatus::Draft);
    assert_eq!(created.title, "Which?");
    assert_eq!(created.method, approval(2));
    assert!(!created.revealed);
    assert!(created.ballots.is_empty());
    assert_eq!(created.outcome, None);
}

#[test]
fn create_poll_with_fewer_than_two_options_is_invalid() {
    let mut f = ideas(1);
    assert_invalid(
        err(&mut f, MOD, create_poll(None, approval(1), PollOptionsSpec::Ideas {})),
        "at least 2 options, it has 1",
    );
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), fixed(&["Only"]))), "at least 2 options, it has 1");
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), PollOptionsSpec::None {})), "it has 0");
    assert!(f.polls.is_empty());
}

#[test]
fn create_yes_no_poll_with_options_is_invalid() {
    let mut f = live_with_item();
    assert_invalid(err(&mut f, MOD, create_poll(None, yes_no(), fixed(&["A", "B"]))), "a yes/no poll has no options");
}

#[test]
fn create_yes_no_poll_over_ideas_is_invalid_even_without_ideas() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, create_poll(None, yes_no(), PollOptionsSpec::Ideas {})),
        "a yes/no poll has no options",
    );
}

#[test]
fn create_yes_no_poll_without_options() {
    let mut f = live_with_item();
    let event = ok(&mut f, MOD, create_poll(None, yes_no(), PollOptionsSpec::None {}));
    assert_eq!(
        event,
        Event::PollCreated {
            poll: poll(1),
            item: item(1),
            title: "Which?".into(),
            method: yes_no(),
            options: vec![],
            results: ResultsVisibility::Live
        }
    );
    assert!(f.polls[&poll(1)].options.is_empty());
}

#[test]
fn create_poll_trims_title_and_fixed_labels() {
    let mut f = live_with_item();
    let command = Command::CreatePoll {
        item: None,
        title: "  Where?  ".into(),
        method: approval(1),
        options: fixed(&[" North ", "\tSouth"]),
        results: ResultsVisibility::Hidden,
    };
    ok(&mut f, MOD, command);
    let created = &f.polls[&poll(1)];
    assert_eq!(created.title, "Where?");
    assert_eq!(
        created.options,
        vec![
            PollOption { id: o(1), label: "North".into(), idea: None },
            PollOption { id: o(2), label: "South".into(), idea: None }
        ]
    );
    assert_eq!(created.results, ResultsVisibility::Hidden);
}

#[test]
fn create_poll_with_an_empty_label_or_title_is_invalid() {
    let mut f = live_with_item();
    assert_invalid(
        err(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "  "]))),
        "option label must not be empty",
    );
    let command = Command::CreatePoll {
        item: None,
        title: " ".into(),
        method: approval(1),
        options: fixed(&["A", "B"]),
        results: ResultsVisibility::Live,
    };
    assert_invalid(err(&mut f, MOD, command), "title must not be empty");
}

#[test]
fn create_poll_with_more_than_100_options_is_invalid() {
    let mut f = live_with_item();
    let labels: Vec<String> = (1..=101).map(|n| format!("Option {n}")).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    assert_invalid(err(&mut f, MOD, create_poll(None, approval(1), fixed(&refs))), "at most 100 options");
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&refs[..100])));
    assert_eq!(f.polls[&poll(1)].options.len(), 100);
    assert_eq!(f.polls[&poll(1)].options[99].id, o(100));
}

#[test]
fn create_poll_without_item_and_without_active_item_is_invalid_state() {
    let mut f = live();
    ok(&mut f, MOD, add_item("Parks"));
    assert_invalid_state(
        err(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"]))),
        "no item given and no current agenda item",
    );
}

#[test]
fn create_poll_defaults_to_the_active_item() {
    let mut f = live();
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_eq!(f.polls[&poll(1)].item, item(2));
    // An explicit item wins over the active one.
    ok(&mut f, MOD, create_poll(Some(item(1)), approval(1), fixed(&["A", "B"])));
    assert_eq!(f.polls[&poll(2)].item, item(1));
}

#[test]
fn create_poll_with_invalid_method_parameters_is_invalid() {
    let mut f = live_with_item();
    let cases = [
        (approval(0), "max_choices must be at least 1"),
        (PollMethod::Dots { budget: 0, max_per_option: 1 }, "budget must be at least 1"),
        (PollMethod::Dots { budget: 5, max_per_option: 0 }, "max_per_option must be at least 1"),
        (PollMethod::Ranked { max_ranks: Some(0), tally: RankedTally::Borda }, "max_ranks must be at least 1"),
    ];
    for (method, message) in cases {
        assert_invalid(err(&mut f, MOD, create_poll(None, method, fixed(&["A", "B"]))), message);
    }
    for method in [
        approval(1),
        PollMethod::Dots { budget: 1, max_per_option: 1 },
        PollMethod::Score {},
        PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda },
        PollMethod::Ranked { max_ranks: Some(1), tally: RankedTally::Borda },
    ] {
        ok(&mut f, MOD, create_poll(None, method, fixed(&["A", "B"])));
    }
    assert_eq!(f.polls.len(), 5);
}

#[test]
fn polls_are_numbered_in_order() {
    let mut f = live_with_item();
    for n in 1..=3 {
        let event = ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
        assert!(matches!(event, Event::PollCreated { poll: PollId(id), .. } if id == n), "{event:?}");
    }
}

// ---------------------------------------------------------------------------
// Polls: open, close, reveal
// ---------------------------------------------------------------------------

#[test]
fn open_a_draft_poll() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_eq!(ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), Event::PollOpened { poll: poll(1) });
    assert_eq!(f.polls[&poll(1)].status, PollStatus::Open);
}

#[test]
fn open_twice_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert_invalid_state(err(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), "poll 1 is already open");
}

#[test]
fn open_a_closed_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, MOD, Command::OpenPoll { poll: poll(1) }), "poll 1 is closed");
}

#[test]
fn close_a_poll_that_is_not_open_is_invalid_state() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, MOD, Command::ClosePoll { poll: poll(1) }), "poll 1 is not open");
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, MOD, Command::ClosePoll { poll: poll(1) }), "poll 1 is not open");
}

#[test]
fn close_records_the_outcome_with_the_time_and_the_tally() {
    let mut f = open_approval_poll(2);
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1, 2])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[2, 3])));
    let live_tally = f.tally(&f.polls[&poll(1)]);
    let event = ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 1_234_567);
    let closed = &f.polls[&poll(1)];
    assert_eq!(closed.status, PollStatus::Closed);
    let outcome = closed.outcome.as_ref().expect("an outcome");
    assert_eq!(event, Event::PollClosed { poll: poll(1), outcome: outcome.clone() });
    assert_eq!(outcome.poll, poll(1));
    assert_eq!(outcome.title, "Which?");
    assert_eq!(outcome.method, approval(2));
    assert_eq!(outcome.closed_at_ms, 1_234_567);
    assert_eq!(outcome.tally, live_tally);
    assert_eq!(outcome.tally.poll, poll(1));
    assert_eq!(outcome.tally.ballots, 3);
    assert_eq!(
        outcome.tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (2, 3), (3, 1)]), ranking: tiers(&[&[2], &[1, 3]]) }
    );
}

#[test]
fn close_a_yes_no_poll_records_the_vote() {
    let mut f = live_with_item();
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, MOD, create_poll(None, yes_no(), PollOptionsSpec::None {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    ok(&mut f, Actor::Participant(a), cast(1, Ballot::YesNo { choice: YesNoChoice::Yes }));
    ok(&mut f, Actor::Participant(b), cast(1, Ballot::YesNo { choice: YesNoChoice::Abstain }));
    ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 9);
    let outcome = f.polls[&poll(1)].outcome.clone().expect("an outcome");
    assert_eq!(outcome.closed_at_ms, 9);
    assert_eq!(
        outcome.tally.result,
        TallyResult::YesNo { yes: 1, no: 0, abstain: 1, rule: MajorityRule::Simple, passed: true, tie: false }
    );
}

#[test]
fn reveal_results_of_a_live_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    assert!(f.polls[&poll(1)].results_public());
    assert_invalid_state(err(&mut f, MOD, Command::RevealResults { poll: poll(1) }), "already visible");
}

#[test]
fn reveal_results_of_a_hidden_poll_makes_them_public_once() {
    let mut f = live_with_item();
    let command = Command::CreatePoll {
        item: None,
        title: "Secret".into(),
        method: approval(1),
        options: fixed(&["A", "B"]),
        results: ResultsVisibility::Hidden,
    };
    ok(&mut f, MOD, command);
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    assert!(!f.polls[&poll(1)].results_public());
    assert_eq!(ok(&mut f, MOD, Command::RevealResults { poll: poll(1) }), Event::ResultsRevealed { poll: poll(1) });
    assert!(f.polls[&poll(1)].revealed);
    assert!(f.polls[&poll(1)].results_public());
    assert_invalid_state(err(&mut f, MOD, Command::RevealResults { poll: poll(1) }), "already visible");
}

#[test]
fn unknown_polls_are_not_found() {
    let mut f = live_with_item();
    let me = join(&mut f);
    for command in [
        Command::OpenPoll { poll: poll(3) },
        Command::ClosePoll { poll: poll(3) },
        Command::RevealResults { poll: poll(3) },
    ] {
        assert_not_found(err(&mut f, MOD, command), "poll", 3);
    }
    assert_not_found(err(&mut f, Actor::Participant(me), cast(3, approve(&[1]))), "poll", 3);
}

// ---------------------------------------------------------------------------
// Ballots
// ---------------------------------------------------------------------------

#[test]
fn cast_a_ballot_in_an_open_poll() {
    let mut f = open_approval_poll(2);
    let me = join(&mut f);
    assert_eq!(
        ok(&mut f, Actor::Participant(me), cast(1, approve(&[1, 3]))),
        Event::BallotCast { poll: poll(1), participant: me, ballot: approve(&[1, 3]) }
    );
    assert_eq!(f.polls[&poll(1)].ballots, BTreeMap::from([(me, approve(&[1, 3]))]));
}

#[test]
fn cast_on_a_draft_poll_is_invalid_state() {
    let mut f = live_with_item();
    let me = join(&mut f);
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["A", "B"])));
    assert_invalid_state(err(&mut f, Actor::Participant(me), cast(1, approve(&[1]))), "poll 1 is not open");
}

#[test]
fn cast_on_a_closed_poll_is_invalid_state() {
    let mut f = open_approval_poll(1);
    let me = join(&mut f);
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, Actor::Participant(me), cast(1, approve(&[1]))), "poll 1 is not open");
}

#[test]
fn a_ballot_breaking_the_method_is_a_ballot_error_with_its_rule() {
    let mut f = open_approval_poll(2);
    let me = join(&mut f);
    let e = err(&mut f, Actor::Participant(me), cast(1, approve(&[1, 2, 3])));
    match e {
        DomainError::Ballot(ballot) => {
            assert_eq!(ballot.rule, "approval.max_choices");
            assert_eq!(ballot.message, "approve at most 2 options (got 3)");
        }
        other => panic!("expected a ballot error, got {other:?}"),
    }
    let e = err(&mut f, Actor::Participant(me), cast(1, approve(&[4])));
    assert!(matches!(&e, DomainError::Ballot(b) if b.rule == "option.unknown"), "{e:?}");
    assert!(f.polls[&poll(1)].ballots.is_empty());
}

#[test]
fn a_later_ballot_replaces_the_earlier() {
    let mut f = open_approval_poll(2);
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[2, 3])));
    let ballots = &f.polls[&poll(1)].ballots;
    assert_eq!(ballots.len(), 2);
    assert_eq!(ballots[&a], approve(&[2, 3]));
    assert_eq!(ballots[&b], approve(&[1]));
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(tally.ballots, 2);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (2, 1), (3, 1)]), ranking: tiers(&[&[1, 2, 3]]) }
    );
}

// ---------------------------------------------------------------------------
// Merges and votes
// ---------------------------------------------------------------------------

/// Live forum, item 1 active, approved ideas 1..=n, open poll 1 over them with `method`.
fn poll_over_ideas(n: u32, method: PollMethod) -> Forum {
    let mut f = ideas(n);
    ok(&mut f, MOD, create_poll(None, method, PollOptionsSpec::Ideas {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

#[test]
fn merging_an_option_idea_counts_its_approvals_for_the_target() {
    let mut f = poll_over_ideas(3, approval(2));
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[1, 3])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });

    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(2)), (o(2), o(2)), (o(3), o(3))]));
    let tally = f.tally(p);
    assert_eq!(tally.ballots, 3);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(2, 3), (3, 1)]), ranking: tiers(&[&[2], &[3]]) }
    );

    // After the merge, options 1 and 2 are one: naming both is a duplicate.
    let d = join(&mut f);
    let e = err(&mut f, Actor::Participant(d), cast(1, approve(&[1, 2])));
    assert!(matches!(&e, DomainError::Ballot(b) if b.rule == "approval.duplicate"), "{e:?}");
    // Naming the merged option alone is fine and counts for the target.
    ok(&mut f, Actor::Participant(d), cast(1, approve(&[1])));
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(
        tally.result,
        TallyResult::Approval { counts: counts(&[(2, 4), (3, 1)]), ranking: tiers(&[&[2], &[3]]) }
    );
}

#[test]
fn merging_an_option_idea_counts_its_borda_points_for_the_target() {
    let mut f = poll_over_ideas(3, PollMethod::Ranked { max_ranks: Some(2), tally: RankedTally::Borda });
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, rank(&[3, 1])));
    ok(&mut f, Actor::Participant(b), cast(1, rank(&[1, 2])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    // Two canonical options (2, 3): first place scores 1, second 0.
    // a: 3 first (1), 1->2 second (0). b: 1->2 first (1), 2 again is skipped.
    let tally = f.tally(&f.polls[&poll(1)]);
    assert_eq!(
        tally.result,
        TallyResult::Ranked {
            tally: RankedTally::Borda,
            borda: counts(&[(2, 1), (3, 1)]),
            first_choices: counts(&[(2, 1), (3, 1)]),
            ranking: tiers(&[&[2, 3]]),
        }
    );
}

#[test]
fn the_outcome_of_a_poll_closed_after_a_merge_counts_the_merged_option_for_the_target() {
    let mut f = poll_over_ideas(3, approval(1));
    let a = join(&mut f);
    let b = join(&mut f);
    let c = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[3])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[3])));
    ok(&mut f, Actor::Participant(c), cast(1, approve(&[1])));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(1) });
    ok_at(&mut f, MOD, Command::ClosePoll { poll: poll(1) }, 77);
    let outcome = f.polls[&poll(1)].outcome.clone().expect("outcome");
    assert_eq!(
        outcome.tally.result,
        TallyResult::Approval { counts: counts(&[(1, 1), (3, 2)]), ranking: tiers(&[&[3], &[1]]) }
    );
}

#[test]
fn merging_into_an_idea_that_is_not_an_option_leaves_the_option_alone() {
    let mut f = poll_over_ideas(2, approval(1));
    ok(&mut f, MOD, submit("Three")); // idea 3: approved after the poll was created
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(3) });
    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(1)), (o(2), o(2))]));
}

#[test]
fn a_merge_chain_through_options_counts_for_the_last_option_in_the_chain() {
    // Ideas 1 and 2 are options; 1 is merged into 2, so ballots for 1 count
    // for 2. Then 2 is merged into idea 3, which is not an option of the
    // poll: option 2 stays as it is, and ballots for option 1 must still
    // count for option 2 (they were merged into it, and nothing undid that).
    let mut f = poll_over_ideas(2, approval(1));
    let a = join(&mut f);
    let b = join(&mut f);
    ok(&mut f, Actor::Participant(a), cast(1, approve(&[1])));
    ok(&mut f, Actor::Participant(b), cast(1, approve(&[2])));
    ok(&mut f, MOD, submit("Three"));
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(1), into: idea(2) });
    let before = f.tally(&f.polls[&poll(1)]);
    assert_eq!(before.result, TallyResult::Approval { counts: counts(&[(2, 2)]), ranking: tiers(&[&[2]]) });

    ok(&mut f, MOD, Command::MergeIdea { idea: idea(2), into: idea(3) });
    let p = &f.polls[&poll(1)];
    assert_eq!(f.canonical_options(p), HashMap::from([(o(1), o(2)), (o(2), o(2))]));
    assert_eq!(f.tally(p), before);
}

// ---------------------------------------------------------------------------
// Joining
// ---------------------------------------------------------------------------

#[test]
fn join_numbers_participants_in_order() {
    let mut f = forum();
    for n in 1..=3 {
        let event = f.decide_join(Channel::Hall, Some("Min"), format!("hash-{n}")).expect("join");
        assert_eq!(
            event,
            Event::ParticipantJoined {
                participant: ParticipantId(n),
                channel: Channel::Hall,
                name: Some("Min".into()),
                token_hash: format!("hash-{n}")
            }
        );
        f.apply(&event);
    }
    assert_eq!(f.participants.len(), 3);
    assert_eq!(
        f.participants[&ParticipantId(2)],
        Participant { id: ParticipantId(2), channel: Channel::Hall, name: Some("Min".into()) }
    );
    assert_eq!(f.participant_by_token.get("hash-3"), Some(&ParticipantId(3)));
}

#[test]
fn join_trims_the_name() {
    let f = live();
    let event = f.decide_join(Channel::Remote, Some("  지우  "), "h".into()).expect("join");
    assert!(matches!(event, Event::ParticipantJoined { name: Some(ref n), .. } if n == "지우"), "{event:?}");
}

#[test]
fn join_with_an_empty_or_blank_name_has_no_name() {
    let f = live();
    for name in [None, Some(""), Some("   ")] {
        let event = f.decide_join(Channel::Remote, name, "h".into()).expect("join");
        assert_eq!(
            event,
            Event::ParticipantJoined {
                participant: ParticipantId(1),
                channel: Channel::Remote,
                name: None,
                token_hash: "h".into()
            }
        );
    }
}

#[test]
fn join_name_is_limited_to_40_characters() {
    let f = live();
    let event = f.decide_join(Channel::Remote, Some(&"김".repeat(MAX_NAME_CHARS)), "h".into()).expect("40 is fine");
    assert!(matches!(event, Event::ParticipantJoined { name: Some(ref n), .. } if n.chars().count() == 40));
    let e = f.decide_join(Channel::Remote, Some(&"김".repeat(MAX_NAME_CHARS + 1)), "h".into()).unwrap_err();
    assert_invalid(e, "name is 41 characters; at most 40");
}

// ---------------------------------------------------------------------------
// Determinism and replay
// ---------------------------------------------------------------------------

fn replay(events: &[Event]) -> Forum {
    let mut f = Forum::from_created(&events[0]).expect("first event creates");
    for event in &events[1..] {
        f.apply(event);
    }
    f
}

#[test]
fn replaying_the_same_events_gives_equal_forums() {
    let mut f = forum();
    let mut events = vec![created()];
    fn record(f: &mut Forum, events: &mut Vec<Event>, actor: Actor, command: Command, now: u64) {
        events.push(ok_at(f, actor, command, now));
    }
    record(&mut f, &mut events, MOD, Command::StartForum {}, 1);
    record(&mut f, &mut events, MOD, add_timed_item("Parks", 300), 2);
    record(&mut f, &mut events, MOD, add_item("Roads"), 3);
    record(&mut f, &mut events, MOD, Command::MoveItem { item: item(2), position: 0 }, 4);
    record(&mut f, &mut events, MOD, Command::ActivateItem { item: item(1) }, 5);
    // Activation started the countdown; extend it while it runs.
    record(&mut f, &mut events, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 6);
    record(&mut f, &mut events, MOD, submit("Trees"), 7);
    record(&mut f, &mut events, MOD, submit("Benches"), 8);
    record(&mut f, &mut events, MOD, submit("Lights"), 9);
    record(&mut f, &mut events, MOD, Command::ExtendTimer { item: item(1), secs: 30 }, 10);
    record(&mut f, &mut events, MOD, create_poll(None, approval(2), PollOptionsSpec::Ideas {}), 11);
    record(&mut f, &mut events, MOD, Command::OpenPoll { poll: poll(1) }, 12);
    let mut joins = Vec::new();
    for n in 1..=2 {
        let event = f.decide_join(Channel::Hall, None, format!("t{n}")).expect("join");
        f.apply(&event);
        joins.push(event);
    }
    events.extend(joins);
    record(&mut f, &mut events, p(1), cast(1, approve(&[1, 2])), 13);
    record(&mut f, &mut events, p(2), cast(1, approve(&[3])), 14);
    record(&mut f, &mut events, MOD, Command::MergeIdea { idea: idea(3), into: idea(2) }, 15);
    record(&mut f, &mut events, MOD, Command::PauseTimer { item: item(1) }, 16);
    record(&mut f, &mut events, MOD, Command::ClosePoll { poll: poll(1) }, 17);
    record(&mut f, &mut events, MOD, Command::CompleteItem { item: item(1) }, 18);

    let one = replay(&events);
    let two = replay(&events);
    assert_eq!(one, two);
    assert_eq!(one, f);
    assert_eq!(one.polls[&poll(1)].outcome.as_ref().map(|o| o.closed_at_ms), Some(17));
    // Replay goes on numbering where the log left off.
    let mut again = replay(&events);
    assert!(matches!(ok(&mut again, MOD, add_item("Next")), Event::ItemAdded { item: ItemId(3), .. }));
    assert!(matches!(
        ok(&mut again, MOD, create_poll(Some(item(2)), yes_no(), PollOptionsSpec::None {})),
        Event::PollCreated { poll: PollId(2), .. }
    ));
}

#[test]
fn events_survive_a_json_round_trip_and_replay_to_the_same_forum() {
    let mut f = poll_over_ideas(3, approval(2));
    let me = join(&mut f);
    let mut events = vec![created()];
    // Rebuild the same forum from scratch, recording events this time.
    let mut g = forum();
    for (actor, command) in [
        (MOD, Command::StartForum {}),
        (MOD, add_timed_item("Parks", 300)),
        (MOD, Command::ActivateItem { item: item(1) }),
        (MOD, Command::PauseTimer { item: item(1) }),
        (MOD, submit("Idea 1")),
        (MOD, submit("Idea 2")),
        (MOD, submit("Idea 3")),
        (MOD, create_poll(None, approval(2), PollOptionsSpec::Ideas {})),
        (MOD, Command::OpenPoll { poll: poll(1) }),
    ] {
        events.push(ok(&mut g, actor, command));
    }
    let joined = g.decide_join(Channel::Remote, None, "token-1".into()).expect("join");
    g.apply(&joined);
    events.push(joined);
    assert_eq!(g, f);
    events.push(ok(&mut g, Actor::Participant(me), cast(1, approve(&[1, 3]))));
    let json: Vec<String> = events.iter().map(|e| serde_json::to_string(e).expect("serialize")).collect();
    let back: Vec<Event> = json.iter().map(|s| serde_json::from_str(s).expect("deserialize")).collect();
    assert_eq!(back, events);
    assert_eq!(replay(&back), g);
}

// ---------------------------------------------------------------------------
// Hybrid: channels, hall counts, speaker queue, agenda timers, temperature
// ---------------------------------------------------------------------------

fn join_on(forum: &mut Forum, channel: Channel, name: Option<&str>) -> ParticipantId {
    let token = format!("token-{}", forum.participants.len() + 1);
    let event = forum.decide_join(channel, name, token).expect("join");
    forum.apply(&event);
    match event {
        Event::ParticipantJoined { participant, .. } => participant,
        other => panic!("join gave {other:?}"),
    }
}

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
    assert_eq!(ranking, &tiers(&[&[3], &[1], &[2]]));
    let TallyResult::Ranked { ranking, .. } = &by.remote.result else { unreachable!() };
    assert_eq!(ranking, &tiers(&[&[1, 2], &[3]]), "the remote crowd ties A and B");
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
    let mut f = open_poll_of(yes_no());
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
        TallyResult::Approval { counts: counts(&[(1, 5), (2, 15), (3, 21)]), ranking: tiers(&[&[3], &[2], &[1]]) }
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
        TallyResult::Dots { counts: counts(&[(1, 12), (2, 0), (3, 7)]), ranking: tiers(&[&[1], &[3], &[2]]) }
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
    let mut f = open_poll_of(yes_no());
    let me = join_on(&mut f, Channel::Hall, None);
    let command = Command::EnterHallCount { poll: poll(1), counts: HallCounts::YesNo { yes: 1, no: 0, abstain: 0 } };
    assert_forbidden(err(&mut f, Actor::Participant(me), command.clone()), "`enter_hall_count` is for moderators");
    assert_forbidden(err(&mut f, Actor::Display, command), "read-only");
    assert_forbidden(err(&mut f, Actor::Participant(me), Command::SetHallHeadcount { count: 3 }), "for moderators");
}

#[test]
fn negative_absurd_or_mismatched_hall_counts_are_invalid() {
    let mut f = open_poll_of(yes_no());
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
    assert_invalid(err(&mut f, MOD, enter(5, &[(1, 6)])), "the count for option 1 is 6: at most 5");
    assert_invalid(err(&mut f, MOD, enter(5, &[(9, 1)])), "option 9 is not an option of this poll");
    assert_invalid(err(&mut f, MOD, enter(5, &[(1, 1), (1, 2)])), "option 1 is counted more than once");

    let mut f = open_poll_of(PollMethod::Dots { budget: 5, max_per_option: 3 });
    let dots = |people, list: &[(u32, i64)]| Command::EnterHallCount {
        poll: poll(1),
        counts: HallCounts::Dots { people, counts: option_counts(list) },
    };
    assert_invalid(err(&mut f, MOD, dots(2, &[(1, 7)])), "at most 6");
    assert_invalid(err(&mut f, MOD, dots(2, &[(1, 6), (2, 6)])), "12 dots in all is more than 2 people may place (10)");

    let mut f = open_poll_of(PollMethod::Score {});
    let scores = vec![madang_protocol::HallScoreCount { option: o(1), distribution: [1, 1, 1, 0, 0, 0] }];
    assert_invalid(
        err(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: HallCounts::Score { people: 2, scores } }),
        "3 people scored option 1 but only 2 took part",
    );
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
    ok(&mut f, MOD, create_poll(None, yes_no(), PollOptionsSpec::None {}));
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

#[test]
fn participants_never_join_as_hall_count() {
    let f = live();
    assert_invalid(f.decide_join(Channel::HallCount, None, "t".into()).unwrap_err(), "remote or hall");
}

// --- speaker queue: the policies, as a pure function -----------------------

fn waiting(list: &[(u32, Channel)]) -> Vec<Speaker> {
    list.iter()
        .map(|&(id, channel)| Speaker {
            id: SpeakerId(id),
            participant: (channel != Channel::HallCount).then_some(ParticipantId(id)),
            name: (channel == Channel::HallCount).then(|| format!("Person {id}")),
            channel,
            skipped: false,
        })
        .collect()
}

fn order_of(policy: QueuePolicy, queue: &[Speaker], spoken: &[u32], last: Option<Channel>) -> Vec<u32> {
    crate::domain::speakers::calling_order(policy, queue, |s| spoken.contains(&s.id.0), last)
        .into_iter()
        .map(|s| s.id.0)
        .collect()
}

/// Arrival order: remote 1, remote 2, hall 3, remote 4, hall-count 5, remote 6.
fn mixed_queue() -> Vec<Speaker> {
    use Channel::*;
    waiting(&[(1, Remote), (2, Remote), (3, Hall), (4, Remote), (5, HallCount), (6, Remote)])
}

#[test]
fn fifo_calls_in_arrival_order() {
    assert_eq!(order_of(QueuePolicy::Fifo, &mixed_queue(), &[2], Some(Channel::Remote)), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn alternate_takes_turns_between_the_room_and_remote() {
    // No speech yet: the side of the earliest arrival (remote) starts.
    assert_eq!(order_of(QueuePolicy::Alternate, &mixed_queue(), &[], None), [1, 3, 2, 5, 4, 6]);
    // A remote speaker spoke last: the room goes first.
    assert_eq!(order_of(QueuePolicy::Alternate, &mixed_queue(), &[], Some(Channel::Remote)), [3, 1, 5, 2, 4, 6]);
    // Hall and hall-count are one side.
    assert_eq!(order_of(QueuePolicy::Alternate, &mixed_queue(), &[], Some(Channel::HallCount)), [1, 3, 2, 5, 4, 6]);
}

#[test]
fn not_spoken_first_puts_new_voices_ahead() {
    assert_eq!(order_of(QueuePolicy::NotSpokenFirst, &mixed_queue(), &[1, 3], None), [2, 4, 5, 6, 1, 3]);
}

#[test]
fn skipped_speakers_wait_behind_everyone_under_every_policy() {
    let mut queue = mixed_queue();
    queue[0].skipped = true;
    for policy in [QueuePolicy::Fifo, QueuePolicy::Alternate, QueuePolicy::NotSpokenFirst] {
        assert_eq!(order_of(policy, &queue, &[], None).last(), Some(&1), "{policy:?}");
    }
}

// --- speaker queue: commands ------------------------------------------------

#[test]
fn a_mixed_queue_is_called_under_alternate_with_deadlines_and_stats() {
    let mut f = live();
    let r1 = join_on(&mut f, Channel::Remote, Some("Jiwoo"));
    let r2 = join_on(&mut f, Channel::Remote, None);
    let h = join_on(&mut f, Channel::Hall, Some("Minho"));
    ok(&mut f, MOD, Command::SetQueuePolicy { policy: QueuePolicy::Alternate });
    ok(&mut f, MOD, Command::SetSpeakingLimit { secs: Some(90) });
    let raised = ok(&mut f, Actor::Participant(r1), Command::RaiseHand {});
    assert_eq!(raised, Event::HandRaised { speaker: SpeakerId(1), participant: r1, channel: Channel::Remote });
    ok(&mut f, Actor::Participant(r2), Command::RaiseHand {});
    ok(&mut f, Actor::Participant(h), Command::RaiseHand {});
    ok(&mut f, MOD, Command::AddSpeaker { name: "  Mrs Kim ".into() });
    let ids = |f: &Forum| f.speakers.order().iter().map(|s| s.id.0).collect::<Vec<_>>();
    assert_eq!(ids(&f), [1, 3, 2, 4]);
    assert_eq!(f.speakers.waiting[3].name.as_deref(), Some("Mrs Kim"));
    assert_eq!(f.speakers.waiting[0].name.as_deref(), Some("Jiwoo"));

    assert_eq!(
        ok_at(&mut f, MOD, Command::CallNext {}, 10_000),
        Event::SpeakerCalled { speaker: SpeakerId(1), at_ms: 10_000, deadline_ms: Some(100_000) }
    );
    // The remote speaker spoke: the room is next.
    assert_eq!(ids(&f), [3, 2, 4]);
    ok_at(&mut f, MOD, Command::CallNext {}, 70_000);
    assert_eq!(f.speakers.current.as_ref().unwrap().speaker.id, SpeakerId(3));
    ok_at(&mut f, MOD, Command::CallNext {}, 100_000);
    assert_eq!(f.speakers.current.as_ref().unwrap().speaker.id, SpeakerId(2));
    assert_eq!(ok_at(&mut f, MOD, Command::EndSpeech {}, 145_000), Event::SpeechEnded { at_ms: 145_000 });
    assert_invalid_state(err(&mut f, MOD, Command::EndSpeech {}), "nobody has the floor");
    ok_at(&mut f, MOD, Command::CallNext {}, 150_000);
    ok_at(&mut f, MOD, Command::EndSpeech {}, 170_000);
    let q = &f.speakers;
    assert_eq!((q.remote.speeches, q.remote.speaking_ms), (2, 60_000 + 45_000));
    assert_eq!((q.hall.speeches, q.hall.speaking_ms), (1, 30_000));
    assert_eq!((q.hall_count.speeches, q.hall_count.speaking_ms), (1, 20_000));
    assert_invalid_state(err(&mut f, MOD, Command::CallNext {}), "nobody is waiting");
}

#[test]
fn not_spoken_first_lets_a_new_voice_pass_a_returning_one() {
    let mut f = live();
    let a = join_on(&mut f, Channel::Remote, None);
    let b = join_on(&mut f, Channel::Hall, None);
    ok(&mut f, MOD, Command::SetQueuePolicy { policy: QueuePolicy::NotSpokenFirst });
    ok(&mut f, Actor::Participant(a), Command::RaiseHand {});
    ok(&mut f, MOD, Command::CallNext {});
    ok(&mut f, MOD, Command::EndSpeech {});
    ok(&mut f, Actor::Participant(a), Command::RaiseHand {});
    ok(&mut f, MOD, Command::AddSpeaker { name: "Mr Park".into() });
    ok(&mut f, Actor::Participant(b), Command::RaiseHand {});
    let ids: Vec<u32> = f.speakers.order().iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [3, 4, 2], "a spoke already and waits behind the new voices");
    // Under fifo, the same queue is in arrival order.
    ok(&mut f, MOD, Command::SetQueuePolicy { policy: QueuePolicy::Fifo });
    let ids: Vec<u32> = f.speakers.order().iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [2, 3, 4]);
}

#[test]
fn hands_are_raised_once_and_lowered_by_their_owner() {
    let mut f = live();
    let me = join_on(&mut f, Channel::Hall, None);
    assert_invalid_state(err(&mut f, Actor::Participant(me), Command::LowerHand {}), "your hand is not raised");
    ok(&mut f, Actor::Participant(me), Command::RaiseHand {});
    assert_invalid_state(err(&mut f, Actor::Participant(me), Command::RaiseHand {}), "already raised");
    assert_eq!(ok(&mut f, Actor::Participant(me), Command::LowerHand {}), Event::HandLowered { speaker: SpeakerId(1) });
    assert!(f.speakers.waiting.is_empty());
    ok(&mut f, Actor::Participant(me), Command::RaiseHand {});
    ok(&mut f, MOD, Command::CallNext {});
    assert_invalid_state(err(&mut f, Actor::Participant(me), Command::RaiseHand {}), "you have the floor");
    assert_forbidden(err(&mut f, MOD, Command::RaiseHand {}), "add hall people with `add_speaker`");
    assert_forbidden(err(&mut f, Actor::Participant(me), Command::AddSpeaker { name: "Me".into() }), "for moderators");
}

#[test]
fn the_queue_needs_a_live_forum() {
    let mut f = forum();
    let me = join_on(&mut f, Channel::Remote, None);
    assert_invalid_state(err(&mut f, Actor::Participant(me), Command::RaiseHand {}), "has not started");
    assert_invalid_state(err(&mut f, MOD, Command::AddSpeaker { name: "Kim".into() }), "has not started");
}

#[test]
fn skip_remove_and_move_change_the_queue() {
    let mut f = live();
    for name in ["A", "B", "C"] {
        ok(&mut f, MOD, Command::AddSpeaker { name: name.into() });
    }
    let ids = |f: &Forum| f.speakers.order().iter().map(|s| s.id.0).collect::<Vec<_>>();
    assert_eq!(ok(&mut f, MOD, Command::SkipSpeaker {}), Event::SpeakerSkipped { speaker: SpeakerId(1) });
    assert_eq!(ids(&f), [2, 3, 1]);
    assert!(f.speakers.waiting.iter().find(|s| s.id == SpeakerId(1)).unwrap().skipped);
    ok(&mut f, MOD, Command::MoveSpeaker { speaker: SpeakerId(3), position: 0 });
    assert_eq!(ids(&f), [3, 2, 1]);
    ok(&mut f, MOD, Command::MoveSpeaker { speaker: SpeakerId(1), position: 1 });
    assert_eq!(ids(&f), [3, 1, 2], "a moved speaker is no longer skipped");
    ok(&mut f, MOD, Command::RemoveSpeaker { speaker: SpeakerId(1) });
    assert_eq!(ids(&f), [3, 2]);
    assert_not_found(err(&mut f, MOD, Command::RemoveSpeaker { speaker: SpeakerId(1) }), "waiting speaker", 1);
    assert_not_found(
        err(&mut f, MOD, Command::MoveSpeaker { speaker: SpeakerId(9), position: 0 }),
        "waiting speaker",
        9,
    );
    assert_invalid(
        err(&mut f, MOD, Command::MoveSpeaker { speaker: SpeakerId(2), position: 2 }),
        "past the end of the queue",
    );
    assert_invalid(err(&mut f, MOD, Command::AddSpeaker { name: "  ".into() }), "name must not be empty");
    assert_invalid(err(&mut f, MOD, Command::SetSpeakingLimit { secs: Some(0) }), "between 1 and 86400");
    ok(&mut f, MOD, Command::SetSpeakingLimit { secs: None });
    assert_eq!(
        ok_at(&mut f, MOD, Command::CallNext {}, 5),
        Event::SpeakerCalled { speaker: SpeakerId(3), at_ms: 5, deadline_ms: None }
    );
    ok(&mut f, MOD, Command::SkipSpeaker {});
    ok(&mut f, MOD, Command::RemoveSpeaker { speaker: SpeakerId(2) });
    assert_invalid_state(err(&mut f, MOD, Command::SkipSpeaker {}), "nobody is waiting");
}

#[test]
fn a_named_hall_person_counts_as_having_spoken_by_name() {
    let mut f = live();
    ok(&mut f, MOD, Command::SetQueuePolicy { policy: QueuePolicy::NotSpokenFirst });
    ok(&mut f, MOD, Command::AddSpeaker { name: "Mrs Kim".into() });
    ok(&mut f, MOD, Command::CallNext {});
    ok(&mut f, MOD, Command::AddSpeaker { name: "mrs  kim".into() });
    ok(&mut f, MOD, Command::AddSpeaker { name: "Mr Lee".into() });
    let ids: Vec<u32> = f.speakers.order().iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [3, 2]);
}

// --- agenda timers ----------------------------------------------------------

#[test]
fn activating_an_item_starts_its_time_box_countdown() {
    let mut f = live();
    ok(&mut f, MOD, add_timed_item("Parks", 300));
    ok(&mut f, MOD, add_item("Open floor"));
    assert_eq!(
        ok_at(&mut f, MOD, Command::ActivateItem { item: item(1) }, 7_000),
        Event::ItemActivated { item: item(1), deadline_ms: Some(307_000) }
    );
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: Some(307_000), remaining_ms: 0 }));
    // Overrun is a deadline in the past; extending then counts from now.
    assert_eq!(
        ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 60 }, 400_000),
        Event::TimerStarted { item: item(1), deadline_ms: 460_000 }
    );
    // No time box: no countdown.
    assert_eq!(
        ok_at(&mut f, MOD, Command::ActivateItem { item: item(2) }, 500_000),
        Event::ItemActivated { item: item(2), deadline_ms: None }
    );
    assert_eq!(timer(&f, 2), None);
    assert_eq!(timer(&f, 1), Some(Timer { deadline_ms: None, remaining_ms: 0 }), "the previous item's timer stops");
}

#[test]
fn activation_resumes_time_given_while_pending_and_keeps_a_running_timer() {
    let mut f = live();
    ok(&mut f, MOD, add_item("Extended"));
    ok(&mut f, MOD, add_timed_item("Started early", 60));
    ok_at(&mut f, MOD, Command::ExtendTimer { item: item(1), secs: 90 }, 0);
    assert_eq!(
        ok_at(&mut f, MOD, Command::ActivateItem { item: item(1) }, 1_000),
        Event::ItemActivated { item: item(1), deadline_ms: Some(91_000) }
    );
    ok_at(&mut f, MOD, Command::StartTimer { item: item(2) }, 2_000);
    assert_eq!(
        ok_at(&mut f, MOD, Command::ActivateItem { item: item(2) }, 30_000),
        Event::ItemActivated { item: item(2), deadline_ms: None }
    );
    assert_eq!(timer(&f, 2), Some(Timer { deadline_ms: Some(62_000), remaining_ms: 0 }));
}

#[test]
fn an_activation_logged_without_a_deadline_starts_no_timer() {
    // Logs written before activation started timers replay as they were.
    let old: Event = serde_json::from_str(r#"{"type":"item_activated","item":1}"#).expect("an old event");
    let mut f = live();
    ok(&mut f, MOD, add_timed_item("Parks", 300));
    f.apply(&old);
    assert_eq!(f.active_item, Some(item(1)));
    assert_eq!(timer(&f, 1), None);
}

// --- temperature check -------------------------------------------------------

#[test]
fn a_signal_replaces_the_participants_earlier_signal_on_the_current_item() {
    let mut f = live();
    let me = join_on(&mut f, Channel::Hall, None);
    let signal = |color| Command::Signal { color };
    assert_invalid_state(err(&mut f, Actor::Participant(me), signal(SignalColor::Red)), "no current agenda item");
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    assert_eq!(
        ok(&mut f, Actor::Participant(me), signal(SignalColor::Red)),
        Event::SignalSet { item: item(1), participant: me, color: SignalColor::Red }
    );
    ok(&mut f, Actor::Participant(me), signal(SignalColor::Green));
    assert_eq!(f.signals[&item(1)], BTreeMap::from([(me, SignalColor::Green)]));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, Actor::Participant(me), signal(SignalColor::Yellow));
    assert_eq!(f.signals[&item(1)][&me], SignalColor::Green, "each item keeps its own signals");
    assert_eq!(f.signals[&item(2)][&me], SignalColor::Yellow);
    assert_forbidden(err(&mut f, MOD, signal(SignalColor::Green)), "`signal` is for participants");
    assert_forbidden(err(&mut f, Actor::Display, signal(SignalColor::Green)), "read-only");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Who sends a command: 0 a display, 1 the moderator whatever the
    /// command, otherwise the natural sender (a participant for submit_idea
    /// and cast_ballot, the moderator for the rest).
    fn actor_for(selector: u8, command: &Command) -> Actor {
        match (selector, command) {
            (0, _) => Actor::Display,
            (1, _) => Actor::Moderator,
            (
                n,
                Command::SubmitIdea { .. }
                | Command::CastBallot { .. }
                | Command::RaiseHand {}
                | Command::LowerHand {}
                | Command::Signal { .. },
            ) => Actor::Participant(ParticipantId(u32::from(n % 3) + 1)),
            _ => Actor::Moderator,
        }
    }

    fn arb_method() -> impl Strategy<Value = PollMethod> {
        prop_oneof![
            Just(yes_no()),
            (0u32..3).prop_map(approval),
            (0u32..4, 0u32..3).prop_map(|(budget, max_per_option)| PollMethod::Dots { budget, max_per_option }),
            Just(PollMethod::Score {}),
            prop::option::of(0u32..3).prop_map(|max_ranks| PollMethod::Ranked { max_ranks, tally: RankedTally::Borda }),
        ]
    }

    fn arb_ballot() -> impl Strategy<Value = Ballot> {
        // Mostly small, plausible ballots (the setup poll is an approval poll over 3 options).
        let ids = prop::collection::vec(1u32..5, 0..4);
        prop_oneof![
            2 => prop_oneof![Just(YesNoChoice::Yes), Just(YesNoChoice::No), Just(YesNoChoice::Abstain)]
                .prop_map(|choice| Ballot::YesNo { choice }),
            6 => prop::sample::subsequence(vec![1u32, 2, 3], 1..=2).prop_map(|v| approve(&v)),
            1 => ids.clone().prop_map(|v| approve(&v)),
            1 => prop::collection::vec((1u32..5, 0u32..3), 0..3).prop_map(|v| Ballot::Dots {
                allocations: v
                    .into_iter()
                    .map(|(n, dots)| madang_protocol::Allocation { option: o(n), dots })
                    .collect()
            }),
            1 => prop::collection::vec((1u32..5, 0u8..7), 0..3).prop_map(|v| Ballot::Score {
                scores: v.into_iter().map(|(n, score)| madang_protocol::ScoreEntry { option: o(n), score }).collect()
            }),
            2 => ids.prop_map(|v| rank(&v)),
        ]
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), Just("  x ".to_string()), Just("가나다".to_string()), "[a-c ]{0,5}"]
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        let id = 1u32..5;
        prop_oneof![
            1 => Just(Command::StartForum {}),
            1 => Just(Command::CloseForum {}),
            1 => any::<bool>().prop_map(|enabled| Command::SetPremoderation { enabled }),
            4 => (arb_text(), prop::option::of(0u32..400)).prop_map(|(title, timebox_secs)| Command::AddItem {
                title,
                description: None,
                timebox_secs
            }),
            1 => (id.clone(), prop::option::of(arb_text()), prop::option::of(0u32..400)).prop_map(
                |(n, title, timebox_secs)| Command::EditItem { item: item(n), title, description: None, timebox_secs }
            ),
            1 => (id.clone(), 0u32..5).prop_map(|(n, position)| Command::MoveItem { item: item(n), position }),
            1 => id.clone().prop_map(|n| Command::RemoveItem { item: item(n) }),
            3 => id.clone().prop_map(|n| Command::ActivateItem { item: item(n) }),
            1 => id.clone().prop_map(|n| Command::CompleteItem { item: item(n) }),
            2 => id.clone().prop_map(|n| Command::StartTimer { item: item(n) }),
            2 => id.clone().prop_map(|n| Command::PauseTimer { item: item(n) }),
            2 => (id.clone(), 0u32..120).prop_map(|(n, secs)| Command::ExtendTimer { item: item(n), secs }),
            5 => arb_text().prop_map(|text| Command::SubmitIdea { text }),
            2 => id.clone().prop_map(|n| Command::ApproveIdea { idea: idea(n) }),
            2 => id.clone().prop_map(|n| Command::HideIdea { idea: idea(n) }),
            2 => (id.clone(), id.clone()).prop_map(|(a, b)| Command::MergeIdea { idea: idea(a), into: idea(b) }),
            3 => (prop::option::of(id.clone()), arb_method(), prop_oneof![
                Just(PollOptionsSpec::Ideas {}),
                Just(PollOptionsSpec::None {}),
                Just(fixed(&["A", "B", "C"]))
            ], any::<bool>())
                .prop_map(|(item, method, options, hidden)| Command::CreatePoll {
                    item: item.map(ItemId),
                    title: "Poll".into(),
                    method,
                    options,
                    results: if hidden { ResultsVisibility::Hidden } else { ResultsVisibility::Live },
                }),
            2 => id.clone().prop_map(|n| Command::OpenPoll { poll: poll(n) }),
            1 => id.clone().prop_map(|n| Command::ClosePoll { poll: poll(n) }),
            1 => id.clone().prop_map(|n| Command::RevealResults { poll: poll(n) }),
            6 => (prop_oneof![3 => Just(1u32), 1 => 1u32..5], arb_ballot()).prop_map(|(n, ballot)| Command::CastBallot { poll: poll(n), ballot }),
            2 => (1u32..3, -2i64..6, prop::collection::vec((1u32..5, -1i64..4), 0..4)).prop_map(|(n, people, counts)| {
                Command::EnterHallCount {
                    poll: poll(n),
                    counts: HallCounts::Approval {
                        people,
                        counts: counts.into_iter().map(|(option, count)| HallOptionCount { option: o(option), count }).collect(),
                    },
                }
            }),
            1 => (-5i64..20).prop_map(|count| Command::SetHallHeadcount { count }),
            3 => Just(Command::RaiseHand {}),
            1 => Just(Command::LowerHand {}),
            1 => arb_text().prop_map(|name| Command::AddSpeaker { name }),
            2 => Just(Command::CallNext {}),
            1 => Just(Command::SkipSpeaker {}),
            1 => (1u32..5).prop_map(|n| Command::RemoveSpeaker { speaker: SpeakerId(n) }),
            1 => (1u32..5, 0u32..4).prop_map(|(n, position)| Command::MoveSpeaker { speaker: SpeakerId(n), position }),
            1 => prop_oneof![Just(QueuePolicy::Fifo), Just(QueuePolicy::Alternate), Just(QueuePolicy::NotSpokenFirst)]
                .prop_map(|policy| Command::SetQueuePolicy { policy }),
            1 => prop::option::of(0u32..100).prop_map(|secs| Command::SetSpeakingLimit { secs }),
            1 => Just(Command::EndSpeech {}),
            2 => prop_oneof![Just(SignalColor::Green), Just(SignalColor::Yellow), Just(SignalColor::Red)]
                .prop_map(|color| Command::Signal { color }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Deciding never changes the forum, accepted events replay to the same
        /// forum, and a refused command is refused for a reason.
        #[test]
        fn prop_replay_of_decided_events_rebuilds_the_forum(
            setup in any::<bool>(),
            steps in prop::collection::vec((0u8..20, arb_command(), 0u64..10_000), 1..120)
        ) {
            let mut f = forum();
            let mut events = vec![created()];
            for n in 1..=3 {
                let event = f.decide_join(Channel::Remote, None, format!("t{n}")).expect("join");
                f.apply(&event);
                events.push(event);
            }
            if setup {
                // Start from a live forum with an open poll over three ideas, so
                // that ballots, merges and closes are reached often.
                for command in [
                    Command::StartForum {},
                    add_timed_item("One", 60),
                    add_item("Two"),
                    Command::ActivateItem { item: item(1) },
                    submit("A"),
                    submit("B"),
                    submit("C"),
                    create_poll(None, approval(2), PollOptionsSpec::Ideas {}),
                    Command::OpenPoll { poll: poll(1) },
                ] {
                    events.push(ok(&mut f, Actor::Moderator, command));
                }
            }
            let mut now = 0u64;
            for (selector, command, dt) in steps {
                now += dt;
                let actor = actor_for(selector, &command);
                let before = f.clone();
                match f.decide(actor, &command, now) {
                    Ok(event) => {
                        prop_assert_eq!(&f, &before);
                        f.apply(&event);
                        events.push(event);
                    }
                    Err(_) => prop_assert_eq!(&f, &before),
                }
                // Invariants that every accepted sequence keeps.
                prop_assert_eq!(f.agenda.len(), f.items.len());
                if let Some(active) = f.active_item {
                    prop_assert_eq!(f.items[&active].state, ItemState::Active);
                }
                prop_assert!(f.items.values().filter(|i| i.state == ItemState::Active).count() <= 1);
                prop_assert!(f.polls.values().all(|p| (p.status == PollStatus::Closed) == p.outcome.is_some()));
                prop_assert!(f.ideas.values().all(|i| (i.status == IdeaStatus::Merged) == i.merged_into.is_some()));
                for p in f.polls.values() {
                    let hand = p.hall_count.as_ref().map_or(0, crate::domain::hall::people_counted) as usize;
                    prop_assert_eq!(f.tally(p).ballots as usize, p.ballots.len() + hand);
                }
                // Nobody waits twice, and the floor holder does not wait.
                let waiting: Vec<_> = f.speakers.waiting.iter().filter_map(|s| s.participant).collect();
                let distinct: std::collections::BTreeSet<_> = waiting.iter().collect();
                prop_assert_eq!(waiting.len(), distinct.len());
                if let Some(current) = f.speakers.current.as_ref().and_then(|c| c.speaker.participant) {
                    prop_assert!(!waiting.contains(&current));
                }
                prop_assert_eq!(f.speakers.order().len(), f.speakers.waiting.len());
            }
            let one = replay(&events);
            let two = replay(&events);
            prop_assert_eq!(&one, &two);
            prop_assert_eq!(&one, &f);
        }
    }
}

// ---------------------------------------------------------------------------
// Live pairwise counts: kept ballot by ballot, equal to a recount
// ---------------------------------------------------------------------------

mod live_pairwise {
    use super::*;
    use proptest::prelude::*;

    /// A step of a ranked poll's life: a participant (re)casts a ranking, or the
    /// moderator merges one idea into another.
    #[derive(Debug, Clone)]
    enum Step {
        Cast { voter: usize, ranking: Vec<u32> },
        Merge { idea: u32, into: u32 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0usize..6, Just((1u32..=5).collect::<Vec<_>>()).prop_shuffle(), 1usize..=5)
                .prop_map(|(voter, ranking, len)| Step::Cast { voter, ranking: ranking[..len].to_vec() }),
            1 => (1u32..=5, 1u32..=5).prop_map(|(idea, into)| Step::Merge { idea, into }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// A live incremental tally equals a batch recount, after every step
        /// (replacements and merges included), and survives a snapshot.
        #[test]
        fn live_tally_equals_a_batch_recount(steps in prop::collection::vec(step(), 1..40)) {
            let method = PollMethod::Ranked { max_ranks: Some(5), tally: RankedTally::Schulze };
            let mut f = poll_over_ideas(5, method);
            let voters: Vec<ParticipantId> = (0..6)
                .map(|n| {
                    let channel = if n % 2 == 0 { Channel::Remote } else { Channel::Hall };
                    let event = f.decide_join(channel, None, format!("t{n}")).expect("join");
                    f.apply(&event);
                    match event { Event::ParticipantJoined { participant, .. } => participant, _ => unreachable!() }
                })
                .collect();
            let mut accepted = 0;
            let total = steps.len();
            let first_is_merge = matches!(steps.first(), Some(Step::Merge { .. }));
            for step in steps {
                let result = match step {
                    Step::Cast { voter, ranking } => {
                        let ballot = Ballot::Ranked { ranking: ranking.into_iter().map(OptionId).collect() };
                        run(&mut f, Actor::Participant(voters[voter]), Command::CastBallot { poll: poll(1), ballot }, 1)
                    }
                    Step::Merge { idea: a, into: b } => {
                        run(&mut f, MOD, Command::MergeIdea { idea: idea(a), into: idea(b) }, 1)
                    }
                };
                // Refused steps (a merge into a merged idea, say) change nothing.
                accepted += usize::from(result.is_ok());
                let mut recounted = f.clone();
                recounted.rebuild_derived();
                prop_assert_eq!(&f.polls[&poll(1)].live, &recounted.polls[&poll(1)].live);
                let mut batch = f.clone();
                batch.polls.get_mut(&poll(1)).unwrap().live = None;
                prop_assert_eq!(f.tally(&f.polls[&poll(1)]), batch.tally(&batch.polls[&poll(1)]));
            }
            // Ballots before any merge are always valid, so the live counts were exercised.
            prop_assert!(accepted > 0 || first_is_merge, "none of {total} steps was accepted");
        }
    }

    proptest! {
        /// Replacing a ballot counts exactly as casting only the new one.
        #[test]
        fn replacing_a_ballot_equals_casting_only_the_new_one(
            first in Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(),
            second in Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(),
            others in prop::collection::vec(Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(), 0..4),
        ) {
            let method = PollMethod::Ranked { max_ranks: None, tally: RankedTally::InstantRunoff };
            let cast_all = |replace: bool| {
                let mut f = poll_over_ideas(4, method.clone());
                let voters: Vec<ParticipantId> = (0..=others.len()).map(|_| join(&mut f)).collect();
                let ballot = |r: &[u32]| Ballot::Ranked { ranking: r.iter().copied().map(OptionId).collect() };
                if replace {
                    ok(&mut f, Actor::Participant(voters[0]), Command::CastBallot { poll: poll(1), ballot: ballot(&first) });
                }
                ok(&mut f, Actor::Participant(voters[0]), Command::CastBallot { poll: poll(1), ballot: ballot(&second) });
                for (voter, r) in voters[1..].iter().zip(&others) {
                    ok(&mut f, Actor::Participant(*voter), Command::CastBallot { poll: poll(1), ballot: ballot(r) });
                }
                f.tally(&f.polls[&poll(1)])
            };
            prop_assert_eq!(cast_all(true), cast_all(false));
        }
    }
}

// ---------------------------------------------------------------------------
// Pairwise polls
// ---------------------------------------------------------------------------

fn next_pair(poll_id: u32) -> Command {
    Command::NextPair { poll: poll(poll_id) }
}

fn compare(poll_id: u32, winner: u32, loser: u32) -> Command {
    Command::CastComparison { poll: poll(poll_id), winner: o(winner), loser: o(loser), skip: false }
}

/// A live forum with item 1 active, ideas 1..=4 approved, and an open
/// pairwise poll 1 over them (options 1..=4 are ideas 1..=4).
fn open_pairwise_poll() -> Forum {
    let mut f = live_with_item();
    for text in ["A", "B", "C", "D"] {
        ok(&mut f, MOD, submit(text));
    }
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, PollOptionsSpec::Ideas {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

fn offered(event: Event) -> ([OptionId; 2], u32) {
    match event {
        Event::PairOffered { pair, pairs_left, .. } => (pair, pairs_left),
        other => panic!("expected PairOffered, got {other:?}"),
    }
}

#[track_caller]
fn assert_rule(e: DomainError, rule: &str) {
    match e {
        DomainError::Ballot(BallotError { rule: got, .. }) => assert_eq!(got, rule),
        other => panic!("expected ballot rule {rule}, got {other:?}"),
    }
}

fn pairwise_result(f: &Forum) -> (u32, TallyResult) {
    let tally = f.tally(&f.polls[&poll(1)]);
    (tally.ballots, tally.result)
}

#[test]
fn pairwise_poll_needs_two_options_and_takes_fixed_labels() {
    let mut f = live_with_item();
    assert_invalid(err(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A"]))), "at least 2 options");
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A", "B"])));
}

#[test]
fn next_pair_offers_each_pair_once_then_refuses() {
    let mut f = open_pairwise_poll();
    let me = join(&mut f);
    let mut seen = std::collections::BTreeSet::new();
    for left in (1..=6).rev() {
        let (pair, n) = offered(ok(&mut f, Actor::Participant(me), next_pair(1)));
        assert_eq!(n, left);
        // Asking again before answering gives the same pair.
        assert_eq!(offered(ok(&mut f, Actor::Participant(me), next_pair(1))).0, pair);
        assert!(seen.insert((pair[0].min(pair[1]), pair[0].max(pair[1]))));
        ok(&mut f, Actor::Participant(me), compare(1, pair[0].0, pair[1].0));
    }
    assert_invalid_state(err(&mut f, Actor::Participant(me), next_pair(1)), "every pair");
}

#[test]
fn comparisons_are_tallied_and_a_repeat_replaces_the_earlier_answer() {
    let mut f = open_pairwise_poll();
    let (a, b) = (join(&mut f), join(&mut f));
    ok(&mut f, Actor::Participant(a), compare(1, 2, 1));
    ok(&mut f, Actor::Participant(a), compare(1, 1, 2)); // replaces: 1 over 2
    ok(&mut f, Actor::Participant(b), compare(1, 1, 3));
    ok(&mut f, Actor::Participant(b), Command::CastComparison { poll: poll(1), winner: o(3), loser: o(4), skip: true });
    let (people, result) = pairwise_result(&f);
    assert_eq!(people, 2);
    let TallyResult::Pairwise { comparisons, skipped, stats, wins, ranking } = result else { panic!("not pairwise") };
    assert_eq!((comparisons, skipped), (2, 1));
    assert_eq!(wins[0], vec![0, 1, 1, 0]);
    assert_eq!((stats[0].wins, stats[0].losses, stats[1].losses, stats[2].losses), (2, 0, 1, 1));
    // 1 first; 2 and 3 each lost once to 1: tied; 4 untouched, above them.
    assert_eq!(ranking, tiers(&[&[1], &[4], &[2, 3]]));
}

#[test]
fn comparison_rules() {
    let mut f = open_pairwise_poll();
    let me = Actor::Participant(join(&mut f));
    assert_rule(err(&mut f, me, compare(1, 1, 9)), "option.unknown");
    assert_rule(err(&mut f, me, compare(1, 2, 2)), "pairwise.same_option");
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(4), into: idea(3) });
    assert_rule(err(&mut f, me, compare(1, 4, 1)), "pairwise.merged");
    assert_rule(err(&mut f, me, compare(1, 1, 4)), "pairwise.merged");
    ok(&mut f, me, compare(1, 3, 1));
    // A pairwise poll takes no ballots, and other polls take no comparisons.
    assert_rule(err(&mut f, me, cast(1, rank(&[1, 2]))), "ballot.kind");
    ok(&mut f, MOD, create_poll(None, approval(1), fixed(&["X", "Y"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(2) });
    assert_invalid(err(&mut f, me, compare(2, 1, 2)), "not a pairwise poll");
    assert_invalid(err(&mut f, me, next_pair(2)), "not a pairwise poll");
    assert_not_found(err(&mut f, me, next_pair(9)), "poll", 9);
}

#[test]
fn after_a_merge_pairs_use_canonical_options_only() {
    let mut f = open_pairwise_poll();
    ok(&mut f, MOD, Command::MergeIdea { idea: idea(4), into: idea(3) });
    let me = Actor::Participant(join(&mut f));
    for left in (1..=3).rev() {
        let (pair, n) = offered(ok(&mut f, me, next_pair(1)));
        assert_eq!(n, left);
        assert!(!pair.contains(&o(4)), "offered merged option: {pair:?}");
        ok(&mut f, me, compare(1, pair[0].0, pair[1].0));
    }
    let TallyResult::Pairwise { stats, .. } = pairwise_result(&f).1 else { panic!("not pairwise") };
    assert_eq!(stats.iter().map(|s| s.option).collect::<Vec<_>>(), vec![o(1), o(2), o(3)]);
}

#[test]
fn pairwise_commands_need_a_participant_an_open_poll_and_a_live_forum() {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, PollMethod::Pairwise {}, fixed(&["A", "B", "C"])));
    let me = Actor::Participant(join(&mut f));
    assert_invalid_state(err(&mut f, me, next_pair(1)), "not open");
    assert_invalid_state(err(&mut f, me, compare(1, 1, 2)), "not open");
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    assert_forbidden(err(&mut f, MOD, next_pair(1)), "moderators do not compare");
    assert_forbidden(err(&mut f, MOD, compare(1, 1, 2)), "moderators do not compare");
    assert_forbidden(err(&mut f, Actor::Display, compare(1, 1, 2)), "read-only");
    let hall = HallCounts::Approval { people: 1, counts: vec![] };
    assert_invalid_state(err(&mut f, MOD, Command::EnterHallCount { poll: poll(1), counts: hall }), "no hall count");
    ok(&mut f, me, compare(1, 1, 2));
    ok(&mut f, MOD, Command::ClosePoll { poll: poll(1) });
    assert_invalid_state(err(&mut f, me, compare(1, 1, 3)), "not open");
    assert_invalid_state(err(&mut f, me, next_pair(1)), "not open");
    let outcome = f.polls[&poll(1)].outcome.clone().expect("an outcome");
    assert_eq!(outcome.tally.result.winners(), &[o(1)]);
    ok(&mut f, MOD, Command::CloseForum {});
    assert_invalid_state(err(&mut f, me, next_pair(1)), "closed");
}

#[test]
fn pairwise_tally_splits_by_channel() {
    let mut f = open_pairwise_poll();
    let remote = Actor::Participant(join(&mut f));
    let event = f.decide_join(Channel::Hall, None, "hall-token".into()).unwrap();
    f.apply(&event);
    let Event::ParticipantJoined { participant: hall, .. } = event else { unreachable!() };
    ok(&mut f, remote, compare(1, 1, 2));
    ok(&mut f, Actor::Participant(hall), compare(1, 2, 1));
    let tally = f.tally(&f.polls[&poll(1)]);
    let by = tally.by_channel.expect("by channel");
    assert_eq!((tally.ballots, by.remote.ballots, by.hall.ballots, by.hall_count.ballots), (2, 1, 1, 0));
    assert_eq!(by.remote.result.winners(), &[o(1)]);
    assert_eq!(by.hall.result.winners(), &[o(2)]);
    // Merged: 1 and 2 won once each against the other, so both stay at
    // strength 1, level with the untouched 3 and 4: one tier.
    assert_eq!(tally.result.winners(), &[o(1), o(2), o(3), o(4)]);
}

#[test]
fn replaying_pairwise_events_gives_the_same_tally_bytes() {
    let mut f = open_pairwise_poll();
    let mut log = Vec::new();
    let people: Vec<Actor> = (0..3).map(|_| Actor::Participant(join(&mut f))).collect();
    for round in 0..4 {
        for &who in &people {
            let e = ok(&mut f, who, next_pair(1));
            log.push(e.clone());
            let (pair, _) = offered(e);
            let (w, l) = if pair[0] < pair[1] { (pair[0], pair[1]) } else { (pair[1], pair[0]) };
            let skip = round == 3;
            log.push(ok(&mut f, who, Command::CastComparison { poll: poll(1), winner: w, loser: l, skip }));
        }
    }
    let mut g = open_pairwise_poll();
    for _ in 0..3 {
        join(&mut g);
    }
    for e in &log {
        g.apply(e);
    }
    let a = serde_json::to_string(&f.tally(&f.polls[&poll(1)])).unwrap();
    let b = serde_json::to_string(&g.tally(&g.polls[&poll(1)])).unwrap();
    assert_eq!(a, b);
    // Everyone prefers lower ids: the order is 1, 2, 3, 4.
    let TallyResult::Pairwise { ranking, skipped, comparisons, .. } = pairwise_result(&f).1 else { panic!() };
    assert_eq!((comparisons, skipped), (9, 3));
    assert_eq!(ranking, tiers(&[&[1], &[2], &[3], &[4]]));
}
