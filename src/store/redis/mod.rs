//! The Redis Streams event store: one stream per forum, shared by every hub node.
//!
//! Several Madang nodes can serve the same forums by pointing at one Redis (a
//! single server or a Redis Cluster). The store is [`EventLog::shared`](crate::store::EventLog::shared): each
//! node tails the forums it serves with [`EventLog::wait_after`](crate::store::EventLog::wait_after).
//!
//! The pieces, one file each: `config` (what the operator sets),
//! `keys` (the key layout, a stored format), `connection` (the shared
//! connection, the pool for blocking reads, timeouts and health),
//! `append_script` (the compare-and-append), `replies` (replies decoded
//! into records), and one file per contract: `event_log`, `snapshots`,
//! `outcomes`. Like every backend, it does not know what a record means.
//!
//! # Durability
//!
//! `append` returns Ok when the script returned ok, i.e. Redis applied the
//! `XADD`s. Whether that survives a crash of the Redis machine is Redis's AOF
//! setting: with `appendonly yes` and `appendfsync always` an acknowledged
//! append is on disk (no acknowledged loss on a Redis crash or power loss);
//! with `appendfsync everysec` (Redis's default) up to about one second of
//! acknowledged events may be lost if the Redis machine loses power; without
//! AOF, everything since the last RDB save. Replication is asynchronous: a
//! failover to a replica can also lose the last acknowledged writes.
//!
//! # Failures
//!
//! Every Redis round trip is bounded by [`RedisConfig::command_timeout`]
//! (default 2 s). A connection error, a timeout or an error reply becomes
//! [`StoreError::Unavailable`]; an append that failed this way may or may not
//! have been applied (a retry of the same seqs then gets `OutOfOrder` if it
//! was). [`Backend::degraded`] reports the last failure until the next
//! command succeeds. Connections reconnect in the background; the store never
//! has to be recreated.
//!
//! [`connect`] is lazy: it does not fail when Redis is down. It probes Redis
//! once (bounded by the command timeout) and, if that fails, returns a store
//! that reports itself degraded and keeps reconnecting.

mod append_script;
mod config;
mod connection;
mod event_log;
mod health;
mod keys;
mod outcomes;
mod replies;
mod snapshots;
#[cfg(test)]
mod tests;

use redis::{Value, cmd};

use self::append_script::AppendScript;
pub use self::config::RedisConfig;
use self::config::invalid_config;
use self::connection::Connections;
use self::keys::KeyLayout;
use super::{Backend, StoreError};

/// See the module documentation.
pub struct RedisStore {
    connections: Connections,
    keys: KeyLayout,
    append_script: AppendScript,
}

/// Open a store on Redis. Lazy: returns without a connection when Redis is
/// down (after at most `command_timeout`), reporting [`Backend::degraded`]
/// until Redis answers. Fails only on an invalid configuration (bad URL or
/// prefix), as [`StoreError::Io`] with kind `InvalidInput`.
pub async fn connect(config: RedisConfig) -> Result<RedisStore, StoreError> {
    let RedisConfig { urls, cluster, prefix, command_timeout: timeout } = config;
    let keys = KeyLayout::new(prefix)?;
    if timeout.is_zero() {
        return Err(invalid_config("redis command timeout must be > 0".into()));
    }
    let store = RedisStore {
        connections: Connections::new(&urls, cluster, timeout)?,
        keys,
        append_script: AppendScript::new(),
    };
    // Probe once; a failure is recorded in `degraded()`, not returned.
    if let Err(e) = store.connections.query::<Value>("PING", cmd("PING")).await {
        tracing::warn!(error = %e, "redis not reachable at start-up; will keep trying");
    }
    Ok(store)
}

#[async_trait::async_trait]
impl Backend for RedisStore {
    fn degraded(&self) -> Option<String> {
        self.connections.degraded()
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.connections.close();
        Ok(())
    }
}
