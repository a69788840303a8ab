//! Talking to Redis: the shared connection, the pool for blocking reads, and
//! the time bound and health bookkeeping around every round trip.
//!
//! Nothing here knows about forums, keys or records; callers hand in a
//! command and get back a reply or [`StoreError::Unavailable`].
//!
//! # The shared connection
//!
//! Ordinary commands go over one multiplexed connection (single server: a
//! `ConnectionManager`; cluster: a cluster connection), which reconnects in
//! the background: the store never has to be recreated.
//!
//! # Blocking reads
//!
//! `XREAD BLOCK` holds the connection it runs on. It therefore never runs on
//! the shared multiplexed connection but on a dedicated connection from a
//! small pool (created on demand, returned after a clean reply, dropped after
//! an error or timeout; at most [`MAX_IDLE_BLOCKING`] are kept idle). Each
//! concurrent waiter holds one connection (in a cluster, one cluster
//! connection) while it waits.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, RedisFuture, RedisResult, ScriptInvocation, Value};

use super::config::invalid_config;
use super::health::{Health, lock};
use crate::store::StoreError;

/// Idle dedicated connections kept for blocking reads.
const MAX_IDLE_BLOCKING: usize = 8;

/// Reconnect backoff of the shared connection: from 50 ms doubling up to
/// 500 ms between attempts, for about a minute; after that, the next command
/// fails fast and starts a new round.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);
const RECONNECT_ATTEMPTS: usize = 120;

/// Every connection of one store, and what bounds and watches them.
pub(super) struct Connections {
    shared: SharedConnection,
    blocking_source: BlockingSource,
    blocking_pool: Mutex<Vec<BlockingConnection>>,
    timeout: Duration,
    health: Health,
    closed: AtomicBool,
}

/// The shared, multiplexed connection (cheap to clone).
#[derive(Clone)]
enum SharedConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where dedicated connections for blocking reads come from.
#[allow(clippy::large_enum_variant)] // one per store
enum BlockingSource {
    Single(Client),
    /// A client without response timeouts (the caller bounds each wait).
    Cluster(ClusterClient),
}

/// A dedicated connection for one blocking read at a time.
enum BlockingConnection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

macro_rules! delegate_connection_like {
    ($ty:ident) => {
        impl ConnectionLike for $ty {
            fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
                match self {
                    $ty::Single(c) => c.req_packed_command(cmd),
                    $ty::Cluster(c) => c.req_packed_command(cmd),
                }
            }

            fn req_packed_commands<'a>(
                &'a mut self,
                pipeline: &'a redis::Pipeline,
                offset: usize,
                count: usize,
            ) -> RedisFuture<'a, Vec<Value>> {
                match self {
                    $ty::Single(c) => c.req_packed_commands(pipeline, offset, count),
                    $ty::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
                }
            }

            fn get_db(&self) -> i64 {
                match self {
                    $ty::Single(c) => c.get_db(),
                    $ty::Cluster(c) => c.get_db(),
                }
            }
        }
    };
}
delegate_connection_like!(SharedConnection);
delegate_connection_like!(BlockingConnection);

impl Connections {
    /// Set up (without connecting yet) the connections to `urls`: exactly one
    /// server, or any number of seed nodes of a cluster. Fails only on a URL
    /// the client cannot use.
    pub(super) fn new(urls: &[String], cluster: bool, timeout: Duration) -> Result<Self, StoreError> {
        let (shared, blocking_source) = if cluster {
            if urls.is_empty() {
                return Err(invalid_config("redis cluster: no seed url".into()));
            }
            let builder = || {
                ClusterClient::builder(urls.iter().map(String::as_str))
                    .connection_timeout(timeout)
                    .min_retry_wait(20)
                    .max_retry_wait(500)
            };
            let bad_url = |e: redis::RedisError| invalid_config(format!("redis cluster urls: {e}"));
            let client = builder().response_timeout(timeout).build().map_err(bad_url)?;
            let blocking = builder().build().map_err(bad_url)?;
            // The config's response timeout replaces the builder's, so set it again.
            let config = ClusterConfig::new().set_connection_timeout(timeout).set_response_timeout(timeout);
            (
                SharedConnection::Cluster(client.get_pending_async_connection_with_config(config)),
                BlockingSource::Cluster(blocking),
            )
        } else {
            let [url] = urls else {
                return Err(invalid_config(format!("single-node redis takes exactly one url, got {}", urls.len())));
            };
            let client = Client::open(url.as_str()).map_err(|e| invalid_config(format!("redis url: {e}")))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_min_delay(RECONNECT_MIN_DELAY)
                .set_max_delay(RECONNECT_MAX_DELAY)
                .set_number_of_retries(RECONNECT_ATTEMPTS);
            let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(|e| invalid_config(format!("redis connection manager: {e}")))?;
            (SharedConnection::Single(manager), BlockingSource::Single(client))
        };
        Ok(Self {
            shared,
            blocking_source,
            blocking_pool: Mutex::new(Vec::new()),
            timeout,
            health: Health::default(),
            closed: AtomicBool::new(false),
        })
    }

    /// The bound on one round trip.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Why Redis cannot be used right now, if it cannot.
    pub(super) fn degraded(&self) -> Option<String> {
        self.health.reason()
    }

    /// Refuse every later command and drop the idle blocking connections.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        lock(&self.blocking_pool).clear();
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("redis store is closed".into()));
        }
        Ok(())
    }

    /// Run one command on the shared connection; `what` names it in errors.
    pub(super) async fn query<T: FromRedisValue>(&self, what: &str, cmd: Cmd) -> Result<T, StoreError> {
        let mut conn = self.shared.clone();
        self.bounded(what, self.timeout, async move { cmd.query_async(&mut conn).await }).await
    }

    /// Run a script on the shared connection; `what` names it in errors.
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        what: &str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.shared.clone();
        self.bounded(what, self.timeout, async move { invocation.invoke_async(&mut conn).await }).await
    }

    /// Run one Redis interaction bounded by `limit`, keeping `degraded()` up to date.
    async fn bounded<T>(
        &self,
        what: &str,
        limit: Duration,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.check_open()?;
        let reason = match tokio::time::timeout(limit, fut).await {
            Ok(Ok(value)) => {
                self.health.ok();
                return Ok(value);
            }
            Ok(Err(e)) => format!("redis {what}: {e}"),
            Err(_) => format!("redis {what}: no reply within {limit:?}"),
        };
        Err(self.failed(reason))
    }

    fn failed(&self, reason: String) -> StoreError {
        self.health.fail(&reason);
        StoreError::Unavailable(reason)
    }

    async fn new_blocking(&self) -> Result<BlockingConnection, StoreError> {
        let timeout = self.timeout;
        match &self.blocking_source {
            BlockingSource::Single(client) => {
                let config =
                    AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(None);
                let conn = client.get_multiplexed_async_connection_with_config(&config);
                self.bounded("connect (blocking read)", timeout, conn).await.map(BlockingConnection::Single)
            }
            BlockingSource::Cluster(client) => {
                let config = ClusterConfig::new().set_connection_timeout(timeout);
                let conn = client.get_async_connection_with_config(config);
                self.bounded("connect (blocking read)", timeout, conn).await.map(BlockingConnection::Cluster)
            }
        }
    }

    /// Run a blocking read (`XREAD BLOCK`) on a dedicated connection, bounded
    /// by `limit`. A pooled connection may have died while idle (e.g. Redis
    /// restarted): if it fails with an error other than a timeout, the read
    /// is retried once on a new connection (a read is safe to repeat).
    pub(super) async fn blocking_read(&self, read: &Cmd, limit: Duration) -> Result<Value, StoreError> {
        self.check_open()?;
        let pooled = lock(&self.blocking_pool).pop();
        if let Some(mut conn) = pooled {
            match tokio::time::timeout(limit, read.query_async::<Value>(&mut conn)).await {
                Ok(Ok(reply)) => {
                    self.health.ok();
                    self.return_blocking(conn);
                    return Ok(reply);
                }
                Ok(Err(e)) if !e.is_timeout() => {
                    tracing::debug!(error = %e, "pooled redis connection failed; retrying on a new one");
                }
                Ok(Err(e)) => return Err(self.failed(format!("redis XREAD BLOCK: {e}"))),
                Err(_) => return Err(self.failed(format!("redis XREAD BLOCK: no reply within {limit:?}"))),
            }
        }
        let mut conn = self.new_blocking().await?;
        // On success the connection is idle again; on error or timeout a reply
        // may still be pending on it, so it is dropped (the future owns it).
        let (conn, reply) = self
            .bounded("XREAD BLOCK", limit, async move {
                let reply = read.query_async::<Value>(&mut conn).await?;
                Ok((conn, reply))
            })
            .await?;
        self.return_blocking(conn);
        Ok(reply)
    }

    fn return_blocking(&self, conn: BlockingConnection) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut pool = lock(&self.blocking_pool);
        if pool.len() < MAX_IDLE_BLOCKING {
            pool.push(conn);
        }
    }
}
