//! The single writer of one forum.
//!
//! One task per forum owns its state. Connections send it requests over a
//! bounded channel; it decides, appends to the store, applies, answers and
//! fans out. Requests are taken in batches: every command of a batch is
//! decided and applied in memory, the batch's entries are appended with one
//! store call (one fsync on the embedded store: group commit), and only then
//! are acks sent and frames broadcast. If the append fails, nobody hears of
//! the batch and the state is rebuilt from the store.
//!
//! Architecture invariant: no connection ever touches forum state; no lock
//! is held across an `.await` (there are no locks here at all).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use madang_protocol::{
    Channel, Command, ErrorCode, ForumView, JoinCodes, ParticipantSelf, PollId, PollStatus, Role, ServerFrame,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, GENESIS_HASH, JournalError, RequestKey};
use super::view::{self, Audience};
use super::{Frame, HubConfig, encode_frame, tokens};
use crate::domain::{Actor, DomainError, Event, Forum};
use crate::store::{EventStore, Record, StoreError};

/// How a connection proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A moderator, display or participant token.
    Token(String),
    /// A join code's channel, with an optional name and an earlier participant token.
    Join { channel: Channel, name: Option<String>, participant_token: Option<String> },
}

/// A connection, attached: its identity, the frames to send first, and its
/// subscription to the forum's broadcasts.
pub struct Attached {
    pub actor: Actor,
    pub frames: Vec<Frame>,
    pub updates: broadcast::Receiver<Frame>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("this credential is not valid for this forum")]
    Unauthorized,
    #[error("{0}")]
    Refused(DomainError),
    #[error("the forum cannot persist right now; try again")]
    Unavailable,
}

pub enum Request {
    Command { actor: Actor, request_id: String, command: Command, reply: oneshot::Sender<ServerFrame> },
    Attach { credential: Credential, last_seq: Option<u64>, reply: oneshot::Sender<Result<Attached, AttachError>> },
    View { audience: Audience, reply: oneshot::Sender<ForumView> },
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the log does not start with the forum's creation")]
    NoCreation,
}

/// One audience's broadcast channel and the recent frames kept for resume.
struct Outlet {
    tx: broadcast::Sender<Frame>,
    /// (seq, frame), oldest first.
    ring: VecDeque<(u64, Frame)>,
    /// Every frame after this seq is in `ring`.
    floor: u64,
}

impl Outlet {
    fn new(capacity: usize) -> Outlet {
        Outlet { tx: broadcast::channel(capacity).0, ring: VecDeque::new(), floor: 0 }
    }

    fn keep(&mut self, seq: u64, frame: Frame, ring_capacity: usize) {
        if self.ring.len() >= ring_capacity
            && let Some((old, _)) = self.ring.pop_front()
        {
            self.floor = old;
        }
        self.ring.push_back((seq, frame));
    }

    fn publish(&mut self, seq: u64, frame: Frame, ring_capacity: usize) {
        // No receivers is not an error: nobody is watching.
        let _ = self.tx.send(frame.clone());
        self.keep(seq, frame, ring_capacity);
    }
}

/// What a resend of a request id is answered with.
#[derive(Debug, Clone)]
struct AckInfo {
    seq: u64,
    event: Event,
}

/// Request ids already applied, bounded (oldest forgotten first).
#[derive(Default)]
struct Applied {
    map: HashMap<RequestKey, AckInfo>,
    order: VecDeque<RequestKey>,
}

const MAX_REMEMBERED_REQUESTS: usize = 100_000;

impl Applied {
    fn remember(&mut self, key: RequestKey, info: AckInfo) {
        if self.order.len() >= MAX_REMEMBERED_REQUESTS
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key.clone());
        self.map.insert(key, info);
    }
}

/// The replayable part of the task: what a rebuild from the store restores.
struct Replayed {
    forum: Forum,
    head: u64,
    head_hash: String,
    applied: Applied,
}

fn actor_key(actor: Actor) -> String {
    match actor {
        Actor::Moderator => "moderator".into(),
        Actor::Display => "display".into(),
        Actor::Participant(p) => format!("p{p}"),
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn ack_frame(request_id: String, info: &AckInfo, duplicate: bool) -> ServerFrame {
    let (mut item, mut idea, mut poll) = (None, None, None);
    match &info.event {
        Event::ItemAdded { item: i, .. } => item = Some(*i),
        Event::IdeaSubmitted { idea: i, .. } => idea = Some(*i),
        Event::PollCreated { poll: p, .. } => poll = Some(*p),
        _ => {}
    }
    ServerFrame::Ack { id: request_id, seq: info.seq, duplicate, item, idea, poll }
}

pub fn error_frame(id: Option<String>, code: ErrorCode, message: String, rule: Option<String>) -> ServerFrame {
    ServerFrame::Error { id, code, message, rule }
}

pub fn domain_error_frame(id: Option<String>, err: &DomainError) -> ServerFrame {
    let (code, rule) = match err {
        DomainError::Forbidden(_) => (ErrorCode::Forbidden, None),
        DomainError::NotFound { .. } => (ErrorCode::NotFound, None),
        DomainError::InvalidState(_) => (ErrorCode::InvalidState, None),
        DomainError::Invalid(_) => (ErrorCode::Invalid, None),
        DomainError::Ballot(b) => (ErrorCode::BallotInvalid, Some(b.rule.to_string())),
    };
    error_frame(id, code, err.to_string(), rule)
}

/// What to do once a pending entry (or a duplicate answer) is persisted.
enum After {
    Ack { reply: oneshot::Sender<ServerFrame>, request_id: String, info: AckInfo, duplicate: bool },
    Joined { reply: oneshot::Sender<Result<Attached, AttachError>>, actor: Actor, token: String, last_seq: Option<u64> },
}

/// Requests answered after the batch persists, against the final state.
enum Deferred {
    Attach { actor: Actor, token: String, last_seq: Option<u64>, reply: oneshot::Sender<Result<Attached, AttachError>> },
    View { audience: Audience, reply: oneshot::Sender<ForumView> },
}

struct Pending {
    entry: Option<Entry>,
    frames: [Option<Frame>; 2],
    after: After,
}

pub struct ForumTask {
    state: Replayed,
    store: Arc<dyn EventStore>,
    config: Arc<HubConfig>,
    staff: Outlet,
    public: Outlet,
    dirty: BTreeSet<PollId>,
    needs_rebuild: bool,
}

impl ForumTask {
    /// Rebuild a forum from its stored entries.
    pub async fn load(store: Arc<dyn EventStore>, forum_id: &str, config: Arc<HubConfig>) -> Result<ForumTask, ReplayError> {
        let records = store.read_after(forum_id, 0).await?;
        Self::from_records(store, &records, config)
    }

    /// A forum whose creation entries were just appended.
    pub fn created(store: Arc<dyn EventStore>, entries: &[Entry], config: Arc<HubConfig>) -> Result<ForumTask, ReplayError> {
        let records: Vec<Record> = entries.iter().map(|e| Record { seq: e.seq, payload: e.encode() }).collect();
        Self::from_records(store, &records, config)
    }

    /// Replay `records`; the last `ring_capacity` events also fill the resume buffers.
    fn from_records(store: Arc<dyn EventStore>, records: &[Record], config: Arc<HubConfig>) -> Result<ForumTask, ReplayError> {
        let mut staff = Outlet::new(config.broadcast_capacity);
        let mut public = Outlet::new(config.broadcast_capacity);
        let ring_from = (records.len() as u64).saturating_sub(config.ring_capacity as u64);
        staff.floor = ring_from;
        public.floor = ring_from;
        let ring_capacity = config.ring_capacity;
        let state = replay(records, |forum, entry| {
            if entry.seq > ring_from {
                for (outlet, audience) in [(&mut staff, Audience::Staff), (&mut public, Audience::Public)] {
                    if let Some(frame) = event_frame(forum, entry, audience) {
                        outlet.keep(entry.seq, frame, ring_capacity);
                    }
                }
            }
        })?;
        Ok(ForumTask { state, store, config, staff, public, dirty: BTreeSet::new(), needs_rebuild: false })
    }

    pub fn forum(&self) -> &Forum {
        &self.state.forum
    }

    /// Serve requests until `shutdown`; then answer what is already queued and stop.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.tally_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(self.config.batch_size);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                n = requests.recv_many(&mut batch, self.config.batch_size) => {
                    if n == 0 { break; }
                    self.process(std::mem::take(&mut batch)).await;
                }
                // An idle forum does not wake up at the tally cadence.
                _ = tick.tick(), if !self.dirty.is_empty() => self.publish_tallies(),
            }
        }
        // Flush: whatever was queued before shutdown is still answered.
        requests.close();
        while requests.recv_many(&mut batch, self.config.batch_size).await > 0 {
            self.process(std::mem::take(&mut batch)).await;
        }
        self.publish_tallies();
        tracing::debug!(forum = %self.state.forum.id, head = self.state.head, "forum task stopped");
    }

    async fn process(&mut self, batch: Vec<Request>) {
        if self.needs_rebuild {
            match self.rebuild().await {
                Ok(()) => self.needs_rebuild = false,
                Err(err) => {
                    tracing::warn!(forum = %self.state.forum.id, %err, "store still unavailable");
                    return refuse_all(batch);
                }
            }
        }
        let now = now_ms();
        let mut pending: Vec<Pending> = Vec::new();
        let mut deferred = Vec::new();
        for request in batch {
            match request {
                Request::Command { actor, request_id, command, reply } => {
                    self.decide_command(actor, request_id, &command, now, reply, &mut pending)
                }
                Request::Attach { credential, last_seq, reply } => {
                    if let Some(actor) = self.authenticate(credential, now, last_seq, reply, &mut pending) {
                        deferred.push(actor);
                    }
                }
                Request::View { audience, reply } => deferred.push(Deferred::View { audience, reply }),
            }
        }
        let records: Vec<Record> =
            pending.iter().filter_map(|p| p.entry.as_ref()).map(|e| Record { seq: e.seq, payload: e.encode() }).collect();
        if let Err(err) = self.store.append(&self.state.forum.id, &records).await {
            tracing::error!(forum = %self.state.forum.id, %err, "append failed; refusing the batch");
            for p in pending {
                match p.after {
                    After::Ack { reply, request_id, .. } => {
                        let _ = reply.send(unavailable(request_id));
                    }
                    After::Joined { reply, .. } => {
                        let _ = reply.send(Err(AttachError::Unavailable));
                    }
                }
            }
            for d in deferred {
                if let Deferred::Attach { reply, .. } = d {
                    let _ = reply.send(Err(AttachError::Unavailable));
                }
            }
            self.needs_rebuild = true;
            if let Err(err) = self.rebuild().await {
                tracing::warn!(forum = %self.state.forum.id, %err, "rebuild after a failed append failed; will retry");
            } else {
                self.needs_rebuild = false;
            }
            return;
        }
        let ring_capacity = self.config.ring_capacity;
        for p in pending {
            if let Some(entry) = &p.entry {
                let [staff, public] = p.frames;
                if let Some(f) = staff {
                    self.staff.publish(entry.seq, f, ring_capacity);
                }
                if let Some(f) = public {
                    self.public.publish(entry.seq, f, ring_capacity);
                }
            }
            match p.after {
                After::Ack { reply, request_id, info, duplicate } => {
                    let _ = reply.send(ack_frame(request_id, &info, duplicate));
                }
                After::Joined { reply, actor, token, last_seq } => {
                    let attached = self.attach(actor, token, last_seq);
                    let _ = reply.send(Ok(attached));
                }
            }
        }
        // Attaches last: their snapshot or replay and their subscription both
        // start after every frame of this batch, so nothing is missed or doubled.
        for d in deferred {
            match d {
                Deferred::View { audience, reply } => {
                    let _ = reply.send(view::forum_view(&self.state.forum, audience, self.state.head));
                }
                Deferred::Attach { actor, token, last_seq, reply } => {
                    let _ = reply.send(Ok(self.attach(actor, token, last_seq)));
                }
            }
        }
    }

    fn decide_command(
        &mut self,
        actor: Actor,
        request_id: String,
        command: &Command,
        now: u64,
        reply: oneshot::Sender<ServerFrame>,
        pending: &mut Vec<Pending>,
    ) {
        let key = RequestKey { actor: actor_key(actor), id: request_id.clone() };
        if let Some(info) = self.state.applied.map.get(&key) {
            // Answered only after this batch persists, in case the original is in it.
            let after = After::Ack { reply, request_id, info: info.clone(), duplicate: true };
            pending.push(Pending { entry: None, frames: [None, None], after });
            return;
        }
        match self.state.forum.decide(actor, command, now) {
            Err(err) => {
                let _ = reply.send(domain_error_frame(Some(request_id), &err));
            }
            Ok(event) => {
                let (entry, frames) = self.apply_new(now, Some(key.clone()), event);
                let info = AckInfo { seq: entry.seq, event: entry.event.clone() };
                self.state.applied.remember(key, info.clone());
                let after = After::Ack { reply, request_id, info, duplicate: false };
                pending.push(Pending { entry: Some(entry), frames, after });
            }
        }
    }

    /// Check a credential. A new participant becomes a pending entry (joined
    /// once persisted); anyone else is deferred, to be attached after the batch.
    fn authenticate(
        &mut self,
        credential: Credential,
        now: u64,
        last_seq: Option<u64>,
        reply: oneshot::Sender<Result<Attached, AttachError>>,
        pending: &mut Vec<Pending>,
    ) -> Option<Deferred> {
        let forum = &self.state.forum;
        let known = |token: &str| {
            let hash = tokens::hash(token);
            if hash == forum.moderator_token_hash {
                Some(Actor::Moderator)
            } else if hash == forum.display_token_hash {
                Some(Actor::Display)
            } else {
                forum.participant_by_token.get(&hash).map(|p| Actor::Participant(*p))
            }
        };
        let (actor, token) = match credential {
            Credential::Token(token) => (known(&token), token),
            Credential::Join { participant_token: Some(token), .. } => {
                (known(&token).filter(|a| matches!(a, Actor::Participant(_))), token)
            }
            Credential::Join { channel, name, participant_token: None } => {
                let token = tokens::generate(&forum.id);
                match forum.decide_join(channel, name.as_deref(), tokens::hash(&token)) {
                    Ok(event) => {
                        let (entry, frames) = self.apply_new(now, None, event);
                        if let Event::ParticipantJoined { participant, .. } = entry.event {
                            let after = After::Joined { reply, actor: Actor::Participant(participant), token, last_seq };
                            pending.push(Pending { entry: Some(entry), frames, after });
                        }
                    }
                    Err(err) => {
                        let _ = reply.send(Err(AttachError::Refused(err)));
                    }
                }
                return None;
            }
        };
        match actor {
            Some(actor) => Some(Deferred::Attach { actor, token, last_seq, reply }),
            None => {
                let _ = reply.send(Err(AttachError::Unauthorized));
                None
            }
        }
    }

    /// Chain, apply and render a freshly decided event.
    fn apply_new(&mut self, now: u64, request: Option<RequestKey>, event: Event) -> (Entry, [Option<Frame>; 2]) {
        let s = &mut self.state;
        let entry = Entry::new(s.head + 1, now, &s.head_hash, request, event);
        s.forum.apply(&entry.event);
        s.head = entry.seq;
        s.head_hash = entry.hash.clone();
        self.mark_dirty(&entry.event);
        let frames = [
            event_frame(&self.state.forum, &entry, Audience::Staff),
            event_frame(&self.state.forum, &entry, Audience::Public),
        ];
        (entry, frames)
    }

    fn mark_dirty(&mut self, event: &Event) {
        let forum = &self.state.forum;
        match event {
            Event::BallotCast { poll, .. } | Event::PollOpened { poll } | Event::ResultsRevealed { poll } => {
                self.dirty.insert(*poll);
            }
            Event::PollClosed { poll, .. } => {
                self.dirty.remove(poll);
            }
            Event::IdeaMerged { idea, .. } => {
                for p in forum.polls.values() {
                    if p.status == PollStatus::Open && p.options.iter().any(|o| o.idea == Some(*idea)) {
                        self.dirty.insert(p.id);
                    }
                }
            }
            _ => {}
        }
    }

    fn attach(&mut self, actor: Actor, token: String, last_seq: Option<u64>) -> Attached {
        let forum = &self.state.forum;
        let head = self.state.head;
        let (role, audience) = match actor {
            Actor::Moderator => (Role::Moderator, Audience::Staff),
            Actor::Display => (Role::Display, Audience::Public),
            Actor::Participant(_) => (Role::Participant, Audience::Public),
        };
        let outlet = match audience {
            Audience::Staff => &self.staff,
            Audience::Public => &self.public,
        };
        let participant = match actor {
            Actor::Participant(id) => forum.participants.get(&id).map(|p| ParticipantSelf {
                id,
                token: token.clone(),
                channel: p.channel,
                name: p.name.clone(),
            }),
            _ => None,
        };
        let replay: Option<Vec<Frame>> = last_seq.filter(|s| *s >= outlet.floor && *s <= head).map(|s| {
            outlet.ring.iter().filter(|(seq, _)| *seq > s).map(|(_, f)| f.clone()).collect()
        });
        let welcome = ServerFrame::Welcome {
            role,
            forum_id: forum.id.clone(),
            head_seq: head,
            participant,
            join_codes: (role != Role::Participant)
                .then(|| JoinCodes { remote: forum.remote_code.clone(), hall: forum.hall_code.clone() }),
            snapshot: match replay {
                Some(_) => None,
                None => Some(Box::new(view::forum_view(forum, audience, head))),
            },
            replayed: replay.as_ref().map_or(0, |r| r.len() as u32),
        };
        let mut frames = vec![encode_frame(&welcome)];
        if let Some(replayed) = replay {
            frames.extend(replayed);
            for poll in forum.polls.values() {
                if poll.status == PollStatus::Open && view::tally_visible(poll, audience) {
                    frames.push(encode_frame(&ServerFrame::Tally { seq: head, tally: forum.tally(poll) }));
                }
            }
        }
        Attached { actor, frames, updates: outlet.tx.subscribe() }
    }

    /// Send the latest tally of every poll whose ballots changed since the last tick.
    fn publish_tallies(&mut self) {
        let forum = &self.state.forum;
        for poll_id in std::mem::take(&mut self.dirty) {
            let Some(poll) = forum.polls.get(&poll_id) else { continue };
            if poll.status != PollStatus::Open {
                continue;
            }
            let frame = encode_frame(&ServerFrame::Tally { seq: self.state.head, tally: forum.tally(poll) });
            let _ = self.staff.tx.send(frame.clone());
            if view::tally_visible(poll, Audience::Public) {
                let _ = self.public.tx.send(frame);
            }
        }
    }

    async fn rebuild(&mut self) -> Result<(), ReplayError> {
        let records = self.store.read_after(&self.state.forum.id, 0).await?;
        self.state = replay(&records, |_, _| {})?;
        Ok(())
    }
}

fn unavailable(request_id: String) -> ServerFrame {
    let message = "the forum could not persist this command; it was not applied: retry with the same id";
    error_frame(Some(request_id), ErrorCode::Unavailable, message.into(), None)
}

fn refuse_all(batch: Vec<Request>) {
    for request in batch {
        match request {
            Request::Command { request_id, reply, .. } => {
                let _ = reply.send(unavailable(request_id));
            }
            Request::Attach { reply, .. } => {
                let _ = reply.send(Err(AttachError::Unavailable));
            }
            Request::View { .. } => {}
        }
    }
}

fn event_frame(forum: &Forum, entry: &Entry, audience: Audience) -> Option<Frame> {
    view::update_for(forum, &entry.event, audience)
        .map(|update| encode_frame(&ServerFrame::Event { seq: entry.seq, at_ms: entry.at_ms, update }))
}

/// Rebuild the state from records, calling `visit` after each entry is applied.
fn replay(records: &[Record], mut visit: impl FnMut(&Forum, &Entry)) -> Result<Replayed, ReplayError> {
    let mut iter = records.iter();
    let first = iter.next().ok_or(ReplayError::NoCreation)?;
    let entry = Entry::decode(first.seq, &first.payload, GENESIS_HASH)?;
    let mut forum = Forum::from_created(&entry.event).ok_or(ReplayError::NoCreation)?;
    visit(&forum, &entry);
    let (mut head, mut head_hash, mut applied) = (entry.seq, entry.hash, Applied::default());
    for record in iter {
        let entry = Entry::decode(record.seq, &record.payload, &head_hash)?;
        forum.apply(&entry.event);
        if let Some(key) = &entry.request {
            applied.remember(key.clone(), AckInfo { seq: entry.seq, event: entry.event.clone() });
        }
        visit(&forum, &entry);
        head = entry.seq;
        head_hash = entry.hash;
    }
    Ok(Replayed { forum, head, head_hash, applied })
}

/// Handle to a running forum task.
#[derive(Clone)]
pub struct ForumHandle {
    pub requests: mpsc::Sender<Request>,
}

/// The default pacing of tally frames.
pub const DEFAULT_TALLY_INTERVAL: Duration = Duration::from_millis(100);
