//! Before a run: the forum under load and the people in it.
//!
//! On Madang the forum is created over HTTP, a moderator connection starts
//! it, opens a yes/no poll on the second item, and the people join once each
//! to get their tokens; that moderator connection stays open for the whole
//! run. The socket.io peer creates forums on first use, so for it the forum
//! is only names. This module knows nothing of the run that follows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::cli::RunArgs;
use crate::context::Forum;
use crate::dial::{self, Ws};
use crate::roles::splitmix64;
use crate::wire::Target;

/// The forum of a run, and the Madang moderator connection to keep open while it runs.
pub(crate) async fn forum(args: &RunArgs, people: usize, seed: u64) -> Result<(Forum, Option<Ws>)> {
    match args.target {
        Target::Madang => madang_forum(args, people).await,
        _ => Ok((peer_forum(people, seed), None)),
    }
}

/// The peer's forum: a random id and made-up tokens (the peer checks none).
fn peer_forum(people: usize, seed: u64) -> Forum {
    let run_number = splitmix64(seed) % 1_000_000;
    Forum {
        id: format!("f{run_number}"),
        remote_code: String::new(),
        moderator_token: "m".into(),
        display_token: "d".into(),
        poll: 1,
        item: 2,
        participant_tokens: (0..people).map(|i| format!("p{run_number}-{i}")).collect(),
    }
}

async fn madang_forum(args: &RunArgs, people: usize) -> Result<(Forum, Option<Ws>)> {
    let mut forum = create_forum(args).await?;
    let moderator = open_poll(args, &mut forum).await?;
    forum.participant_tokens = register_people(args, &forum.remote_code, people).await?;
    Ok((forum, Some(moderator)))
}

/// `POST /api/forums` with three agenda items.
async fn create_forum(args: &RunArgs) -> Result<Forum> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let body = json!({"title": format!("Load test {}", args.name), "language": "en",
        "agenda": [{"title": "Opening"}, {"title": "Budget"}, {"title": "Next steps", "description": "Who follows up on what."}]});
    let response = http
        .post(format!("http://{}/api/forums", args.server))
        .bearer_auth(&args.admin_token)
        .json(&body)
        .send()
        .await
        .context("creating the forum")?;
    let status = response.status();
    let created: Value = response.json().await?;
    if !status.is_success() {
        bail!("creating the forum: {status}: {created}");
    }
    let field = |pointer: &str| created.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(Forum {
        id: field("/id"),
        remote_code: field("/join_codes/remote"),
        moderator_token: field("/moderator_token"),
        display_token: field("/display_token"),
        poll: 1,
        item: 2,
        participant_tokens: vec![],
    })
}

/// A Madang connection from source address `source_index`, not yet logged in.
async fn madang_connection(server: SocketAddr, source_index: usize, sources: u8) -> Result<Ws> {
    let stream = dial::tcp(server, dial::source_ip(source_index, sources), false).await?;
    dial::handshake(stream, server, Target::Madang, None).await
}

/// As the moderator: start the forum, activate the first item, create and open the poll.
async fn open_poll(args: &RunArgs, forum: &mut Forum) -> Result<Ws> {
    let mut ws = madang_connection(args.server, 0, args.sources).await?;
    ws.send(Message::text(json!({"type": "auth", "token": forum.moderator_token}).to_string())).await?;
    let _welcome = ws.next().await;
    request(&mut ws, json!({"type": "start_forum", "id": "s1"})).await?;
    request(&mut ws, json!({"type": "activate_item", "id": "s2", "item": 1})).await?;
    let ack = request(
        &mut ws,
        json!({"type": "create_poll", "id": "s3", "title": "Go ahead?", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}}),
    )
    .await?;
    forum.poll = ack["poll"].as_u64().unwrap_or(1);
    request(&mut ws, json!({"type": "open_poll", "id": "s4", "poll": forum.poll})).await?;
    Ok(ws)
}

/// Register the people: each joins once and leaves, so that the run's
/// connections come back with their tokens (a join is an event every
/// connected client receives; see the README). 64 joins at a time.
async fn register_people(args: &RunArgs, join_code: &str, people: usize) -> Result<Vec<String>> {
    let permits = Arc::new(Semaphore::new(64));
    let mut joins = Vec::with_capacity(people);
    for person in 0..people {
        let permits = permits.clone();
        let (server, code, sources) = (args.server, join_code.to_owned(), args.sources);
        joins.push(tokio::spawn(async move {
            let _permit = permits.acquire().await;
            let mut ws = madang_connection(server, person, sources).await?;
            let auth = json!({"type": "auth", "join_code": code, "name": format!("p{person}")});
            ws.send(Message::text(auth.to_string())).await?;
            let welcome = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
            let Ok(Some(Ok(Message::Text(welcome)))) = welcome else { bail!("no welcome") };
            let parsed: Value = serde_json::from_str(&welcome)?;
            let token = parsed
                .pointer("/participant/token")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("no token: {welcome}"))?
                .to_owned();
            let _ = ws.close(None).await;
            Ok::<_, anyhow::Error>(token)
        }));
    }
    let mut tokens = Vec::with_capacity(people);
    for join in joins {
        tokens.push(join.await??);
    }
    Ok(tokens)
}

/// Send a command and wait (30 s at most) for its ack; anything else with its id is a refusal.
async fn request(ws: &mut Ws, frame: Value) -> Result<Value> {
    let id = frame["id"].as_str().unwrap_or_default().to_owned();
    ws.send(Message::text(frame.to_string())).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no answer to {id}"))?;
        let Some(Ok(Message::Text(text))) = message else {
            if message.is_none() {
                bail!("connection ended");
            }
            continue;
        };
        let answer: Value = serde_json::from_str(&text)?;
        if answer["id"].as_str() == Some(&id) {
            if answer["type"] == "ack" {
                return Ok(answer);
            }
            bail!("{id} refused: {text}");
        }
    }
}
