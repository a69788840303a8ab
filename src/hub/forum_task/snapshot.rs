//! Snapshots: when a forum's state is saved, and reading the latest back.
//!
//! A snapshot is taken every `snapshot_every` events at the earliest, and only
//! once the log has grown by as many bytes as the last snapshot had, so that
//! writing snapshots never costs more than writing the log (replay after a
//! restart stays bounded by about twice the snapshot's size). What a snapshot
//! holds is `ForumState`'s business; this module only decides when.

use super::ForumTask;
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
