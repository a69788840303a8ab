//! The forum logs as Redis streams: reading, tailing and appending.
//!
//! Stream entry ids are seqs (`0-<seq>`), so every read is a range of ids and
//! is checked to be contiguous as it arrives; the append itself is the script
//! in [`append_script`](super::append_script).

use std::time::Duration;

use redis::{Value, cmd};

use super::RedisStore;
use super::append_script::check_reply;
use super::replies::{extend_contiguous, parse_entries, parse_xread};
use crate::store::{EventLog, Record, StoreError, validate_forum_id};

/// Entries per `XRANGE` / `XREAD` page.
const PAGE: usize = 1000;

impl RedisStore {
    /// Records after `after` from `XRANGE`, paged, checked to be contiguous.
    async fn range_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        let key = self.keys.events(forum);
        let mut out = Vec::new();
        let mut last = after;
        loop {
            if last == u64::MAX {
                break;
            }
            let mut range = cmd("XRANGE");
            range.arg(&key).arg(format!("(0-{last}")).arg("+").arg("COUNT").arg(PAGE);
            let page = parse_entries(forum, self.connections.query::<Value>("XRANGE", range).await?)?;
            let page_len = page.len();
            last = extend_contiguous(forum, last, page, &mut out)?;
            if page_len < PAGE {
                break;
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl EventLog for RedisStore {
    async fn forums(&self) -> Result<Vec<String>, StoreError> {
        let members = cmd("SMEMBERS").arg(self.keys.forums()).to_owned();
        let ids: Vec<String> = self.connections.query("SMEMBERS", members).await?;
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| {
                let ok = validate_forum_id(id).is_ok();
                if !ok {
                    tracing::warn!(id, "ignoring invalid forum id in the redis forum index");
                }
                ok
            })
            .collect();
        let heads = futures_util::future::try_join_all(ids.iter().map(|id| self.head(id))).await?;
        let mut forums: Vec<String> =
            ids.into_iter().zip(heads).filter(|(_, head)| *head > 0).map(|(id, _)| id).collect();
        forums.sort();
        Ok(forums)
    }

    async fn append(&self, forum: &str, records: &[Record]) -> Result<(), StoreError> {
        validate_forum_id(forum)?;
        let Some(first) = records.first() else {
            return Ok(());
        };
        for pair in records.windows(2) {
            let expected = pair[0].seq.wrapping_add(1);
            if pair[1].seq != expected {
                return Err(StoreError::OutOfOrder { forum: forum.to_owned(), expected, got: pair[1].seq });
            }
        }
        let first = first.seq;
        if first == 1 {
            // The index entry goes first: a listed forum may be empty, never the reverse.
            let mut add = cmd("SADD");
            add.arg(self.keys.forums()).arg(forum);
            self.connections.query::<Value>("SADD forum index", add).await?;
        }
        let invocation = self.append_script.invocation(self.keys.events(forum), records);
        let reply: Vec<Vec<u8>> = self.connections.invoke("append", invocation).await?;
        check_reply(forum, first, &reply)
    }

    async fn read_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        validate_forum_id(forum)?;
        self.range_after(forum, after).await
    }

    async fn head(&self, forum: &str) -> Result<u64, StoreError> {
        validate_forum_id(forum)?;
        let mut last_entry = cmd("XREVRANGE");
        last_entry.arg(self.keys.events(forum)).arg("+").arg("-").arg("COUNT").arg(1);
        let last = parse_entries(forum, self.connections.query::<Value>("XREVRANGE", last_entry).await?)?;
        Ok(last.first().map_or(0, |r| r.seq))
    }

    fn shared(&self) -> bool {
        true
    }

    async fn wait_after(&self, forum: &str, after: u64, max_wait: Duration) -> Result<Vec<Record>, StoreError> {
        validate_forum_id(forum)?;
        // BLOCK 0 would mean "forever".
        let block_ms = u64::try_from(max_wait.as_millis()).unwrap_or(u64::MAX);
        if block_ms == 0 || after == u64::MAX {
            return self.range_after(forum, after).await;
        }
        let mut read = cmd("XREAD");
        read.arg("COUNT")
            .arg(PAGE)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(self.keys.events(forum))
            .arg(format!("0-{after}"));
        let reply = self.connections.blocking_read(&read, max_wait.saturating_add(self.connections.timeout())).await?;
        let mut records = Vec::new();
        let last = extend_contiguous(forum, after, parse_xread(forum, reply)?, &mut records)?;
        if records.len() >= PAGE {
            records.extend(self.range_after(forum, last).await?);
        }
        Ok(records)
    }
}
