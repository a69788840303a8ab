//! A committee's decision over real sockets (SPEC §7.3 Follow-through and
//! `create_poll.ballots`): a named vote admits only named participants and
//! its ballots reach the public record with their names; after the forum
//! closed, the organizer records the response and an action's progress,
//! which every page sees as the poll's `follow_through` and the record
//! chains after `forum_closed`.

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_vote_is_published_with_names_and_its_follow_through_after_the_forum_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let agenda = vec![AgendaItemSpec { title: "Budget".into(), description: None, timebox_secs: None }];
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Committee".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda,
        })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let code = &created.join_codes.hall;
    let (mut park, _) = server.connect(json!({"type": "auth", "join_code": code, "name": "Councillor Park"})).await;
    let (mut kim, _) = server.connect(json!({"type": "auth", "join_code": code, "name": "Resident Kim"})).await;
    let (mut anonymous, _) = server.connect(json!({"type": "auth", "join_code": code})).await;
    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Adopt the budget?", "method": {"kind": "yes_no", "rule": "simple"},
            "options": {"from": "none"}, "ballots": "named"}))
        .await["poll"]
        .clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    park.ok(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "yes"}})).await;
    kim.ok(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "no"}})).await;
    let refused = anonymous
        .command(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "yes"}}))
        .await;
    assert_eq!((refused["code"].as_str(), refused["rule"].as_str()), (Some("invalid"), Some("named.requires_name")));
    moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let early = moderator.command(json!({"type": "add_item", "title": "Late"})).await;
    assert_eq!(early["type"], "ack");
    moderator.ok(json!({"type": "close_forum"})).await;

    // After the close: the follow-through, and nothing else.
    moderator
        .ok(json!({"type": "record_response", "poll": poll, "body": "Finance Office", "response": "adopted",
            "reasons": "Adopted as voted."}))
        .await;
    moderator
        .ok(json!({"type": "plan_action", "poll": poll, "title": "Publish the budget", "target_date": "2027-01-31"}))
        .await;
    moderator.ok(json!({"type": "update_action", "action": 1, "status": "done", "note": "Published."})).await;
    let refused = moderator.command(json!({"type": "add_item", "title": "Too late"})).await;
    assert_eq!(refused["code"], "invalid_state", "{refused}");

    let view: Value =
        reqwest::get(server.http(&format!("/api/forums/{}", created.id))).await.unwrap().json().await.unwrap();
    let polls = view["polls"].as_array().unwrap();
    let decided = polls.iter().find(|p| p["id"] == poll).expect("the poll");
    assert_eq!(decided["ballots"], "named");
    let ft = &decided["follow_through"];
    assert_eq!(ft["responses"][0]["response"], "adopted");
    assert_eq!(ft["actions"][0]["status"], "done");
    assert_eq!(ft["actions"][0]["updates"][0]["note"], "Published.");

    let record =
        reqwest::get(server.http(&format!("/api/forums/{}/record", created.id))).await.unwrap().text().await.unwrap();
    let lines: Vec<Value> = record.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    let closed_at = types.iter().position(|t| *t == "forum_closed").expect("forum_closed");
    assert_eq!(&types[closed_at + 1..], ["response_recorded", "action_planned", "action_updated"]);
    let ballots = lines.iter().find(|l| l["type"] == "poll_ballots").expect("ballots")["ballots"].clone();
    let mut named: Vec<(String, String)> = ballots
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["ballot"]["choice"].as_str().unwrap().to_string()))
        .collect();
    named.sort();
    assert_eq!(named, [("Councillor Park".into(), "yes".into()), ("Resident Kim".into(), "no".into())]);

    // The forum's feed announces each step, latest first, after the decision itself.
    let feed = reqwest::get(server.http(&format!("/api/forums/{}/outcomes.atom", created.id)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |needle: &str| feed.find(needle).unwrap_or_else(|| panic!("the feed lacks {needle:?}:\n{feed}"));
    let (done, planned, response, outcome) = (
        at("Publish the budget: done. Published."),
        at("action planned: Publish the budget"),
        at("Adopted (Finance Office): Adopted as voted."),
        at("<title>Committee: Adopt the budget?</title>"),
    );
    assert!(done < planned && planned < response && response < outcome, "latest first:\n{feed}");
}
