//! Whole-state updates reach a crowd at the tally cadence, not once per
//! change, through real sockets: a crowd raising and lowering hands sends a
//! display one speaker queue per tick, and a join storm sends each connected
//! participant one count per tick, not one per join; every listener still
//! ends with the server's state (SPEC §8.7).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use madang::abuse::AddressLimits;
use madang::hub::HubConfig;
use madang::listener::HttpLimits;
use madang::ws::WsLimits;
use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse, SUBPROTOCOL};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::harness::{Client, TestServer, fast_limits, one_crowd_at_a_time, test_hub};

/// Whole states of a kind that go out at once after a quiet spell (`HubConfig::whole_state_burst`).
const BURST: usize = 16;

/// How many whole states of one kind a listener may get in `elapsed` at one per `tick`.
fn per_tick_bound(elapsed: Duration, tick: Duration) -> usize {
    (elapsed.as_secs_f64() / tick.as_secs_f64()).ceil() as usize + BURST + 2
}

/// A server whose per-address caps let one test address be a whole crowd.
async fn crowd_server(dir: &std::path::Path, tick: Duration, ws: WsLimits) -> TestServer {
    let addresses = AddressLimits { joins_per_minute: 1_000_000, join_burst: 1_000_000, ..AddressLimits::default() };
    let hub = HubConfig { tally_interval: tick, addresses, ..test_hub() };
    let http = HttpLimits { max_connections_per_ip: 100_000, ..HttpLimits::default() };
    TestServer::start_configured(dir, hub, ws, http).await
}

async fn live_forum(server: &TestServer) -> CreateForumResponse {
    let agenda = vec![AgendaItemSpec { title: "Open floor".into(), description: None, timebox_secs: None }];
    let created = server
        .create_forum(&CreateForumRequest { title: "Crowd".into(), language: None, eligibility: None, agenda })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    created
}

/// `n` participants joining `concurrency` at a time.
async fn join_many(server: &TestServer, code: &str, n: usize, concurrency: usize) -> Vec<Client> {
    let url = server.ws_url();
    futures_util::stream::iter(0..n)
        .map(|i| Client::join(&url, json!({"type": "auth", "join_code": code, "name": format!("p{i}")})))
        .buffer_unordered(concurrency)
        .map(|(client, _)| client)
        .collect()
        .await
}

/// What a listener received: frames of each kind, bytes, and its last update of `kind`.
#[derive(Default)]
struct Heard {
    frames: usize,
    bytes: usize,
    of_kind: usize,
    /// The `participants` count of each update of that kind that has one.
    remote_counts: Vec<u64>,
    last: Option<Value>,
    seqs: Vec<u64>,
}

/// Read every frame, counting those of `kind`, until `until` holds for an event.
async fn listen(client: &mut Client, kind: &str, until: impl Fn(&Value) -> bool) -> Heard {
    let mut heard = Heard::default();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), client.ws.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = message else {
            panic!("the listener's socket ended: {message:?}");
        };
        heard.frames += 1;
        heard.bytes += text.len();
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] != "event" {
            continue;
        }
        heard.seqs.push(frame["seq"].as_u64().unwrap());
        let done = until(&frame);
        if frame["update"]["kind"] == kind {
            heard.of_kind += 1;
            heard.remote_counts.extend(frame["update"]["participants"]["remote"].as_u64());
            heard.last = Some(frame);
        }
        if done {
            return heard;
        }
    }
}

fn waiting(frame: &Value) -> usize {
    frame["update"]["speakers"]["waiting"].as_array().map_or(0, Vec::len)
}

/// 100 participants (every one of them a test client parsing every queue:
/// the test's own cost) raise and lower hands as fast as their rate limit
/// allows, for 3 s, while a display watches: the display gets the speaker
/// queue at most once per tick (plus the first burst), and its last queue
/// is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_raising_hands_sends_a_display_one_speaker_queue_per_tick() {
    let _crowd = one_crowd_at_a_time().await;
    const PEOPLE: usize = 100;
    const RATE: u32 = 4;
    const TICK: Duration = Duration::from_millis(50);
    let dir = tempfile::tempdir().unwrap();
    let rate = std::num::NonZeroU32::new(RATE).unwrap();
    // Room for ticks that bunch up after a stall: the storm is paced, not the limit's test.
    let burst = std::num::NonZeroU32::new(RATE * 4).unwrap();
    let limits = WsLimits { rate_per_sec: rate, burst, ..WsLimits::default() };
    let server = crowd_server(dir.path(), TICK, limits).await;
    let created = live_forum(&server).await;
    let people = join_many(&server, &created.join_codes.remote, PEOPLE, 50).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;

    let started = tokio::time::Instant::now();
    let storm: Vec<_> = people
        .into_iter()
        .enumerate()
        .map(|(i, mut person)| {
            tokio::spawn(async move {
                let mut pace = tokio::time::interval(Duration::from_secs(1) / RATE);
                let mut raised = false;
                while started.elapsed() < Duration::from_secs(3) {
                    pace.tick().await;
                    let kind = if raised { "lower_hand" } else { "raise_hand" };
                    person.ok(json!({"type": kind})).await;
                    raised = !raised;
                }
                // The final state: every even-numbered person waits to speak.
                if raised != (i % 2 == 0) {
                    pace.tick().await;
                    person.ok(json!({"type": if raised { "lower_hand" } else { "raise_hand" }})).await;
                }
                person
            })
        })
        .collect();
    // The storm has no agenda change: the moderator's one after it marks its end.
    let listening = tokio::spawn(async move {
        let heard = listen(&mut display, "speakers", |f| f["update"]["kind"] == "agenda").await;
        (display, heard)
    });
    let mut people = Vec::new();
    for person in storm {
        people.push(person.await.unwrap());
    }
    let elapsed = started.elapsed();
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "add_item", "title": "After the storm"})).await;
    let (_display, heard) = listening.await.unwrap();

    let view = server.forum_view(&created.id).await;
    let last = heard.last.expect("the display heard the queue");
    assert_eq!(last["update"]["speakers"], view["speakers"], "the display ends with the server's queue");
    assert_eq!(waiting(&last), PEOPLE / 2, "every even-numbered person waits");
    assert!(heard.seqs.windows(2).all(|w| w[0] < w[1]), "seq rises strictly");
    let bound = per_tick_bound(elapsed, TICK);
    assert!(
        heard.of_kind <= bound,
        "{} speaker queues ({} bytes) in {elapsed:?}: at most {bound}, one per tick",
        heard.of_kind,
        heard.bytes
    );
    eprintln!("hand storm: display got {} speaker queues, {} bytes, in {elapsed:?}", heard.of_kind, heard.bytes);
    drop(people);
    server.stop().await;
}

/// 1,000 participants join while 1,000 are connected: each connected one
/// hears the participant count once per tick, not once per join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_storm_sends_each_listener_one_count_per_tick() {
    let _crowd = one_crowd_at_a_time().await;
    const CONNECTED: usize = 1_000;
    const JOINING: usize = 1_000;
    // Longer than the default tick: joins in a debug build trickle in at
    // tens a second, and the bound is in ticks.
    const TICK: Duration = Duration::from_millis(250);
    let dir = tempfile::tempdir().unwrap();
    let server = crowd_server(dir.path(), TICK, fast_limits()).await;
    let created = live_forum(&server).await;
    let listeners = join_many(&server, &created.join_codes.remote, CONNECTED, 100).await;
    let total = CONNECTED + JOINING;
    let frames = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let listening: Vec<_> = listeners
        .into_iter()
        .map(|mut client| {
            let frames = frames.clone();
            tokio::spawn(async move {
                let heard = listen(&mut client, "participants", |f| {
                    f["update"]["participants"]["remote"].as_u64() == Some(total as u64)
                })
                .await;
                frames.fetch_add(heard.frames, Ordering::Relaxed);
                (client, heard)
            })
        })
        .collect();
    let joined = join_many(&server, &created.join_codes.remote, JOINING, 100).await;
    let mut counts = Vec::new();
    let mut kept = Vec::new();
    for listener in listening {
        let (client, heard) = listener.await.unwrap();
        // Counts from before the storm may still have waited in the socket.
        counts.push(heard.remote_counts.iter().filter(|n| **n > CONNECTED as u64).count());
        kept.push(client);
    }
    let elapsed = started.elapsed();
    let most = counts.iter().copied().max().unwrap();
    let frames = frames.load(Ordering::Relaxed);
    eprintln!(
        "join storm: {JOINING} joins in {elapsed:?}; {frames} frames to {CONNECTED} listeners \
         ({:.1} each, most participants counts: {most})",
        frames as f64 / CONNECTED as f64
    );
    let bound = per_tick_bound(elapsed, TICK);
    assert!(most <= bound, "{most} participant counts to one listener in {elapsed:?}: at most {bound}");
    assert!(most < JOINING / 4, "counts are bounded by ticks, not joins: {most}");
    drop((joined, kept));
    server.stop().await;
}

/// A newcomer whose own join is held back (past the burst, before the tick)
/// gets the forum in its welcome and never that join again: the first event
/// it hears is newer than its welcome's `head_seq`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_never_hears_an_event_its_welcome_already_showed() {
    let dir = tempfile::tempdir().unwrap();
    // One count at once, then one every 2 s: the later joins are held.
    let hub = HubConfig { tally_interval: Duration::from_secs(2), whole_state_burst: 1, ..test_hub() };
    let server = TestServer::start_with(dir.path(), hub, fast_limits()).await;
    let created = live_forum(&server).await;
    let code = &created.join_codes.remote;
    let (mut first, _) = server.connect(json!({"type": "auth", "join_code": code})).await;
    let (_second, _) = server.connect(json!({"type": "auth", "join_code": code})).await;
    let (mut newcomer, welcome) = server.connect(json!({"type": "auth", "join_code": code})).await;
    let head = welcome["head_seq"].as_u64().unwrap();
    assert_eq!(welcome["snapshot"]["participants"]["remote"], 3, "{welcome}");
    // An idea is not held: what was held goes out before it.
    let idea = first.ok(json!({"type": "submit_idea", "text": "Shade"})).await;
    let heard = newcomer.expect("an event", |f| f["type"] == "event").await;
    assert!(heard["seq"].as_u64().unwrap() > head, "after a welcome at {head}: {heard}");
    assert_eq!(heard["seq"], idea["seq"], "{heard}");
    server.stop().await;
}

/// Frames a connection has not read are bounded in bytes, not only in
/// frames: a participant that stops reading while the moderator edits a
/// large agenda (each `agenda` event near 200 KB, far fewer than the
/// 1,024 frames the count allows) is closed with 4008 once its backlog
/// passes the byte budget, while a participant that reads keeps up and
/// ends with the server's agenda.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_stuck_behind_large_frames_is_closed_by_the_byte_budget() {
    let _crowd = one_crowd_at_a_time().await;
    const BUDGET: usize = 1024 * 1024;
    const ITEMS: usize = 30;
    const EDITS: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    // Every agenda update goes out (no conflation), so that the backlog grows by one frame per edit.
    let hub = HubConfig { fanout_bytes: BUDGET, whole_state_burst: 1_000_000, ..test_hub() };
    // The write timeout is long, so that the byte budget, not a stalled write, closes the reader.
    let limits = WsLimits { write_timeout: Duration::from_secs(120), ..fast_limits() };
    let server = TestServer::start_with(dir.path(), hub, limits).await;
    let created = live_forum(&server).await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let description = |i: usize| {
        format!("{i:04} {}", "가나다라마바사아자차카타파하".repeat(150)).chars().take(2000).collect::<String>()
    };
    for i in 0..ITEMS {
        moderator.ok(json!({"type": "add_item", "title": format!("Item {i}"), "description": description(i)})).await;
        moderator.backlog.clear();
    }

    // The stuck participant: a tiny receive buffer, and it stops reading after its welcome.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (mut stuck, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();
    let auth = json!({"type": "auth", "join_code": created.join_codes.remote});
    stuck.send(Message::Text(auth.to_string().into())).await.unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), stuck.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["type"], "welcome");
            break;
        }
    }

    // The reading participant, in its own task, until the last edit's agenda.
    let (mut reader, _) = server.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
    let marker = format!("Edit {}", EDITS - 1);
    let reading = tokio::spawn(async move {
        let heard = listen(&mut reader, "agenda", |f| {
            f["update"]["agenda"].as_array().is_some_and(|items| items.iter().any(|i| i["title"] == marker))
        })
        .await;
        (reader, heard)
    });
    for i in 0..EDITS {
        moderator.ok(json!({"type": "edit_item", "item": 2, "title": format!("Edit {i}")})).await;
        moderator.backlog.clear();
    }
    let (_reader, heard) = tokio::time::timeout(Duration::from_secs(120), reading).await.unwrap().unwrap();
    let view = server.forum_view(&created.id).await;
    let last = heard.last.expect("the reader heard the agenda");
    assert_eq!(last["update"]["agenda"], view["agenda"], "the reader ends with the server's agenda");
    assert!(heard.seqs.windows(2).all(|w| w[0] < w[1]), "seq rises strictly");
    let frame_bytes = heard.bytes / heard.frames.max(1);
    assert!(heard.bytes > 8 * BUDGET, "the edits sent {} bytes in frames of about {frame_bytes}", heard.bytes);

    // The stuck participant reads what was buffered on the way, then finds it was closed as too slow.
    let mut frames = 0;
    let ending = loop {
        match tokio::time::timeout(Duration::from_secs(60), stuck.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => frames += 1,
            Ok(Some(Ok(Message::Close(close)))) => break close.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("the stuck participant's socket ended without a close after {frames} frames: {other:?}"),
        }
    };
    assert_eq!(ending, Some(4008), "after {frames} frames of the {EDITS} edits");
    eprintln!("stuck reader: closed with 4008 after {frames} of {EDITS} agenda frames of about {frame_bytes} bytes");
    assert!(frames < EDITS, "the stuck participant missed frames: {frames}");
    server.stop().await;
}
