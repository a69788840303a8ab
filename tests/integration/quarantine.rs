//! A damaged forum log is contained: the forum is quarantined (503
//! `forum_damaged`, its connections refused) while every other forum serves;
//! a log removed under a running server acks nothing more; `madang check`
//! reports and repairs on the real binary.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

/// A forum with an agenda of three items, so that its log has several records.
fn forum_request(title: &str) -> Value {
    json!({"title": title, "agenda": [{"title": "One"}, {"title": "Two"}, {"title": "Three"}]})
}

async fn create(server: &TestServer, title: &str) -> Value {
    crate::harness::http::create_forum(&server.http("/api/forums"), crate::harness::ADMIN, &forum_request(title)).await
}

/// Flip one byte in the middle of `forum`'s log; the damaged bytes.
fn flip_middle_byte(data_dir: &Path, forum: &str) -> Vec<u8> {
    let path = data_dir.join("forums").join(format!("{forum}.log"));
    let mut bytes = std::fs::read(&path).expect("read log");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    std::fs::write(&path, &bytes).expect("write log");
    bytes
}

/// Start the forum, open an approval poll; its id.
async fn open_poll(moderator: &mut Client) -> Value {
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let options = json!({"from": "fixed", "labels": ["North", "South"]});
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Where?", "method": {"kind": "approval", "max_choices": 1}, "options": options}))
        .await;
    moderator.ok(json!({"type": "open_poll", "poll": poll["poll"]})).await;
    poll["poll"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_forum_log_is_quarantined_while_the_healthy_forum_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let damaged = create(&server, "Damaged").await;
    let healthy = create(&server, "Healthy").await;
    server.stop().await;
    let damaged_id = damaged["id"].as_str().unwrap();
    let bytes = flip_middle_byte(dir.path(), damaged_id);

    let server = TestServer::start(dir.path()).await;

    // The healthy forum serves and takes a ballot.
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": healthy["moderator_token"]})).await;
    let poll = open_poll(&mut moderator).await;
    let (mut person, _) =
        server.connect(json!({"type": "auth", "join_code": healthy["join_codes"]["remote"], "name": "Minji"})).await;
    person.ok(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [1]}})).await;

    // The damaged one answers 503 `forum_damaged`, not 404.
    let res = reqwest::get(server.http(&format!("/api/forums/{damaged_id}"))).await.expect("GET forum");
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.expect("error body");
    assert_eq!(body["error"]["code"], "forum_damaged", "{body}");

    // A connection to it is refused with the same code, and closed as "try again later".
    let mut client = Client::connect(&server.ws_url()).await;
    client.send(json!({"type": "auth", "token": damaged["moderator_token"]})).await;
    let refusal = client.recv().await;
    assert_eq!(
        (refusal["type"].as_str(), refusal["code"].as_str()),
        (Some("error"), Some("forum_damaged")),
        "{refusal}"
    );
    assert_eq!(client.closed().await, 1013);

    let (status, health) = server.healthz().await;
    assert_eq!(status, 200, "one damaged forum does not take the node out of rotation");
    assert_eq!(health["damaged_forums"], 1, "{health}");

    server.stop().await;
    let path = dir.path().join("forums").join(format!("{damaged_id}.log"));
    assert_eq!(std::fs::read(path).expect("read log"), bytes, "the damaged log is never modified automatically");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_removed_under_the_running_server_acks_nothing_more_and_is_damaged_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot after every event: the forum's state outlives its log.
    let hub = madang::hub::HubConfig { snapshot_every: 1, ..crate::harness::test_hub() };
    let server = TestServer::start_with(dir.path(), hub, madang::ws::WsLimits::default()).await;
    let forum = create(&server, "Removed").await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": forum["moderator_token"]})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    let id = forum["id"].as_str().unwrap();
    let snapshot = dir.path().join("snapshots").join(format!("{id}.snap"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !snapshot.exists() {
        assert!(std::time::Instant::now() < deadline, "a snapshot is written");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    std::fs::remove_file(dir.path().join("forums").join(format!("{id}.log"))).expect("unlink");
    for item in [1, 2] {
        let answer = moderator.command(json!({"type": "activate_item", "item": item})).await;
        assert_eq!(
            (answer["type"].as_str(), answer["code"].as_str()),
            (Some("error"), Some("unavailable")),
            "{answer}"
        );
    }
    server.stop().await;

    // Not a 404 as if the forum never existed: its records are lost, and that shows.
    let server = TestServer::start(dir.path()).await;
    let res = reqwest::get(server.http(&format!("/api/forums/{id}"))).await.expect("GET forum");
    assert_eq!(res.status(), 503);
    assert!(!dir.path().join("forums").join(format!("{id}.log")).exists(), "nothing is recreated");
    server.stop().await;
}

/// `madang check` with `args` on `data_dir`: exit success, stdout, stderr.
async fn madang_check(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_madang"))
        .args(["check", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run madang check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn madang_check_reports_damage_and_repair_keeps_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let damaged = create(&server, "Damaged").await;
    let healthy = create(&server, "Healthy").await;
    server.stop().await;
    let (damaged_id, healthy_id) = (damaged["id"].as_str().unwrap(), healthy["id"].as_str().unwrap());

    let (ok, out, err) = madang_check(dir.path(), &[]).await;
    assert!(ok, "healthy logs pass: {out} {err}");
    assert!(out.contains(healthy_id) && out.contains(damaged_id), "{out}");

    let bytes = flip_middle_byte(dir.path(), damaged_id);
    let (ok, out, _) = madang_check(dir.path(), &[]).await;
    assert!(!ok, "damage fails the check: {out}");
    let line = out.lines().find(|l| l.contains(damaged_id)).expect("a line for the damaged forum");
    assert!(line.contains("damaged at byte"), "{line}");
    let path = dir.path().join("forums").join(format!("{damaged_id}.log"));
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "check alone changes nothing");

    // A running server holds the directory: check refuses rather than race it.
    let mut running = crate::harness::Process::start(dir.path()).await;
    // The banner comes before the store is opened; an answer comes after.
    let (status, _) = crate::harness::http::healthz(&running.http("/healthz")).await;
    assert_eq!(status, 200);
    let (ok, _, err) = madang_check(dir.path(), &["--repair"]).await;
    assert!(!ok && err.contains("in use"), "{err}");
    // Reaped: the kernel has released its lock.
    running.kill().await;

    let (ok, out, err) = madang_check(dir.path(), &["--repair"]).await;
    assert!(ok, "repaired: {out} {err}");
    let saved: Vec<_> = std::fs::read_dir(dir.path().join("damaged"))
        .expect("damaged/ exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let copy = saved.iter().find(|n| n.starts_with(damaged_id) && n.ends_with(".log")).expect("the copy");
    assert_eq!(std::fs::read(dir.path().join("damaged").join(copy)).unwrap(), bytes, "the original is kept");
    let report = saved.iter().find(|n| n.ends_with(".report.txt")).expect("the report");
    let report = std::fs::read_to_string(dir.path().join("damaged").join(report)).unwrap();
    assert!(report.contains("cut at byte") && report.contains("bytes removed"), "{report}");
    assert!(std::fs::metadata(&path).unwrap().len() < bytes.len() as u64, "the log was cut");

    let (ok, out, _) = madang_check(dir.path(), &[]).await;
    assert!(ok, "clean after the repair: {out}");
    let server = TestServer::start(dir.path()).await;
    server.forum_view(damaged_id).await;
    server.forum_view(healthy_id).await;
    server.stop().await;
}
