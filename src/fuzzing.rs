//! Entry points for the fuzzers (`fuzz/`) and for the tests that replay their corpora.
//!
//! Not an API: each function takes the raw bytes a fuzzer made, drives one
//! parser or rule set the way the server does, and panics only when the
//! server would have panicked or an invariant broke. Keeping the drivers here
//! (rather than in the fuzz crate) lets `cargo test` run the saved corpora
//! and a short random run on the stable toolchain, with no fuzzer installed,
//! while the coverage-guided long runs call the very same code.
//!
//! Targets:
//! * [`client_frame`]: bytes as a client's text frame, parsed and, when it is
//!   a command, decided by every kind of actor against a forum with
//!   something of everything in it.
//! * [`ballot`]: bytes as a poll method, its options (some merged) and
//!   weighted ballots: validation, and counting of the valid ones.
//! * [`log_replay`]: bytes as a forum's log file (raw, or events framed into
//!   a valid log and then damaged): the embedded store's scan on open, its
//!   reader, and the hub's replay of what it read.
//! * [`domain_sequence`]: bytes as a sequence of commands from arbitrary
//!   actors through decide and apply; replaying the events must rebuild the
//!   same forum.

use std::path::PathBuf;
use std::sync::OnceLock;

use madang_protocol::{
    Allocation, Ballot, Channel, ClientFrame, MajorityRule, OptionId, PollMethod, RankedTally, ScoreEntry, YesNoChoice,
    parse_client_frame,
};

use crate::domain::method::{OptionIndex, PairwiseMatrix, count, counted_ranking, validate_ballot};
use crate::domain::{Actor, Event, Forum, Limits};
use crate::hub::journal::{Entry, GENESIS_HASH, RequestKey};
use crate::hub::state::ForumState;
use crate::store::embedded::{EmbeddedStore, check_dir};
use crate::store::{Backend, EventLog, Record};

/// Reads fuzzer bytes as small numbers; past the end every read is zero, so
/// any input, even an empty one, is a complete description.
struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Mostly small (where the rules' edges are), sometimes anything.
    fn small_or_any(&mut self) -> u32 {
        match self.u8() {
            0..=223 => u32::from(self.u8() % 16),
            224..=247 => u32::from(self.u8()),
            _ => self.u32(),
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

// --- client frames -----------------------------------------------------------

/// A client's text frame, as `ws.rs` reads it: the request id it answers a
/// refused frame with, the parse, and for a command the decision of every
/// kind of actor (the forum task's part).
pub fn client_frame(data: &[u8]) {
    // The WebSocket layer hands over only UTF-8 text (1007 otherwise).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = madang_protocol::request_id(text);
    let Ok(ClientFrame::Command { command, .. }) = parse_client_frame(text) else { return };
    let forum = busy_forum();
    for actor in [Actor::Moderator, Actor::Display, Actor::Participant(madang_protocol::ParticipantId(1))] {
        if let Ok(event) = forum.decide(actor, &command, NOW_MS, &Limits::default()) {
            let mut after = forum.clone();
            after.apply(&event);
            tally_all(&after);
        }
    }
}

const NOW_MS: u64 = 1_700_000_000_000;

/// A live forum with something of everything: items, ideas, a poll of every
/// method (open), a participant of each channel. Commands decided against
/// it reach far into the rules.
fn busy_forum() -> &'static Forum {
    static FORUM: OnceLock<Forum> = OnceLock::new();
    FORUM.get_or_init(|| {
        let mut forum = new_forum();
        for (idx, channel) in [Channel::Remote, Channel::Hall].into_iter().enumerate() {
            let event = forum
                .decide_join(channel, Some("P"), format!("token{idx}"), &Limits::default())
                .expect("a draft forum admits");
            forum.apply(&event);
        }
        let participant = Actor::Participant(madang_protocol::ParticipantId(1));
        let seed = [
            (Actor::Moderator, r#"{"type":"add_item","title":"Parks"}"#),
            (Actor::Moderator, r#"{"type":"add_item","title":"Roads"}"#),
            (Actor::Moderator, r#"{"type":"start_forum"}"#),
            (Actor::Moderator, r#"{"type":"activate_item","item":1}"#),
            (participant, r#"{"type":"submit_idea","item":1,"text":"More trees"}"#),
            (participant, r#"{"type":"submit_idea","item":1,"text":"Benches"}"#),
            (participant, r#"{"type":"submit_idea","item":1,"text":"A pond"}"#),
            (Actor::Moderator, r#"{"type":"raise_hand"}"#),
            (participant, r#"{"type":"raise_hand"}"#),
        ];
        for (actor, json) in seed {
            decide_and_apply(&mut forum, actor, json);
        }
        for method in [
            r#"{"kind":"yes_no","rule":"simple"},"options":{"from":"none"}"#,
            r#"{"kind":"approval","max_choices":2},"options":{"from":"ideas"}"#,
            r#"{"kind":"dots","budget":5,"max_per_option":3},"options":{"from":"ideas"}"#,
            r#"{"kind":"score"},"options":{"from":"ideas"}"#,
            r#"{"kind":"ranked","tally":"schulze"},"options":{"from":"ideas"}"#,
            r#"{"kind":"pairwise"},"options":{"from":"ideas"}"#,
            r#"{"kind":"single_choice"},"options":{"from":"ideas"}"#,
        ] {
            let next = forum.polls.len() + 1;
            decide_and_apply(
                &mut forum,
                Actor::Moderator,
                &format!(r#"{{"type":"create_poll","item":1,"title":"Q","method":{method},"results":"live"}}"#),
            );
            decide_and_apply(&mut forum, Actor::Moderator, &format!(r#"{{"type":"open_poll","poll":{next}}}"#));
        }
        forum
    })
}

/// Decide a command given as JSON and apply its event; a refused one changes nothing.
fn decide_and_apply(forum: &mut Forum, actor: Actor, json: &str) {
    let Ok(command) = serde_json::from_str(json) else { return };
    if let Ok(event) = forum.decide(actor, &command, NOW_MS, &Limits::default()) {
        forum.apply(&event);
    }
}

fn new_forum() -> Forum {
    Forum::from_created(&created_event()).expect("a creation event creates a forum")
}

fn created_event() -> Event {
    Event::ForumCreated {
        id: "fuzz".into(),
        title: "Fuzz".into(),
        language: "en".into(),
        remote_code: "remote".into(),
        hall_code: "hall".into(),
        moderator_token_hash: "m".into(),
        display_token_hash: "d".into(),
        receipt_key: None,
    }
}

/// Every poll's tally, as the hub computes them for its frames.
fn tally_all(forum: &Forum) {
    for poll in forum.polls.values() {
        let _ = forum.tally(poll);
    }
}

// --- ballots -----------------------------------------------------------------

/// A poll method, its options (some merged into others) and weighted
/// ballots: every ballot is validated, and the valid ones are counted (with
/// and without kept pairwise counts for ranked polls).
pub fn ballot(data: &[u8]) {
    let mut b = Bytes::new(data);
    let method = match b.u8() % 7 {
        0 => PollMethod::YesNo {
            rule: [MajorityRule::Simple, MajorityRule::Absolute, MajorityRule::TwoThirds][usize::from(b.u8() % 3)],
        },
        1 => PollMethod::Approval { max_choices: b.small_or_any() },
        2 => PollMethod::Dots { budget: b.small_or_any(), max_per_option: b.small_or_any() },
        3 => PollMethod::Score {},
        4 => PollMethod::Ranked {
            max_ranks: if b.u8().is_multiple_of(2) { None } else { Some(b.small_or_any()) },
            tally: [RankedTally::Borda, RankedTally::InstantRunoff, RankedTally::Schulze][usize::from(b.u8() % 3)],
        },
        5 => PollMethod::SingleChoice {},
        _ => PollMethod::Pairwise {},
    };
    let n = usize::from(b.u8() % 12);
    let all: Vec<OptionId> = (0..n).map(|_| OptionId(b.small_or_any())).collect();
    // Merges point at an option that counts for itself: the forum resolves
    // chains before it builds an index, and so does this.
    let merged: Vec<Option<usize>> =
        (0..n).map(|_| if b.u8().is_multiple_of(4) { Some(usize::from(b.u8())) } else { None }).collect();
    let roots: Vec<OptionId> = all.iter().zip(&merged).filter(|(_, m)| m.is_none()).map(|(o, _)| *o).collect();
    let index = OptionIndex::new(&all, |option| {
        let Some(at) = all.iter().position(|o| *o == option) else { return option };
        match (merged[at], roots.is_empty()) {
            (Some(pick), false) => roots[pick % roots.len()],
            _ => option,
        }
    });
    let pick = |b: &mut Bytes<'_>| -> OptionId {
        let raw = b.u8();
        if raw < 224 && !all.is_empty() { all[usize::from(raw) % all.len()] } else { OptionId(b.small_or_any()) }
    };
    let mut ballots = Vec::new();
    for _ in 0..b.u8() % 16 {
        let len = usize::from(b.u8() % 10);
        let ballot = match b.u8() % 6 {
            0 => Ballot::YesNo {
                choice: [YesNoChoice::Yes, YesNoChoice::No, YesNoChoice::Abstain][usize::from(b.u8() % 3)],
            },
            1 => Ballot::Approval { options: (0..len).map(|_| pick(&mut b)).collect() },
            2 => Ballot::Dots {
                allocations: (0..len).map(|_| Allocation { option: pick(&mut b), dots: b.small_or_any() }).collect(),
            },
            3 => Ballot::Score {
                scores: (0..len)
                    .map(|_| ScoreEntry { option: pick(&mut b), score: if b.u8() < 240 { b.u8() % 7 } else { b.u8() } })
                    .collect(),
            },
            4 => Ballot::Ranked { ranking: (0..len).map(|_| pick(&mut b)).collect() },
            _ => Ballot::SingleChoice { option: pick(&mut b) },
        };
        let weight = match b.u8() {
            0..=239 => 1,
            240..=251 => u64::from(b.u8()),
            _ => b.u64(),
        };
        if validate_ballot(&method, &index, &ballot).is_ok() {
            ballots.push((ballot, weight));
        }
    }
    let _ = count(&method, &index, ballots.iter().map(|(ballot, w)| (ballot, *w)), None);
    if matches!(method, PollMethod::Ranked { .. }) {
        let mut kept = PairwiseMatrix::new(index.counted());
        for (ballot, weight) in &ballots {
            if let Ballot::Ranked { ranking } = ballot {
                kept.add(&counted_ranking(&index, ranking), *weight);
            }
        }
        let _ = count(&method, &index, ballots.iter().map(|(ballot, w)| (ballot, *w)), Some(&kept));
    }
}

// --- log replay --------------------------------------------------------------

/// Bytes as one forum's log file in a fresh data directory: the store opens
/// it (scan, torn-tail cut or quarantine), `madang check` reads it, the
/// reader returns its records, and the hub replays them (journal decode,
/// hash chain, `Forum::apply`), then round-trips a snapshot.
///
/// The first byte picks how the file is made: raw bytes, or (so that the
/// fuzzer gets past checksums and the hash chain) one event per line of the
/// rest, framed into a valid log, which the next bytes may then damage.
pub fn log_replay(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mode = b.u8();
    let file = if mode.is_multiple_of(2) {
        b.rest().to_vec()
    } else {
        let flip_at = b.u32();
        let flip = b.u8();
        let cut = b.u32();
        let mut file = framed_log(b.rest());
        if flip != 0 && !file.is_empty() {
            let at = flip_at as usize % file.len();
            file[at] ^= flip;
        }
        if mode & 0x80 != 0 && !file.is_empty() {
            file.truncate(cut as usize % file.len());
        }
        file
    };
    let dir = scratch_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("forums")).expect("scratch dir");
    std::fs::write(dir.join("forums").join("fuzz.log"), &file).expect("write the log");
    let _ = check_dir(&dir, false);
    runtime().block_on(async {
        let store = match EmbeddedStore::open(&dir).await {
            Ok(store) => store,
            Err(err) => panic!("a damaged log must quarantine its forum, not fail the open: {err}"),
        };
        let damaged = !store.damaged_forums().is_empty();
        match store.read_after("fuzz", 0).await {
            Ok(records) => {
                assert!(!damaged, "a quarantined forum must refuse reads");
                replay_records(&records);
            }
            Err(_) => assert!(damaged || file.is_empty(), "a clean log must read"),
        }
        store.close().await.expect("close");
    });
}

/// The hub's replay over `records`, and a snapshot of the result read back.
fn replay_records(records: &[Record]) {
    let Ok(state) = ForumState::replay(records, |forum, entry| {
        let _ = crate::hub::view::update_for(forum, &entry.event, crate::hub::view::Audience::Public);
    }) else {
        return;
    };
    tally_all(&state.forum);
    let snapshot = state.to_snapshot().expect("a forum this build replayed encodes");
    let back = ForumState::from_snapshot(&snapshot).expect("a snapshot this build wrote reads back");
    assert_eq!(back.forum, state.forum, "a snapshot must restore the forum it was taken of");
    assert_eq!(back.head, state.head);
    assert_eq!(back.record, state.record, "a snapshot must restore the record's chain");
}

/// A valid log: each line of `events` that is an event becomes the next
/// record, chained as the hub writes them; a forum creation comes first.
fn framed_log(events: &[u8]) -> Vec<u8> {
    let mut file = Vec::new();
    let mut prev = GENESIS_HASH.to_owned();
    let mut seq = 0u64;
    let first = std::iter::once(Some(created_event()));
    let rest = events.split(|&c| c == b'\n').map(|line| serde_json::from_slice::<Event>(line).ok());
    for event in first.chain(rest).flatten() {
        seq += 1;
        let request = seq.is_multiple_of(3).then(|| RequestKey { actor: "moderator".into(), id: format!("r{seq}") });
        let entry = Entry::new(seq, seq, &prev, request, event).expect("a decoded event encodes");
        prev = entry.hash.clone();
        let payload = entry.encode().expect("an entry encodes");
        crate::store::embedded::encode_record(seq, &payload, &mut file);
    }
    file
}

/// A data directory per fuzzing process (and per test thread), under the
/// system's temp dir (point `TMPDIR` at a tmpfs for speed).
fn scratch_dir() -> PathBuf {
    thread_local! {
        static DIR: PathBuf = std::env::temp_dir().join(format!(
            "madang-fuzz-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
    }
    DIR.with(Clone::clone)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

// --- domain sequences --------------------------------------------------------

/// Lines of commands through decide and apply, as the forum task runs them.
///
/// Each line's first byte picks the actor (`m` moderator, `d` display, `j`
/// or `h` a participant joins remote or in the hall with the rest as name,
/// anything else participant `byte % 8`), the second how far the clock moves; the rest is the client
/// frame. Afterwards every poll is tallied (once, not after every ballot:
/// the counting methods have their own target and tests), and replaying the events from
/// the creation must give the same forum, with and without a snapshot
/// halfway.
pub fn domain_sequence(data: &[u8]) {
    let (forum, events) = decided_events(data);
    let mut replayed = Forum::from_created(&events[0]).expect("creation");
    for event in &events[1..] {
        replayed.apply(event);
    }
    assert_eq!(replayed, forum, "replaying the events must rebuild the forum they were decided on");

    // Through the journal and a snapshot taken halfway, as recovery does.
    let mut prev = GENESIS_HASH.to_owned();
    let records: Vec<Record> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let seq = i as u64 + 1;
            let entry = Entry::new(seq, seq, &prev, None, event).expect("a decided event encodes");
            prev = entry.hash.clone();
            Record::new(seq, entry.encode().expect("an entry encodes"))
        })
        .collect();
    let half = records.len() / 2 + 1;
    let base = ForumState::replay(&records[..half], |_, _| {}).expect("a log the hub wrote replays");
    let snapshot = base.to_snapshot().expect("a replayed forum encodes");
    let restored = ForumState::from_snapshot(&snapshot).expect("snapshot reads back");
    let state = restored.replay_tail(&records[half..], |_, _| {}).expect("the tail follows the snapshot");
    assert_eq!(state.forum, forum, "snapshot plus tail must rebuild the same forum");
    let full = ForumState::replay(&records, |_, _| {}).expect("a log the hub wrote replays");
    assert_eq!(state.record, full.record, "snapshot plus tail must continue the same record chain");
    let record = ForumState::record_of(&records).expect("a log the hub wrote gives a record");
    let last = record.strip_suffix(b"\n").and_then(|r| r.rsplit(|b| *b == b'\n').next()).unwrap_or_default();
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(last)),
        full.record.head,
        "the record's head is its last line's hash"
    );
}

/// The forum after the commands in `data` (see [`domain_sequence`]), and the events that made it.
fn decided_events(data: &[u8]) -> (Forum, Vec<Event>) {
    let mut forum = new_forum();
    let mut events = vec![created_event()];
    let mut now = NOW_MS;
    for line in data.split(|&c| c == b'\n') {
        let mut b = Bytes::new(line);
        let who = b.u8();
        now = now.saturating_add(u64::from(b.u8()) * 1_000);
        let rest = b.rest();
        let event = if who == b'j' || who == b'h' {
            let channel = if who == b'j' { Channel::Remote } else { Channel::Hall };
            let name = std::str::from_utf8(rest).ok();
            forum.decide_join(channel, name, format!("t{}", events.len()), &Limits::default())
        } else {
            let actor = match who {
                b'm' => Actor::Moderator,
                b'd' => Actor::Display,
                n => Actor::Participant(madang_protocol::ParticipantId(u32::from(n % 8))),
            };
            let Ok(text) = std::str::from_utf8(rest) else { continue };
            let Ok(ClientFrame::Command { command, .. }) = parse_client_frame(text) else { continue };
            forum.decide(actor, &command, now, &Limits::default())
        };
        if let Ok(event) = event {
            forum.apply(&event);
            events.push(event);
        }
    }
    tally_all(&forum);
    (forum, events)
}

/// A `log_replay` input that frames the events `commands` (a
/// `domain_sequence` input) decide into a valid log, undamaged.
pub fn log_seed(commands: &[u8]) -> Vec<u8> {
    let (_, events) = decided_events(commands);
    let mut seed = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for event in &events[1..] {
        seed.extend(serde_json::to_vec(event).expect("events serialize"));
        seed.push(b'\n');
    }
    seed
}

#[cfg(test)]
mod tests;
