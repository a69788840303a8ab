//! What the projectors show is the moderator's call: `show_on_display`
//! through real sockets, to a connected display, a fresh one, and one that
//! connects after the server restarted.

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::TestServer;

fn is_screen(frame: &Value, seq: &Value) -> bool {
    frame["type"] == "event" && frame["update"]["kind"] == "screen" && frame["seq"] == *seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_moderator_puts_a_screen_on_every_display_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let created = server
        .create_forum(&CreateForumRequest {
            title: "Projector".into(),
            language: Some("en".into()),
            eligibility: None,
            agenda: vec![AgendaItemSpec { title: "Parks".into(), description: None, timebox_secs: None }],
        })
        .await;
    let display_auth = json!({"type": "auth", "token": created.display_token});
    let (mut m, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    let (mut display, welcome) = server.connect(display_auth.clone()).await;
    assert!(welcome["snapshot"].get("screen").is_none(), "a new forum shows auto: {welcome}");
    m.ok(json!({"type": "start_forum"})).await;
    m.ok(json!({"type": "activate_item", "item": 1})).await;
    let poll = m
        .ok(json!({"type": "create_poll", "title": "Which park?", "method": {"kind": "approval", "max_choices": 1},
                   "options": {"from": "fixed", "labels": ["River", "Hill"]}}))
        .await["poll"]
        .clone();

    // Refusals: a draft poll, an unknown poll, a result that does not exist yet, a display.
    let draft = m.command(json!({"type": "show_on_display", "screen": {"kind": "poll", "poll": poll}})).await;
    assert_eq!(draft["code"], "invalid_state", "{draft}");
    let unknown = m.command(json!({"type": "show_on_display", "screen": {"kind": "poll", "poll": 99}})).await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");
    m.ok(json!({"type": "open_poll", "poll": poll})).await;
    let early = m.command(json!({"type": "show_on_display", "screen": {"kind": "result", "poll": poll}})).await;
    assert_eq!(early["code"], "invalid_state", "{early}");
    let by_display = display.command(json!({"type": "show_on_display", "screen": {"kind": "blank"}})).await;
    assert_eq!(by_display["code"], "forbidden", "{by_display}");
    let malformed = m.command(json!({"type": "show_on_display", "screen": {"kind": "wallpaper"}})).await;
    assert_eq!(malformed["code"], "bad_request", "{malformed}");

    let shown = m.ok(json!({"type": "show_on_display", "screen": {"kind": "join"}})).await;
    let update = display.expect("join screen", |f| is_screen(f, &shown["seq"])).await;
    assert_eq!(update["update"]["screen"], json!({"kind": "join"}));

    m.ok(json!({"type": "close_poll", "poll": poll})).await;
    let shown = m.ok(json!({"type": "show_on_display", "screen": {"kind": "result", "poll": poll}})).await;
    let update = display.expect("result screen", |f| is_screen(f, &shown["seq"])).await;
    assert_eq!(update["update"]["screen"], json!({"kind": "result", "poll": poll}));

    let (_fresh, welcome) = server.connect(display_auth.clone()).await;
    assert_eq!(welcome["snapshot"]["screen"], json!({"kind": "result", "poll": poll}));
    let view = server.forum_view(&created.id).await;
    assert_eq!(view["screen"], json!({"kind": "result", "poll": poll}));

    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let (_restarted, welcome) = server.connect(display_auth).await;
    assert_eq!(welcome["snapshot"]["screen"], json!({"kind": "result", "poll": poll}));
    server.stop().await;
}
