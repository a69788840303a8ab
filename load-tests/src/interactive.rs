//! `connect`: a line-oriented client for trying the protocol by hand.
//!
//! Why: the README's walkthrough drives a forum from a few terminals. Every
//! server frame is printed as one JSON line on stdout (pipe it into `jq`);
//! every stdin line is sent as one frame: either JSON, or the shorthand
//! `type key=value ...` (values are JSON when they parse as JSON, else plain
//! strings; dotted keys nest: `ballot.kind=ranked ballot.ranking=[2,1]`).
//! A command without an `id` gets a fresh one.

use std::collections::HashSet;
use std::io::{BufRead, Write};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use madang_protocol::{Auth, COMMAND_NAMES, ServerFrame, close_code};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::ServerArgs;
use crate::client::{Client, ConnectOptions, Incoming};
use crate::http::ws_url;

/// `connect`: authenticate, then relay frames between the server and stdin/stdout.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// A moderator, display or participant token.
    #[arg(long, required_unless_present = "join_code", conflicts_with = "join_code")]
    pub token: Option<String>,
    /// A join code (remote or hall), to take part as a participant.
    #[arg(long)]
    pub join_code: Option<String>,
    /// The display name to join with.
    #[arg(long, requires = "join_code")]
    pub name: Option<String>,
    /// The `participant.token` of an earlier welcome, to come back as the same person.
    #[arg(long, requires = "join_code")]
    pub participant_token: Option<String>,
    /// The last sequence number seen, to resume with replayed events instead of a snapshot.
    #[arg(long)]
    pub last_seq: Option<u64>,
}

/// Run `connect` until stdin closes or the server closes.
pub async fn run(args: ConnectArgs) -> Result<()> {
    let url = ws_url(&args.server.server)?;
    let auth = Auth {
        token: args.token,
        join_code: args.join_code,
        name: args.name,
        participant_token: args.participant_token,
        ticket: None,
        last_seq: args.last_seq,
    };
    let limit = args.server.timeout();
    let opts = ConnectOptions { label: "connect".into(), timeout: limit };
    let (mut client, welcome) = Client::connect(&url, &auth, opts).await?;
    print_line(&welcome.raw)?;
    eprintln!(
        "welcome: {:?} in forum {}, head seq {}{}",
        welcome.role,
        welcome.forum_id,
        welcome.head_seq,
        if welcome.snapshot.is_some() {
            ", with a snapshot".to_owned()
        } else {
            format!(", {} events replayed", welcome.replayed)
        }
    );

    let mut lines = stdin_lines();
    // Request ids sent from stdin and not yet answered: when stdin ends, wait
    // (bounded) for their answers before closing, so that piped scripts see them.
    let mut unanswered: HashSet<String> = HashSet::new();
    let mut stdin_done: Option<Instant> = None;
    let mut closing_since: Option<Instant> = None;
    loop {
        if stdin_done.is_some() && closing_since.is_none() && unanswered.is_empty() {
            client.send_close();
            closing_since = Some(Instant::now());
        }
        let deadline = closing_since.or(stdin_done).map(|t| t + limit).unwrap_or_else(Instant::now);
        tokio::select! {
            line = lines.recv(), if stdin_done.is_none() => match line {
                Some(line) => match parse_line(&line, || client.fresh_id()) {
                    Ok(Some(frame)) => {
                        if let Some(id) = frame.get("id").and_then(Value::as_str) {
                            unanswered.insert(id.to_owned());
                        }
                        client.send_text(frame.to_string())?;
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("not sent: {e:#}"),
                },
                None => stdin_done = Some(Instant::now()),
            },
            incoming = client.next() => match incoming {
                Some(Incoming::Frame { frame, raw }) => {
                    if let ServerFrame::Ack { id, .. } | ServerFrame::Error { id: Some(id), .. } | ServerFrame::Pong { id: Some(id) } = &frame {
                        unanswered.remove(id);
                    }
                    print_line(&raw)?;
                }
                Some(Incoming::Unparsed { raw, error }) => {
                    tracing::warn!("frame does not match madang.v1: {error}");
                    print_line(&raw)?;
                }
                Some(Incoming::Closed(info)) => {
                    eprintln!("connection closed: {info}");
                    return match info.code {
                        _ if closing_since.is_some() => Ok(()),
                        Some(close_code::NORMAL) => Ok(()),
                        _ => Err(anyhow!("the server ended the connection ({info})")),
                    };
                }
                None => return Ok(()),
            },
            _ = sleep_until(deadline), if stdin_done.is_some() => {
                if closing_since.is_some() {
                    bail!("the server did not answer the close within {limit:?}");
                }
                eprintln!("no answer within {limit:?} to: {}", unanswered.drain().collect::<Vec<_>>().join(", "));
            }
        }
    }
}

/// Print one frame as one line on stdout.
fn print_line(raw: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if raw.contains('\n') {
        // Keep the one-frame-one-line promise even if the server pretty-prints.
        let compact =
            serde_json::from_str::<Value>(raw).map(|v| v.to_string()).unwrap_or_else(|_| raw.replace('\n', " "));
        writeln!(out, "{compact}")
    } else {
        writeln!(out, "{raw}")
    }
    .and_then(|()| out.flush())
    .context("writing to stdout")
}

/// Stdin lines, read on a plain thread: a blocking read on tokio's stdin
/// would keep the runtime from shutting down once the server hangs up.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading stdin: {e}");
                    break;
                }
            }
        }
    });
    rx
}

/// Parse an input line: a JSON object or the shorthand. Commands get an `id` if they lack one.
pub fn parse_line(line: &str, fresh_id: impl FnOnce() -> String) -> Result<Option<Value>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut value = if line.starts_with(['{', '[', '"']) {
        serde_json::from_str::<Value>(line).context("not valid JSON")?
    } else {
        shorthand(line)?
    };
    let obj = value.as_object_mut().ok_or_else(|| anyhow!("a frame must be a JSON object"))?;
    let is_command = obj.get("type").and_then(Value::as_str).is_some_and(|t| COMMAND_NAMES.contains(&t));
    if is_command && !obj.contains_key("id") {
        obj.insert("id".into(), Value::String(fresh_id()));
    }
    Ok(Some(value))
}

/// `type key=value ...` → `{"type": type, key: value, ...}`.
fn shorthand(line: &str) -> Result<Value> {
    let (kind, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut obj = Map::new();
    obj.insert("type".into(), Value::String(kind.into()));
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=').ok_or_else(|| anyhow!("expected key=value at {rest:?}"))?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains(char::is_whitespace) {
            bail!("expected key=value at {rest:?}");
        }
        let (value, used) = shorthand_value(&rest[eq + 1..]);
        rest = &rest[eq + 1 + used..];
        insert_path(&mut obj, key, value)?;
    }
    Ok(Value::Object(obj))
}

/// A value at the start of `s` and how many bytes it took: JSON if a JSON
/// value ends right before whitespace or the end, else a bare word as a string.
fn shorthand_value(s: &str) -> (Value, usize) {
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    if let Some(Ok(value)) = values.next() {
        let used = values.byte_offset();
        if s[used..].chars().next().is_none_or(char::is_whitespace) {
            return (value, used);
        }
    }
    let used = s.find(char::is_whitespace).unwrap_or(s.len());
    (Value::String(s[..used].into()), used)
}

/// Set `a.b.c = value` in `obj`, creating objects on the way.
fn insert_path(obj: &mut Map<String, Value>, key: &str, value: Value) -> Result<()> {
    match key.split_once('.') {
        None => {
            obj.insert(key.into(), value);
            Ok(())
        }
        Some((head, tail)) => {
            let child = obj.entry(head).or_insert_with(|| Value::Object(Map::new()));
            let child = child.as_object_mut().ok_or_else(|| anyhow!("{head} is already set to a non-object"))?;
            insert_path(child, tail, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: &str) -> Option<Value> {
        parse_line(line, || "x1".into()).unwrap()
    }

    #[test]
    fn json_lines_get_an_id_when_they_are_commands() {
        assert_eq!(parse(r#"{"type":"start_forum"}"#), Some(json!({"type": "start_forum", "id": "x1"})));
        assert_eq!(parse(r#"{"type":"start_forum","id":"mine"}"#), Some(json!({"type": "start_forum", "id": "mine"})));
        assert_eq!(parse(r#"{"type":"ping"}"#), Some(json!({"type": "ping"})));
        assert_eq!(parse("  "), None);
        assert_eq!(parse("# note"), None);
        assert!(parse_line("[1]", || "x".into()).is_err());
    }

    #[test]
    fn shorthand_values() {
        assert_eq!(
            parse(r#"submit_idea text="more benches, please" "#),
            Some(json!({"type": "submit_idea", "id": "x1", "text": "more benches, please"}))
        );
        assert_eq!(
            parse("submit_idea text=benches"),
            Some(json!({"type": "submit_idea", "id": "x1", "text": "benches"}))
        );
        assert_eq!(
            parse("set_premoderation enabled=true"),
            Some(json!({"type": "set_premoderation", "id": "x1", "enabled": true}))
        );
        // JSON values may contain spaces: the parser reads a whole value.
        assert_eq!(
            parse("cast_ballot poll=1 ballot.kind=ranked ballot.ranking=[2, 1]"),
            Some(
                json!({"type": "cast_ballot", "id": "x1", "poll": 1, "ballot": {"kind": "ranked", "ranking": [2, 1]}})
            )
        );
        assert_eq!(
            parse("cast_ballot poll=1 ballot.kind=ranked ballot.ranking=[2,1]"),
            Some(
                json!({"type": "cast_ballot", "id": "x1", "poll": 1, "ballot": {"kind": "ranked", "ranking": [2, 1]}})
            )
        );
        assert_eq!(
            parse(r#"create_poll title=Best method={"kind":"ranked"} options.from=ideas"#),
            Some(
                json!({"type": "create_poll", "id": "x1", "title": "Best", "method": {"kind": "ranked"}, "options": {"from": "ideas"}})
            )
        );
        assert_eq!(parse("auth token=12abc"), Some(json!({"type": "auth", "token": "12abc"})));
        assert_eq!(parse("start_forum"), Some(json!({"type": "start_forum", "id": "x1"})));
        assert!(parse_line("add_item title", || "x".into()).is_err());
        assert!(parse_line("x a=1 a.b=2", || "x".into()).is_err());
    }
}
