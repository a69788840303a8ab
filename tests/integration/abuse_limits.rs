//! Limits that hold across connections, probed on real sockets from several
//! loopback addresses (127.0.0.x are distinct addresses to the server): one
//! person's commands over many connections, new participants from one
//! address, and wrong credentials from one address.

use std::time::Instant;

use futures_util::SinkExt;
use madang_protocol::{CreateForumRequest, CreateForumResponse};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

use madang::abuse::AddressLimits;
use madang::hub::HubConfig;
use madang::ws::WsLimits;

use crate::harness::{Client, TestServer, test_hub};

/// A WebSocket to `server` whose socket is bound to the loopback address `from`.
async fn connect_from(from: [u8; 4], server: &TestServer) -> Client {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(std::net::SocketAddr::from((from, 0))).expect("bind a loopback source address");
    let stream = socket.connect(server.addr).await.expect("connect");
    let request = Client::handshake(&server.ws_url()).expect("request");
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await.expect("handshake");
    Client { ws, backlog: Vec::new() }
}

/// Send `auth` from `from`; the client and the server's first frame.
async fn auth_from(from: [u8; 4], server: &TestServer, auth: Value) -> (Client, Value) {
    let mut client = connect_from(from, server).await;
    client.send(auth).await;
    let first = client.recv().await;
    (client, first)
}

async fn forum(server: &TestServer) -> CreateForumResponse {
    server
        .create_forum(&CreateForumRequest {
            title: "Abuse".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![],
        })
        .await
}

/// A code of the join-code alphabet that is neither of the forum's codes.
fn wrong_code(created: &CreateForumResponse, n: usize) -> String {
    let alphabet = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    (n..)
        .map(|k| (0..6).map(|i| alphabet[(k * 7 + i * 13 + k / 31) % alphabet.len()] as char).collect::<String>())
        .find(|code| *code != created.join_codes.remote && *code != created.join_codes.hall)
        .expect("a wrong code")
}

fn is_rate_limited(frame: &Value) -> bool {
    frame["type"] == "error" && frame["code"] == "rate_limited"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_participant_on_twenty_connections_gets_one_persons_rate() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "add_item", "title": "Streets"})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let (first, welcome) = server.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
    let token = welcome["participant"]["token"].as_str().expect("participant token").to_string();
    let mut connections = vec![first];
    for _ in 1..20 {
        connections.push(server.connect(json!({"type": "auth", "token": token})).await.0);
    }

    // 30 ideas on each connection, written at once: within one connection's
    // burst (40), 600 in all.
    let started = Instant::now();
    for (c, client) in connections.iter_mut().enumerate() {
        for i in 0..30 {
            let frame = json!({"type": "submit_idea", "id": format!("c{c}-{i}"), "text": format!("idea {c} {i}")});
            client.ws.feed(Message::Text(frame.to_string().into())).await.expect("feed");
        }
        client.ws.flush().await.expect("flush");
    }
    let (mut passed, mut limited) = (0u32, 0u32);
    for (c, client) in connections.iter_mut().enumerate() {
        for i in 0..30 {
            let answer = client.answer(&format!("c{c}-{i}")).await;
            if is_rate_limited(&answer) { limited += 1 } else { passed += 1 }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    // One person: a burst of 40, then 20 a second, over all connections.
    let allowed = 40.0 + 20.0 * elapsed + 2.0;
    assert!(
        f64::from(passed) <= allowed,
        "{passed} of 600 commands passed in {elapsed:.2} s ({limited} rate limited); at most {allowed:.0} may"
    );
    assert!(passed >= 40, "the person's burst passes: {passed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_from_one_address_are_refused_past_the_limit_while_another_address_joins() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let join = json!({"type": "auth", "join_code": created.join_codes.hall});

    let started = Instant::now();
    let (mut joined, mut refused) = (0u32, 0u32);
    for _ in 0..100 {
        let (mut client, first) = auth_from([127, 0, 0, 2], &server, join.clone()).await;
        if first["type"] == "welcome" {
            joined += 1;
        } else {
            assert!(is_rate_limited(&first), "a join past the limit is refused as rate_limited: {first}");
            assert_eq!(client.closed().await, 1013, "and closed with try again later");
            refused += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A burst of 60, then 2 a second.
    let allowed = 60.0 + 2.0 * elapsed + 1.0;
    assert!(f64::from(joined) <= allowed, "{joined} of 100 joins from one address in {elapsed:.2} s");
    assert!(joined >= 60 && refused > 0, "joined {joined}, refused {refused}");

    // Another address is not affected, and the refused joins left no participant behind.
    let (_other, welcome) = auth_from([127, 0, 0, 3], &server, join.clone()).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["participant"]["id"], json!(joined + 1), "refused joins created nobody");
    // A participant's own token is not a join: it still comes back from the limited address.
    let token = welcome["participant"]["token"].clone();
    let (_back, again) = auth_from([127, 0, 0, 2], &server, json!({"type": "auth", "token": token})).await;
    assert_eq!(again["type"], "welcome", "{again}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_lock_an_address_out_without_telling_which_codes_exist() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;

    let (mut unauthorized, mut limited) = (0u32, 0u32);
    for n in 0..30 {
        let auth = if n == 0 {
            json!({"type": "auth", "token": "forged-token"})
        } else {
            json!({"type": "auth", "join_code": wrong_code(&created, n)})
        };
        let (mut client, first) = auth_from([127, 0, 0, 4], &server, auth).await;
        match first["code"].as_str() {
            Some("unauthorized") => {
                assert_eq!(client.closed().await, 4001);
                unauthorized += 1;
            }
            Some("rate_limited") => {
                assert_eq!(client.closed().await, 1013);
                limited += 1;
            }
            _ => panic!("a wrong credential is refused: {first}"),
        }
    }
    assert!((20..=21).contains(&unauthorized), "20 wrong credentials at once are answered: {unauthorized}");
    assert_eq!(limited, 30 - unauthorized);

    // Locked out: the right code is refused exactly like a wrong one.
    let right = json!({"type": "auth", "join_code": created.join_codes.remote});
    let (_locked, first) = auth_from([127, 0, 0, 4], &server, right.clone()).await;
    assert!(is_rate_limited(&first), "a locked-out address gets no answer about the code: {first}");
    let (_wrong, first_wrong) =
        auth_from([127, 0, 0, 4], &server, json!({"type": "auth", "join_code": wrong_code(&created, 99)})).await;
    assert_eq!(first_wrong["message"], first["message"], "right and wrong codes are refused alike");

    // Another address still joins with the right code.
    let (_other, welcome) = auth_from([127, 0, 0, 5], &server, right).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    server.stop().await;
}

/// Join `forum` over a socket from 127.0.0.1 whose upgrade carries
/// `X-Forwarded-For: forwarded`; the server's first frame.
async fn join_forwarded(server: &TestServer, code: &str, forwarded: &str) -> Value {
    let mut request = Client::handshake(&server.ws_url()).expect("request");
    request.headers_mut().insert("X-Forwarded-For", forwarded.parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("handshake");
    let mut client = Client { ws, backlog: Vec::new() };
    client.send(json!({"type": "auth", "join_code": code})).await;
    client.recv().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_joins_count_per_forwarded_address() {
    let few_joins = || HubConfig {
        addresses: AddressLimits { joins_per_minute: 1, join_burst: 2, ..AddressLimits::default() },
        ..test_hub()
    };
    let dir = tempfile::tempdir().unwrap();
    let proxied = WsLimits { trust_forwarded_for: true, ..WsLimits::default() };
    let server = TestServer::start_with(dir.path(), few_joins(), proxied).await;
    let code = forum(&server).await.join_codes.hall;
    for _ in 0..2 {
        assert_eq!(join_forwarded(&server, &code, "203.0.113.1").await["type"], "welcome");
    }
    assert!(is_rate_limited(&join_forwarded(&server, &code, "203.0.113.1").await), "the third from one client");
    // What a client wrote into the header itself is to the left of what the proxy appended.
    let forged = join_forwarded(&server, &code, "198.51.100.9, 203.0.113.1").await;
    assert!(is_rate_limited(&forged), "the proxy's entry counts, not the client's: {forged}");
    assert_eq!(join_forwarded(&server, &code, "198.51.100.9, 203.0.113.2").await["type"], "welcome");
    server.stop().await;

    // Without the option the header is the client's word and is ignored.
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), few_joins(), WsLimits::default()).await;
    let code = forum(&server).await.join_codes.hall;
    for n in 0..2 {
        assert_eq!(join_forwarded(&server, &code, &format!("203.0.113.{n}")).await["type"], "welcome");
    }
    assert!(is_rate_limited(&join_forwarded(&server, &code, "203.0.113.9").await), "all from 127.0.0.1");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_code_with_a_stale_participant_token_is_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let other = forum(&server).await;
    let (_, welcome) = server.connect(json!({"type": "auth", "join_code": other.join_codes.hall})).await;
    let foreign = welcome["participant"]["token"].clone();

    // A hall's phones coming back with a token of yesterday's forum: each is
    // told to drop it (unauthorized), and the hall's address is not locked out.
    let stale = json!({"type": "auth", "join_code": created.join_codes.hall, "participant_token": foreign});
    for _ in 0..30 {
        let (_, first) = auth_from([127, 0, 0, 6], &server, stale.clone()).await;
        assert_eq!(first["code"], "unauthorized", "{first}");
    }
    let (_, welcome) =
        auth_from([127, 0, 0, 6], &server, json!({"type": "auth", "join_code": created.join_codes.hall})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    server.stop().await;
}
