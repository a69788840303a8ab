//! Where recorded outcomes go for systems outside Madang.
//!
//! Publishing is a side channel: the forum's log already holds the outcome,
//! so a failed publish never undoes or blocks a forum.

use super::StoreError;

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

/// Tells other systems about recorded outcomes.
///
/// **Delivery.** At least once per (forum, seq): publishing the same outcome
/// again is skipped, but a failure halfway can publish it twice. A backend
/// with no consumers may drop every outcome.
///
/// **Errors.** The forum id is validated first ([`StoreError::InvalidForumId`]);
/// any other error means the outcome may not have been published and the
/// caller may try again.
#[async_trait::async_trait]
pub trait OutcomeSink: Send + Sync + 'static {
    /// Publish one outcome (Redis: the global outcomes stream).
    async fn publish_outcome(&self, outcome: &OutcomeRecord) -> Result<(), StoreError>;
}
