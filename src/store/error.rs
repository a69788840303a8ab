//! What can go wrong below the hub, in terms the hub can act on.
//!
//! One error type for every backend, so that the hub's reaction (refuse, retry,
//! reload from the log) does not depend on which backend it runs on. Each
//! variant says what the caller may do next; the backend-specific detail
//! (an I/O error, a Redis reply) rides along as text or as the source.

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Local I/O failed, or the call could not run (closed store, invalid
    /// configuration, oversized payload: `kind()` tells which).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An append did not continue the log: `records[0].seq` must be head+1 and the batch contiguous.
    #[error("append out of order in forum {forum}: expected seq {expected}, got {got}")]
    OutOfOrder { forum: String, expected: u64, got: u64 },
    /// Damage that is not a torn tail: the store refuses to guess. Every call
    /// on a forum quarantined for it fails so (see `Backend::damaged_forums`).
    #[error("forum {forum} log is corrupt at byte {offset}: {reason}")]
    Corrupt { forum: String, offset: u64, reason: String },
    /// The embedded store's directory is in use by another process.
    #[error("data directory {dir} is in use by another process{holder}; stop it first, or use another --data-dir")]
    Locked { dir: String, holder: String },
    #[error("invalid forum id {0:?}")]
    InvalidForumId(String),
    /// The backend cannot be reached now; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}
