use super::*;
use madang_protocol::{ItemId, OptionId, Outcome, PollId, PollMethod, ScoreStat, Tally, TallyResult};

fn item(n: u32, title: &str) -> Event {
    Event::ItemAdded { item: ItemId(n), title: title.into(), description: None, timebox_secs: None }
}

fn moderator(id: &str) -> Option<RequestKey> {
    Some(RequestKey { actor: "moderator".into(), id: id.into() })
}

/// Three chained entries in this build's format.
fn chain() -> Vec<Entry> {
    let a = Entry::new(1, 10, GENESIS_HASH, None, Event::ForumStarted {}).unwrap();
    let b = Entry::new(2, 11, &a.hash, moderator("r1"), item(1, "Parks")).unwrap();
    let c = Entry::new(3, 12, &b.hash, moderator("r2"), Event::ForumClosed {}).unwrap();
    vec![a, b, c]
}

/// Decode `payloads` as a whole log, from the genesis hash.
fn verify(payloads: &[Bytes]) -> Result<Vec<Entry>, JournalError> {
    let mut prev = GENESIS_HASH.to_string();
    let mut entries = Vec::new();
    for (n, payload) in payloads.iter().enumerate() {
        let entry = Entry::decode(n as u64 + 1, payload, &prev)?;
        prev = entry.hash.clone();
        entries.push(entry);
    }
    Ok(entries)
}

fn edit(payload: &Bytes, from: &str, to: &str) -> Bytes {
    let text = std::str::from_utf8(payload).unwrap();
    assert!(text.contains(from), "{from} in {text}");
    Bytes::from(text.replacen(from, to, 1))
}

fn json(payload: &Bytes) -> serde_json::Value {
    serde_json::from_slice(payload).unwrap()
}

#[test]
fn an_entry_is_stored_without_a_hash_and_hashed_as_stored() {
    let entries = chain();
    for entry in &entries {
        let stored = json(&entry.raw);
        assert!(stored.get("hash").is_none(), "{stored}");
        assert_eq!(entry.hash, hex::encode(Sha256::digest(&entry.raw)));
        assert_eq!(entry.record(), Record { seq: entry.seq, payload: entry.raw.clone() });
    }
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(
        std::str::from_utf8(&entries[1].raw).unwrap(),
        format!(
            r#"{{"seq":2,"at_ms":11,"prev":"{}","request":{{"actor":"moderator","id":"r1"}},"event":{{"type":"item_added","item":1,"title":"Parks"}}}}"#,
            entries[0].hash
        )
    );
    let payloads: Vec<Bytes> = entries.iter().map(|e| e.raw.clone()).collect();
    assert_eq!(verify(&payloads).unwrap(), entries);
}

#[test]
fn tampering_breaks_the_chain() {
    let payloads: Vec<Bytes> = chain().iter().map(|e| e.raw.clone()).collect();
    let with = |n: usize, payload: Bytes| {
        let mut changed = payloads.clone();
        changed[n] = payload;
        verify(&changed)
    };
    // One byte of an event: that entry's hash changes, so the next one no longer follows it.
    let one_byte = with(1, edit(&payloads[1], "Parks", "Parts"));
    assert!(matches!(one_byte, Err(JournalError::BrokenChain { seq: 3 })), "{one_byte:?}");
    // An entry claiming another predecessor.
    let prev = json(&payloads[1])["prev"].as_str().unwrap().to_string();
    let relinked = with(1, edit(&payloads[1], &prev, GENESIS_HASH));
    assert!(matches!(relinked, Err(JournalError::BrokenChain { seq: 2 })), "{relinked:?}");
    // Two entries swapped.
    let swapped = verify(&[payloads[0].clone(), payloads[2].clone(), payloads[1].clone()]);
    assert!(matches!(swapped, Err(JournalError::Misnumbered { seq: 2, found: 3 })), "{swapped:?}");
    // A changed seq.
    let renumbered = with(1, edit(&payloads[1], r#""seq":2"#, r#""seq":4"#));
    assert!(matches!(renumbered, Err(JournalError::Misnumbered { seq: 2, found: 4 })), "{renumbered:?}");
    // An entry dropped.
    let dropped = verify(&[payloads[0].clone(), payloads[2].clone()]);
    assert!(matches!(dropped, Err(JournalError::Misnumbered { seq: 2, found: 3 })), "{dropped:?}");
    // The last entry changed: the hash it yields is no longer the head's.
    let head = &chain()[2];
    let last = Entry::decode(3, &edit(&payloads[2], "forum_closed", "forum_started"), &head.prev).unwrap();
    assert_ne!(last.hash, head.hash);
}

#[test]
fn fields_this_build_does_not_know_are_ignored_and_kept() {
    let a = Entry::new(1, 10, GENESIS_HASH, None, Event::ForumStarted {}).unwrap();
    let outcome = |extra: &str| {
        format!(
            r#"{{"poll":1,"title":"t","method":{{"kind":"score"}},"closed_at_ms":1,"quorum":{extra},"tally":{{"poll":1,"ballots":1,"weights":[1],"result":{{"method":"score","stats":[],"ranking":[],"spread":0.5}},"no_votes":false}}}}"#
        )
    };
    let newer = [
        // A field at the top level.
        format!(r#"{{"seq":2,"at_ms":11,"prev":"{}","node":"hub-7","event":{{"type":"forum_closed"}}}}"#, a.hash),
        // A field inside the event.
        format!(
            r#"{{"seq":2,"at_ms":11,"prev":"{}","event":{{"type":"item_added","item":1,"title":"Parks","colour":"teal"}}}}"#,
            a.hash
        ),
        // Fields inside the protocol's value types: a ballot, an outcome, its tally and result.
        format!(
            r#"{{"seq":2,"at_ms":11,"prev":"{}","event":{{"type":"ballot_cast","poll":1,"participant":1,"ballot":{{"kind":"score","scores":[{{"option":1,"score":3,"why":"x"}}],"weight":2}}}}}}"#,
            a.hash
        ),
        format!(
            r#"{{"seq":2,"at_ms":11,"prev":"{}","event":{{"type":"poll_closed","poll":1,"outcome":{}}}}}"#,
            a.hash,
            outcome("true")
        ),
    ];
    for text in newer {
        let payload = Bytes::from(text);
        let entry = Entry::decode(2, &payload, &a.hash).unwrap_or_else(|e| panic!("{e}: {payload:?}"));
        assert_eq!(entry.raw, payload, "the entry keeps its bytes, unknown fields included");
        assert_eq!(entry.hash, hex::encode(Sha256::digest(&payload)));
        // The next entry chains to it as stored.
        let next = Entry::new(3, 12, &entry.hash, None, Event::ForumClosed {}).unwrap();
        assert_eq!(verify(&[a.raw.clone(), payload, next.raw]).unwrap().len(), 3);
    }
}

#[test]
fn an_event_type_this_build_does_not_know_is_its_own_error() {
    let a = Entry::new(1, 10, GENESIS_HASH, None, Event::ForumStarted {}).unwrap();
    let payload = Bytes::from(format!(
        r#"{{"seq":2,"at_ms":11,"prev":"{}","event":{{"type":"quorum_checked","present":40}}}}"#,
        a.hash
    ));
    let err = Entry::decode(2, &payload, &a.hash).unwrap_err();
    assert!(matches!(&err, JournalError::UnknownEvent { seq: 2, kind } if kind == "quorum_checked"), "{err:?}");
    assert!(err.to_string().contains("upgrade this node"), "{err}");
    // A known type with a field of the wrong kind is damage, not news.
    let damaged = edit(&payload, r#""type":"quorum_checked","present":40"#, r#""type":"item_added","item":"one""#);
    assert!(matches!(Entry::decode(2, &damaged, &a.hash), Err(JournalError::Decode { seq: 2, .. })));
    let untyped = edit(&payload, r#""type":"quorum_checked","#, "");
    assert!(matches!(Entry::decode(2, &untyped, &a.hash), Err(JournalError::Decode { seq: 2, .. })));
    assert!(is_known_event_type("forum_started") && is_known_event_type("item_added"));
    assert!(is_known_event_type("poll_closed") && !is_known_event_type("quorum_checked"));
}

/// The fixture written by the previous build (tests/fixtures/README.md).
fn legacy_log() -> Vec<Bytes> {
    include_str!("../../../tests/fixtures/legacy-forum.jsonl").lines().map(|l| Bytes::from(l.to_string())).collect()
}

#[test]
fn a_log_in_the_previous_format_verifies_and_goes_on_in_this_one() {
    let legacy = legacy_log();
    let entries = verify(&legacy).unwrap();
    assert_eq!(entries.len(), 20);
    for (entry, payload) in entries.iter().zip(&legacy) {
        assert_eq!(json(payload)["hash"], entry.hash.as_str(), "a legacy entry chains by its own hash");
        assert_eq!(&entry.raw, payload);
    }
    assert!(matches!(entries[18].event, Event::PollClosed { .. }));
    // Its own hash still guards a legacy entry, the last one too.
    let tampered = edit(&legacy[19], r#""item":1"#, r#""item":2"#);
    assert!(matches!(Entry::decode(20, &tampered, &entries[18].hash), Err(JournalError::BrokenChain { seq: 20 })));
    // New entries follow the last legacy one.
    let next = Entry::new(21, 1, &entries[19].hash, moderator("x1"), item(3, "After")).unwrap();
    let after = Entry::new(22, 2, &next.hash, None, Event::ForumClosed {}).unwrap();
    let mixed: Vec<Bytes> = legacy.iter().cloned().chain([next.raw.clone(), after.raw.clone()]).collect();
    assert_eq!(verify(&mixed).unwrap()[20..], [next, after]);
}

#[test]
fn entries_in_the_previous_format_round_trip() {
    let a = Entry::in_previous_format(1, 10, GENESIS_HASH, None, Event::ForumStarted {}).unwrap();
    let b = Entry::in_previous_format(2, 11, &a.hash, moderator("r1"), item(1, "Parks")).unwrap();
    let c = Entry::new(3, 12, &b.hash, None, Event::ForumClosed {}).unwrap();
    assert_eq!(json(&b.raw)["hash"], b.hash.as_str());
    assert_eq!(verify(&[a.raw.clone(), b.raw.clone(), c.raw.clone()]).unwrap(), [a, b, c]);
}

#[test]
fn floats_in_outcomes_survive_the_previous_format() {
    // A previous-format entry is verified by re-encoding it, so means like
    // 7/3 must read back bit for bit. serde_json parses floats exactly only
    // with its `float_roundtrip` feature (without it, about one value in six
    // of these read back off by a bit). This format hashes the bytes as stored.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut values: Vec<f64> = vec![7.0 / 3.0, 1.0 / 3.0, 2.0 / 7.0, 123_457.0 / 99_991.0];
    while values.len() < 5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x >> 1);
        if f.is_finite() {
            values.push(f);
        }
    }
    for (n, mean) in values.into_iter().enumerate() {
        let (sum, ballots) = (n as u64, 1);
        let stat = ScoreStat { option: OptionId(1), ballots, sum, mean, median: 2.5, distribution: [0; 6] };
        let tally = Tally {
            poll: PollId(1),
            ballots,
            result: TallyResult::Score { stats: vec![stat], ranking: vec![vec![OptionId(1)]] },
            by_channel: None,
            ranked: None,
            no_votes: false,
        };
        let outcome = Outcome {
            poll: PollId(1),
            title: "t".into(),
            method: PollMethod::Score {},
            closed_at_ms: 1,
            tally,
            record: None,
        };
        let event = Event::PollClosed { poll: PollId(1), outcome: Box::new(outcome) };
        let legacy = Entry::in_previous_format(2, 1, GENESIS_HASH, None, event.clone()).unwrap();
        assert_eq!(Entry::decode(2, &legacy.raw, GENESIS_HASH).expect("the chain holds"), legacy);
        let entry = Entry::new(2, 1, GENESIS_HASH, None, event).unwrap();
        assert_eq!(Entry::decode(2, &entry.raw, GENESIS_HASH).expect("the chain holds"), entry);
    }
}
