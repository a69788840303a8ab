//! Test support for Madang: real `redis-server` processes on loopback ports.
//!
//! Used by the Redis store's unit tests and by the integration tests, and by
//! nothing in production: it lives in its own dev-only crate so that `madang`
//! itself carries no test dependencies (`tempfile`). It knows nothing of
//! Madang; it starts, breaks and queries Redis.
//!
//! Each server runs in its own temporary directory with `appendonly yes` and
//! `appendfsync always`, so a [`RedisServer::restart`] after a
//! [`RedisServer::kill`] reloads everything that was acknowledged.
//!
//! Processes are only ever signalled by their own PID, never by name. A server
//! is killed when its handle is dropped; for handles that are never dropped
//! (a `static` shared by many tests), a tiny `sh` watchdog started beside each
//! server kills that server's PID and removes its directory once the test
//! process is gone.
//!
//! Missing binaries are a hard failure, never a skip: see [`NOT_FOUND`].

mod cluster;
mod probe;
mod server;
mod watchdog;

pub use cluster::RedisCluster;
pub use probe::{free_port, query};
pub use server::RedisServer;

/// The panic message when `redis-server` or `redis-cli` is not on PATH.
pub const NOT_FOUND: &str = "redis-server not found: the test command (tests/run) installs it with apt-get; \
     or install the Debian package redis-server";
