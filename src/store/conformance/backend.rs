//! Conformance cases of the [`Backend`](crate::store::Backend) contract.

use super::{StoreFactory, records};

/// A store on a working backend reports no degradation, and closing it twice
/// is not an error.
pub async fn healthy_until_closed(factory: &dyn StoreFactory) {
    let store = factory.open("backend").await;
    store.append("f", &records(1, 1)).await.expect("append");
    assert_eq!(store.degraded(), None);
    store.close().await.expect("close");
    store.close().await.expect("close twice");
}
