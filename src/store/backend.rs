//! The backend as a whole, apart from any one forum: its health and its
//! shutdown.

use super::StoreError;

/// Health and lifecycle of a storage backend.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Why the store cannot serve right now, if it cannot (shown by `/healthz`).
    /// Cheap: reports the last failure seen, without a round trip.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// Flush and release everything; later calls may fail. Closing twice is Ok.
    async fn close(&self) -> Result<(), StoreError>;
}
