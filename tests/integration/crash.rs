//! The real `madang` binary, killed with SIGKILL in the middle of a poll and
//! stopped with SIGTERM: nothing acknowledged is lost, nothing is counted twice.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Child;

use crate::harness::Process;

fn pid(child: &Child) -> String {
    child.id().expect("running").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_poll_loses_no_acknowledged_ballot() {
    const PEOPLE: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path()).await;
    let created = server.create_forum(json!({"title": "Crash drill", "agenda": [{"title": "Vote"}]})).await;
    let code = created["join_codes"]["remote"].as_str().unwrap().to_string();
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created["moderator_token"]})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let labels = json!({"from": "fixed", "labels": ["North", "South", "East"]});
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Where?", "method": {"kind": "approval", "max_choices": 1}, "options": labels}))
        .await;
    let poll_id = poll["poll"].clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll_id})).await;

    let mut people = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..PEOPLE {
        let (client, welcome) =
            server.connect(json!({"type": "auth", "join_code": code, "name": format!("p{i}")})).await;
        people.push(client);
        tokens.push(welcome["participant"]["token"].as_str().unwrap().to_string());
    }
    let ballot = |i: usize| json!({"type": "cast_ballot", "poll": poll_id, "ballot": {"kind": "approval", "options": [i % 3 + 1]}});

    // Everyone votes, spread over ~300 ms; the server dies partway through.
    let mut voters = Vec::new();
    for (i, mut client) in people.into_iter().enumerate() {
        let frame = ballot(i);
        voters.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            let mut frame = frame;
            frame["id"] = json!(format!("ballot-{i}"));
            client.send(frame).await;
            // An answer, or nothing because the server died (the socket errors or times out).
            let answer = tokio::time::timeout(Duration::from_secs(5), async {
                use futures_util::StreamExt;
                while let Some(Ok(message)) = client.ws.next().await {
                    if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        if frame["id"] == json!(format!("ballot-{i}")) {
                            return Some(frame);
                        }
                    }
                }
                None
            })
            .await
            .ok()
            .flatten();
            answer.map(|a| a["type"] == "ack").unwrap_or(false)
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut server = server;
    server.kill().await;
    let mut acked = [false; PEOPLE];
    for (i, voter) in voters.into_iter().enumerate() {
        acked[i] = voter.await.unwrap();
    }
    let acked_count = acked.iter().filter(|a| **a).count();
    assert!(acked_count > 0, "some ballots were acknowledged before the kill");

    // Restart on the same data dir.
    let server = Process::start(dir.path()).await;
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": created["moderator_token"]})).await;
    let tally = &welcome["snapshot"]["tallies"][0];
    let counts = |tally: &Value| -> Vec<u64> {
        tally["result"]["counts"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect()
    };
    let survived = tally["ballots"].as_u64().unwrap() as usize;
    assert!(survived >= acked_count, "every acknowledged ballot survives: {survived} < {acked_count}");
    for option in 0..3 {
        let acked_here = (0..PEOPLE).filter(|i| acked[*i] && i % 3 == option).count() as u64;
        let possible = (0..PEOPLE).filter(|i| i % 3 == option).count() as u64;
        let got = counts(tally)[option];
        assert!(got >= acked_here && got <= possible, "option {option}: {got} not in [{acked_here}, {possible}]");
    }

    // Everyone resends their ballot with the same request id, as a client
    // does after a connection error: applied at most once.
    for (i, token) in tokens.iter().enumerate() {
        let (mut client, welcome) =
            server.connect(json!({"type": "auth", "join_code": code, "participant_token": token})).await;
        assert_eq!(welcome["participant"]["token"], json!(token), "the same person comes back");
        let answer = client.command_with_id(&format!("ballot-{i}"), ballot(i)).await;
        assert_eq!(answer["type"], "ack", "{answer}");
        if acked[i] {
            assert_eq!(answer["duplicate"], true, "an acknowledged ballot is not applied again: {answer}");
        }
    }
    let close = moderator.ok(json!({"type": "close_poll", "poll": poll_id})).await;
    let closed = moderator.expect("the outcome", |f| f["type"] == "event" && f["seq"] == close["seq"]).await;
    let outcome = &closed["update"]["poll"]["outcome"]["tally"];
    assert_eq!(outcome["ballots"], PEOPLE as u64, "one ballot per person, none twice");
    assert_eq!(counts(outcome), vec![20, 20, 20]);
    eprintln!("acked before the kill: {acked_count} of {PEOPLE}; counted after restart: {survived}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_and_keeps_the_forum() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Process::start(dir.path()).await;
    let created = server.create_forum(json!({"title": "Evening forum"})).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created["moderator_token"]})).await;
    let added = moderator.ok(json!({"type": "add_item", "title": "Last words"})).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created["display_token"]})).await;

    let status = std::process::Command::new("kill").args(["-TERM", &pid(&server.child)]).status().unwrap();
    assert!(status.success());
    assert_eq!(display.closed().await, 1001);
    assert_eq!(moderator.closed().await, 1001);
    let exit =
        tokio::time::timeout(Duration::from_secs(20), server.child.wait()).await.expect("exits in time").unwrap();
    assert!(exit.success(), "graceful exit: {exit:?}");

    let server = Process::start(dir.path()).await;
    let (_, welcome) = server.connect(json!({"type": "auth", "token": created["display_token"]})).await;
    assert_eq!(welcome["head_seq"], added["seq"]);
    assert_eq!(welcome["snapshot"]["agenda"][0]["title"], "Last words");
}
