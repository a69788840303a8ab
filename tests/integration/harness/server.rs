//! A real server (`server::run`) in the test's own runtime, on an ephemeral
//! loopback port, with the embedded store or on Redis.
//!
//! Tests reach it only through HTTP and WebSocket, as a deployment would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use madang::abuse::PersonLimits;
use madang::hub::HubConfig;
use madang::listener::HttpLimits;
use madang::server::{self, Config};
use madang::store::redis::RedisConfig;
use madang::ws::WsLimits;
use madang_protocol::{CreateForumRequest, CreateForumResponse};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::Client;
use super::http::{create_forum, get_json, healthz};

/// The admin token of every [`TestServer`].
pub const ADMIN: &str = "test-admin-token";

/// The hub configuration tests use: tallies every 50 ms.
pub fn test_hub() -> HubConfig {
    HubConfig { tally_interval: Duration::from_millis(50), ..HubConfig::default() }
}

/// Rate limits high enough for a test that drives thousands of commands.
pub fn fast_limits() -> WsLimits {
    let fast = std::num::NonZeroU32::new(100_000).unwrap();
    WsLimits {
        rate_per_sec: fast,
        burst: fast,
        per_person: PersonLimits {
            participant_per_sec: fast,
            participant_burst: fast,
            staff_per_sec: fast,
            staff_burst: fast,
        },
        ..WsLimits::default()
    }
}

/// One running server; [`TestServer::stop`] stops it gracefully.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server on the embedded store in `data_dir` (tallies every 50 ms, default limits).
    pub async fn start(data_dir: &Path) -> TestServer {
        Self::start_with(data_dir, test_hub(), WsLimits::default()).await
    }

    /// A server on the embedded store with the given hub configuration and limits.
    pub async fn start_with(data_dir: &Path, hub: HubConfig, ws: WsLimits) -> TestServer {
        Self::launch(data_dir, None, hub, ws).await
    }

    /// A node on Redis (tallies every 50 ms, default limits).
    pub async fn start_redis(data_dir: &Path, redis: RedisConfig) -> TestServer {
        Self::start_redis_with(data_dir, redis, test_hub(), WsLimits::default()).await
    }

    /// A node on Redis with the given hub configuration and limits.
    pub async fn start_redis_with(data_dir: &Path, redis: RedisConfig, hub: HubConfig, ws: WsLimits) -> TestServer {
        Self::launch(data_dir, Some(redis), hub, ws).await
    }

    /// A server on the embedded store with the given transport limits.
    pub async fn start_http(data_dir: &Path, http: HttpLimits) -> TestServer {
        Self::launch_with(data_dir, None, test_hub(), WsLimits::default(), http).await
    }

    /// A server on the embedded store with every configuration given.
    pub async fn start_configured(data_dir: &Path, hub: HubConfig, ws: WsLimits, http: HttpLimits) -> TestServer {
        Self::launch_with(data_dir, None, hub, ws, http).await
    }

    async fn launch(data_dir: &Path, redis: Option<RedisConfig>, hub: HubConfig, ws: WsLimits) -> TestServer {
        Self::launch_with(data_dir, redis, hub, ws, HttpLimits::default()).await
    }

    async fn launch_with(
        data_dir: &Path,
        redis: Option<RedisConfig>,
        hub: HubConfig,
        ws: WsLimits,
        http: HttpLimits,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let config = Config { data_dir: data_dir.to_path_buf(), redis, admin_token: ADMIN.into(), hub, ws, http };
        let handle = tokio::spawn(server::run(listener, config, async move {
            let _ = stopped.await;
        }));
        TestServer { addr, data_dir: data_dir.to_path_buf(), stop: Some(stop), handle: Some(handle) }
    }

    /// Graceful stop; returns when the server has fully stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), handle)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn create_forum(&self, request: &CreateForumRequest) -> CreateForumResponse {
        create_forum(&self.http("/api/forums"), ADMIN, request).await
    }

    /// Connect and authenticate with `auth`; the client and its `welcome`.
    pub async fn connect(&self, auth: Value) -> (Client, Value) {
        Client::join(&self.ws_url(), auth).await
    }

    /// `GET /api/forums/{id}` as JSON (asserting 200).
    pub async fn forum_view(&self, forum: &str) -> Value {
        get_json(&self.http(&format!("/api/forums/{forum}"))).await
    }

    /// `GET /healthz`: the status code and the JSON body.
    pub async fn healthz(&self) -> (u16, Value) {
        healthz(&self.http("/healthz")).await
    }
}
