//! What every connection task of a run shares: the arguments, the forum, the
//! live counters, the one clock, and the two signals (run start, phase).
//!
//! Why one struct behind an `Arc`: tens of thousands of tasks read it, and
//! nothing in it is written after the run starts except atomics and the
//! watch channels' senders, which the orchestrator holds. It knows nothing of
//! roles or of how the counters are reported.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use tokio::sync::{Semaphore, watch};

use crate::cli::RunArgs;

/// Where the run is: every task stops when it reads `Stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connect,
    Run,
    Stop,
}

/// Live totals over all connections, for the progress lines and the result.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connected: AtomicU64,
    pub(crate) connect_failed: AtomicU64,
    pub(crate) acks: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) reconnected: AtomicU64,
    /// The size of an agenda `event` frame as received (the ceiling's message size).
    pub(crate) agenda_frame_bytes: AtomicU64,
}

/// The forum under load and its credentials.
pub(crate) struct Forum {
    pub(crate) id: String,
    pub(crate) remote_code: String,
    pub(crate) moderator_token: String,
    pub(crate) display_token: String,
    pub(crate) poll: u64,
    /// The agenda item whose title the moderators change.
    pub(crate) item: u64,
    /// Participant tokens, one a person registered before the run.
    pub(crate) participant_tokens: Vec<String>,
}

pub(crate) struct RunContext {
    pub(crate) args: RunArgs,
    pub(crate) forum: Forum,
    pub(crate) counters: Counters,
    /// The zero of every time stamp a connection records.
    pub(crate) epoch: Instant,
    pub(crate) phase: watch::Receiver<Phase>,
    pub(crate) run_start: watch::Receiver<Option<Instant>>,
    /// Bounds the handshakes in flight.
    pub(crate) connect_permits: Semaphore,
}

impl RunContext {
    /// Microseconds from the epoch to `at`.
    pub(crate) fn micros_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// Microseconds from the epoch to now.
    pub(crate) fn now_micros(&self) -> u64 {
        self.micros_at(Instant::now())
    }
}
