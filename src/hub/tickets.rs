//! Participation tickets' codes: what is printed on a card and typed or scanned to join.
//!
//! A code is the ticket's number and a MAC of it under a key only this
//! forum's server can derive, so the log stores no code (it records ticket
//! numbers) and the console can print the same sheet again at any time. A
//! code cannot be guessed: forging one means guessing 56 bits of MAC, and
//! every wrong code counts against the address like a wrong join code.
//!
//! Written in Crockford's base32 (no I, L, O, U; case, dashes and spaces
//! ignored; O read as 0 and I or L as 1), 16 characters shown as 4 groups of 4.

use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};
use hmac::{Hmac, Mac};
use madang_protocol::{Channel, TicketStatus};
use sha2::{Digest, Sha256};

use crate::domain::Forum;

const MAC_BYTES: usize = 7;
const CODE_BYTES: usize = 3 + MAC_BYTES;

static CROCKFORD: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.translate.from.push_str("abcdefghjkmnpqrstvwxyzOoIiLl");
    spec.translate.to.push_str("ABCDEFGHJKMNPQRSTVWXYZ001111");
    spec.ignore.push_str("- ");
    spec.encoding().expect("a valid base32 specification")
});

/// What makes a forum's ticket codes: its id and a key derived from its
/// moderator and display token hashes, which are secret (the log is not
/// public and the record never holds them) and fixed for the forum's life.
#[derive(Clone)]
pub struct TicketKey {
    forum_id: String,
    key: [u8; 32],
}

impl TicketKey {
    pub fn of(forum: &Forum) -> TicketKey {
        let mut key = Sha256::new();
        key.update(b"madang ticket key v1\n");
        key.update(forum.moderator_token_hash.as_bytes());
        key.update(b"\n");
        key.update(forum.display_token_hash.as_bytes());
        TicketKey { forum_id: forum.id.clone(), key: key.finalize().into() }
    }

    fn mac(&self, number: u32, channel: Channel) -> [u8; MAC_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        let channel: &[u8] = match channel {
            Channel::Hall => b"hall",
            _ => b"remote",
        };
        mac.update(self.forum_id.as_bytes());
        mac.update(b"\n");
        mac.update(channel);
        mac.update(&number.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        out
    }

    /// The printed code of ticket `number`, for `channel`: `XXXX-XXXX-XXXX-XXXX`.
    pub fn code(&self, number: u32, channel: Channel) -> String {
        let mut bytes = [0u8; CODE_BYTES];
        bytes[..3].copy_from_slice(&number.to_be_bytes()[1..]);
        bytes[3..].copy_from_slice(&self.mac(number, channel));
        let plain = CROCKFORD.encode(&bytes);
        let groups: Vec<&str> =
            plain.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        groups.join("-")
    }
}

/// The ticket number a code stands for, if it is a genuine code of one of
/// `forum`'s issued tickets. Which rule a genuine ticket breaks (used,
/// revoked) is the domain's to say.
pub fn number_of(forum: &Forum, code: &str) -> Option<u32> {
    let bytes = CROCKFORD.decode(code.trim().as_bytes()).ok()?;
    if bytes.len() != CODE_BYTES {
        return None;
    }
    let number = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
    let ticket = forum.tickets.get(number)?;
    let expected = TicketKey::of(forum).mac(number, ticket.channel);
    // Compare digests of both so the time taken says nothing of where they differ.
    (Sha256::digest(expected) == Sha256::digest(&bytes[3..])).then_some(number)
}

/// A forum's tickets as the organizer reads them: enough to print every
/// code again, taken from the forum task and rendered outside it.
pub struct TicketBook {
    pub key: TicketKey,
    pub remote_code: String,
    pub hall_code: String,
    pub tickets: Vec<(u32, Channel, TicketStatus)>,
}

impl TicketBook {
    pub fn of(forum: &Forum) -> TicketBook {
        let tickets = forum
            .tickets
            .issued
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let status = match (t.revoked, t.holder) {
                    (true, _) => TicketStatus::Revoked,
                    (false, Some(_)) => TicketStatus::Used,
                    (false, None) => TicketStatus::Unused,
                };
                (i as u32 + 1, t.channel, status)
            })
            .collect();
        TicketBook {
            key: TicketKey::of(forum),
            remote_code: forum.remote_code.clone(),
            hall_code: forum.hall_code.clone(),
            tickets,
        }
    }
}

#[cfg(test)]
mod tests;
