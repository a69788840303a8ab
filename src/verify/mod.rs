//! `madang verify`: check a forum's public record (`protocol/RECORD.md`)
//! from its bytes alone, and say what is wrong in words.
//!
//! Pure: bytes in, a list of named checks out. Every line is hashed as
//! received and never re-serialized. Each poll is recounted with the
//! server's own counting code (`recount`), so the record's format, not a
//! second implementation, is what the verifier relies on.
//!
//! A tampered record is not just "broken": after a broken link the chain is
//! re-anchored on the bytes as given, so the checks that follow (stamps,
//! ballots, recounts) still name what changed.

mod recount;
#[cfg(test)]
mod tests;
mod words;

use std::collections::BTreeMap;

use madang_protocol::{
    Channel, PollBallots, PollId, PollMethod, RECORD_FORMAT, RECORD_GENESIS, RECORD_LINE_TYPES, RecordBallot,
    RecordBody, RecordLine,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use recount::{OpenedPoll, recount};

use crate::record::fingerprint;

/// One check's result: `ok   chain: 33 lines from genesis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), ok: true, detail: detail.into() }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), ok: false, detail: detail.into() }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<4} {}: {}", if self.ok { "ok" } else { "FAIL" }, self.name, self.detail)
    }
}

/// What the person verifying knows besides the record.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The head (hex) the record must reach, e.g. from the forum's last screen.
    pub head: Option<String>,
    /// The fingerprint the record must reach, e.g. from a photo of the projector.
    pub fingerprint: Option<String>,
    /// A receipt whose ballot must be in the record.
    pub receipt: Option<String>,
    /// A record of the same forum fetched earlier: lines are only appended,
    /// so this one must begin with its bytes.
    pub earlier: Option<Vec<u8>>,
}

/// Input that is not a record at all: nothing to check.
#[derive(Debug, thiserror::Error)]
pub enum NotARecord {
    #[error("the input is empty")]
    Empty,
    #[error("its first line is not a JSON object, so it is not a Madang record")]
    NotJson,
}

/// One line as received.
struct Line {
    hash: String,
    value: Option<Value>,
    parsed: Option<RecordLine>,
}

impl Line {
    fn kind(&self) -> &str {
        self.value.as_ref().and_then(|v| v["type"].as_str()).unwrap_or("?")
    }

    fn poll(&self) -> Option<u64> {
        self.value.as_ref().and_then(|v| v["poll"].as_u64())
    }

    fn n(&self) -> Option<u64> {
        self.value.as_ref().and_then(|v| v["n"].as_u64())
    }

    fn prev(&self) -> &str {
        self.value.as_ref().and_then(|v| v["prev"].as_str()).unwrap_or("")
    }
}

/// Check a record's bytes; every check, passed or failed, in order.
pub fn verify(bytes: &[u8], expect: &Expect) -> Result<Vec<Check>, NotARecord> {
    if bytes.is_empty() {
        return Err(NotARecord::Empty);
    }
    let cut_mid_line = !bytes.ends_with(b"\n");
    let body = if cut_mid_line { bytes } else { &bytes[..bytes.len() - 1] };
    let lines: Vec<Line> = body
        .split(|b| *b == b'\n')
        .map(|bytes| {
            let value = serde_json::from_slice::<Value>(bytes).ok().filter(Value::is_object);
            let parsed = value.as_ref().and_then(|v| serde_json::from_value::<RecordLine>(v.clone()).ok());
            Line { hash: hex::encode(Sha256::digest(bytes)), value, parsed }
        })
        .collect();
    if lines[0].value.is_none() {
        return Err(NotARecord::NotJson);
    }
    let mut checks = Vec::new();
    check_lines(&lines, &mut checks);
    check_format(&lines, &mut checks);
    check_chain(&lines, &mut checks);
    check_numbering(&lines, &mut checks);
    check_times(&lines, &mut checks);
    let polls = check_polls(&lines, &mut checks);
    check_follow_through(&lines, &mut checks);
    check_end(&lines, cut_mid_line, expect, &mut checks);
    if let Some(earlier) = &expect.earlier {
        checks.push(check_continues(bytes, earlier));
    }
    if let Some(code) = &expect.receipt {
        checks.push(check_receipt(code, &lines, &polls));
    }
    Ok(checks)
}

/// Follow-through (responses, actions, their updates) is about decided
/// polls and planned actions only, and it is all that may follow the
/// forum's close: a record where anything else comes after `forum_closed`,
/// or a response to a poll that never closed, was not written by a server.
fn check_follow_through(lines: &[Line], checks: &mut Vec<Check>) {
    let mut decided = std::collections::BTreeSet::new();
    let mut planned = std::collections::BTreeSet::new();
    let mut closed_at = None;
    let (mut entries, mut problems) = (0usize, Vec::new());
    for (i, line) in lines.iter().enumerate() {
        let Some(parsed) = &line.parsed else { continue };
        let follow_through = matches!(
            parsed.body,
            RecordBody::ResponseRecorded { .. } | RecordBody::ActionPlanned { .. } | RecordBody::ActionUpdated { .. }
        );
        if let Some(closed) = closed_at
            && !follow_through
        {
            problems.push(format!("{} comes after the forum closed at line {closed}", label(lines, i)));
        }
        match &parsed.body {
            RecordBody::PollOutcome { poll, .. } => {
                decided.insert(*poll);
            }
            RecordBody::ForumClosed {} => closed_at = Some(i + 1),
            RecordBody::ResponseRecorded { poll, .. } | RecordBody::ActionPlanned { poll, .. } => {
                entries += 1;
                if !decided.contains(poll) {
                    problems.push(format!("{} is about poll {poll}, which has no outcome before it", label(lines, i)));
                }
                if let RecordBody::ActionPlanned { action, .. } = &parsed.body
                    && !planned.insert(*action)
                {
                    problems.push(format!("{} plans action {action} a second time", label(lines, i)));
                }
            }
            RecordBody::ActionUpdated { action, .. } => {
                entries += 1;
                if !planned.contains(action) {
                    problems.push(format!("{} updates action {action}, which was never planned", label(lines, i)));
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        checks.push(Check::pass(
            "follow-through",
            format!("{entries} responses, actions and updates, each about a decided poll or a planned action"),
        ));
    }
    for problem in problems {
        checks.push(Check::fail("follow-through", problem));
    }
}

/// `line 21 (poll_ballots of poll 1)`, by position.
fn label(lines: &[Line], i: usize) -> String {
    let line = &lines[i];
    match line.poll() {
        Some(poll) => format!("line {} ({} of poll {poll})", i + 1, line.kind()),
        None => format!("line {} ({})", i + 1, line.kind()),
    }
}

fn check_lines(lines: &[Line], checks: &mut Vec<Check>) {
    let mut unknown = 0;
    let mut bad = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = &line.value else {
            bad += 1;
            checks.push(Check::fail("lines", format!("line {} is not a JSON object", i + 1)));
            continue;
        };
        let missing: Vec<&str> = [("n", value["n"].is_u64()), ("prev", value["prev"].is_string())]
            .into_iter()
            .chain([("at_ms", value["at_ms"].is_u64()), ("type", value["type"].is_string())])
            .filter(|(_, present)| !present)
            .map(|(field, _)| field)
            .collect();
        if !missing.is_empty() {
            bad += 1;
            checks.push(Check::fail("lines", format!("{} lacks {}", label(lines, i), missing.join(", "))));
        } else if !RECORD_LINE_TYPES.contains(&line.kind()) {
            unknown += 1;
        } else if let Err(err) = serde_json::from_value::<RecordLine>(value.clone()) {
            bad += 1;
            checks
                .push(Check::fail("lines", format!("{} is not a valid {} line: {err}", label(lines, i), line.kind())));
        }
    }
    if bad == 0 {
        let skipped = match unknown {
            0 => String::new(),
            n => format!(" ({n} of types this verifier does not know: chained, otherwise skipped)"),
        };
        checks.push(Check::pass("lines", format!("{} lines, each a record line{skipped}", lines.len())));
    }
}

fn check_format(lines: &[Line], checks: &mut Vec<Check>) {
    checks.push(match lines[0].parsed.as_ref().map(|l| &l.body) {
        Some(RecordBody::Forum { format, forum, title, .. }) if format == RECORD_FORMAT => {
            Check::pass("format", format!("{format}, forum {forum} \"{title}\""))
        }
        Some(RecordBody::Forum { format, .. }) => {
            Check::fail("format", format!("line 1 says {format:?}; this verifier reads {RECORD_FORMAT}"))
        }
        _ => Check::fail("format", format!("line 1 is a {} line, not the forum line", lines[0].kind())),
    });
}

/// Each line's `prev` against the hash of the line before it as received
/// (so the chain re-anchors after a break), naming what each break means.
fn check_chain(lines: &[Line], checks: &mut Vec<Check>) {
    let mut broken = 0;
    let mut i = 0;
    while i < lines.len() {
        let expected = if i == 0 { RECORD_GENESIS } else { lines[i - 1].hash.as_str() };
        let prev = lines[i].prev();
        if prev == expected {
            i += 1;
            continue;
        }
        broken += 1;
        let what = if i == 0 {
            "line 1 does not start from genesis (its prev is not 64 zeros)".to_string()
        } else if let Some(j) = lines.iter().position(|l| l.hash == prev) {
            if j == i + 1 && lines.get(i + 1).is_some_and(|next| next.prev() == lines[i - 1].hash) {
                let found = format!("{} and {} were swapped", label(lines, i), label(lines, i + 1));
                i += 2;
                checks.push(Check::fail("chain", found));
                continue;
            } else if j + 2 == i {
                format!("{} was inserted: line {} follows line {}", label(lines, i - 1), i + 1, j + 1)
            } else if j > i {
                format!("lines were reordered: {} was written after line {}", label(lines, i), j + 1)
            } else {
                format!("lines {} to {} do not belong here: {} follows line {}", j + 2, i, label(lines, i), j + 1)
            }
        } else {
            match (lines[i - 1].n(), lines[i].n()) {
                (Some(a), Some(b)) if b > a.saturating_add(1) => {
                    format!("{} line(s) before {} were dropped", b - a - 1, label(lines, i))
                }
                _ => format!("{} was changed after line {} was written", label(lines, i - 1), i + 1),
            }
        };
        checks.push(Check::fail("chain", format!("{} does not follow line {}: {what}", label(lines, i), i.max(1))));
        i += 1;
    }
    if broken == 0 {
        checks.push(Check::pass("chain", format!("{} lines from genesis", lines.len())));
    }
}

fn check_numbering(lines: &[Line], checks: &mut Vec<Check>) {
    let mut expected = 1u64;
    let mut wrong = 0;
    let mut i = 0;
    while i < lines.len() {
        let Some(n) = lines[i].n() else {
            i += 1;
            continue;
        };
        let at = i + 1;
        if n == expected {
            expected = n.saturating_add(1);
        } else if n == expected.saturating_add(1) && lines.get(i + 1).and_then(Line::n) == Some(expected) {
            wrong += 1;
            checks.push(Check::fail(
                "numbering",
                format!("lines {at} and {} are swapped (numbered {n}, {expected})", at + 1),
            ));
            expected = n.saturating_add(1);
            i += 1;
        } else if n > expected {
            wrong += 1;
            let missing = if n - expected == 1 {
                format!("line {expected} is")
            } else {
                format!("lines {expected} to {} are", n - 1)
            };
            checks.push(Check::fail("numbering", format!("line {at} is numbered {n}: {missing} missing")));
            expected = n.saturating_add(1);
        } else {
            wrong += 1;
            checks.push(Check::fail(
                "numbering",
                format!("line {at} is numbered {n} after line {}: a line was added or repeated", expected - 1),
            ));
            expected = expected.max(n.saturating_add(1));
        }
        i += 1;
    }
    if wrong == 0 {
        checks.push(Check::pass("numbering", format!("lines numbered 1 to {}", lines.len())));
    }
}

fn check_times(lines: &[Line], checks: &mut Vec<Check>) {
    let times: Vec<Option<u64>> = lines.iter().map(|l| l.value.as_ref().and_then(|v| v["at_ms"].as_u64())).collect();
    let backwards: Vec<usize> =
        (1..lines.len()).filter(|&i| matches!((times[i - 1], times[i]), (Some(a), Some(b)) if b < a)).collect();
    checks.push(match backwards.first() {
        None => Check::pass("times", "no line is dated before the one above it"),
        Some(&i) => Check::fail(
            "times",
            format!(
                "{} is dated before line {} ({} such lines): lines were moved or changed",
                label(lines, i),
                i,
                backwards.len()
            ),
        ),
    });
}

/// A closed poll as the record tells it.
struct ClosedPoll {
    opened: OpenedPoll,
    ballots: PollBallots,
    /// Whether the recount agrees with the outcome.
    counted: bool,
}

/// Every closed poll: its close, its stamp, its ballots and its recount.
fn check_polls(lines: &[Line], checks: &mut Vec<Check>) -> BTreeMap<PollId, ClosedPoll> {
    let mut opened: BTreeMap<PollId, OpenedPoll> = BTreeMap::new();
    let mut closed = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(parsed) = &line.parsed else { continue };
        match &parsed.body {
            RecordBody::PollOpened { poll, item, title, method, options, results, .. } => {
                let poll_opened = OpenedPoll {
                    poll: *poll,
                    item: *item,
                    title: title.clone(),
                    method: method.clone(),
                    options: options.clone(),
                    results: *results,
                };
                if opened.insert(*poll, poll_opened).is_some() {
                    checks.push(Check::fail(
                        format!("poll {poll}"),
                        format!("{} opens it a second time", label(lines, i)),
                    ));
                }
            }
            RecordBody::PollBallots(ballots) => {
                let poll = ballots.poll;
                let name = format!("poll {poll}");
                let Some(definition) = opened.get(&poll) else {
                    checks
                        .push(Check::fail(name, format!("{} closes a poll the record never opened", label(lines, i))));
                    continue;
                };
                if closed.contains_key(&poll) {
                    checks.push(Check::fail(name.clone(), format!("{} closes it a second time", label(lines, i))));
                }
                let numbered = definition.options.iter().zip(1u32..).all(|(o, n)| o.id.0 == n);
                if !numbered {
                    checks.push(Check::fail(name.clone(), "its options are not numbered 1, 2, ... in order"));
                }
                let outcome =
                    lines.get(i + 1).filter(|l| l.kind() == "poll_outcome" && l.poll() == Some(poll.0.into()));
                let stamp_ok = match outcome {
                    Some(outcome) => check_stamp(lines, i, outcome, checks),
                    None => {
                        checks.push(Check::fail(
                            name,
                            format!("{} is not followed by its poll_outcome line", label(lines, i)),
                        ));
                        false
                    }
                };
                checks.push(check_ballots(poll, definition, ballots));
                let counted = match outcome.and_then(|o| o.value.as_ref()) {
                    Some(value) => {
                        let check = check_outcome(definition, ballots, &value["outcome"], stamp_ok);
                        let ok = check.ok;
                        checks.push(check);
                        ok
                    }
                    None => false,
                };
                closed.insert(
                    poll,
                    ClosedPoll { opened: definition.clone(), ballots: PollBallots::clone(ballots), counted },
                );
            }
            RecordBody::PollOutcome { poll, .. } => {
                let after_ballots =
                    i > 0 && lines[i - 1].kind() == "poll_ballots" && lines[i - 1].poll() == Some(poll.0.into());
                if !after_ballots {
                    checks.push(Check::fail(
                        format!("poll {poll}"),
                        format!("{} does not follow the poll's poll_ballots line", label(lines, i)),
                    ));
                }
            }
            _ => {}
        }
    }
    closed
}

/// The outcome's `record` stamp against the hash of the ballots line
/// (position `i`) as received.
fn check_stamp(lines: &[Line], i: usize, outcome: &Line, checks: &mut Vec<Check>) -> bool {
    let poll = lines[i].poll().unwrap_or_default();
    let name = format!("stamp of poll {poll}");
    let stamp = outcome.value.as_ref().map(|v| &v["outcome"]["record"]);
    let (head, print) = match stamp {
        Some(s) => (s["head"].as_str().unwrap_or(""), s["fingerprint"].as_str().unwrap_or("")),
        None => ("", ""),
    };
    let actual = &lines[i].hash;
    let check = if head.is_empty() {
        Check::fail(name, "the outcome carries no record stamp")
    } else if print != fingerprint(head) {
        Check::fail(
            name,
            format!("the outcome's fingerprint {print} is not that of its head {head}: the stamp was changed"),
        )
    } else if head != actual {
        Check::fail(
            name,
            format!(
                "the outcome was stamped {print} at the close but {} now hashes to fingerprint {}: \
                 the poll's ballots or hand counts were changed after the close",
                label(lines, i),
                fingerprint(actual)
            ),
        )
    } else {
        Check::pass(name, format!("{print}, the hash of {}", label(lines, i)))
    };
    let ok = check.ok;
    checks.push(check);
    ok
}

fn check_ballots(poll: PollId, definition: &OpenedPoll, ballots: &PollBallots) -> Check {
    let name = format!("ballots of poll {poll}");
    let pairwise = matches!(definition.method, PollMethod::Pairwise {});
    let mut problems = Vec::new();
    for pair in ballots.ballots.windows(2) {
        let (a, b) = (pair[0].receipt(), pair[1].receipt());
        if a == b {
            problems.push(format!("receipt {a} appears twice"));
        } else if a > b {
            problems.push(format!("{b} comes after {a}: not in receipt order, entries were swapped or inserted"));
        }
    }
    for ballot in &ballots.ballots {
        let receipt = ballot.receipt();
        if normalize_receipt(receipt).as_deref() != Some(receipt) {
            problems.push(format!("{receipt:?} is not a receipt"));
        }
        match ballot {
            RecordBallot::Ballot { weight, .. } if *weight != 1 => {
                problems.push(format!("{receipt} has weight {weight}; a device ballot weighs 1"))
            }
            RecordBallot::Ballot { .. } if pairwise => {
                problems.push(format!("{receipt} is a ballot in a pairwise poll, which takes comparisons"))
            }
            RecordBallot::Comparisons { .. } if !pairwise => {
                problems.push(format!("{receipt} holds comparisons, but this poll takes ballots"))
            }
            _ => {}
        }
    }
    let is_option = |id| definition.options.iter().any(|o| o.id == id);
    for m in &ballots.merged_options {
        if !is_option(m.option) || !is_option(m.counts_for) || m.option == m.counts_for {
            problems.push(format!(
                "merged option {} counting for {} is not a merge of two of its options",
                m.option, m.counts_for
            ));
        }
    }
    let cast = |channel| ballots.ballots.iter().filter(|b| channel_of(b) == channel).count() as u64;
    let (remote, hall) = (cast(Channel::Remote), cast(Channel::Hall));
    let joined = ballots.participants;
    for (what, cast, joined) in [("remote", remote, joined.remote), ("hall", hall, joined.hall)] {
        if cast > u64::from(joined) {
            problems.push(format!("{cast} {what} ballots but only {joined} {what} devices joined"));
        }
    }
    if problems.is_empty() {
        let corrections = match ballots.hall_counts.len() {
            0 => "no hand count".to_string(),
            1 => "1 hand count".to_string(),
            n => format!("{n} hand counts entered (the last counted, {} corrected)", n - 1),
        };
        Check::pass(
            name,
            format!(
                "{} ballots (remote {remote} of {} joined, hall {hall} of {} joined), in receipt order; {corrections}",
                ballots.ballots.len(),
                joined.remote,
                joined.hall
            ),
        )
    } else {
        Check::fail(name, problems.join("; "))
    }
}

fn channel_of(ballot: &RecordBallot) -> Channel {
    match ballot {
        RecordBallot::Ballot { channel, .. } | RecordBallot::Comparisons { channel, .. } => *channel,
    }
}

/// The recount of a poll against its outcome, naming what differs.
fn check_outcome(definition: &OpenedPoll, ballots: &PollBallots, outcome: &Value, stamp_ok: bool) -> Check {
    let poll = definition.poll;
    let name = format!("outcome of poll {poll}");
    let Some(recounted) = recount(definition, ballots).and_then(|t| serde_json::to_value(t).ok()) else {
        return Check::fail(name, "the poll could not be recounted");
    };
    let method = serde_json::to_value(&definition.method).unwrap_or_default();
    if outcome["poll"].as_u64() != Some(poll.0.into()) || outcome["tally"]["poll"].as_u64() != Some(poll.0.into()) {
        return Check::fail(name, "the outcome names another poll");
    }
    if outcome["method"] != method || outcome["title"].as_str() != Some(definition.title.as_str()) {
        return Check::fail(name, "the outcome's title or method is not the poll's as it opened");
    }
    let recorded = &outcome["tally"];
    if &recounted == recorded {
        let rounds = recorded["ranked"]["instant_runoff"]["rounds"].as_array().map(Vec::len);
        let detail = match rounds {
            Some(r) => format!("; instant-runoff in {r} rounds, Borda, Schulze margins recounted"),
            None if matches!(definition.method, PollMethod::Pairwise {}) => "; Bradley-Terry fit recounted".to_string(),
            None => String::new(),
        };
        return Check::pass(name, format!("the recount agrees: {}{detail}", words::tally(recorded)));
    }
    let devices =
        |t: &Value| ["remote", "hall"].iter().map(|c| t["by_channel"][c]["ballots"].as_u64().unwrap_or(0)).sum::<u64>();
    let (counted, published) = (devices(recorded), devices(&recounted));
    let what = if stamp_ok {
        "the outcome was changed: it does not match its own published ballots".to_string()
    } else if published < counted {
        format!("{} ballot(s) missing from the published ballots", counted - published)
    } else if published > counted {
        format!("{} ballot(s) added to the published ballots", published - counted)
    } else if recounted["by_channel"]["hall_count"] != recorded["by_channel"]["hall_count"] {
        "the published hand count is not the one counted".to_string()
    } else {
        "a published ballot is not the one counted".to_string()
    };
    let difference = words::first_difference(&recounted, recorded, "tally").unwrap_or_default();
    Check::fail(
        name,
        format!(
            "{what}: the recount gives {} but the record says {}; first difference: {difference}",
            words::tally(&recounted),
            words::tally(recorded)
        ),
    )
}

fn check_end(lines: &[Line], cut_mid_line: bool, expect: &Expect, checks: &mut Vec<Check>) {
    let last = lines.len() - 1;
    let head = &lines[last].hash;
    let print = fingerprint(head);
    let ends = format!("the record ends at line {} (head {head}, fingerprint {print})", last + 1);
    if cut_mid_line {
        checks
            .push(Check::fail("end", format!("the last line has no newline: {ends} was cut in the middle of a line")));
    } else if lines[last].kind() == "poll_ballots" {
        checks
            .push(Check::fail("end", format!("{ends} with poll ballots and no outcome after them: its tail was cut")));
    } else if let Some(after) = follow_through_after_close(lines) {
        let then = if after == 0 { String::new() } else { format!(" (then {after} follow-through lines)") };
        checks.push(Check::pass("end", format!("the forum closed{then}: {ends}")));
    } else {
        checks.push(Check::pass("end", format!("the forum had not closed: {ends}")));
    }
    // Each expectation as (check name, canonical value, the same form of each line's hash).
    let head = expect.head.as_ref().map(|h| ("head", h.trim().to_ascii_lowercase()));
    let print = expect.fingerprint.as_ref().map(|f| ("fingerprint", normalize_receipt(f).unwrap_or_else(|| f.clone())));
    let wanted: Vec<(&str, String)> = head.into_iter().chain(print).collect();
    if wanted.is_empty() {
        checks.push(Check::pass("head", format!("{ends}: compare with the fingerprint shown in the hall")));
    }
    for (name, value) in wanted {
        let matches = |l: &Line| if name == "head" { l.hash == value } else { fingerprint(&l.hash) == value };
        checks.push(match lines.iter().rposition(matches) {
            Some(i) if i == last => Check::pass(name, format!("{value} is the record's head: it ends where expected")),
            Some(i) => Check::pass(
                name,
                format!("{value} is the hash of {}; the record goes on to line {}", label(lines, i), last + 1),
            ),
            None => Check::fail(
                name,
                format!("{value} is not the hash of any line: {ends}; its tail was cut or it was changed"),
            ),
        });
    }
}

/// How many follow-through lines come after the record's `forum_closed`, when
/// the record ends with one followed by nothing else; `None` otherwise.
fn follow_through_after_close(lines: &[Line]) -> Option<usize> {
    let follow_through = |l: &Line| matches!(l.kind(), "response_recorded" | "action_planned" | "action_updated");
    let after = lines.iter().rev().take_while(|l| follow_through(l)).count();
    let closing = lines.len().checked_sub(after + 1)?;
    (lines[closing].kind() == "forum_closed").then_some(after)
}

/// The record against one fetched earlier: the same lines, then more.
fn check_continues(bytes: &[u8], earlier: &[u8]) -> Check {
    let count = |b: &[u8]| b.iter().filter(|c| **c == b'\n').count();
    if bytes.starts_with(earlier) {
        let added = count(bytes) - count(earlier);
        return Check::pass(
            "earlier",
            format!("the record continues the earlier one's {} lines ({added} added)", count(earlier)),
        );
    }
    let same = bytes.iter().zip(earlier).take_while(|(a, b)| a == b).count();
    let line = count(&bytes[..same]) + 1;
    Check::fail(
        "earlier",
        format!("line {line} is not the earlier record's line {line}: what was published was rewritten or cut"),
    )
}

/// A receipt or fingerprint as typed (any case, dashes and spaces optional,
/// Crockford's look-alikes accepted) in its canonical `XXXX-XXXX-XXXX`
/// form; `None` if it is not 12 Crockford symbols.
pub fn normalize_receipt(code: &str) -> Option<String> {
    let symbols: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect();
    let valid =
        symbols.len() == 12 && symbols.chars().all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'U'));
    valid.then(|| format!("{}-{}-{}", &symbols[..4], &symbols[4..8], &symbols[8..]))
}

fn check_receipt(code: &str, lines: &[Line], polls: &BTreeMap<PollId, ClosedPoll>) -> Check {
    let Some(receipt) = normalize_receipt(code) else {
        return Check::fail("receipt", format!("{code:?} is not a receipt (12 symbols like 6RZ5-BA7F-QCA6)"));
    };
    let name = format!("receipt {receipt}");
    let found = polls.values().find_map(|p| p.ballots.ballots.iter().find(|b| b.receipt() == receipt).map(|b| (p, b)));
    let Some((poll, ballot)) = found else {
        let closes = lines.iter().filter(|l| l.kind() == "poll_ballots").count();
        return Check::fail(
            name,
            format!(
                "receipt not found in any poll's ballots ({closes} closed polls searched; \
                 a ballot recast later has the newer receipt, and an open poll's ballots are published at its close)"
            ),
        );
    };
    let counted = if poll.counted { "counted as cast" } else { "but this poll's recount does not match its outcome" };
    Check::pass(
        name,
        format!(
            "poll {} \"{}\" ({} ballot): {}; {counted}",
            poll.opened.poll,
            poll.opened.title,
            channel_name(channel_of(ballot)),
            words::ballot(ballot, &poll.opened.options, &poll.ballots.merged_options)
        ),
    )
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Remote => "remote",
        Channel::Hall => "hall",
        Channel::HallCount => "hand count",
    }
}
