//! The integration tests' harness: a real server on an ephemeral port, real
//! WebSocket clients, the real binary as a child process, and raw reads of
//! what a node stored in Redis.
//!
//! It drives a node only from outside (HTTP, WebSocket, the keys it wrote),
//! as a deployment would: it knows the wire protocol, not the server's
//! internals. Starting and breaking Redis itself is `madang_testkit`'s job.

mod catch_up;
mod client;
pub mod http;
mod process;
mod redis_keys;
mod server;

use std::time::Duration;

pub use catch_up::{wait_for_view, wait_forum_known};
pub use client::Client;
pub use process::Process;
pub use redis_keys::{forum_log, redis_key_exists, redis_on_key, redis_single, stream_entries, unique_prefix};
pub use server::{ADMIN, TestServer, fast_limits, test_hub};

/// How long a test waits for any one frame, answer or catch-up.
pub const WAIT: Duration = Duration::from_secs(10);

static CROWDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held by the tests that drive a crowd of hundreds of sockets or a stream
/// of large frames, so that no two of them share this machine's cores at
/// once: each bounds what it measures by ticks and timeouts, which two
/// storms at a time would stretch past their waits. The others run beside
/// them as usual.
pub async fn one_crowd_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    CROWDS.lock().await
}
