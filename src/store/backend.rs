//! The backend as a whole, apart from any one forum: its health and its
//! shutdown.

use super::StoreError;

/// A forum's log that cannot be served: where the damage starts and why.
/// The reason describes the framing only, never the records' content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedForum {
    pub forum: String,
    /// Byte offset in the log of the first record that is not good.
    pub offset: u64,
    pub reason: String,
}

/// Health and lifecycle of a storage backend.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Why the store cannot serve right now, if it cannot (shown by `/healthz`).
    /// Cheap: reports the last failure seen, without a round trip.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// Forums whose stored log is damaged, found when the store opened: they
    /// are quarantined (every call on them fails as [`StoreError::Corrupt`])
    /// while every other forum serves. Repairing one is an operator's
    /// decision (`madang check --repair`), never the server's.
    fn damaged_forums(&self) -> Vec<DamagedForum> {
        Vec::new()
    }

    /// Flush and release everything; later calls may fail. Closing twice is Ok.
    async fn close(&self) -> Result<(), StoreError>;
}
