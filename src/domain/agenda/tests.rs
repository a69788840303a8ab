//! The agenda, item timers, and the countdown an item gets when it becomes current.

use madang_protocol::{Command, ItemId, ItemState};

use crate::domain::test_support::*;
use crate::domain::*;

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
fn agenda_holds_at_most_the_agenda_items_cap() {
    let mut f = forum();
    let cap = Limits::default().agenda_items;
    assert_eq!(cap, 100);
    for n in 1..=cap {
        ok(&mut f, MOD, add_item(&format!("Item {n}")));
    }
    assert_eq!(f.agenda.len(), cap);
    assert_limit(err(&mut f, MOD, add_item("One too many")), limits::rule::AGENDA_ITEMS);
    // Removing one frees a place.
    ok(&mut f, MOD, Command::RemoveItem { item: item(7) });
    assert_eq!(
        ok(&mut f, MOD, add_item("Again")),
        Event::ItemAdded { item: item(cap as u32 + 1), title: "Again".into(), description: None, timebox_secs: None }
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
