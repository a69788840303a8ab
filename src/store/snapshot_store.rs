//! Snapshots of a forum's state, so that loading a forum replays only the tail
//! of its log.
//!
//! A snapshot is an optimisation, never the truth: the log alone can always
//! rebuild a forum, which is why a damaged snapshot may be passed over.

use bytes::Bytes;

use super::StoreError;

/// A forum's state as of `seq`, opaque to the store (the hub encodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: u64,
    pub payload: Bytes,
}

/// The latest snapshot per forum.
///
/// **Ordering.** One snapshot per forum: a save replaces the previous one,
/// whatever their seqs. The store does not check `seq` against the log; the
/// caller saves only states whose records are already appended.
///
/// **Durability.** A save is durable when it returns, and atomic: a load sees
/// the previous snapshot or the new one, and a torn snapshot is never loaded.
///
/// **Errors.** The forum id is validated first ([`StoreError::InvalidForumId`]).
/// A snapshot the backend can tell is damaged is either ignored (`None`, with
/// a warning) or reported as [`StoreError::Corrupt`]; either way the caller can
/// fall back to replaying the whole log.
#[async_trait::async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// Keep a snapshot of a forum's state as of `snapshot.seq`, replacing the previous one.
    async fn save_snapshot(&self, forum: &str, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// The latest snapshot of a forum, if any.
    async fn load_snapshot(&self, forum: &str) -> Result<Option<Snapshot>, StoreError>;
}
