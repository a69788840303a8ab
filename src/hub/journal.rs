//! Journal entries: how one event is written into the store.
//!
//! An entry is stored as the JSON `{seq, at_ms, prev, request?, event}`, and
//! its hash is the SHA-256 of exactly those bytes as stored; the next entry's
//! `prev` is that hash. So a published log is a hash chain: anyone holding it
//! can recount an outcome and see that no event was changed, dropped or
//! reordered. Replay checks the chain.
//!
//! Nothing is ever hashed or passed on re-encoded: an [`Entry`] keeps the
//! bytes it was read from (or written as). A field this build does not know,
//! written by a newer build, is therefore ignored when decoding, kept in the
//! stored bytes, and changes no hash, so builds of different ages can share
//! one log during a rolling upgrade.
//!
//! Entries of the previous format carry their own `hash`, computed over a
//! re-encoding of the entry; they still verify by that rule
//! ([`legacy_hash`]), so a log can start in the previous format and go on in
//! this one.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::domain::Event;
use crate::store::Record;

/// The hash the first entry of every forum chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an entry, and with which request id: enough to answer a
/// resent command with its original ack, even after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestKey {
    /// `moderator`, or `p<participant id>`.
    pub actor: String,
    pub id: String,
}

/// One entry of the log, decoded, with the bytes it is stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub at_ms: u64,
    /// The hash of the entry before (`GENESIS_HASH` for the first).
    pub prev: String,
    pub request: Option<RequestKey>,
    pub event: Event,
    /// What the next entry names as its `prev`: SHA-256 (hex) of `raw`, or
    /// the `hash` a previous-format entry carries.
    pub hash: String,
    /// The entry exactly as stored: what is hashed, appended and passed on,
    /// fields this build does not know included.
    pub raw: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("entry {seq} cannot be decoded: {source}")]
    Decode { seq: u64, source: serde_json::Error },
    #[error("entry {seq} says it is entry {found}")]
    Misnumbered { seq: u64, found: u64 },
    #[error("entry {seq} breaks the hash chain")]
    BrokenChain { seq: u64 },
    /// Written by a newer build: the log is sound, this node is too old.
    #[error("entry {seq} holds an event this build does not know (type {kind:?}); upgrade this node")]
    UnknownEvent { seq: u64, kind: String },
    /// Never expected (our event types serialize to plain JSON), but an entry
    /// that could not be written must not be written as an empty record.
    #[error("entry {seq} cannot be encoded: {source}")]
    Encode { seq: u64, source: serde_json::Error },
}

/// An entry as this build writes it. Field order is the stored order.
#[derive(Serialize)]
struct Written<'a> {
    seq: u64,
    at_ms: u64,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<&'a RequestKey>,
    event: &'a Event,
}

/// An entry as read: any format, unknown fields ignored (they stay in the
/// stored bytes). The event is read on its own, so that an event type this
/// build does not know can be told from damage.
#[derive(Deserialize)]
struct Stored<'a> {
    seq: u64,
    at_ms: u64,
    prev: String,
    #[serde(default)]
    request: Option<RequestKey>,
    #[serde(borrow)]
    event: &'a RawValue,
    /// Only in the previous format.
    #[serde(default)]
    hash: Option<String>,
}

impl Entry {
    /// A new entry chained to `prev`, encoded once; its hash is that of the encoding.
    pub fn new(
        seq: u64,
        at_ms: u64,
        prev: &str,
        request: Option<RequestKey>,
        event: Event,
    ) -> Result<Entry, JournalError> {
        let written = Written { seq, at_ms, prev, request: request.as_ref(), event: &event };
        let raw = Bytes::from(serde_json::to_vec(&written).map_err(|source| JournalError::Encode { seq, source })?);
        let hash = stored_hash(&raw);
        Ok(Entry { seq, at_ms, prev: prev.to_string(), request, event, hash, raw })
    }

    /// The record that stores this entry: its bytes as they are.
    pub fn record(&self) -> Record {
        Record { seq: self.seq, payload: self.raw.clone() }
    }

    /// Decode entry `seq` and check that it follows `prev` in the chain.
    pub fn decode(seq: u64, payload: &Bytes, prev: &str) -> Result<Entry, JournalError> {
        Self::read(seq, payload, Some(prev))
    }

    /// Decode entry `seq` without checking what it follows: for the first
    /// entry of a stretch whose chain is anchored at its end instead.
    pub fn decode_unanchored(seq: u64, payload: &Bytes) -> Result<Entry, JournalError> {
        Self::read(seq, payload, None)
    }

    fn read(seq: u64, payload: &Bytes, prev: Option<&str>) -> Result<Entry, JournalError> {
        let stored: Stored = serde_json::from_slice(payload).map_err(|source| JournalError::Decode { seq, source })?;
        if stored.seq != seq {
            return Err(JournalError::Misnumbered { seq, found: stored.seq });
        }
        if prev.is_some_and(|prev| stored.prev != prev) {
            return Err(JournalError::BrokenChain { seq });
        }
        let event = decode_event(seq, stored.event)?;
        let hash = match stored.hash {
            Some(hash) if !hash.is_empty() => {
                if legacy_hash(seq, stored.at_ms, &stored.prev, stored.request.as_ref(), &event)? != hash {
                    return Err(JournalError::BrokenChain { seq });
                }
                hash
            }
            _ => stored_hash(payload),
        };
        Ok(Entry {
            seq,
            at_ms: stored.at_ms,
            prev: stored.prev,
            request: stored.request,
            event,
            hash,
            raw: payload.clone(),
        })
    }

    /// An entry in the previous format, as the build before this one wrote
    /// it. The hub never writes one; tests and the fuzzer do, to cover
    /// [`legacy_hash`].
    #[doc(hidden)]
    pub fn in_previous_format(
        seq: u64,
        at_ms: u64,
        prev: &str,
        request: Option<RequestKey>,
        event: Event,
    ) -> Result<Entry, JournalError> {
        let hash = legacy_hash(seq, at_ms, prev, request.as_ref(), &event)?;
        let body = Legacy { seq, at_ms, prev, request: request.as_ref(), event: &event, hash: &hash };
        let raw = Bytes::from(serde_json::to_vec(&body).map_err(|source| JournalError::Encode { seq, source })?);
        Ok(Entry { seq, at_ms, prev: prev.to_string(), request, event, hash, raw })
    }
}

/// The chain hash of an entry in this format: SHA-256 (hex) of its stored bytes.
fn stored_hash(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// The previous format's entry, in its field order, which its hash covers.
#[derive(Serialize)]
struct Legacy<'a> {
    seq: u64,
    at_ms: u64,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<&'a RequestKey>,
    event: &'a Event,
    hash: &'a str,
}

/// The hash a previous-format entry carries: SHA-256 (hex) over `prev`, a
/// newline, and the JSON of the entry re-encoded by this build with `"hash":""`.
///
/// It exists only so that logs written before entries were hashed as stored
/// still verify, and a forum from the previous build replays and goes on.
/// Because it re-encodes, it holds only while this build encodes the entry
/// exactly as the build that wrote it: that is why it was replaced, and why
/// nothing new is hashed this way.
fn legacy_hash(
    seq: u64,
    at_ms: u64,
    prev: &str,
    request: Option<&RequestKey>,
    event: &Event,
) -> Result<String, JournalError> {
    let body = Legacy { seq, at_ms, prev, request, event, hash: "" };
    let body = serde_json::to_vec(&body).map_err(|source| JournalError::Encode { seq, source })?;
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    Ok(hex::encode(hasher.finalize()))
}

/// Entry `seq`'s event; a type this build does not know is its own error,
/// so that an old node says it is old rather than that the log is damaged.
fn decode_event(seq: u64, raw: &RawValue) -> Result<Event, JournalError> {
    serde_json::from_str(raw.get()).map_err(|source| {
        #[derive(Deserialize)]
        struct Tagged {
            #[serde(rename = "type")]
            kind: String,
        }
        match serde_json::from_str::<Tagged>(raw.get()) {
            Ok(Tagged { kind }) if !is_known_event_type(&kind) => JournalError::UnknownEvent { seq, kind },
            _ => JournalError::Decode { seq, source },
        }
    })
}

/// Whether `kind` is the `type` of an event of this build. Asked of
/// `Event`'s own deserializer (so there is no second list to keep in step),
/// which reports a tag it does not know as `unknown_variant`.
fn is_known_event_type(kind: &str) -> bool {
    #[derive(Debug)]
    struct Probe {
        unknown_variant: bool,
    }
    impl fmt::Display for Probe {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(if self.unknown_variant { "unknown event type" } else { "a known event type" })
        }
    }
    impl std::error::Error for Probe {}
    impl serde::de::Error for Probe {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Probe { unknown_variant: false }
        }
        fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
            Probe { unknown_variant: true }
        }
    }
    let tag = serde::de::value::MapDeserializer::<_, Probe>::new(std::iter::once(("type", kind)));
    !matches!(Event::deserialize(tag), Err(Probe { unknown_variant: true }))
}

#[cfg(test)]
mod tests;
