//! The ordered log of records per forum: the one contract the hub's
//! correctness rests on.
//!
//! A record is opaque bytes to the store (the hub encodes its events as JSON
//! before handing them down); the log knows only numbering and integrity.

use std::time::Duration;

use bytes::Bytes;

use super::StoreError;

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

/// An ordered, durable log of opaque records per forum.
///
/// **Ordering.** Per forum, records are numbered 1, 2, 3, ... with no gaps,
/// and every read returns them in that order. The caller owns numbering: it
/// proposes the next seqs and the log only checks that they continue it
/// (the batch's first seq is head + 1 and the batch is contiguous). A retried
/// or duplicated append is therefore [`StoreError::OutOfOrder`], never a
/// silent duplicate, and of several writers racing for the same seq exactly
/// one wins.
///
/// **Durability.** When [`append`](Self::append) returns Ok, the records are
/// durable as far as the backend can make them (embedded: fsynced; Redis:
/// applied by Redis, on disk as its AOF setting says) and readable by every
/// caller of the same log.
///
/// **Errors.** Every method validates the forum id first
/// ([`StoreError::InvalidForumId`]). An append refused as `OutOfOrder` or
/// `InvalidForumId` wrote nothing; one that failed with `Io` left nothing
/// readable (the embedded store rolls it back). One that failed as
/// [`StoreError::Unavailable`] may or may not have landed: retrying the same
/// seqs either succeeds or gets `OutOfOrder`. After a crash, a prefix of a
/// batch that was never acknowledged may have survived; what the log returns
/// on restart is the truth.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Ids of every forum that has at least one record, sorted.
    async fn forums(&self) -> Result<Vec<String>, StoreError>;
    /// Append a contiguous batch; when this returns Ok the records are durable. Empty batch = Ok no-op.
    async fn append(&self, forum: &str, records: &[Record]) -> Result<(), StoreError>;
    /// Records with seq > `after`, in order (after = 0 reads all).
    async fn read_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError>;
    /// The last seq of the forum (0 if none).
    async fn head(&self, forum: &str) -> Result<u64, StoreError>;

    /// Whether other processes append to the same forums (Redis: several hub
    /// nodes). When true, the hub tails each forum with [`EventLog::wait_after`].
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
}
