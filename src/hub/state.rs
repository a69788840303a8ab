//! A forum as a forum task holds it: the domain state plus where it stands
//! in the log (head and hash), and which request ids it has applied.
//!
//! This is exactly what replay rebuilds and what a snapshot saves, so
//! recovery, catching up with other hub nodes, and restarting from a
//! snapshot all go through `apply_record`.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use madang_protocol::{IdeaId, ItemId, OptionId, PollId, SpeakerId, TicketRange};
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use super::journal::{Entry, GENESIS_HASH, JournalError, RequestKey};
use crate::domain::{Event, Forum};
use crate::record::RecordChain;
use crate::store::{Record, Snapshot};

/// What a resend of a request id is answered with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckInfo {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<IdeaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<SpeakerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<[OptionId; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_left: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<TicketRange>,
    pub receipt: Option<String>,
}

impl AckInfo {
    pub fn of(entry: &Entry) -> AckInfo {
        let mut info = AckInfo { seq: entry.seq, ..AckInfo::default() };
        match &entry.event {
            Event::ItemAdded { item, .. } => info.item = Some(*item),
            Event::IdeaSubmitted { idea, .. } => info.idea = Some(*idea),
            Event::PollCreated { poll, .. } => info.poll = Some(*poll),
            Event::HandRaised { speaker, .. } | Event::SpeakerAdded { speaker, .. } => info.speaker = Some(*speaker),
            Event::PairOffered { pair, pairs_left, .. } => {
                info.pair = Some(*pair);
                info.pairs_left = Some(*pairs_left);
            }
            Event::TicketsIssued { first, count, .. } => {
                info.tickets = Some(TicketRange { first: *first, count: *count })
            }
            Event::BallotCast { receipt, .. } | Event::ComparisonCast { receipt, .. } => info.receipt = receipt.clone(),
            _ => {}
        }
        info
    }
}

/// Request ids already applied: each person's last [`REMEMBERED_PER_ACTOR`].
///
/// The window is per person rather than forum-wide because a resend always
/// comes from the person who sent the original: a forum-wide window would
/// last only seconds while thousands vote, whereas this one lasts as long as
/// that person's last commands. Ids are kept as a digest, so the whole set
/// is plain data: cloning it (the checkpoint before a shared-store append)
/// copies memory without allocating per id.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    by_actor: HashMap<String, VecDeque<(RequestDigest, AckInfo)>, foldhash::fast::RandomState>,
}

/// How many of each person's request ids are remembered (SPEC §6.3).
pub const REMEMBERED_PER_ACTOR: usize = 64;

/// The first 128 bits of SHA-256 of a request id: only ids of the same
/// person are ever compared, so a collision could only confuse the person
/// who forged it.
type RequestDigest = [u8; 16];

fn digest(id: &str) -> RequestDigest {
    let full = Sha256::digest(id.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl Applied {
    pub fn get(&self, key: &RequestKey) -> Option<&AckInfo> {
        let id = digest(&key.id);
        self.by_actor.get(&key.actor)?.iter().rev().find(|(d, _)| *d == id).map(|(_, info)| info)
    }

    pub fn remember(&mut self, key: RequestKey, info: AckInfo) {
        let id = digest(&key.id);
        let window = self.by_actor.entry(key.actor).or_default();
        if window.len() >= REMEMBERED_PER_ACTOR {
            window.pop_front();
        }
        window.push_back((id, info));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the log does not start with the forum's creation")]
    NoCreation,
    #[error("record {got} does not follow the forum's head {head}")]
    Gap { head: u64, got: u64 },
    #[error("the snapshot cannot be read: {0}")]
    Snapshot(serde_json::Error),
    #[error("the snapshot holds a request digest that is not 32 hex digits: {0:?}")]
    SnapshotDigest(String),
    /// Written before the public record existed: only the log can rebuild its chain.
    #[error("the snapshot has no record chain")]
    SnapshotWithoutRecord,
}

#[derive(Debug, Clone)]
pub struct ForumState {
    pub forum: Forum,
    pub head: u64,
    pub head_hash: String,
    pub applied: Applied,
    /// The public record's chain (`crate::record`), kept in step with the log.
    pub record: RecordChain,
}

/// The serialized form of a snapshot.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    forum: Forum,
    head: u64,
    head_hash: String,
    /// Per person, oldest first, ids as hex digests.
    applied: Vec<(String, Vec<(String, AckInfo)>)>,
    /// Absent in snapshots written before the record existed: such a
    /// snapshot is not used, so the chain is rebuilt from the log.
    #[serde(default)]
    record: Option<RecordChain>,
}

impl ForumState {
    /// The state after the forum's first record, which must create it.
    pub fn genesis(first: &Record) -> Result<(ForumState, Entry), ReplayError> {
        Self::genesis_with(first, &mut |_| {})
    }

    /// [`ForumState::genesis`], passing the record's first line to `line`.
    fn genesis_with(first: &Record, line: &mut dyn FnMut(Vec<u8>)) -> Result<(ForumState, Entry), ReplayError> {
        if first.seq != 1 {
            return Err(ReplayError::Gap { head: 0, got: first.seq });
        }
        let entry = Entry::decode(1, &first.payload, GENESIS_HASH)?;
        let forum = Forum::from_created(&entry.event).ok_or(ReplayError::NoCreation)?;
        let (record, first_line) = RecordChain::start(&forum, entry.at_ms);
        line(first_line);
        let state = ForumState { forum, head: 1, head_hash: entry.hash.clone(), applied: Applied::default(), record };
        Ok((state, entry))
    }

    /// The public record of a whole log: every line, each ended by `\n`.
    /// Replays through the same code as the forum task, keeping the lines.
    pub fn record_of(records: &[Record]) -> Result<Vec<u8>, ReplayError> {
        let mut out = Vec::new();
        let mut keep = |line: Vec<u8>| {
            out.extend_from_slice(&line);
            out.push(b'\n');
        };
        let (first, rest) = records.split_first().ok_or(ReplayError::NoCreation)?;
        let (mut state, _) = ForumState::genesis_with(first, &mut keep)?;
        for record in rest {
            let entry = state.decode_next(record)?;
            state.apply_entry_with(&entry, &mut keep);
        }
        Ok(out)
    }

    /// Apply the next record of the log; it must follow the head and the hash chain.
    pub fn apply_record(&mut self, record: &Record) -> Result<Entry, ReplayError> {
        let entry = self.decode_next(record)?;
        self.apply_entry(&entry);
        Ok(entry)
    }

    /// Decode the next record of the log without applying it; it must
    /// follow the head and the hash chain.
    pub fn decode_next(&self, record: &Record) -> Result<Entry, ReplayError> {
        if record.seq != self.head + 1 {
            return Err(ReplayError::Gap { head: self.head, got: record.seq });
        }
        Ok(Entry::decode(record.seq, &record.payload, &self.head_hash)?)
    }

    /// A freshly decided event as it is to be recorded at `at_ms`: a poll's
    /// close carries the record's head at its `poll_ballots` line, which the
    /// chain computes now exactly as applying the entry will.
    pub fn stamped(&self, mut event: Event, at_ms: u64) -> Event {
        if let Event::PollClosed { poll, outcome } = &mut event {
            outcome.record = self.record.stamp_for_close(&self.forum, *poll, at_ms);
        }
        event
    }

    /// Apply an entry already known to follow the head (decided here, or decoded).
    pub fn apply_entry(&mut self, entry: &Entry) {
        self.apply_entry_with(entry, &mut |_| {});
    }

    /// [`ForumState::apply_entry`], passing the record lines it adds to `line`.
    /// The record observes the entry before the forum applies it.
    pub fn apply_entry_with(&mut self, entry: &Entry, line: &mut dyn FnMut(Vec<u8>)) {
        self.record.observe(&self.forum, entry.at_ms, &entry.event, line);
        self.forum.apply(&entry.event);
        if let Some(key) = &entry.request {
            self.applied.remember(key.clone(), AckInfo::of(entry));
        }
        self.head = entry.seq;
        self.head_hash = entry.hash.clone();
    }

    /// Replay a whole log from its first record, calling `visit` after each entry.
    pub fn replay(records: &[Record], mut visit: impl FnMut(&Forum, &Entry)) -> Result<ForumState, ReplayError> {
        let (first, rest) = records.split_first().ok_or(ReplayError::NoCreation)?;
        let (mut state, entry) = ForumState::genesis(first)?;
        visit(&state.forum, &entry);
        for record in rest {
            let entry = state.apply_record(record)?;
            visit(&state.forum, &entry);
        }
        Ok(state)
    }

    /// Continue from this state through `records` (the tail after a snapshot).
    pub fn replay_tail(
        mut self,
        records: &[Record],
        mut visit: impl FnMut(&Forum, &Entry),
    ) -> Result<ForumState, ReplayError> {
        for record in records {
            let entry = self.apply_record(record)?;
            visit(&self.forum, &entry);
        }
        Ok(self)
    }

    /// The state as a snapshot; an error leaves the last snapshot in place
    /// rather than writing an empty one.
    pub fn to_snapshot(&self) -> Result<Snapshot, serde_json::Error> {
        let body = SnapshotBody {
            forum: self.forum.clone(),
            head: self.head,
            head_hash: self.head_hash.clone(),
            applied: self
                .applied
                .by_actor
                .iter()
                .map(|(actor, window)| {
                    (actor.clone(), window.iter().map(|(id, info)| (hex::encode(id), info.clone())).collect())
                })
                .collect(),
            record: Some(self.record.clone()),
        };
        Ok(Snapshot { seq: self.head, payload: Bytes::from(serde_json::to_vec(&body)?) })
    }

    pub fn from_snapshot(snapshot: &Snapshot) -> Result<ForumState, ReplayError> {
        let body: SnapshotBody = serde_json::from_slice(&snapshot.payload).map_err(ReplayError::Snapshot)?;
        if body.head != snapshot.seq {
            return Err(ReplayError::Gap { head: snapshot.seq, got: body.head });
        }
        let mut applied = Applied::default();
        for (actor, window) in body.applied {
            let mut kept = VecDeque::with_capacity(window.len().min(REMEMBERED_PER_ACTOR));
            for (id, info) in window.into_iter().rev().take(REMEMBERED_PER_ACTOR).rev() {
                let mut digest = RequestDigest::default();
                hex::decode_to_slice(&id, &mut digest).map_err(|_| ReplayError::SnapshotDigest(id))?;
                kept.push_back((digest, info));
            }
            applied.by_actor.insert(actor, kept);
        }
        let record = body.record.ok_or(ReplayError::SnapshotWithoutRecord)?;
        let mut forum = body.forum;
        // What is derived from the state is not in the snapshot: recount it.
        forum.rebuild_derived();
        Ok(ForumState { forum, head: body.head, head_hash: body.head_hash, applied, record })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Actor;
    use madang_protocol::Command;

    fn log() -> Vec<Record> {
        let created = Event::ForumCreated {
            id: "f1".into(),
            title: "T".into(),
            language: "ko".into(),
            remote_code: "AAAAAA".into(),
            hall_code: "BBBBBB".into(),
            moderator_token_hash: "m".into(),
            display_token_hash: "d".into(),
            eligibility: Default::default(),
            receipt_key: None,
        };
        let mut forum = Forum::from_created(&created).unwrap();
        let mut entries = vec![Entry::new(1, 1, GENESIS_HASH, None, created).unwrap()];
        for (n, title) in ["One", "Two", "Three"].iter().enumerate() {
            let event = forum
                .decide(
                    Actor::Moderator,
                    &Command::AddItem { title: title.to_string(), description: None, timebox_secs: None },
                    5,
                    &crate::domain::Limits::default(),
                )
                .unwrap();
            forum.apply(&event);
            let key = RequestKey { actor: "moderator".into(), id: format!("r{n}") };
            let prev = entries.last().unwrap().hash.clone();
            entries.push(Entry::new(n as u64 + 2, 5, &prev, Some(key), event).unwrap());
        }
        entries.iter().map(Entry::record).collect()
    }

    #[test]
    fn snapshot_plus_tail_equals_full_replay() {
        let records = log();
        let full = ForumState::replay(&records, |_, _| {}).unwrap();
        let at_two = ForumState::replay(&records[..2], |_, _| {}).unwrap();
        let restored = ForumState::from_snapshot(&at_two.to_snapshot().unwrap()).unwrap();
        let resumed = restored.replay_tail(&records[2..], |_, _| {}).unwrap();
        assert_eq!(resumed.forum, full.forum);
        assert_eq!((resumed.head, &resumed.head_hash), (full.head, &full.head_hash));
        let key = RequestKey { actor: "moderator".into(), id: "r0".into() };
        assert_eq!(resumed.applied.get(&key), Some(&AckInfo { seq: 2, item: Some(ItemId(1)), ..AckInfo::default() }));
    }

    #[test]
    fn each_person_keeps_their_own_window_of_request_ids() {
        let key = |actor: &str, n: usize| RequestKey { actor: actor.into(), id: format!("req-{n}") };
        let info = |seq: u64| AckInfo { seq, ..AckInfo::default() };
        let mut applied = Applied::default();
        applied.remember(key("p1", 0), info(1));
        // Someone else's flood does not push p1's request out.
        for n in 0..10 * REMEMBERED_PER_ACTOR {
            applied.remember(key("p2", n), info(2 + n as u64));
        }
        assert_eq!(applied.get(&key("p1", 0)).map(|i| i.seq), Some(1));
        // The same id from another person is another request.
        assert_eq!(applied.get(&key("p3", 0)), None);
        // p2 keeps exactly its last REMEMBERED_PER_ACTOR.
        let last = 10 * REMEMBERED_PER_ACTOR - 1;
        assert_eq!(applied.get(&key("p2", last)).map(|i| i.seq), Some(2 + last as u64));
        assert!(applied.get(&key("p2", last + 1 - REMEMBERED_PER_ACTOR)).is_some());
        assert_eq!(applied.get(&key("p2", last - REMEMBERED_PER_ACTOR)), None);
        // And a snapshot keeps the windows as they are.
        let state = ForumState::replay(&log(), |_, _| {}).unwrap();
        let state = ForumState { applied, ..state };
        let restored = ForumState::from_snapshot(&state.to_snapshot().unwrap()).unwrap();
        assert_eq!(restored.applied.get(&key("p1", 0)).map(|i| i.seq), Some(1));
        assert_eq!(restored.applied.get(&key("p2", last)).map(|i| i.seq), Some(2 + last as u64));
        assert_eq!(restored.applied.get(&key("p2", last - REMEMBERED_PER_ACTOR)), None);
    }

    #[test]
    fn an_event_a_newer_build_wrote_stops_replay_with_its_own_error() {
        let mut records = log();
        let head =
            Entry::decode(4, &records[3].payload, &ForumState::replay(&records[..3], |_, _| {}).unwrap().head_hash)
                .unwrap();
        let newer =
            format!(r#"{{"seq":5,"at_ms":6,"prev":"{}","event":{{"type":"quorum_checked","present":40}}}}"#, head.hash);
        records.push(Record::new(5, newer.into_bytes()));
        let err = ForumState::replay(&records, |_, _| {}).unwrap_err();
        assert!(matches!(err, ReplayError::Journal(JournalError::UnknownEvent { seq: 5, .. })), "{err:?}");
        assert!(err.to_string().contains("upgrade this node"), "{err}");
    }

    #[test]
    fn a_tail_that_does_not_follow_is_refused() {
        let records = log();
        let at_two = ForumState::replay(&records[..2], |_, _| {}).unwrap();
        assert!(matches!(
            at_two.clone().replay_tail(&records[3..], |_, _| {}),
            Err(ReplayError::Gap { head: 2, got: 4 })
        ));
        // A changed entry no longer has the hash the entry after it names.
        let mut forged = records[2].clone();
        forged.payload = Bytes::from(String::from_utf8(forged.payload.to_vec()).unwrap().replace("Two", "Owt"));
        assert!(matches!(
            at_two.replay_tail(&[forged, records[3].clone()], |_, _| {}),
            Err(ReplayError::Journal(JournalError::BrokenChain { seq: 4 }))
        ));
    }
}
