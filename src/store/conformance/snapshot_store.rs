//! Conformance cases of the [`SnapshotStore`](crate::store::SnapshotStore)
//! contract, and how a snapshot and the log's tail fit together.

use bytes::Bytes;

use super::{StoreFactory, records};
use crate::store::{Snapshot, StoreError};

/// A snapshot is kept per forum, replaced by the next, survives a reopen,
/// and the records after it are the tail to replay.
pub async fn snapshot_plus_tail(factory: &dyn StoreFactory) {
    let store = factory.open("snapshot").await;
    assert_eq!(store.load_snapshot("f").await.expect("load"), None);
    store.append("f", &records(1, 6)).await.expect("append");
    let first = Snapshot { seq: 3, payload: Bytes::from_static(b"state at 3") };
    store.save_snapshot("f", &first).await.expect("save");
    assert_eq!(store.load_snapshot("f").await.expect("load"), Some(first));
    let second = Snapshot { seq: 5, payload: Bytes::from(vec![7u8; 100_000]) };
    store.save_snapshot("f", &second).await.expect("save");
    assert_eq!(store.load_snapshot("g").await.expect("load other"), None, "snapshots are per forum");
    store.close().await.expect("close");
    drop(store);

    let store = factory.open("snapshot").await;
    let snapshot = store.load_snapshot("f").await.expect("load").expect("a snapshot");
    assert_eq!(snapshot, second);
    assert_eq!(store.read_after("f", snapshot.seq).await.expect("tail"), records(6, 1));
    assert!(matches!(store.save_snapshot("../x", &second).await, Err(StoreError::InvalidForumId(_))));
    store.close().await.expect("close");
}
