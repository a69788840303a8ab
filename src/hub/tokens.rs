//! Credentials: generation and hashing.
//!
//! Tokens are `<forum id>.<32 random hex digits>`: the prefix routes a
//! connection to its forum; only the SHA-256 of a token is ever stored.

use sha2::{Digest, Sha256};

/// The characters of join codes and forum ids: no 0/O, 1/I/L look-alikes.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const JOIN_CODE_LEN: usize = 6;

pub fn generate(forum_id: &str) -> String {
    let secret: [u8; 16] = rand::random();
    format!("{forum_id}.{}", hex::encode(secret))
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The forum a token belongs to, if it has the shape of one of ours.
pub fn forum_of(token: &str) -> Option<&str> {
    token.split_once('.').map(|(forum, _)| forum).filter(|f| !f.is_empty())
}

/// A random join code such as `K7QMX2`.
pub fn join_code() -> String {
    (0..JOIN_CODE_LEN).map(|_| CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// A random forum id: 10 lowercase letters and digits.
pub fn forum_id() -> String {
    (0..10).map(|_| (CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char).to_ascii_lowercase()).collect()
}

/// Whether `code` could be a join code (the alphabet and length codes are made with).
pub fn looks_like_join_code(code: &str) -> bool {
    code.len() == JOIN_CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// Compare two secrets without leaking where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    // Comparing fixed-length digests makes the time independent of the input.
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_route_to_their_forum_and_hash_stably() {
        let token = generate("abc123");
        assert_eq!(forum_of(&token), Some("abc123"));
        assert_eq!(token.len(), "abc123.".len() + 32);
        assert_eq!(hash(&token), hash(&token));
        assert_ne!(hash(&token), hash(&generate("abc123")));
        assert_eq!(forum_of("nodot"), None);
        assert_eq!(forum_of(".x"), None);
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..100 {
            let code = join_code();
            assert_eq!(code.len(), JOIN_CODE_LEN);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            let id = forum_id();
            assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
        }
        assert!(same_secret("a", "a"));
        assert!(!same_secret("a", "b"));
    }
}
