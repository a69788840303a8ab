//! The record of a whole scripted forum: its chain, its stamps, what each
//! line says, what it never says, and that it equals the checked-in example.

use std::path::PathBuf;

use madang_protocol::{
    ActionId, ActionStatus, Ballot, BallotSecrecy, Channel, Command, Eligibility, HallCounts, HallOptionCount,
    MajorityRule, OptionId, PaperBallots, ParticipantId, PollId, PollMethod, PollOptionsSpec, RankedTally,
    RecordBallot, RecordBody, RecordLine, ResponseKind, ResultsVisibility, YesNoChoice,
};
use sha2::{Digest, Sha256};

use super::fingerprint;
use crate::domain::{Actor, Event, Limits};
use crate::hub::journal::{Entry, GENESIS_HASH, RequestKey};
use crate::hub::state::ForumState;
use crate::store::Record;

const RECEIPT_KEY: &str = "5e1c7a2f0b9d84c36e1f2a7b9c0d4e8f11223344556677889900aabbccddeeff";
const NAMES: [&str; 5] = ["Kim Minji", "Lee Junho", "Park Seoyeon", "Choi Hyun", "Jung Ara"];
const TOKEN_HASH: &str = "token-hash-of-participant-";

/// A forum driven the way the forum task drives it: decide, stamp, chain, apply.
struct Script {
    state: ForumState,
    records: Vec<Record>,
    at_ms: u64,
    people: Vec<ParticipantId>,
    /// Each participant's acked receipts, in order.
    acked: Vec<(ParticipantId, PollId, String)>,
}

impl Script {
    fn new() -> Script {
        Script::created("rec0forum1", "Riverside park: what next?", Eligibility::Open)
    }

    fn created(id: &str, title: &str, eligibility: Eligibility) -> Script {
        let created = Event::ForumCreated {
            id: id.into(),
            title: title.into(),
            language: "en".into(),
            remote_code: "RMT4K9".into(),
            hall_code: "HLL7Q2".into(),
            moderator_token_hash: "moderator-token-hash-secret".into(),
            display_token_hash: "display-token-hash-secret".into(),
            eligibility,
            receipt_key: Some(RECEIPT_KEY.into()),
        };
        let at_ms = 1_790_000_000_000;
        let entry = Entry::new(1, at_ms, GENESIS_HASH, None, created).unwrap();
        let record = entry.record();
        let (state, _) = ForumState::genesis(&record).unwrap();
        Script { state, records: vec![record], at_ms, people: Vec::new(), acked: Vec::new() }
    }

    fn append(&mut self, request: Option<RequestKey>, event: Event) -> Entry {
        self.at_ms += 1_000;
        let event = self.state.stamped(event, self.at_ms);
        let entry = Entry::new(self.state.head + 1, self.at_ms, &self.state.head_hash, request, event).unwrap();
        self.records.push(entry.record());
        self.state.apply_entry(&entry);
        entry
    }

    fn run(&mut self, actor: Actor, command: Command) -> Entry {
        let event = self.state.forum.decide(actor, &command, self.at_ms + 1_000, &Limits::default()).unwrap();
        let entry = self.append(None, event);
        if let (
            Actor::Participant(p),
            Event::BallotCast { poll, receipt, .. } | Event::ComparisonCast { poll, receipt, .. },
        ) = (actor, &entry.event)
        {
            self.acked.push((p, *poll, receipt.clone().expect("a decided ballot carries its receipt")));
        }
        entry
    }

    fn moderator(&mut self, command: Command) -> Entry {
        self.run(Actor::Moderator, command)
    }

    fn join(&mut self, channel: Channel, n: usize) {
        let hash = format!("{TOKEN_HASH}{n}");
        let event = self.state.forum.decide_join(channel, Some(NAMES[n]), None, hash, &Limits::default()).unwrap();
        let Event::ParticipantJoined { participant, .. } = &event else { panic!("a join") };
        self.people.push(*participant);
        self.append(None, event);
    }

    fn join_with_ticket(&mut self, channel: Channel, n: usize, ticket: u32) {
        let hash = format!("{TOKEN_HASH}{n}");
        let event =
            self.state.forum.decide_join(channel, Some(NAMES[n]), Some(ticket), hash, &Limits::default()).unwrap();
        let Event::ParticipantJoined { participant, .. } = &event else { panic!("a join") };
        self.people.push(*participant);
        self.append(None, event);
    }

    fn vote(&mut self, who: usize, poll: u32, ballot: Ballot) {
        self.run(Actor::Participant(self.people[who]), Command::CastBallot { poll: PollId(poll), ballot });
    }

    fn compare(&mut self, who: usize, winner: u32, loser: u32, skip: bool) {
        let command =
            Command::CastComparison { poll: PollId(4), winner: OptionId(winner), loser: OptionId(loser), skip };
        self.run(Actor::Participant(self.people[who]), command);
    }

    fn record(&self) -> Vec<u8> {
        ForumState::record_of(&self.records).expect("the log replays")
    }
}

fn ranked(options: &[u32]) -> Ballot {
    Ballot::Ranked { ranking: options.iter().copied().map(OptionId).collect() }
}

/// A small forum that uses every line type: agenda changes, ideas published,
/// hidden and merged, a headcount, a ranked poll over ideas with a hand count
/// and its correction and a recast, a hidden-results yes/no poll, a single
/// choice poll with a hand count, and a pairwise poll.
fn scripted_forum() -> Script {
    let mut s = Script::new();
    let add = |title: &str| Command::AddItem { title: title.into(), description: None, timebox_secs: Some(900) };
    s.moderator(add("Welcome"));
    s.moderator(add("The park"));
    s.moderator(add("Any other business"));
    s.moderator(Command::EditItem {
        item: madang_protocol::ItemId(2),
        title: None,
        description: Some("What should the riverside park get first?".into()),
        timebox_secs: None,
    });
    s.moderator(Command::MoveItem { item: madang_protocol::ItemId(3), position: 1 });
    s.moderator(Command::RemoveItem { item: madang_protocol::ItemId(3) });
    s.moderator(Command::StartForum {});
    s.moderator(Command::ActivateItem { item: madang_protocol::ItemId(1) });
    for (n, channel) in
        [Channel::Remote, Channel::Remote, Channel::Hall, Channel::Hall, Channel::Remote].into_iter().enumerate()
    {
        s.join(channel, n);
    }
    s.moderator(Command::ActivateItem { item: madang_protocol::ItemId(2) });
    s.moderator(Command::SetPremoderation { enabled: true });
    for (who, text) in [
        (0, "More trees"),
        (2, "A playground"),
        (1, "Benches by the water"),
        (3, "Trees, lots of them"),
        (4, "Ban everyone I dislike"),
    ] {
        s.run(Actor::Participant(s.people[who]), Command::SubmitIdea { text: text.into() });
    }
    s.moderator(Command::SubmitIdea { text: "A public toilet".into() });
    for idea in [1, 2, 3, 4] {
        s.moderator(Command::ApproveIdea { idea: madang_protocol::IdeaId(idea) });
    }
    s.moderator(Command::HideIdea { idea: madang_protocol::IdeaId(5) });
    s.moderator(Command::HideIdea { idea: madang_protocol::IdeaId(3) });
    s.moderator(Command::ApproveIdea { idea: madang_protocol::IdeaId(3) });
    s.moderator(Command::SetHallHeadcount { count: 30 });

    // Poll 1: ranked over the ideas; idea 4 is merged into idea 1 while it is open.
    s.moderator(Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "What first?".into(),
        method: PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze },
        options: PollOptionsSpec::Ideas {},
        results: ResultsVisibility::Live,
    });
    s.moderator(Command::OpenPoll { poll: PollId(1) });
    s.vote(0, 1, ranked(&[1, 2, 3, 4, 5]));
    s.vote(1, 1, ranked(&[3, 1, 2, 4, 5]));
    s.vote(2, 1, ranked(&[2, 3, 1, 4, 5]));
    s.vote(0, 1, ranked(&[5, 1, 2, 3, 4])); // a recast: only this one is published
    s.moderator(Command::MergeIdea { idea: madang_protocol::IdeaId(4), into: madang_protocol::IdeaId(1) });
    let papers = |count| HallCounts::Ranked {
        ballots: vec![PaperBallots { ranking: [2, 1, 3, 5].map(OptionId).to_vec(), count }],
    };
    s.moderator(Command::EnterHallCount { poll: PollId(1), counts: papers(12) });
    s.moderator(Command::EnterHallCount { poll: PollId(1), counts: papers(10) }); // the correction
    s.moderator(Command::ClosePoll { poll: PollId(1) });

    // Poll 2: yes/no with hidden results: its ballots are published at close all the same.
    s.moderator(Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Close the road on Sundays?".into(),
        method: PollMethod::YesNo { rule: MajorityRule::Simple },
        options: PollOptionsSpec::None {},
        results: ResultsVisibility::Hidden,
    });
    s.moderator(Command::OpenPoll { poll: PollId(2) });
    for (who, choice) in [(0, YesNoChoice::Yes), (1, YesNoChoice::No), (3, YesNoChoice::Yes), (4, YesNoChoice::Abstain)]
    {
        s.vote(who, 2, Ballot::YesNo { choice });
    }
    s.moderator(Command::EnterHallCount { poll: PollId(2), counts: HallCounts::YesNo { yes: 9, no: 4, abstain: 1 } });
    s.moderator(Command::ClosePoll { poll: PollId(2) });

    // Poll 3: single choice with a hand count. Poll 4: pairwise.
    s.moderator(Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Opening hours".into(),
        method: PollMethod::SingleChoice {},
        options: PollOptionsSpec::Fixed { labels: vec!["Dawn to dusk".into(), "Always open".into()] },
        results: ResultsVisibility::Live,
    });
    s.moderator(Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Compare the ideas".into(),
        method: PollMethod::Pairwise {},
        options: PollOptionsSpec::Fixed { labels: vec!["Trees".into(), "Playground".into(), "Benches".into()] },
        results: ResultsVisibility::Live,
    });
    s.moderator(Command::OpenPoll { poll: PollId(3) });
    s.moderator(Command::OpenPoll { poll: PollId(4) });
    s.vote(2, 3, Ballot::SingleChoice { option: OptionId(2) });
    s.vote(4, 3, Ballot::SingleChoice { option: OptionId(1) });
    let hand =
        vec![HallOptionCount { option: OptionId(1), count: 7 }, HallOptionCount { option: OptionId(2), count: 5 }];
    s.moderator(Command::EnterHallCount { poll: PollId(3), counts: HallCounts::SingleChoice { counts: hand } });
    s.compare(0, 1, 2, false);
    s.compare(1, 3, 1, false);
    s.compare(0, 3, 2, true);
    s.compare(0, 2, 1, false); // replaces participant 0's first answer
    s.moderator(Command::ClosePoll { poll: PollId(3) });
    s.moderator(Command::ClosePoll { poll: PollId(4) });
    s.moderator(Command::CompleteItem { item: madang_protocol::ItemId(2) });
    s.moderator(Command::CloseForum {});
    s
}

/// A committee's forum: ticketed, a named vote (one ticket revoked while it
/// is open), and the follow-through after the forum closed.
fn committee_forum() -> Script {
    let mut s = Script::created("rec0forum2", "Budget committee: the final vote", Eligibility::Open);
    s.moderator(Command::SetEligibility { eligibility: Eligibility::Ticketed });
    s.moderator(Command::AddItem { title: "Budget 2027".into(), description: None, timebox_secs: None });
    s.moderator(Command::IssueTickets { channel: Channel::Hall, count: 3 });
    s.moderator(Command::IssueTickets { channel: Channel::Remote, count: 1 });
    s.moderator(Command::StartForum {});
    s.moderator(Command::ActivateItem { item: madang_protocol::ItemId(1) });
    for (n, (channel, ticket)) in [(Channel::Hall, 1), (Channel::Hall, 2), (Channel::Remote, 4)].into_iter().enumerate()
    {
        s.join_with_ticket(channel, n, ticket);
    }
    s.moderator(Command::CreatePoll {
        item: None,
        title: "Adopt the 2027 park budget?".into(),
        method: PollMethod::YesNo { rule: MajorityRule::Simple },
        options: PollOptionsSpec::None {},
        results: ResultsVisibility::Live,
        ballots: BallotSecrecy::Named,
    });
    s.moderator(Command::OpenPoll { poll: PollId(1) });
    s.vote(0, 1, Ballot::YesNo { choice: YesNoChoice::Yes });
    s.vote(1, 1, Ballot::YesNo { choice: YesNoChoice::No });
    s.vote(2, 1, Ballot::YesNo { choice: YesNoChoice::Yes });
    // Ticket 2 was lost: its holder's open ballot is withdrawn.
    s.moderator(Command::RevokeTicket { ticket: 2 });
    s.moderator(Command::ClosePoll { poll: PollId(1) });
    s.moderator(Command::CloseForum {});
    s.moderator(Command::RecordResponse {
        poll: PollId(1),
        body: "Parks and Green Spaces Department".into(),
        response: ResponseKind::Adopted,
        reasons: "Adopted as voted; the works are tendered this spring.".into(),
    });
    s.moderator(Command::PlanAction {
        poll: PollId(1),
        title: "Tender the riverside works".into(),
        target_date: Some("2027-03-31".into()),
    });
    s.moderator(Command::UpdateAction { action: ActionId(1), status: ActionStatus::InProgress, note: None });
    s.moderator(Command::UpdateAction {
        action: ActionId(1),
        status: ActionStatus::Done,
        note: Some("Contract signed with the lowest bidder.".into()),
    });
    s
}

fn lines(record: &[u8]) -> Vec<&[u8]> {
    assert_eq!(record.last(), Some(&b'\n'), "every line ends with a newline");
    record[..record.len() - 1].split(|b| *b == b'\n').collect()
}

fn parse(line: &[u8]) -> RecordLine {
    serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)))
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn the_chain_runs_over_the_bytes_of_each_line() {
    let s = scripted_forum();
    let record = s.record();
    let lines = lines(&record);
    let mut prev = "0".repeat(64);
    for (k, line) in lines.iter().enumerate() {
        let parsed = parse(line);
        assert_eq!(parsed.n, k as u64 + 1);
        assert_eq!(parsed.prev, prev, "line {}", k + 1);
        // Serializing the parsed line again gives the same bytes: the format is stable.
        assert_eq!(serde_json::to_vec(&parsed).unwrap(), *line);
        prev = sha(line);
    }
    assert_eq!((s.state.record.n, s.state.record.head.as_str()), (lines.len() as u64, prev.as_str()));
    // A changed byte anywhere breaks the next link.
    let k = lines.iter().position(|l| String::from_utf8_lossy(l).contains("The park")).unwrap();
    let tampered = String::from_utf8(lines[k].to_vec()).unwrap().replace("The park", "The car park");
    assert_ne!(sha(tampered.as_bytes()), parse(lines[k + 1]).prev);
}

#[test]
fn every_close_is_stamped_with_the_hash_of_its_ballots_line() {
    let s = scripted_forum();
    let record = s.record();
    let lines = lines(&record);
    let mut closes = 0;
    for (k, line) in lines.iter().enumerate() {
        if let RecordBody::PollOutcome { poll, outcome } = parse(line).body {
            let stamp = outcome.record.clone().expect("a stamp");
            assert_eq!(stamp.head, sha(lines[k - 1]));
            assert_eq!(stamp.fingerprint, fingerprint(&stamp.head));
            assert!(matches!(parse(lines[k - 1]).body, RecordBody::PollBallots(b) if b.poll == poll));
            // The outcome the forum recorded (and announced) carries the same stamp.
            let live = s.state.forum.polls[&poll].outcome.clone().expect("closed");
            assert_eq!(live.record.as_ref(), Some(&stamp));
            assert_eq!(live, *outcome);
            closes += 1;
        }
    }
    assert_eq!(closes, 4);
}

#[test]
fn ballots_are_the_last_cast_under_the_acked_receipt_sorted_by_receipt() {
    let s = scripted_forum();
    let record = s.record();
    let mut published: Vec<(PollId, RecordBallot)> = Vec::new();
    for line in lines(&record) {
        if let RecordBody::PollBallots(b) = parse(line).body {
            let receipts: Vec<&str> = b.ballots.iter().map(RecordBallot::receipt).collect();
            let mut sorted = receipts.clone();
            sorted.sort();
            assert_eq!(receipts, sorted, "poll {} is sorted by receipt", b.poll);
            published.extend(b.ballots.into_iter().map(|ballot| (b.poll, ballot)));
        }
    }
    // Participant 1 cast twice in poll 1: the first receipt is retired.
    let first = &s.acked[0];
    let recast = s.acked.iter().filter(|(p, poll, _)| *p == first.0 && *poll == PollId(1)).nth(1).unwrap();
    assert_ne!(first.2, recast.2);
    assert!(!published.iter().any(|(_, b)| b.receipt() == first.2), "a replaced ballot's receipt is gone");
    let found = |receipt: &str| published.iter().filter(|(_, b)| b.receipt() == receipt).count();
    assert_eq!(found(&recast.2), 1);
    let recast_ballot = published.iter().find(|(_, b)| b.receipt() == recast.2).unwrap();
    assert!(
        matches!(&recast_ballot.1, RecordBallot::Ballot { ballot, weight: 1, channel: Channel::Remote, .. } if *ballot == ranked(&[5, 1, 2, 3, 4]))
    );
    // Pairwise: one receipt per participant for all their comparisons.
    let pairwise: Vec<&String> =
        s.acked.iter().filter(|(p, poll, _)| *poll == PollId(4) && *p == s.people[0]).map(|(_, _, r)| r).collect();
    assert!(pairwise.len() == 3 && pairwise.iter().all(|r| *r == pairwise[0]));
    let Some((_, RecordBallot::Comparisons { comparisons, .. })) =
        published.iter().find(|(_, b)| b.receipt() == *pairwise[0])
    else {
        panic!("participant 1's comparisons are published");
    };
    assert_eq!(comparisons.len(), 2, "the replaced answer is gone: {comparisons:?}");
    // Every receipt still in force appears exactly once.
    let total: usize = published.len();
    let distinct: std::collections::BTreeSet<_> =
        published.iter().map(|(poll, b)| (*poll, b.receipt().to_owned())).collect();
    assert_eq!(total, distinct.len());
}

#[test]
fn each_line_type_says_what_happened() {
    let s = scripted_forum();
    let record = s.record();
    let bodies: Vec<RecordBody> = lines(&record).into_iter().map(|l| parse(l).body).collect();
    let tag = |b: &RecordBody| serde_json::to_value(b).unwrap()["type"].as_str().unwrap().to_owned();
    let types: std::collections::BTreeSet<String> = bodies.iter().map(tag).collect();
    for want in [
        "forum",
        "forum_started",
        "forum_closed",
        "item_added",
        "item_edited",
        "item_moved",
        "item_removed",
        "item_activated",
        "item_completed",
        "idea_published",
        "idea_hidden",
        "idea_merged",
        "headcount",
        "poll_opened",
        "poll_ballots",
        "poll_outcome",
    ] {
        assert!(types.contains(want), "no {want} line");
    }
    assert!(
        matches!(&bodies[0], RecordBody::Forum { format, forum, .. } if format == "madang.record.v1" && forum == "rec0forum1")
    );
    assert!(
        bodies.iter().any(
            |b| matches!(b, RecordBody::ItemActivated { item, completed: Some(done) } if item.0 == 2 && done.0 == 1)
        )
    );
    // Premoderated ideas are published when approved, with their channel; the moderator's has none.
    let published: Vec<(u32, Option<Channel>)> = bodies
        .iter()
        .filter_map(|b| match b {
            RecordBody::IdeaPublished { idea, channel, .. } => Some((idea.0, *channel)),
            _ => None,
        })
        .collect();
    assert_eq!(
        published,
        vec![
            (6, None),
            (1, Some(Channel::Remote)),
            (2, Some(Channel::Hall)),
            (3, Some(Channel::Remote)),
            (4, Some(Channel::Hall)),
            (3, Some(Channel::Remote))
        ]
    );
    // Idea 3 was hidden once (and approved again); idea 5 was never public:
    // hiding it adds no line, and its text is nowhere.
    let hidden: Vec<u32> = bodies
        .iter()
        .filter_map(|b| match b {
            RecordBody::IdeaHidden { idea } => Some(idea.0),
            _ => None,
        })
        .collect();
    assert_eq!(hidden, vec![3]);
    assert!(!String::from_utf8_lossy(&record).contains("Ban everyone"));
    let ballots: Vec<_> = bodies
        .iter()
        .filter_map(|b| match b {
            RecordBody::PollBallots(b) => Some(b.as_ref().clone()),
            _ => None,
        })
        .collect();
    let ranked_poll = &ballots[0];
    assert_eq!(ranked_poll.hall_counts.len(), 2, "the correction and what it corrected");
    assert_eq!(ranked_poll.merged_options.len(), 1);
    assert_eq!((ranked_poll.merged_options[0].option.0, ranked_poll.merged_options[0].counts_for.0), (4, 1));
    assert_eq!(
        (ranked_poll.participants.remote, ranked_poll.participants.hall, ranked_poll.participants.headcount),
        (3, 2, Some(30))
    );
    assert_eq!(ballots[1].ballots.len(), 4, "hidden results: published at close all the same");
}

#[test]
fn no_name_token_code_key_or_participant_id_is_in_the_record() {
    let s = scripted_forum();
    let text = String::from_utf8(s.record()).unwrap();
    let mut secrets: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    secrets.extend((0..NAMES.len()).map(|n| format!("{TOKEN_HASH}{n}")));
    secrets.extend(
        ["RMT4K9", "HLL7Q2", "moderator-token-hash-secret", "display-token-hash-secret", RECEIPT_KEY].map(String::from),
    );
    secrets.extend([r#""participant""#, r#""author""#, r#""name""#, "token", "code"].map(String::from));
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the record contains {secret:?}");
    }
}

#[test]
fn a_snapshot_keeps_the_chain_and_one_without_it_is_not_used() {
    let s = scripted_forum();
    let half = s.records.len() / 2;
    let at_half = ForumState::replay(&s.records[..half], |_, _| {}).unwrap();
    let restored = ForumState::from_snapshot(&at_half.to_snapshot().unwrap()).unwrap();
    let resumed = restored.replay_tail(&s.records[half..], |_, _| {}).unwrap();
    assert_eq!(resumed.record, s.state.record);
    // A snapshot from before the record existed has no chain: refused, so the log is replayed.
    let snapshot = at_half.to_snapshot().unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&snapshot.payload).unwrap();
    body.as_object_mut().unwrap().remove("record");
    let old = crate::store::Snapshot { seq: snapshot.seq, payload: serde_json::to_vec(&body).unwrap().into() };
    assert!(matches!(ForumState::from_snapshot(&old), Err(crate::hub::state::ReplayError::SnapshotWithoutRecord)));
}

#[test]
fn a_log_without_receipts_gives_the_same_record() {
    // Logs written before events carried receipts: they are recomputed the same way.
    let s = scripted_forum();
    let stripped: Vec<Record> = s
        .records
        .iter()
        .map(|r| {
            let mut entry = Entry::decode_unanchored(r.seq, &r.payload).unwrap();
            if let Event::BallotCast { receipt, .. } | Event::ComparisonCast { receipt, .. } = &mut entry.event {
                *receipt = None;
            }
            entry
        })
        .scan(GENESIS_HASH.to_string(), |prev, entry| {
            let entry = Entry::new(entry.seq, entry.at_ms, prev, entry.request, entry.event).unwrap();
            *prev = entry.hash.clone();
            Some(entry.record())
        })
        .collect();
    assert_eq!(ForumState::record_of(&stripped).unwrap(), s.record());
}

#[test]
fn the_example_records_are_what_the_builder_produces() {
    for (file, script) in [("forum.jsonl", scripted_forum()), ("committee.jsonl", committee_forum())] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol/examples/record").join(file);
        let record = script.record();
        if std::env::var("MADANG_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &record).unwrap();
        }
        let checked_in = std::fs::read(&path).unwrap_or_default();
        assert!(
            checked_in == record,
            "{} differs from the builder's record; regenerate with `MADANG_UPDATE_SCHEMA=1 cargo test record::`",
            path.display()
        );
    }
}

#[test]
fn a_named_vote_publishes_names_a_revocation_its_withdrawal_and_the_follow_through_follows_the_close() {
    let s = committee_forum();
    let record = s.record();
    let parsed: Vec<RecordLine> = lines(&record).into_iter().map(parse).collect();
    let ballots = parsed
        .iter()
        .find_map(|l| match &l.body {
            RecordBody::PollBallots(b) => Some(b.ballots.clone()),
            _ => None,
        })
        .expect("the named poll's ballots");
    let mut names: Vec<String> = ballots
        .iter()
        .map(|b| match b {
            RecordBallot::Ballot { name, .. } | RecordBallot::Comparisons { name, .. } => name.clone().expect("a name"),
        })
        .collect();
    names.sort();
    // The revoked ticket's holder (Lee Junho) voted, but the ballot was withdrawn before the close.
    assert_eq!(names, ["Kim Minji", "Park Seoyeon"]);
    let kinds: Vec<&str> = parsed
        .iter()
        .map(|l| match &l.body {
            RecordBody::Eligibility { .. } => "eligibility",
            RecordBody::TicketsIssued { .. } => "tickets_issued",
            RecordBody::TicketRevoked { .. } => "ticket_revoked",
            RecordBody::PollOutcome { .. } => "poll_outcome",
            RecordBody::ForumClosed {} => "forum_closed",
            RecordBody::ResponseRecorded { .. } => "response_recorded",
            RecordBody::ActionPlanned { .. } => "action_planned",
            RecordBody::ActionUpdated { .. } => "action_updated",
            _ => "",
        })
        .filter(|k| !k.is_empty())
        .collect();
    assert_eq!(
        kinds,
        [
            "eligibility",
            "tickets_issued",
            "tickets_issued",
            "ticket_revoked",
            "poll_outcome",
            "forum_closed",
            "response_recorded",
            "action_planned",
            "action_updated",
            "action_updated"
        ]
    );
    assert!(
        parsed
            .iter()
            .any(|l| matches!(&l.body, RecordBody::TicketRevoked { withdrawn } if *withdrawn == vec![PollId(1)]))
    );
    // No ticket number or token reaches the record.
    let text = String::from_utf8(record).unwrap();
    assert!(!text.contains(r#""ticket""#) && !text.contains(TOKEN_HASH));
}
