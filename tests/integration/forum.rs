//! A whole forum, end to end, with real WebSocket clients against a real
//! server on an ephemeral port; then a restart from the same data dir.

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

fn kind(frame: &Value) -> (&str, &str) {
    (frame["type"].as_str().unwrap_or(""), frame["update"]["kind"].as_str().unwrap_or(""))
}

async fn join(server: &TestServer, code: &str, name: &str) -> (Client, Value) {
    server.connect(json!({"type": "auth", "join_code": code, "name": name})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_runs_end_to_end_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "청계천 보행 정책 / Cheonggyecheon walkability".into(),
            language: Some("ko".into()),
            eligibility: None,
            agenda: vec![
                AgendaItemSpec { title: "Opening".into(), description: None, timebox_secs: Some(300) },
                AgendaItemSpec {
                    title: "Crossings".into(),
                    description: Some("Where to cross".into()),
                    timebox_secs: None,
                },
            ],
        })
        .await;

    // The moderator builds the agenda.
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    assert_eq!(welcome["role"], "moderator");
    assert_eq!(welcome["join_codes"]["remote"], json!(created.join_codes.remote));
    assert_eq!(welcome["snapshot"]["agenda"].as_array().unwrap().len(), 2);
    let added = moderator.ok(json!({"type": "add_item", "title": "Budget", "timebox_secs": 600})).await;
    assert_eq!(added["item"], 3);
    moderator.ok(json!({"type": "move_item", "item": 3, "position": 0})).await;
    moderator.ok(json!({"type": "edit_item", "item": 3, "title": "Budget priorities"})).await;
    moderator.ok(json!({"type": "set_premoderation", "enabled": true})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    // Activating the item starts its time box countdown, from the moment of the event.
    let activated = moderator.ok(json!({"type": "activate_item", "item": 3})).await;
    let agenda = moderator
        .expect("agenda with timer", |f| f["update"]["kind"] == "agenda" && f["seq"] == activated["seq"])
        .await;
    let first = &agenda["update"]["agenda"][0];
    assert_eq!(first["title"], "Budget priorities");
    assert_eq!(first["state"], "active");
    assert_eq!(first["timer"]["running"], true);
    let deadline = first["timer"]["deadline_ms"].as_u64().unwrap();
    assert_eq!(deadline, agenda["at_ms"].as_u64().unwrap() + 600_000);

    // A projector display follows along.
    let (mut display, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome["role"], "display");
    assert_eq!(welcome["join_codes"]["hall"], json!(created.join_codes.hall));

    // Two remote participants and one in the hall.
    let (mut alice, wa) = join(&server, &created.join_codes.remote, "Alice").await;
    let (mut bora, wb) = join(&server, &created.join_codes.remote.to_lowercase(), "Bora").await;
    let (mut chul, wc) = join(&server, &created.join_codes.hall, "Chul").await;
    assert_eq!(wa["participant"]["channel"], "remote");
    assert_eq!(wb["participant"]["channel"], "remote");
    assert_eq!(wc["participant"]["channel"], "hall");
    assert!(wa["join_codes"].is_null(), "participants are not given the codes");

    // Ideas wait for moderation; the public does not see them until approved.
    let idea = |text: &str| json!({"type": "submit_idea", "text": text});
    let mut ideas = Vec::new();
    ideas.push(alice.ok(idea("More crossings")).await["idea"].as_u64().unwrap());
    ideas.push(bora.ok(idea("Shade trees")).await["idea"].as_u64().unwrap());
    ideas.push(chul.ok(idea("Benches")).await["idea"].as_u64().unwrap());
    ideas.push(alice.ok(idea("Add crossings!")).await["idea"].as_u64().unwrap());
    assert_eq!(ideas, [1, 2, 3, 4]);
    let pending =
        moderator.expect("pending idea", |f| f["update"]["kind"] == "idea" && f["update"]["idea"]["id"] == 4).await;
    assert_eq!(pending["update"]["idea"]["status"], "pending");
    assert_eq!(pending["update"]["idea"]["channel"], "remote");
    for idea in &ideas {
        moderator.ok(json!({"type": "approve_idea", "idea": idea})).await;
    }
    // A participant may not moderate.
    let refused = bora.command(json!({"type": "approve_idea", "idea": 1})).await;
    assert_eq!(refused["code"], "forbidden");

    // A ranked poll over the four approved ideas.
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Rank the ideas", "method": {"kind": "ranked"}, "options": {"from": "ideas"}}))
        .await;
    let poll_id = poll["poll"].as_u64().unwrap();
    let view =
        display.expect("poll view", |f| f["update"]["kind"] == "poll" && f["update"]["poll"]["id"] == poll_id).await;
    assert_eq!(view["update"]["poll"]["options"].as_array().unwrap().len(), 4);
    moderator.ok(json!({"type": "open_poll", "poll": poll_id})).await;

    // Full rankings. Alice changes her mind once: the later ballot replaces the first.
    let ranked = |ranking: &[u64]| json!({"type": "cast_ballot", "poll": poll_id, "ballot": {"kind": "ranked", "ranking": ranking}});
    alice.ok(ranked(&[3, 2, 1, 4])).await;
    alice.ok(ranked(&[1, 2, 3, 4])).await;
    bora.ok(ranked(&[2, 1, 3, 4])).await;
    chul.ok(ranked(&[4, 3, 2, 1])).await;
    let incomplete = bora.command(ranked(&[2, 1])).await;
    assert_eq!(
        (incomplete["code"].as_str(), incomplete["rule"].as_str()),
        (Some("ballot_invalid"), Some("ranked.incomplete"))
    );

    // Idea 4 repeats idea 1: merged while the poll is open, its votes follow.
    moderator.ok(json!({"type": "merge_idea", "idea": 4, "into": 1})).await;
    let merged = display
        .expect("merged idea", |f| f["update"]["kind"] == "idea" && f["update"]["idea"]["status"] == "merged")
        .await;
    assert_eq!(merged["update"]["idea"]["merged_into"], 1);

    // The display sees conflated tallies, ending at three ballots.
    let tally = display
        .expect("tally of 3 ballots after the merge", |f| {
            f["type"] == "tally"
                && f["tally"]["ballots"] == 3
                && f["tally"]["result"]["borda"].as_array().map(Vec::len) == Some(3)
        })
        .await;
    // Borda with 3 options: 2, 1, 0 points. Option 1: 2+1+2 = 5; option 2: 1+2+0 = 3; option 3: 0+0+1 = 1.
    let expected_borda = json!([{"option": 1, "count": 5}, {"option": 2, "count": 3}, {"option": 3, "count": 1}]);
    assert_eq!(tally["tally"]["result"]["borda"], expected_borda);
    let ticks = display.backlog.iter().filter(|f| f["type"] == "tally").count();
    assert!(ticks <= 4, "tallies are conflated, got {ticks} extra tally frames");

    // A second display disconnects here, and resumes later (after a restart).
    let (mut late, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    let resume_from = welcome["head_seq"].as_u64().unwrap();
    late.ws.close(None).await.unwrap();

    let close = moderator.ok(json!({"type": "close_poll", "poll": poll_id})).await;
    let closed = display.expect("closed poll", |f| f["update"]["kind"] == "poll" && f["seq"] == close["seq"]).await;
    let outcome = closed["update"]["poll"]["outcome"].clone();
    assert_eq!(outcome["tally"]["ballots"], 3);
    assert_eq!(outcome["tally"]["result"]["borda"], expected_borda);
    assert_eq!(outcome["tally"]["result"]["ranking"], json!([[1], [2], [3]]));
    let done = moderator.ok(json!({"type": "complete_item", "item": 3})).await;
    let done_frame = display.expect("agenda after complete", |f| f["type"] == "event" && f["seq"] == done["seq"]).await;
    // Everything the staying display was shown after the late one left.
    let mut missed: Vec<Value> = display
        .backlog
        .iter()
        .chain([&closed, &done_frame])
        .filter(|f| f["type"] == "event" && f["seq"].as_u64().unwrap() > resume_from)
        .cloned()
        .collect();
    missed.sort_by_key(|f| f["seq"].as_u64());
    assert!(missed.len() >= 2);

    let before: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    assert_eq!(before["polls"][0]["outcome"], outcome);
    drop((moderator, display, alice, bora, chul));
    server.stop().await;

    // Restart from the same data dir: the same forum, the same outcome.
    let server = TestServer::start(dir.path()).await;
    let after: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    assert_eq!(after, before);

    // The late display resumes: exactly the events it missed, in order.
    let (mut late, welcome) =
        server.connect(json!({"type": "auth", "token": created.display_token, "last_seq": resume_from})).await;
    assert!(welcome["snapshot"].is_null(), "a resume within the buffer replays events: {welcome}");
    let replayed = welcome["replayed"].as_u64().unwrap() as usize;
    let mut got = Vec::new();
    for _ in 0..replayed {
        got.push(late.recv().await);
    }
    let seqs = |frames: &[Value]| frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&got), seqs(&missed));
    assert_eq!(got, missed);
    assert!(got.iter().any(|f| kind(f) == ("event", "poll") && f["update"]["poll"]["outcome"] == outcome));

    // A participant comes back as the same person: their ballot is replaced, not added.
    let (mut alice, again) = server
        .connect(json!({"type": "auth", "join_code": created.join_codes.remote, "participant_token": wa["participant"]["token"]}))
        .await;
    assert_eq!(again["participant"]["id"], wa["participant"]["id"]);
    let closed_ballot = alice.command(ranked(&[1, 2, 3])).await;
    assert_eq!(closed_ballot["code"], "invalid_state");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_a_snapshot_keeps_state_and_recognises_resent_requests() {
    use madang::hub::HubConfig;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let config = || HubConfig { snapshot_every: 4, tally_interval: Duration::from_millis(50), ..HubConfig::default() };
    let server = TestServer::start_with(dir.path(), config(), Default::default()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Snapshots".into(),
            language: None,
            eligibility: None,
            agenda: vec![],
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let first = moderator.command_with_id("add-1", json!({"type": "add_item", "title": "Item 1"})).await;
    for n in 2..=11 {
        moderator.ok(json!({"type": "add_item", "title": format!("Item {n}")})).await;
    }
    let before: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    drop(moderator);
    server.stop().await;
    assert!(dir.path().join("snapshots").read_dir().unwrap().count() > 0, "a snapshot was written");

    let server = TestServer::start_with(dir.path(), config(), Default::default()).await;
    let after: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    assert_eq!(after, before);
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    assert_eq!(welcome["head_seq"], 12);
    // A request applied before the snapshot is still recognised.
    let again = moderator.command_with_id("add-1", json!({"type": "add_item", "title": "Item 1"})).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["seq"], first["seq"]);
    let next = moderator.ok(json!({"type": "add_item", "title": "Item 12"})).await;
    assert_eq!((next["seq"].as_u64(), next["item"].as_u64()), (Some(13), Some(12)));
    server.stop().await;
}

/// SPEC §6.2: the last 4096 events are kept across restarts, also when the
/// forum restarts from a snapshot: a client that saw the forum before the
/// snapshot resumes with the events it missed, not a whole snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_restart_from_a_snapshot_replays_events_from_before_it() {
    use madang::hub::HubConfig;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let config = || HubConfig { snapshot_every: 4, tally_interval: Duration::from_millis(50), ..HubConfig::default() };
    let server = TestServer::start_with(dir.path(), config(), Default::default()).await;
    let created = server
        .create_forum(&CreateForumRequest { title: "Resume".into(), language: None, eligibility: None, agenda: vec![] })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let (mut display, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    let seen = welcome["head_seq"].as_u64().unwrap();
    for n in 1..=11 {
        moderator.ok(json!({"type": "add_item", "title": format!("Item {n}")})).await;
    }
    let mut missed = Vec::new();
    for _ in 0..11 {
        missed.push(display.expect("an agenda event", |f| f["type"] == "event").await);
    }
    drop((moderator, display));
    server.stop().await;
    assert!(dir.path().join("snapshots").read_dir().unwrap().count() > 0, "a snapshot was written");

    let server = TestServer::start_with(dir.path(), config(), Default::default()).await;
    let (mut display, welcome) =
        server.connect(json!({"type": "auth", "token": created.display_token, "last_seq": seen})).await;
    assert!(welcome["snapshot"].is_null(), "a resume within 4096 events replays them: {welcome}");
    assert_eq!(welcome["replayed"], 11, "{welcome}");
    let mut got = Vec::new();
    for _ in 0..11 {
        got.push(display.recv().await);
    }
    let seqs = |frames: &[Value]| frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&got), seqs(&missed));
    // The last replayed event leaves the client where the live ones did.
    assert_eq!(got.last().unwrap()["update"], missed.last().unwrap()["update"]);
    server.stop().await;
}

/// A client may send several commands without waiting: each is answered,
/// in the order sent, and a resent id among them is a duplicate of the
/// original rather than a second item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_are_answered_in_order() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Pipelined".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![],
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let mut sent = Vec::new();
    for n in 0..20 {
        // The 11th frame resends the 1st id; every fifth frame is a ping.
        let (id, frame) = match n {
            10 => ("m0".to_string(), json!({"type": "add_item", "title": "Item 0", "id": "m0"})),
            n if n % 5 == 4 => (format!("ping{n}"), json!({"type": "ping", "id": format!("ping{n}")})),
            n => (format!("m{n}"), json!({"type": "add_item", "title": format!("Item {n}"), "id": format!("m{n}")})),
        };
        moderator.ws.feed(Message::Text(frame.to_string().into())).await.unwrap();
        sent.push(id);
    }
    moderator.ws.flush().await.unwrap();
    let mut answered = Vec::new();
    let mut first_ack = Value::Null;
    while answered.len() < sent.len() {
        let frame = moderator.recv().await;
        match frame["type"].as_str() {
            Some("ack") | Some("pong") => {
                if frame["id"] == "m0" && first_ack.is_null() {
                    first_ack = frame.clone();
                } else if frame["id"] == "m0" {
                    assert_eq!(frame["duplicate"], true, "{frame}");
                    assert_eq!(frame["item"], first_ack["item"], "{frame}");
                }
                answered.push(frame["id"].as_str().unwrap().to_string());
            }
            Some("event") => {}
            other => panic!("unexpected {other:?}: {frame}"),
        }
    }
    assert_eq!(answered, sent);
    let view = server.forum_view(&created.id).await;
    assert_eq!(view["agenda"].as_array().map(Vec::len), Some(15), "{view}");
    server.stop().await;
}
