//! Two real `madang serve` processes on one `redis-server`: node A
//! is SIGKILLed in the middle of a vote. Its participants reconnect to node B
//! with their participant tokens and resend what was not acknowledged, with
//! the same request ids; A is restarted later. Every acknowledged ballot is
//! counted exactly once, each participant's counted ballot is their last.
//!
//! A test binary of its own, not a module of `tests/integration`: it checks
//! that the kill lands mid-vote, which holds only while the hundred
//! participants join faster than the first ones finish voting. Sharing the
//! machine with the other integration tests (libtest runs a binary's tests in
//! parallel) slows the joins enough to break that on two cores; binaries run
//! one after another, so here it has the machine to itself.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use madang_testkit::RedisServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

// The harness is the integration binary's; that binary checks every part of
// it is used, this one needs only the process side.
#[allow(dead_code, unused_imports, reason = "only the process side of the harness is used here")]
#[path = "integration/harness/mod.rs"]
mod harness;

use harness::http::get_json;
use harness::{Client, Process, forum_log, unique_prefix};

// ---------------------------------------------------------------------------
// Node A dies under its clients: a fallible client, and nodes on Redis.
// ---------------------------------------------------------------------------

/// The fallible side of the client: `None` where the harness would panic.
impl Client {
    /// Like `connect`, but `None` when the server cannot be reached or the
    /// handshake fails within 5 s (a node that was killed).
    async fn try_connect(url: &str) -> Option<Client> {
        let request = Client::handshake(url).ok()?;
        let (ws, _) =
            tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(request)).await.ok()?.ok()?;
        Some(Client { ws, backlog: Vec::new() })
    }

    /// Authenticate on a fresh connection; `None` on any connection failure.
    /// Panics if the server answers with something other than `welcome`.
    async fn try_join(url: &str, auth: Value) -> Option<(Client, Value)> {
        let mut client = Client::try_connect(url).await?;
        client.ws.send(Message::Text(auth.to_string().into())).await.ok()?;
        let welcome = client.try_next(Duration::from_secs(10)).await?;
        assert_eq!(welcome["type"], "welcome", "expected welcome, got {welcome}");
        Some((client, welcome))
    }

    /// The next text frame, or `None` if the socket fails, closes or stays silent for `wait`.
    async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??.ok()?;
            match message {
                Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON frame")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Send `command` with request id `id` and wait up to `wait` for its
    /// answer; `None` if the connection fails first (other frames are dropped).
    async fn try_command(&mut self, id: &str, mut command: Value, wait: Duration) -> Option<Value> {
        command["id"] = json!(id);
        self.backlog.clear();
        self.ws.send(Message::Text(command.to_string().into())).await.ok()?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.try_next(left).await?;
            if (frame["type"] == "ack" || frame["type"] == "error") && frame["id"] == json!(id) {
                return Some(frame);
            }
        }
    }
}

impl Process {
    /// `madang serve --redis-url <url> --redis-prefix <prefix>`, with no cap on
    /// joins per address: the test's 100 participants all join from loopback.
    async fn start_redis(data_dir: &Path, url: &str, prefix: &str) -> Process {
        let args = ["--redis-url", url, "--redis-prefix", prefix, "--joins-per-ip-per-minute", "0"];
        Self::start_args(data_dir, &args).await
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

const PEOPLE: usize = 100;
const BALLOTS_EACH: usize = 10;
/// Options of the approval poll; ballot k of participant i approves options
/// k + 1 and i % 10 + 1, so option 10 counts exactly the participants whose
/// counted ballot is their last (k = 9).
const OPTIONS: usize = 10;

fn options(i: usize, k: usize) -> Vec<u64> {
    let (a, b) = ((k + 1) as u64, (i % OPTIONS + 1) as u64);
    if a == b { vec![a] } else { vec![a, b] }
}

/// One acknowledged ballot, as its participant saw it.
#[derive(Debug, Clone)]
struct Acked {
    id: String,
    seq: u64,
    duplicate: bool,
    sends: usize,
    /// Acked by node B (after the participant moved).
    on_b: bool,
}

/// One participant, as its voting task knows it.
struct Voter {
    i: usize,
    token: String,
    participant: Value,
    code: String,
    /// Node B's WebSocket URL.
    b_ws: String,
    poll: Value,
    acks: Arc<AtomicUsize>,
}

/// Cast ballots 0..BALLOTS_EACH, each after the previous was acked. A lost
/// connection or no answer in 5 s: reconnect to node B (A is the one that
/// dies) with the participant token, and resend the same request id.
async fn vote(voter: Voter, client: Client) -> Vec<Acked> {
    let Voter { i, token, participant, code, b_ws, poll, acks } = voter;
    let mut on_b = false;
    let mut client = Some(client);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acked = Vec::new();
    for k in 0..BALLOTS_EACH {
        let id = format!("k{i}-{k}");
        let ballot =
            json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": options(i, k)}});
        let mut sends = 0;
        loop {
            assert!(Instant::now() < deadline, "participant {i}: ballot {k} not acked within 60 s");
            let Some(c) = client.as_mut() else {
                let auth = json!({"type": "auth", "join_code": code, "participant_token": token});
                match Client::try_join(&b_ws, auth).await {
                    Some((c, welcome)) => {
                        assert_eq!(welcome["participant"]["id"], participant, "the same person on node B: {welcome}");
                        client = Some(c);
                        on_b = true;
                    }
                    None => tokio::time::sleep(Duration::from_millis(100)).await,
                }
                continue;
            };
            sends += 1;
            match c.try_command(&id, ballot.clone(), Duration::from_secs(5)).await {
                Some(answer) if answer["type"] == "ack" => {
                    let duplicate = answer.get("duplicate").is_some();
                    assert!(!duplicate || answer["duplicate"] == true, "{answer}");
                    acked.push(Acked { id: id.clone(), seq: answer["seq"].as_u64().unwrap(), duplicate, sends, on_b });
                    acks.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(answer) => {
                    // Only `unavailable` may be retried; nothing else is expected here.
                    assert_eq!(answer["code"], "unavailable", "ballot {id}: {answer}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => client = None,
            }
        }
        // Spread the vote out, so that the kill lands in the middle of it.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_node_mid_vote_loses_nothing_and_counts_nothing_twice() {
    let started = Instant::now();
    let redis = RedisServer::start();
    let prefix = unique_prefix("node-kill");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Process::start_redis(dir_a.path(), &redis.url, &prefix).await;
    let b = Process::start_redis(dir_b.path(), &redis.url, &prefix).await;
    let created = a.create_forum(json!({"title": "Kill drill", "agenda": [{"title": "Vote"}]})).await;
    let forum = created["id"].as_str().unwrap().to_string();
    let code = created["join_codes"]["remote"].as_str().unwrap().to_string();

    // The moderator is on B, the node that survives.
    let labels: Vec<String> = (1..=OPTIONS).map(|o| format!("Option {o}")).collect();
    let mut moderator = None;
    let wait = Instant::now() + Duration::from_secs(10);
    while moderator.is_none() {
        // B finds the forum A created in Redis (at most a discovery interval later).
        let auth = json!({"type": "auth", "token": created["moderator_token"]});
        let mut c = Client::connect(&b.ws()).await;
        c.send(auth).await;
        let answer = c.recv().await;
        if answer["type"] == "welcome" {
            moderator = Some(c);
        } else {
            assert!(Instant::now() < wait, "node B never served the forum: {answer}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut moderator = moderator.unwrap();
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Which?", "method": {"kind": "approval", "max_choices": 2},
            "options": {"from": "fixed", "labels": labels}}))
        .await["poll"]
        .clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;

    // Everyone joins on A.
    let acks = Arc::new(AtomicUsize::new(0));
    let mut voters = Vec::new();
    for i in 0..PEOPLE {
        let (client, welcome) = a.connect(json!({"type": "auth", "join_code": code, "name": format!("p{i}")})).await;
        let token = welcome["participant"]["token"].as_str().unwrap().to_string();
        let participant = welcome["participant"]["id"].clone();
        let voter =
            Voter { i, token, participant, code: code.clone(), b_ws: b.ws(), poll: poll.clone(), acks: acks.clone() };
        voters.push(tokio::spawn(vote(voter, client)));
    }

    // SIGKILL A once about a third of the ballots are acked.
    let wait = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::Relaxed) < PEOPLE * BALLOTS_EACH / 3 {
        assert!(Instant::now() < wait, "ballots are acked on A: {}", acks.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before_kill = acks.load(Ordering::Relaxed);
    a.kill().await;
    let killed_at = started.elapsed();
    // A comes back a second later (its participants stay on B).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a = Process::start_redis(dir_a.path(), &redis.url, &prefix).await;

    let mut all: Vec<Vec<Acked>> = Vec::new();
    for voter in voters {
        all.push(tokio::time::timeout(Duration::from_secs(90), voter).await.expect("voters finish").expect("voter"));
    }
    let voted = started.elapsed();

    let close = moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let closed = moderator.expect("the close", |f| f["type"] == "event" && f["seq"] == close["seq"]).await;
    let tally = closed["update"]["poll"]["outcome"]["tally"].clone();
    let with_ack = all.iter().filter(|a| !a.is_empty()).count();
    assert_eq!(with_ack, PEOPLE, "everyone's ballots were acked in the end");
    assert_eq!(tally["ballots"], with_ack as u64, "one counted ballot per participant with an ack: {tally}");
    let counts: Vec<u64> =
        tally["result"]["counts"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect();
    // Each participant's last acked ballot (k = 9) counts: options 10 and i % 10 + 1.
    let mut expected = vec![0u64; OPTIONS];
    for i in 0..PEOPLE {
        for o in options(i, BALLOTS_EACH - 1) {
            expected[o as usize - 1] += 1;
        }
    }
    assert_eq!(counts, expected, "each participant's last acked ballot is the one counted: {tally}");

    // The log: every ballot applied exactly once, at the seq its ack named.
    let acked: std::collections::BTreeMap<&str, &Acked> = all.iter().flatten().map(|a| (a.id.as_str(), a)).collect();
    assert_eq!(acked.len(), PEOPLE * BALLOTS_EACH);
    let log = forum_log(&[redis.port], &prefix, &forum);
    let mut seen = std::collections::BTreeSet::new();
    for entry in log.iter().filter(|e| e["event"]["type"] == "ballot_cast") {
        let id = entry["request"]["id"].as_str().expect("a request id");
        assert!(seen.insert(id.to_string()), "ballot {id} applied twice");
        let ack = acked.get(id).unwrap_or_else(|| panic!("ballot {id} is in the log but was never acked"));
        assert_eq!(ack.seq, entry["seq"].as_u64().unwrap(), "the ack of {id} names its seq: {ack:?}");
    }
    assert_eq!(seen.len(), PEOPLE * BALLOTS_EACH, "every acked ballot is in the log");
    let flat: Vec<&Acked> = all.iter().flatten().collect();
    for a in &flat {
        assert!(!a.duplicate || a.sends > 1, "only a resend is a duplicate: {a:?}");
    }
    let duplicates = flat.iter().filter(|a| a.duplicate).count();
    let resent = flat.iter().filter(|a| a.sends > 1).count();
    let moved = all.iter().filter(|v| v.iter().any(|a| a.on_b)).count();
    assert!(moved >= PEOPLE / 2, "the kill came mid-vote: only {moved} participants had to move to node B");

    // The restarted A serves the same forum as B.
    let url_a = a.http(&format!("/api/forums/{forum}"));
    let view_b = get_json(&b.http(&format!("/api/forums/{forum}"))).await;
    let wait = Instant::now() + Duration::from_secs(10);
    loop {
        let res = reqwest::get(&url_a).await.expect("GET on A");
        if res.status() == 200 {
            let view_a: Value = res.json().await.unwrap();
            if view_a == view_b {
                break;
            }
        }
        assert!(Instant::now() < wait, "the restarted node A does not serve what B serves");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "node kill: {before_kill} acked before the SIGKILL at {killed_at:?}; {moved} participants moved to B; \
         {resent} ballots resent, {duplicates} answered duplicate; all voted at {voted:?}; total {:?}",
        started.elapsed()
    );
    drop(moderator);
}
