//! Plain HTTP calls a test makes against a node: the forum creation and the
//! JSON reads, each with the status it must answer.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `POST url` with the admin bearer `token` and a JSON `body`, asserting 201
/// (a forum was created); the response body.
pub async fn create_forum<Body: Serialize, Response: DeserializeOwned>(
    url: &str,
    token: &str,
    body: &Body,
) -> Response {
    let res = reqwest::Client::new().post(url).bearer_auth(token).json(body).send().await.expect("POST /api/forums");
    assert_eq!(res.status(), 201, "create forum");
    res.json().await.expect("create response")
}

/// `GET url` with a 10 s timeout, panicking if nothing answers.
async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// `GET url`, asserting 200; the body as JSON.
pub async fn get_json(url: &str) -> Value {
    let res = get(url).await;
    assert_eq!(res.status(), 200, "GET {url}");
    res.json().await.expect("JSON body")
}

/// `GET <base>/healthz`: the status code and the JSON body.
pub async fn healthz(url: &str) -> (u16, Value) {
    let res = get(url).await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}
