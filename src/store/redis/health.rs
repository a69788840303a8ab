//! Whether the Redis store can serve right now, as `/healthz` reports it.
//!
//! Every Redis interaction reports its outcome here, so the health is the
//! last thing that happened, with no probing of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Last failure, cleared by the next success. The flag is the fast path; both
/// are written under the lock, which is never held across an `.await`.
#[derive(Default)]
pub(super) struct Health {
    failing: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Health {
    /// A Redis interaction succeeded.
    pub(super) fn ok(&self) {
        if self.failing.load(Ordering::Acquire) {
            let mut reason = lock(&self.reason);
            if self.failing.swap(false, Ordering::AcqRel) {
                tracing::info!(previous = ?reason.as_deref(), "redis store reachable again");
            }
            *reason = None;
        }
    }

    /// A Redis interaction failed, for this reason.
    pub(super) fn fail(&self, why: &str) {
        let mut reason = lock(&self.reason);
        if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(reason = why, "redis store degraded");
        }
        *reason = Some(why.to_owned());
    }

    /// The last failure, unless something succeeded since.
    pub(super) fn reason(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.reason).clone()
    }
}

/// What these locks guard (a reason, idle connections) stays valid if a holder
/// panicked, so a poisoned lock is simply taken.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
