//! Journal entries: how one event is written into the store.
//!
//! Each entry carries the SHA-256 of the entry before it, so a published log
//! is a hash chain: anyone holding it can recount an outcome and see that no
//! event was changed, dropped or reordered. Replay checks the chain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Event;

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

/// One stored entry. Field order is the serialization order, which the hash covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub at_ms: u64,
    pub prev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestKey>,
    pub event: Event,
    /// SHA-256 (hex) over `prev` and the JSON of the entry without `hash`.
    #[serde(default)]
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("entry {seq} is not valid JSON: {source}")]
    Decode { seq: u64, source: serde_json::Error },
    #[error("entry {seq} says it is entry {found}")]
    Misnumbered { seq: u64, found: u64 },
    #[error("entry {seq} breaks the hash chain")]
    BrokenChain { seq: u64 },
    /// Never expected (our event types serialize to plain JSON), but an entry
    /// that could not be written must not be written as an empty record.
    #[error("entry {seq} cannot be encoded: {source}")]
    Encode { seq: u64, source: serde_json::Error },
}

impl Entry {
    /// A new entry chained to `prev`, with its hash computed.
    pub fn new(
        seq: u64,
        at_ms: u64,
        prev: &str,
        request: Option<RequestKey>,
        event: Event,
    ) -> Result<Entry, JournalError> {
        let mut entry = Entry { seq, at_ms, prev: prev.to_string(), request, event, hash: String::new() };
        entry.hash = entry.compute_hash()?;
        Ok(entry)
    }

    fn compute_hash(&self) -> Result<String, JournalError> {
        let unhashed = Entry { hash: String::new(), ..self.clone() };
        let body = serde_json::to_vec(&unhashed).map_err(|source| JournalError::Encode { seq: self.seq, source })?;
        let mut hasher = Sha256::new();
        hasher.update(self.prev.as_bytes());
        hasher.update(b"\n");
        hasher.update(&body);
        Ok(hex::encode(hasher.finalize()))
    }

    /// The entry as stored.
    pub fn encode(&self) -> Result<bytes::Bytes, JournalError> {
        let bytes = serde_json::to_vec(self).map_err(|source| JournalError::Encode { seq: self.seq, source })?;
        Ok(bytes::Bytes::from(bytes))
    }

    /// Decode entry `seq` and check that it follows `prev` in the chain.
    pub fn decode(seq: u64, payload: &[u8], prev: &str) -> Result<Entry, JournalError> {
        let entry: Entry = serde_json::from_slice(payload).map_err(|source| JournalError::Decode { seq, source })?;
        if entry.seq != seq {
            return Err(JournalError::Misnumbered { seq, found: entry.seq });
        }
        if entry.prev != prev || entry.hash != entry.compute_hash()? {
            return Err(JournalError::BrokenChain { seq });
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_round_trips_and_detects_tampering() {
        let a = Entry::new(1, 10, GENESIS_HASH, None, Event::ForumStarted {}).unwrap();
        let b = Entry::new(
            2,
            11,
            &a.hash,
            Some(RequestKey { actor: "moderator".into(), id: "r1".into() }),
            Event::ForumClosed {},
        )
        .unwrap();
        assert_eq!(Entry::decode(1, &a.encode().unwrap(), GENESIS_HASH).unwrap(), a);
        assert_eq!(Entry::decode(2, &b.encode().unwrap(), &a.hash).unwrap(), b);
        assert!(matches!(
            Entry::decode(2, &b.encode().unwrap(), GENESIS_HASH),
            Err(JournalError::BrokenChain { seq: 2 })
        ));
        assert!(matches!(
            Entry::decode(3, &b.encode().unwrap(), &a.hash),
            Err(JournalError::Misnumbered { seq: 3, found: 2 })
        ));
        let tampered = String::from_utf8(b.encode().unwrap().to_vec()).unwrap().replace("r1", "r2");
        assert!(matches!(Entry::decode(2, tampered.as_bytes(), &a.hash), Err(JournalError::BrokenChain { seq: 2 })));
    }

    #[test]
    fn floats_in_outcomes_survive_the_hash_chain() {
        use madang_protocol::{OptionId, Outcome, PollId, PollMethod, ScoreStat, Tally, TallyResult};
        // Means like 7/3 must read back bit for bit, or replay would see a broken chain.
        // serde_json parses floats exactly only with its `float_roundtrip`
        // feature (without it, about one value in six of these read back off by a bit).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values: Vec<f64> = vec![7.0 / 3.0, 1.0 / 3.0, 2.0 / 7.0, 123_457.0 / 99_991.0];
        while values.len() < 5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x >> 1);
            if f.is_finite() {
                values.push(f);
            }
        }
        for (n, mean) in values.into_iter().enumerate() {
            let (sum, ballots) = (n as u64, 1);
            let stat = ScoreStat { option: OptionId(1), ballots, sum, mean, median: 2.5, distribution: [0; 6] };
            let tally = Tally {
                poll: PollId(1),
                ballots,
                result: TallyResult::Score { stats: vec![stat], ranking: vec![vec![OptionId(1)]] },
                by_channel: None,
                ranked: None,
                no_votes: false,
            };
            let outcome = Outcome {
                poll: PollId(1),
                title: "t".into(),
                method: PollMethod::Score {},
                closed_at_ms: 1,
                tally,
                record: None,
            };
            let entry =
                Entry::new(2, 1, GENESIS_HASH, None, Event::PollClosed { poll: PollId(1), outcome: Box::new(outcome) })
                    .unwrap();
            assert_eq!(Entry::decode(2, &entry.encode().unwrap(), GENESIS_HASH).expect("the chain holds"), entry);
        }
    }
}
