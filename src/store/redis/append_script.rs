//! Appends: explicit ids and a compare-and-append script.
//!
//! The stream entry id is the record's seq (`0-<seq>`), so stream order is seq
//! order and `XRANGE`/`XREAD` positions are seqs. An append is one Lua script
//! over the single key `P:{f}:events` (EVALSHA, falling back to loading the
//! script): it reads the last entry id and, only if the batch's first seq is
//! head + 1, `XADD`s every record. Redis runs a script atomically, so this is a
//! compare-and-append: however many hub nodes append to a forum, exactly one
//! writer of a given seq wins and the others get [`StoreError::OutOfOrder`].
//! That gives every forum one total order across all nodes.

use redis::{Script, ScriptInvocation};

use super::replies::parse_id;
use crate::store::{Record, StoreError};

/// The compare-and-append script. `KEYS[1]` = the forum's stream; `ARGV[1]` = the
/// id the last entry must have (`""` = the stream must be empty); then pairs
/// of (entry id, payload). Returns `{'ok'}` or `{'conflict', <last id or ''>}`.
const APPEND_SCRIPT: &str = r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local head = ''
if #last > 0 then head = last[1][1] end
if head ~= ARGV[1] then return {'conflict', head} end
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'r', ARGV[i + 1])
end
return {'ok'}
"#;

/// [`APPEND_SCRIPT`], loaded once per store (EVALSHA after the first call).
pub(super) struct AppendScript(Script);

impl AppendScript {
    pub(super) fn new() -> Self {
        Self(Script::new(APPEND_SCRIPT))
    }

    /// Append `records` (non-empty, contiguous) to the stream `events_key`
    /// only if they continue it.
    pub(super) fn invocation(&self, events_key: String, records: &[Record]) -> ScriptInvocation<'_> {
        let expected_last = match records[0].seq {
            0 => "none".to_owned(), // matches no stream: reported as a conflict with the real head
            1 => String::new(),
            n => format!("0-{}", n - 1),
        };
        let mut invocation = self.0.key(events_key);
        invocation.arg(expected_last);
        for record in records {
            invocation.arg(format!("0-{}", record.seq)).arg(record.payload.as_ref());
        }
        invocation
    }
}

/// What the script answered to an append of `forum` starting at `first`.
pub(super) fn check_reply(forum: &str, first: u64, reply: &[Vec<u8>]) -> Result<(), StoreError> {
    match reply {
        [ok] if ok.as_slice() == b"ok" => Ok(()),
        [conflict, head] if conflict.as_slice() == b"conflict" => {
            let head = if head.is_empty() { 0 } else { parse_id(forum, head)? };
            Err(StoreError::OutOfOrder { forum: forum.to_owned(), expected: head.wrapping_add(1), got: first })
        }
        other => Err(StoreError::Unavailable(format!("redis append: unexpected script reply {other:?}"))),
    }
}
