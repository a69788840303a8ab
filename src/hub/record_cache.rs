//! Serving a forum's public record: the log replayed off the forum task
//! through the same code, its lines kept, and the result cached by the log's
//! head so that repeated reads of an unchanged forum cost one store call.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

/// At most this many records are kept, and at most this many bytes of them.
const MAX_CACHED_FORUMS: usize = 32;
const MAX_CACHED_BYTES: usize = 64 * 1024 * 1024;
/// Builds at a time: each holds a whole log in memory and replays it.
pub(super) const CONCURRENT_BUILDS: usize = 2;

#[derive(Default)]
pub(super) struct RecordCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_forum: HashMap<String, Cached>,
    bytes: usize,
    clock: u64,
}

struct Cached {
    head: u64,
    record: Bytes,
    used: u64,
}

impl RecordCache {
    /// The record of `forum` as of log head `head`, if built already.
    pub(super) fn get(&self, forum: &str, head: u64) -> Option<Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clock += 1;
        let clock = entries.clock;
        let cached = entries.by_forum.get_mut(forum).filter(|c| c.head == head)?;
        cached.used = clock;
        Some(cached.record.clone())
    }

    /// Keep `record` (of the log up to `head`), evicting the least recently
    /// used until the bounds hold. A record larger than the byte bound is not kept.
    pub(super) fn put(&self, forum: &str, head: u64, record: Bytes) {
        if record.len() > MAX_CACHED_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clock += 1;
        let used = entries.clock;
        if let Some(old) = entries.by_forum.remove(forum) {
            entries.bytes -= old.record.len();
        }
        while entries.by_forum.len() >= MAX_CACHED_FORUMS || entries.bytes + record.len() > MAX_CACHED_BYTES {
            let Some(oldest) = entries.by_forum.iter().min_by_key(|(_, c)| c.used).map(|(f, _)| f.clone()) else {
                break;
            };
            if let Some(old) = entries.by_forum.remove(&oldest) {
                entries.bytes -= old.record.len();
            }
        }
        entries.bytes += record.len();
        entries.by_forum.insert(forum.to_string(), Cached { head, record, used });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_served_for_its_head_only_and_the_cache_stays_bounded() {
        let cache = RecordCache::default();
        cache.put("f", 3, Bytes::from_static(b"abc\n"));
        assert_eq!(cache.get("f", 3).as_deref(), Some(&b"abc\n"[..]));
        assert_eq!(cache.get("f", 4), None, "a longer log is built again");
        for n in 0..3 * MAX_CACHED_FORUMS {
            cache.put(&format!("g{n}"), 1, Bytes::from(vec![b'x'; 10]));
        }
        let entries = cache.entries.lock().unwrap();
        assert_eq!(entries.by_forum.len(), MAX_CACHED_FORUMS - 1 + 1);
        assert_eq!(entries.bytes, entries.by_forum.values().map(|c| c.record.len()).sum::<usize>());
        assert!(!entries.by_forum.contains_key("f"), "the least recently used went first");
    }
}
