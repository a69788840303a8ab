//! Redis replies turned into records, or into [`StoreError::Corrupt`].
//!
//! A stream entry is `0-<seq>` with one field `r` holding the payload; anything
//! else in a forum's stream is damage this store did not write, and is
//! reported rather than skipped. These functions only decode: which command
//! produced the reply, and whether to retry, is the caller's business.

use bytes::Bytes;
use redis::Value;

use crate::store::{Record, StoreError};

/// Damage in a forum's keys; Redis has no byte offsets, so it is 0.
pub(super) fn corrupt(forum: &str, reason: String) -> StoreError {
    StoreError::Corrupt { forum: forum.to_owned(), offset: 0, reason }
}

/// `0-<seq>` -> seq.
pub(super) fn parse_id(forum: &str, id: &[u8]) -> Result<u64, StoreError> {
    std::str::from_utf8(id)
        .ok()
        .and_then(|s| s.strip_prefix("0-"))
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&seq| seq > 0)
        .ok_or_else(|| corrupt(forum, format!("stream entry id {:?} is not 0-<seq>", String::from_utf8_lossy(id))))
}

/// Move `page` onto `out`, checking that it continues the log from `last`;
/// returns the new last seq. A gap is damage: entry ids are seqs.
pub(super) fn extend_contiguous(
    forum: &str,
    mut last: u64,
    page: Vec<Record>,
    out: &mut Vec<Record>,
) -> Result<u64, StoreError> {
    for record in page {
        if record.seq != last.wrapping_add(1) {
            return Err(corrupt(forum, format!("stream has seq {} after {last}", record.seq)));
        }
        last = record.seq;
        out.push(record);
    }
    Ok(last)
}

/// Stream entries (`XRANGE`/`XREVRANGE` reply, or one stream of an `XREAD` reply) as records.
pub(super) fn parse_entries(forum: &str, value: Value) -> Result<Vec<Record>, StoreError> {
    let items = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) => items,
        other => return Err(corrupt(forum, format!("unexpected stream reply {other:?}"))),
    };
    items.into_iter().map(|item| parse_entry(forum, item)).collect()
}

fn parse_entry(forum: &str, item: Value) -> Result<Record, StoreError> {
    let Value::Array(mut parts) = item else {
        return Err(corrupt(forum, format!("unexpected stream entry {item:?}")));
    };
    if parts.len() != 2 {
        return Err(corrupt(forum, format!("stream entry with {} parts", parts.len())));
    }
    let fields = parts.pop().unwrap_or_default();
    let seq = match parts.pop() {
        Some(Value::BulkString(id)) => parse_id(forum, &id)?,
        Some(Value::SimpleString(id)) => parse_id(forum, id.as_bytes())?,
        other => return Err(corrupt(forum, format!("unexpected stream entry id {other:?}"))),
    };
    let pairs: Vec<(Value, Value)> = match fields {
        Value::Array(flat) => {
            let mut flat = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        Value::Map(pairs) => pairs,
        other => return Err(corrupt(forum, format!("unexpected fields of entry 0-{seq}: {other:?}"))),
    };
    for (k, v) in pairs {
        if let (Value::BulkString(k), Value::BulkString(payload)) = (k, v)
            && k.as_slice() == b"r"
        {
            return Ok(Record { seq, payload: Bytes::from(payload) });
        }
    }
    Err(corrupt(forum, format!("stream entry 0-{seq} has no field r")))
}

/// An `XREAD` reply for one stream: nil on timeout, else [[key, entries]] (RESP2) or {key: entries} (RESP3).
pub(super) fn parse_xread(forum: &str, value: Value) -> Result<Vec<Record>, StoreError> {
    let entries = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => match streams.into_iter().next() {
            Some(Value::Array(mut stream)) if stream.len() == 2 => stream.pop().unwrap_or_default(),
            None => return Ok(Vec::new()),
            Some(other) => return Err(corrupt(forum, format!("unexpected XREAD stream {other:?}"))),
        },
        Value::Map(streams) => match streams.into_iter().next() {
            Some((_, entries)) => entries,
            None => return Ok(Vec::new()),
        },
        other => return Err(corrupt(forum, format!("unexpected XREAD reply {other:?}"))),
    };
    parse_entries(forum, entries)
}
