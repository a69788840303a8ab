//! The embedded store's own tests: the conformance suite, then what only a
//! file on disk can get wrong (framing, torn tails, corruption, closing).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use tempfile::TempDir;

use super::EmbeddedStore;
use super::framing::{HEADER_LEN, MAX_PAYLOAD, checksum, encode_record};
use crate::store::conformance::{self, StoreFactory, records};
use crate::store::{Backend, EventLog, Record, Snapshot, SnapshotStore, Store, StoreError};
use bytes::Bytes;

struct Factory(TempDir);

impl Factory {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("tempdir"))
    }
}

#[async_trait::async_trait]
impl StoreFactory for Factory {
    async fn open(&self, name: &str) -> Box<dyn Store> {
        Box::new(EmbeddedStore::open(self.0.path().join(name)).await.expect("open store"))
    }
}

mod conformance_suite {
    use super::Factory;
    use crate::store::conformance::conformance_tests;
    conformance_tests!(Factory::new());
}

#[tokio::test]
async fn run_all_conformance_in_one_go() {
    conformance::run_all(&Factory::new()).await;
}

/// Write `recs` to forum "f" in a fresh store under `dir`; return the log's bytes.
async fn write_log(dir: &Path, recs: &[Record]) -> Vec<u8> {
    let store = EmbeddedStore::open(dir).await.expect("open");
    store.append("f", recs).await.expect("append");
    store.close().await.expect("close");
    fs::read(dir.join("forums/f.log")).expect("read log")
}

fn put_log(dir: &Path, bytes: &[u8]) {
    fs::create_dir_all(dir.join("forums")).expect("mkdir");
    fs::write(dir.join("forums/f.log"), bytes).expect("write log");
}

fn three() -> Vec<Record> {
    vec![
        Record::new(1, &b"first payload"[..]),
        Record::new(2, &b"second, a bit longer payload"[..]),
        Record::new(3, &b"{\"third\":true,\"text\":\"hello forum\"}"[..]),
    ]
}

#[test]
fn framing_layout() {
    let mut buf = Vec::new();
    encode_record(7, b"abc", &mut buf);
    assert_eq!(buf.len(), HEADER_LEN + 3);
    assert_eq!(&buf[0..4], &3u32.to_le_bytes());
    assert_eq!(&buf[4..8], &checksum(7, b"abc").to_le_bytes());
    assert_eq!(&buf[8..16], &7u64.to_le_bytes());
    assert_eq!(&buf[16..], b"abc");
    let mut both = 7u64.to_le_bytes().to_vec();
    both.extend_from_slice(b"abc");
    assert_eq!(checksum(7, b"abc"), crc32fast::hash(&both));
}

#[tokio::test]
async fn torn_tail_at_every_offset_of_last_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let recs = three();
    let good = write_log(&tmp.path().join("orig"), &recs).await;
    let last_start = good.len() - HEADER_LEN - recs[2].payload.len();

    for cut in last_start..good.len() {
        let dir = tmp.path().join(format!("cut-{cut}"));
        put_log(&dir, &good[..cut]);
        let store = EmbeddedStore::open(&dir).await.expect("torn tail must not fail open");
        assert_eq!(store.head("f").await.expect("head"), 2, "cut at {cut}");
        assert_eq!(store.read_after("f", 0).await.expect("read"), recs[..2], "cut at {cut}");
        let on_disk = fs::metadata(dir.join("forums/f.log")).expect("stat").len();
        assert_eq!(on_disk, last_start as u64, "file truncated to the last good record");
        // The log continues at the right seq.
        store.append("f", &recs[2..]).await.expect("append after recovery");
        store.close().await.expect("close");
        drop(store);
        assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), good, "cut at {cut}");
    }
}

#[tokio::test]
async fn torn_first_record_leaves_an_empty_forum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write_log(&tmp.path().join("orig"), &three()[..1]).await;
    for cut in [1, HEADER_LEN - 1, HEADER_LEN, good.len() - 1] {
        let dir = tmp.path().join(format!("cut-{cut}"));
        put_log(&dir, &good[..cut]);
        let store = EmbeddedStore::open(&dir).await.expect("open");
        assert_eq!(store.head("f").await.expect("head"), 0);
        assert!(store.forums().await.expect("forums").is_empty());
        store.append("f", &three()[..1]).await.expect("append");
        assert_eq!(store.read_after("f", 0).await.expect("read"), three()[..1]);
    }
}

/// Expect forum "f" quarantined at `offset`: every call on it refused as
/// `Corrupt`, and the file left exactly as `bytes`.
async fn expect_quarantined(store: &EmbeddedStore, dir: &Path, bytes: &[u8], offset: u64) {
    for res in [
        store.head("f").await.map(|_| ()),
        store.read_after("f", 0).await.map(|_| ()),
        store.append("f", &[Record::new(4, &b"four"[..])]).await,
    ] {
        match res {
            Err(StoreError::Corrupt { forum, offset: at, .. }) => assert_eq!((forum.as_str(), at), ("f", offset)),
            other => panic!("expected Corrupt at {offset}, got {other:?}"),
        }
    }
    let listed = store.forums().await.expect("forums");
    assert!(!listed.iter().any(|f| f == "f"), "a quarantined forum is not listed as served");
    let damaged = store.damaged_forums();
    assert_eq!(damaged.iter().map(|d| (d.forum.as_str(), d.offset)).collect::<Vec<_>>(), [("f", offset)]);
    // Refusing to guess means not touching the file.
    assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), bytes);
}

#[tokio::test]
async fn flipped_byte_in_last_complete_record_is_quarantined_not_cut() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let recs = three();
    let good = write_log(&tmp.path().join("orig"), &recs).await;
    let last_start = (good.len() - HEADER_LEN - recs[2].payload.len()) as u64;
    // Payload, seq and checksum fields of the last record: complete, so no torn write.
    for pos in [good.len() - 5, last_start as usize + 9, last_start as usize + 5] {
        let mut bytes = good.clone();
        bytes[pos] ^= 0x20;
        let dir = tmp.path().join(format!("flip-{pos}"));
        put_log(&dir, &bytes);
        let store = EmbeddedStore::open(&dir).await.expect("a damaged log does not fail open");
        expect_quarantined(&store, &dir, &bytes, last_start).await;
    }
}

#[tokio::test]
async fn a_damaged_forum_is_quarantined_and_the_others_serve() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    store.append("f", &three()).await.expect("append f");
    store.append("g", &records(1, 3)).await.expect("append g");
    store.close().await.expect("close");
    drop(store);
    let path = tmp.path().join("forums/f.log");
    let mut bytes = fs::read(&path).expect("read");
    bytes[2 * HEADER_LEN + 13 + 3] ^= 0x01; // the second record's payload
    fs::write(&path, &bytes).expect("write");

    let store = EmbeddedStore::open(tmp.path()).await.expect("one damaged log does not fail open");
    expect_quarantined(&store, tmp.path(), &bytes, (HEADER_LEN + 13) as u64).await;
    assert_eq!(store.forums().await.expect("forums"), ["g"]);
    assert_eq!(store.read_after("g", 0).await.expect("read g"), records(1, 3));
    store.append("g", &records(4, 1)).await.expect("the healthy forum takes appends");
    assert_eq!(store.head("g").await.expect("head g"), 4);
}

#[tokio::test]
async fn flipped_byte_in_first_record_is_corrupt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write_log(&tmp.path().join("orig"), &three()).await;
    // Payload, seq, checksum and length fields of the first record.
    for pos in [HEADER_LEN + 3, 9, 5, 0, 2] {
        let mut bytes = good.clone();
        bytes[pos] ^= 0x01;
        let dir = tmp.path().join(format!("flip-{pos}"));
        put_log(&dir, &bytes);
        let store = EmbeddedStore::open(&dir).await.expect("a damaged log does not fail open");
        expect_quarantined(&store, &dir, &bytes, 0).await;
    }
}

#[tokio::test]
async fn garbage_after_valid_records_is_cut() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let recs = three();
    let good = write_log(&tmp.path().join("orig"), &recs).await;
    for garbage in [&[0x5a_u8, 0xc3, 0x07][..], &[0u8; 40][..], &[0xff; HEADER_LEN][..]] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(garbage);
        let dir = tmp.path().join(format!("garbage-{}", garbage.len()));
        put_log(&dir, &bytes);
        let store = EmbeddedStore::open(&dir).await.expect("open");
        assert_eq!(store.read_after("f", 0).await.expect("read"), recs);
        assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), good);
        store.append("f", &[Record::new(4, &b"four"[..])]).await.expect("append");
        assert_eq!(store.head("f").await.expect("head"), 4);
    }
}

#[tokio::test]
async fn well_formed_record_with_wrong_seq_is_corrupt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut bytes = Vec::new();
    encode_record(1, b"one", &mut bytes);
    let second_at = bytes.len() as u64;
    encode_record(3, b"three", &mut bytes); // skips 2, even at the tail
    put_log(tmp.path(), &bytes);
    let store = EmbeddedStore::open(tmp.path()).await.expect("a damaged log does not fail open");
    expect_quarantined(&store, tmp.path(), &bytes, second_at).await;
}

#[tokio::test]
async fn oversized_payload_is_rejected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    let big = Record::new(1, vec![0u8; MAX_PAYLOAD + 1]);
    match store.append("f", &[big]).await {
        Err(StoreError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(store.head("f").await.expect("head"), 0);
    assert!(!tmp.path().join("forums/f.log").exists());
}

#[tokio::test]
async fn stray_files_are_ignored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let forums = tmp.path().join("forums");
    fs::create_dir_all(forums.join("sub.log")).expect("mkdir");
    fs::write(forums.join("README"), b"hello").expect("write");
    fs::write(forums.join("Upper.log"), b"junk").expect("write");
    fs::write(forums.join("f.log.tmp"), b"junk").expect("write");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    assert!(store.forums().await.expect("forums").is_empty());
}

#[tokio::test]
async fn calls_after_close_fail() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    store.append("f", &records(1, 2)).await.expect("append");
    store.close().await.expect("close");
    store.close().await.expect("close twice is fine");
    assert!(store.append("f", &records(3, 1)).await.is_err());
    assert!(store.read_after("f", 0).await.is_err());
    assert!(store.head("f").await.is_err());
    assert!(store.forums().await.is_err());
}

#[tokio::test]
async fn reads_see_only_committed_records_while_appending() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(tmp.path()).await.expect("open"));
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for seq in 1..=40 {
                store.append("f", &records(seq, 1)).await.expect("append");
            }
        })
    };
    while !writer.is_finished() {
        let got = store.read_after("f", 0).await.expect("read");
        assert_eq!(got, records(1, got.len() as u64));
        tokio::task::yield_now().await;
    }
    writer.await.expect("writer");
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 40));
}

fn batches() -> impl Strategy<Value = Vec<(bool, Vec<Vec<u8>>)>> {
    let payload = prop::collection::vec(any::<u8>(), 0..200);
    let batch = prop::collection::vec(payload, 0..5);
    prop::collection::vec((any::<bool>(), batch), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_survive_reopen(batches in batches()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut want: HashMap<&str, Vec<Record>> = HashMap::new();
            let store = EmbeddedStore::open(tmp.path()).await.expect("open");
            for (which, payloads) in &batches {
                let forum = if *which { "left" } else { "right" };
                let log = want.entry(forum).or_default();
                let batch: Vec<Record> = payloads
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Record::new(log.len() as u64 + 1 + i as u64, p.clone()))
                    .collect();
                store.append(forum, &batch).await.expect("append");
                log.extend(batch);
            }
            store.close().await.expect("close");
            drop(store);

            let store = EmbeddedStore::open(tmp.path()).await.expect("reopen");
            let mut listed: Vec<&str> =
                want.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| *k).collect();
            listed.sort_unstable();
            assert_eq!(store.forums().await.expect("forums"), listed);
            for (forum, log) in &want {
                assert_eq!(store.head(forum).await.expect("head"), log.len() as u64);
                assert_eq!(&store.read_after(forum, 0).await.expect("read"), log);
            }
        });
    }
}

#[tokio::test]
async fn a_second_store_on_the_same_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = EmbeddedStore::open(dir.path()).await.expect("open");
    first.append("f1", &records(1, 2)).await.expect("append");

    match EmbeddedStore::open(dir.path()).await {
        Err(StoreError::Locked { holder, .. }) => {
            assert_eq!(holder, format!(" (pid {})", std::process::id()), "the refusal names the holder");
        }
        other => panic!("a second open must be refused as locked, got {other:?}"),
    }

    first.close().await.expect("close");
    let second = EmbeddedStore::open(dir.path()).await.expect("reopen after close");
    assert_eq!(second.head("f1").await.expect("head"), 2, "nothing was lost by the refused open");
    drop(second);
    // Dropping without close releases the lock too (the file is closed).
    EmbeddedStore::open(dir.path()).await.expect("reopen after drop");
}

/// Forum logs, snapshots and the lock file hold what participants said and
/// who they are: only the server's own user may read them.
#[cfg(unix)]
#[tokio::test]
async fn files_are_private_to_the_server_user() {
    use std::os::unix::fs::PermissionsExt;

    use crate::store::{Snapshot, SnapshotStore};

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let store = EmbeddedStore::open(&dir).await.expect("open");
    store.append("f", &three()).await.expect("append");
    store.save_snapshot("f", &Snapshot { seq: 3, payload: bytes::Bytes::from_static(b"state") }).await.expect("save");
    store.close().await.expect("close");
    let mode = |path: &Path| fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    for file in ["forums/f.log", "snapshots/f.snap", "lock"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    for sub in ["", "forums", "snapshots"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "directory {sub:?}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_append_to_a_log_removed_under_the_store_fails_and_later_ones_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    store.append("f", &records(1, 2)).await.expect("append");
    fs::remove_file(tmp.path().join("forums/f.log")).expect("unlink");
    assert!(store.append("f", &records(3, 1)).await.is_err(), "an append into a removed file is not durable");
    assert_eq!(store.head("f").await.expect("head"), 2, "the refused record is not counted");
    assert!(store.append("f", &records(3, 1)).await.is_err(), "nor is any later one");
    store.append("g", &records(1, 1)).await.expect("other forums are not affected");
}

#[tokio::test]
async fn a_snapshot_without_its_log_quarantines_the_forum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    store.append("f", &records(1, 3)).await.expect("append");
    store.save_snapshot("f", &Snapshot { seq: 3, payload: Bytes::from_static(b"state") }).await.expect("snapshot");
    store.close().await.expect("close");
    drop(store);
    fs::remove_file(tmp.path().join("forums/f.log")).expect("unlink");

    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    let damaged = store.damaged_forums();
    assert_eq!(damaged.iter().map(|d| (d.forum.as_str(), d.offset)).collect::<Vec<_>>(), [("f", 0)]);
    assert!(matches!(store.head("f").await, Err(StoreError::Corrupt { .. })));
    assert!(matches!(store.append("f", &records(1, 1)).await, Err(StoreError::Corrupt { .. })));
    assert!(!tmp.path().join("forums/f.log").exists(), "nothing is recreated");
}

#[tokio::test]
async fn check_reports_each_log_and_repair_cuts_only_after_saving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    store.append("f", &three()).await.expect("append f");
    store.append("g", &records(1, 2)).await.expect("append g");
    store.append("h", &records(1, 1)).await.expect("append h");
    store.save_snapshot("h", &Snapshot { seq: 1, payload: Bytes::from_static(b"state") }).await.expect("snapshot");
    store.close().await.expect("close");
    drop(store);
    let forums = tmp.path().join("forums");
    let mut f = fs::read(forums.join("f.log")).expect("read");
    f[2 * HEADER_LEN + 13 + 3] ^= 0x01; // the second record's payload
    fs::write(forums.join("f.log"), &f).expect("write");
    let mut g = fs::read(forums.join("g.log")).expect("read");
    let g_good = g.len() as u64;
    g.extend_from_slice(&[7, 0, 0]);
    fs::write(forums.join("g.log"), &g).expect("write");
    fs::remove_file(forums.join("h.log")).expect("unlink");

    let health = super::check_dir(tmp.path(), false).expect("check");
    let states: Vec<(&str, &super::LogState)> = health.iter().map(|h| (h.forum.as_str(), &h.state)).collect();
    assert!(matches!(states[0], ("h", super::LogState::Damaged { offset: 0, repaired: None, .. })), "{health:?}");
    assert!(
        matches!(states[1], ("f", super::LogState::Damaged { offset: 29, records_after: 1, repaired: None, .. })),
        "{health:?}"
    );
    assert_eq!(*states[2].1, super::LogState::TornTail { offset: g_good, bytes: 3 });
    assert_eq!(fs::read(forums.join("f.log")).expect("read"), f, "a check alone changes nothing");

    let repaired = super::check_dir(tmp.path(), true).expect("repair");
    let Some(super::LogState::Damaged { repaired: Some(repair), .. }) =
        repaired.iter().find(|h| h.forum == "f").map(|h| &h.state)
    else {
        panic!("f repaired: {repaired:?}")
    };
    assert_eq!(fs::read(&repair.original).expect("copy"), f, "the original is kept");
    assert!(fs::read_to_string(&repair.report).expect("report").contains("cut at byte 29"));
    assert_eq!(fs::metadata(forums.join("f.log")).expect("stat").len(), 29);

    let after = super::check_dir(tmp.path(), false).expect("check again");
    assert!(after.iter().all(|h| !h.is_damaged()), "{after:?}");
    let store = EmbeddedStore::open(tmp.path()).await.expect("open");
    assert!(store.damaged_forums().is_empty());
    assert_eq!(store.read_after("f", 0).await.expect("read f"), three()[..1]);
}
