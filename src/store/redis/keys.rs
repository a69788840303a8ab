//! Where everything lives in Redis: the key layout, which is a stored format.
//!
//! `P` is the configured prefix (default `madang`). Every per-forum key carries
//! the forum id as a hash tag, `{<forum>}`, so a Redis Cluster keeps all of a
//! forum's keys on one slot (the append script touches only one key anyway).
//!
//! | key                    | type   | content                                                    |
//! |------------------------|--------|------------------------------------------------------------|
//! | `P:{<forum>}:events`   | stream | one entry per record, entry id `0-<seq>`, one field `r` = payload bytes |
//! | `P:{<forum>}:snapshot` | hash   | `seq` (decimal) and `payload` (bytes) of the latest snapshot |
//! | `P:{<forum>}:published`| set    | seqs whose outcome is already on `P:outcomes`               |
//! | `P:forums`             | set    | forum ids (the index, see below)                            |
//! | `P:outcomes`           | stream | outcomes for consumers outside Madang (auto ids, fields below) |
//!
//! A forum id is added to `P:forums` when its seq 1 is appended, *before* the
//! stream append (they live on different slots, so this cannot be one atomic
//! step). A listed forum may therefore have no records yet (the append lost
//! the race or failed); [`EventLog::forums`](crate::store::EventLog::forums) returns only
//! forums whose head is > 0.
//!
//! Renaming a key here orphans every forum already stored under the old one.

use super::config::invalid_config;
use crate::store::StoreError;

/// The names of every key of one store, derived from its prefix.
#[derive(Debug, Clone)]
pub(super) struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    /// Keys under `prefix`, which must not be empty nor hold `{`, `}` or
    /// whitespace: braces would break the hash tags.
    pub(super) fn new(prefix: String) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.chars().any(|c| c == '{' || c == '}' || c.is_whitespace()) {
            return Err(invalid_config(format!("invalid redis key prefix {prefix:?}")));
        }
        Ok(Self { prefix })
    }

    /// `P:{<forum>}:events`
    pub(super) fn events(&self, forum: &str) -> String {
        format!("{}:{{{forum}}}:events", self.prefix)
    }

    /// `P:{<forum>}:snapshot`
    pub(super) fn snapshot(&self, forum: &str) -> String {
        format!("{}:{{{forum}}}:snapshot", self.prefix)
    }

    /// `P:{<forum>}:published`
    pub(super) fn published(&self, forum: &str) -> String {
        format!("{}:{{{forum}}}:published", self.prefix)
    }

    /// `P:forums`
    pub(super) fn forums(&self) -> String {
        format!("{}:forums", self.prefix)
    }

    /// `P:outcomes`
    pub(super) fn outcomes(&self) -> String {
        format!("{}:outcomes", self.prefix)
    }
}
