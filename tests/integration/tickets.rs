//! Ticketed forums over real sockets and HTTP (SPEC §3, §4, §7.3): the
//! organizer issues tickets over HTTP, each ticket admits one device once,
//! a bare join code, a made-up ticket, a used one and a revoked one are all
//! refused with a clear error, and revoking a ticket withdraws its holder's
//! ballot from an open poll and shuts their device out.

use std::time::Duration;

use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse, Eligibility};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer};

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client")
}

async fn issue(server: &TestServer, created: &CreateForumResponse, token: &str, body: Value) -> (u16, Value) {
    let url = format!("http://{}/api/forums/{}/tickets", server.addr, created.id);
    let res = http().post(url).bearer_auth(token).json(&body).send().await.expect("POST tickets");
    (res.status().as_u16(), res.json().await.expect("JSON"))
}

/// Join with `auth`; the first frame back (a welcome or an error).
async fn try_join(server: &TestServer, auth: Value) -> (Client, Value) {
    let mut client = Client::connect(&server.ws_url()).await;
    client.send(auth).await;
    let first = client.recv().await;
    (client, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticketed_forum_admits_ticket_holders_once_and_revocation_withdraws_their_ballot() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let agenda = vec![AgendaItemSpec { title: "Budget".into(), description: None, timebox_secs: None }];
    let created: CreateForumResponse = server
        .create_forum(&CreateForumRequest {
            title: "Committee".into(),
            language: Some("en".into()),
            eligibility: Some(Eligibility::Ticketed),
            agenda,
        })
        .await;

    // Only the moderator token opens the ticket API; the body is bounded.
    let (status, body) = issue(&server, &created, &created.display_token, json!({"channel": "hall", "count": 2})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    let (status, body) =
        issue(&server, &created, &created.moderator_token, json!({"channel": "hall", "count": 100_000})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid")), "{body}");
    let (status, hall) =
        issue(&server, &created, &created.moderator_token, json!({"channel": "hall", "count": 2})).await;
    assert_eq!(status, 201, "{hall}");
    let (status, remote) =
        issue(&server, &created, &created.moderator_token, json!({"channel": "remote", "count": 1})).await;
    assert_eq!(status, 201, "{remote}");
    let hall_codes: Vec<String> =
        hall["tickets"].as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap().to_string()).collect();
    assert_eq!(hall_codes.len(), 2);
    assert_eq!(remote["tickets"][0]["ticket"], 3, "numbers continue across channels: {remote}");
    let join_url = hall["tickets"][0]["join_url"].as_str().unwrap();
    assert!(join_url.ends_with(&format!("/j/{}?ticket={}", created.join_codes.hall, hall_codes[0])), "{join_url}");

    // The list, as JSON and as CSV for a mail merge.
    let list_url = format!("http://{}/api/forums/{}/tickets", server.addr, created.id);
    let res = http().get(format!("{list_url}?format=csv")).bearer_auth(&created.moderator_token).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "ticket,channel,code,status,join_url");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with(&format!("1,hall,{},unused,http://", hall_codes[0])), "{csv}");

    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;

    // A bare join code admits no one, and says why.
    let (_, refused) = try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall})).await;
    assert_eq!(
        (refused["code"].as_str(), refused["rule"].as_str()),
        (Some("invalid"), Some("ticket.required")),
        "{refused}"
    );
    // A made-up ticket is a wrong credential.
    let made_up = "ABCD-EFGH-JKMN-PQRS";
    let (_, refused) =
        try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall, "ticket": made_up})).await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");

    // A ticket admits its first device, in lower case without dashes too.
    let typed = hall_codes[0].to_lowercase().replace('-', "");
    let (mut first, welcome) =
        try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall, "ticket": typed})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["participant"]["channel"], "hall");
    let first_token = welcome["participant"]["token"].as_str().unwrap().to_string();
    // ... and no second device.
    let (_, refused) =
        try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall, "ticket": hall_codes[0]})).await;
    assert_eq!(refused["rule"], "ticket.used", "{refused}");
    let (mut second, welcome) =
        try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall, "ticket": hall_codes[1]})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    let poll = moderator
        .ok(json!({"type": "create_poll", "title": "Fund it?", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}}))
        .await["poll"]
        .clone();
    moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    first.ok(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "yes"}})).await;
    second.ok(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "no"}})).await;

    // Revoking ticket 1 withdraws its holder's ballot and shuts their device out.
    moderator.ok(json!({"type": "revoke_ticket", "ticket": 1})).await;
    let answer = first
        .command(json!({"type": "cast_ballot", "poll": poll, "ballot": {"kind": "yes_no", "choice": "yes"}}))
        .await;
    assert_eq!(
        (answer["code"].as_str(), answer["rule"].as_str()),
        (Some("invalid"), Some("ticket.revoked")),
        "{answer}"
    );
    let (_, refused) = try_join(&server, json!({"type": "auth", "token": first_token})).await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let (_, refused) =
        try_join(&server, json!({"type": "auth", "join_code": created.join_codes.hall, "ticket": hall_codes[0]})).await;
    assert_eq!(refused["rule"], "ticket.revoked", "{refused}");

    moderator.ok(json!({"type": "close_poll", "poll": poll})).await;
    let view: Value = http()
        .get(format!("http://{}/api/forums/{}", server.addr, created.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let closed = view["polls"].as_array().unwrap().iter().find(|p| p["id"] == poll).cloned().expect("the poll");
    let tally = &closed["outcome"]["tally"];
    assert_eq!(tally["ballots"], 1, "the revoked ticket's ballot was withdrawn: {tally}");
    assert_eq!(tally["result"]["no"], 1);
    assert_eq!(view["forum"]["eligibility"], "ticketed");
    assert_eq!(
        view["participants"]["tickets"],
        json!({"remote": {"issued": 1, "used": 0, "revoked": 0}, "hall": {"issued": 2, "used": 1, "revoked": 1}})
    );
}
