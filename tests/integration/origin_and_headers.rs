//! What a browser needs from the server to keep other sites out: WebSocket
//! upgrades only from the server's own pages (or origins the operator
//! allowed), and pages that cannot be framed, sniffed or leak their path.

use madang_protocol::CreateForumRequest;
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};

use crate::harness::{Client, Process, TestServer};

/// Open `url` with `origin` as the `Origin` header (none when `None`);
/// the HTTP status of the refusal, or 101 when the upgrade succeeded.
async fn upgrade_status(url: &str, origin: Option<&str>) -> u16 {
    let mut request = Client::handshake(url).expect("request");
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_str(origin).expect("origin header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(err) => panic!("upgrade to {url} with origin {origin:?} failed: {err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_from_another_origin_is_refused_with_403() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = server.ws_url();
    let own = format!("http://{}", server.addr);

    assert_eq!(upgrade_status(&url, Some("http://evil.example")).await, 403, "another site");
    assert_eq!(upgrade_status(&url, Some("null")).await, 403, "an opaque origin (sandboxed frame, file://)");
    let other_port = format!("http://{}:{}", server.addr.ip(), server.addr.port() + 1);
    assert_eq!(upgrade_status(&url, Some(&other_port)).await, 403, "the same host on another port");
    assert_eq!(upgrade_status(&url, Some(&own)).await, 101, "the server's own pages");
    assert_eq!(upgrade_status(&url, None).await, 101, "a client that is not a browser sends no Origin");

    // The console on the server's own origin authenticates as before.
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Origins".into(),
            language: None,
            eligibility: None,
            agenda: Vec::new(),
        })
        .await;
    let mut request = Client::handshake(&url).expect("request");
    request.headers_mut().insert("Origin", HeaderValue::from_str(&own).expect("origin"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("same-origin upgrade");
    let mut console = Client { ws, backlog: Vec::new() };
    console.send(json!({"type": "auth", "token": created.moderator_token})).await;
    let welcome = console.expect("welcome", |f| f["type"] == "welcome").await;
    assert_eq!(welcome["role"], "moderator");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_allowed_on_the_command_line_may_open_websockets() {
    let dir = tempfile::tempdir().unwrap();
    let node = Process::start_args(
        dir.path(),
        &["--allowed-origin", "https://forum.city.example", "--allowed-origin", "https://Display.City.Example/"],
    )
    .await;
    let url = node.ws();
    assert_eq!(upgrade_status(&url, Some("https://forum.city.example")).await, 101, "first allowed origin");
    assert_eq!(upgrade_status(&url, Some("https://display.city.example")).await, 101, "second, case and slash aside");
    assert_eq!(upgrade_status(&url, Some("http://forum.city.example")).await, 403, "another scheme is another origin");
    assert_eq!(upgrade_status(&url, Some("https://evil.example")).await, 403, "not allowed");
    assert_eq!(upgrade_status(&url, None).await, 101, "no Origin");
}

/// The headers every page, asset and answer carries, and what each is for.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    // Nothing but this server's own scripts, styles, images and WebSocket, and no framing.
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    // Browsers that predate frame-ancestors.
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    // `/j/<join code>` must not travel to another site in `Referer`.
    ("referrer-policy", "no-referrer"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_asset_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let http = reqwest::Client::new();
    let paths = [
        ("/", 200),
        ("/console", 200),
        ("/display", 200),
        ("/join", 200),
        ("/j/ABCDEF", 200),
        ("/static/console.js", 200),
        ("/static/app.css", 200),
        ("/static/favicon.svg", 200),
        ("/api/qr.svg?code=ABCDEF", 200),
        ("/healthz", 200),
        ("/static/missing.js", 404),
        ("/no/such/route", 404),
    ];
    for (path, status) in paths {
        let response = http.get(server.http(path)).send().await.expect("get");
        assert_eq!(response.status().as_u16(), status, "{path}");
        for (name, value) in SECURITY_HEADERS {
            let given = response.headers().get_all(name).iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>();
            assert_eq!(given, [value], "{name} on {path}");
        }
    }
    server.stop().await;
}
