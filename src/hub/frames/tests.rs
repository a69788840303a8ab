//! The largest frame a forum can cause, with every cap of `Limits` reached
//! and every text at its longest in the widest characters JSON keeps as they
//! are (four bytes each): it must fit the WebSocket write buffer, or a
//! socket that is sent it would be dropped.

use madang_protocol::{
    Ballot, Channel, Command, HallCounts, OptionId, PaperBallots, ParticipantId, PollId, PollMethod, PollOptionsSpec,
    RankedTally, ResultsVisibility, Role,
};

use super::*;
use crate::domain::{Actor, Event, Forum, Limits};
use crate::hub::journal::{Entry, GENESIS_HASH};

/// Four bytes in UTF-8; JSON keeps it unescaped. `n` characters of it.
fn wide(n: usize) -> String {
    "😀".repeat(n)
}

struct Full {
    forum: Forum,
    last_events: Vec<Event>,
}

fn decide(forum: &mut Forum, actor: Actor, command: Command) -> Event {
    let name = command.name();
    let event = forum
        .decide(actor, &command, 1_000, &Limits::default())
        .unwrap_or_else(|e| panic!("`{name}` was refused: {e}"));
    forum.apply(&event);
    event
}

/// A forum at every cap of the default limits.
fn full_forum() -> Full {
    let limits = Limits::default();
    let created = Event::ForumCreated {
        id: "f".repeat(12),
        title: wide(200),
        language: "ko".into(),
        remote_code: "REMOTE".into(),
        hall_code: "HALL".into(),
        moderator_token_hash: "m".repeat(64),
        display_token_hash: "d".repeat(64),
        eligibility: Default::default(),
        receipt_key: None,
    };
    let mut forum = Forum::from_created(&created).expect("a forum");
    let mut last_events = Vec::new();
    const MOD: Actor = Actor::Moderator;
    decide(&mut forum, MOD, Command::StartForum {});
    for _ in 0..limits.agenda_items {
        let add = Command::AddItem { title: wide(200), description: Some(wide(2000)), timebox_secs: Some(86_400) };
        decide(&mut forum, MOD, add);
    }
    for n in 0..limits.participants {
        let channel = if n % 2 == 0 { Channel::Remote } else { Channel::Hall };
        let join =
            forum.decide_join(channel, Some(&wide(40)), None, format!("{n:064}"), &Limits::default()).expect("join");
        forum.apply(&join);
    }
    // Ideas: every participant's whole allowance, spread over as many items
    // as it takes to put the most options into polls over ideas.
    let per_poll = 100;
    let authors: Vec<ParticipantId> = forum.participants.keys().copied().collect();
    let mut authors = authors.iter().flat_map(|p| std::iter::repeat_n(*p, limits.ideas_per_participant));
    let mut polls = Vec::new();
    for item in forum.agenda.clone() {
        if forum.ideas.len() >= limits.ideas {
            break;
        }
        decide(&mut forum, MOD, Command::ActivateItem { item });
        for _ in 0..per_poll {
            let author = authors.next().expect("enough participants");
            decide(&mut forum, Actor::Participant(author), Command::SubmitIdea { text: wide(500) });
        }
        let options: usize = forum.polls.values().map(|p| p.options.len()).sum();
        if options + per_poll <= limits.poll_options && forum.polls.len() < limits.polls {
            let create = Command::CreatePoll {
                ballots: Default::default(),
                item: Some(item),
                title: wide(200),
                method: PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze },
                options: PollOptionsSpec::Ideas {},
                results: ResultsVisibility::Live,
            };
            decide(&mut forum, MOD, create);
            polls.push(PollId(forum.polls.len() as u32));
        }
    }
    assert_eq!(forum.ideas.len(), limits.ideas);
    // Every poll: a full ranking from a hundred voters, each putting a
    // different option first (so instant-runoff needs every round), and
    // the largest hand count of paper rankings.
    let voters: Vec<ParticipantId> = forum.participants.keys().copied().take(per_poll).collect();
    for &poll in &polls {
        decide(&mut forum, MOD, Command::OpenPoll { poll });
        let options: Vec<OptionId> = forum.polls[&poll].options.iter().map(|o| o.id).collect();
        for (k, voter) in voters.iter().enumerate() {
            let mut ranking = options.clone();
            ranking.rotate_left(k % options.len());
            decide(
                &mut forum,
                Actor::Participant(*voter),
                Command::CastBallot { poll, ballot: Ballot::Ranked { ranking } },
            );
        }
        let ballots = (0..1_000)
            .map(|k| {
                let mut ranking = options.clone();
                ranking.rotate_left(k % options.len());
                PaperBallots { ranking, count: 100 }
            })
            .collect();
        decide(&mut forum, MOD, Command::EnterHallCount { poll, counts: HallCounts::Ranked { ballots } });
        last_events.push(decide(&mut forum, MOD, Command::ClosePoll { poll }));
    }
    // Follow-through at its cap, every text at its longest, all on one poll (the poll view that carries it).
    let decided = polls[0];
    let mut kinds = 0usize;
    while kinds < crate::domain::follow_through::MAX_FOLLOW_THROUGH_ENTRIES {
        let command = match kinds % 3 {
            0 => Command::RecordResponse {
                poll: decided,
                body: wide(200),
                response: madang_protocol::ResponseKind::AdoptedInPart,
                reasons: wide(1_000),
            },
            1 => Command::PlanAction { poll: decided, title: wide(200), target_date: Some("2027-12-31".into()) },
            _ => Command::UpdateAction {
                action: madang_protocol::ActionId(1),
                status: madang_protocol::ActionStatus::InProgress,
                note: Some(wide(1_000)),
            },
        };
        let event = decide(&mut forum, MOD, command);
        if kinds + 1 == crate::domain::follow_through::MAX_FOLLOW_THROUGH_ENTRIES {
            last_events.push(event);
        }
        kinds += 1;
    }
    let first_item = *forum.agenda.last().expect("items");
    let agenda_event = decide(&mut forum, MOD, Command::ExtendTimer { item: first_item, secs: 60 });
    last_events.push(agenda_event);
    let hands: Vec<ParticipantId> = forum.participants.keys().copied().take(limits.speaker_queue).collect();
    let mut last_hand = None;
    for participant in hands {
        last_hand = Some(decide(&mut forum, Actor::Participant(participant), Command::RaiseHand {}));
    }
    last_events.extend(last_hand);
    Full { forum, last_events }
}

#[test]
fn the_largest_frame_of_a_forum_at_every_cap_fits_the_write_buffer() {
    let Full { forum, last_events } = full_forum();
    let head = 1_000_000_000;
    let mut largest = Vec::new();
    for (role, audience) in [(Role::Moderator, Audience::Staff), (Role::Display, Audience::Public)] {
        largest.push((format!("{audience:?} welcome"), welcome(&forum, head, role, audience, None, None).len()));
    }
    for event in last_events {
        let kind = format!("{event:?}").split([' ', '{']).next().unwrap_or_default().to_string();
        let entry = Entry::new(head, u64::MAX, GENESIS_HASH, None, event).expect("an event encodes");
        for audience in [Audience::Staff, Audience::Public] {
            if let Some(frame) = super::event(&forum, &entry, audience) {
                largest.push((format!("{audience:?} {kind} event"), frame.len()));
            }
        }
    }
    largest.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    eprintln!("largest frames: {largest:?}");
    for (what, size) in &largest {
        assert!(*size <= LARGEST_FRAME_BYTES, "{what} is {size} bytes, over the bound of {LARGEST_FRAME_BYTES}");
    }
}
