//! No participant can lock a forum with size, probed through real sockets:
//! one participant flooding ideas is refused past the cap with the rule
//! named, and once the forum's views are larger than a megabyte, new
//! displays, moderators and participants still get their welcome. The
//! resume buffer holds no more bytes than it is given: a client behind what
//! it kept gets a snapshot.

use std::time::Duration;

use madang::hub::HubConfig;
use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer, fast_limits, test_hub};

/// Four bytes in UTF-8 and kept so in JSON: the widest text per character.
fn wide(n: usize) -> String {
    "😀".repeat(n)
}

async fn participant(server: &TestServer, created: &CreateForumResponse) -> (Client, Value) {
    server.connect(json!({"type": "auth", "join_code": created.join_codes.remote, "name": wide(40)})).await
}

#[track_caller]
fn assert_limit(answer: &Value, rule: &str) {
    assert_eq!(answer["type"], "error", "expected a refusal, got {answer}");
    assert_eq!(answer["code"], "invalid", "{answer}");
    assert_eq!(answer["rule"], rule, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_flooding_ideas_is_capped_and_everyone_still_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    // The per-connection rate limit is not what is tested here.
    let server = TestServer::start_with(dir.path(), test_hub(), fast_limits()).await;
    let agenda = (0..8)
        .map(|_| AgendaItemSpec { title: wide(200), description: Some(wide(1_500)), timebox_secs: None })
        .collect();
    let created =
        server.create_forum(&CreateForumRequest { title: wide(200), language: None, eligibility: None, agenda }).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;

    // The flood: the participant's 21st idea is refused, naming the rule.
    let (mut flooder, _) = participant(&server, &created).await;
    for _ in 0..20 {
        flooder.ok(json!({"type": "submit_idea", "text": wide(500)})).await;
    }
    let refused = flooder.command(json!({"type": "submit_idea", "text": wide(500)})).await;
    assert_limit(&refused, "limit.ideas_per_participant");

    // Others fill the forum to its cap of ideas; the next one is refused too.
    for _ in 1..25 {
        let (mut p, _) = participant(&server, &created).await;
        for _ in 0..20 {
            p.ok(json!({"type": "submit_idea", "text": wide(500)})).await;
        }
    }
    let (mut late, _) = participant(&server, &created).await;
    let refused = late.command(json!({"type": "submit_idea", "text": wide(500)})).await;
    assert_limit(&refused, "limit.ideas");

    // Everyone new still gets a welcome, though it is larger than a megabyte.
    let (_, display) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    let (_, staff) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let (_, newcomer) = participant(&server, &created).await;
    for welcome in [&display, &staff, &newcomer] {
        assert_eq!(welcome["snapshot"]["ideas"].as_array().map(Vec::len), Some(500), "{}", welcome["role"]);
        let size = welcome.to_string().len();
        assert!(size > 1024 * 1024, "a {} welcome of {size} bytes does not test a large frame", welcome["role"]);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resume_buffer_is_bounded_in_bytes_and_a_client_behind_it_gets_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // Agenda frames within a tally interval of each other are conflated
    // (SPEC §8.7); these commands are awaited one by one, further apart than
    // this interval, so every agenda frame is sent and kept.
    let hub = HubConfig { ring_bytes: 400_000, tally_interval: Duration::from_micros(1), ..test_hub() };
    let server = TestServer::start_with(dir.path(), hub, fast_limits()).await;
    let created = server
        .create_forum(&CreateForumRequest { title: "Agenda".into(), language: None, eligibility: None, agenda: vec![] })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    // Each item makes the agenda frame about 5 KB larger: the last ones are about 100 KB.
    let mut head = 0;
    for _ in 0..20 {
        let added = moderator.ok(json!({"type": "add_item", "title": "Item", "description": wide(1_000)})).await;
        head = added["seq"].as_u64().unwrap();
    }
    for token in [&created.display_token, &created.moderator_token] {
        // Just behind: the missed frame is replayed.
        let (_, welcome) = server.connect(json!({"type": "auth", "token": token, "last_seq": head - 1})).await;
        assert_eq!(welcome["replayed"], 1, "{welcome}");
        assert!(welcome.get("snapshot").is_none());
        // Ten frames of about 100 KB are more than the 400 KB kept: a snapshot.
        let (_, welcome) = server.connect(json!({"type": "auth", "token": token, "last_seq": head - 10})).await;
        assert_eq!(welcome["replayed"], 0, "{}", welcome["role"]);
        assert_eq!(welcome["snapshot"]["agenda"].as_array().map(Vec::len), Some(20), "{}", welcome["role"]);
    }
    server.stop().await;
}
