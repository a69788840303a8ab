//! The event store: ordered, durable records per forum.
//!
//! The store is deliberately ignorant of what a record means. Per forum it
//! keeps a sequence of opaque byte payloads numbered 1, 2, 3, ... with no
//! gaps; the hub encodes its events (as JSON) before handing them down. Keeping
//! the contract this small is what lets several backends (the embedded on-disk
//! log here, Redis Streams later) be swapped behind [`EventStore`] and be held
//! to the same behaviour by one conformance suite (`conformance`, test-only).
//!
//! The caller owns numbering: it proposes the next seqs and the store only
//! checks that they continue the log. That makes a retried or duplicated
//! append visible as [`StoreError::OutOfOrder`] instead of a silent duplicate.

use std::time::Duration;

use bytes::Bytes;

pub mod embedded;
pub mod redis;

#[cfg(test)]
pub(crate) mod conformance;

/// Longest accepted forum id, in bytes.
pub const MAX_FORUM_ID_LEN: usize = 64;

/// One persisted record: its sequence number in its forum, and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub payload: Bytes,
}

impl Record {
    pub fn new(seq: u64, payload: impl Into<Bytes>) -> Self {
        Self { seq, payload: payload.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An append did not continue the log: records[0].seq must be head+1 and the batch contiguous.
    #[error("append out of order in forum {forum}: expected seq {expected}, got {got}")]
    OutOfOrder { forum: String, expected: u64, got: u64 },
    /// Damage that is not a torn tail: the store refuses to guess.
    #[error("forum {forum} log is corrupt at byte {offset}: {reason}")]
    Corrupt { forum: String, offset: u64, reason: String },
    #[error("invalid forum id {0:?}")]
    InvalidForumId(String),
    /// The backend cannot be reached now; the caller may retry. (Used by Redis later.)
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// An ordered, durable log of opaque records per forum.
///
/// Every method validates the forum id first (see [`validate_forum_id`]).
/// An append is all-or-nothing as far as callers of the same store can see:
/// when it returns an error, none of the batch is readable. (After a crash,
/// a prefix of a batch that was never acknowledged may have survived; the
/// caller must treat what the store returns on restart as the truth.)
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Ids of every forum that has at least one record, sorted.
    async fn forums(&self) -> Result<Vec<String>, StoreError>;
    /// Append a contiguous batch; when this returns Ok the records are durable (fsynced). Empty batch = Ok no-op.
    async fn append(&self, forum: &str, records: &[Record]) -> Result<(), StoreError>;
    /// Records with seq > `after`, in order (after = 0 reads all).
    async fn read_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError>;
    /// The last seq of the forum (0 if none).
    async fn head(&self, forum: &str) -> Result<u64, StoreError>;
    /// Flush and release everything; later calls may fail.
    async fn close(&self) -> Result<(), StoreError>;

    /// Whether other processes append to the same forums (Redis: several hub
    /// nodes). When true, the hub tails each forum with [`EventStore::wait_after`].
    fn shared(&self) -> bool {
        false
    }

    /// Records with seq > `after`, waiting up to `max_wait` for the first one
    /// to exist; an empty result means none arrived in time.
    async fn wait_after(&self, forum: &str, after: u64, max_wait: Duration) -> Result<Vec<Record>, StoreError> {
        let records = self.read_after(forum, after).await?;
        if records.is_empty() {
            tokio::time::sleep(max_wait).await;
            return self.read_after(forum, after).await;
        }
        Ok(records)
    }

    /// Keep a snapshot of a forum's state as of `snapshot.seq`, replacing the
    /// previous one. Durable when it returns; a torn snapshot is never loaded.
    async fn save_snapshot(&self, forum: &str, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// The latest snapshot of a forum, if any.
    async fn load_snapshot(&self, forum: &str) -> Result<Option<Snapshot>, StoreError>;

    /// Tell other systems about a recorded outcome (Redis: the global
    /// outcomes stream). At least once per (forum, seq); the embedded store
    /// has no consumers and does nothing.
    async fn publish_outcome(&self, _outcome: &OutcomeRecord) -> Result<(), StoreError> {
        Ok(())
    }

    /// Why the store cannot serve right now, if it cannot (shown by `/healthz`).
    fn degraded(&self) -> Option<String> {
        None
    }
}

/// A forum's state as of `seq`, opaque to the store (the hub encodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: u64,
    pub payload: Bytes,
}

/// A recorded outcome, for consumers outside Madang. The fields are
/// documented in protocol/OUTCOMES.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub forum: String,
    /// The sequence number of the `poll_closed` event in the forum's log.
    pub seq: u64,
    pub poll: u32,
    pub title: String,
    pub closed_at_ms: u64,
    /// The outcome as JSON (the protocol's `Outcome`).
    pub outcome_json: String,
}

/// Forum ids are 1..=64 bytes of `[a-z0-9-]`.
///
/// Besides keeping ids uniform across backends, this is the path-traversal
/// guard for the embedded store, which uses the id as a file name: no `.`,
/// `/`, `\` or NUL can ever get through.
pub fn validate_forum_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_FORUM_ID_LEN
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(StoreError::InvalidForumId(id.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forum_id_rules() {
        for good in ["a", "forum-1", "0", "-", &"a".repeat(64)] {
            assert!(validate_forum_id(good).is_ok(), "{good:?} should be valid");
        }
        for bad in ["", "../x", "Forum", "a b", "a.log", "a/b", "a\\b", "a\0", "é", &"a".repeat(65)] {
            assert!(
                matches!(validate_forum_id(bad), Err(StoreError::InvalidForumId(ref s)) if s == bad),
                "{bad:?} should be rejected"
            );
        }
    }
}
