//! `GET /api/join/{code}`: what a join page shows before joining, and why it
//! is no cheaper a code oracle than `auth`: unknown codes count as wrong
//! credentials of the address, and a locked-out address is refused before
//! its code is looked at (the same lockout as `auth`).

use std::net::IpAddr;
use std::time::Duration;

use madang_protocol::{CreateForumRequest, CreateForumResponse};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

/// `GET /api/join/{code}` from the loopback address `from`: status and body.
async fn lookup_from(from: [u8; 4], server: &TestServer, code: &str) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let res = client.get(format!("http://{}/api/join/{code}", server.addr)).send().await.expect("GET /api/join");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

fn unknown_code(created: &CreateForumResponse, n: usize) -> String {
    let alphabet = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    (n..)
        .map(|k| (0..6).map(|i| alphabet[(k * 11 + i * 7 + k / 31) % alphabet.len()] as char).collect::<String>())
        .find(|code| *code != created.join_codes.remote && *code != created.join_codes.hall)
        .expect("an unknown code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_code_shows_its_forum_and_unknown_codes_lock_the_address_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created: CreateForumResponse = server
        .create_forum(&CreateForumRequest {
            title: "강변 공원".into(),
            language: Some("ko".into()),
            eligibility: None,
            agenda: vec![],
        })
        .await;

    let (status, body) = lookup_from([127, 0, 0, 6], &server, &created.join_codes.hall.to_lowercase()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "forum": created.id, "title": "강변 공원", "language": "ko", "status": "draft", "channel": "hall",
            "eligibility": "open"
        })
    );

    let (mut not_found, mut limited) = (0u32, 0u32);
    for n in 0..30 {
        let (status, body) = lookup_from([127, 0, 0, 7], &server, &unknown_code(&created, n)).await;
        match status {
            404 => {
                assert_eq!(body["error"]["code"], "not_found");
                not_found += 1;
            }
            429 => {
                assert_eq!(body["error"]["code"], "rate_limited");
                limited += 1;
            }
            other => panic!("an unknown code is refused: {other} {body}"),
        }
    }
    assert!((20..=21).contains(&not_found), "the burst of wrong credentials is answered: {not_found}");
    assert_eq!(not_found + limited, 30);

    // Locked out: a valid code gets the same answer, so the answer tells nothing.
    let (status, body) = lookup_from([127, 0, 0, 7], &server, &created.join_codes.remote).await;
    assert_eq!((status, body["error"]["code"].clone()), (429, json!("rate_limited")));

    // The same lockout as `auth`: a WebSocket join from the address is refused too.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 7], 0))).expect("bind");
    let stream = socket.connect(server.addr).await.expect("connect");
    let request = Client::handshake(&server.ws_url()).expect("request");
    let (ws, _) = tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .expect("handshake");
    let mut client = Client { ws, backlog: Vec::new() };
    client.send(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
    assert_eq!(client.recv().await["code"], "rate_limited");

    // Another address is not affected.
    let (status, _) = lookup_from([127, 0, 0, 8], &server, &created.join_codes.remote).await;
    assert_eq!(status, 200);
}

/// `GET /api/forums/{id}` from the loopback address `from`: the status.
async fn public_view_from(client: &reqwest::Client, server: &TestServer, forum: &str) -> u16 {
    let res = client.get(format!("http://{}/api/forums/{forum}", server.addr)).send().await.expect("GET /api/forums");
    res.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_keep_a_forum_answering_api_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created: CreateForumResponse = server
        .create_forum(&CreateForumRequest { title: "Park".into(), language: None, eligibility: None, agenda: vec![] })
        .await;
    let client_from = |from: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(IpAddr::from(from))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client")
    };
    let flooder = client_from([127, 0, 0, 9]);
    let (mut answered, mut limited) = (0u32, 0u32);
    let mut retry_after = None;
    for _ in 0..200 {
        let res = flooder.get(format!("http://{}/api/forums/{}", server.addr, created.id)).send().await.expect("GET");
        match res.status().as_u16() {
            200 => answered += 1,
            429 => {
                limited += 1;
                retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
                let body: Value = res.json().await.expect("JSON body");
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            other => panic!("GET /api/forums answered {other}"),
        }
    }
    // The burst is answered, then about the sustained rate for the loop's duration.
    assert!((60..=120).contains(&answered), "answered {answered} of 200");
    assert_eq!(answered + limited, 200);
    assert_eq!(retry_after.as_deref(), Some("1"), "a refusal says when to come back");
    // Another address is not affected, and the pages' assets are not API requests.
    assert_eq!(public_view_from(&client_from([127, 0, 0, 10]), &server, &created.id).await, 200);
    let page = flooder.get(format!("http://{}/j/{}", server.addr, created.join_codes.remote)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "pages load whatever the API rate");
}
