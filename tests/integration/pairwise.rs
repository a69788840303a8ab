//! A pairwise poll end to end with real WebSocket clients: participants are
//! given pairs that cover every pair evenly, answer them, the display sees
//! the Bradley–Terry tally, and the outcome follows the designed preference.

use std::collections::BTreeMap;

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

fn ids(tiers: &Value) -> Vec<Vec<u64>> {
    tiers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect())
        .collect()
}

fn pair_of(ack: &Value) -> (u64, u64) {
    let pair = ack["pair"].as_array().unwrap_or_else(|| panic!("no pair in {ack}"));
    (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_cover_evenly_and_the_outcome_follows_the_preference() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Park ideas".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![AgendaItemSpec { title: "Ideas".into(), description: None, timebox_secs: None }],
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    for text in ["Benches", "Trees", "Lights", "Fountain", "Toilets"] {
        moderator.ok(json!({"type": "submit_idea", "text": text})).await;
    }
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Which matters more?", "method": {"kind": "pairwise"}, "options": {"from": "ideas"}}))
        .await["poll"]
        .as_u64()
        .unwrap();
    let (mut display, welcome) = server.connect(json!({"type": "auth", "token": created.display_token})).await;
    let view = &welcome["snapshot"]["polls"][0];
    assert_eq!(view["method"], json!({"kind": "pairwise"}));
    assert_eq!(view["options"].as_array().unwrap().len(), 5);

    // A pair is refused before the poll opens.
    let (mut first, _) = server.connect(json!({"type": "auth", "join_code": created.join_codes.remote})).await;
    let early = first.command(json!({"type": "next_pair", "poll": poll})).await;
    assert_eq!(early["code"], "invalid_state", "{early}");
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;

    let mut people: Vec<Client> = vec![first];
    for code in [&created.join_codes.remote, &created.join_codes.remote, &created.join_codes.hall] {
        people.push(server.connect(json!({"type": "auth", "join_code": code})).await.0);
    }

    // Five rounds: each person asks for a pair and prefers the lower id.
    // Ten pairs, four people: after every round the counts per pair differ by at most 1.
    let mut answered: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    for round in 0..5u32 {
        for (n, person) in people.iter_mut().enumerate() {
            let id = format!("pair-{round}-{n}");
            let ack = person.command_with_id(&id, json!({"type": "next_pair", "poll": poll})).await;
            assert_eq!(ack["type"], "ack", "{ack}");
            assert_eq!(ack["pairs_left"], 10 - round, "{ack}");
            let (a, b) = pair_of(&ack);
            assert_ne!(a, b);
            // A resend of the same request is answered with the same pair.
            let again = person.command_with_id(&id, json!({"type": "next_pair", "poll": poll})).await;
            assert_eq!((again["duplicate"].as_bool(), pair_of(&again)), (Some(true), (a, b)));
            let (winner, loser) = (a.min(b), a.max(b));
            person.ok(json!({"type": "cast_comparison", "poll": poll, "winner": winner, "loser": loser})).await;
            *answered.entry((winner, loser)).or_default() += 1;
        }
        let min = if answered.len() < 10 { 0 } else { *answered.values().min().unwrap() };
        let max = *answered.values().max().unwrap();
        assert!(max - min <= 1, "after round {round}: {answered:?}");
    }
    assert_eq!(answered.len(), 10);
    assert!(answered.values().all(|&n| n == 2), "{answered:?}");

    // The display sees the live tally.
    let tally = display
        .expect("tally of 20 comparisons", |f| f["type"] == "tally" && f["tally"]["result"]["comparisons"] == 20)
        .await;
    let result = &tally["tally"]["result"];
    assert_eq!(result["method"], "pairwise");
    assert_eq!(tally["tally"]["ballots"], 4);
    assert_eq!(ids(&result["ranking"]), vec![vec![1], vec![2], vec![3], vec![4], vec![5]]);
    let stats = result["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 5);
    assert_eq!((stats[0]["wins"].as_u64(), stats[0]["losses"].as_u64()), (Some(8), Some(0)));
    assert_eq!((stats[4]["wins"].as_u64(), stats[4]["losses"].as_u64()), (Some(0), Some(8)));
    assert!(stats.iter().all(|s| s["std_error"].as_f64().unwrap() > 0.0));
    assert_eq!(result["wins"][0], json!([0, 2, 2, 2, 2]));
    let by_channel = &tally["tally"]["by_channel"];
    assert_eq!((by_channel["remote"]["ballots"].as_u64(), by_channel["hall"]["ballots"].as_u64()), (Some(3), Some(1)));
    assert_eq!(by_channel["hall"]["result"]["comparisons"], 5);

    // Bad input.
    let alice = &mut people[0];
    let same = alice.command(json!({"type": "cast_comparison", "poll": poll, "winner": 2, "loser": 2})).await;
    assert_eq!((same["code"].as_str(), same["rule"].as_str()), (Some("ballot_invalid"), Some("pairwise.same_option")));
    let unknown = alice.command(json!({"type": "cast_comparison", "poll": poll, "winner": 1, "loser": 99})).await;
    assert_eq!((unknown["code"].as_str(), unknown["rule"].as_str()), (Some("ballot_invalid"), Some("option.unknown")));
    moderator.ok(json!({"type": "merge_idea", "idea": 5, "into": 4})).await;
    let merged = alice.command(json!({"type": "cast_comparison", "poll": poll, "winner": 1, "loser": 5})).await;
    assert_eq!((merged["code"].as_str(), merged["rule"].as_str()), (Some("ballot_invalid"), Some("pairwise.merged")));
    let by_moderator =
        moderator.command(json!({"type": "cast_comparison", "poll": poll, "winner": 1, "loser": 2})).await;
    assert_eq!(by_moderator["code"], "forbidden");
    let ballot = alice
        .command(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "ranked", "ranking": [1, 2]}}))
        .await;
    assert_eq!(ballot["rule"], "ballot.kind");
    let hall = moderator
        .command(json!({"type": "enter_hall_count", "poll": poll, "counts": {"kind": "ranked", "ballots": []}}))
        .await;
    assert_eq!(hall["code"], "invalid_state");
    // A "can't decide" answer counts as answered, not as a win.
    alice.ok(json!({"type": "cast_comparison", "poll": poll, "winner": 3, "loser": 4, "skip": true})).await;

    // Close: the outcome keeps the designed order over the four options left
    // (5 was merged into 4; its answers against 4 no longer count).
    moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let closed = display
        .expect("closed poll", |f| f["update"]["kind"] == "poll" && f["update"]["poll"]["status"] == "closed")
        .await;
    let outcome = &closed["update"]["poll"]["outcome"];
    assert_eq!(outcome["method"], json!({"kind": "pairwise"}));
    let result = &outcome["tally"]["result"];
    assert_eq!(ids(&result["ranking"]), vec![vec![1], vec![2], vec![3], vec![4]]);
    assert_eq!(result["skipped"], 1);
    let late = people[1].command(json!({"type": "cast_comparison", "poll": poll, "winner": 1, "loser": 2})).await;
    assert_eq!(late["code"], "invalid_state");
    let late = people[1].command(json!({"type": "next_pair", "poll": poll})).await;
    assert_eq!(late["code"], "invalid_state");

    // The same comparisons give the same outcome after a restart, byte for byte.
    let before = server.forum_view(&created.id).await;
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let after = server.forum_view(&created.id).await;
    assert_eq!(before["polls"][0]["outcome"].to_string(), after["polls"][0]["outcome"].to_string());
    server.stop().await;
}
