//! The speaker queue: the calling order of each policy, and the commands that change it.

use madang_protocol::{Channel, Command, ParticipantId, QueuePolicy, SpeakerId};

use crate::domain::test_support::*;
use crate::domain::*;

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

#[test]
fn the_speaker_queue_holds_at_most_its_cap_from_hands_and_names() {
    let mut f = live();
    let limits = Limits { speaker_queue: 2, ..Limits::default() };
    let (a, b) = (join(&mut f), join(&mut f));
    ok_with(&mut f, &limits, Actor::Participant(a), Command::RaiseHand {});
    ok_with(&mut f, &limits, MOD, Command::AddSpeaker { name: "Mrs Kim".into() });
    assert_limit(err_with(&mut f, &limits, Actor::Participant(b), Command::RaiseHand {}), limits::rule::SPEAKER_QUEUE);
    assert_limit(
        err_with(&mut f, &limits, MOD, Command::AddSpeaker { name: "Mr Lee".into() }),
        limits::rule::SPEAKER_QUEUE,
    );
}
