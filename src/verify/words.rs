//! What a ballot says and what a tally found, in words, for the verifier's
//! one-line reports.

use madang_protocol::{Ballot, MergedOption, OptionId, RecordBallot, RecordOption, YesNoChoice};
use serde_json::Value;

/// A ballot in words, with option labels (and what a merged option counts for).
pub fn ballot(ballot: &RecordBallot, options: &[RecordOption], merged: &[MergedOption]) -> String {
    let name = |id: OptionId| options.iter().find(|o| o.id == id).map(|o| format!("\"{}\"", o.label));
    let label = |id: OptionId| match (name(id), merged.iter().find(|m| m.option == id)) {
        (Some(own), Some(m)) => {
            format!("{own} (counts for {})", name(m.counts_for).unwrap_or_else(|| format!("option {}", m.counts_for)))
        }
        (Some(own), None) => own,
        (None, _) => format!("option {id} (not an option of the poll)"),
    };
    match ballot {
        RecordBallot::Ballot { ballot, .. } => match ballot {
            Ballot::YesNo { choice } => match choice {
                YesNoChoice::Yes => "yes".to_string(),
                YesNoChoice::No => "no".to_string(),
                YesNoChoice::Abstain => "abstain".to_string(),
            },
            Ballot::Approval { options } if options.is_empty() => "approves none".to_string(),
            Ballot::Approval { options } => {
                format!("approves {}", options.iter().map(|o| label(*o)).collect::<Vec<_>>().join(", "))
            }
            Ballot::Dots { allocations } => allocations
                .iter()
                .map(|a| format!("{} dot{} on {}", a.dots, if a.dots == 1 { "" } else { "s" }, label(a.option)))
                .collect::<Vec<_>>()
                .join(", "),
            Ballot::Score { scores } => {
                scores.iter().map(|s| format!("{} {}/5", label(s.option), s.score)).collect::<Vec<_>>().join(", ")
            }
            Ballot::Ranked { ranking } => ranking
                .iter()
                .enumerate()
                .map(|(i, o)| format!("{}. {}", i + 1, label(*o)))
                .collect::<Vec<_>>()
                .join(", "),
            Ballot::SingleChoice { option } => label(*option),
        },
        RecordBallot::Comparisons { comparisons, .. } => comparisons
            .iter()
            .map(|c| match c.skip {
                true => format!("cannot decide between {} and {}", label(c.winner), label(c.loser)),
                false => format!("{} over {}", label(c.winner), label(c.loser)),
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A tally (as JSON) in a few words: ballots per channel and the result.
pub fn tally(tally: &Value) -> String {
    let n = |v: &Value| v.as_u64().map_or("?".to_string(), |n| n.to_string());
    let channel = |c: &str| n(&tally["by_channel"][c]["ballots"]);
    let result = &tally["result"];
    let found = if result.get("yes").is_some() {
        let verdict = if result["tie"] == Value::Bool(true) {
            "tie"
        } else if result["passed"] == Value::Bool(true) {
            "passed"
        } else {
            "not passed"
        };
        format!("yes {}, no {}, abstain {}, {verdict}", n(&result["yes"]), n(&result["no"]), n(&result["abstain"]))
    } else {
        format!("ranking {}", compact(&result["ranking"]))
    };
    format!(
        "{} ballots (remote {}, hall {}, hand count {}), {found}",
        n(&tally["ballots"]),
        channel("remote"),
        channel("hall"),
        channel("hall_count")
    )
}

/// The first place where two JSON values differ, as a path with both values.
pub fn first_difference(recount: &Value, record: &Value, path: &str) -> Option<String> {
    match (recount, record) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let missing = Value::Null;
                let found = first_difference(
                    a.get(key).unwrap_or(&missing),
                    b.get(key).unwrap_or(&missing),
                    &format!("{path}.{key}"),
                );
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
        }
        _ if recount == record => None,
        _ => Some(format!("{path} is {} by the recount, {} in the record", compact(recount), compact(record))),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
