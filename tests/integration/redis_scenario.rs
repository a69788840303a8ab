//! The forum scenario shared by `redis_nodes.rs` (one Redis server) and
//! `redis_cluster.rs` (a 3-master Redis Cluster): two hub nodes serve one
//! forum, people vote on both, displays on both see the same tally and the
//! same outcome, and the outcome is on the outcomes stream exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use madang::store::redis::RedisConfig;
use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::{
    Client, TestServer, WAIT, fast_limits, stream_entries, test_hub, wait_for_view, wait_forum_known,
};

/// Approval poll options.
pub const LABELS: [&str; 4] = ["North", "South", "East", "West"];

/// Participant `i`'s final ballot: one or two of the four options.
pub fn final_options(i: usize) -> Vec<u64> {
    let (a, b) = (i % 4 + 1, (i / 4) % 4 + 1);
    if a == b { vec![a as u64] } else { vec![a as u64, b as u64] }
}

pub fn approval(poll: &Value, options: &[u64]) -> Value {
    json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "approval", "options": options}})
}

/// Approvals per option (1-based option ids) of the given ballots.
pub fn approval_counts<'a>(ballots: impl IntoIterator<Item = &'a Vec<u64>>, options: usize) -> Vec<u64> {
    let mut counts = vec![0; options];
    for ballot in ballots {
        for option in ballot {
            counts[*option as usize - 1] += 1;
        }
    }
    counts
}

/// `result.counts` of an approval tally, in option order.
pub fn counts_of(tally: &Value) -> Vec<u64> {
    tally["result"]["counts"]
        .as_array()
        .unwrap_or_else(|| panic!("an approval tally: {tally}"))
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .collect()
}

/// A forum with one item, started, the item active, an approval poll over
/// `labels` (at most `max_choices`) open. Returns the moderator (on `node`),
/// the creation response and the poll id.
pub async fn forum_with_open_poll(
    node: &TestServer,
    labels: &[&str],
    max_choices: usize,
) -> (Client, madang_protocol::CreateForumResponse, Value) {
    let created = node
        .create_forum(&CreateForumRequest {
            title: "두 노드 / Two nodes".into(),
            language: Some("en".into()),
            agenda: vec![AgendaItemSpec { title: "Vote".into(), description: None, timebox_secs: None }],
        })
        .await;
    let (mut moderator, _) = node.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let poll = moderator
        .ok(json!({
            "type": "create_poll",
            "title": "Where first?",
            "method": {"kind": "approval", "max_choices": max_choices},
            "options": {"from": "fixed", "labels": labels},
        }))
        .await;
    let poll_id = poll["poll"].clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll_id})).await;
    (moderator, created, poll_id)
}

/// Wait on `display` for a tally of `poll` with exactly `ballots` ballots and `counts`.
pub async fn wait_tally(display: &mut Client, poll: &Value, ballots: usize, counts: &[u64]) -> Value {
    let what = format!("tally of poll {poll} with {ballots} ballots and counts {counts:?}");
    let frame = display
        .expect(&what, |f| {
            f["type"] == "tally"
                && f["tally"]["poll"] == *poll
                && f["tally"]["ballots"] == ballots as u64
                && f["tally"]["result"]["counts"].as_array().is_some_and(|c| {
                    c.iter().map(|x| x["count"].as_u64().unwrap_or(u64::MAX)).collect::<Vec<_>>() == counts
                })
        })
        .await;
    frame["tally"].clone()
}

/// The outcomes stream entries of `(forum, seq)`, after giving every node
/// time to publish: waits until at least one is there, then one more second.
pub async fn outcome_entries(ports: &[u16], prefix: &str, forum: &str, seq: u64) -> Vec<BTreeMap<String, String>> {
    let key = format!("{prefix}:outcomes");
    let find = || -> Vec<BTreeMap<String, String>> {
        stream_entries(ports, &key)
            .into_iter()
            .map(|(_, fields)| fields)
            .filter(|f| f.get("forum").map(String::as_str) == Some(forum) && f.get("seq") == Some(&seq.to_string()))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while find().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no entry for {forum} seq {seq} on {key} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both nodes applied the close; give the slower one time to (wrongly) publish again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    find()
}

/// Assert the outcomes stream holds exactly one entry for the close at
/// `seq` of `poll`, with every documented field, and `outcome` equal to `outcome`.
pub async fn assert_one_outcome_entry(
    ports: &[u16],
    prefix: &str,
    forum: &str,
    seq: u64,
    poll: &Value,
    outcome: &Value,
) {
    let entries = outcome_entries(ports, prefix, forum, seq).await;
    assert_eq!(
        entries.len(),
        1,
        "exactly one entry on {prefix}:outcomes for forum {forum} seq {seq} (two nodes applied the close): {entries:#?}"
    );
    check_outcome_entry(&entries[0], forum, seq, poll, outcome);
}

/// One outcomes stream entry has every documented field, matching `outcome`.
pub fn check_outcome_entry(entry: &BTreeMap<String, String>, forum: &str, seq: u64, poll: &Value, outcome: &Value) {
    let keys: Vec<&str> = entry.keys().map(String::as_str).collect();
    assert_eq!(keys, ["closed_at_ms", "forum", "outcome", "poll", "record", "seq", "title"], "fields of {entry:?}");
    assert_eq!(entry["forum"], forum);
    assert_eq!(entry["record"], format!("/api/forums/{forum}/record"));
    assert_eq!(entry["seq"], seq.to_string());
    assert_eq!(entry["poll"], poll.to_string());
    assert_eq!(entry["title"], outcome["title"].as_str().unwrap());
    assert_eq!(entry["closed_at_ms"], outcome["closed_at_ms"].to_string());
    let published: Value = serde_json::from_str(&entry["outcome"]).expect("outcome is JSON");
    assert_eq!(&published, outcome, "the published outcome equals the one in the poll update");
    let fingerprint = published["record"]["fingerprint"].as_str().expect("the outcome carries the record's stamp");
    assert_eq!((fingerprint.len(), published["record"]["head"].as_str().map(str::len)), (14, Some(64)));
}

/// Two nodes on `redis` (whose servers listen on `ports`): the forum is
/// created on A, the moderator is on A, displays on A and B; `PEOPLE`
/// participants split over A and B and over the remote and hall codes vote
/// concurrently (each replaces a first ballot once); both displays see the
/// same final tally and the same outcome; the outcome is published once.
pub async fn two_nodes_vote(redis: RedisConfig, ports: &[u16]) {
    const PEOPLE: usize = 40;
    let prefix = redis.prefix.clone();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start_redis_with(dir_a.path(), redis.clone(), test_hub(), fast_limits()).await;
    let b = TestServer::start_redis_with(dir_b.path(), redis.clone(), test_hub(), fast_limits()).await;
    let (mut moderator, created, poll) = forum_with_open_poll(&a, &LABELS, 2).await;
    let forum = created.id.clone();

    // B has never seen this forum; it finds it in Redis (see the test
    // `a_forum_created_on_one_node_is_served_at_once_by_another` for doing so at once).
    wait_forum_known(&b, &forum).await;
    let (mut display_a, _) = a.connect(json!({"type": "auth", "token": created.display_token})).await;
    let (mut display_b, welcome_b) = b.connect(json!({"type": "auth", "token": created.display_token})).await;
    assert_eq!(welcome_b["forum_id"], json!(forum));
    assert_eq!(welcome_b["snapshot"]["polls"][0]["status"], "open", "{welcome_b}");

    // Participants: even on A, odd on B; i % 4 < 2 remote, else hall.
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let node = if i % 2 == 0 { &a } else { &b };
        let (code, channel) =
            if i % 4 < 2 { (&created.join_codes.remote, "remote") } else { (&created.join_codes.hall, "hall") };
        let (client, welcome) = node.connect(json!({"type": "auth", "join_code": code, "name": format!("p{i}")})).await;
        assert_eq!(welcome["participant"]["channel"], channel, "{welcome}");
        people.push(client);
    }

    // A ballot cast on A shows in the tally on the display connected to B.
    let first = final_options(0);
    people[0].ok(approval(&poll, &first)).await;
    let one = wait_tally(&mut display_b, &poll, 1, &approval_counts([&first], LABELS.len())).await;
    assert_eq!(one["poll"], poll);

    // Everyone else votes at once; each first casts another ballot, then replaces it.
    let mut voters = Vec::new();
    for (i, mut client) in people.into_iter().enumerate().skip(1) {
        let poll = poll.clone();
        voters.push(tokio::spawn(async move {
            client.ok(approval(&poll, &[((i + 1) % 4 + 1) as u64])).await;
            client.ok(approval(&poll, &final_options(i))).await;
            client
        }));
    }
    let mut people = vec![];
    for voter in voters {
        people.push(tokio::time::timeout(WAIT * 3, voter).await.expect("voters finish").expect("voter"));
    }
    let ballots: Vec<Vec<u64>> = (0..PEOPLE).map(final_options).collect();
    let expected = approval_counts(&ballots, LABELS.len());
    let tally_a = wait_tally(&mut display_a, &poll, PEOPLE, &expected).await;
    let tally_b = wait_tally(&mut display_b, &poll, PEOPLE, &expected).await;
    assert_eq!(tally_a, tally_b, "both displays show the same final tally");

    // Close on A: both displays get the same poll update with the same outcome.
    let close = moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let seq = close["seq"].as_u64().unwrap();
    let closed = |f: &Value| f["type"] == "event" && f["seq"] == json!(seq);
    let on_a = display_a.expect("the close on A", closed).await;
    let on_b = display_b.expect("the close on B", closed).await;
    assert_eq!(on_a, on_b, "the same event frame on both nodes");
    let outcome = on_a["update"]["poll"]["outcome"].clone();
    assert_eq!(on_a["update"]["poll"]["status"], "closed");
    assert_eq!(outcome["tally"]["ballots"], PEOPLE as u64, "{outcome}");
    assert_eq!(counts_of(&outcome["tally"]), expected, "{outcome}");
    assert_eq!(outcome["tally"], tally_a, "the outcome is the final tally");

    // Both nodes serve the same forum.
    let view_a = a.forum_view(&forum).await;
    assert_eq!(view_a["seq"], json!(seq));
    assert_eq!(view_a["participants"], json!({"remote": PEOPLE / 2, "hall": PEOPLE / 2}));
    assert_eq!(view_a["polls"][0]["outcome"], outcome);
    wait_for_view(&b, &forum, &view_a).await;

    // The outcomes stream: one entry, although both nodes applied the close.
    assert_one_outcome_entry(ports, &prefix, &forum, seq, &poll, &outcome).await;

    // Both nodes serve the same public record, whose last line is this outcome.
    let record = |node: &TestServer| {
        let url = node.http(&format!("/api/forums/{forum}/record"));
        async move { reqwest::get(url).await.expect("GET record").bytes().await.expect("a body") }
    };
    let (record_a, record_b) = (record(&a).await, record(&b).await);
    assert_eq!(record_a, record_b, "the record is a function of the log, whichever node builds it");
    let last = record_a.strip_suffix(b"\n").and_then(|r| r.rsplit(|b| *b == b'\n').next()).unwrap_or_default();
    let last: Value = serde_json::from_slice(last).expect("a record line");
    assert_eq!((&last["type"], &last["outcome"]), (&json!("poll_outcome"), &outcome));

    drop((moderator, display_a, display_b, people));
    a.stop().await;
    b.stop().await;
}
