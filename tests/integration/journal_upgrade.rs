//! Logs written by other builds: the previous entry format, and entries
//! carrying fields this build does not know.

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::json;

use crate::harness::TestServer;

/// Writes `tests/fixtures/legacy-forum.jsonl` with the build at hand: run
/// once, with the previous entry format, to make the fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the legacy fixture"]
async fn generate_legacy_fixture() {
    use madang::store::EventLog;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "마을 예산 / Village budget".into(),
            language: Some("ko".into()),
            agenda: vec![AgendaItemSpec { title: "Playground".into(), description: Some("Where".into()), timebox_secs: Some(300) }],
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "add_item", "title": "Benches", "timebox_secs": 120})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let (mut alice, _) =
        server.connect(json!({"type": "auth", "join_code": created.join_codes.remote, "name": "Alice"})).await;
    let (mut bora, _) = server.connect(json!({"type": "auth", "join_code": created.join_codes.remote, "name": "Bora"})).await;
    let (mut chul, _) = server.connect(json!({"type": "auth", "join_code": created.join_codes.hall, "name": "Chul"})).await;
    alice.ok(json!({"type": "submit_idea", "text": "Swings"})).await;
    bora.ok(json!({"type": "submit_idea", "text": "Shade"})).await;
    chul.ok(json!({"type": "raise_hand"})).await;
    alice.ok(json!({"type": "signal", "color": "green"})).await;
    moderator.ok(json!({"type": "call_next"})).await;
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Score the ideas", "method": {"kind": "score"}, "options": {"from": "fixed", "labels": ["Swings", "Shade", "Sand"]}}))
        .await;
    let poll = poll["poll"].as_u64().unwrap();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    let score = |s: [u8; 3]| json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "score", "scores": [{"option": 1, "score": s[0]}, {"option": 2, "score": s[1]}, {"option": 3, "score": s[2]}]}});
    alice.ok(score([3, 5, 1])).await;
    bora.ok(score([2, 4, 0])).await;
    chul.ok(score([2, 1, 0])).await;
    moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    moderator.ok(json!({"type": "complete_item", "item": 1})).await;
    drop((moderator, alice, bora, chul));
    server.stop().await;

    let store = madang::store::embedded::EmbeddedStore::open(dir.path()).await.unwrap();
    let records = store.read_after(&created.id, 0).await.unwrap();
    let mut lines = String::new();
    for record in &records {
        lines.push_str(std::str::from_utf8(&record.payload).unwrap());
        lines.push('\n');
    }
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    std::fs::write(format!("{fixtures}/legacy-forum.jsonl"), lines).unwrap();
    let about = json!({"forum": created.id, "moderator_token": created.moderator_token, "display_token": created.display_token, "remote_code": created.join_codes.remote});
    std::fs::write(format!("{fixtures}/legacy-forum.json"), serde_json::to_string_pretty(&about).unwrap() + "\n").unwrap();
}
