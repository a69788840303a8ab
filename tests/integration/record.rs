//! The public record end to end (protocol/RECORD.md): a forum run over real
//! WebSockets (joins, ideas, ranked, yes/no and pairwise polls, hand counts
//! with a correction, a recast), then `GET /api/forums/{id}/record`: the
//! chain holds over the bytes, ballots are sorted by receipt, every voter's
//! acked receipt appears once with their last ballot, each close is stamped
//! with the hash of the line before, as the public snapshot shows; and a
//! restart (from a snapshot, and from the log alone) serves the same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Client, TestServer, test_hub};

const NAMES: [&str; 5] = ["Kim Minji", "Lee Junho", "Park Seoyeon", "Choi Hyun", "Jung Ara"];

async fn get_record(server: &TestServer, forum: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(server.http(&format!("/api/forums/{forum}/record"))).await.expect("GET record");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The record's lines, checked as a verifier written from RECORD.md would:
/// numbered from 1, each `prev` the hash of the bytes of the line before.
fn verified_lines(record: &[u8]) -> Vec<(Value, String)> {
    assert_eq!(record.last(), Some(&b'\n'));
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (k, line) in record[..record.len() - 1].split(|b| *b == b'\n').enumerate() {
        let value: Value = serde_json::from_slice(line).expect("a line is JSON");
        assert_eq!(value["n"], k as u64 + 1);
        assert_eq!(value["prev"], prev.as_str(), "line {} chains", k + 1);
        out.push((value, prev.clone()));
        prev = sha(line);
    }
    out
}

fn snapshot_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "snap") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_chains_publishes_receipts_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // Snapshots as often as they may be taken, so the restart below starts from one.
    let hub = || madang::hub::HubConfig { snapshot_every: 1, ..test_hub() };
    let server = TestServer::start_with(dir.path(), hub(), Default::default()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Riverside park".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![AgendaItemSpec { title: "The park".into(), description: None, timebox_secs: Some(600) }],
        })
        .await;
    let forum = created.id.clone();
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    for text in ["Trees", "A playground", "Benches"] {
        moderator.ok(json!({"type": "submit_idea", "text": text})).await;
    }
    moderator.ok(json!({"type": "set_hall_headcount", "count": 40})).await;
    let create = |title: &str, method: Value, options: Value| json!({"type": "create_poll", "title": title, "method": method, "options": options});
    moderator.ok(create("What first?", json!({"kind": "ranked"}), json!({"from": "ideas"}))).await;
    moderator.ok(create("Close the road?", json!({"kind": "yes_no", "rule": "simple"}), json!({"from": "none"}))).await;
    let labels = json!({"from": "fixed", "labels": ["Trees", "Playground", "Benches"]});
    moderator.ok(create("Compare", json!({"kind": "pairwise"}), labels)).await;
    for poll in 1..=3 {
        moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    }

    let codes = [
        &created.join_codes.remote,
        &created.join_codes.remote,
        &created.join_codes.hall,
        &created.join_codes.hall,
        &created.join_codes.remote,
    ];
    let mut people: Vec<Client> = Vec::new();
    let mut tokens = Vec::new();
    for (code, name) in codes.iter().zip(NAMES) {
        let (client, welcome) = server.connect(json!({"type": "auth", "join_code": code, "name": name})).await;
        tokens.push(welcome["participant"]["token"].as_str().unwrap().to_owned());
        people.push(client);
    }

    // What each person last cast, by poll, under the receipt their ack gave.
    let mut last: BTreeMap<(usize, u64), (String, Value)> = BTreeMap::new();
    let mut retired = Vec::new();
    let rankings = [[1, 2, 3], [2, 1, 3], [3, 2, 1], [2, 3, 1], [1, 3, 2]];
    for (n, ranking) in rankings.iter().enumerate() {
        let ballot = json!({"kind": "ranked", "ranking": ranking});
        let ack = people[n].ok(json!({"type": "cast_ballot", "poll": 1, "ballot": ballot})).await;
        last.insert((n, 1), (ack["receipt"].as_str().expect("an ack carries a receipt").to_owned(), ballot));
    }
    // A recast: a new receipt; the old one is retired. A resend repeats the ack's receipt.
    let recast = json!({"kind": "ranked", "ranking": [3, 1, 2]});
    let frame = json!({"type": "cast_ballot", "poll": 1, "ballot": recast});
    let ack = people[0].command_with_id("recast-1", frame.clone()).await;
    let again = people[0].command_with_id("recast-1", frame).await;
    assert_eq!((again["duplicate"].as_bool(), &again["receipt"]), (Some(true), &ack["receipt"]));
    let receipt = ack["receipt"].as_str().unwrap().to_owned();
    let (old, _) = last.insert((0, 1), (receipt.clone(), recast)).unwrap();
    assert_ne!(old, receipt);
    retired.push(old);
    for (n, choice) in ["yes", "no", "yes", "abstain"].iter().enumerate() {
        let ballot = json!({"kind": "yes_no", "choice": choice});
        let ack = people[n].ok(json!({"type": "cast_ballot", "poll": 2, "ballot": ballot})).await;
        last.insert((n, 2), (ack["receipt"].as_str().unwrap().to_owned(), ballot));
    }
    for n in [1, 3] {
        let mut receipts = Vec::new();
        for _ in 0..2 {
            let pair = people[n].ok(json!({"type": "next_pair", "poll": 3})).await["pair"].clone();
            let (a, b) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
            let ack = people[n]
                .ok(json!({"type": "cast_comparison", "poll": 3, "winner": a.min(b), "loser": a.max(b)}))
                .await;
            receipts.push(ack["receipt"].as_str().unwrap().to_owned());
        }
        assert_eq!(receipts[0], receipts[1], "one receipt per person in a pairwise poll");
        last.insert((n, 3), (receipts[0].clone(), Value::Null));
    }
    let papers = |count| json!({"kind": "ranked", "ballots": [{"ranking": [2, 1, 3], "count": count}]});
    moderator.ok(json!({"type": "enter_hall_count", "poll": 1, "counts": papers(12)})).await;
    moderator.ok(json!({"type": "enter_hall_count", "poll": 1, "counts": papers(9)})).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    for poll in 1..=3 {
        moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    }
    // The display hears each outcome with its fingerprint.
    let closed = display
        .expect("poll 3's outcome", |f| {
            f["update"]["kind"] == "poll" && f["update"]["poll"]["id"] == 3 && f["update"]["poll"]["status"] == "closed"
        })
        .await;
    let fingerprint = closed["update"]["poll"]["outcome"]["record"]["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 14, "{fingerprint}");

    let (status, kind, record) = get_record(&server, &forum).await;
    assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
    let lines = verified_lines(&record);
    assert_eq!(lines[0].0["type"], "forum");
    assert_eq!(lines[0].0["format"], "madang.record.v1");

    // Ballots sorted by receipt; every acked receipt in force once, with what was cast last.
    let mut published: BTreeMap<(u64, String), Value> = BTreeMap::new();
    let view = server.forum_view(&forum).await;
    for (k, (line, _)) in lines.iter().enumerate() {
        if line["type"] == "poll_ballots" {
            let poll = line["poll"].as_u64().unwrap();
            let receipts: Vec<&str> =
                line["ballots"].as_array().unwrap().iter().map(|b| b["receipt"].as_str().unwrap()).collect();
            assert!(receipts.windows(2).all(|w| w[0] < w[1]), "poll {poll} is sorted by receipt: {receipts:?}");
            for ballot in line["ballots"].as_array().unwrap() {
                published.insert((poll, ballot["receipt"].as_str().unwrap().to_owned()), ballot.clone());
            }
            // The next line is the outcome, stamped with this line's hash.
            let (outcome_line, outcome_prev) = &lines[k + 1];
            assert_eq!(outcome_line["type"], "poll_outcome");
            let stamp = &outcome_line["outcome"]["record"];
            assert_eq!(stamp["head"], outcome_prev.as_str());
            // The public snapshot carries the same stamp.
            let shown = view["polls"].as_array().unwrap().iter().find(|p| p["id"] == poll).unwrap();
            assert_eq!(&shown["outcome"]["record"], stamp, "poll {poll}");
            if poll == 1 {
                assert_eq!(line["hall_counts"].as_array().unwrap().len(), 2, "the correction and what it corrected");
                assert_eq!(line["participants"], json!({"remote": 3, "hall": 2, "headcount": 40}));
            }
        }
    }
    assert_eq!(view["polls"][2]["outcome"]["record"]["fingerprint"], fingerprint.as_str());
    assert_eq!(published.len(), last.len(), "one published ballot per voter and poll");
    for ((n, poll), (receipt, cast)) in &last {
        let ballot = published.get(&(*poll, receipt.clone())).unwrap_or_else(|| panic!("{n}'s receipt {receipt}"));
        let channel = if codes[*n] == &created.join_codes.hall { "hall" } else { "remote" };
        assert_eq!(ballot["channel"], channel);
        if cast.is_null() {
            assert_eq!(ballot["comparisons"].as_array().unwrap().len(), 2);
        } else {
            assert_eq!((&ballot["ballot"], &ballot["weight"]), (cast, &json!(1)));
        }
    }
    let text = String::from_utf8(record.clone()).unwrap();
    for secret in NAMES.iter().map(|s| s.to_string()).chain(tokens.clone()).chain(retired).chain([
        created.moderator_token.clone(),
        created.display_token.clone(),
        created.join_codes.remote.clone(),
        created.join_codes.hall.clone(),
    ]) {
        assert!(!text.contains(&secret), "the record contains {secret}");
    }
    // An unknown forum has no record.
    assert_eq!(get_record(&server, "nosuchforum").await.0, 404);

    // A restart from the snapshot, then one from the log alone, serve the same bytes.
    drop((moderator, display, people));
    server.stop().await;
    assert!(!snapshot_files(dir.path()).is_empty(), "a snapshot was taken");
    let server = TestServer::start_with(dir.path(), hub(), Default::default()).await;
    assert_eq!(get_record(&server, &forum).await.2, record, "after a restart from the snapshot");
    server.stop().await;
    for file in snapshot_files(dir.path()) {
        std::fs::remove_file(file).unwrap();
    }
    let server = TestServer::start_with(dir.path(), hub(), Default::default()).await;
    assert_eq!(get_record(&server, &forum).await.2, record, "after a restart from the log alone");
    server.stop().await;
}
