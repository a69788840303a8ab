//! Snapshots: when a forum's state is saved, and reading the latest back.
//!
//! A snapshot is taken every `snapshot_every` events at the earliest, and only
//! once the log has grown by as many bytes as the last snapshot had, so that
//! writing snapshots never costs more than writing the log (replay after a
//! restart stays bounded by about twice the snapshot's size). What a snapshot
//! holds is `ForumState`'s business; this module only decides when.

use super::ForumTask;
use crate::hub::journal::{Entry, JournalError};
use crate::hub::state::{ForumState, ReplayError};
use crate::store::{Record, Store};

impl ForumTask {
    /// Save a snapshot if enough has happened since the last one; a failure
    /// is only logged, since the log alone still rebuilds the forum.
    pub(super) async fn maybe_snapshot(&mut self) {
        if self.state.head < self.snapshot_seq + self.config.snapshot_every
            || self.log_bytes_since_snapshot < self.snapshot_bytes
        {
            return;
        }
        let snapshot = match self.state.to_snapshot() {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::error!(forum = %self.state.forum.id, %err, "snapshot cannot be encoded");
                return;
            }
        };
        match self.store.save_snapshot(&self.state.forum.id, &snapshot).await {
            Ok(()) => {
                self.snapshot_seq = snapshot.seq;
                self.snapshot_bytes = snapshot.payload.len() as u64;
                self.log_bytes_since_snapshot = 0;
            }
            Err(err) => tracing::warn!(forum = %self.state.forum.id, %err, "snapshot not saved"),
        }
    }
}

/// The latest usable snapshot and the records after it. A snapshot that
/// cannot be decoded is passed over: the log alone rebuilds the forum.
pub(super) async fn read_state(
    store: &dyn Store,
    forum_id: &str,
) -> Result<(Option<ForumState>, Vec<Record>), ReplayError> {
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

/// The last `count` entries up to `base`'s head, for the resume buffers;
/// chained, and ending at `base`'s hash. Only resumes need them, so a read
/// that fails, or entries that do not chain to the snapshot, leave the
/// buffers to start at the snapshot instead.
pub(super) async fn entries_before(store: &dyn Store, base: &ForumState, count: usize) -> Vec<Entry> {
    let from = base.head.saturating_sub(count as u64);
    if from >= base.head {
        return Vec::new();
    }
    let forum_id = &base.forum.id;
    let records = match store.read_after(forum_id, from).await {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(forum = %forum_id, %err, "resume buffers start at the snapshot: the log could not be read");
            return Vec::new();
        }
    };
    let records: Vec<&Record> = records.iter().take_while(|r| r.seq <= base.head).collect();
    match chained_to(&records, from, &base.head_hash) {
        Ok(entries) if entries.last().is_some_and(|e| e.seq == base.head) => entries,
        Ok(_) => Vec::new(),
        Err(err) => {
            tracing::warn!(forum = %forum_id, %err, "resume buffers start at the snapshot");
            Vec::new()
        }
    }
}

/// Decode records numbered from `after + 1`, each chained to the one before
/// and the last one to `head_hash`.
fn chained_to(records: &[&Record], after: u64, head_hash: &str) -> Result<Vec<Entry>, JournalError> {
    let mut entries: Vec<Entry> = Vec::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        let seq = after + 1 + n as u64;
        // The first entry is taken at its word about what it follows: the chain is anchored at its end.
        let entry = match entries.last() {
            Some(before) => Entry::decode(seq, &record.payload, &before.hash)?,
            None => Entry::decode_unanchored(seq, &record.payload)?,
        };
        entries.push(entry);
    }
    match entries.last() {
        Some(last) if last.hash != head_hash => Err(JournalError::BrokenChain { seq: last.seq }),
        _ => Ok(entries),
    }
}
