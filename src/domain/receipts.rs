//! Ballot receipts, and the short code they share with record fingerprints.
//!
//! A receipt is computed when a ballot is decided and carried in its event,
//! so that replay gives the same one; it is recomputed only for logs written
//! before events carried it. It is an HMAC keyed by a secret of the forum, so
//! nobody without the key can tell whose it is or guess another's.

use hmac::{Hmac, Mac};
use madang_protocol::{ParticipantId, PollId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Crockford base32: no I, L, O or U, so that a code read aloud or typed is not misread.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The first 60 bits of `digest` (big-endian) as 12 Crockford base32
/// symbols in three groups of four: `XXXX-XXXX-XXXX` (RECORD.md §2).
pub fn short_code(digest: &[u8]) -> String {
    let mut bits = [0u8; 8];
    let take = digest.len().min(8);
    bits[..take].copy_from_slice(&digest[..take]);
    let first60 = u64::from_be_bytes(bits) >> 4;
    let mut out = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let symbol = (first60 >> (55 - 5 * i)) & 31;
        out.push(CROCKFORD[symbol as usize] as char);
    }
    out
}

/// A participant's receipt in one poll: how many ballots they cast there
/// (so the next one gets a new receipt) and the receipt of the one in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub casts: u32,
    pub current: String,
}

/// The receipt of `participant`'s ballot in `poll` after `earlier_casts`
/// ballots there (RECORD.md §6). `key` is the forum's receipt key in hex; a
/// key that is not hex is used as its bytes (never written by the hub).
pub fn receipt(key: &str, poll: PollId, participant: ParticipantId, earlier_casts: u32) -> String {
    let key_bytes = hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec());
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key_bytes) else { return String::new() };
    mac.update(format!("madang.receipt.v1|{poll}|{participant}|{earlier_casts}").as_bytes());
    short_code(&mac.finalize().into_bytes())
}

/// The receipt key of a forum whose creation carried none (written before
/// receipts existed): derived from the two token hashes of its first event,
/// which are in the private log only.
pub fn legacy_key(moderator_token_hash: &str, display_token_hash: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"madang.receipt-key.v1\n");
    hasher.update(moderator_token_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(display_token_hash.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_code_is_the_first_60_bits_in_crockford_base32() {
        // SHA-256 of "" and of "abc" (RECORD.md §2's worked example).
        assert_eq!(short_code(&Sha256::digest(b"")), "WERC-8GMR-ZGE1");
        assert_eq!(short_code(&Sha256::digest(b"abc")), "Q9W1-DFWF-077Y");
        assert_eq!(short_code(&[0u8; 32]), "0000-0000-0000");
        assert_eq!(short_code(&[0xff; 32]), "ZZZZ-ZZZZ-ZZZZ");
    }

    #[test]
    fn receipts_are_deterministic_and_differ_across_polls_people_and_recasts() {
        let key = "11".repeat(32);
        let r = |poll, participant, casts| receipt(&key, PollId(poll), ParticipantId(participant), casts);
        assert_eq!(r(1, 1, 0), r(1, 1, 0));
        let all =
            [r(1, 1, 0), r(1, 1, 1), r(2, 1, 0), r(1, 2, 0), receipt(&"22".repeat(32), PollId(1), ParticipantId(1), 0)];
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        assert!(all.iter().all(|r| r.len() == 14 && r.as_bytes()[4] == b'-' && r.as_bytes()[9] == b'-'));
    }

    #[test]
    fn legacy_keys_depend_on_both_hashes() {
        assert_ne!(legacy_key("a", "b"), legacy_key("a", "c"));
        assert_eq!(legacy_key("a", "b").len(), 64);
    }
}
