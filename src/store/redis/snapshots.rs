//! Snapshots as one Redis hash per forum, `P:{<forum>}:snapshot`, holding
//! `seq` (decimal) and `payload` (bytes).
//!
//! One `HSET` writes both fields, so a load never sees the seq of one
//! snapshot with the payload of another. A hash missing a field is reported
//! as corrupt; the caller can then replay the log alone.

use std::collections::HashMap;

use bytes::Bytes;
use redis::{Value, cmd};

use super::RedisStore;
use crate::store::{Snapshot, SnapshotStore, StoreError, validate_forum_id};

#[async_trait::async_trait]
impl SnapshotStore for RedisStore {
    async fn save_snapshot(&self, forum: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        validate_forum_id(forum)?;
        let mut hset = cmd("HSET");
        hset.arg(self.keys.snapshot(forum)).arg("seq").arg(snapshot.seq).arg("payload").arg(snapshot.payload.as_ref());
        self.connections.query::<Value>("HSET snapshot", hset).await?;
        Ok(())
    }

    async fn load_snapshot(&self, forum: &str) -> Result<Option<Snapshot>, StoreError> {
        validate_forum_id(forum)?;
        let mut hgetall = cmd("HGETALL");
        hgetall.arg(self.keys.snapshot(forum));
        let mut fields: HashMap<String, Vec<u8>> = self.connections.query("HGETALL snapshot", hgetall).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let corrupt = |reason: &str| StoreError::Corrupt {
            forum: forum.to_owned(),
            offset: 0,
            reason: format!("snapshot hash {}: {reason}", self.keys.snapshot(forum)),
        };
        let seq = fields
            .get("seq")
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| corrupt("missing or invalid field seq"))?;
        let payload = fields.remove("payload").ok_or_else(|| corrupt("missing field payload"))?;
        Ok(Some(Snapshot { seq, payload: Bytes::from(payload) }))
    }
}
