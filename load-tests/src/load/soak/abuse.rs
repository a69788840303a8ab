//! The abusive clients of a soak, each from its own loopback address and in
//! a loop bounded by the run's stop: an idea flooder, a join flooder, a join
//! code guesser, trickling-header and silent sockets, slow readers, oversized
//! and malformed frames, a hand raise/lower flooder, and unauthenticated
//! POSTs announcing a huge body.
//!
//! Why it records outcomes rather than asserting them: the soak's question
//! is whether the server stays flat while these run; what each abuser got
//! (refusal codes, close codes, how long a socket was held) goes into the
//! samples. A socket held well past its documented timeout is recorded as
//! `not_cut` / `held_too_long`, which fails the run.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use super::honest::SoakForum;
use crate::dial::{self, Ws};
use crate::roles::splitmix64;
use crate::wire::Target;

/// The documented timeouts (SPEC §13) are 10 s; past this a socket counts as held too long.
const HELD_TOO_LONG: Duration = Duration::from_secs(15);

fn address(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

pub(crate) struct Abusers(JoinSet<()>);

pub(crate) fn start(shared: Arc<Shared>, forum: &Arc<SoakForum>, duration: Duration) -> Abusers {
    let mut tasks = JoinSet::new();
    // At most this many idea flooders over the run (20 ideas each), so honest
    // ideas and the flood stay under the forum's 500.
    let personas = ((duration.as_secs() / 120) as usize).clamp(1, 10);
    tasks.spawn(idea_flooder(shared.clone(), forum.clone(), personas));
    tasks.spawn(join_flooder(shared.clone(), forum.clone()));
    tasks.spawn(code_guesser(shared.clone()));
    for n in 0..100 {
        tasks.spawn(trickler(shared.clone(), n));
    }
    for n in 0..100 {
        tasks.spawn(silent(shared.clone(), n, n % 5 == 0));
    }
    for n in 0..4 {
        tasks.spawn(slow_reader(shared.clone(), forum.clone(), n));
    }
    tasks.spawn(bad_frames(shared.clone(), forum.clone()));
    tasks.spawn(hand_flooder(shared.clone(), forum.clone()));
    for n in 0..10 {
        tasks.spawn(huge_post(shared.clone(), n));
    }
    Abusers(tasks)
}

impl Abusers {
    pub(crate) async fn finish(mut self) {
        // Every abuser ends its current attempt within about a minute of the stop.
        let all = async { while self.0.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(90), all).await.is_err() {
            self.0.abort_all();
        }
    }
}

async fn ws_from(shared: &Shared, source: IpAddr) -> anyhow::Result<Ws> {
    let stream = dial::tcp(shared.server, source, false).await?;
    dial::handshake(stream, shared.server, Target::Madang, None).await
}

/// What a WebSocket answer was, as an outcome name: an error code (with its
/// rule), a close code, `ack`, `welcome`, or how the connection ended.
fn classify(message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> (String, bool) {
    match message {
        Some(Ok(Message::Text(text))) => {
            let frame: Value = serde_json::from_str(&text).unwrap_or_default();
            let kind = frame["type"].as_str().unwrap_or("other");
            match kind {
                "error" => {
                    let code = frame["code"].as_str().unwrap_or("?");
                    match frame["rule"].as_str() {
                        Some(rule) => (format!("{code}.{rule}"), false),
                        None => (code.to_owned(), false),
                    }
                }
                "ack" | "welcome" => (kind.to_owned(), false),
                _ => (String::new(), false),
            }
        }
        Some(Ok(Message::Close(close))) => {
            (format!("close_{}", close.map(|c| u16::from(c.code)).unwrap_or(1005)), true)
        }
        Some(Ok(_)) => (String::new(), false),
        Some(Err(_)) | None => ("dropped".to_owned(), true),
    }
}

/// Join once and return the participant token (for the abusers that need a person).
async fn join(shared: &Shared, source: IpAddr, code: &str) -> Option<String> {
    let mut ws = ws_from(shared, source).await.ok()?;
    ws.send(Message::text(json!({"type": "auth", "join_code": code, "name": "x"}).to_string())).await.ok()?;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).ok()?;
            let _ = ws.close(None).await;
            return frame.pointer("/participant/token").and_then(Value::as_str).map(str::to_owned);
        }
    }
    None
}

/// Send `frames` at once on a connection logged in with `token`, then read
/// answers for `secs` seconds or until it is closed, recording each.
async fn blast(shared: &Shared, abuser: &str, source: IpAddr, token: &str, frames: Vec<String>, secs: u64) {
    let Ok(mut ws) = ws_from(shared, source).await else { return shared.outcome(abuser, "connect_refused") };
    if ws.send(Message::text(json!({"type": "auth", "token": token}).to_string())).await.is_err() {
        return shared.outcome(abuser, "dropped");
    }
    for frame in frames {
        if ws.send(Message::text(frame)).await.is_err() {
            break;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(message) = tokio::time::timeout_at(deadline, ws.next()).await {
        let (outcome, ended) = classify(message);
        if !outcome.is_empty() && outcome != "welcome" {
            shared.outcome(abuser, &outcome);
        }
        if ended {
            return;
        }
    }
    let _ = ws.close(None).await;
}

/// One person at a time floods ideas on three connections; a new person every 2 minutes.
async fn idea_flooder(shared: Arc<Shared>, forum: Arc<SoakForum>, personas: usize) {
    let source = address(2);
    for persona in 0..personas {
        let Some(token) = join(&shared, source, &forum.remote_code).await else {
            shared.outcome("idea_flood", "join_failed");
            continue;
        };
        let until = Instant::now() + Duration::from_secs(120);
        let mut round = 0u64;
        while Instant::now() < until && !shared.stopped() {
            round += 1;
            let mut bursts = JoinSet::new();
            for connection in 0..3u64 {
                let frames = (0..60)
                    .map(|n| {
                        json!({"type": "submit_idea", "id": format!("{round}-{connection}-{n}"),
                            "text": "🔥".repeat(500)})
                        .to_string()
                    })
                    .collect();
                let (shared, token) = (shared.clone(), token.clone());
                bursts.spawn(async move { blast(&shared, "idea_flood", source, &token, frames, 3).await });
            }
            while bursts.join_next().await.is_some() {}
        }
        if shared.stopped() || persona + 1 == personas {
            break;
        }
    }
}

/// New participants from one address, 20 attempts a second.
async fn join_flooder(shared: Arc<Shared>, forum: Arc<SoakForum>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    while !shared.stopped() {
        ticker.tick().await;
        let Ok(mut ws) = ws_from(&shared, address(3)).await else {
            shared.outcome("join_flood", "connect_refused");
            continue;
        };
        let auth = json!({"type": "auth", "join_code": forum.remote_code, "name": "flood"});
        if ws.send(Message::text(auth.to_string())).await.is_err() {
            continue;
        }
        if let Ok(message) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            let (outcome, _) = classify(message);
            shared.outcome("join_flood", if outcome.is_empty() { "other" } else { &outcome });
        } else {
            shared.outcome("join_flood", "no_answer_in_10s");
        }
        let _ = ws.close(None).await;
    }
}

/// Wrong join codes from one address, 20 a second: unauthorized, then locked out.
async fn code_guesser(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let mut random = 7u64;
    while !shared.stopped() {
        ticker.tick().await;
        random = splitmix64(random);
        let code: String = (0..6).map(|i| char::from(b'A' + ((random >> (i * 5)) % 26) as u8)).collect();
        let Ok(mut ws) = ws_from(&shared, address(4)).await else {
            shared.outcome("code_guess", "connect_refused");
            continue;
        };
        if ws.send(Message::text(json!({"type": "auth", "join_code": code}).to_string())).await.is_err() {
            continue;
        }
        if let Ok(message) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            let (outcome, _) = classify(message);
            shared.outcome("code_guess", if outcome.is_empty() { "other" } else { &outcome });
        } else {
            shared.outcome("code_guess", "no_answer_in_10s");
        }
        let _ = ws.close(None).await;
    }
}

/// Hold a raw socket from `source`, sending `trickle` a byte a second (or
/// nothing), until the server closes it; record whether that came in time.
async fn hold(shared: &Shared, abuser: &str, source: IpAddr, opening: &[u8], trickle: bool) {
    let Ok(mut stream) = dial::tcp(shared.server, source, false).await else {
        return shared.outcome(abuser, "connect_refused");
    };
    let started = Instant::now();
    if stream.write_all(opening).await.is_err() {
        return shared.outcome(abuser, "cut");
    }
    let mut buffer = [0u8; 4096];
    loop {
        if started.elapsed() > Duration::from_secs(60) {
            return shared.outcome(abuser, "not_cut");
        }
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) if trickle => {
                if stream.write_all(b"X").await.is_err() {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    shared.outcome(abuser, if started.elapsed() > HELD_TOO_LONG { "held_too_long" } else { "cut" });
}

/// A request head that never ends: one header byte a second.
async fn trickler(shared: Arc<Shared>, n: u64) {
    tokio::time::sleep(Duration::from_millis(n * 100)).await;
    while !shared.stopped() {
        hold(&shared, "trickle", address(5), b"GET /healthz HTTP/1.1\r\nHost: soak\r\nX-Slow: ", true).await;
    }
}

/// A socket that says nothing, or (`websocket`) a WebSocket that never sends `auth`.
async fn silent(shared: Arc<Shared>, n: u64, websocket: bool) {
    tokio::time::sleep(Duration::from_millis(n * 100)).await;
    while !shared.stopped() {
        if !websocket {
            hold(&shared, "silent", address(6), b"", false).await;
            continue;
        }
        let Ok(mut ws) = ws_from(&shared, address(6)).await else {
            shared.outcome("silent_ws", "connect_refused");
            continue;
        };
        let started = Instant::now();
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(message) => {
                let (outcome, _) = classify(message);
                let outcome = if started.elapsed() > HELD_TOO_LONG { "held_too_long".to_owned() } else { outcome };
                shared.outcome("silent_ws", &outcome);
            }
            Err(_) => shared.outcome("silent_ws", "not_cut"),
        }
    }
}

/// A participant that stops reading its socket for 60 s, then reads what is
/// left: the server should have cut it off (a close, or the end of the stream).
async fn slow_reader(shared: Arc<Shared>, forum: Arc<SoakForum>, n: u64) {
    tokio::time::sleep(Duration::from_secs(n * 15)).await;
    let source = address(7);
    let Some(token) = join(&shared, source, &forum.remote_code).await else {
        return shared.outcome("slow_reader", "join_failed");
    };
    while !shared.stopped() {
        let Ok(stream) = dial::tcp(shared.server, source, true).await else {
            shared.outcome("slow_reader", "connect_refused");
            continue;
        };
        let Ok(mut ws) = dial::handshake(stream, shared.server, Target::Madang, None).await else { continue };
        if ws.send(Message::text(json!({"type": "auth", "token": token}).to_string())).await.is_err() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shared.until_stop() => return,
        }
        let mut outcome = "not_cut";
        while let Ok(message) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            match message {
                Some(Ok(Message::Close(close))) => {
                    let code = close.map(|c| u16::from(c.code)).unwrap_or(1005);
                    shared.outcome("slow_reader", &format!("close_{code}"));
                    outcome = "cut";
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    outcome = "cut";
                    break;
                }
            }
        }
        shared.outcome("slow_reader", outcome);
    }
}

/// Oversized, malformed and binary frames from one participant, five connections a second.
async fn bad_frames(shared: Arc<Shared>, forum: Arc<SoakForum>) {
    let source = address(8);
    let Some(token) = join(&shared, source, &forum.remote_code).await else {
        return shared.outcome("bad_frames", "join_failed");
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut n = 0u64;
    while !shared.stopped() {
        ticker.tick().await;
        n += 1;
        let frame = match n % 3 {
            0 => format!(r#"{{"type":"submit_idea","id":"x","text":"{}"}}"#, "a".repeat(70_000)),
            1 => r#"{"type":"cast_ballot","id":"y","poll":"#.to_owned(),
            _ => r#"{"type":"no_such_command","id":"z"}"#.to_owned(),
        };
        blast(&shared, "bad_frames", source, &token, vec![frame], 2).await;
    }
}

/// One participant raising and lowering a hand as fast as it can.
async fn hand_flooder(shared: Arc<Shared>, forum: Arc<SoakForum>) {
    let source = address(9);
    let Some(token) = join(&shared, source, &forum.remote_code).await else {
        return shared.outcome("hand_flood", "join_failed");
    };
    let mut round = 0u64;
    while !shared.stopped() {
        round += 1;
        let frames = (0..150)
            .map(|n| {
                let kind = if n % 2 == 0 { "raise_hand" } else { "lower_hand" };
                json!({"type": kind, "id": format!("{round}-{n}")}).to_string()
            })
            .collect();
        blast(&shared, "hand_flood", source, &token, frames, 3).await;
    }
}

/// `POST /api/forums` without a token, announcing a terabyte and sending one
/// byte, once a second: the probe is whether such a request is held, not how
/// many unauthenticated requests a second one address can make.
async fn huge_post(shared: Arc<Shared>, n: u64) {
    tokio::time::sleep(Duration::from_millis(n * 100)).await;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    while !shared.stopped() {
        ticker.tick().await;
        let Ok(mut stream) = dial::tcp(shared.server, address(10), false).await else {
            shared.outcome("huge_post", "connect_refused");
            continue;
        };
        let started = Instant::now();
        let head = "POST /api/forums HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{";
        if stream.write_all(head.as_bytes()).await.is_err() {
            shared.outcome("huge_post", "cut");
            continue;
        }
        // The answer's head, or the end of the stream: a kept-alive connection is not waited out.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), async {
            let mut buffer = [0u8; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        let outcome = match read {
            Err(_) => "not_cut".to_owned(),
            Ok(_) if started.elapsed() > HELD_TOO_LONG => "held_too_long".to_owned(),
            Ok(_) => match std::str::from_utf8(&answer).ok().and_then(|a| a.split_whitespace().nth(1)) {
                Some(status) => format!("status_{status}"),
                None => "cut".to_owned(),
            },
        };
        shared.outcome("huge_post", &outcome);
    }
}
