//! `madang verify` end to end: a forum run over real WebSockets (ranked
//! polls counted by instant-runoff with a merge and by Schulze with paper
//! ballots, a yes/no poll with a corrected hand count, a pairwise and an
//! approval poll), its record downloaded and checked by the real binary,
//! from a file and from the URL; then each kind of tampering is caught and
//! named, and a receipt says what its holder cast.

use std::path::Path;

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

/// `madang verify` with `args`: exit code and stdout.
async fn madang_verify(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_madang"))
        .arg("verify")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run madang verify");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `tests/record_independent/verify.py` (standard-library Python, written
/// from RECORD.md alone) on a record file: its exit code and output.
async fn independent_verify(file: &str) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/record_independent/verify.py");
    let out = tokio::process::Command::new("python3")
        .args([script, file])
        .output()
        .await
        .expect("python3 runs (tests/run needs it for the differential tests too)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path.to_string_lossy().into_owned()
}

/// The position of the line of `kind` for `poll`.
fn find(lines: &[String], kind: &str, poll: u64) -> usize {
    lines
        .iter()
        .position(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["type"] == kind && v["poll"] == poll
        })
        .unwrap_or_else(|| panic!("no {kind} line for poll {poll}"))
}

/// `lines` with line `at` rewritten by `change`.
fn edited(lines: &[String], at: usize, change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut lines = lines.to_vec();
    let mut value: Value = serde_json::from_str(&lines[at]).unwrap();
    change(&mut value);
    lines[at] = serde_json::to_string(&value).unwrap();
    lines
}

async fn assert_caught(dir: &Path, name: &str, lines: &[String], extra: &[&str], named: &[&str]) {
    let file = write(dir, name, lines);
    let (code, out) = madang_verify(&[&[file.as_str()], extra].concat()).await;
    assert_eq!(code, 1, "{name} is caught:\n{out}");
    for phrase in named {
        assert!(
            out.lines().any(|l| l.starts_with("FAIL") && l.contains(phrase)),
            "{name}: no FAIL line says {phrase:?}:\n{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn madang_verify_recounts_a_real_forum_and_names_each_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Harbour square".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![AgendaItemSpec { title: "The square".into(), description: None, timebox_secs: Some(600) }],
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    for text in ["Trees", "A playground", "Benches", "Trees again"] {
        moderator.ok(json!({"type": "submit_idea", "text": text})).await;
    }
    moderator.ok(json!({"type": "set_hall_headcount", "count": 40})).await;
    let create = |title: &str, method: Value, options: Value| json!({"type": "create_poll", "title": title, "method": method, "options": options});
    let fixed = |labels: &[&str]| json!({"from": "fixed", "labels": labels});
    let polls = [
        create("What first?", json!({"kind": "ranked", "tally": "instant_runoff"}), json!({"from": "ideas"})),
        create("Which corner?", json!({"kind": "ranked", "tally": "schulze"}), fixed(&["North", "South", "East"])),
        create("Close the road?", json!({"kind": "yes_no", "rule": "simple"}), json!({"from": "none"})),
        create("Compare", json!({"kind": "pairwise"}), fixed(&["Fountain", "Stage", "Market"])),
        create("Which days?", json!({"kind": "approval", "max_choices": 2}), fixed(&["Saturday", "Sunday", "Monday"])),
    ];
    for (poll, frame) in polls.into_iter().enumerate() {
        moderator.ok(frame).await;
        moderator.ok(json!({"type": "open_poll", "poll": poll + 1})).await;
    }
    let codes = [
        &created.join_codes.remote,
        &created.join_codes.remote,
        &created.join_codes.hall,
        &created.join_codes.hall,
        &created.join_codes.remote,
    ];
    let mut people: Vec<Client> = Vec::new();
    for (n, code) in codes.iter().enumerate() {
        people.push(server.connect(json!({"type": "auth", "join_code": code, "name": format!("Voter {n}")})).await.0);
    }
    let cast = |poll: u64, ballot: Value| json!({"type": "cast_ballot", "poll": poll, "ballot": ballot});
    let mut receipts = Vec::new();
    for (n, ranking) in [[2, 1, 3, 4], [3, 2, 1, 4], [4, 3, 2, 1], [2, 3, 1, 4], [1, 2, 3, 4]].iter().enumerate() {
        let ack = people[n].ok(cast(1, json!({"kind": "ranked", "ranking": ranking}))).await;
        receipts.push(ack["receipt"].as_str().expect("a receipt").to_owned());
    }
    // "Trees again" now counts for "Trees": the instant-runoff takes rounds.
    moderator.ok(json!({"type": "merge_idea", "idea": 4, "into": 1})).await;
    for (n, ranking) in [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 3, 2], [2, 1, 3]].iter().enumerate() {
        people[n].ok(cast(2, json!({"kind": "ranked", "ranking": ranking}))).await;
    }
    for (n, choice) in ["yes", "no", "yes", "abstain", "yes"].iter().enumerate() {
        people[n].ok(cast(3, json!({"kind": "yes_no", "choice": choice}))).await;
    }
    for n in [1, 3] {
        for _ in 0..2 {
            let pair = people[n].ok(json!({"type": "next_pair", "poll": 4})).await["pair"].clone();
            let (a, b) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
            people[n].ok(json!({"type": "cast_comparison", "poll": 4, "winner": a.max(b), "loser": a.min(b)})).await;
        }
    }
    for (n, options) in [vec![1, 2], vec![2], vec![3, 1]].iter().enumerate() {
        people[n].ok(cast(5, json!({"kind": "approval", "options": options}))).await;
    }
    let papers = json!({"kind": "ranked", "ballots": [{"ranking": [3, 2, 1], "count": 4}]});
    moderator.ok(json!({"type": "enter_hall_count", "poll": 2, "counts": papers})).await;
    for yes in [9, 7] {
        let counts = json!({"kind": "yes_no", "yes": yes, "no": 4, "abstain": 1});
        moderator.ok(json!({"type": "enter_hall_count", "poll": 3, "counts": counts})).await;
    }
    for poll in 1..=5 {
        moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    }
    moderator.ok(json!({"type": "close_forum"})).await;

    let url = server.http(&format!("/api/forums/{}/record", created.id));
    let record = reqwest::get(&url).await.unwrap().error_for_status().unwrap().text().await.unwrap();
    let lines: Vec<String> = record.lines().map(str::to_owned).collect();
    let file = write(dir.path(), "record.jsonl", &lines);

    // The untouched record passes, from the file and from the URL, with every poll recounted.
    let (code, out) = madang_verify(&[&file]).await;
    assert_eq!(code, 0, "{out}");
    for poll in 1..=5 {
        assert!(out.contains(&format!("ok   outcome of poll {poll}: the recount agrees")), "{out}");
    }
    assert!(out.contains("instant-runoff in 3 rounds"), "{out}");
    assert!(out.contains("Bradley-Terry fit recounted"), "{out}");
    assert!(out.contains("2 hand counts entered (the last counted, 1 corrected)"), "{out}");
    let (code, from_url) = madang_verify(&[&url]).await;
    assert_eq!((code, &from_url), (0, &out));
    let (code, _) = madang_verify(&[&server.http("/api/forums/nosuchforum/record")]).await;
    assert_eq!(code, 2, "an unreadable record");

    // A verifier written from RECORD.md alone, in another language, agrees;
    // and it too refuses a record with one ballot flipped.
    let (code, out) = independent_verify(&file).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": recount agrees").count(), 5, "{out}");
    let flipped = edited(&lines, find(&lines, "poll_ballots", 3), |v| {
        let choice = &mut v["ballots"][0]["ballot"]["choice"];
        *choice = if *choice == "no" { "yes".into() } else { "no".into() };
    });
    let (code, out) = independent_verify(&write(dir.path(), "flipped-independent.jsonl", &flipped)).await;
    assert_eq!(code, 1, "{out}");

    // A receipt says what was cast, merged option and all.
    let (code, out) = madang_verify(&[&file, "--receipt", &receipts[2].to_lowercase().replace('-', "")]).await;
    assert_eq!(code, 0, "{out}");
    let said = format!(
        "ok   receipt {}: poll 1 \"What first?\" (hall ballot): 1. \"Trees again\" (counts for \"Trees\"), \
         2. \"Benches\", 3. \"A playground\", 4. \"Trees\"; counted as cast",
        receipts[2]
    );
    assert!(out.contains(&said), "{said}\n{out}");
    let (code, out) = madang_verify(&[&file, "--receipt", "0000-0000-0000"]).await;
    assert_eq!(code, 1);
    assert!(out.contains("receipt not found in any poll's ballots"), "{out}");

    // Each tampering is caught and named.
    let yes_no = find(&lines, "poll_ballots", 3);
    let flipped = edited(&lines, yes_no, |v| {
        let choice = &mut v["ballots"][0]["ballot"]["choice"];
        *choice = if *choice == "no" { "yes".into() } else { "no".into() };
    });
    let changed = format!("line {} (poll_ballots of poll 3) was changed", yes_no + 1);
    assert_caught(
        dir.path(),
        "changed",
        &flipped,
        &[],
        &[&changed, "stamp of poll 3", "outcome of poll 3: a published ballot is not the one counted"],
    )
    .await;

    let dropped = edited(&lines, find(&lines, "poll_ballots", 1), |v| {
        v["ballots"].as_array_mut().unwrap().remove(0);
    });
    assert_caught(dir.path(), "dropped", &dropped, &[], &["outcome of poll 1: 1 ballot(s) missing"]).await;

    let added = edited(&lines, find(&lines, "poll_ballots", 2), |v| {
        let extra = json!({"receipt": "ZZZZ-ZZZZ-ZZZZ", "channel": "remote", "weight": 1, "ballot": {"kind": "ranked", "ranking": [1]}});
        v["ballots"].as_array_mut().unwrap().push(extra);
    });
    assert_caught(
        dir.path(),
        "added",
        &added,
        &[],
        &["outcome of poll 2: 1 ballot(s) added", "4 remote ballots but only 3 remote devices joined"],
    )
    .await;

    let mut swapped = lines.clone();
    swapped.swap(5, 6);
    assert_caught(
        dir.path(),
        "swapped",
        &swapped,
        &[],
        &["line 6 (idea_published) and line 7 (idea_published) were swapped", "lines 6 and 7 are swapped"],
    )
    .await;

    let hand = edited(&lines, yes_no, |v| v["hall_counts"][1]["counts"]["yes"] = 12.into());
    assert_caught(
        dir.path(),
        "hall count",
        &hand,
        &[],
        &["outcome of poll 3: the published hand count is not the one counted"],
    )
    .await;

    let outcome = find(&lines, "poll_outcome", 1);
    let forged = edited(&lines, outcome, |v| v["outcome"]["tally"]["ranked"]["winners"]["instant_runoff"] = json!([1]));
    let changed = format!("line {} (poll_outcome of poll 1) was changed", outcome + 1);
    assert_caught(dir.path(), "outcome", &forged, &[], &[&changed, "outcome of poll 1: the outcome was changed"]).await;

    let head = madang::record::fingerprint(&hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        lines.last().unwrap().as_bytes(),
    )));
    let (code, out) = madang_verify(&[&file, "--fingerprint", &head]).await;
    assert_eq!(code, 0, "{out}");
    let cut = &lines[..lines.len() - 3];
    assert_caught(
        dir.path(),
        "cut",
        cut,
        &["--fingerprint", &head],
        &[&format!("fingerprint: {head} is not the hash of any line")],
    )
    .await;

    drop((moderator, people));
    server.stop().await;
}
