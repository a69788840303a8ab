//! Atom feeds of outcomes (SPEC §3): per forum and for the whole server,
//! parsed with a real XML parser. Valid Atom 1.0 as RFC 4287 asks: the
//! namespace, `id`s as `urn:uuid:` URIs, `updated` in RFC 3339, a `self` and
//! an `alternate` link, an author; one entry per closed poll, latest first,
//! linking to the record page and naming the outcome's record fingerprint;
//! text people typed is escaped; and the feeds count in the API rate.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use madang_protocol::{AgendaItemSpec, CreateForumRequest};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::json;

use crate::harness::TestServer;

/// A parsed element: its name, attributes, text and children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn all(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    fn one(&self, name: &str) -> &Element {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "exactly one <{name}> in <{}>", self.name);
        found[0]
    }
}

fn parse(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    let open = |e: &quick_xml::events::BytesStart<'_>| Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().expect("escaped").into_owned())
            })
            .collect(),
        ..Element::default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let element = open(&e);
                stack.last_mut().unwrap().children.push(element);
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.decode().expect("text")),
            Event::GeneralRef(r) => {
                let name = String::from_utf8(r.to_vec()).unwrap();
                let ch = match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity &{other};"),
                };
                stack.last_mut().unwrap().text.push_str(ch);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element closed");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

fn rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    text.len() == 24
        && text.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
}

/// The checks RFC 4287 asks of a feed; returns its entries.
fn valid_feed(feed: &Element) -> Vec<&Element> {
    assert_eq!(feed.name, "feed");
    assert_eq!(feed.attrs.get("xmlns").map(String::as_str), Some("http://www.w3.org/2005/Atom"));
    assert!(feed.one("id").text.starts_with("urn:uuid:"), "{}", feed.one("id").text);
    assert!(!feed.one("title").text.is_empty());
    assert!(rfc3339(&feed.one("updated").text), "{}", feed.one("updated").text);
    assert!(!feed.one("author").one("name").text.is_empty());
    let rels: Vec<&str> = feed.all("link").iter().map(|l| l.attrs["rel"].as_str()).collect();
    assert!(rels.contains(&"self") && rels.contains(&"alternate"), "{rels:?}");
    let entries = feed.all("entry");
    for entry in &entries {
        assert!(entry.one("id").text.starts_with("urn:uuid:"));
        assert!(!entry.one("title").text.is_empty());
        assert!(rfc3339(&entry.one("updated").text));
        assert_eq!(entry.one("link").attrs["rel"], "alternate");
        assert!(!entry.one("summary").text.is_empty());
    }
    if let Some(first) = entries.first() {
        assert_eq!(feed.one("updated").text, first.one("updated").text, "the feed is as new as its newest entry");
    }
    entries
}

async fn get(url: &str) -> (u16, String, String) {
    let res = reqwest::get(url).await.expect("GET");
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, kind, res.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_feeds_are_atom_per_forum_and_for_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let request = |title: &str| CreateForumRequest {
        title: title.into(),
        language: Some("en".into()),
        eligibility: None,
        agenda: vec![AgendaItemSpec { title: "The park".into(), description: None, timebox_secs: None }],
    };
    let created = server.create_forum(&request("Park <&> \"river\" forum")).await;
    let other = server.create_forum(&request("Library")).await;

    // Before any poll closed: a valid feed with no entries.
    let (status, kind, body) = get(&server.http(&format!("/api/forums/{}/outcomes.atom", created.id))).await;
    assert_eq!((status, kind.as_str()), (200, "application/atom+xml; charset=utf-8"));
    assert!(valid_feed(&parse(&body)).is_empty());

    let (mut moderator, _) = server.connect(json!({"type": "auth", "token": created.moderator_token})).await;
    moderator.ok(json!({"type": "start_forum"})).await;
    moderator.ok(json!({"type": "activate_item", "item": 1})).await;
    let (mut person, _) =
        server.connect(json!({"type": "auth", "join_code": created.join_codes.hall, "name": "Kim"})).await;
    let labels = json!({"from": "fixed", "labels": ["Trees </summary>", "Benches & lights"]});
    let polls = [
        json!({"type": "create_poll", "title": "Close the <road>?", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}}),
        json!({"type": "create_poll", "title": "What first?", "method": {"kind": "approval", "max_choices": 2}, "options": labels}),
        json!({"type": "create_poll", "title": "Still open", "method": {"kind": "approval", "max_choices": 2}, "options": labels}),
    ];
    for poll in polls {
        moderator.ok(poll).await;
    }
    for poll in 1..=3 {
        moderator.ok(json!({"type": "open_poll", "poll": poll})).await;
    }
    person.ok(json!({"type": "cast_ballot", "poll": 1, "ballot": {"kind": "yes_no", "choice": "yes"}})).await;
    person.ok(json!({"type": "cast_ballot", "poll": 2, "ballot": {"kind": "approval", "options": [2]}})).await;
    moderator.ok(json!({"type": "close_poll", "poll": 1})).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    moderator.ok(json!({"type": "close_poll", "poll": 2})).await;
    let view = server.forum_view(&created.id).await;

    let (status, _, body) = get(&server.http(&format!("/api/forums/{}/outcomes.atom", created.id))).await;
    assert_eq!(status, 200);
    let feed = parse(&body);
    assert_eq!(feed.one("title").text, "Park <&> \"river\" forum", "text people typed is escaped, not markup");
    assert_eq!(feed.attrs.get("xml:lang").map(String::as_str), Some("en"));
    let entries = valid_feed(&feed);
    assert_eq!(entries.len(), 2, "one entry per closed poll; an open poll is not an outcome");
    // Latest first.
    assert_eq!(entries[0].one("title").text, "Park <&> \"river\" forum: What first?");
    assert_eq!(entries[1].one("title").text, "Park <&> \"river\" forum: Close the <road>?");
    for (entry, poll) in entries.iter().zip([2, 1]) {
        let href = &entry.one("link").attrs["href"];
        assert_eq!(href, &server.http(&format!("/forums/{}/record#poll-{poll}", created.id)));
        let shown = view["polls"].as_array().unwrap().iter().find(|p| p["id"] == poll).unwrap();
        let fingerprint = shown["outcome"]["record"]["fingerprint"].as_str().unwrap();
        assert!(entry.one("summary").text.contains(fingerprint), "{}", entry.one("summary").text);
    }
    assert!(
        entries[0].one("summary").text.starts_with("Chosen: Benches & lights."),
        "{}",
        entries[0].one("summary").text
    );
    assert!(entries[1].one("summary").text.starts_with("Carried (simple majority): yes 1, no 0, abstain 0."));
    let ids: Vec<&str> = entries.iter().map(|e| e.one("id").text.as_str()).collect();
    assert_ne!(ids[0], ids[1]);
    // Ids do not change when read again.
    let again = parse(&get(&server.http(&format!("/api/forums/{}/outcomes.atom", created.id))).await.2);
    assert_eq!(again.all("entry").iter().map(|e| e.one("id").text.clone()).collect::<Vec<_>>(), ids);

    // The server's feed: every forum's outcomes, each entry in its forum's language.
    let (status, kind, body) = get(&server.http("/api/outcomes.atom")).await;
    assert_eq!((status, kind.as_str()), (200, "application/atom+xml; charset=utf-8"));
    let all = parse(&body);
    let entries = valid_feed(&all);
    assert_eq!(entries.len(), 2, "the library has decided nothing yet");
    assert_eq!(entries.iter().map(|e| e.one("id").text.as_str()).collect::<Vec<_>>(), ids);
    assert!(entries.iter().all(|e| e.attrs.get("xml:lang").map(String::as_str) == Some("en")));

    // Unknown forum: 404 as JSON, like the rest of the API.
    let (status, _, body) = get(&server.http("/api/forums/nosuchforum/outcomes.atom")).await;
    assert_eq!(status, 404, "{body}");
    let _ = other;

    // Counted in the API rate per address.
    let flooder = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 11]))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut limited = 0;
    for _ in 0..150 {
        let res = flooder.get(format!("http://{}/api/outcomes.atom", server.addr)).send().await.expect("GET");
        if res.status().as_u16() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "the feed is rate-limited like the API");
}
