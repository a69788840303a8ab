//! Which forum ids a store accepts.
//!
//! Every backend checks ids the same way before touching storage, so that an
//! id valid on one backend is valid on all. The rule is also the embedded
//! store's path-traversal guard: it uses the id as a file name.

use super::StoreError;

/// Longest accepted forum id, in bytes.
const MAX_FORUM_ID_LEN: usize = 64;

/// Forum ids are 1..=64 bytes of `[a-z0-9-]`: no `.`, `/`, `\` or NUL can
/// ever get through.
pub(crate) fn validate_forum_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_FORUM_ID_LEN
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(StoreError::InvalidForumId(id.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forum_id_rules() {
        for good in ["a", "forum-1", "0", "-", &"a".repeat(64)] {
            assert!(validate_forum_id(good).is_ok(), "{good:?} should be valid");
        }
        for bad in ["", "../x", "Forum", "a b", "a.log", "a/b", "a\\b", "a\0", "é", &"a".repeat(65)] {
            assert!(
                matches!(validate_forum_id(bad), Err(StoreError::InvalidForumId(ref s)) if s == bad),
                "{bad:?} should be rejected"
            );
        }
    }
}
