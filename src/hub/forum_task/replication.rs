//! Replication: applying what other hub nodes appended to a shared store.
//!
//! On a shared store (Redis, several nodes), the store's log is the forum's
//! one order. A tail task per forum waits for records other nodes append and
//! feeds them to the forum task, which applies and publishes them like its
//! own; before each batch the task also catches up, so it decides against
//! everything appended so far, and appends with compare-and-append (a batch
//! that loses the race is decided again: see `batch`). So the log only ever
//! holds events that were valid where they stand, and every node applies the
//! same events in the same order. The embedded store has no other writer and
//! starts no tail.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ForumTask;
use super::fanout::{EventFrames, RunFrames, drop_superseded};
use super::request::Request;
use crate::store::{EventLog, Record, StoreError};

/// How long a tail read waits for other nodes' records before asking again.
const TAIL_WAIT: Duration = Duration::from_secs(5);

impl ForumTask {
    /// Apply records other nodes appended, publishing their frames (after
    /// all of them are applied: a run of hall ballots gets one hall check).
    pub(super) async fn ingest(&mut self, mut records: Vec<Record>) {
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
        let mut run = RunFrames::default();
        let mut applied: Vec<(u64, EventFrames)> = Vec::new();
        for record in records {
            if record.seq <= self.state.head {
                continue;
            }
            self.log_bytes_since_snapshot += record.payload.len() as u64;
            let entry = match self.state.decode_next(&record) {
                Ok(entry) => entry,
                Err(err) => {
                    tracing::error!(forum = %self.state.forum.id, %err, "a stored record cannot be applied; rebuilding");
                    self.needs_rebuild = true;
                    break;
                }
            };
            let hall_ballot = self.settle_hall_checks_before(&entry.event, &mut run.hall);
            self.state.apply_entry(&entry);
            self.mark_dirty(&entry.event);
            applied.push((entry.seq, self.render_batch_event(&entry, hall_ballot, &mut run)));
            // The node that appended a close publishes its outcome; a node
            // that loads the forum later publishes any that were missed.
        }
        // What was applied is published, also when a later record stopped the ingest.
        run.settle(&self.state.forum, applied.iter_mut().map(|(seq, event_frames)| (*seq, event_frames)));
        drop_superseded(applied.iter_mut().map(|(_, event_frames)| event_frames));
        for (seq, event_frames) in applied {
            self.publish_event(seq, event_frames);
        }
    }

    /// Apply whatever other nodes appended since our head.
    pub(super) async fn catch_up(&mut self) -> Result<(), StoreError> {
        let records = self.store.read_after(&self.state.forum.id, self.state.head).await?;
        if !records.is_empty() {
            self.ingest(records).await;
        }
        Ok(())
    }
}

/// Feed a forum task what other nodes append to a shared store, until shutdown.
pub(crate) async fn tail(
    store: Arc<dyn EventLog>,
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
