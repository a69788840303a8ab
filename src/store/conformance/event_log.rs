//! Conformance cases of the [`EventLog`](crate::store::EventLog) contract:
//! numbering, ordering, isolation between forums, and what survives a reopen.

use bytes::Bytes;

use super::{StoreFactory, records};
use crate::store::{Record, Store, StoreError};

pub(super) fn assert_out_of_order(res: Result<(), StoreError>, forum: &str, expected: u64, got: u64) {
    match res {
        Err(StoreError::OutOfOrder { forum: f, expected: e, got: g }) => {
            assert_eq!((f.as_str(), e, g), (forum, expected, got));
        }
        other => panic!("expected OutOfOrder({forum}, {expected}, {got}), got {other:?}"),
    }
}

pub async fn append_and_read_back(factory: &dyn StoreFactory) {
    let store = factory.open("append-and-read-back").await;
    let first = records(1, 3);
    store.append("f", &first).await.expect("append 1..=3");
    assert_eq!(store.read_after("f", 0).await.expect("read"), first);

    let second = records(4, 2);
    store.append("f", &second).await.expect("append 4..=5");
    let all = records(1, 5);
    assert_eq!(store.read_after("f", 0).await.expect("read"), all);
    store.close().await.expect("close");
}

pub async fn read_after_from_the_middle(factory: &dyn StoreFactory) {
    let store = factory.open("read-after-middle").await;
    let all = records(1, 10);
    store.append("f", &all[..4]).await.expect("append");
    store.append("f", &all[4..]).await.expect("append");
    for after in 0..=12u64 {
        let got = store.read_after("f", after).await.expect("read");
        let want: Vec<Record> = all.iter().filter(|r| r.seq > after).cloned().collect();
        assert_eq!(got, want, "read_after({after})");
    }
    // A forum never written reads as empty, not as an error.
    assert!(store.read_after("never", 0).await.expect("read").is_empty());
    store.close().await.expect("close");
}

pub async fn head_tracks_appends(factory: &dyn StoreFactory) {
    let store = factory.open("head").await;
    assert_eq!(store.head("f").await.expect("head"), 0);
    store.append("f", &records(1, 1)).await.expect("append");
    assert_eq!(store.head("f").await.expect("head"), 1);
    store.append("f", &records(2, 4)).await.expect("append");
    assert_eq!(store.head("f").await.expect("head"), 5);
    assert_eq!(store.head("other").await.expect("head"), 0);
    store.close().await.expect("close");
}

pub async fn out_of_order_gap(factory: &dyn StoreFactory) {
    let store = factory.open("gap").await;
    // The first record must be 1.
    assert_out_of_order(store.append("f", &records(2, 1)).await, "f", 1, 2);
    store.append("f", &records(1, 3)).await.expect("append");
    // A gap after the head.
    assert_out_of_order(store.append("f", &records(5, 1)).await, "f", 4, 5);
    // A gap inside the batch is reported at the first offending record.
    let batch = vec![records(4, 1).remove(0), records(6, 1).remove(0)];
    assert_out_of_order(store.append("f", &batch).await, "f", 5, 6);
    assert_eq!(store.head("f").await.expect("head"), 3);
    store.close().await.expect("close");
}

pub async fn out_of_order_repeat(factory: &dyn StoreFactory) {
    let store = factory.open("repeat").await;
    store.append("f", &records(1, 3)).await.expect("append");
    // Retrying the last batch, or part of it, is rejected rather than duplicated.
    assert_out_of_order(store.append("f", &records(3, 1)).await, "f", 4, 3);
    assert_out_of_order(store.append("f", &records(1, 3)).await, "f", 4, 1);
    // A batch that repeats its own seq.
    let batch = vec![records(4, 1).remove(0), records(4, 1).remove(0)];
    assert_out_of_order(store.append("f", &batch).await, "f", 5, 4);
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 3));
    store.close().await.expect("close");
}

pub async fn rejected_batch_leaves_no_trace(factory: &dyn StoreFactory) {
    let store = factory.open("rejected-batch").await;
    store.append("f", &records(1, 2)).await.expect("append");
    let mut bad = records(3, 3);
    bad[2].seq = 9;
    assert_out_of_order(store.append("f", &bad).await, "f", 5, 9);
    assert_eq!(store.head("f").await.expect("head"), 2);
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 2));
    // The log still continues normally.
    store.append("f", &records(3, 3)).await.expect("append");
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 5));
    store.close().await.expect("close");
}

pub async fn concurrent_appends_of_same_seq(factory: &dyn StoreFactory) {
    let store: std::sync::Arc<dyn Store> = factory.open("concurrent").await.into();
    store.append("f", &records(1, 1)).await.expect("append");
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let rec = Record { seq: 2, payload: Bytes::from(vec![i]) };
            store.append("f", &[rec]).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => wins += 1,
            Err(StoreError::OutOfOrder { expected: 3, got: 2, .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one writer of seq 2 wins");
    assert_eq!(store.head("f").await.expect("head"), 2);
    assert_eq!(store.read_after("f", 0).await.expect("read").len(), 2);
    store.close().await.expect("close");
}

pub async fn empty_batch_is_a_noop(factory: &dyn StoreFactory) {
    let store = factory.open("empty-batch").await;
    store.append("f", &[]).await.expect("empty append on a new forum");
    assert_eq!(store.head("f").await.expect("head"), 0);
    assert!(store.forums().await.expect("forums").is_empty(), "an empty append creates no forum");
    store.append("f", &records(1, 2)).await.expect("append");
    store.append("f", &[]).await.expect("empty append");
    assert_eq!(store.head("f").await.expect("head"), 2);
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 2));
    store.close().await.expect("close");
}

pub async fn forums_isolated_and_listed_sorted(factory: &dyn StoreFactory) {
    let store = factory.open("isolated").await;
    assert!(store.forums().await.expect("forums").is_empty());
    store.append("zeta", &records(1, 2)).await.expect("append");
    store.append("alpha", &records(1, 5)).await.expect("append");
    store.append("m-1", &records(1, 1)).await.expect("append");
    assert_eq!(store.forums().await.expect("forums"), ["alpha", "m-1", "zeta"]);
    assert_eq!(store.head("zeta").await.expect("head"), 2);
    assert_eq!(store.head("alpha").await.expect("head"), 5);
    assert_eq!(store.read_after("zeta", 0).await.expect("read"), records(1, 2));
    assert_eq!(store.read_after("m-1", 0).await.expect("read"), records(1, 1));
    // Each forum numbers on its own.
    assert_out_of_order(store.append("zeta", &records(6, 1)).await, "zeta", 3, 6);
    store.close().await.expect("close");
}

pub async fn invalid_forum_ids_rejected(factory: &dyn StoreFactory) {
    let store = factory.open("invalid-ids").await;
    let too_long = "a".repeat(65);
    for bad in ["../x", "", "Upper", "a/b", "a.b", too_long.as_str()] {
        let is_invalid = |e: StoreError| matches!(e, StoreError::InvalidForumId(ref s) if s == bad);
        assert!(is_invalid(store.append(bad, &records(1, 1)).await.expect_err("append")), "append {bad:?}");
        assert!(is_invalid(store.append(bad, &[]).await.expect_err("empty append")), "empty append {bad:?}");
        assert!(is_invalid(store.read_after(bad, 0).await.expect_err("read")), "read {bad:?}");
        assert!(is_invalid(store.head(bad).await.expect_err("head")), "head {bad:?}");
    }
    assert!(store.forums().await.expect("forums").is_empty());
    // The longest valid id works.
    let longest = "a".repeat(64);
    store.append(&longest, &records(1, 1)).await.expect("64-char id");
    store.close().await.expect("close");
}

pub async fn reopen_keeps_records(factory: &dyn StoreFactory) {
    let store = factory.open("reopen").await;
    store.append("a", &records(1, 3)).await.expect("append");
    store.append("a", &records(4, 1)).await.expect("append");
    store.append("b", &records(1, 2)).await.expect("append");
    store.close().await.expect("close");
    drop(store);

    let store = factory.open("reopen").await;
    assert_eq!(store.forums().await.expect("forums"), ["a", "b"]);
    assert_eq!(store.head("a").await.expect("head"), 4);
    assert_eq!(store.head("b").await.expect("head"), 2);
    assert_eq!(store.read_after("a", 0).await.expect("read"), records(1, 4));
    assert_eq!(store.read_after("b", 0).await.expect("read"), records(1, 2));
    // Appending continues where the previous run stopped.
    assert_out_of_order(store.append("a", &records(1, 1)).await, "a", 5, 1);
    store.append("a", &records(5, 1)).await.expect("append after reopen");
    store.close().await.expect("close");
    drop(store);

    // Reopening without an explicit close (e.g. after a crash of the process
    // holding it) must also see everything acknowledged.
    let store = factory.open("reopen").await;
    store.append("b", &records(3, 1)).await.expect("append");
    drop(store);
    let store = factory.open("reopen").await;
    assert_eq!(store.read_after("a", 0).await.expect("read"), records(1, 5));
    assert_eq!(store.read_after("b", 0).await.expect("read"), records(1, 3));
    store.close().await.expect("close");
}
