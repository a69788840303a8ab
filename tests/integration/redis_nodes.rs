//! Several hub nodes on one Redis server: in-process nodes
//! (`server::run` with a `RedisConfig`) on one real `redis-server`, real
//! WebSocket clients. Each test has its own Redis server and key prefix.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use madang::domain::Limits;
use madang::hub::HubConfig;
use madang_protocol::CreateForumRequest;
use madang_testkit::RedisServer;
use serde_json::{Value, json};

use crate::harness::{
    Client, TestServer, WAIT, fast_limits, forum_log, redis_key_exists, redis_on_key, redis_single, test_hub,
    unique_prefix, wait_for_view, wait_forum_known,
};
use crate::redis_scenario::{
    approval, approval_counts, check_outcome_entry, counts_of, forum_with_open_poll, outcome_entries, two_nodes_vote,
};

/// Two nodes, one Redis, votes on both, one outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_redis_agree_on_tally_and_outcome() {
    let started = Instant::now();
    let redis = RedisServer::start();
    let config = redis_single(&redis.url, &unique_prefix("two-nodes"));
    two_nodes_vote(config, &[redis.port]).await;
    eprintln!("two nodes on one redis: {:?}", started.elapsed());
}

/// A forum created on node A is served by node B at once: a display token,
/// a join code and `GET /api/forums/{id}` on B work right after the creation
/// response, whenever B last looked for new forums.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_created_on_one_node_is_served_at_once_by_another() {
    let redis = RedisServer::start();
    let config = redis_single(&redis.url, &unique_prefix("discover"));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis(dir_a.path(), config.clone()).await;
    let b = TestServer::start_redis(dir_b.path(), config.clone()).await;
    for round in 0..3 {
        // B just looked for forums (an unknown credential makes it look) ...
        let mut stranger = Client::connect(&b.ws_url()).await;
        stranger.send(json!({"type": "auth", "token": "nosuchforum.d.xxxxxxxxxxxxxxxx"})).await;
        assert_eq!(stranger.recv().await["code"], "unauthorized");
        // ... and A creates a forum now.
        let created = a
            .create_forum(&CreateForumRequest {
                title: format!("Fresh {round}"),
                language: None,
                eligibility: None,
                agenda: vec![],
            })
            .await;
        let (_, welcome) = b.connect(json!({"type": "auth", "token": created.display_token})).await;
        assert_eq!(welcome["forum_id"], json!(created.id), "{welcome}");
        let (_, welcome) = b.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
        assert_eq!(welcome["role"], "participant", "{welcome}");
        let view = b.forum_view(&created.id).await;
        assert_eq!(view["forum"]["title"], format!("Fresh {round}"));
    }
    a.stop().await;
    b.stop().await;
}

/// Send `command` with request id `id`, resending it (same id) while the
/// answer is `unavailable`; the final answer and how many sends it took.
async fn command_retrying(client: &mut Client, id: &str, command: Value) -> (Value, usize) {
    for sends in 1..=20 {
        let answer = client.command_with_id(id, command.clone()).await;
        if answer["code"] != "unavailable" {
            return (answer, sends);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{command} still unavailable after 20 sends")
}

/// A node started after 2,500+ events serves the same state (from
/// the snapshot in Redis and the tail), and a display that left node A
/// resumes on node B with exactly the events it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_node_catches_up_and_a_display_resumes_on_another_node() {
    const ON_A: usize = 20;
    const ON_B: usize = 5;
    const BALLOTS_EACH: usize = 100;
    const EDITS: usize = 300;
    let started = Instant::now();
    let redis = RedisServer::start();
    let prefix = unique_prefix("catch-up");
    let config = redis_single(&redis.url, &prefix);
    let hub = || HubConfig { snapshot_every: 1000, ..test_hub() };
    let (dir_a, dir_b, dir_c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis_with(dir_a.path(), config.clone(), hub(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), config.clone(), hub(), fast_limits()).await;
    let (mut moderator, created, poll) = forum_with_open_poll(&a, &["Yes", "No", "Maybe"], 1).await;
    let forum = created.id.clone();
    wait_forum_known(&b, &forum).await;
    for n in 2..=50 {
        moderator.ok(json!({"type": "add_item", "title": format!("Item {n}")})).await;
    }

    // Thousands of events, fast: a second moderator connection edits items,
    // participants on A and on B keep replacing their ballots.
    // `unavailable` answers (resent with the same id), on A and on B.
    let retries = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut generators = Vec::new();
    let (mut editor, _) = a.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let editor_retries = retries.clone();
    generators.push(tokio::spawn(async move {
        for n in 0..EDITS {
            let command = json!({"type": "edit_item", "item": 2 + n % 49, "title": format!("Edit {n}")});
            let (answer, sends) = command_retrying(&mut editor, &format!("edit-{n}"), command).await;
            assert_eq!(answer["type"], "ack", "{answer}");
            editor_retries[0].fetch_add(sends - 1, Ordering::Relaxed);
        }
    }));
    for i in 0..ON_A + ON_B {
        let node = if i < ON_A { &a } else { &b };
        let (mut client, _) = node.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
        let (poll, retries) = (poll.clone(), retries.clone());
        generators.push(tokio::spawn(async move {
            for k in 0..BALLOTS_EACH {
                let ballot = approval(&poll, &[((i + k) % 3 + 1) as u64]);
                let (answer, sends) = command_retrying(&mut client, &format!("b{i}-{k}"), ballot).await;
                assert_eq!(answer["type"], "ack", "{answer}");
                retries[usize::from(i >= ON_A)].fetch_add(sends - 1, Ordering::Relaxed);
            }
        }));
    }
    for generator in generators {
        tokio::time::timeout(Duration::from_secs(120), generator).await.expect("events generated in time").unwrap();
    }
    let generated = started.elapsed();
    let view_a = a.forum_view(&forum).await;
    let head = view_a["seq"].as_u64().unwrap();
    assert!(head >= 2500, "2,500+ events: head is {head}");
    let people = (ON_A + ON_B) as u64;
    assert_eq!(view_a["tallies"][0]["ballots"], people, "{}", view_a["tallies"]);

    // A snapshot of the forum is in Redis.
    let snapshot_key = format!("{prefix}:{{{forum}}}:snapshot");
    assert!(redis_key_exists(&[redis.port], &snapshot_key), "{snapshot_key} exists");
    let snapshot_seq = match redis_on_key(&[redis.port], &["HGET", &snapshot_key, "seq"]) {
        redis::Value::BulkString(s) => String::from_utf8(s).unwrap().parse::<u64>().unwrap(),
        other => panic!("HGET {snapshot_key} seq: {other:?}"),
    };
    assert!(snapshot_seq >= 2000 && snapshot_seq <= head, "snapshot at seq {snapshot_seq}, head {head}");

    // Node C starts now and serves the same state; B too.
    let c = TestServer::start_redis_with(dir_c.path(), config.clone(), hub(), fast_limits()).await;
    let view_c = c.forum_view(&forum).await;
    assert_eq!(view_c, view_a, "node C serves what node A serves");
    wait_for_view(&b, &forum, &view_a).await;

    // Two displays on A. One records, then leaves with its last_seq.
    let (mut leaving, welcome) = a.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome["snapshot"]["seq"], json!(head));
    let (mut staying, _) = a.connect(json!({"type": "auth", "token": created.display_token})).await;
    let mut last_seq = head;
    for n in 0..10 {
        let ack = moderator.ok(json!({"type": "edit_item", "item": 3, "title": format!("Before {n}")})).await;
        last_seq = ack["seq"].as_u64().unwrap();
    }
    let seen =
        leaving.expect("the last edit before leaving", |f| f["type"] == "event" && f["seq"] == json!(last_seq)).await;
    assert_eq!(seen["update"]["kind"], "agenda");
    assert!(
        leaving.backlog.iter().filter(|f| f["type"] == "event").all(|f| f["seq"].as_u64().unwrap() < last_seq),
        "events arrive in seq order"
    );
    leaving.ws.close(None).await.unwrap();
    drop(leaving);

    // More happens on A while it is away: agenda edits, ideas, ballots, a new participant.
    let mut final_seq = 0;
    for n in 0..10 {
        let ack = moderator.ok(json!({"type": "edit_item", "item": 4, "title": format!("After {n}")})).await;
        final_seq = ack["seq"].as_u64().unwrap();
        if n % 3 == 0 {
            let idea = moderator.ok(json!({"type": "submit_idea", "text": format!("Idea {n}")})).await;
            final_seq = idea["seq"].as_u64().unwrap();
        }
    }
    let (mut late_voter, _) = a.connect(json!({"type": "auth", "join_code": created.join_codes.hall})).await;
    late_voter.ok(approval(&poll, &[2])).await;
    let done = moderator.ok(json!({"type": "complete_item", "item": 5})).await;
    final_seq = final_seq.max(done["seq"].as_u64().unwrap());
    let mut frames = Vec::new();
    loop {
        let frame = staying.recv().await;
        let last = frame["type"] == "event" && frame["seq"] == json!(final_seq);
        frames.push(frame);
        if last {
            break;
        }
    }
    let missed: Vec<Value> =
        frames.into_iter().filter(|f| f["type"] == "event" && f["seq"].as_u64().unwrap() > last_seq).collect();
    // Agenda updates carry the whole agenda and may be conflated (SPEC §8.7); ideas are not.
    assert!(missed.len() >= 5, "the display missed agenda and idea events: {}", missed.len());

    // It comes back on node B, once B has caught up: exactly what it missed.
    let view_a = a.forum_view(&forum).await;
    wait_for_view(&b, &forum, &view_a).await;
    let (mut back, welcome) =
        b.connect(json!({"type": "auth", "token": created.display_token, "last_seq": last_seq})).await;
    assert!(welcome["snapshot"].is_null(), "a resume within the buffer replays events: {welcome}");
    assert_eq!(welcome["head_seq"], view_a["seq"]);
    let replayed = welcome["replayed"].as_u64().unwrap() as usize;
    let mut got = Vec::new();
    for _ in 0..replayed {
        got.push(back.recv().await);
    }
    let seqs = |frames: &[Value]| frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert!(seqs(&got).windows(2).all(|w| w[0] < w[1]), "in order: {:?}", seqs(&got));
    // Each node conflates agenda updates on its own pace: the same ideas, and the same agenda at the end.
    let ideas = |frames: &[Value]| frames.iter().filter(|f| f["update"]["kind"] == "idea").cloned().collect::<Vec<_>>();
    assert_eq!(ideas(&got), ideas(&missed), "the same ideas as the display that stayed on A");
    let last_agenda = |frames: &[Value]| frames.iter().rev().find(|f| f["update"]["kind"] == "agenda").cloned();
    assert_eq!(last_agenda(&got), last_agenda(&missed), "the same agenda as the display that stayed on A");
    let tally = back.recv().await;
    assert_eq!(tally["type"], "tally", "the open poll's tally follows the replay: {tally}");
    assert_eq!(tally["tally"]["ballots"], people + 1);
    eprintln!(
        "catch-up: {head} events generated in {generated:?} ({} resends after `unavailable` on A, {} on B); \
         snapshot at {snapshot_seq}; total {:?}",
        retries[0].load(Ordering::Relaxed),
        retries[1].load(Ordering::Relaxed),
        started.elapsed()
    );
    drop((moderator, staying, back, late_voter));
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// Two moderators on two nodes close the same poll at the same
/// moment: exactly one ack, the other `invalid_state`; one outcome published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_closes_on_two_nodes_are_acked_exactly_once() {
    const ROUNDS: usize = 6;
    let started = Instant::now();
    let redis = RedisServer::start();
    let prefix = unique_prefix("close-race");
    let config = redis_single(&redis.url, &prefix);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis_with(dir_a.path(), config.clone(), test_hub(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), config.clone(), test_hub(), fast_limits()).await;
    let (mut mod_a, created, first_poll) = forum_with_open_poll(&a, &["One", "Two"], 1).await;
    let forum = created.id.clone();
    wait_forum_known(&b, &forum).await;
    let (mut mod_b, _) = b.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let (mut voter, _) = b.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;

    let mut wins = [0, 0];
    let mut published = Vec::new();
    for round in 0..ROUNDS {
        let poll = if round == 0 {
            first_poll.clone()
        } else {
            let poll = mod_a
                .ok(json!({"type": "create_poll", "title": format!("Round {round}"),
                    "method": {"kind": "approval", "max_choices": 1},
                    "options": {"from": "fixed", "labels": ["One", "Two"]}}))
                .await["poll"]
                .clone();
            mod_a.ok(json!({"type": "open_poll", "poll": poll})).await;
            poll
        };
        // B knows the poll is open: a ballot there is accepted.
        voter.ok(approval(&poll, &[(round % 2 + 1) as u64])).await;
        let close = json!({"type": "close_poll", "poll": poll});
        let (answer_a, answer_b) = tokio::join!(mod_a.command(close.clone()), mod_b.command(close.clone()));
        let kinds = [answer_a["type"].as_str().unwrap(), answer_b["type"].as_str().unwrap()];
        let (ack, refused) = match kinds {
            ["ack", "error"] => {
                wins[0] += 1;
                (&answer_a, &answer_b)
            }
            ["error", "ack"] => {
                wins[1] += 1;
                (&answer_b, &answer_a)
            }
            _ => panic!("round {round}: exactly one ack expected: A {answer_a}, B {answer_b}"),
        };
        assert_eq!(refused["code"], "invalid_state", "round {round}: {refused}");
        assert!(ack.get("duplicate").is_none(), "{ack}");
        let seq = ack["seq"].as_u64().unwrap();
        let closed = |f: &Value| f["type"] == "event" && f["seq"] == json!(seq);
        let on_a = mod_a.expect("the close on A", closed).await;
        let on_b = mod_b.expect("the close on B", closed).await;
        assert_eq!(on_a, on_b);
        let outcome = on_a["update"]["poll"]["outcome"].clone();
        assert_eq!(on_a["update"]["poll"]["id"], poll);
        assert_eq!(outcome["tally"]["ballots"], 1, "{outcome}");
        // Checked after all rounds, so that every round's race is checked first.
        let entries = outcome_entries(&[redis.port], &prefix, &forum, seq).await;
        for entry in &entries {
            check_outcome_entry(entry, &forum, seq, &poll, &outcome);
        }
        published.push((seq, entries.len()));
    }
    assert!(
        published.iter().all(|(_, n)| *n == 1),
        "exactly one entry on {prefix}:outcomes per close (seq, entries): {published:?}"
    );
    // One close event per poll in the log.
    let log = forum_log(&[redis.port], &prefix, &forum);
    let closes = log.iter().filter(|e| e["event"]["type"] == "poll_closed").count();
    assert_eq!(closes, ROUNDS);
    let view_a = a.forum_view(&forum).await;
    wait_for_view(&b, &forum, &view_a).await;
    eprintln!("close races: A won {}, B won {}; {:?}", wins[0], wins[1], started.elapsed());
    drop((mod_a, mod_b, voter));
    a.stop().await;
    b.stop().await;
}

/// Participants keep voting on node B while the moderator closes the
/// poll on node A. Every ballot is either acked and counted, or refused
/// `invalid_state`; never acked but left out of the outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_on_one_node_while_another_closes_are_acked_only_if_counted() {
    const PEOPLE: usize = 12;
    const MAX_BALLOTS: usize = 2000;
    let started = Instant::now();
    let redis = RedisServer::start();
    let prefix = unique_prefix("ballot-race");
    let config = redis_single(&redis.url, &prefix);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis_with(dir_a.path(), config.clone(), test_hub(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), config.clone(), test_hub(), fast_limits()).await;
    let labels = ["A", "B", "C", "D"];
    let (mut moderator, created, poll) = forum_with_open_poll(&a, &labels, 1).await;
    let forum = created.id.clone();
    wait_forum_known(&b, &forum).await;
    let option = |i: usize, k: usize| ((i + k) % 4 + 1) as u64;

    let acks = Arc::new(AtomicUsize::new(0));
    let mut voters = Vec::new();
    for i in 0..PEOPLE {
        let (mut client, _) = b.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
        let (poll, acks) = (poll.clone(), acks.clone());
        voters.push(tokio::spawn(async move {
            // (k, ack seq) of every acked ballot, in order.
            let mut acked: Vec<(usize, u64)> = Vec::new();
            for k in 0..MAX_BALLOTS {
                let answer = client.command_with_id(&format!("v{i}-{k}"), approval(&poll, &[option(i, k)])).await;
                match answer["type"].as_str() {
                    Some("ack") => {
                        assert!(answer.get("duplicate").is_none(), "a fresh id is never a duplicate: {answer}");
                        acked.push((k, answer["seq"].as_u64().unwrap()));
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                    _ if answer["code"] == "invalid_state" => return (acked, k),
                    _ => panic!("ballot {i}/{k}: neither ack nor invalid_state: {answer}"),
                }
            }
            panic!("participant {i}: the poll was not closed after {MAX_BALLOTS} ballots")
        }));
    }
    let deadline = Instant::now() + WAIT;
    while acks.load(Ordering::Relaxed) < 5 * PEOPLE {
        assert!(Instant::now() < deadline, "ballots are being acked on B");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let close = moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let close_seq = close["seq"].as_u64().unwrap();
    let closed = moderator.expect("the close", |f| f["type"] == "event" && f["seq"] == json!(close_seq)).await;
    let outcome = closed["update"]["poll"]["outcome"].clone();

    let mut last: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut total = 0;
    for (i, voter) in voters.into_iter().enumerate() {
        let (acked, refused_at) = tokio::time::timeout(WAIT, voter).await.expect("voter stops").unwrap();
        total += acked.len();
        for (k, seq) in &acked {
            assert!(*seq < close_seq, "ballot {i}/{k} acked at seq {seq}, after the close at {close_seq}");
        }
        if let Some((k, _)) = acked.last() {
            assert_eq!(*k, refused_at - 1, "ballots are acked until the first refusal");
            last.insert(i, vec![option(i, *k)]);
        }
    }
    assert_eq!(outcome["tally"]["ballots"], last.len() as u64, "participants with an acked ballot: {outcome}");
    assert_eq!(counts_of(&outcome["tally"]), approval_counts(last.values(), labels.len()), "{outcome}");

    // The log agrees: every acked ballot is in it once, before the close; nothing after.
    let log = forum_log(&[redis.port], &prefix, &forum);
    let ballots_in_log = log.iter().filter(|e| e["event"]["type"] == "ballot_cast").count();
    assert_eq!(ballots_in_log, total, "every acked ballot is in the log once, and only those");
    assert!(log.iter().filter(|e| e["seq"].as_u64().unwrap() > close_seq).all(|e| e["event"]["type"] != "ballot_cast"));

    let view_a = a.forum_view(&forum).await;
    assert_eq!(view_a["polls"][0]["outcome"], outcome);
    wait_for_view(&b, &forum, &view_a).await;
    eprintln!("ballot race: {total} ballots acked before the close at {close_seq}; {:?}", started.elapsed());
    drop(moderator);
    a.stop().await;
    b.stop().await;
}

/// A request acked on node A and resent with the same id on node B
/// (right away) is answered `duplicate: true` with the original seq, and is
/// not applied again; for the moderator and for a participant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_resent_on_another_node_is_a_duplicate() {
    let redis = RedisServer::start();
    let prefix = unique_prefix("resend");
    let config = redis_single(&redis.url, &prefix);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis_with(dir_a.path(), config.clone(), test_hub(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), config.clone(), test_hub(), fast_limits()).await;
    let (mut mod_a, created, poll) = forum_with_open_poll(&a, &["Left", "Right"], 1).await;
    let forum = created.id.clone();
    wait_forum_known(&b, &forum).await;
    let (mut mod_b, _) = b.connect(json!({"type": "auth", "token": created.moderator_token})).await;

    for n in 0..5 {
        let id = format!("add-{n}");
        let command = json!({"type": "add_item", "title": format!("Added {n}")});
        let first = mod_a.command_with_id(&id, command.clone()).await;
        assert_eq!(first["type"], "ack", "{first}");
        let again = mod_b.command_with_id(&id, command.clone()).await;
        assert_eq!(again["type"], "ack", "{again}");
        assert_eq!(again["duplicate"], true, "{again}");
        assert_eq!((&again["seq"], &again["item"]), (&first["seq"], &first["item"]));
    }
    let view = a.forum_view(&forum).await;
    assert_eq!(view["agenda"].as_array().unwrap().len(), 6, "five items added once each: {}", view["agenda"]);

    // A participant votes on A, then comes back on B and resends.
    let (mut on_a, welcome) = a.connect(json!({"type": "auth", "join_code": created.join_codes.hall})).await;
    let token = welcome["participant"]["token"].clone();
    let first = on_a.command_with_id("ballot-1", approval(&poll, &[1])).await;
    assert_eq!(first["type"], "ack", "{first}");
    drop(on_a);
    let (mut on_b, again) =
        b.connect(json!({"type": "auth", "join_code": created.join_codes.hall, "participant_token": token})).await;
    assert_eq!(again["participant"]["id"], welcome["participant"]["id"]);
    let resent = on_b.command_with_id("ballot-1", approval(&poll, &[1])).await;
    assert_eq!(resent["duplicate"], true, "{resent}");
    assert_eq!(resent["seq"], first["seq"]);
    // A new id with a different choice replaces the ballot: still one ballot.
    on_b.ok(approval(&poll, &[2])).await;
    let close = mod_b.ok(json!({"type": "close_poll", "poll": poll})).await;
    let closed = mod_b.expect("the close", |f| f["type"] == "event" && f["seq"] == close["seq"]).await;
    let tally = &closed["update"]["poll"]["outcome"]["tally"];
    assert_eq!(tally["ballots"], 1, "{tally}");
    assert_eq!(counts_of(tally), vec![0, 1]);

    let log = forum_log(&[redis.port], &prefix, &forum);
    let with_id = |id: &str| log.iter().filter(|e| e["request"]["id"] == id).count();
    for n in 0..5 {
        assert_eq!(with_id(&format!("add-{n}")), 1, "add-{n} applied once");
    }
    assert_eq!(with_id("ballot-1"), 1, "ballot-1 applied once");
    let view_b = b.forum_view(&forum).await;
    wait_for_view(&a, &forum, &view_b).await;
    drop((mod_a, mod_b, on_b));
    a.stop().await;
    b.stop().await;
}

/// Two moderators on two nodes add agenda items as fast as they are acked,
/// so the nodes keep losing races to each other. A lost race is undone
/// either from a copy of the state or, the first time, by rebuilding from
/// Redis; either way every display sees events once each, in order, ending
/// with the last (agenda updates are conflated: SPEC §8.7), and both nodes
/// end with the same agenda, which each display shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_nodes_lose_no_event_for_their_displays() {
    const ITEMS: usize = 100;
    let redis = RedisServer::start();
    let config = redis_single(&redis.url, &unique_prefix("race-frames"));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two nodes each add ITEMS: the agenda must hold them all.
    let hub = HubConfig { limits: Limits { agenda_items: 2 * ITEMS, ..Limits::default() }, ..test_hub() };
    let a = TestServer::start_redis_with(dir_a.path(), config.clone(), hub.clone(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), config.clone(), hub, fast_limits()).await;
    let created = a
        .create_forum(&CreateForumRequest { title: "Race".into(), language: None, eligibility: None, agenda: vec![] })
        .await;
    wait_forum_known(&b, &created.id).await;
    let display = json!({"type": "auth", "token": created.display_token});
    let (mut display_a, welcome_a) = a.connect(display.clone()).await;
    let (mut display_b, welcome_b) = b.connect(display).await;
    let moderator = json!({"type": "auth", "token": created.moderator_token});
    let (mut mod_a, _) = a.connect(moderator.clone()).await;
    let (mut mod_b, _) = b.connect(moderator).await;

    let (last_a, last_b) = tokio::join!(add_items(&mut mod_a, "A", ITEMS), add_items(&mut mod_b, "B", ITEMS));
    let last = last_a.max(last_b);

    let mut finals = Vec::new();
    for (name, display, welcome) in [("A", &mut display_a, &welcome_a), ("B", &mut display_b, &welcome_b)] {
        let head = welcome["head_seq"].as_u64().unwrap();
        let final_frame = display.expect("the last item", |f| f["type"] == "event" && f["seq"] == json!(last)).await;
        let seqs: Vec<u64> = display
            .backlog
            .iter()
            .chain([&final_frame])
            .filter(|f| f["type"] == "event")
            .map(|f| f["seq"].as_u64().unwrap())
            .filter(|seq| *seq <= last)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "display on {name}: once each, in order: {seqs:?}");
        assert!(seqs.first().is_some_and(|first| *first > head), "display on {name}: after its welcome");
        finals.push(final_frame["update"]["agenda"].clone());
    }
    let view_a = a.forum_view(&created.id).await;
    let view_b = wait_for_view(&b, &created.id, &view_a).await;
    for (name, agenda) in ["A", "B"].into_iter().zip(&finals) {
        assert_eq!(agenda, &view_a["agenda"], "display on {name} shows the final agenda");
    }
    assert_eq!(view_a["agenda"].as_array().map(Vec::len), Some(2 * ITEMS), "{view_a}");
    assert_eq!(view_a["agenda"], view_b["agenda"]);
    a.stop().await;
    b.stop().await;
}

/// Add `count` agenda items one after another; the seq of the last ack.
async fn add_items(client: &mut Client, node: &str, count: usize) -> u64 {
    let mut last = 0;
    for n in 0..count {
        let ack = client.ok(json!({"type": "add_item", "title": format!("{node} {n}")})).await;
        last = ack["seq"].as_u64().unwrap();
    }
    last
}

/// An entry a newer node appended, with fields this build does not know,
/// is tailed and served by this node, which goes on chaining after it; a
/// node started later replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_unknown_fields_from_a_newer_node_is_tailed_and_replayed() {
    use madang::store::{EventLog, Record};
    use sha2::{Digest, Sha256};
    let redis = RedisServer::start();
    let prefix = unique_prefix("newer-node");
    let config = redis_single(&redis.url, &prefix);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis(dir_a.path(), config.clone()).await;
    let created = a
        .create_forum(&CreateForumRequest {
            title: "Mixed builds".into(),
            language: None,
            eligibility: None,
            agenda: vec![],
        })
        .await;
    let (mut moderator, _) = a.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "add_item", "title": "First"})).await;

    // The newer node: the same store, an entry chained to the head as stored.
    let newer = madang::store::redis::connect(config.clone()).await.unwrap();
    let stored = newer.read_after(&created.id, 0).await.unwrap();
    let last = stored.last().unwrap();
    let prev = hex::encode(Sha256::digest(&last.payload));
    let seq = last.seq + 1;
    let entry = json!({
        "seq": seq, "at_ms": 1, "prev": prev, "node": {"name": "hub-9"},
        "event": {"type": "item_added", "item": 2, "title": "From a newer node", "colour": "teal"},
    });
    newer.append(&created.id, &[Record::new(seq, serde_json::to_vec(&entry).unwrap())]).await.unwrap();

    let frame = moderator
        .expect("the newer node's item", |f| f["type"] == "event" && f["seq"] == seq && f["update"]["kind"] == "agenda")
        .await;
    assert_eq!(frame["update"]["agenda"][1]["title"], "From a newer node", "{frame}");
    // This node goes on after it: its next entry chains to the entry as stored.
    let next = moderator.ok(json!({"type": "add_item", "title": "Third"})).await;
    assert_eq!(next["seq"], seq + 1);
    let log = forum_log(&[redis.port], &prefix, &created.id);
    assert_eq!(log[seq as usize - 1]["node"]["name"], "hub-9", "kept as the newer node wrote it");
    assert_eq!(log[seq as usize]["prev"], json!(hex::encode(Sha256::digest(serde_json::to_vec(&entry).unwrap()))));

    // A node started now replays the whole log, the newer node's entry included.
    let b = TestServer::start_redis(dir_b.path(), config.clone()).await;
    let view = b.forum_view(&created.id).await;
    let titles: Vec<&str> = view["agenda"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["First", "From a newer node", "Third"]);
    drop(moderator);
    a.stop().await;
    b.stop().await;
}
