//! Waiting for a node to catch up with what another node wrote to the
//! shared store: a forum it has not discovered yet, a view that lags.

use std::time::Duration;

use serde_json::Value;

use super::WAIT;
use super::server::TestServer;

/// Poll `view()` until it equals `expected` (another node catching up), at most `WAIT`.
pub async fn wait_for_view(server: &TestServer, forum: &str, expected: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = server.forum_view(forum).await;
        if &view == expected {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} did not catch up within {WAIT:?}:\n got      {view}\n expected {expected}",
            server.addr
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Poll `GET /api/forums/{id}` on `server` until it answers 200 (a node
/// discovering a forum another node created), at most `WAIT`.
pub async fn wait_forum_known(server: &TestServer, forum: &str) {
    let url = server.http(&format!("/api/forums/{forum}"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let res = reqwest::Client::new().get(&url).timeout(Duration::from_secs(10)).send().await.expect("GET forum");
        if res.status() == 200 {
            return;
        }
        assert_eq!(res.status(), 404, "GET {url}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} did not discover forum {forum} in {WAIT:?}",
            server.addr
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
