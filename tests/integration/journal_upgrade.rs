//! Logs written by other builds: the previous entry format (each entry
//! carrying its own `hash`), and entries with fields this build does not
//! know, as a newer build writes them. Both replay, serve and go on.

use std::path::Path;

use madang::store::embedded::EmbeddedStore;
use madang::store::{Backend, EventLog, Record};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Process, TestServer};

/// The fixture's forum (id and test credentials) and its stored records,
/// byte for byte (`tests/fixtures/README.md` says how they were made).
fn legacy_fixture() -> (Value, Vec<Vec<u8>>) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let about: Value = serde_json::from_slice(&std::fs::read(fixtures.join("legacy-forum.json")).unwrap()).unwrap();
    let log = std::fs::read(fixtures.join("legacy-forum.jsonl")).unwrap();
    let lines = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
    (about, lines)
}

/// What the entry after `payload` names as its `prev`: the legacy `hash`
/// it carries, or the SHA-256 of its bytes as stored.
fn chain_hash(payload: &[u8]) -> String {
    let entry: Value = serde_json::from_slice(payload).unwrap();
    match entry["hash"].as_str() {
        Some(hash) if !hash.is_empty() => hash.to_string(),
        _ => hex::encode(Sha256::digest(payload)),
    }
}

/// `payloads` as the records of `forum` in the embedded store in `dir`.
async fn write_log(dir: &Path, forum: &str, payloads: &[Vec<u8>]) {
    let store = EmbeddedStore::open(dir).await.unwrap();
    let records: Vec<Record> = payloads.iter().enumerate().map(|(n, p)| Record::new(n as u64 + 1, p.clone())).collect();
    store.append(forum, &records).await.unwrap();
    store.close().await.unwrap();
}

async fn read_log(dir: &Path, forum: &str) -> Vec<Record> {
    let store = EmbeddedStore::open(dir).await.unwrap();
    let records = store.read_after(forum, 0).await.unwrap();
    store.close().await.unwrap();
    records
}

/// Send `command` with an id the fixture's people never used (theirs were
/// `r1`, `r2`, ...: a reused id is answered as a resend) and expect an ack.
async fn ok(client: &mut crate::harness::Client, command: Value) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = format!("upgrade-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let answer = client.command_with_id(&id, command.clone()).await;
    assert_eq!(answer["type"], "ack", "command {command} was refused: {answer}");
    assert!(answer.get("duplicate").is_none(), "{answer}");
    answer
}

/// `madang check` on `dir`: its exit status and its output.
fn madang_check(dir: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_madang"))
        .args(["check", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run madang check");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Each record follows the one before it: its `prev` is the chain hash of
/// the record before (or the genesis hash for the first).
fn assert_chained(records: &[Record]) {
    let mut prev = "0".repeat(64);
    for record in records {
        let entry: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(entry["seq"], record.seq);
        assert_eq!(entry["prev"], json!(prev), "record {} does not follow the one before", record.seq);
        prev = chain_hash(&record.payload);
    }
}

/// The closed score poll's means, bit for bit: 7/3, 10/3 and 1/3.
fn assert_outcome(view: &Value) {
    let stats = &view["polls"][0]["outcome"]["tally"]["result"]["stats"];
    let means: Vec<f64> = (0..3).map(|n| stats[n]["mean"].as_f64().unwrap()).collect();
    assert_eq!(means, [7.0 / 3.0, 10.0 / 3.0, 1.0 / 3.0], "{view}");
}

/// A data dir holding a forum written by the previous build opens (and
/// `madang check` accepts it), replays and serves, takes new commands,
/// whose entries are in the new format and continue the legacy chain, and
/// replays again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_in_the_previous_format_replays_serves_and_goes_on() {
    let (about, legacy) = legacy_fixture();
    let forum = about["forum"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), forum, &legacy).await;
    let (passed, report) = madang_check(dir.path());
    assert!(passed && report.contains("1 forum logs checked, 0 damaged"), "{report}");

    let mut server = Process::start(dir.path()).await;
    let view = crate::harness::http::get_json(&server.http(&format!("/api/forums/{forum}"))).await;
    assert_outcome(&view);
    assert_eq!(view["forum"]["title"], "마을 예산 / Village budget");
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": about["moderator_token"]})).await;
    assert_eq!(welcome["head_seq"], 20, "{welcome}");
    let added = ok(&mut moderator, json!({"type": "add_item", "title": "After the upgrade"})).await;
    assert_eq!(added["seq"], 21);
    ok(&mut moderator, json!({"type": "activate_item", "item": 2})).await;
    let (mut dana, _) =
        server.connect(json!({"type": "auth", "join_code": about["remote_code"], "name": "Dana"})).await;
    ok(&mut dana, json!({"type": "submit_idea", "text": "Longer benches"})).await;
    let before = crate::harness::http::get_json(&server.http(&format!("/api/forums/{forum}"))).await;
    drop((moderator, dana));
    server.kill().await;

    let records = read_log(dir.path(), forum).await;
    assert_eq!(records.len(), 24);
    for (record, line) in records.iter().zip(&legacy) {
        assert_eq!(&record.payload[..], &line[..], "a legacy record is kept byte for byte");
    }
    for record in &records[20..] {
        let entry: Value = serde_json::from_slice(&record.payload).unwrap();
        assert!(entry.get("hash").is_none(), "a new entry carries no hash of its own: {entry}");
    }
    assert_chained(&records);
    let (passed, report) = madang_check(dir.path());
    assert!(passed && report.contains("1 forum logs checked, 0 damaged"), "{report}");

    // Restarted, the mixed log replays to the same forum.
    let server = Process::start(dir.path()).await;
    let after = crate::harness::http::get_json(&server.http(&format!("/api/forums/{forum}"))).await;
    assert_eq!(after, before);
    assert_outcome(&after);
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": about["moderator_token"]})).await;
    assert_eq!(welcome["head_seq"], 24);
    ok(&mut moderator, json!({"type": "complete_item", "item": 2})).await;
}

/// The fixture's forum as a newer build would write it: entries in the new
/// format (no `hash`; `prev` is the SHA-256 of the entry before as stored),
/// with fields this build does not know at the top level, inside events
/// and inside the protocol's value types (a ballot, an outcome, a tally).
fn as_a_newer_build_writes(legacy: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for line in legacy {
        let mut entry: Value = serde_json::from_slice(line).unwrap();
        let object = entry.as_object_mut().unwrap();
        object.remove("hash");
        object.insert("prev".into(), json!(prev));
        object.insert("node".into(), json!({"name": "hub-7", "build": "9.9"}));
        let event = &mut entry["event"];
        event["colour"] = json!("teal");
        if event["type"] == "ballot_cast" {
            event["ballot"]["weight"] = json!(1.5);
        }
        if event["type"] == "poll_closed" {
            event["outcome"]["note"] = json!("recounted by hand");
            event["outcome"]["tally"]["quorum"] = json!(true);
            event["outcome"]["tally"]["result"]["spread"] = json!([0.5]);
        }
        let bytes = serde_json::to_vec(&entry).unwrap();
        prev = hex::encode(Sha256::digest(&bytes));
        out.push(bytes);
    }
    out
}

/// A log whose entries carry fields this build does not know replays,
/// serves and goes on, and keeps those fields as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_with_fields_this_build_does_not_know_replays_and_serves() {
    let (about, legacy) = legacy_fixture();
    let forum = about["forum"].as_str().unwrap();
    let newer = as_a_newer_build_writes(&legacy);
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), forum, &newer).await;

    let server = TestServer::start(dir.path()).await;
    let view = server.forum_view(forum).await;
    assert_outcome(&view);
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": about["moderator_token"]})).await;
    assert_eq!(welcome["head_seq"], 20, "{welcome}");
    assert_eq!(ok(&mut moderator, json!({"type": "add_item", "title": "Next"})).await["seq"], 21);
    let before = server.forum_view(forum).await;
    drop(moderator);
    server.stop().await;

    let records = read_log(dir.path(), forum).await;
    for (record, line) in records.iter().zip(&newer) {
        assert_eq!(&record.payload[..], &line[..], "unknown fields are kept as written");
    }
    assert_chained(&records);
    let server = TestServer::start(dir.path()).await;
    assert_eq!(server.forum_view(forum).await, before);
    server.stop().await;
}
