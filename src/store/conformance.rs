//! Backend-independent tests of the [`Store`] contracts.
//!
//! Every backend runs the same cases so that the hub can rely on the traits
//! alone. The cases are grouped by the contract they hold a backend to, one
//! file each: `event_log`, `snapshot_store`, `backend`. A backend provides a [`StoreFactory`] and invokes
//! [`conformance_tests!`] inside its own test module; that expands to one
//! `#[tokio::test]` per case, each with a fresh factory (so a fresh,
//! isolated storage namespace). [`run_all`] runs every case in one go.

mod backend;
mod event_log;
mod snapshot_store;

use bytes::Bytes;

pub(crate) use self::backend::*;
pub(crate) use self::event_log::*;
pub(crate) use self::snapshot_store::*;
use super::{Record, Store};

/// Opens stores for the conformance cases.
#[async_trait::async_trait]
pub trait StoreFactory: Send + Sync {
    /// Open (or reopen) the store called `name`. The same name must reach the
    /// same data (the previous handle will have been closed and dropped);
    /// different names must be independent of each other.
    async fn open(&self, name: &str) -> Box<dyn Store>;
}

/// Expand to one `#[tokio::test]` per conformance case. `$factory` is
/// evaluated afresh for every test and must yield a [`StoreFactory`].
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::store::conformance::conformance_tests!(@cases $factory;
            append_and_read_back,
            read_after_from_the_middle,
            head_tracks_appends,
            out_of_order_gap,
            out_of_order_repeat,
            rejected_batch_leaves_no_trace,
            concurrent_appends_of_same_seq,
            empty_batch_is_a_noop,
            forums_isolated_and_listed_sorted,
            invalid_forum_ids_rejected,
            reopen_keeps_records,
            snapshot_plus_tail,
            healthy_until_closed,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let factory = $factory;
                $crate::store::conformance::$case(&factory).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

/// Run every case against fresh stores from `factory` (names are per case).
#[allow(dead_code)] // the per-case tests from the macro are the usual entry point
pub async fn run_all(factory: &dyn StoreFactory) {
    append_and_read_back(factory).await;
    read_after_from_the_middle(factory).await;
    head_tracks_appends(factory).await;
    out_of_order_gap(factory).await;
    out_of_order_repeat(factory).await;
    rejected_batch_leaves_no_trace(factory).await;
    concurrent_appends_of_same_seq(factory).await;
    empty_batch_is_a_noop(factory).await;
    forums_isolated_and_listed_sorted(factory).await;
    invalid_forum_ids_rejected(factory).await;
    reopen_keeps_records(factory).await;
    snapshot_plus_tail(factory).await;
    healthy_until_closed(factory).await;
}

/// `n` records starting at `first`, payloads distinct and of varying length
/// (including an empty one when `first` is 1).
pub fn records(first: u64, n: u64) -> Vec<Record> {
    (first..first + n)
        .map(|seq| {
            let payload = if seq == 1 {
                Bytes::new()
            } else {
                Bytes::from(format!("{{\"event\":{seq},\"pad\":\"{}\"}}", "x".repeat(seq as usize % 7)))
            };
            Record { seq, payload }
        })
        .collect()
}
