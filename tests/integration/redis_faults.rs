//! A hub node on a real `redis-server` that fails under it:
//! SIGKILLed and restarted (AOF, `appendfsync always`), or SIGSTOPped for a
//! few seconds. No false ack, `unavailable` meanwhile, the node recovers by
//! itself, and resending with the same ids never counts a ballot twice.
//!
//! Each participant sends one command at a time (resending the same id after
//! `unavailable`), so the node never holds more than one command per client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use madang::store::redis::RedisConfig;
use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use madang_testkit::RedisServer;
use serde_json::{Value, json};

use crate::harness::{Client, TestServer, WAIT, fast_limits, forum_log, redis_single, test_hub, unique_prefix};

const PEOPLE: usize = 10;
const OPTIONS: usize = 4;
/// Ballots per participant at most (the test stops them long before).
const MAX_BALLOTS: usize = 2000;
/// Sends of one request at most.
const MAX_SENDS: usize = 300;
/// How long Redis stays down in the kill test.
const OUTAGE: Duration = Duration::from_secs(6);

fn option(i: usize, k: usize) -> u64 {
    ((i + k) % OPTIONS + 1) as u64
}

fn ballot(poll: &Value, i: usize, k: usize) -> Value {
    json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": [option(i, k)]}})
}

/// One acknowledged ballot.
#[derive(Debug)]
struct Acked {
    k: usize,
    id: String,
    seq: u64,
    duplicate: bool,
    /// How many times it was sent (1 = acked at the first try).
    sends: usize,
}

#[derive(Debug, Default)]
struct VoterLog {
    acked: Vec<Acked>,
    /// Every answer, when it arrived: (time, answer).
    answers: Vec<(Instant, Value)>,
    /// The longest wait for an answer.
    slowest: Duration,
}

/// Cast ballot after ballot (each replacing the last) until `stop`; resend
/// the same id while the answer is `unavailable`.
async fn vote(mut client: Client, i: usize, poll: Value, stop: Arc<AtomicBool>, acks: Arc<AtomicUsize>) -> VoterLog {
    let mut log = VoterLog::default();
    for k in 0..MAX_BALLOTS {
        if stop.load(Ordering::Relaxed) {
            return log;
        }
        let id = format!("f{i}-{k}");
        // What each `unavailable` answer for this id said.
        let mut unavailable_messages: Vec<String> = Vec::new();
        for sends in 1..=MAX_SENDS {
            let sent = Instant::now();
            let answer = client.command_with_id(&id, ballot(&poll, i, k)).await;
            log.slowest = log.slowest.max(sent.elapsed());
            log.answers.push((Instant::now(), answer.clone()));
            if answer["type"] == "ack" {
                let duplicate = answer.get("duplicate").is_some();
                if duplicate {
                    assert_eq!(answer["duplicate"], true, "{answer}");
                    // One of its sends landed though answered `unavailable`: that answer must have said so.
                    assert!(
                        unavailable_messages.iter().any(|m| m.contains("may have been applied")),
                        "ballot {id} was applied, yet every answer said otherwise: {unavailable_messages:?}"
                    );
                }
                let seq = answer["seq"].as_u64().unwrap();
                log.acked.push(Acked { k, id: id.clone(), seq, duplicate, sends });
                acks.fetch_add(1, Ordering::Relaxed);
                break;
            }
            assert_eq!(
                answer["code"], "unavailable",
                "ballot {id}: only an ack or `unavailable` is expected: {answer}"
            );
            unavailable_messages.push(answer["message"].as_str().unwrap_or_default().to_string());
            assert!(sends < MAX_SENDS, "ballot {id} still unavailable after {MAX_SENDS} sends");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("participant {i} was not stopped after {MAX_BALLOTS} ballots")
}

struct Setup {
    node: TestServer,
    _dir: tempfile::TempDir,
    prefix: String,
    forum: String,
    poll: Value,
    moderator: Client,
    voters: Vec<tokio::task::JoinHandle<VoterLog>>,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
}

/// A node on `redis`, a forum with an open approval poll, `PEOPLE` voters running.
async fn setup(redis: &RedisServer, name: &str, command_timeout: Duration) -> Setup {
    let prefix = unique_prefix(name);
    let config = RedisConfig { command_timeout, ..redis_single(&redis.url, &prefix) };
    let dir = tempfile::tempdir().unwrap();
    let node = TestServer::start_redis_with(dir.path(), config, test_hub(), fast_limits()).await;
    let created = node
        .create_forum(&CreateForumRequest {
            title: "Faults".into(),
            language: None,
            eligibility: None,
            agenda: vec![AgendaItemSpec { title: "Vote".into(), description: None, timebox_secs: None }],
        })
        .await;
    let (mut moderator, _) = node.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let labels: Vec<String> = (1..=OPTIONS).map(|o| format!("Option {o}")).collect();
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Which?", "method": {"kind": "approval", "max_choices": 1},
            "options": {"from": "fixed", "labels": labels}}))
        .await["poll"]
        .clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let mut voters = Vec::new();
    for i in 0..PEOPLE {
        let (client, _) = node.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
        voters.push(tokio::spawn(vote(client, i, poll.clone(), stop.clone(), acks.clone())));
    }
    Setup { node, _dir: dir, prefix, forum: created.id, poll, moderator, voters, stop, acks }
}

/// Wait (at most `within`) until `acks` reaches `n`.
async fn wait_acks(acks: &AtomicUsize, n: usize, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while acks.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "{what}: {} acks, waiting for {n}", acks.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Wait (at most `within`) until `/healthz` answers `status`; its body.
async fn wait_health(node: &TestServer, status: u16, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, body) = node.healthz().await;
        if code == status {
            return body;
        }
        assert!(Instant::now() < deadline, "/healthz did not answer {status} within {within:?}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stop the voters, close the poll, and check the counts and the log exactly.
/// `quiet` is a window in which no ack may arrive (Redis could not answer).
async fn finish(setup: Setup, redis: &RedisServer, quiet: (Instant, Instant)) -> Summary {
    let Setup { node, prefix, forum, poll, mut moderator, voters, stop, .. } = setup;
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for voter in voters {
        logs.push(tokio::time::timeout(WAIT * 3, voter).await.expect("voters stop").expect("voter"));
    }
    let (mut acked, mut duplicates, mut unavailable, mut unavailable_in_fault) = (0, 0, 0, 0);
    let slowest = logs.iter().map(|l| l.slowest).max().unwrap_or_default();
    let mut last: BTreeMap<usize, u64> = BTreeMap::new();
    let mut by_id: BTreeMap<String, &Acked> = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        for (at, answer) in &log.answers {
            if answer["type"] == "ack" {
                assert!(
                    *at < quiet.0 || *at > quiet.1,
                    "an ack arrived while Redis could not have answered ({:?} after the fault): {answer}",
                    at.duration_since(quiet.0)
                );
            } else {
                unavailable += 1;
                if *at >= quiet.0 && *at <= quiet.1 {
                    unavailable_in_fault += 1;
                }
            }
        }
        for a in &log.acked {
            if a.duplicate {
                duplicates += 1;
                assert!(a.sends > 1, "only a resend can be a duplicate: {a:?}");
            }
            by_id.insert(a.id.clone(), a);
        }
        let Some(final_ballot) = log.acked.last() else { panic!("participant {i} got no ack at all") };
        assert_eq!(final_ballot.k + 1, log.acked.len(), "participant {i}: each ballot acked before the next");
        last.insert(i, option(i, final_ballot.k));
        acked += log.acked.len();
    }

    let close = moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let closed = moderator.expect("the close", |f| f["type"] == "event" && f["seq"] == close["seq"]).await;
    let tally = &closed["update"]["poll"]["outcome"]["tally"];
    assert_eq!(tally["ballots"], PEOPLE as u64, "one ballot per participant: {tally}");
    let mut expected = vec![0u64; OPTIONS];
    for option in last.values() {
        expected[*option as usize - 1] += 1;
    }
    let counts: Vec<u64> =
        tally["result"]["counts"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, expected, "each participant's last acked ballot counts: {tally}");

    // The log holds every acked ballot exactly once, at its acked seq, and no other ballot.
    let log = forum_log(&[redis.port], &prefix, &forum);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for entry in log.iter().filter(|e| e["event"]["type"] == "ballot_cast") {
        let id = entry["request"]["id"].as_str().expect("a ballot carries its request id").to_string();
        let seq = entry["seq"].as_u64().unwrap();
        assert!(seen.insert(id.clone(), seq).is_none(), "ballot {id} applied twice (again at seq {seq})");
        let acked =
            by_id.get(&id).unwrap_or_else(|| panic!("ballot {id} (seq {seq}) is in the log but was never acked"));
        assert_eq!(acked.seq, seq, "the ack of {id} names its seq: {acked:?}");
    }
    assert_eq!(seen.len(), by_id.len(), "every acked ballot is in the log");
    drop(moderator);
    node.stop().await;
    Summary { acked, duplicates, unavailable, unavailable_in_fault, slowest }
}

/// What the voters saw, printed by each test.
struct Summary {
    acked: usize,
    /// Acks with `duplicate: true`.
    duplicates: usize,
    /// `unavailable` answers.
    unavailable: usize,
    /// `unavailable` answers that arrived while Redis was down or stopped.
    unavailable_in_fault: usize,
    /// The longest wait for an answer.
    slowest: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Summary { acked, duplicates, unavailable, unavailable_in_fault, slowest } = self;
        write!(
            f,
            "{acked} acked ({duplicates} duplicates), {unavailable} unavailable \
             ({unavailable_in_fault} during the fault), slowest answer {slowest:?}"
        )
    }
}

/// Redis is SIGKILLed while ballots stream in, and restarted 6 s
/// later (longer than a catch-up read and an append may each wait, 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_vote() {
    let started = Instant::now();
    let mut redis = RedisServer::start();
    let setup = setup(&redis, "redis-kill", RedisConfig::default().command_timeout).await;
    wait_acks(&setup.acks, 100, WAIT, "before the kill").await;

    let killed_at = Instant::now();
    redis.kill();
    let body = wait_health(&setup.node, 503, WAIT).await;
    let degraded_at = Instant::now();
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "a reason is given: {body}");
    let during = setup.acks.load(Ordering::Relaxed);
    tokio::time::sleep(OUTAGE.saturating_sub(killed_at.elapsed())).await;
    // Commands are still answered meanwhile: `unavailable`, never an ack.
    let (code, body) = setup.node.healthz().await;
    assert_eq!((code, body["status"].as_str()), (503, Some("degraded")), "{body}");
    let restart_at = Instant::now();
    redis.restart();

    // The node serves again by itself.
    wait_health(&setup.node, 200, Duration::from_secs(30)).await;
    let recovered = started.elapsed();
    let now = setup.acks.load(Ordering::Relaxed);
    wait_acks(&setup.acks, now + 100, Duration::from_secs(30), "after the restart").await;
    // The quiet window starts a little after the node noticed, for acks already on their way.
    let quiet = (degraded_at + Duration::from_millis(200), restart_at);
    let summary = finish(setup, &redis, quiet).await;
    eprintln!(
        "redis kill: {summary} ({during} acked before the node noticed); degraded after {:?}, \
         healthy again at {recovered:?}; total {:?}",
        degraded_at.duration_since(killed_at),
        started.elapsed()
    );
    assert!(summary.unavailable_in_fault > 0, "commands during the outage are answered `unavailable`");
}

/// Redis is SIGSTOPped for 3 s while ballots stream in (command
/// timeout 1 s), then SIGCONTed: appends that were waiting in Redis land
/// late, and their resends are answered `duplicate: true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_mid_vote() {
    let started = Instant::now();
    let redis = RedisServer::start();
    let setup = setup(&redis, "redis-pause", Duration::from_secs(1)).await;
    wait_acks(&setup.acks, 100, WAIT, "before the pause").await;

    let paused_at = Instant::now();
    redis.pause();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, body) = setup.node.healthz().await;
    let resumed_at = Instant::now();
    redis.resume();
    assert_eq!((code, body["status"].as_str()), (503, Some("degraded")), "degraded while Redis is stopped: {body}");

    wait_health(&setup.node, 200, Duration::from_secs(30)).await;
    let now = setup.acks.load(Ordering::Relaxed);
    wait_acks(&setup.acks, now + 100, Duration::from_secs(30), "after the resume").await;
    let quiet = (paused_at + Duration::from_millis(200), resumed_at);
    let summary = finish(setup, &redis, quiet).await;
    eprintln!("redis pause: {summary}; total {:?}", started.elapsed());
    assert!(summary.unavailable_in_fault > 0, "commands during the pause are answered `unavailable`");
}
