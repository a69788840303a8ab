//! The single writer of one forum.
//!
//! One task per forum owns its state. Connections send it requests over a
//! bounded channel (`request`); it decides, appends to the store, applies,
//! answers and fans out. This file is the task's loop: it takes requests in
//! batches, ticks the tallies, and stops on shutdown after answering what it
//! already took. The steps live beside it:
//!
//! - `batch`: group commit; decide a batch in memory, append it at once,
//!   answer and publish only after the append returned.
//! - `attach`: credentials, and what a connection hears first.
//! - `fanout`: events, conflated tallies and outcomes, out to their audiences.
//! - `outlet`: one audience's channel (`fanout_channel`) and resume buffer.
//! - `replication`: other nodes' records on a shared store (the tail task).
//! - `recovery`: undoing a batch that did not land, rebuilding from the store.
//! - `snapshot`: when to save the state, and reading it back.
//!
//! Architecture invariant: no connection ever touches forum state; no lock
//! is held across an `.await` (there are no locks here at all).

mod attach;
mod batch;
mod fanout;
mod outlet;
mod recovery;
mod replication;
mod request;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use madang_protocol::{IdeaId, PollId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::HubConfig;
use super::crowd::Crowd;
use super::fanout_channel::Budget;
use super::frames;
use super::journal::Entry;
use super::state::{ForumState, ReplayError};
use super::view::Audience;
use crate::domain::Forum;
use crate::store::{OutcomeRecord, Record, Store};
use batch::BatchRequest;
use outlet::{Conflation, Outlet, RingBudget};

pub(crate) use replication::tail;
pub(crate) use request::{AttachError, Attached, Credential, ForumHandle, Request};

/// A forum, as its single writer holds it: state, outlets, and what is owed to listeners and the store.
pub(crate) struct ForumTask {
    state: ForumState,
    store: Arc<dyn Store>,
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
    /// Polls whose tally changed since the last tick.
    dirty_polls: BTreeSet<PollId>,
    /// The current item's temperature check changed since the last tick.
    temperature_dirty: bool,
    /// Ideas whose support changed since the last tick.
    dirty_ideas: BTreeSet<IdeaId>,
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
    /// or from the whole log when there is no usable snapshot. Entries from
    /// before the snapshot refill the resume buffers (SPEC §6.2 keeps the
    /// last `ring_capacity` events across restarts).
    pub(crate) async fn load(
        store: Arc<dyn Store>,
        forum_id: &str,
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let (base, records) = snapshot::read_state(store.as_ref(), forum_id).await?;
        let before = match &base {
            Some(base) => snapshot::entries_before(store.as_ref(), base, config.ring_capacity).await,
            None => Vec::new(),
        };
        Self::build(store, base, &before, &records, config)
    }

    /// A forum whose creation entries were just appended.
    pub(crate) fn created(
        store: Arc<dyn Store>,
        entries: &[Entry],
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let records: Vec<Record> = entries.iter().map(Entry::record).collect();
        Self::build(store, None, &[], &records, config)
    }

    /// Replay `records` after `base` (or from the start); the last
    /// `ring_capacity` of `before` (the entries up to `base`) and `records`
    /// (within `ring_bytes`) also fill the resume buffers. The entries of
    /// `before` are rendered against `base`, the only state of theirs at hand:
    /// each shows what it touched as it stood at the snapshot, so a client that
    /// resumes through them ends where live clients are.
    fn build(
        store: Arc<dyn Store>,
        base: Option<ForumState>,
        before: &[Entry],
        records: &[Record],
        config: Arc<HubConfig>,
    ) -> Result<ForumTask, ReplayError> {
        let start = base.as_ref().map_or(0, |b| b.head);
        let kept = (before.len() + records.len()) as u64;
        let floor = start - before.len() as u64 + kept.saturating_sub(config.ring_capacity as u64);
        let budget = RingBudget { frames: config.ring_capacity, bytes: config.ring_bytes };
        let conflation = Conflation { interval: config.tally_interval, burst: config.whole_state_burst };
        let channel = Budget { frames: config.broadcast_capacity, bytes: config.fanout_bytes };
        let mut staff = Outlet::new(channel, floor, budget, conflation);
        let mut public = Outlet::new(channel, floor, budget, conflation);
        let mut outcomes = Vec::new();
        let mut keep = |forum: &Forum, entry: &Entry| {
            if entry.seq > floor {
                for (outlet, audience) in [(&mut staff, Audience::Staff), (&mut public, Audience::Public)] {
                    if let Some(frame) = frames::event(forum, entry, audience) {
                        outlet.keep(entry.seq, frame);
                    }
                }
            }
        };
        if let Some(base) = &base {
            before.iter().for_each(|entry| keep(&base.forum, entry));
        }
        let visit = |forum: &Forum, entry: &Entry| {
            keep(forum, entry);
            outcomes.extend(fanout::outcome_record(forum, entry));
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
            crowd: Crowd::new(channel),
            crowd_credit: 0.0,
            dirty_polls: BTreeSet::new(),
            temperature_dirty: false,
            dirty_ideas: BTreeSet::new(),
            needs_rebuild: false,
            snapshot_seq,
            log_bytes_since_snapshot: records.iter().map(|r| r.payload.len() as u64).sum(),
            snapshot_bytes: 0,
            last_conflict: None,
            outcomes,
        })
    }

    pub(crate) fn forum(&self) -> &Forum {
        &self.state.forum
    }

    pub(crate) fn head(&self) -> u64 {
        self.state.head
    }

    /// Serve requests until `shutdown`; then answer what is already queued and stop.
    pub(crate) async fn run(mut self, mut requests: mpsc::Receiver<Request>, shutdown: CancellationToken) {
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
                    let started = Instant::now();
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

    /// One batch: other nodes' records first, then a rebuild if one is owed,
    /// then the requests; then outcomes and, when due, a snapshot.
    async fn process(&mut self, received: Vec<Request>) {
        let (mut requests, tail) = BatchRequest::take_all(received);
        if !tail.is_empty() {
            self.ingest(tail).await;
        }
        if self.needs_rebuild {
            match self.rebuild().await {
                Ok(()) => self.needs_rebuild = false,
                Err(err) => {
                    tracing::warn!(forum = %self.state.forum.id, %err, "store still unavailable");
                    requests.iter_mut().for_each(BatchRequest::refuse);
                    return;
                }
            }
        }
        if !requests.is_empty() {
            self.decide_and_persist(&mut requests).await;
        }
        self.publish_outcomes().await;
        self.maybe_snapshot().await;
    }
}
