//! A hybrid forum end to end with real WebSocket clients: the hall and the
//! remote crowd voting in one poll with hand-counted paper ballots, the
//! headcount check, the speaker queue under each policy, agenda timers and
//! the temperature check.

use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

async fn forum(server: &TestServer) -> CreateForumResponse {
    server
        .create_forum(&CreateForumRequest {
            title: "Hybrid town hall".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![
                AgendaItemSpec { title: "Parks".into(), description: None, timebox_secs: Some(900) },
                AgendaItemSpec { title: "Roads".into(), description: None, timebox_secs: None },
            ],
        })
        .await
}

async fn moderator(server: &TestServer, created: &CreateForumResponse) -> Client {
    server.connect(json!({"type": "auth", "token": created.moderator_token})).await.0
}

/// Join with a code; returns the client and its participant id.
async fn join(server: &TestServer, code: &str, name: Option<&str>) -> (Client, u64) {
    let mut auth = json!({"type": "auth", "join_code": code});
    if let Some(name) = name {
        auth["name"] = json!(name);
    }
    let (client, welcome) = server.connect(auth).await;
    let id = welcome["participant"]["id"].as_u64().expect("a participant id");
    (client, id)
}

fn is_update(frame: &Value, kind: &str, seq: &Value) -> bool {
    frame["type"] == "event" && frame["update"]["kind"] == kind && frame["seq"] == *seq
}

fn borda(result: &Value) -> Vec<u64> {
    result["borda"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranked_poll_merges_remote_hall_and_paper_ballots_and_shows_each_channel() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    m.ok(json!({"type": "start_forum"})).await;
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    let poll = m
        .ok(json!({"type": "create_poll", "title": "Which park first?", "method": {"kind": "ranked"},
                   "options": {"from": "fixed", "labels": ["River park", "Hill park", "Station square"]}}))
        .await["poll"]
        .clone();
    m.ok(json!({"type": "open_poll", "poll": poll})).await;

    let (mut remote1, _) = join(&server, &created.join_codes.remote, Some("Jiwoo")).await;
    let (mut remote2, _) = join(&server, &created.join_codes.remote, None).await;
    let (mut hall1, _) = join(&server, &created.join_codes.hall, Some("Minho")).await;
    let ballot =
        |ranking: [u32; 3]| json!({"type": "cast_ballot", "poll": 1, "ballot": {"kind": "ranked", "ranking": ranking}});
    remote1.ok(ballot([1, 2, 3])).await;
    remote2.ok(ballot([2, 1, 3])).await;
    hall1.ok(ballot([3, 2, 1])).await;

    // Bad input first: nothing of it may change the tally.
    let hall_count = |ballots: Value| json!({"type": "enter_hall_count", "poll": 1, "counts": {"kind": "ranked", "ballots": ballots}});
    let refused = hall1.command(hall_count(json!([{"ranking": [1, 2, 3], "count": 5}]))).await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("forbidden")), "{refused}");
    let refused = m.command(hall_count(json!([{"ranking": [1, 2, 3], "count": -4}]))).await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("cannot be negative"), "{refused}");
    let refused = m.command(hall_count(json!([{"ranking": [1, 2, 3], "count": 250_000}]))).await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    let refused = m.command(hall_count(json!([{"ranking": [1, 2], "count": 3}]))).await;
    assert_eq!(
        (refused["code"].as_str(), refused["rule"].as_str()),
        (Some("ballot_invalid"), Some("ranked.incomplete"))
    );
    let refused = m.command(json!({"type": "enter_hall_count", "poll": 1, "counts": {"kind": "yes_no", "yes": 1, "no": 0, "abstain": 0}})).await;
    assert_eq!(refused["code"], "invalid", "{refused}");

    // The moderator sets the headcount, enters paper ballots, then corrects them.
    m.ok(json!({"type": "set_hall_headcount", "count": 15})).await;
    let first =
        m.ok(hall_count(json!([{"ranking": [3, 1, 2], "count": 12}, {"ranking": [2, 3, 1], "count": 3}]))).await;
    let entered = m.expect("hall count update", |f| is_update(f, "hall_count", &first["seq"])).await;
    let check = &entered["update"]["hall_check"];
    // One hall device voted and 15 paper ballots were counted: 16 people against a headcount of 15
    // (the hand count alone cannot exceed the headcount: that is refused).
    assert_eq!(check["headcount"], 15);
    assert_eq!(check["hall_devices"], 1);
    assert_eq!(
        check["polls"][0],
        json!({"poll": 1, "hall_ballots": 1, "hand_counted": 15, "total": 16, "exceeds": true})
    );
    assert_eq!(check["exceeds"], true);
    // The correction replaces the first entry: 10 + 3 paper ballots, 14 people in all.
    let corrected =
        m.ok(hall_count(json!([{"ranking": [3, 1, 2], "count": 10}, {"ranking": [2, 3, 1], "count": 3}]))).await;
    let entered = m.expect("corrected hall count", |f| is_update(f, "hall_count", &corrected["seq"])).await;
    assert_eq!(entered["update"]["hall_check"]["polls"][0]["total"], 14);
    assert_eq!(entered["update"]["hall_check"]["exceeds"], false);
    assert_eq!(entered["update"]["counts"]["ballots"][0]["count"], 10);

    // The display sees the merged tally with its breakdown, and never the hand-count event itself.
    let tally = display
        .expect("the tally with the corrected count", |f| f["type"] == "tally" && f["tally"]["ballots"] == 16)
        .await;
    assert_eq!(tally["tally"]["by_channel"]["hall_count"]["ballots"], 13);

    let close = m.ok(json!({"type": "close_poll", "poll": 1})).await;
    let closed = display.expect("closed poll", |f| is_update(f, "poll", &close["seq"])).await;
    let outcome = &closed["update"]["poll"]["outcome"]["tally"];
    // Borda, 3 options (2, 1, 0 points):
    //   remote [1,2,3], [2,1,3]:         A 3, B 3, C 0
    //   hall device [3,2,1]:             A 0, B 1, C 2
    //   paper 10 × [3,1,2], 3 × [2,3,1]: A 10, B 6, C 23
    assert_eq!(outcome["ballots"], 16);
    assert_eq!(borda(&outcome["result"]), [13, 10, 25]);
    assert_eq!(outcome["result"]["ranking"], json!([[3], [1], [2]]));
    assert_eq!(
        outcome["result"]["first_choices"],
        json!([{"option": 1, "count": 1}, {"option": 2, "count": 4}, {"option": 3, "count": 11}])
    );
    let by = &outcome["by_channel"];
    assert_eq!(
        (by["remote"]["ballots"].as_u64(), by["hall"]["ballots"].as_u64(), by["hall_count"]["ballots"].as_u64()),
        (Some(2), Some(1), Some(13))
    );
    assert_eq!(borda(&by["remote"]["result"]), [3, 3, 0]);
    assert_eq!(by["remote"]["result"]["ranking"], json!([[1, 2], [3]]));
    assert_eq!(borda(&by["hall"]["result"]), [0, 1, 2]);
    assert_eq!(borda(&by["hall_count"]["result"]), [10, 6, 23]);
    assert_eq!(by["hall_count"]["result"]["ranking"], json!([[3], [1], [2]]));

    // Counts for a closed poll are refused.
    let refused = m.command(hall_count(json!([{"ranking": [1, 2, 3], "count": 1}]))).await;
    assert_eq!(refused["code"], "invalid_state", "{refused}");
    assert!(
        !display.backlog.iter().any(|f| f["update"]["kind"] == "hall_count" || f["update"]["kind"] == "hall_check")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headcount_warning_follows_hall_ballots_and_hand_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    m.ok(json!({"type": "start_forum"})).await;
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    m.ok(json!({"type": "create_poll", "title": "Close the road on Sundays?", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}})).await;
    m.ok(json!({"type": "open_poll", "poll": 1})).await;
    let refused = m.command(json!({"type": "set_hall_headcount", "count": -2})).await;
    assert_eq!(refused["code"], "invalid");
    let set = m.ok(json!({"type": "set_hall_headcount", "count": 3})).await;
    let check = m.expect("hall check", |f| is_update(f, "hall_check", &set["seq"])).await;
    assert_eq!(check["update"]["hall_check"]["exceeds"], false);
    m.ok(json!({"type": "enter_hall_count", "poll": 1, "counts": {"kind": "yes_no", "yes": 2, "no": 1, "abstain": 0}}))
        .await;
    // A hall device votes too: 1 + 3 people, one more than the headcount.
    let (mut hall, _) = join(&server, &created.join_codes.hall, None).await;
    let cast = hall.ok(json!({"type": "cast_ballot", "poll": 1, "ballot": {"kind": "yes_no", "choice": "no"}})).await;
    let check = m.expect("hall check after a hall ballot", |f| is_update(f, "hall_check", &cast["seq"])).await;
    assert_eq!(
        check["update"]["hall_check"]["polls"][0],
        json!({"poll": 1, "hall_ballots": 1, "hand_counted": 3, "total": 4, "exceeds": true})
    );
    assert_eq!(check["update"]["hall_check"]["exceeds"], true);
    let (_, welcome) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    assert_eq!(welcome["snapshot"]["hall_check"]["exceeds"], true);
    let tally = m.expect("merged yes/no tally", |f| f["type"] == "tally" && f["tally"]["ballots"] == 4).await;
    assert_eq!(tally["tally"]["result"]["yes"], 2);
    assert_eq!(tally["tally"]["result"]["no"], 2);
    assert_eq!(tally["tally"]["result"]["tie"], true);
    assert_eq!(tally["tally"]["by_channel"]["hall"]["result"]["no"], 1);
    // The public snapshot has no hall check.
    let public: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    assert!(public.get("hall_check").is_none());
    assert!(public["polls"][0].get("hall_count").is_none());
    server.stop().await;
}

/// The public queue as (speaker id, channel) pairs.
fn queue(frame: &Value) -> Vec<(u64, String)> {
    frame["update"]["speakers"]["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_u64().unwrap(), s["channel"].as_str().unwrap().to_string()))
        .collect()
}

/// A participant's own place (0-based) in the public queue, found by their id.
fn place_of(frame: &Value, participant: u64) -> Option<usize> {
    frame["update"]["speakers"]["waiting"].as_array().unwrap().iter().position(|s| s["participant"] == participant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_speaker_queue_under_each_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    m.ok(json!({"type": "start_forum"})).await;
    let (mut r1, r1_id) = join(&server, &created.join_codes.remote, Some("Jiwoo")).await;
    let (mut r2, r2_id) = join(&server, &created.join_codes.remote, None).await;
    let (mut h1, h1_id) = join(&server, &created.join_codes.hall, Some("Minho")).await;

    // Arrival: remote Jiwoo (1), remote (2), hall Minho (3), Mrs Kim by name (4).
    assert_eq!(r1.ok(json!({"type": "raise_hand"})).await["speaker"], 1);
    r2.ok(json!({"type": "raise_hand"})).await;
    h1.ok(json!({"type": "raise_hand"})).await;
    let added = m.ok(json!({"type": "add_speaker", "name": "Mrs Kim"})).await;
    assert_eq!(added["speaker"], 4);
    let fifo = display.expect("queue of four", |f| is_update(f, "speakers", &added["seq"])).await;
    assert_eq!(fifo["update"]["speakers"]["policy"], "fifo");
    assert_eq!(
        queue(&fifo),
        [(1, "remote".into()), (2, "remote".into()), (3, "hall".into()), (4, "hall_count".into())]
    );
    assert_eq!(fifo["update"]["speakers"]["waiting"][3]["name"], "Mrs Kim");
    // Each participant finds their own place by their id.
    let seen = r2.expect("queue seen by a participant", |f| is_update(f, "speakers", &added["seq"])).await;
    assert_eq!((place_of(&seen, r1_id), place_of(&seen, r2_id), place_of(&seen, h1_id)), (Some(0), Some(1), Some(2)));

    // Alternate: the room and remote take turns; remote arrived first.
    let set = m.ok(json!({"type": "set_queue_policy", "policy": "alternate"})).await;
    let alternate = display.expect("alternate order", |f| is_update(f, "speakers", &set["seq"])).await;
    assert_eq!(queue(&alternate).iter().map(|q| q.0).collect::<Vec<_>>(), [1, 3, 2, 4]);

    // A time limit, then the first speech: its deadline is exact from the event's time.
    m.ok(json!({"type": "set_speaking_limit", "secs": 120})).await;
    let called = m.ok(json!({"type": "call_next"})).await;
    let speaking = display.expect("first speech", |f| is_update(f, "speakers", &called["seq"])).await;
    let current = &speaking["update"]["speakers"]["current"];
    assert_eq!(current["speaker"]["participant"], r1_id);
    let at_ms = speaking["at_ms"].as_u64().unwrap();
    assert_eq!(current["started_ms"], at_ms);
    assert_eq!(current["deadline_ms"], at_ms + 120_000);
    // The room is next after a remote speaker.
    assert_eq!(queue(&speaking).iter().map(|q| q.0).collect::<Vec<_>>(), [3, 2, 4]);

    // Not spoken first: Jiwoo raises a hand again and waits behind everyone new.
    let ended = m.ok(json!({"type": "end_speech"})).await;
    let after = display.expect("speech ended", |f| is_update(f, "speakers", &ended["seq"])).await;
    let stats = &after["update"]["speakers"]["stats"];
    assert_eq!(stats["remote"]["speeches"], 1);
    assert_eq!(stats["remote"]["speaking_ms"], after["at_ms"].as_u64().unwrap() - at_ms);
    assert!(after["update"]["speakers"].get("current").is_none());
    r1.ok(json!({"type": "raise_hand"})).await;
    let set = m.ok(json!({"type": "set_queue_policy", "policy": "not_spoken_first"})).await;
    let fresh = display.expect("not spoken first", |f| is_update(f, "speakers", &set["seq"])).await;
    assert_eq!(queue(&fresh).iter().map(|q| q.0).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert_eq!(place_of(&fresh, r1_id), Some(3));

    // Skip passes over the next (speaker 2); move puts Mrs Kim first; remove and lower take people out.
    let skipped = m.ok(json!({"type": "skip_speaker"})).await;
    let q = display.expect("skipped", |f| is_update(f, "speakers", &skipped["seq"])).await;
    assert_eq!(queue(&q).iter().map(|q| q.0).collect::<Vec<_>>(), [3, 4, 5, 2]);
    assert_eq!(q["update"]["speakers"]["waiting"][3]["skipped"], true);
    let moved = m.ok(json!({"type": "move_speaker", "speaker": 4, "position": 0})).await;
    let q = display.expect("moved", |f| is_update(f, "speakers", &moved["seq"])).await;
    assert_eq!(queue(&q).iter().map(|q| q.0).collect::<Vec<_>>(), [4, 3, 5, 2]);
    m.ok(json!({"type": "remove_speaker", "speaker": 5})).await;
    let lowered = r2.ok(json!({"type": "lower_hand"})).await;
    let q = display.expect("lowered", |f| is_update(f, "speakers", &lowered["seq"])).await;
    assert_eq!(queue(&q).iter().map(|q| q.0).collect::<Vec<_>>(), [4, 3]);

    // Call the hall-count speaker, then the hall device: each channel has one speech.
    m.ok(json!({"type": "call_next"})).await;
    let last = m.ok(json!({"type": "call_next"})).await;
    let q = display.expect("last call", |f| is_update(f, "speakers", &last["seq"])).await;
    let stats = &q["update"]["speakers"]["stats"];
    assert_eq!(
        (
            stats["remote"]["speeches"].as_u64(),
            stats["hall"]["speeches"].as_u64(),
            stats["hall_count"]["speeches"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(q["update"]["speakers"]["current"]["speaker"]["participant"], h1_id);
    assert!(stats["hall_count"]["speaking_ms"].as_u64().is_some());

    // Bad input.
    let refused = m.command(json!({"type": "raise_hand"})).await;
    assert_eq!(refused["code"], "forbidden");
    let refused = r1.command(json!({"type": "call_next"})).await;
    assert_eq!(refused["code"], "forbidden");
    let refused = m.command(json!({"type": "call_next"})).await;
    assert_eq!(refused["code"], "invalid_state");
    let refused = m.command(json!({"type": "remove_speaker", "speaker": 99})).await;
    assert_eq!(refused["code"], "not_found");
    let refused = h1.command(json!({"type": "raise_hand"})).await;
    assert_eq!(refused["code"], "invalid_state", "the speaker has the floor: {refused}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activating_an_item_starts_its_countdown_and_the_moderator_pauses_and_extends_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    m.ok(json!({"type": "start_forum"})).await;
    let activated = m.ok(json!({"type": "activate_item", "item": 1})).await;
    let agenda = display.expect("activation", |f| is_update(f, "agenda", &activated["seq"])).await;
    let at_ms = agenda["at_ms"].as_u64().unwrap();
    let timer = &agenda["update"]["agenda"][0]["timer"];
    assert_eq!(timer["running"], true);
    assert_eq!(timer["deadline_ms"], at_ms + 900 * 1000);

    let paused = m.ok(json!({"type": "pause_timer", "item": 1})).await;
    let agenda = display.expect("paused", |f| is_update(f, "agenda", &paused["seq"])).await;
    let left = 900_000 - (agenda["at_ms"].as_u64().unwrap() - at_ms);
    assert_eq!(agenda["update"]["agenda"][0]["timer"], json!({"running": false, "remaining_ms": left}));
    m.ok(json!({"type": "extend_timer", "item": 1, "secs": 60})).await;
    let resumed = m.ok(json!({"type": "start_timer", "item": 1})).await;
    let agenda = display.expect("resumed", |f| is_update(f, "agenda", &resumed["seq"])).await;
    assert_eq!(
        agenda["update"]["agenda"][0]["timer"]["deadline_ms"],
        agenda["at_ms"].as_u64().unwrap() + left + 60_000
    );

    // The speaking timer is a separate field: calling a speaker leaves the item's timer alone.
    m.ok(json!({"type": "set_speaking_limit", "secs": 30})).await;
    m.ok(json!({"type": "add_speaker", "name": "Mr Park"})).await;
    let called = m.ok(json!({"type": "call_next"})).await;
    let speakers = display.expect("speech", |f| is_update(f, "speakers", &called["seq"])).await;
    assert_eq!(speakers["update"]["speakers"]["current"]["deadline_ms"], speakers["at_ms"].as_u64().unwrap() + 30_000);
    let view: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    assert_eq!(view["agenda"][0]["timer"]["deadline_ms"], agenda["update"]["agenda"][0]["timer"]["deadline_ms"]);

    // An item without a time box has no countdown.
    let next = m.ok(json!({"type": "activate_item", "item": 2})).await;
    let agenda = display.expect("second item", |f| is_update(f, "agenda", &next["seq"])).await;
    assert!(agenda["update"]["agenda"][1].get("timer").is_none());
    server.stop().await;
}

fn counts(value: &Value) -> (u64, u64, u64) {
    (value["green"].as_u64().unwrap(), value["yellow"].as_u64().unwrap(), value["red"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_temperature_check_shows_the_latest_signal_of_each_participant_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    m.ok(json!({"type": "start_forum"})).await;
    let (mut r1, _) = join(&server, &created.join_codes.remote, None).await;
    let refused = r1.command(json!({"type": "signal", "color": "green"})).await;
    assert_eq!(refused["code"], "invalid_state", "no current item: {refused}");
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    let (mut r2, _) = join(&server, &created.join_codes.remote, None).await;
    let (mut h1, _) = join(&server, &created.join_codes.hall, None).await;
    r1.ok(json!({"type": "signal", "color": "red"})).await;
    r2.ok(json!({"type": "signal", "color": "green"})).await;
    h1.ok(json!({"type": "signal", "color": "yellow"})).await;
    // Changing one's signal replaces it.
    r1.ok(json!({"type": "signal", "color": "green"})).await;
    let frame = display
        .expect("the final distribution", |f| {
            f["type"] == "temperature" && f["temperature"]["total"] == json!({"green": 2, "yellow": 1, "red": 0})
        })
        .await;
    let t = &frame["temperature"];
    assert_eq!(t["item"], 1);
    assert_eq!(counts(&t["remote"]), (2, 0, 0));
    assert_eq!(counts(&t["hall"]), (0, 1, 0));
    let moderator_sees =
        m.expect("temperature for the moderator", |f| f["type"] == "temperature" && f["temperature"] == *t).await;
    assert_eq!(moderator_sees["temperature"], *t);
    let (_, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome["snapshot"]["temperature"], *t);
    let refused = m.command(json!({"type": "signal", "color": "red"})).await;
    assert_eq!(refused["code"], "forbidden");
    let refused = r1.command(json!({"type": "signal", "color": "blue"})).await;
    assert_eq!(refused["code"], "bad_request");
    server.stop().await;
}

/// What a console sends when a hand count is impossible: refused with the
/// named rule (which the page explains in its own language), nothing applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_count_the_hall_could_not_have_given_is_refused_with_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    m.ok(json!({"type": "start_forum"})).await;
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    m.ok(
        json!({"type": "create_poll", "title": "Which one play area?", "method": {"kind": "approval", "max_choices": 1},
               "options": {"from": "fixed", "labels": ["Climbing frame", "Water play", "Sandpit"]}}),
    )
    .await;
    m.ok(json!({"type": "open_poll", "poll": 1})).await;
    let approval = |people: u32, counts: [u32; 3]| {
        let counts: Vec<Value> =
            (1..).zip(counts).map(|(option, count)| json!({"option": option, "count": count})).collect();
        json!({"type": "enter_hall_count", "poll": 1, "counts": {"kind": "approval", "people": people, "counts": counts}})
    };

    // One choice each: 15 people cannot have made 21 marks.
    let refused = m.command(approval(15, [11, 10, 0])).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str(), refused["rule"].as_str()),
        (Some("error"), Some("invalid"), Some("hall_count.over_method")),
        "{refused}"
    );
    assert!(refused["message"].as_str().unwrap().contains("21 approvals"), "{refused}");

    // More people counted by hand than are in the hall.
    m.ok(json!({"type": "set_hall_headcount", "count": 12})).await;
    let refused = m.command(approval(13, [5, 4, 4])).await;
    assert_eq!(
        (refused["code"].as_str(), refused["rule"].as_str()),
        (Some("invalid"), Some("hall_count.over_headcount")),
        "{refused}"
    );

    // A possible count is taken, and it is the only one the tally shows.
    let taken = m.ok(approval(12, [5, 4, 3])).await;
    let entered = m.expect("the hall count", |f| is_update(f, "hall_count", &taken["seq"])).await;
    assert_eq!(entered["update"]["hall_check"]["polls"][0]["hand_counted"], 12);
    let close = m.ok(json!({"type": "close_poll", "poll": 1})).await;
    let closed = m.expect("closed poll", |f| is_update(f, "poll", &close["seq"])).await;
    let tally = &closed["update"]["poll"]["outcome"]["tally"];
    assert_eq!(tally["ballots"], 12);
    assert_eq!(
        tally["result"]["counts"],
        json!([{"option": 1, "count": 5}, {"option": 2, "count": 4}, {"option": 3, "count": 3}])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_choice_poll_counts_every_channel_and_reports_a_tie() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = forum(&server).await;
    let mut m = moderator(&server, &created).await;
    m.ok(json!({"type": "start_forum"})).await;
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    m.ok(json!({"type": "create_poll", "title": "Where should the bench go?", "method": {"kind": "single_choice"},
               "options": {"from": "fixed", "labels": ["By the pond", "Under the oak", "Near the gate"]}}))
        .await;
    m.ok(json!({"type": "open_poll", "poll": 1})).await;

    // Before anyone votes the tally says so, rather than a three-way tie.
    let (_display, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    let empty = &welcome["snapshot"]["tallies"][0];
    assert_eq!((empty["ballots"].as_u64(), empty["no_votes"].as_bool()), (Some(0), Some(true)), "{empty}");
    assert_eq!(empty["result"]["winners"], json!([]));

    let (mut remote, _) = join(&server, &created.join_codes.remote, None).await;
    let (mut hall, _) = join(&server, &created.join_codes.hall, None).await;
    let pick =
        |option: u32| json!({"type": "cast_ballot", "poll": 1, "ballot": {"kind": "single_choice", "option": option}});
    let refused = remote.command(pick(4)).await;
    assert_eq!((refused["code"].as_str(), refused["rule"].as_str()), (Some("ballot_invalid"), Some("option.unknown")));
    remote.ok(pick(1)).await;
    hall.ok(pick(2)).await;
    let counted = m
        .ok(json!({"type": "enter_hall_count", "poll": 1, "counts": {"kind": "single_choice",
                   "counts": [{"option": 1, "count": 2}, {"option": 2, "count": 2}]}}))
        .await;
    m.expect("the hall count", |f| is_update(f, "hall_count", &counted["seq"])).await;

    let close = m.ok(json!({"type": "close_poll", "poll": 1})).await;
    let closed = m.expect("closed poll", |f| is_update(f, "poll", &close["seq"])).await;
    let tally = &closed["update"]["poll"]["outcome"]["tally"];
    assert_eq!(tally["ballots"], 6);
    assert!(tally.get("no_votes").is_none(), "{tally}");
    assert_eq!(
        tally["result"],
        json!({"method": "single_choice",
               "counts": [{"option": 1, "count": 3}, {"option": 2, "count": 3}, {"option": 3, "count": 0}],
               "ranking": [[1, 2], [3]], "winners": [1, 2], "tie": true})
    );
    let by = &tally["by_channel"];
    assert_eq!(by["remote"]["result"]["winners"], json!([1]));
    assert_eq!(by["hall"]["result"]["winners"], json!([2]));
    assert_eq!(by["hall_count"]["ballots"], 4);
    assert_eq!(by["hall_count"]["result"]["tie"], true);
    server.stop().await;
}
