//! The store: ordered, durable records per forum, and what rides along with
//! them (snapshots, published outcomes, the backend's health).
//!
//! The store is deliberately ignorant of what a record means. Per forum it
//! keeps a sequence of opaque byte payloads numbered 1, 2, 3, ... with no
//! gaps; the hub encodes its events (as JSON) before handing them down.
//! Keeping the contract this small is what lets several backends (the
//! embedded on-disk log, Redis Streams) be swapped behind [`Store`] and be held
//! to the same behaviour by one conformance suite (`conformance`, test-only).
//!
//! The contract comes in pieces, so that each caller can say which one it
//! relies on and each can be read on its own:
//!
//! - [`EventLog`]: the ordered log itself (append, read, head), and whether
//!   other processes append to it too (`shared`, then tailed with `wait_after`);
//! - [`SnapshotStore`]: the latest state per forum, to shorten replay;
//! - [`OutcomeSink`]: outcomes for systems outside Madang;
//! - [`Backend`]: health and shutdown of the backend as a whole.
//!
//! [`Store`] is all of them; a backend implements the pieces and gets it for
//! free.

mod backend;
mod error;
mod event_log;
mod forum_id;
mod outcome_sink;
mod snapshot_store;

pub mod embedded;
pub mod redis;

#[cfg(test)]
pub(crate) mod conformance;

pub use backend::{Backend, DamagedForum};
pub use error::StoreError;
pub use event_log::{EventLog, Record};
pub(crate) use forum_id::validate_forum_id;
pub use outcome_sink::{OutcomeRecord, OutcomeSink};
pub use snapshot_store::{Snapshot, SnapshotStore};

/// Every contract a backend offers: what the hub holds as `Arc<dyn Store>`.
pub trait Store: EventLog + SnapshotStore + OutcomeSink + Backend {}

impl<T: EventLog + SnapshotStore + OutcomeSink + Backend> Store for T {}
