//! Idea support over real sockets: a crowd supporting ideas sends a display
//! the latest counts at the tally cadence, never one frame per support; the
//! final counts are right per channel, and a participant who reconnects is
//! told which ideas they support (SPEC §7.3, §8).

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use madang::hub::HubConfig;
use madang::listener::HttpLimits;
use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use serde_json::{Value, json};

use crate::harness::{Client, TestServer, fast_limits, test_hub};

/// Whole states that may go out at once after a quiet spell, plus rounding.
const SLACK: usize = 4;

/// Each idea's (remote, hall) support counts, as a listener last heard them.
type Counts = BTreeMap<u64, (u64, u64)>;

/// Read frames until `supports` frames have brought `latest` to `expected`;
/// returns how many `supports` frames came.
async fn supports_until(client: &mut Client, latest: &mut Counts, expected: &Counts) -> usize {
    let mut frames = 0;
    while latest != expected {
        // Frames an earlier command's answer waited past are in the backlog: read it first.
        let frame = client.recv().await;
        if frame["type"] != "supports" {
            continue;
        }
        frames += 1;
        for support in frame["ideas"].as_array().expect("ideas") {
            let counts = (support["remote"].as_u64().unwrap(), support["hall"].as_u64().unwrap());
            latest.insert(support["idea"].as_u64().unwrap(), counts);
        }
    }
    frames
}

/// 100 participants (60 remote, 40 in the hall) each support 3 ideas: 300
/// supports reach a display as at most one `supports` frame per tick, and
/// the display, a participant and the public view end with the right counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_supports_reach_a_display_at_the_tally_cadence() {
    const TICK: Duration = Duration::from_millis(100);
    let dir = tempfile::tempdir().unwrap();
    let addresses =
        madang::abuse::AddressLimits { joins_per_minute: 1_000_000, join_burst: 1_000_000, ..Default::default() };
    let hub = HubConfig { tally_interval: TICK, addresses, ..test_hub() };
    let http = HttpLimits { max_connections_per_ip: 10_000, ..HttpLimits::default() };
    let server = TestServer::start_configured(dir.path(), hub, fast_limits(), http).await;
    let agenda = vec![AgendaItemSpec { title: "Parks".into(), description: None, timebox_secs: None }];
    let created = server
        .create_forum(&CreateForumRequest { title: "Support".into(), language: None, eligibility: None, agenda })
        .await;
    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    for text in ["More trees", "A playground", "Benches"] {
        moderator.ok(json!({"type": "submit_idea", "text": text})).await;
    }
    let url = server.ws_url();
    let people: Vec<(Client, Value)> = futures_util::stream::iter(0..100)
        .map(|i| {
            let code = if i < 60 { &created.join_codes.remote } else { &created.join_codes.hall };
            Client::join(&url, json!({"type": "auth", "join_code": code}))
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let (mut display, _) = server.connect(json!({"type": "auth", "token": created.display_token})).await;

    let started = tokio::time::Instant::now();
    let supporting: Vec<_> = people
        .into_iter()
        .map(|(mut person, welcome)| {
            tokio::spawn(async move {
                for idea in 1..=3 {
                    person.ok(json!({"type": "support_idea", "idea": idea})).await;
                }
                (person, welcome)
            })
        })
        .collect();
    let mut people = Vec::new();
    for person in supporting {
        people.push(person.await.unwrap());
    }
    let expected: Counts = (1..=3).map(|idea| (idea, (60, 40))).collect();
    let mut on_display = Counts::new();
    let frames = supports_until(&mut display, &mut on_display, &expected).await;
    let elapsed = started.elapsed();
    let bound = (elapsed.as_secs_f64() / TICK.as_secs_f64()).ceil() as usize + SLACK;
    assert!(frames <= bound, "{frames} supports frames in {elapsed:?} for 300 supports: at most {bound}, one per tick");
    eprintln!("300 supports: the display got {frames} supports frames in {elapsed:?}");

    // A participant hears the same counts, and the public view carries them.
    let (mut first, welcome) = people.remove(0);
    let participant = welcome["participant"].clone();
    supports_until(&mut first, &mut Counts::new(), &expected).await;
    let view = server.forum_view(&created.id).await;
    for idea in view["ideas"].as_array().unwrap() {
        assert_eq!(idea["supports"], json!({"remote": 60, "hall": 40}), "idea {}", idea["id"]);
    }

    // Supporting twice is refused; a withdrawal is counted; a reconnect says what one supports.
    let again = first.command(json!({"type": "support_idea", "idea": 1})).await;
    assert_eq!(again["code"], "invalid_state", "{again}");
    first.ok(json!({"type": "withdraw_support", "idea": 2})).await;
    let mut after = expected.clone();
    let channel_counts = if participant["channel"] == "hall" { (60, 39) } else { (59, 40) };
    after.insert(2, channel_counts);
    supports_until(&mut display, &mut on_display, &after).await;
    drop(first);
    let (_again, welcome) = server.connect(json!({"type": "auth", "token": participant["token"]})).await;
    assert_eq!(welcome["participant"]["supported"], json!([1, 3]));
    assert_eq!(
        welcome["snapshot"]["ideas"][1]["supports"],
        json!({"remote": channel_counts.0, "hall": channel_counts.1})
    );
    server.stop().await;
}
