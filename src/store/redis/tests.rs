//! The Redis store's own tests, on real redis-server processes: the
//! conformance suite on one server and on a cluster, the key layout, and
//! Redis killed, paused and restarted under the store.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::config::DEFAULT_COMMAND_TIMEOUT;
use super::{RedisConfig, RedisStore, connect};
use crate::store::conformance::{StoreFactory, records};
use crate::store::{Backend, EventLog, OutcomeRecord, OutcomeSink, Record, Snapshot, SnapshotStore, Store, StoreError};
use madang_testkit::{RedisCluster, RedisServer, free_port, query};

static SERVER: OnceLock<RedisServer> = OnceLock::new();
static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
static NAMESPACE: AtomicU64 = AtomicU64::new(0);

/// One redis-server for every test that does not break it.
fn server() -> &'static RedisServer {
    SERVER.get_or_init(RedisServer::start)
}

/// One 3-master cluster for every cluster test.
fn cluster() -> &'static RedisCluster {
    CLUSTER.get_or_init(RedisCluster::start)
}

fn unique_prefix(what: &str) -> String {
    format!("test{}-{what}", NAMESPACE.fetch_add(1, Ordering::Relaxed))
}

/// Store names map to key prefixes on the shared server (or cluster), so
/// reopening a name is a new `RedisStore` on the same keys.
struct Factory {
    urls: Vec<String>,
    cluster: bool,
    namespace: String,
}

impl Factory {
    fn single() -> Self {
        Self { urls: vec![server().url.clone()], cluster: false, namespace: unique_prefix("conf") }
    }

    fn cluster() -> Self {
        Self { urls: cluster().urls.clone(), cluster: true, namespace: unique_prefix("conf") }
    }

    fn config(&self, name: &str) -> RedisConfig {
        RedisConfig {
            urls: self.urls.clone(),
            cluster: self.cluster,
            prefix: format!("{}-{name}", self.namespace),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

#[async_trait::async_trait]
impl StoreFactory for Factory {
    async fn open(&self, name: &str) -> Box<dyn Store> {
        Box::new(connect(self.config(name)).await.expect("connect"))
    }
}

mod conformance_single {
    use super::Factory;
    use crate::store::conformance::conformance_tests;
    conformance_tests!(Factory::single());
}

mod conformance_cluster {
    use super::Factory;
    use crate::store::conformance::conformance_tests;
    conformance_tests!(Factory::cluster());
}

/// An `XRANGE` reply: (entry id, [(field, value)]).
type Entries = Vec<(String, Vec<(String, Vec<u8>)>)>;

fn sync_con(url: &str) -> redis::Connection {
    let con = redis::Client::open(url).expect("url").get_connection().expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    con
}

async fn store_on(server: &RedisServer, command_timeout: Duration) -> RedisStore {
    let config =
        RedisConfig { urls: vec![server.url.clone()], cluster: false, prefix: unique_prefix("fault"), command_timeout };
    connect(config).await.expect("connect")
}

fn assert_unavailable<T: std::fmt::Debug>(res: Result<T, StoreError>, what: &str) {
    assert!(matches!(res, Err(StoreError::Unavailable(_))), "{what}: expected Unavailable, got {res:?}");
}

#[test]
fn store_is_shared() {
    fn is_shared(store: &dyn Store) -> bool {
        store.shared()
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = rt.block_on(connect(RedisConfig::single(&server().url))).expect("connect");
    assert!(is_shared(&store));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_layout_on_a_single_server() {
    let prefix = unique_prefix("layout");
    let store =
        connect(RedisConfig { prefix: prefix.clone(), ..RedisConfig::single(&server().url) }).await.expect("connect");
    store.append("f-1", &records(1, 2)).await.expect("append");
    store.save_snapshot("f-1", &Snapshot { seq: 2, payload: Bytes::from_static(b"s") }).await.expect("save");
    let outcome = OutcomeRecord {
        forum: "f-1".into(),
        seq: 2,
        poll: 1,
        title: "t".into(),
        closed_at_ms: 5,
        outcome_json: "{}".into(),
    };
    store.publish_outcome(&outcome).await.expect("publish");
    let mut con = sync_con(&server().url);
    let key_type = |con: &mut redis::Connection, key: String| -> String {
        redis::cmd("TYPE").arg(key).query::<String>(con).expect("TYPE")
    };
    assert_eq!(key_type(&mut con, format!("{prefix}:{{f-1}}:events")), "stream");
    assert_eq!(key_type(&mut con, format!("{prefix}:{{f-1}}:snapshot")), "hash");
    assert_eq!(key_type(&mut con, format!("{prefix}:{{f-1}}:published")), "set");
    assert_eq!(key_type(&mut con, format!("{prefix}:forums")), "set");
    assert_eq!(key_type(&mut con, format!("{prefix}:outcomes")), "stream");
    // Entry ids are the seqs, one field `r` holding the payload.
    let entries: Entries =
        redis::cmd("XRANGE").arg(format!("{prefix}:{{f-1}}:events")).arg("-").arg("+").query(&mut con).expect("XRANGE");
    let want: Entries = records(1, 2)
        .into_iter()
        .map(|r| (format!("0-{}", r.seq), vec![("r".to_owned(), r.payload.to_vec())]))
        .collect();
    assert_eq!(entries, want);
    let snapshot: HashMap<String, String> =
        redis::cmd("HGETALL").arg(format!("{prefix}:{{f-1}}:snapshot")).query(&mut con).expect("HGETALL");
    assert_eq!(snapshot.get("seq").map(String::as_str), Some("2"));
    assert_eq!(snapshot.get("payload").map(String::as_str), Some("s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forum_keys_share_one_cluster_slot() {
    let cluster = cluster();
    let store = connect(RedisConfig { prefix: unique_prefix("slots"), ..RedisConfig::cluster(&cluster.urls) })
        .await
        .expect("connect");
    let port = cluster.nodes[0].port;
    let mut slots_seen = std::collections::HashSet::new();
    for forum in ["a", "forum-1", "zeta", "m-42", "another-forum"] {
        let slots: Vec<String> = [store.keys.events(forum), store.keys.snapshot(forum), store.keys.published(forum)]
            .iter()
            .map(|key| query(port, &["CLUSTER", "KEYSLOT", key]).expect("CLUSTER KEYSLOT"))
            .collect();
        assert!(slots.iter().all(|s| *s == slots[0]), "keys of {forum} on slots {slots:?}");
        let forum_slot = query(port, &["CLUSTER", "KEYSLOT", forum]).expect("CLUSTER KEYSLOT");
        assert_eq!(slots[0], forum_slot, "the hash tag is the forum id");
        slots_seen.insert(slots[0].clone());
    }
    assert!(slots_seen.len() > 1, "different forums spread over slots");
    // And the whole path works on each of those slots.
    for forum in ["a", "forum-1", "zeta", "m-42", "another-forum"] {
        store.append(forum, &records(1, 3)).await.expect("append");
        assert_eq!(store.read_after(forum, 1).await.expect("read"), records(2, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_isolated() {
    let url = &server().url;
    let a = connect(RedisConfig { prefix: unique_prefix("iso-a"), ..RedisConfig::single(url) }).await.expect("a");
    let b = connect(RedisConfig { prefix: unique_prefix("iso-b"), ..RedisConfig::single(url) }).await.expect("b");
    a.append("f", &records(1, 3)).await.expect("append a");
    assert_eq!(b.head("f").await.expect("head b"), 0);
    assert!(b.forums().await.expect("forums b").is_empty());
    b.append("f", &[Record::new(1, "other")]).await.expect("append b");
    assert_eq!(a.read_after("f", 0).await.expect("read a"), records(1, 3));
    assert_eq!(b.read_after("f", 0).await.expect("read b"), [Record::new(1, "other")]);
    assert_eq!(a.forums().await.expect("forums a"), ["f"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_is_rejected() {
    for prefix in ["", "a{b", "a}b", "a b"] {
        let res = connect(RedisConfig { prefix: prefix.into(), ..RedisConfig::single(&server().url) }).await;
        assert!(matches!(res, Err(StoreError::Io(_))), "prefix {prefix:?}");
    }
    let res = connect(RedisConfig::single("http://127.0.0.1:1")).await;
    assert!(matches!(res, Err(StoreError::Io(_))), "bad url scheme");
}

/// A waiter on `a` sees what `b` (another store, as on another hub node)
/// appends; the shared connection is not blocked meanwhile.
async fn wait_after_case(a: RedisStore, b: RedisStore) {
    let a = Arc::new(a);
    b.append("f", &records(1, 2)).await.expect("append");
    // Already there: returns at once.
    let t0 = Instant::now();
    assert_eq!(a.wait_after("f", 0, Duration::from_secs(10)).await.expect("wait"), records(1, 2));
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());

    let waiter = {
        let a = a.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            (a.wait_after("f", 2, Duration::from_secs(10)).await, t0.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The waiting store still answers other commands promptly.
    let t0 = Instant::now();
    assert_eq!(a.head("f").await.expect("head while waiting"), 2);
    assert!(t0.elapsed() < Duration::from_millis(500), "head took {:?} during a wait", t0.elapsed());
    b.append("f", &records(3, 2)).await.expect("append while waiting");
    let (got, took) = waiter.await.expect("task");
    assert_eq!(got.expect("wait"), records(3, 2));
    assert!(took < Duration::from_secs(5), "wait returned after {took:?}");

    // Nothing comes: empty after max_wait.
    let t0 = Instant::now();
    let got = a.wait_after("f", 4, Duration::from_millis(400)).await.expect("wait");
    let took = t0.elapsed();
    assert!(got.is_empty(), "{got:?}");
    assert!(took >= Duration::from_millis(390) && took < Duration::from_secs(3), "empty wait took {took:?}");
    // A forum that does not exist yet behaves the same.
    assert!(a.wait_after("nobody", 0, Duration::from_millis(100)).await.expect("wait").is_empty());
    // Zero wait never blocks (BLOCK 0 would be forever).
    assert!(a.wait_after("f", 4, Duration::ZERO).await.expect("wait").is_empty());
    assert!(a.degraded().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_after_sees_appends_from_another_store() {
    let prefix = unique_prefix("wait");
    let config = RedisConfig { prefix, ..RedisConfig::single(&server().url) };
    let a = connect(config.clone()).await.expect("a");
    let b = connect(config).await.expect("b");
    wait_after_case(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_after_sees_appends_from_another_store_on_cluster() {
    let prefix = unique_prefix("wait");
    let config = RedisConfig { prefix, ..RedisConfig::cluster(&cluster().urls) };
    let a = connect(config.clone()).await.expect("a");
    let b = connect(config).await.expect("b");
    wait_after_case(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_after_returns_more_than_one_page() {
    let store = connect(RedisConfig { prefix: unique_prefix("pages"), ..RedisConfig::single(&server().url) })
        .await
        .expect("connect");
    let all = records(1, 2500);
    for chunk in all.chunks(700) {
        store.append("f", chunk).await.expect("append");
    }
    assert_eq!(store.wait_after("f", 0, Duration::from_secs(1)).await.expect("wait"), all);
    assert_eq!(store.read_after("f", 10).await.expect("read"), all[10..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_outcome_once_per_forum_and_seq() {
    let prefix = unique_prefix("outcomes");
    let store =
        connect(RedisConfig { prefix: prefix.clone(), ..RedisConfig::single(&server().url) }).await.expect("connect");
    let outcome = OutcomeRecord {
        forum: "town-hall".into(),
        seq: 17,
        poll: 3,
        title: "Park or parking?".into(),
        closed_at_ms: 1_700_000_000_123,
        outcome_json: r#"{"winner":"park"}"#.into(),
    };
    store.publish_outcome(&outcome).await.expect("publish");
    store.publish_outcome(&outcome).await.expect("publish again");
    let other_seq = OutcomeRecord { seq: 18, ..outcome.clone() };
    store.publish_outcome(&other_seq).await.expect("publish another");
    assert!(matches!(
        store.publish_outcome(&OutcomeRecord { forum: "../x".into(), ..outcome.clone() }).await,
        Err(StoreError::InvalidForumId(_))
    ));

    let mut con = sync_con(&server().url);
    let entries: Vec<(String, HashMap<String, String>)> =
        redis::cmd("XRANGE").arg(format!("{prefix}:outcomes")).arg("-").arg("+").query(&mut con).expect("XRANGE");
    assert_eq!(entries.len(), 2, "{entries:?}");
    let fields = &entries[0].1;
    let want: HashMap<String, String> = [
        ("forum", "town-hall"),
        ("seq", "17"),
        ("poll", "3"),
        ("title", "Park or parking?"),
        ("closed_at_ms", "1700000000123"),
        ("outcome", r#"{"winner":"park"}"#),
        ("record", "/api/forums/town-hall/record"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(fields, &want);
    assert_eq!(entries[1].1.get("seq").map(String::as_str), Some("18"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_while_redis_is_down_is_lazy() {
    let port = free_port(); // nothing listens there
    let timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let config = RedisConfig {
        command_timeout: timeout,
        prefix: unique_prefix("down"),
        ..RedisConfig::single(format!("redis://127.0.0.1:{port}"))
    };
    let store = connect(config).await.expect("connect is lazy");
    let took = t0.elapsed();
    eprintln!("connect with redis down returned after {took:?}");
    assert!(took < timeout + Duration::from_secs(1), "connect took {took:?}");
    assert!(store.degraded().is_some());
    let t0 = Instant::now();
    assert_unavailable(store.append("f", &records(1, 1)).await, "append");
    assert!(t0.elapsed() < timeout + Duration::from_secs(1), "append took {:?}", t0.elapsed());
    assert_unavailable(store.wait_after("f", 0, Duration::from_millis(100)).await, "wait_after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_then_restarted() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_secs(1);
    let store = store_on(&server, timeout).await;
    store.append("f", &records(1, 3)).await.expect("append");
    store.save_snapshot("f", &Snapshot { seq: 3, payload: Bytes::from_static(b"at 3") }).await.expect("save");
    // Leaves an idle dedicated connection in the pool; it dies with the server.
    assert_eq!(store.wait_after("f", 0, Duration::from_millis(100)).await.expect("wait"), records(1, 3));
    assert!(store.degraded().is_none());

    server.kill();
    let t0 = Instant::now();
    let res = store.append("f", &records(4, 1)).await;
    let took = t0.elapsed();
    eprintln!("append with redis killed: {res:?} after {took:?}");
    assert_unavailable(res, "append while killed");
    assert!(took < timeout + Duration::from_secs(1), "append took {took:?}");
    let reason = store.degraded().expect("degraded while killed");
    assert!(reason.contains("redis"), "{reason}");
    let t0 = Instant::now();
    assert_unavailable(store.head("f").await, "head while killed");
    assert!(t0.elapsed() < timeout + Duration::from_secs(1), "head took {:?}", t0.elapsed());
    assert!(store.degraded().is_some());

    server.restart();
    let t0 = Instant::now();
    store.append("f", &records(4, 1)).await.expect("the next append after the restart succeeds");
    eprintln!("first append after restart took {:?}", t0.elapsed());
    assert!(store.degraded().is_none(), "degraded cleared by a success");
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 4), "nothing acked was lost");
    assert_eq!(
        store.load_snapshot("f").await.expect("load"),
        Some(Snapshot { seq: 3, payload: Bytes::from_static(b"at 3") })
    );
    assert_eq!(store.forums().await.expect("forums"), ["f"]);
    // The stale pooled connection is replaced transparently.
    assert_eq!(store.wait_after("f", 3, Duration::from_secs(1)).await.expect("wait"), records(4, 1));
    assert!(store.degraded().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_then_resumed() {
    let server = RedisServer::start();
    let timeout = Duration::from_secs(1);
    let store = store_on(&server, timeout).await;
    store.append("f", &records(1, 2)).await.expect("append");

    server.pause();
    let attempt = records(3, 1);
    let t0 = Instant::now();
    let res = store.append("f", &attempt).await;
    let took = t0.elapsed();
    eprintln!("append with redis paused: {res:?} after {took:?}");
    assert_unavailable(res, "append while paused");
    assert!(took >= timeout / 2 && took < timeout + Duration::from_millis(1500), "append took {took:?}");
    assert!(store.degraded().is_some());
    let t0 = Instant::now();
    assert_unavailable(store.read_after("f", 0).await, "read while paused");
    assert!(t0.elapsed() < timeout + Duration::from_millis(1500), "read took {:?}", t0.elapsed());
    server.resume();

    // The timed-out append may have landed after SIGCONT: a retry either
    // succeeds or is told that seq 3 is taken; never a duplicate.
    match store.append("f", &attempt).await {
        Ok(()) => eprintln!("retry after resume: appended"),
        Err(StoreError::OutOfOrder { expected: 4, got: 3, .. }) => {
            eprintln!("retry after resume: the timed-out append had landed")
        }
        other => panic!("retry after resume: {other:?}"),
    }
    assert!(store.degraded().is_none());
    assert_eq!(store.head("f").await.expect("head"), 3);
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 3), "no gap, no duplicate");
    store.append("f", &records(4, 1)).await.expect("append continues");
    assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 4));
}
