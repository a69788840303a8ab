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
//! On a shared store (Redis, several hub nodes), the store's log is the
//! forum's one order. A tail task feeds this task what other nodes appended;
//! each batch first catches up, then appends with compare-and-append. If
//! another node appended first, the batch is undone, the task catches up,
//! and the batch is decided again against the new state: the log only ever
//! holds events that were valid where they stand, and every node applies the
//! same events in the same order. Undoing means restoring a copy of the
//! state taken before the batch while nodes contend for the forum, and
//! rebuilding from the store's snapshot and log otherwise: copying a large
//! forum's state for every batch cost a quarter of a node's CPU, and a forum
//! written by one node at a time never needs the copy.
//!
//! Architecture invariant: no connection ever touches forum state; no lock
//! is held across an `.await` (there are no locks here at all).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use madang_protocol::{Channel, Command, ForumView, ParticipantSelf, PollId, PollStatus, Role, ServerFrame};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::clock::now_ms;
use super::crowd::{self, Crowd};
use super::journal::{Entry, RequestKey};
use super::state::{AckInfo, ForumState};
use super::view::{self, Audience};
use super::{Frame, HubConfig, frames, tokens};
use crate::domain::{Actor, DomainError, Event, Forum};
use crate::store::{EventStore, OutcomeRecord, Record, StoreError};

pub use super::state::ReplayError;

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
    Command {
        actor: Actor,
        request_id: String,
        command: Command,
        reply: oneshot::Sender<ServerFrame>,
    },
    Attach {
        credential: Credential,
        last_seq: Option<u64>,
        reply: oneshot::Sender<Result<Attached, AttachError>>,
    },
    View {
        audience: Audience,
        reply: oneshot::Sender<ForumView>,
    },
    /// Records that other hub nodes appended, from the tail task.
    Tail(Vec<Record>),
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
    fn new(capacity: usize, floor: u64) -> Outlet {
        Outlet { tx: broadcast::channel(capacity).0, ring: VecDeque::new(), floor }
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

fn actor_key(actor: Actor) -> String {
    match actor {
        Actor::Moderator => "moderator".into(),
        Actor::Display => "display".into(),
        Actor::Participant(p) => format!("p{p}"),
    }
}

/// A request being worked on. Replies are taken once answered, so a batch
/// can be decided again after a conflict without answering anyone twice.
enum Work {
    Command {
        actor: Actor,
        request_id: String,
        command: Command,
        reply: Option<oneshot::Sender<ServerFrame>>,
    },
    Attach {
        credential: Credential,
        last_seq: Option<u64>,
        reply: Option<oneshot::Sender<Result<Attached, AttachError>>>,
    },
    View {
        audience: Audience,
        reply: Option<oneshot::Sender<ForumView>>,
    },
}

impl Work {
    fn refuse(&mut self) {
        match self {
            Work::Command { request_id, reply, .. } => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(frames::unavailable(Some(request_id.clone())));
                }
            }
            Work::Attach { reply, .. } => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Err(AttachError::Unavailable));
                }
            }
            Work::View { .. } => {}
        }
    }
}

/// What to answer once a batch is persisted.
enum After {
    Ack { info: AckInfo, duplicate: bool },
    Joined { actor: Actor, token: String },
    Attach { actor: Actor, token: String },
    View,
}

struct Pending {
    /// Index into the batch's work.
    work: usize,
    entry: Option<Entry>,
    frames: [Option<Frame>; 2],
    after: After,
}

/// How many times a batch is decided again when other nodes keep appending first.
const MAX_ATTEMPTS: usize = 32;
/// How long after losing a race a forum task keeps copying its state before
/// each batch, so that the next lost race is undone without a rebuild.
const CONTENTION_WINDOW: Duration = Duration::from_secs(30);
/// How long a tail read waits for other nodes' records before asking again.
const TAIL_WAIT: Duration = Duration::from_secs(5);

pub struct ForumTask {
    state: ForumState,
    store: Arc<dyn EventStore>,
    config: Arc<HubConfig>,
    staff: Outlet,
    /// Public frames: its ring serves resumes; displays hear its channel,
    /// at every tally tick.
    public: Outlet,
    /// Participants hear the public frames through the crowd, whose tallies
    /// are paced by its size (see `crowd`).
    crowd: Crowd,
    /// Shards owed a tally turn, in fractions (see `crowd_shards_per_tick`).
    crowd_credit: f64,
    dirty: BTreeSet<PollId>,
    /// The current item's temperature check changed since the last tick.
    temperature_dirty: bool,
    needs_rebuild: bool,
    /// The seq of the latest snapshot saved or loaded.
    snapshot_seq: u64,
    /// Bytes of log appended since that snapshot, and its own size: a forum
    /// with a large state is snapshotted less often, so that writing
    /// snapshots never costs more than writing the log (replay after a
    /// restart stays bounded by about twice the snapshot's size).
    log_bytes_since_snapshot: u64,
    snapshot_bytes: u64,
    /// When another node last appended first (shared stores only).
    last_conflict: Option<Instant>,
    /// Outcomes to hand to the store for other systems.
    outcomes: Vec<OutcomeRecord>,
}

impl ForumTask {
    /// Rebuild a forum from its latest snapshot and the records after it,
    /// or from the whole log when there is no usable snapshot.
    pub async fn load(
        store: Arc<dyn EventStore>,
        forum_id: &str,
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let (base, records) = read_state(store.as_ref(), forum_id).await?;
        Self::build(store, base, &records, config)
    }

    /// A forum whose creation entries were just appended.
    pub fn created(
        store: Arc<dyn EventStore>,
        entries: &[Entry],
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let records: Vec<Record> = entries.iter().map(|e| Record { seq: e.seq, payload: e.encode() }).collect();
        Self::build(store, None, &records, config)
    }

    /// Replay `records` after `base` (or from the start); the last
    /// `ring_capacity` of them also fill the resume buffers.
    fn build(
        store: Arc<dyn EventStore>,
        base: Option<ForumState>,
        records: &[Record],
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let start = base.as_ref().map_or(0, |b| b.head);
        let floor = start + (records.len() as u64).saturating_sub(config.ring_capacity as u64);
        let mut staff = Outlet::new(config.broadcast_capacity, floor);
        let mut public = Outlet::new(config.broadcast_capacity, floor);
        let mut outcomes = Vec::new();
        let ring_capacity = config.ring_capacity;
        let broadcast_capacity = config.broadcast_capacity;
        let visit = |forum: &Forum, entry: &Entry| {
            if entry.seq > floor {
                for (outlet, audience) in [(&mut staff, Audience::Staff), (&mut public, Audience::Public)] {
                    if let Some(frame) = frames::event(forum, entry, audience) {
                        outlet.keep(entry.seq, frame, ring_capacity);
                    }
                }
            }
            outcomes.extend(outcome_record(forum, entry));
        };
        let state = match base {
            Some(base) => base.replay_tail(records, visit)?,
            None => ForumState::replay(records, visit)?,
        };
        let snapshot_seq = start;
        Ok(ForumTask {
            state,
            store,
            config,
            staff,
            public,
            crowd: Crowd::new(broadcast_capacity),
            crowd_credit: 0.0,
            dirty: BTreeSet::new(),
            temperature_dirty: false,
            needs_rebuild: false,
            snapshot_seq,
            log_bytes_since_snapshot: records.iter().map(|r| r.payload.len() as u64).sum(),
            snapshot_bytes: 0,
            last_conflict: None,
            outcomes,
        })
    }

    pub fn forum(&self) -> &Forum {
        &self.state.forum
    }

    pub fn head(&self) -> u64 {
        self.state.head
    }

    /// Serve requests until `shutdown`; then answer what is already queued and stop.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.tally_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(self.config.batch_size);
        self.publish_outcomes().await;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                // Before requests: under a steady stream of ballots the request
                // branch is always ready, and tallies must still go out on time.
                // An idle forum does not wake up at the tally cadence.
                _ = tick.tick(), if self.tallies_pending() => {
                    let started = std::time::Instant::now();
                    self.publish_tallies();
                    // Counting a very large poll takes a while (100,000 ranked ballots over
                    // 50 options: see benches/tally.rs): spread the ticks out so that
                    // counting takes at most a fifth of this task's time and commands flow.
                    let spent = started.elapsed();
                    if spent * 5 > self.config.tally_interval {
                        tick.reset_after(spent * 5);
                    }
                }
                n = requests.recv_many(&mut batch, self.config.batch_size) => {
                    if n == 0 { break; }
                    self.process(std::mem::take(&mut batch)).await;
                }
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
        let mut work = Vec::with_capacity(batch.len());
        let mut tail = Vec::new();
        for request in batch {
            match request {
                Request::Tail(records) => tail.extend(records),
                Request::Command { actor, request_id, command, reply } => {
                    work.push(Work::Command { actor, request_id, command, reply: Some(reply) })
                }
                Request::Attach { credential, last_seq, reply } => {
                    work.push(Work::Attach { credential, last_seq, reply: Some(reply) })
                }
                Request::View { audience, reply } => work.push(Work::View { audience, reply: Some(reply) }),
            }
        }
        if !tail.is_empty() {
            self.ingest(tail).await;
        }
        if self.needs_rebuild {
            match self.rebuild().await {
                Ok(()) => self.needs_rebuild = false,
                Err(err) => {
                    tracing::warn!(forum = %self.state.forum.id, %err, "store still unavailable");
                    work.iter_mut().for_each(Work::refuse);
                    return;
                }
            }
        }
        if !work.is_empty() {
            self.decide_and_persist(&mut work).await;
        }
        self.publish_outcomes().await;
        self.maybe_snapshot().await;
    }

    async fn decide_and_persist(&mut self, work: &mut [Work]) {
        let shared = self.store.shared();
        for attempt in 1..=MAX_ATTEMPTS {
            // Decide against everything other nodes have appended so far. When
            // the store cannot even be read, the append would fail too: answer now.
            if shared && let Err(err) = self.catch_up().await {
                tracing::warn!(forum = %self.state.forum.id, %err, "store unavailable; refusing the batch");
                work.iter_mut().for_each(Work::refuse);
                return;
            }
            let contended = self.last_conflict.is_some_and(|at| at.elapsed() < CONTENTION_WINDOW);
            let checkpoint = (shared && contended).then(|| self.state.clone());
            let head_before = self.state.head;
            let pending = self.decide_all(work, now_ms());
            let records: Vec<Record> = pending
                .iter()
                .filter_map(|p| p.entry.as_ref())
                .map(|e| Record { seq: e.seq, payload: e.encode() })
                .collect();
            match self.store.append(&self.state.forum.id, &records).await {
                Ok(()) => {
                    self.log_bytes_since_snapshot += records.iter().map(|r| r.payload.len() as u64).sum::<u64>();
                    return self.finish(pending, work);
                }
                Err(StoreError::OutOfOrder { .. }) if shared => {
                    tracing::debug!(forum = %self.state.forum.id, attempt, "another node appended first; deciding again");
                    self.last_conflict = Some(Instant::now());
                    if !self.undo_batch(checkpoint, head_before).await {
                        work.iter_mut().for_each(Work::refuse);
                        return;
                    }
                    // A random pause breaks the symmetry of two busy nodes that
                    // would otherwise keep colliding on the same sequence number.
                    let cap_ms = 1u64 << attempt.min(5);
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..cap_ms * 1000))).await;
                }
                Err(err) => {
                    tracing::error!(forum = %self.state.forum.id, %err, "append failed; refusing the batch");
                    work.iter_mut().for_each(Work::refuse);
                    // On a shared store, what may have landed arrives with the next catch-up.
                    self.undo_batch(checkpoint, head_before).await;
                    return;
                }
            }
        }
        tracing::warn!(forum = %self.state.forum.id, "gave up after {MAX_ATTEMPTS} conflicting appends");
        work.iter_mut().for_each(Work::refuse);
    }

    /// Decide every unanswered request of the batch, applying as it goes.
    /// Refusals are answered at once; the rest wait for the append.
    fn decide_all(&mut self, work: &mut [Work], now: u64) -> Vec<Pending> {
        let mut pending = Vec::new();
        let mut deferred = Vec::new();
        for (index, item) in work.iter_mut().enumerate() {
            match item {
                Work::Command { reply: None, .. }
                | Work::Attach { reply: None, .. }
                | Work::View { reply: None, .. } => {}
                Work::Command { actor, request_id, command, reply } => {
                    let key = RequestKey { actor: actor_key(*actor), id: request_id.clone() };
                    if let Some(info) = self.state.applied.get(&key) {
                        // Answered only after this batch persists, in case the original is in it.
                        let after = After::Ack { info: info.clone(), duplicate: true };
                        pending.push(Pending { work: index, entry: None, frames: [None, None], after });
                        continue;
                    }
                    match self.state.forum.decide(*actor, command, now) {
                        Err(err) => {
                            if let Some(reply) = reply.take() {
                                let _ = reply.send(frames::refused(Some(request_id.clone()), &err));
                            }
                        }
                        Ok(event) => {
                            let (entry, frames) = self.apply_new(now, Some(key), event);
                            let after = After::Ack { info: AckInfo::of(&entry), duplicate: false };
                            pending.push(Pending { work: index, entry: Some(entry), frames, after });
                        }
                    }
                }
                Work::Attach { credential, reply, .. } => match self.authenticate(credential) {
                    Ok(Authenticated::Known(actor, token)) => deferred.push((index, After::Attach { actor, token })),
                    Ok(Authenticated::New { channel, name }) => {
                        let token = tokens::generate(&self.state.forum.id);
                        match self.state.forum.decide_join(channel, name.as_deref(), tokens::hash(&token)) {
                            Ok(event) => {
                                let (entry, frames) = self.apply_new(now, None, event);
                                if let Event::ParticipantJoined { participant, .. } = entry.event {
                                    let after = After::Joined { actor: Actor::Participant(participant), token };
                                    pending.push(Pending { work: index, entry: Some(entry), frames, after });
                                }
                            }
                            Err(err) => {
                                if let Some(reply) = reply.take() {
                                    let _ = reply.send(Err(AttachError::Refused(err)));
                                }
                            }
                        }
                    }
                    Err(err) => {
                        if let Some(reply) = reply.take() {
                            let _ = reply.send(Err(err));
                        }
                    }
                },
                Work::View { .. } => deferred.push((index, After::View)),
            }
        }
        // Attaches and views last: their snapshot or replay and their
        // subscription start after every frame of this batch.
        pending.extend(deferred.into_iter().map(|(work, after)| Pending {
            work,
            entry: None,
            frames: [None, None],
            after,
        }));
        pending
    }

    /// The batch is persisted: publish its frames and answer everyone, in order.
    fn finish(&mut self, pending: Vec<Pending>, work: &mut [Work]) {
        let ring_capacity = self.config.ring_capacity;
        for p in pending {
            if let Some(entry) = &p.entry {
                let [staff, public] = p.frames;
                if let Some(f) = staff {
                    self.staff.publish(entry.seq, f, ring_capacity);
                }
                if let Some(f) = public {
                    self.crowd.send_event(&f);
                    self.public.publish(entry.seq, f, ring_capacity);
                }
                self.outcomes.extend(outcome_record(&self.state.forum, entry));
            }
            match (&mut work[p.work], p.after) {
                (Work::Command { request_id, reply, .. }, After::Ack { info, duplicate }) => {
                    if let Some(reply) = reply.take() {
                        let _ = reply.send(frames::ack(request_id.clone(), &info, duplicate));
                    }
                }
                (
                    Work::Attach { last_seq, reply, .. },
                    After::Joined { actor, token } | After::Attach { actor, token },
                ) => {
                    let attached = self.attach(actor, token, *last_seq);
                    if let Some(reply) = reply.take() {
                        let _ = reply.send(Ok(attached));
                    }
                }
                (Work::View { audience, reply }, After::View) => {
                    if let Some(reply) = reply.take() {
                        let _ = reply.send(view::forum_view(&self.state.forum, *audience, self.state.head));
                    }
                }
                // A pending answer always matches the request it was made for.
                _ => {}
            }
        }
    }

    fn authenticate(&self, credential: &Credential) -> Result<Authenticated, AttachError> {
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
        match credential {
            Credential::Token(token) => {
                known(token).map(|a| Authenticated::Known(a, token.clone())).ok_or(AttachError::Unauthorized)
            }
            Credential::Join { participant_token: Some(token), .. } => known(token)
                .filter(|a| matches!(a, Actor::Participant(_)))
                .map(|a| Authenticated::Known(a, token.clone()))
                .ok_or(AttachError::Unauthorized),
            Credential::Join { channel, name, participant_token: None } => {
                Ok(Authenticated::New { channel: *channel, name: name.clone() })
            }
        }
    }

    /// Chain, apply and render a freshly decided event.
    fn apply_new(&mut self, now: u64, request: Option<RequestKey>, event: Event) -> (Entry, [Option<Frame>; 2]) {
        let entry = Entry::new(self.state.head + 1, now, &self.state.head_hash, request, event);
        self.state.apply_entry(&entry);
        self.mark_dirty(&entry.event);
        let frames = [
            frames::event(&self.state.forum, &entry, Audience::Staff),
            frames::event(&self.state.forum, &entry, Audience::Public),
        ];
        (entry, frames)
    }

    /// Apply records other nodes appended, publishing their frames.
    async fn ingest(&mut self, mut records: Vec<Record>) {
        records.retain(|r| r.seq > self.state.head);
        if records.first().is_some_and(|r| r.seq != self.state.head + 1) {
            // The tail skipped ahead of us: read what lies between.
            match self.store.read_after(&self.state.forum.id, self.state.head).await {
                Ok(all) => records = all,
                Err(err) => {
                    tracing::warn!(forum = %self.state.forum.id, %err, "cannot fill a gap from the store");
                    return;
                }
            }
        }
        let ring_capacity = self.config.ring_capacity;
        for record in records {
            if record.seq <= self.state.head {
                continue;
            }
            self.log_bytes_since_snapshot += record.payload.len() as u64;
            let entry = match self.state.apply_record(&record) {
                Ok(entry) => entry,
                Err(err) => {
                    tracing::error!(forum = %self.state.forum.id, %err, "a stored record cannot be applied; rebuilding");
                    self.needs_rebuild = true;
                    return;
                }
            };
            self.mark_dirty(&entry.event);
            if let Some(frame) = frames::event(&self.state.forum, &entry, Audience::Staff) {
                self.staff.publish(entry.seq, frame, ring_capacity);
            }
            if let Some(frame) = frames::event(&self.state.forum, &entry, Audience::Public) {
                self.crowd.send_event(&frame);
                self.public.publish(entry.seq, frame, ring_capacity);
            }
            // The node that appended a close publishes its outcome; a node
            // that loads the forum later publishes any that were missed.
        }
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        let records = self.store.read_after(&self.state.forum.id, self.state.head).await?;
        if !records.is_empty() {
            self.ingest(records).await;
        }
        Ok(())
    }

    fn mark_dirty(&mut self, event: &Event) {
        let forum = &self.state.forum;
        match event {
            Event::BallotCast { poll, .. }
            | Event::ComparisonCast { poll, .. }
            | Event::HallCountEntered { poll, .. }
            | Event::PollOpened { poll }
            | Event::ResultsRevealed { poll } => {
                self.dirty.insert(*poll);
            }
            // A new current item starts with an empty temperature check.
            Event::SignalSet { .. } | Event::ItemActivated { .. } => self.temperature_dirty = true,
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
        let replay: Option<Vec<Frame>> = last_seq
            .filter(|s| *s >= outlet.floor && *s <= head)
            .map(|s| outlet.ring.iter().filter(|(seq, _)| *seq > s).map(|(_, f)| f.clone()).collect());
        let welcome = frames::welcome(forum, head, role, audience, participant, replay.as_ref().map(Vec::len));
        let mut sent_first = vec![welcome];
        if let Some(replayed) = replay {
            sent_first.extend(replayed);
            for poll in forum.polls.values() {
                if poll.status == PollStatus::Open && view::tally_visible(poll, audience) {
                    sent_first.push(frames::tally(head, forum.tally(poll)));
                }
            }
            if let Some(temperature) = view::current_temperature(forum) {
                sent_first.push(frames::temperature(head, temperature));
            }
        }
        let updates = match actor {
            Actor::Participant(id) => self.crowd.subscribe(id),
            _ => outlet.tx.subscribe(),
        };
        Attached { actor, frames: sent_first, updates }
    }

    /// Send the latest tally of every poll whose ballots changed since the
    /// last tick, and the current item's temperature check if it changed.
    fn tallies_pending(&self) -> bool {
        !self.dirty.is_empty() || self.temperature_dirty || self.crowd.pending()
    }

    /// Send changed tallies and the temperature: to moderators and displays
    /// at every tick; to participants a few shards at a time (`crowd`).
    fn publish_tallies(&mut self) {
        let shards = self.crowd_shards_per_tick();
        let forum = &self.state.forum;
        if std::mem::take(&mut self.temperature_dirty) {
            let frame =
                view::current_temperature(forum).map(|temperature| frames::temperature(self.state.head, temperature));
            if let Some(frame) = &frame {
                let _ = self.staff.tx.send(frame.clone());
                let _ = self.public.tx.send(frame.clone());
            }
            self.crowd.temperature_changed(frame);
        }
        for poll_id in std::mem::take(&mut self.dirty) {
            let Some(poll) = forum.polls.get(&poll_id) else { continue };
            if poll.status != PollStatus::Open {
                continue;
            }
            let frame = frames::tally(self.state.head, forum.tally(poll));
            let _ = self.staff.tx.send(frame.clone());
            if view::tally_visible(poll, Audience::Public) {
                let _ = self.public.tx.send(frame.clone());
                self.crowd.tally_changed(poll_id, frame);
            }
        }
        self.crowd.serve(shards, |poll_id| {
            forum
                .polls
                .get(&poll_id)
                .is_some_and(|p| p.status == PollStatus::Open && view::tally_visible(p, Audience::Public))
        });
    }

    /// How many of the crowd's shards hear tallies at this tick (`crowd::shards_due`).
    fn crowd_shards_per_tick(&mut self) -> usize {
        let listeners = self.crowd.listeners();
        let (rate, tick) = (self.config.crowd_tally_frames_per_sec, self.config.tally_interval);
        crowd::shards_due(&mut self.crowd_credit, listeners, rate, tick)
    }

    async fn publish_outcomes(&mut self) {
        for outcome in std::mem::take(&mut self.outcomes) {
            if let Err(err) = self.store.publish_outcome(&outcome).await {
                // Other nodes, or this one at its next start, publish it again.
                tracing::warn!(forum = %outcome.forum, seq = outcome.seq, %err, "outcome not published yet");
            }
        }
    }

    async fn maybe_snapshot(&mut self) {
        if self.state.head < self.snapshot_seq + self.config.snapshot_every
            || self.log_bytes_since_snapshot < self.snapshot_bytes
        {
            return;
        }
        let snapshot = self.state.to_snapshot();
        match self.store.save_snapshot(&self.state.forum.id, &snapshot).await {
            Ok(()) => {
                self.snapshot_seq = snapshot.seq;
                self.snapshot_bytes = snapshot.payload.len() as u64;
                self.log_bytes_since_snapshot = 0;
            }
            Err(err) => tracing::warn!(forum = %self.state.forum.id, %err, "snapshot not saved"),
        }
    }

    /// Undo a batch that did not land: restore the copy taken before it, or
    /// else rebuild. On a shared store the rebuild stops at the old head, so
    /// that what other nodes appended is ingested (and published) next; the
    /// embedded store has no other writer, so whatever it holds is the forum.
    /// False when the store could not be read: the task rebuilds before its
    /// next batch.
    async fn undo_batch(&mut self, checkpoint: Option<ForumState>, head_before: u64) -> bool {
        let restored = match checkpoint {
            Some(checkpoint) => {
                self.state = checkpoint;
                Ok(())
            }
            None if self.store.shared() => self.restore_to(head_before).await,
            None => self.rebuild().await,
        };
        if let Err(err) = restored {
            tracing::warn!(forum = %self.state.forum.id, %err, "rebuild failed; will retry");
            self.needs_rebuild = true;
            return false;
        }
        true
    }

    /// Undo a batch that did not land: the state at `head` again, from the
    /// store. Not the store's head: what other nodes appended after `head`
    /// is ingested next, so that its frames are published here too.
    async fn restore_to(&mut self, head: u64) -> Result<(), ReplayError> {
        let forum_id = self.state.forum.id.clone();
        let (mut base, mut records) = read_state(self.store.as_ref(), &forum_id).await?;
        if base.as_ref().is_some_and(|b| b.head > head) {
            // Another node's snapshot is already past `head`: start from the log.
            base = None;
            records = self.store.read_after(&forum_id, 0).await?;
        }
        records.retain(|r| r.seq <= head);
        let state = match base {
            Some(base) => base.replay_tail(&records, |_, _| {})?,
            None => ForumState::replay(&records, |_, _| {})?,
        };
        if state.head != head {
            return Err(ReplayError::Gap { head: state.head, got: head });
        }
        self.state = state;
        Ok(())
    }

    async fn rebuild(&mut self) -> Result<(), ReplayError> {
        let (base, records) = read_state(self.store.as_ref(), &self.state.forum.id).await?;
        self.state = match base {
            Some(base) => base.replay_tail(&records, |_, _| {})?,
            None => ForumState::replay(&records, |_, _| {})?,
        };
        Ok(())
    }
}

enum Authenticated {
    Known(Actor, String),
    New { channel: Channel, name: Option<String> },
}

/// The latest usable snapshot and the records after it. A snapshot that
/// cannot be decoded is passed over: the log alone rebuilds the forum.
async fn read_state(store: &dyn EventStore, forum_id: &str) -> Result<(Option<ForumState>, Vec<Record>), ReplayError> {
    let base = match store.load_snapshot(forum_id).await? {
        Some(snapshot) => match ForumState::from_snapshot(&snapshot) {
            Ok(state) => Some(state),
            Err(err) => {
                tracing::warn!(forum = forum_id, %err, "ignoring an unreadable snapshot");
                None
            }
        },
        None => None,
    };
    let after = base.as_ref().map_or(0, |b| b.head);
    let records = store.read_after(forum_id, after).await?;
    Ok((base, records))
}

fn outcome_record(forum: &Forum, entry: &Entry) -> Option<OutcomeRecord> {
    let Event::PollClosed { poll, outcome } = &entry.event else { return None };
    Some(OutcomeRecord {
        forum: forum.id.clone(),
        seq: entry.seq,
        poll: poll.0,
        title: outcome.title.clone(),
        closed_at_ms: outcome.closed_at_ms,
        outcome_json: serde_json::to_string(outcome).unwrap_or_default(),
    })
}

/// Feed a forum task what other nodes append to a shared store, until shutdown.
pub async fn tail(
    store: Arc<dyn EventStore>,
    forum_id: String,
    mut after: u64,
    requests: mpsc::Sender<Request>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let read = tokio::select! {
            _ = shutdown.cancelled() => return,
            read = store.wait_after(&forum_id, after, TAIL_WAIT) => read,
        };
        match read {
            Ok(records) => {
                backoff = Duration::from_millis(100);
                let Some(last) = records.last().map(|r| r.seq) else { continue };
                after = last;
                // Bounded: when the forum task is busy, the tail waits.
                if requests.send(Request::Tail(records)).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                tracing::debug!(forum = %forum_id, %err, "tail read failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Handle to a running forum task.
#[derive(Clone)]
pub struct ForumHandle {
    pub requests: mpsc::Sender<Request>,
}

/// The default pacing of tally frames.
pub const DEFAULT_TALLY_INTERVAL: Duration = Duration::from_millis(100);
