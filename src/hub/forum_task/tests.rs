//! The forum task against a store that fails on purpose: what each failed
//! append is answered with, and what is answered before an append returns.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madang_protocol::{AgendaItemSpec, Auth, Command, CreateForumRequest, CreateForumResponse, ErrorCode, ServerFrame};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ForumHandle, Request};
use crate::domain::Actor;
use crate::hub::{Hub, HubConfig};
use crate::store::embedded::EmbeddedStore;
use crate::store::{
    Backend, DamagedForum, EventLog, OutcomeRecord, OutcomeSink, Record, Snapshot, SnapshotStore, StoreError,
};

/// Where every test connection comes from.
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How the next append fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The records land, but the caller hears that the store did not answer
    /// (a shared store's timeout after the write reached it).
    LandedUnconfirmed,
    /// Nothing lands, and the store says so.
    Refused,
}

/// The embedded store, with appends that fail when told to.
struct FaultyStore {
    inner: EmbeddedStore,
    next_append: Mutex<Option<Fault>>,
}

impl FaultyStore {
    fn fail_next_append(&self, fault: Fault) {
        *self.next_append.lock().unwrap() = Some(fault);
    }
}

#[async_trait::async_trait]
impl EventLog for FaultyStore {
    async fn forums(&self) -> Result<Vec<String>, StoreError> {
        self.inner.forums().await
    }
    async fn append(&self, forum: &str, records: &[Record]) -> Result<(), StoreError> {
        let fault = self.next_append.lock().unwrap().take();
        match fault {
            None => self.inner.append(forum, records).await,
            Some(Fault::LandedUnconfirmed) => {
                self.inner.append(forum, records).await?;
                Err(StoreError::Unavailable("no answer within the command timeout".into()))
            }
            Some(Fault::Refused) => Err(StoreError::Io(std::io::Error::other("no space left on device"))),
        }
    }
    async fn read_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        self.inner.read_after(forum, after).await
    }
    async fn head(&self, forum: &str) -> Result<u64, StoreError> {
        self.inner.head(forum).await
    }
}

#[async_trait::async_trait]
impl SnapshotStore for FaultyStore {
    async fn save_snapshot(&self, forum: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(forum, snapshot).await
    }
    async fn load_snapshot(&self, forum: &str) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(forum).await
    }
}

#[async_trait::async_trait]
impl OutcomeSink for FaultyStore {
    async fn publish_outcome(&self, outcome: &OutcomeRecord) -> Result<(), StoreError> {
        self.inner.publish_outcome(outcome).await
    }
}

#[async_trait::async_trait]
impl Backend for FaultyStore {
    fn damaged_forums(&self) -> Vec<DamagedForum> {
        self.inner.damaged_forums()
    }
    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}

/// A hub on a faulty store, with one forum of one item whose moderator is attached.
struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<FaultyStore>,
    hub: Arc<Hub>,
    created: CreateForumResponse,
    forum: ForumHandle,
}

async fn setup() -> Setup {
    setup_with(HubConfig { tally_interval: Duration::from_millis(20), ..HubConfig::default() }).await
}

async fn setup_with(config: HubConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let inner = EmbeddedStore::open(dir.path()).await.unwrap();
    let store = Arc::new(FaultyStore { inner, next_append: Mutex::new(None) });
    let hub = Hub::open(store.clone(), config, CancellationToken::new(), TaskTracker::new(), None).await.unwrap();
    let request = CreateForumRequest {
        title: "Faults".into(),
        language: None,
        eligibility: None,
        agenda: vec![AgendaItemSpec { title: "Vote".into(), description: None, timebox_secs: None }],
    };
    let created = hub.create_forum(request).await.unwrap();
    let auth = Auth { token: Some(created.moderator_token.clone()), ..Auth::default() };
    let (_, forum, _) = hub.attach(auth, LOOPBACK).await.unwrap();
    Setup { _dir: dir, store, hub, created, forum }
}

impl Setup {
    /// Queue a command without waiting: commands queued together are decided in one batch.
    fn queue(&self, actor: Actor, id: &str, command: Value) -> oneshot::Receiver<ServerFrame> {
        let command: Command = serde_json::from_value(command).expect("a valid command");
        let (reply, answer) = oneshot::channel();
        let request = Request::Command { actor, request_id: id.into(), command, reply };
        self.forum.requests.try_send(request).unwrap_or_else(|_| panic!("the forum takes request {id}"));
        answer
    }

    async fn command(&self, actor: Actor, id: &str, command: Value) -> ServerFrame {
        self.queue(actor, id, command).await.expect("the forum answers")
    }

    async fn ok(&self, actor: Actor, id: &str, command: Value) -> u64 {
        match self.command(actor, id, command).await {
            ServerFrame::Ack { seq, duplicate: false, .. } => seq,
            other => panic!("{id}: expected an ack, got {other:?}"),
        }
    }

    async fn join(&self) -> Actor {
        self.join_with(&self.created.join_codes.remote).await
    }

    async fn join_with(&self, code: &str) -> Actor {
        let auth = Auth { join_code: Some(code.into()), ..Auth::default() };
        self.hub.attach(auth, LOOPBACK).await.unwrap_or_else(|_| panic!("a participant joins")).2.actor
    }

    /// An open poll, a headcount of 100, and `people` hall participants to vote in it.
    async fn hall_vote(&self, people: usize) -> (u64, Vec<Actor>) {
        let poll = self.open_poll().await;
        self.ok(Actor::Moderator, "headcount", json!({"type": "set_hall_headcount", "count": 100})).await;
        let mut voters = Vec::new();
        for _ in 0..people {
            voters.push(self.join_with(&self.created.join_codes.hall).await);
        }
        (poll, voters)
    }

    /// A second moderator connection's broadcasts.
    async fn staff_updates(&self) -> crate::hub::fanout_channel::Receiver {
        let auth = Auth { token: Some(self.created.moderator_token.clone()), ..Auth::default() };
        self.hub.attach(auth, LOOPBACK).await.unwrap_or_else(|_| panic!("the moderator attaches")).2.updates
    }

    /// A live forum with an open approval poll of two options; its id.
    async fn open_poll(&self) -> u64 {
        self.ok(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
        self.ok(Actor::Moderator, "activate", json!({"type": "activate_item", "item": 1})).await;
        let create = json!({"type": "create_poll", "title": "Which?", "method": {"kind": "approval", "max_choices": 1},
            "options": {"from": "fixed", "labels": ["A", "B"]}});
        let ServerFrame::Ack { poll: Some(poll), .. } = self.command(Actor::Moderator, "create", create).await else {
            panic!("the poll is created")
        };
        self.ok(Actor::Moderator, "open", json!({"type": "open_poll", "poll": poll})).await;
        u64::from(poll.0)
    }
}

fn unavailable_message(frame: &ServerFrame) -> &str {
    match frame {
        ServerFrame::Error { code: ErrorCode::Unavailable, message, .. } => message,
        other => panic!("expected `unavailable`, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unconfirmed_append_is_answered_as_unknown_and_a_resend_tells() {
    let setup = setup().await;
    setup.store.fail_next_append(Fault::LandedUnconfirmed);
    let answer = setup.command(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    let message = unavailable_message(&answer);
    assert!(!message.contains("not applied"), "the outcome is unknown, not `not applied`: {message}");
    assert!(message.contains("may have been applied"), "{message}");
    let resent = setup.command(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    assert!(matches!(resent, ServerFrame::Ack { duplicate: true, .. }), "it had landed: {resent:?}");
}

#[tokio::test]
async fn a_refused_append_is_answered_as_not_applied_and_a_resend_applies_it() {
    let setup = setup().await;
    setup.store.fail_next_append(Fault::Refused);
    let answer = setup.command(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    let message = unavailable_message(&answer);
    assert!(message.contains("not applied"), "{message}");
    let resent = setup.command(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    assert!(matches!(resent, ServerFrame::Ack { duplicate: false, .. }), "applied now: {resent:?}");
}

/// A ballot decided after a `close_poll` of the same batch is refused as
/// "not open" only once that close has landed.
#[tokio::test]
async fn a_refusal_waits_for_the_batch_it_was_decided_against() {
    let setup = setup().await;
    let poll = setup.open_poll().await;
    let voter = setup.join().await;
    setup.store.fail_next_append(Fault::Refused);
    let close = setup.queue(Actor::Moderator, "close", json!({"type": "close_poll", "poll": poll}));
    let ballot = json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [1]}});
    let vote = setup.queue(voter, "vote", ballot.clone());
    unavailable_message(&close.await.unwrap());
    unavailable_message(&vote.await.unwrap());
    // The poll is still open: the same ballot is accepted now.
    setup.ok(voter, "vote", ballot).await;
}

/// Wait (at most two seconds) for a frame on `updates` that `pred` accepts.
async fn frame_where(
    updates: &mut crate::hub::fanout_channel::Receiver,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let wait = async {
        loop {
            let frame = updates.recv().await.expect("the forum keeps sending");
            let frame: Value = serde_json::from_str(frame.as_str()).unwrap();
            if pred(&frame) {
                return frame;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), wait).await.unwrap_or_else(|_| panic!("no frame: {what}"))
}

fn count_of(tally: &Value, option: u64) -> u64 {
    let counts = tally["tally"]["result"]["counts"].as_array().expect("approval counts");
    counts.iter().find(|c| c["option"] == option).map_or(0, |c| c["count"].as_u64().unwrap())
}

/// Idea 1 (option 1) merged into idea 3 (no option), then idea 3 into
/// idea 2 (option 2): only the second merge moves option 1's ballot to
/// option 2, and a tally says so without waiting for another ballot.
#[tokio::test]
async fn a_merge_that_completes_a_chain_into_an_option_sends_a_tally() {
    let setup = setup().await;
    let voter = setup.join().await;
    let mut staff = setup.staff_updates().await;
    setup.ok(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    setup.ok(Actor::Moderator, "activate", json!({"type": "activate_item", "item": 1})).await;
    setup.ok(voter, "i1", json!({"type": "submit_idea", "text": "Trees"})).await;
    setup.ok(voter, "i2", json!({"type": "submit_idea", "text": "Benches"})).await;
    let create = json!({"type": "create_poll", "title": "Which?", "method": {"kind": "approval", "max_choices": 1},
        "options": {"from": "ideas"}});
    let ServerFrame::Ack { poll: Some(poll), .. } = setup.command(Actor::Moderator, "create", create).await else {
        panic!("the poll is created")
    };
    setup.ok(Actor::Moderator, "open", json!({"type": "open_poll", "poll": poll})).await;
    setup.ok(voter, "i3", json!({"type": "submit_idea", "text": "Shade"})).await;
    setup
        .ok(voter, "vote", json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [1]}}))
        .await;
    setup.ok(Actor::Moderator, "m1", json!({"type": "merge_idea", "idea": 1, "into": 3})).await;
    let tally = |f: &Value| f["type"] == "tally";
    frame_where(&mut staff, "a tally after the first merge", |f| tally(f) && count_of(f, 1) == 1).await;
    setup.ok(Actor::Moderator, "m2", json!({"type": "merge_idea", "idea": 3, "into": 2})).await;
    frame_where(&mut staff, "a tally moving the ballot to option 2", |f| tally(f) && count_of(f, 2) == 1).await;
}

/// With a headcount set, moderators see hall ballots as the hall check they
/// change; a batch of them gets one hall check (on its last ballot), not one
/// per ballot, each of which would count every poll's voters again.
#[tokio::test]
async fn a_batch_of_hall_ballots_renders_one_hall_check() {
    const HALL: usize = 20;
    let setup = setup().await;
    let (poll, voters) = setup.hall_vote(HALL).await;
    let mut staff = setup.staff_updates().await;
    let ballot = json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [1]}});
    let answers: Vec<_> =
        voters.iter().enumerate().map(|(n, voter)| setup.queue(*voter, &format!("v{n}"), ballot.clone())).collect();
    let mut last = 0;
    for answer in answers {
        let ServerFrame::Ack { seq, .. } = answer.await.unwrap() else { panic!("a ballot is acked") };
        last = last.max(seq);
    }
    // A later event marks the end of what the ballots' batch sent.
    let marker = setup.ok(Actor::Moderator, "marker", json!({"type": "add_item", "title": "Later"})).await;
    let mut hall_checks = Vec::new();
    let mut frames = 0;
    loop {
        let frame = frame_where(&mut staff, "the marker event", |f| f["type"] == "event").await;
        frames += 1;
        if frame["seq"] == marker {
            break;
        }
        if frame["update"]["kind"] == "hall_check" {
            hall_checks.push(frame);
        }
    }
    assert_eq!(hall_checks.len(), 1, "one hall check for the batch ({frames} events)");
    let check = &hall_checks[0];
    assert_eq!(check["seq"], last, "on the batch's last ballot: {check}");
    assert_eq!(check["update"]["hall_check"]["polls"][0]["hall_ballots"], HALL as u64, "{check}");
}

/// Hall ballots another node appended arrive as one tail: moderators get one
/// hall check for the run, as for this node's own batch.
#[tokio::test]
async fn hall_ballots_from_another_node_render_one_hall_check() {
    use crate::domain::Event;
    use crate::hub::journal::{Entry, GENESIS_HASH};
    use madang_protocol::{Ballot, OptionId, PollId};
    const HALL: usize = 20;
    let setup = setup().await;
    let (poll, voters) = setup.hall_vote(HALL).await;
    let mut staff = setup.staff_updates().await;
    // What another node would append: the voters' ballots, chained after the head.
    let forum = &setup.created.id;
    let stored = setup.store.read_after(forum, 0).await.unwrap();
    let mut prev = GENESIS_HASH.to_string();
    for record in &stored {
        prev = Entry::decode(record.seq, &record.payload, &prev).unwrap().hash;
    }
    let mut seq = stored.last().unwrap().seq;
    let mut records = Vec::new();
    for voter in &voters {
        let Actor::Participant(participant) = *voter else { unreachable!() };
        seq += 1;
        let ballot = Ballot::Approval { options: vec![OptionId(1)] };
        let event = Event::BallotCast { poll: PollId(poll as u32), participant, ballot, receipt: None };
        let entry = Entry::new(seq, 1, &prev, None, event).unwrap();
        prev = entry.hash.clone();
        records.push(entry.record());
    }
    setup.store.append(forum, &records).await.unwrap();
    setup.forum.requests.send(Request::Tail(records)).await.unwrap_or_else(|_| panic!("the forum takes the tail"));
    let marker = setup.ok(Actor::Moderator, "marker", json!({"type": "add_item", "title": "Later"})).await;
    let mut hall_checks = Vec::new();
    loop {
        let frame = frame_where(&mut staff, "the marker event", |f| f["type"] == "event").await;
        if frame["seq"] == marker {
            break;
        }
        if frame["update"]["kind"] == "hall_check" {
            hall_checks.push(frame);
        }
    }
    assert_eq!(hall_checks.len(), 1, "one hall check for the run");
    assert_eq!(hall_checks[0]["seq"], seq, "on the run's last ballot");
    assert_eq!(hall_checks[0]["update"]["hall_check"]["polls"][0]["hall_ballots"], HALL as u64);
}

/// Every event frame on `updates` up to and including the one of seq `until`.
async fn events_until(updates: &mut crate::hub::fanout_channel::Receiver, until: u64) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let frame = frame_where(updates, "events up to the marker", |f| f["type"] == "event").await;
        let seq = frame["seq"].as_u64().unwrap();
        events.push(frame);
        if seq >= until {
            return events;
        }
    }
}

fn waiting(speakers: &Value) -> usize {
    speakers["update"]["speakers"]["waiting"].as_array().expect("a speaker queue").len()
}

/// Hand raises and lowerings replace the whole speaker queue: a batch of them
/// sends the queue once, a second batch within the tally interval waits and
/// goes out before the next frame (never after a newer seq), and the last
/// queue a listener sees is the final one.
#[tokio::test]
async fn a_storm_of_hand_raises_sends_the_speaker_queue_once_per_batch_and_tick() {
    const PEOPLE: usize = 40;
    // No burst: the second batch comes within the interval of the first.
    let config = HubConfig { tally_interval: Duration::from_millis(200), whole_state_burst: 1, ..HubConfig::default() };
    let setup = setup_with(config).await;
    setup.ok(Actor::Moderator, "start", json!({"type": "start_forum"})).await;
    setup.ok(Actor::Moderator, "activate", json!({"type": "activate_item", "item": 1})).await;
    let mut people = Vec::new();
    for _ in 0..PEOPLE {
        people.push(setup.join().await);
    }
    let mut staff = setup.staff_updates().await;
    let wave = |kind: &str, wave: usize| -> Vec<_> {
        let id = |n: usize| format!("w{wave}-{n}");
        people.iter().enumerate().map(|(n, p)| setup.queue(*p, &id(n), json!({"type": kind}))).collect()
    };
    for (n, kind) in ["raise_hand", "lower_hand"].into_iter().enumerate() {
        for answer in wave(kind, n) {
            assert!(matches!(answer.await.unwrap(), ServerFrame::Ack { .. }), "{kind} is acked");
        }
    }
    // An idea is not a whole state: it goes out at once, after what was held.
    let marker = setup.ok(people[0], "marker", json!({"type": "submit_idea", "text": "Later"})).await;
    let events = events_until(&mut staff, marker).await;
    let seqs: Vec<u64> = events.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq rises strictly: {seqs:?}");
    let speakers: Vec<&Value> = events.iter().filter(|f| f["update"]["kind"] == "speakers").collect();
    assert_eq!(speakers.len(), 2, "one speaker queue per batch, not one per hand ({} events)", events.len());
    assert_eq!(waiting(speakers[0]), PEOPLE, "the first batch's final queue");
    assert_eq!(waiting(speakers[1]), 0, "the final queue");
    // With nothing after it, a held queue goes out at the tick.
    for answer in wave("raise_hand", 2) {
        assert!(matches!(answer.await.unwrap(), ServerFrame::Ack { duplicate: false, .. }), "raised again");
    }
    let raised = frame_where(&mut staff, "the raised hands", |f| f["update"]["kind"] == "speakers").await;
    assert_eq!(waiting(&raised), PEOPLE, "{raised}");
}

/// A closed poll's outcome goes to the outcome sink as the entry stores it:
/// fields a newer build wrote into it are handed on, not dropped.
#[test]
fn an_outcome_is_handed_on_as_stored() {
    use crate::domain::{Event, Forum};
    use crate::hub::journal::{Entry, GENESIS_HASH};
    let created = Event::ForumCreated {
        id: "f1".into(),
        title: "T".into(),
        language: "ko".into(),
        remote_code: "AAAAAA".into(),
        hall_code: "BBBBBB".into(),
        moderator_token_hash: "m".into(),
        display_token_hash: "d".into(),
        receipt_key: None,
        eligibility: Default::default(),
    };
    let forum = Forum::from_created(&created).unwrap();
    let outcome = r#"{"poll":1,"title":"Q","method":{"kind":"score"},"closed_at_ms":5,"note":"recounted","tally":{"poll":1,"ballots":0,"result":{"method":"score","stats":[],"ranking":[]},"no_votes":true}}"#;
    let payload = format!(
        r#"{{"seq":2,"at_ms":5,"prev":"{GENESIS_HASH}","event":{{"type":"poll_closed","poll":1,"outcome":{outcome}}}}}"#
    );
    let entry = Entry::decode(2, &bytes::Bytes::from(payload), GENESIS_HASH).unwrap();
    let record = super::fanout::outcome_record(&forum, &entry).expect("a closing entry has an outcome");
    assert_eq!((record.seq, record.poll, record.title.as_str(), record.closed_at_ms), (2, 1, "Q", 5));
    assert_eq!(record.outcome_json, outcome);
}
