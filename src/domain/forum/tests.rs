//! Determinism: replaying the same events gives the same forum, whatever the commands.

use madang_protocol::{
    Ballot, Channel, Command, HallCounts, HallOptionCount, IdeaStatus, ItemId, ItemState, ParticipantId, PollId,
    PollMethod, PollOptionsSpec, PollStatus, QueuePolicy, RankedTally, ResultsVisibility, SignalColor, SpeakerId,
    YesNoChoice,
};

use crate::domain::test_support::*;
use crate::domain::*;

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
        let event = f.decide_join(Channel::Hall, None, None, format!("t{n}"), &Limits::default()).expect("join");
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
        ok(&mut again, MOD, create_poll(Some(item(2)), simple_yes_no(), PollOptionsSpec::None {})),
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
    let joined = g.decide_join(Channel::Remote, None, None, "token-1".into(), &Limits::default()).expect("join");
    g.apply(&joined);
    events.push(joined);
    assert_eq!(g, f);
    events.push(ok(&mut g, Actor::Participant(me), cast(1, approve(&[1, 3]))));
    let json: Vec<String> = events.iter().map(|e| serde_json::to_string(e).expect("serialize")).collect();
    let back: Vec<Event> = json.iter().map(|s| serde_json::from_str(s).expect("deserialize")).collect();
    assert_eq!(back, events);
    assert_eq!(replay(&back), g);
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
            Just(simple_yes_no()),
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
                .prop_map(|(item, method, options, hidden)| Command::CreatePoll { ballots: Default::default(),
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
                let event = f.decide_join(Channel::Remote, None, None, format!("t{n}"), &Limits::default()).expect("join");
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
                match f.decide(actor, &command, now, &Limits::default()) {
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
