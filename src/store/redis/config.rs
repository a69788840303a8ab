//! How to reach Redis: what the operator configures, and nothing that is
//! derived from it.

use std::time::Duration;

use crate::store::StoreError;

/// The key prefix when none is configured.
pub(crate) const DEFAULT_PREFIX: &str = "madang";
/// The default bound on one Redis round trip.
pub(crate) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]` or `rediss://...` (TLS). Single
    /// node: exactly one. Cluster: any number of seed nodes (same password).
    pub urls: Vec<String>,
    /// Talk Redis Cluster (slot routing, MOVED/ASK) instead of one server.
    pub cluster: bool,
    /// Prefix of every key (`P` in the module documentation). No `{`, `}` or whitespace.
    pub prefix: String,
    /// Bound on each Redis round trip; also the connect timeout.
    pub command_timeout: Duration,
}

impl RedisConfig {
    /// One server at `url`, default prefix and timeout.
    pub fn single(url: impl Into<String>) -> Self {
        Self { urls: vec![url.into()], ..Self::default() }
    }

    /// A Redis Cluster reached through `urls`, default prefix and timeout.
    pub fn cluster(urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { urls: urls.into_iter().map(Into::into).collect(), cluster: true, ..Self::default() }
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            urls: vec!["redis://127.0.0.1:6379".into()],
            cluster: false,
            prefix: DEFAULT_PREFIX.into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

/// A configuration [`connect`](super::connect) cannot work with.
pub(super) fn invalid_config(reason: String) -> StoreError {
    StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason))
}
