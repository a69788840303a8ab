//! The outcomes stream, `P:outcomes`, for consumers outside Madang.
//!
//! [`OutcomeSink::publish_outcome`] adds one entry to `P:outcomes` (auto id)
//! with the fields `forum`, `seq` (decimal), `poll` (decimal), `title`,
//! `closed_at_ms` (decimal, Unix milliseconds), `outcome` (JSON, the
//! protocol's `Outcome`; see protocol/OUTCOMES.md) and `record` (the path of
//! the forum's public record), at least once per
//! (forum, seq): it skips seqs already in `P:{f}:published` and adds the seq
//! there after the `XADD`. A failure between the two steps can publish twice.

use redis::{Value, cmd};

use super::RedisStore;
use crate::store::{OutcomeRecord, OutcomeSink, StoreError, validate_forum_id};

#[async_trait::async_trait]
impl OutcomeSink for RedisStore {
    async fn publish_outcome(&self, outcome: &OutcomeRecord) -> Result<(), StoreError> {
        validate_forum_id(&outcome.forum)?;
        let published = self.keys.published(&outcome.forum);
        let mut is_member = cmd("SISMEMBER");
        is_member.arg(&published).arg(outcome.seq);
        if self.connections.query::<bool>("SISMEMBER published", is_member).await? {
            return Ok(());
        }
        let mut add_entry = cmd("XADD");
        add_entry
            .arg(self.keys.outcomes())
            .arg("*")
            .arg("forum")
            .arg(&outcome.forum)
            .arg("seq")
            .arg(outcome.seq)
            .arg("poll")
            .arg(outcome.poll)
            .arg("title")
            .arg(&outcome.title)
            .arg("closed_at_ms")
            .arg(outcome.closed_at_ms)
            .arg("outcome")
            .arg(&outcome.outcome_json)
            .arg("record")
            .arg(format!("/api/forums/{}/record", outcome.forum));
        self.connections.query::<Value>("XADD outcomes", add_entry).await?;
        let mut mark = cmd("SADD");
        mark.arg(&published).arg(outcome.seq);
        self.connections.query::<Value>("SADD published", mark).await?;
        Ok(())
    }
}
