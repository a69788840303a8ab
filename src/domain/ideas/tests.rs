//! Submitting, approving, hiding and merging ideas.

use madang_protocol::{Command, IdeaId, IdeaStatus};

use crate::domain::test_support::*;
use crate::domain::*;

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

// --- caps --------------------------------------------------------------------

#[test]
fn a_participant_submits_at_most_the_ideas_per_participant_cap() {
    let mut f = live_with_item();
    let limits = Limits { ideas_per_participant: 3, ..Limits::default() };
    let (me, other) = (join(&mut f), join(&mut f));
    for n in 1..=3 {
        ok_with(&mut f, &limits, Actor::Participant(me), submit(&format!("Idea {n}")));
    }
    // Hiding one does not free a place: hidden ideas stay in every staff view.
    ok_with(&mut f, &limits, MOD, Command::HideIdea { idea: idea(1) });
    assert_limit(
        err_with(&mut f, &limits, Actor::Participant(me), submit("Fourth")),
        limits::rule::IDEAS_PER_PARTICIPANT,
    );
    // Others and the moderator are not held to this participant's count.
    ok_with(&mut f, &limits, Actor::Participant(other), submit("Theirs"));
    ok_with(&mut f, &limits, MOD, submit("The moderator's"));
}

#[test]
fn pending_ideas_are_capped_and_approving_frees_a_place() {
    let mut f = live_with_item();
    let limits = Limits { pending_ideas: 2, ..Limits::default() };
    ok_with(&mut f, &limits, MOD, Command::SetPremoderation { enabled: true });
    let (a, b) = (join(&mut f), join(&mut f));
    ok_with(&mut f, &limits, Actor::Participant(a), submit("One"));
    ok_with(&mut f, &limits, Actor::Participant(a), submit("Two"));
    assert_limit(err_with(&mut f, &limits, Actor::Participant(b), submit("Three")), limits::rule::PENDING_IDEAS);
    ok_with(&mut f, &limits, MOD, Command::ApproveIdea { idea: idea(1) });
    ok_with(&mut f, &limits, Actor::Participant(b), submit("Three"));
}

#[test]
fn a_forum_holds_at_most_the_ideas_cap_whoever_submits() {
    let mut f = live_with_item();
    let limits = Limits { ideas: 4, ..Limits::default() };
    let me = join(&mut f);
    for n in 1..=2 {
        ok_with(&mut f, &limits, Actor::Participant(me), submit(&format!("Mine {n}")));
        ok_with(&mut f, &limits, MOD, submit(&format!("Moderator's {n}")));
    }
    assert_limit(err_with(&mut f, &limits, Actor::Participant(me), submit("Five")), limits::rule::IDEAS);
    assert_limit(err_with(&mut f, &limits, MOD, submit("Five")), limits::rule::IDEAS);
}

#[test]
fn the_default_caps_hold_for_ideas() {
    let mut f = live_with_item();
    let me = join(&mut f);
    let cap = Limits::default().ideas_per_participant;
    for n in 0..cap {
        ok(&mut f, Actor::Participant(me), submit(&format!("Idea {n}")));
    }
    assert_limit(err(&mut f, Actor::Participant(me), submit("One too many")), limits::rule::IDEAS_PER_PARTICIPANT);
}
