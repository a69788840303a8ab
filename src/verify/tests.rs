//! The verifier over the example record (the builder's own output, kept
//! byte-identical by `record::tests`) and each kind of tampering.

use super::*;

const EXAMPLE: &str = include_str!("../../protocol/examples/record/forum.jsonl");

fn lines() -> Vec<String> {
    EXAMPLE.lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect()
}

fn run(bytes: &[u8], expect: &Expect) -> Vec<Check> {
    verify(bytes, expect).expect("a record")
}

fn failures(checks: &[Check]) -> Vec<String> {
    checks.iter().filter(|c| !c.ok).map(|c| c.to_string()).collect()
}

fn assert_fails_with(checks: &[Check], needles: &[&str]) {
    let failed = failures(checks);
    for needle in needles {
        assert!(failed.iter().any(|f| f.contains(needle)), "no failure mentions {needle:?}; failures: {failed:#?}");
    }
}

/// Rewrite line `n` (1-based) as JSON, keeping everything else byte for byte.
fn edit(lines: &mut [String], n: usize, change: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_str(&lines[n - 1]).expect("json");
    change(&mut value);
    lines[n - 1] = serde_json::to_string(&value).expect("json");
}

#[test]
fn the_example_record_passes_every_check() {
    let checks = run(EXAMPLE.as_bytes(), &Expect::default());
    assert_eq!(failures(&checks), Vec::<String>::new());
    let text: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
    assert!(text.contains(&"ok   chain: 33 lines from genesis".to_string()), "{text:#?}");
    for poll in 1..=4 {
        assert!(text.iter().any(|t| t.starts_with(&format!("ok   outcome of poll {poll}: the recount agrees"))));
        assert!(text.iter().any(|t| t.starts_with(&format!("ok   stamp of poll {poll}: "))));
    }
    assert!(text.iter().any(|t| t.contains("instant-runoff in 3 rounds")), "{text:#?}");
    assert!(text.iter().any(|t| t.contains("Bradley-Terry")), "{text:#?}");
    assert!(text.iter().any(|t| t.contains("compare with the fingerprint shown in the hall")));
}

#[test]
fn a_changed_ballot_breaks_the_chain_the_stamp_and_the_recount() {
    let mut lines = lines();
    edit(&mut lines, 24, |v| v["ballots"][1]["ballot"]["choice"] = "no".into());
    let checks = run(&join(&lines), &Expect::default());
    assert_fails_with(
        &checks,
        &[
            "chain: line 25 (poll_outcome of poll 2) does not follow line 24: line 24 (poll_ballots of poll 2) was changed",
            "stamp of poll 2: the outcome was stamped FY7N-R7HP-XGFJ",
            "outcome of poll 2: a published ballot is not the one counted",
        ],
    );
    assert_eq!(failures(&checks).len(), 3, "{:#?}", failures(&checks));
}

#[test]
fn a_dropped_and_an_added_ballot_are_named() {
    let mut dropped = lines();
    edit(&mut dropped, 24, |v| {
        v["ballots"].as_array_mut().expect("ballots").remove(2);
    });
    assert_fails_with(&run(&join(&dropped), &Expect::default()), &["outcome of poll 2: 1 ballot(s) missing"]);

    let mut added = lines();
    edit(&mut added, 24, |v| {
        let extra = serde_json::json!({"receipt":"ZZZZ-ZZZZ-ZZZZ","channel":"hall","weight":1,"ballot":{"kind":"yes_no","choice":"no"}});
        v["ballots"].as_array_mut().expect("ballots").push(extra);
    });
    let checks = run(&join(&added), &Expect::default());
    assert_fails_with(&checks, &["outcome of poll 2: 1 ballot(s) added"]);
}

#[test]
fn a_merge_into_no_option_fails() {
    let mut lines = lines();
    edit(&mut lines, 21, |v| v["merged_options"][0]["counts_for"] = 9.into());
    assert_fails_with(&run(&join(&lines), &Expect::default()), &["merged option 4 counting for 9 is not a merge"]);
}

#[test]
fn more_ballots_than_devices_in_a_channel_fail() {
    let mut lines = lines();
    edit(&mut lines, 24, |v| v["participants"]["remote"] = 2.into());
    assert_fails_with(
        &run(&join(&lines), &Expect::default()),
        &["ballots of poll 2: 3 remote ballots but only 2 remote devices joined"],
    );
}

#[test]
fn swapped_entries_are_named() {
    let mut swapped = lines();
    swapped.swap(11, 12);
    assert_fails_with(
        &run(&join(&swapped), &Expect::default()),
        &[
            "chain: line 12 (idea_published) and line 13 (idea_published) were swapped",
            "numbering: lines 12 and 13 are swapped",
        ],
    );

    let mut ballots = lines();
    edit(&mut ballots, 24, |v| v["ballots"].as_array_mut().expect("ballots").swap(0, 1));
    assert_fails_with(&run(&join(&ballots), &Expect::default()), &["ballots of poll 2: ", "not in receipt order"]);
}

#[test]
fn a_changed_hall_count_and_a_changed_outcome_are_named() {
    let mut hall = lines();
    edit(&mut hall, 24, |v| v["hall_counts"][0]["counts"]["no"] = 3.into());
    assert_fails_with(
        &run(&join(&hall), &Expect::default()),
        &["outcome of poll 2: the published hand count is not the one counted"],
    );

    let mut outcome = lines();
    edit(&mut outcome, 22, |v| v["outcome"]["tally"]["result"]["ranking"] = serde_json::json!([[1], [2], [3], [5]]));
    let checks = run(&join(&outcome), &Expect::default());
    assert_fails_with(
        &checks,
        &[
            "line 22 (poll_outcome of poll 1) was changed",
            "outcome of poll 1: the outcome was changed: it does not match its own published ballots",
            "tally.result.ranking",
        ],
    );
}

#[test]
fn a_cut_tail_is_named_with_the_halls_fingerprint_or_when_an_outcome_is_missing() {
    let full = lines();
    let head = hex::encode(Sha256::digest(full[32].as_bytes()));
    let print = fingerprint(&head);
    let cut = join(&full[..31]);
    let checks = run(&cut, &Expect { fingerprint: Some(print.to_lowercase().replace('-', "")), ..Expect::default() });
    assert_fails_with(
        &checks,
        &[&format!("fingerprint: {print} is not the hash of any line: the record ends at line 31")],
    );
    let checks = run(&cut, &Expect { head: Some(head.clone()), ..Expect::default() });
    assert_fails_with(&checks, &["head: ", "its tail was cut"]);
    let checks = run(&join(&full), &Expect { fingerprint: Some(print.clone()), ..Expect::default() });
    assert_eq!(failures(&checks), Vec::<String>::new());

    assert_fails_with(
        &run(&join(&full[..30]), &Expect::default()),
        &["end: ", "no outcome after them: its tail was cut"],
    );
    assert_fails_with(
        &run(&EXAMPLE.as_bytes()[..EXAMPLE.len() - 10], &Expect::default()),
        &["end: the last line has no newline"],
    );
}

#[test]
fn a_dropped_or_inserted_line_is_named() {
    let mut dropped = lines();
    dropped.remove(15);
    assert_fails_with(
        &run(&join(&dropped), &Expect::default()),
        &[
            "chain: line 16 (idea_published) does not follow line 15: 1 line(s) before",
            "numbering: line 16 is numbered 17: line 16 is missing",
        ],
    );
    let mut inserted = lines();
    inserted.insert(17, inserted[17].clone());
    assert_fails_with(
        &run(&join(&inserted), &Expect::default()),
        &["line 18 (headcount) was inserted", "a line was added or repeated"],
    );
}

#[test]
fn a_receipt_tells_what_its_ballot_says() {
    let checks = run(EXAMPLE.as_bytes(), &Expect { receipt: Some("6rz5ba7fqca6".into()), ..Expect::default() });
    let receipt = checks.iter().find(|c| c.name.starts_with("receipt")).expect("receipt check");
    assert!(receipt.ok);
    assert_eq!(
        receipt.detail,
        "poll 1 \"What first?\" (hall ballot): 1. \"A playground\", 2. \"Benches by the water\", 3. \"More trees\", \
         4. \"Trees, lots of them\" (counts for \"More trees\"), 5. \"A public toilet\"; counted as cast"
    );
    let pairwise = run(EXAMPLE.as_bytes(), &Expect { receipt: Some("B59P-3ADT-6SAC".into()), ..Expect::default() });
    assert!(pairwise.iter().any(|c| c.ok
        && c.detail.contains("cannot decide between \"Playground\" and \"Benches\"; \"Playground\" over \"Trees\"")));
    let absent = run(EXAMPLE.as_bytes(), &Expect { receipt: Some("0000-0000-0000".into()), ..Expect::default() });
    assert_fails_with(&absent, &["receipt 0000-0000-0000: receipt not found in any poll's ballots"]);
}

#[test]
fn input_that_is_no_record_is_refused() {
    assert!(matches!(verify(b"", &Expect::default()), Err(NotARecord::Empty)));
    assert!(matches!(verify(b"<html>\n", &Expect::default()), Err(NotARecord::NotJson)));
}

#[test]
fn any_changed_byte_before_the_last_line_fails_a_check_and_nothing_panics() {
    // The last line is the head: only --head/--fingerprint (or the hall) can vouch for it.
    let body = EXAMPLE.len() - EXAMPLE.lines().last().map_or(0, |l| l.len() + 1);
    let mut tried = 0;
    for at in (0..body).step_by(23) {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        bytes[at] ^= 0x01;
        match verify(&bytes, &Expect::default()) {
            Err(_) => {}
            Ok(checks) => assert!(checks.iter().any(|c| !c.ok), "byte {at} changed and every check passed"),
        }
        tried += 1;
    }
    assert!(tried > 300, "{tried}");
}

#[test]
fn a_record_continues_one_fetched_earlier_or_says_where_it_was_rewritten() {
    let all = lines();
    let earlier = join(&all[..20]);
    let checks = run(EXAMPLE.as_bytes(), &Expect { earlier: Some(earlier), ..Expect::default() });
    assert!(checks.iter().any(|c| c.ok && c.detail == "the record continues the earlier one's 20 lines (13 added)"));
    let mut rewritten = all.clone();
    edit(&mut rewritten, 12, |v| v["text"] = "Fewer trees".into());
    let checks = run(EXAMPLE.as_bytes(), &Expect { earlier: Some(join(&rewritten[..20])), ..Expect::default() });
    assert_fails_with(&checks, &["earlier: line 12 is not the earlier record's line 12"]);
}

const COMMITTEE: &str = include_str!("../../protocol/examples/record/committee.jsonl");

#[test]
fn a_committee_record_with_a_named_vote_and_follow_through_passes() {
    let checks = run(COMMITTEE.as_bytes(), &Expect::default());
    assert_eq!(failures(&checks), Vec::<String>::new());
    let text: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
    assert!(text.iter().any(|t| t.starts_with("ok   outcome of poll 1: the recount agrees")), "{text:#?}");
    assert!(text.iter().any(|t| t.starts_with("ok   follow-through: 4 responses, actions and updates")), "{text:#?}");
    // Every line type is known, and follow-through after the close still reads as a closed forum.
    assert!(text.iter().any(|t| t == "ok   lines: 16 lines, each a record line"), "{text:#?}");
    assert!(
        text.iter().any(|t| t.starts_with("ok   end: the forum closed (then 4 follow-through lines)")),
        "{text:#?}"
    );
}

#[test]
fn follow_through_about_an_undecided_poll_or_out_of_place_is_named() {
    let mut committee: Vec<String> = COMMITTEE.lines().map(str::to_string).collect();
    let response = committee.iter().position(|l| l.contains(r#""type":"response_recorded""#)).expect("a response");
    edit(&mut committee, response + 1, |v| v["poll"] = 7.into());
    let checks = run(&join(&committee), &Expect::default());
    assert_fails_with(&checks, &["follow-through: line", "poll 7, which has no outcome before it"]);
}
