//! Bad input, end to end: real sockets against a real server on port 0.
//!
//! Every test checks the exact error code or close code the client is
//! promised (protocol/SPEC.md §4, §7, §11–§13), and that the forum carries on
//! for everyone else afterwards.

use std::num::NonZeroU32;
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use madang::hub::HubConfig;
use madang::ws::WsLimits;
use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse, SUBPROTOCOL};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::harness::{ADMIN, Client, TestServer, WAIT, one_crowd_at_a_time};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// How a connection ended, as seen by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// A close frame with this code (1005 when it had none).
    Close(u16),
    /// The socket failed before a close frame arrived (e.g. a TCP reset).
    Error(String),
    /// The stream ended without a close frame.
    Eof,
    /// Nothing ended the connection within the time allowed.
    Timeout,
}

/// Read a socket until it ends, keeping the text frames on the way.
async fn read_to_end<S>(ws: &mut S, within: Duration) -> (Vec<Value>, Ending)
where
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut frames = Vec::new();
    loop {
        let ending = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => Ending::Timeout,
            Ok(None) => Ending::Eof,
            Ok(Some(Err(err))) => Ending::Error(err.to_string()),
            Ok(Some(Ok(Message::Close(Some(frame))))) => Ending::Close(frame.code.into()),
            Ok(Some(Ok(Message::Close(None)))) => Ending::Close(1005),
            Ok(Some(Ok(Message::Text(text)))) => {
                frames.push(serde_json::from_str(&text).unwrap_or_else(|_| json!({ "unparsed": text.as_str() })));
                continue;
            }
            Ok(Some(Ok(_))) => continue,
        };
        return (frames, ending);
    }
}

/// Read a client's connection until it ends; frames already in its backlog come first.
async fn client_end(client: &mut Client) -> (Vec<Value>, Ending) {
    let mut frames = std::mem::take(&mut client.backlog);
    let (more, ending) = read_to_end(&mut client.ws, WAIT).await;
    frames.extend(more);
    (frames, ending)
}

fn agenda(titles: &[&str]) -> Vec<AgendaItemSpec> {
    titles.iter().map(|t| AgendaItemSpec { title: (*t).into(), description: None, timebox_secs: None }).collect()
}

async fn new_forum(server: &TestServer, title: &str, items: &[&str]) -> CreateForumResponse {
    server
        .create_forum(&CreateForumRequest {
            title: title.into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: agenda(items),
        })
        .await
}

/// A forum with one agenda item, started, with item 1 active; and its moderator.
async fn live_forum(server: &TestServer) -> (CreateForumResponse, Client) {
    let created = new_forum(server, "Bad input", &["Opening"]).await;
    let (mut moderator, welcome) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    assert_eq!(welcome["role"], "moderator");
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    (created, moderator)
}

async fn join(server: &TestServer, code: &str, name: &str) -> Client {
    let (client, welcome) = server.connect(json!({"type": "auth", "join_code": code, "name": name})).await;
    assert_eq!(welcome["role"], "participant");
    client
}

async fn display(server: &TestServer, created: &CreateForumResponse) -> Client {
    let (client, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome["role"], "display");
    client
}

/// The connection is open and answering: a ping gets its pong.
async fn assert_alive(client: &mut Client, id: &str) {
    client.send(json!({"type": "ping", "id": id})).await;
    client.expect(&format!("pong {id}"), |f| f["type"] == "pong" && f["id"] == id).await;
}

/// The next `error` frame (other frames stay in the backlog).
async fn next_error(client: &mut Client) -> Value {
    client.expect("an error frame", |f| f["type"] == "error").await
}

/// Send a raw text frame and return the error it is answered with.
async fn raw_error(client: &mut Client, raw: &str) -> Value {
    client.send_raw(Message::Text(raw.to_string().into())).await;
    next_error(client).await
}

/// The moderator changes the forum; `watchers` all see the event.
async fn forum_carries_on(moderator: &mut Client, watchers: &mut [&mut Client], title: &str) {
    let ack = moderator.ok(json!({"type": "add_item", "title": title})).await;
    let seq = ack["seq"].clone();
    for watcher in watchers.iter_mut() {
        let event = watcher.expect(&format!("event {seq}"), |f| f["type"] == "event" && f["seq"] == seq).await;
        assert_eq!(event["update"]["kind"], "agenda");
        let titles: Vec<&str> =
            event["update"]["agenda"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
        assert!(titles.contains(&title), "{titles:?}");
    }
}

/// The count of `option` in an approval or dots tally frame (0 when not listed).
fn count_of(tally: &Value, option: u64) -> u64 {
    let counts = tally["tally"]["result"]["counts"].as_array().expect("counts");
    counts.iter().find(|c| c["option"] == option).map_or(0, |c| c["count"].as_u64().unwrap())
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn default_hub() -> HubConfig {
    HubConfig { tally_interval: Duration::from_millis(50), ..HubConfig::default() }
}

// ---------------------------------------------------------------------------
// 1. Malformed JSON
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_bad_requests_and_the_connection_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let mut screen = display(&server, &created).await;

    let malformed = [
        "{not json",
        "[]",
        "\"x\"",
        "{}",
        "42",
        "null",
        "",
        "{\"type\": 5}",
        "{\"type\": null}",
        "{\"type\": \"ping\"",
    ];
    for (i, raw) in malformed.iter().enumerate() {
        let error = raw_error(&mut alice, raw).await;
        assert_eq!(error["code"], "bad_request", "frame {raw:?}: {error}");
        assert_alive(&mut alice, &format!("alive-{i}")).await;
    }
    // A frame without `type` still has its `id` echoed.
    let error = raw_error(&mut alice, r#"{"id": "m-1"}"#).await;
    assert_eq!((error["code"].as_str(), error["id"].as_str()), (Some("bad_request"), Some("m-1")), "{error}");
    assert_alive(&mut alice, "alive-after-id").await;

    // The moderator's connection survives malformed frames too.
    let error = raw_error(&mut moderator, "{not json").await;
    assert_eq!(error["code"], "bad_request");

    // Everyone carries on: the participant still submits, everyone sees changes.
    let idea = alice.command(json!({"type": "submit_idea", "text": "Still here"})).await;
    assert_eq!(idea["type"], "ack", "{idea}");
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut screen], "After malformed frames").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Unknown message type
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_types_are_refused_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;

    let error = raw_error(&mut alice, r#"{"type": "frobnicate", "id": "u-1"}"#).await;
    assert_eq!((error["code"].as_str(), error["id"].as_str()), (Some("unknown_message"), Some("u-1")), "{error}");
    let error = raw_error(&mut alice, r#"{"type": "frobnicate"}"#).await;
    assert_eq!(error["code"], "unknown_message", "{error}");
    assert!(error["id"].is_null(), "no id was given: {error}");
    // Server frame types and wrongly cased commands are not client messages either.
    let error = raw_error(&mut alice, r#"{"type": "welcome", "id": "u-2"}"#).await;
    assert_eq!((error["code"].as_str(), error["id"].as_str()), (Some("unknown_message"), Some("u-2")), "{error}");
    let error = raw_error(&mut moderator, r#"{"type": "ADD_ITEM", "id": "u-3", "title": "Shouting"}"#).await;
    assert_eq!((error["code"].as_str(), error["id"].as_str()), (Some("unknown_message"), Some("u-3")), "{error}");

    assert_alive(&mut alice, "alive").await;
    let added = moderator.ok(json!({"type": "add_item", "title": "Next"})).await;
    assert_eq!(added["item"], 2, "the refused ADD_ITEM added nothing");
    forum_carries_on(&mut moderator, &mut [&mut alice], "After unknown messages").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 3. Request ids
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_need_a_string_id_of_1_to_64_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let mut screen = display(&server, &created).await;

    let bad_ids = [
        json!(null),
        json!(""),
        json!(5),
        json!(true),
        json!({"a": 1}),
        json!(["r1"]),
        json!("x".repeat(65)),
        // 22 characters but 66 bytes: the limit is in bytes.
        json!("한".repeat(22)),
    ];
    for id in &bad_ids {
        let mut frame = json!({"type": "add_item", "title": "Should not exist"});
        if !id.is_null() {
            frame["id"] = id.clone();
        }
        moderator.send(frame).await;
        let error = next_error(&mut moderator).await;
        assert_eq!(error["code"], "bad_request", "id {id}: {error}");
        assert_alive(&mut moderator, "alive").await;
    }
    // A participant's command without an id, too.
    alice.send(json!({"type": "submit_idea", "text": "No id"})).await;
    assert_eq!(next_error(&mut alice).await["code"], "bad_request");
    assert_alive(&mut alice, "alive").await;

    // Exactly 64 bytes is fine; nothing above was applied.
    let longest = "y".repeat(64);
    let ack = moderator.command_with_id(&longest, json!({"type": "add_item", "title": "Long id"})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["item"], 2, "no refused add_item was applied: {ack}");
    let ack = moderator.command_with_id("ok-1", json!({"type": "add_item", "title": "Short id"})).await;
    assert_eq!(ack["item"], 3, "{ack}");
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut screen], "After bad ids").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 4. Known command, wrong fields
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_commands_with_wrong_fields_are_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let mut screen = display(&server, &created).await;

    let wrong = [
        json!({"type": "add_item", "title": 5}),
        json!({"type": "add_item"}),
        json!({"type": "add_item", "title": "Ok", "timebox_secs": -5}),
        json!({"type": "add_item", "title": "Ok", "timebox_secs": "300"}),
        json!({"type": "edit_item", "item": "one", "title": "x"}),
        json!({"type": "move_item", "item": 1}),
        json!({"type": "set_premoderation", "enabled": "yes"}),
        json!({"type": "create_poll", "title": "P", "method": {"kind": "borda"}, "options": {"from": "none"}}),
        json!({"type": "create_poll", "title": "P", "method": {"kind": "approval"}, "options": {"from": "fixed", "labels": ["a", "b"]}}),
        json!({"type": "extend_timer", "item": 1, "secs": 1.5}),
    ];
    for frame in &wrong {
        let answer = moderator.command(frame.clone()).await;
        assert_eq!(
            (answer["type"].as_str(), answer["code"].as_str()),
            (Some("error"), Some("bad_request")),
            "{frame}: {answer}"
        );
    }
    let wrong_ballot = json!({"type": "cast_ballot", "poll": 1, "ballot": {"kind": "approval", "options": "1"}});
    let answer = alice.command(wrong_ballot).await;
    assert_eq!(answer["code"], "bad_request", "{answer}");
    let answer = alice.command(json!({"type": "submit_idea", "text": ["not", "a", "string"]})).await;
    assert_eq!(answer["code"], "bad_request", "{answer}");

    let added = moderator.ok(json!({"type": "add_item", "title": "Valid"})).await;
    assert_eq!(added["item"], 2, "no malformed add_item was applied");
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut screen], "After wrong fields").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 5. Roles
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_may_only_send_their_own_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let mut screen = display(&server, &created).await;

    let idea = alice.ok(json!({"type": "submit_idea", "text": "Benches"})).await["idea"].clone();
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Pick", "method": {"kind": "approval", "max_choices": 1},
                   "options": {"from": "fixed", "labels": ["Yes please", "No thanks"]}}))
        .await["poll"]
        .clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;

    let moderator_only = [
        json!({"type": "approve_idea", "idea": idea}),
        json!({"type": "hide_idea", "idea": idea}),
        json!({"type": "add_item", "title": "Sneaky"}),
        json!({"type": "remove_item", "item": 1}),
        json!({"type": "activate_item", "item": 1}),
        json!({"type": "start_timer", "item": 1}),
        json!({"type": "set_premoderation", "enabled": true}),
        json!({"type": "create_poll", "title": "Mine", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}}),
        json!({"type": "close_poll", "poll": poll}),
        json!({"type": "close_forum"}),
    ];
    for command in &moderator_only {
        let answer = alice.command(command.clone()).await;
        assert_eq!(answer["code"], "forbidden", "participant sent {command}: {answer}");
    }

    let ballot = json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [1]}});
    let mut display_commands = moderator_only.to_vec();
    display_commands.push(json!({"type": "submit_idea", "text": "From the projector"}));
    display_commands.push(ballot.clone());
    for command in &display_commands {
        let answer = screen.command(command.clone()).await;
        assert_eq!(answer["code"], "forbidden", "display sent {command}: {answer}");
    }
    let answer = moderator.command(ballot.clone()).await;
    assert_eq!(answer["code"], "forbidden", "moderator cast a ballot: {answer}");

    // Nothing was applied: the forum is live, the poll open, the moderator in charge.
    assert_eq!(alice.command(ballot).await["type"], "ack");
    let tally = screen.expect("tally of 1 ballot", |f| f["type"] == "tally" && f["tally"]["ballots"] == 1).await;
    assert_eq!(tally["tally"]["poll"], poll);
    // The idea was approved at once (no premoderation) and the participant's hide_idea did nothing.
    moderator.ok(json!({"type": "hide_idea", "idea": idea})).await;
    moderator.ok(json!({"type": "approve_idea", "idea": idea})).await;
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut screen], "After forbidden commands").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 6. Ballots
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_that_break_the_method_name_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let mut bora = join(&server, &created.join_codes.hall, "Bora").await;
    let mut screen = display(&server, &created).await;

    let labels = json!({"from": "fixed", "labels": ["Trees", "Benches", "Lights"]});
    let approval = moderator
        .ok(json!({"type": "create_poll", "title": "Approve", "method": {"kind": "approval", "max_choices": 2}, "options": labels}))
        .await["poll"]
        .as_u64()
        .unwrap();
    let dots = moderator
        .ok(json!({"type": "create_poll", "title": "Dots", "method": {"kind": "dots", "budget": 3, "max_per_option": 3}, "options": labels}))
        .await["poll"]
        .as_u64()
        .unwrap();
    moderator.ok(json!({"type": "open_poll", "poll": approval})).await;
    moderator.ok(json!({"type": "open_poll", "poll": dots})).await;

    let cast = |poll: u64, ballot: Value| json!({"type": "cast_ballot", "poll": poll, "ballot": ballot});
    let invalid = [
        (cast(approval, json!({"kind": "approval", "options": [1, 2, 3]})), "approval.max_choices"),
        (
            cast(dots, json!({"kind": "dots", "allocations": [{"option": 1, "dots": 2}, {"option": 2, "dots": 2}]})),
            "dots.budget",
        ),
        (cast(approval, json!({"kind": "ranked", "ranking": [1, 2, 3]})), "ballot.kind"),
        (cast(dots, json!({"kind": "approval", "options": [1]})), "ballot.kind"),
        (cast(approval, json!({"kind": "approval", "options": [9]})), "option.unknown"),
        (cast(dots, json!({"kind": "dots", "allocations": [{"option": 4, "dots": 1}]})), "option.unknown"),
    ];
    for (command, rule) in &invalid {
        let answer = alice.command(command.clone()).await;
        assert_eq!(
            (answer["code"].as_str(), answer["rule"].as_str()),
            (Some("ballot_invalid"), Some(*rule)),
            "{command}: {answer}"
        );
    }

    // Another participant's valid ballot counts; the refused ones did not.
    bora.ok(cast(approval, json!({"kind": "approval", "options": [2, 3]}))).await;
    let tally = screen
        .expect("approval tally", |f| {
            f["type"] == "tally" && f["tally"]["poll"] == approval && f["tally"]["ballots"] == 1
        })
        .await;
    let counts = [count_of(&tally, 1), count_of(&tally, 2), count_of(&tally, 3)];
    assert_eq!(counts, [0, 1, 1], "{tally}");
    // The participant whose ballots were refused can still vote.
    alice.ok(cast(approval, json!({"kind": "approval", "options": [2]}))).await;
    alice.ok(cast(dots, json!({"kind": "dots", "allocations": [{"option": 3, "dots": 3}]}))).await;
    let tally = screen
        .expect("approval tally of 2", |f| {
            f["type"] == "tally" && f["tally"]["poll"] == approval && f["tally"]["ballots"] == 2
        })
        .await;
    assert_eq!([count_of(&tally, 1), count_of(&tally, 2), count_of(&tally, 3)], [0, 2, 1], "{tally}");
    let tally = screen
        .expect("dots tally", |f| f["type"] == "tally" && f["tally"]["poll"] == dots && f["tally"]["ballots"] == 1)
        .await;
    assert_eq!([count_of(&tally, 1), count_of(&tally, 2), count_of(&tally, 3)], [0, 0, 3], "{tally}");
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut bora, &mut screen], "After bad ballots").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 7. Credentials and the first frame
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_get_unauthorized_then_4001() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let other = new_forum(&server, "Another forum", &[]).await;
    let (_, other_welcome) = server.connect(json!({"type": "auth", "join_code": other.join_codes.remote})).await;
    let foreign_participant = other_welcome["participant"]["token"].as_str().unwrap().to_string();
    let mut screen = display(&server, &created).await;

    let refused = [
        ("a forged token", json!({"type": "auth", "token": format!("{}.{}", created.id, "0".repeat(32))})),
        ("a token for no forum", json!({"type": "auth", "token": format!("zzzzzzzzzz.{}", "0".repeat(32))})),
        ("a garbage token", json!({"type": "auth", "token": "garbage"})),
        ("an empty token", json!({"type": "auth", "token": ""})),
        ("an unknown join code", json!({"type": "auth", "join_code": "000000"})),
        (
            "another forum's participant token",
            json!({"type": "auth", "join_code": created.join_codes.remote, "participant_token": foreign_participant}),
        ),
        ("neither token nor join code", json!({"type": "auth"})),
        ("neither, but a name", json!({"type": "auth", "name": "Nobody"})),
    ];
    for (what, auth) in &refused {
        let mut client = Client::connect(&server.ws_url()).await;
        client.send(auth.clone()).await;
        let (frames, ending) = client_end(&mut client).await;
        assert_eq!(frames.len(), 1, "{what}: {frames:?}");
        assert_eq!(
            (frames[0]["type"].as_str(), frames[0]["code"].as_str()),
            (Some("error"), Some("unauthorized")),
            "{what}"
        );
        assert_eq!(ending, Ending::Close(4001), "{what}");
    }

    // The forum carries on, and a real participant still joins.
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    forum_carries_on(&mut moderator, &mut [&mut alice, &mut screen], "After refused credentials").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_frame_that_is_not_auth_closes_with_4002() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut screen = display(&server, &created).await;

    let first_frames = [
        json!({"type": "ping"}).to_string(),
        json!({"type": "ping", "id": "p-1"}).to_string(),
        json!({"type": "add_item", "id": "r-1", "title": "No auth"}).to_string(),
        json!({"type": "frobnicate"}).to_string(),
        "{not json".to_string(),
    ];
    for first in &first_frames {
        let mut client = Client::connect(&server.ws_url()).await;
        client.send_raw(Message::Text(first.clone().into())).await;
        let (frames, ending) = client_end(&mut client).await;
        assert_eq!(ending, Ending::Close(4002), "first frame {first}; frames {frames:?}");
        assert!(frames.iter().all(|f| f["type"] == "error"), "first frame {first}: {frames:?}");
    }
    let added = moderator.ok(json!({"type": "add_item", "title": "Checked"})).await;
    assert_eq!(added["item"], 2, "the unauthenticated add_item was not applied");
    forum_carries_on(&mut moderator, &mut [&mut screen], "After non-auth first frames").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_within_the_timeout_closes_with_4002() {
    let dir = tempfile::tempdir().unwrap();
    let limits = WsLimits { auth_timeout: Duration::from_millis(300), ..WsLimits::default() };
    let server = TestServer::start_with(dir.path(), default_hub(), limits).await;
    let created = new_forum(&server, "Timeouts", &["One"]).await;

    let started = tokio::time::Instant::now();
    let mut silent = Client::connect(&server.ws_url()).await;
    let (frames, ending) = client_end(&mut silent).await;
    assert_eq!(ending, Ending::Close(4002), "{frames:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());

    // Whoever authenticates in time stays past the timeout.
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_alive(&mut moderator, "after-timeout").await;
    moderator.ok(json!({"type": "add_item", "title": "Still here"})).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_auth_is_a_bad_request_and_keeps_the_first_identity() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;

    // The moderator "re-authenticates" as the display: refused, still the moderator.
    moderator.send(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(next_error(&mut moderator).await["code"], "bad_request");
    assert_alive(&mut moderator, "m").await;
    // The participant tries to become the moderator: refused, still a participant.
    alice.send(json!({"type": "auth", "token": created.moderator_token})).await;
    assert_eq!(next_error(&mut alice).await["code"], "bad_request");
    assert_alive(&mut alice, "a").await;
    assert_eq!(alice.command(json!({"type": "add_item", "title": "Escalated"})).await["code"], "forbidden");
    // A malformed second auth is a bad request too.
    moderator.send(json!({"type": "auth", "token": 5})).await;
    assert_eq!(next_error(&mut moderator).await["code"], "bad_request");

    alice.ok(json!({"type": "submit_idea", "text": "Still a participant"})).await;
    forum_carries_on(&mut moderator, &mut [&mut alice], "After a second auth").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 8. Oversized frames, 9. binary frames
// ---------------------------------------------------------------------------

fn oversized_frame() -> Message {
    let pad = "x".repeat(madang_protocol::MAX_FRAME_BYTES + 1000);
    Message::Text(json!({"type": "ping", "id": "big", "pad": pad}).to_string().into())
}

/// Send a frame the server must close the connection for, and read how it ends.
/// A send error (the server may already be gone) is not fatal: the ending says what happened.
async fn send_and_end(client: &mut Client, message: Message) -> (Vec<Value>, Ending) {
    if let Err(err) = client.ws.send(message).await {
        let (frames, ending) = client_end(client).await;
        return (frames, Ending::Error(format!("send failed: {err}; then {ending:?}")));
    }
    client_end(client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut screen = display(&server, &created).await;

    // Before auth.
    let mut client = Client::connect(&server.ws_url()).await;
    let (frames, ending) = send_and_end(&mut client, oversized_frame()).await;
    assert_eq!(ending, Ending::Close(1009), "before auth; frames {frames:?}");

    // After auth.
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let (frames, ending) = send_and_end(&mut alice, oversized_frame()).await;
    assert_eq!(ending, Ending::Close(1009), "after auth; frames {frames:?}");

    // A frame of exactly the limit is accepted (answered, not closed).
    let mut bora = join(&server, &created.join_codes.remote, "Bora").await;
    let prefix = r#"{"type":"ping","id":"max","pad":""#;
    let pad = "x".repeat(madang_protocol::MAX_FRAME_BYTES - prefix.len() - 2);
    let at_limit = format!("{prefix}{pad}\"}}");
    assert_eq!(at_limit.len(), madang_protocol::MAX_FRAME_BYTES);
    bora.send_raw(Message::Text(at_limit.into())).await;
    bora.expect("pong for a frame at the limit", |f| f["type"] == "pong" && f["id"] == "max").await;

    forum_carries_on(&mut moderator, &mut [&mut screen, &mut bora], "After oversized frames").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_frame_closes_with_1003() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut screen = display(&server, &created).await;

    let binary = || Message::Binary(br#"{"type":"ping"}"#.to_vec().into());
    let mut client = Client::connect(&server.ws_url()).await;
    let (frames, ending) = send_and_end(&mut client, binary()).await;
    assert_eq!(ending, Ending::Close(1003), "before auth; frames {frames:?}");

    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let (frames, ending) = send_and_end(&mut alice, binary()).await;
    assert_eq!(ending, Ending::Close(1003), "after auth; frames {frames:?}");

    forum_carries_on(&mut moderator, &mut [&mut screen], "After binary frames").await;
    server.stop().await;
}

/// A text frame whose payload is not UTF-8, sent raw (tungstenite would not build one as a `Message::Text`).
fn invalid_utf8_text_frame() -> Message {
    let payload: &[u8] = b"{\"type\":\"ping\",\"id\":\"\xff\xfe\"}";
    Message::Frame(Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (created, mut moderator) = live_forum(&server).await;
    let mut screen = display(&server, &created).await;

    let mut client = Client::connect(&server.ws_url()).await;
    let (frames, ending) = send_and_end(&mut client, invalid_utf8_text_frame()).await;
    assert_eq!(ending, Ending::Close(1007), "before auth; frames {frames:?}");

    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    let (frames, ending) = send_and_end(&mut alice, invalid_utf8_text_frame()).await;
    assert_eq!(ending, Ending::Close(1007), "after auth; frames {frames:?}");

    forum_carries_on(&mut moderator, &mut [&mut screen], "After invalid UTF-8").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 10. Flood
// ---------------------------------------------------------------------------

fn flood_limits() -> WsLimits {
    WsLimits { rate_per_sec: nz(5), burst: nz(5), flood_close_after: 20, ..WsLimits::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_rate_limited_then_closed_with_4029() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), default_hub(), flood_limits()).await;
    let created = new_forum(&server, "Flood", &["One"]).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let (mut flooder, _) = server.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;

    // 100 pings back to back, in one write.
    for i in 0..100 {
        if flooder
            .ws
            .feed(Message::Text(json!({"type": "ping", "id": format!("f{i}")}).to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = flooder.ws.flush().await;
    let (frames, ending) = client_end(&mut flooder).await;
    let kinds: Vec<String> = frames
        .iter()
        .map(|f| match f["type"].as_str() {
            Some("error") => format!("error:{}", f["code"].as_str().unwrap_or("?")),
            Some(other) => other.to_string(),
            None => f.to_string(),
        })
        .collect();
    assert_eq!(ending, Ending::Close(4029), "frames: {kinds:?}");
    // The burst passes: the first five pings are answered, in order.
    let pongs: Vec<&Value> = frames.iter().filter(|f| f["type"] == "pong").collect();
    assert!(pongs.len() >= 5, "{kinds:?}");
    for (i, pong) in frames.iter().take(5).enumerate() {
        assert_eq!(
            (pong["type"].as_str(), pong["id"].as_str()),
            (Some("pong"), Some(format!("f{i}").as_str())),
            "{kinds:?}"
        );
    }
    // Then rate_limited errors, and the connection is closed on the 20th refusal.
    let limited = kinds.iter().filter(|k| *k == "error:rate_limited").count();
    assert!((19..=20).contains(&limited), "{limited} rate_limited errors: {kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("error:rate_limited"), "{kinds:?}");
    assert_eq!(pongs.len() + limited, frames.len(), "only pongs and rate_limited errors: {kinds:?}");
    assert!(kinds.iter().position(|k| k == "error:rate_limited").unwrap() >= 5, "{kinds:?}");

    // Another client on the same forum is unaffected.
    let mut alice = join(&server, &created.join_codes.remote, "Alice").await;
    forum_carries_on(&mut moderator, &mut [&mut alice], "After the flood").await;
    assert_alive(&mut alice, "alice").await;
    server.stop().await;
}

/// SPEC §13: a rate-limited frame is answered with `rate_limited`, "carrying its `id` if readable".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_errors_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), default_hub(), flood_limits()).await;
    let created = new_forum(&server, "Rate", &["One"]).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;

    for i in 0..10 {
        moderator
            .ws
            .feed(Message::Text(json!({"type": "ping", "id": format!("q{i}")}).to_string().into()))
            .await
            .unwrap();
    }
    moderator.ws.flush().await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(moderator.expect("pong or error", |f| f["type"] == "pong" || f["type"] == "error").await);
    }
    let limited: Vec<&Value> = answers.iter().filter(|f| f["code"] == "rate_limited").collect();
    assert!(!limited.is_empty(), "{answers:?}");
    for error in &limited {
        assert!(
            error["id"].as_str().is_some_and(|id| id.starts_with('q')),
            "rate_limited without the frame's id: {error}"
        );
    }
    let mut ids: Vec<&str> = answers.iter().filter_map(|f| f["id"].as_str()).collect();
    ids.sort_by_key(|id| id[1..].parse::<u32>().unwrap_or(u32::MAX));
    assert_eq!(ids, (0..10).map(|i| format!("q{i}")).collect::<Vec<_>>(), "every frame answered once, with its id");
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 11. Slow consumer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_with_4008_and_nobody_else_notices() {
    let _crowd = one_crowd_at_a_time().await;
    let dir = tempfile::tempdir().unwrap();
    // Every agenda frame goes out (no conflation past a burst): the slow
    // reader must fall behind by frames, whatever the machine's speed.
    let hub = HubConfig {
        tally_interval: Duration::from_millis(50),
        broadcast_capacity: 8,
        whole_state_burst: 1_000_000,
        ..HubConfig::default()
    };
    // A high rate limit for the moderator's stream of commands. The write
    // timeout is raised so that it is the broadcast lag that closes the slow
    // reader, not a stalled write.
    let limits = WsLimits {
        rate_per_sec: nz(10_000),
        burst: nz(10_000),
        write_timeout: Duration::from_secs(60),
        ..WsLimits::default()
    };
    let server = TestServer::start_with(dir.path(), hub, limits).await;
    let created = new_forum(&server, "Slow", &[]).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;

    // The slow display: a tiny receive buffer, and it stops reading after the welcome.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (mut slow, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();
    slow.send(Message::Text(json!({"type": "auth", "token": created.display_token}).to_string().into())).await.unwrap();
    let welcome = loop {
        match tokio::time::timeout(WAIT, slow.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(welcome["type"], "welcome");
    let start_seq = welcome["head_seq"].as_u64().unwrap();

    // A normal display reads everything, in its own task.
    let (mut normal, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome["head_seq"].as_u64(), Some(start_seq));
    let (seqs_tx, mut seqs_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let reader = tokio::spawn(async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), normal.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "event" && seqs_tx.send(frame["seq"].as_u64().unwrap()).is_err() {
                        return;
                    }
                }
                Ok(Some(Ok(_))) => continue,
                _ => return,
            }
        }
    });

    // Large events: every agenda update carries the whole agenda.
    let started = tokio::time::Instant::now();
    let long_title = |i: usize| {
        format!("{i:04} {}", "가나다라마바사아자차카타파하 ".repeat(12)).chars().take(190).collect::<String>()
    };
    let mut acked = Vec::new();
    // One place left on the agenda (at most 100 items) for the item added after.
    for i in 0..99 {
        let ack = moderator.ok(json!({"type": "add_item", "title": long_title(i)})).await;
        acked.push(ack["seq"].as_u64().unwrap());
        moderator.backlog.clear();
    }
    for i in 0..150 {
        let ack = moderator.ok(json!({"type": "edit_item", "item": 2, "title": long_title(1000 + i)})).await;
        acked.push(ack["seq"].as_u64().unwrap());
        moderator.backlog.clear();
    }
    let generated = started.elapsed();
    let last = *acked.last().unwrap();

    // The normal display saw the last event, in order. Agenda updates carry
    // the whole agenda and are conflated (SPEC §8.7): it may skip older ones.
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        match tokio::time::timeout(WAIT, seqs_rx.recv()).await {
            Ok(Some(seq)) => seen.push(seq),
            other => panic!("the normal display stopped at {:?} of {last} ({other:?})", seen.last()),
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    assert!(seen.iter().all(|seq| acked.contains(seq)), "only acked events: {seen:?}");
    assert_eq!(acked, ((start_seq + 1)..=last).collect::<Vec<_>>());
    reader.abort();

    // The slow display reads what was buffered, then finds it was closed as too slow.
    let (frames, ending) = read_to_end(&mut slow, Duration::from_secs(60)).await;
    let got: Vec<u64> = frames.iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert_eq!(
        ending,
        Ending::Close(4008),
        "slow display: {} frames (seqs {:?}..{:?}) of {} events generated in {generated:?}",
        frames.len(),
        got.first(),
        got.last(),
        acked.len()
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(got.len() < acked.len(), "the slow display missed events");

    // The moderator carries on.
    moderator.ok(json!({"type": "add_item", "title": "After the slow display"})).await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 12. HTTP
// ---------------------------------------------------------------------------

async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_json_with_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let http = reqwest::Client::new();
    let forums = server.http("/api/forums");
    let body = json!({"title": "A forum"});

    let res = http.post(&forums).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(res).await, "unauthorized");
    let res = http.post(&forums).bearer_auth("not-the-admin-token").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(res).await, "unauthorized");
    let res = http.post(&forums).header("Authorization", ADMIN).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401, "the token without `Bearer `");
    assert_eq!(error_code(res).await, "unauthorized");

    let post_raw =
        |raw: String| http.post(&forums).bearer_auth(ADMIN).header("Content-Type", "application/json").body(raw).send();
    for raw in ["{not json", "[]", "{}", "{\"title\": 5}", ""] {
        let res = post_raw(raw.to_string()).await.unwrap();
        assert_eq!(res.status(), 400, "body {raw:?}");
        assert_eq!(error_code(res).await, "bad_request", "body {raw:?}");
    }
    let too_big = json!({"title": "x".repeat(70 * 1024)}).to_string();
    let res = post_raw(too_big).await.unwrap();
    assert_eq!(res.status(), 413);
    let long = "x".repeat(201);
    for title in ["", "   ", long.as_str()] {
        let res = http.post(&forums).bearer_auth(ADMIN).json(&json!({"title": title})).send().await.unwrap();
        assert_eq!(res.status(), 422, "title {title:?}");
        assert_eq!(error_code(res).await, "invalid");
    }

    let res = http.get(server.http("/api/forums/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(res).await, "not_found");
    let res = http.get(server.http("/no/such/route")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(error_code(res).await, "not_found");

    // A WebSocket without the madang.v1 subprotocol is refused.
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a WebSocket without the subprotocol was accepted"),
    }
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("madang.v0"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a WebSocket with another subprotocol was accepted"),
    }

    // The server carries on.
    let created = new_forum(&server, "Still serving", &["One"]).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "add_item", "title": "Two"})).await;
    let res = http.get(server.http(&format!("/api/forums/{}", created.id))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 13. Resume edges
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_beyond_the_head_gets_a_snapshot_and_from_zero_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = new_forum(&server, "Resume", &["One", "Two"]).await;

    // From 0 on a fresh forum: everything since the start is replayed.
    let (mut fresh, welcome) =
        server.connect(json!({"type": "auth", "token": created.display_token, "last_seq": 0})).await;
    assert!(welcome["snapshot"].is_null(), "last_seq 0 on a fresh forum replays: {welcome}");
    let head = welcome["head_seq"].as_u64().unwrap();
    let replayed = welcome["replayed"].as_u64().unwrap();
    assert!(replayed >= 1 && replayed <= head, "{welcome}");
    let mut seqs = Vec::new();
    for _ in 0..replayed {
        let frame = fresh.recv().await;
        assert_eq!(frame["type"], "event", "{frame}");
        seqs.push(frame["seq"].as_u64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs.iter().all(|s| (1..=head).contains(s)), "{seqs:?}");
    assert_eq!(seqs.last(), Some(&head), "the replay reaches the head: {seqs:?}");
    assert_alive(&mut fresh, "after-replay").await;
    assert!(fresh.backlog.is_empty(), "exactly `replayed` events: {:?}", fresh.backlog);

    // Beyond the head (a client from before a server reset): a snapshot, no replay.
    for token in [&created.display_token, &created.moderator_token] {
        let (_, welcome) = server.connect(json!({"type": "auth", "token": token, "last_seq": head + 100})).await;
        assert!(welcome["snapshot"].is_object(), "{welcome}");
        assert_eq!(welcome["snapshot"]["seq"].as_u64(), Some(head), "{welcome}");
        assert_eq!(welcome["replayed"], 0, "{welcome}");
        assert_eq!(welcome["snapshot"]["agenda"].as_array().map(Vec::len), Some(2));
    }
    let (mut ahead, welcome) =
        server.connect(json!({"type": "auth", "token": created.display_token, "last_seq": u64::MAX})).await;
    assert!(welcome["snapshot"].is_object(), "{welcome}");

    // Both carry on with live events.
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    forum_carries_on(&mut moderator, &mut [&mut fresh, &mut ahead], "Three").await;
    server.stop().await;
}
