//! The two wire dialects the generator speaks: Madang's `madang.v1` JSON
//! frames and the peer's Socket.IO v4 / Engine.IO v4 framing over WebSocket.
//!
//! Why one module: every role (voter, display, idle, moderator) does the same
//! things on both targets: log in, cast a ballot, change the agenda, and read
//! acks, tallies and events. Only the bytes differ, so the roles are written
//! once against [`Inbound`] and the frame builders here.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A Madang server (`madang serve`).
    Madang,
    /// The socket.io peer (`load-tests/peers/socketio`).
    Socketio,
    /// The raw fan-out ceiling (`madang-load ceiling-serve`): fixed-size messages, no WebSocket.
    Ceiling,
}

/// A frame from the server, reduced to what the measurements need.
#[derive(Debug)]
pub enum Inbound {
    /// `welcome` (Madang) or the `join` ack (peer).
    Welcome {
        head_seq: u64,
        /// Resumed with a snapshot rather than a replay of the missed events.
        snapshot: bool,
    },
    Ack {
        id: u64,
        seq: u64,
    },
    Error {
        id: Option<u64>,
        code: String,
    },
    Tally {
        seq: u64,
    },
    /// An `event`; `agenda` when its update is an agenda change.
    Event {
        seq: u64,
        agenda: bool,
    },
    /// Engine.IO ping: answer with a pong.
    Ping,
    /// Engine.IO open / Socket.IO connect, or anything else we do not measure.
    Other,
}

#[derive(Deserialize)]
struct MadangFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default)]
    update: Option<UpdateHead>,
    #[serde(default)]
    head_seq: Option<u64>,
    #[serde(default)]
    snapshot: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct UpdateHead {
    kind: String,
}

fn parse_id(id: Option<&str>) -> Option<u64> {
    id.and_then(|s| s.parse().ok())
}

/// Parse one text frame of `target`.
pub fn parse(target: Target, text: &str) -> Inbound {
    match target {
        Target::Madang => parse_madang(text),
        Target::Socketio => parse_socketio(text),
        Target::Ceiling => Inbound::Other,
    }
}

fn parse_madang(text: &str) -> Inbound {
    let Ok(frame) = serde_json::from_str::<MadangFrame>(text) else { return Inbound::Other };
    match &*frame.kind {
        "ack" => match (parse_id(frame.id.as_deref()), frame.seq) {
            (Some(id), Some(seq)) => Inbound::Ack { id, seq },
            _ => Inbound::Other,
        },
        "error" => Inbound::Error {
            id: parse_id(frame.id.as_deref()),
            code: frame.code.map(|code| code.into_owned()).unwrap_or_default(),
        },
        "tally" => Inbound::Tally { seq: frame.seq.unwrap_or(0) },
        "event" => Inbound::Event {
            seq: frame.seq.unwrap_or(0),
            agenda: frame.update.is_some_and(|update| update.kind == "agenda"),
        },
        "welcome" => Inbound::Welcome { head_seq: frame.head_seq.unwrap_or(0), snapshot: frame.snapshot.is_some() },
        _ => Inbound::Other,
    }
}

fn parse_socketio(text: &str) -> Inbound {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'2') if bytes.len() == 1 => return Inbound::Ping,
        Some(b'4') => {}
        _ => return Inbound::Other,
    }
    match bytes.get(1) {
        Some(b'2') => {
            // 42["name",payload]
            let Ok(Value::Array(array)) = serde_json::from_str::<Value>(&text[2..]) else { return Inbound::Other };
            let name = array.first().and_then(Value::as_str).unwrap_or("");
            let payload = array.get(1).cloned().unwrap_or(Value::Null);
            let seq = payload.get("seq").and_then(Value::as_u64).unwrap_or(0);
            match name {
                "tally" => Inbound::Tally { seq },
                "event" => Inbound::Event {
                    seq,
                    agenda: payload.pointer("/update/kind").and_then(Value::as_str) == Some("agenda"),
                },
                _ => Inbound::Other,
            }
        }
        Some(b'3') => {
            // 43<id>[payload]
            let rest = &text[2..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let Ok(id) = rest[..digits].parse::<u64>() else { return Inbound::Other };
            let Ok(Value::Array(array)) = serde_json::from_str::<Value>(&rest[digits..]) else { return Inbound::Other };
            let payload = array.into_iter().next().unwrap_or(Value::Null);
            if let Some(code) = payload.get("error").and_then(Value::as_str) {
                return Inbound::Error { id: Some(id), code: code.to_owned() };
            }
            if let Some(head) = payload.get("head_seq").and_then(Value::as_u64) {
                let replayed = payload.get("replayed").and_then(Value::as_u64).unwrap_or(0) as u32;
                return Inbound::Welcome { head_seq: head, snapshot: replayed == 0 };
            }
            Inbound::Ack { id, seq: payload.get("seq").and_then(Value::as_u64).unwrap_or(0) }
        }
        _ => Inbound::Other,
    }
}

/// Who logs in.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A token: moderator, display or participant.
    Token { token: String, role: &'static str },
    /// A new person with a join code.
    Join { code: String },
}

/// The login frame (`auth`, or the peer's `join` with ack id 0).
pub fn login(target: Target, forum: &str, credential: &Credential, last_seq: Option<u64>) -> String {
    match target {
        Target::Madang => {
            let mut auth = match credential {
                Credential::Token { token, .. } => json!({"type": "auth", "token": token}),
                Credential::Join { code } => json!({"type": "auth", "join_code": code}),
            };
            if let Some(seq) = last_seq {
                auth["last_seq"] = json!(seq);
            }
            auth.to_string()
        }
        Target::Socketio | Target::Ceiling => {
            let (token, role) = match credential {
                Credential::Token { token, role } => (token.as_str(), *role),
                Credential::Join { code } => (code.as_str(), "participant"),
            };
            let mut join = json!({"forum": forum, "token": token, "role": role});
            if let Some(seq) = last_seq {
                join["last_seq"] = json!(seq);
            }
            format!("420{}", json!(["join", join]))
        }
    }
}

/// A yes/no ballot with request id `id`.
pub fn ballot(target: Target, id: u64, poll: u64, choice: &str) -> String {
    match target {
        Target::Madang => format!(
            r#"{{"type":"cast_ballot","id":"{id}","poll":{poll},"ballot":{{"kind":"yes_no","choice":"{choice}"}}}}"#
        ),
        _ => format!(r#"42{id}["ballot",{{"poll":{poll},"choice":"{choice}"}}]"#),
    }
}

/// An agenda change (the pending item's title) with request id `id`.
pub fn agenda_change(target: Target, id: u64, item: u64, n: u64) -> String {
    match target {
        Target::Madang => format!(r#"{{"type":"edit_item","id":"{id}","item":{item},"title":"Budget, version {n}"}}"#),
        _ => format!(r#"42{id}["agenda",{{"title":"Budget, version {n}"}}]"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_dialects() {
        assert!(matches!(parse(Target::Madang, r#"{"type":"ack","id":"7","seq":9}"#), Inbound::Ack { id: 7, seq: 9 }));
        assert!(matches!(
            parse(Target::Madang, r#"{"type":"event","seq":4,"at_ms":1,"update":{"kind":"agenda","agenda":[]}}"#),
            Inbound::Event { seq: 4, agenda: true }
        ));
        assert!(matches!(parse(Target::Socketio, r#"437[{"seq":12}]"#), Inbound::Ack { id: 7, seq: 12 }));
        assert!(matches!(parse(Target::Socketio, r#"42["tally",{"seq":3,"tally":{}}]"#), Inbound::Tally { seq: 3 }));
        assert!(matches!(parse(Target::Socketio, "2"), Inbound::Ping));
        assert!(matches!(
            parse(Target::Socketio, r#"430[{"head_seq":5,"replayed":0}]"#),
            Inbound::Welcome { head_seq: 5, .. }
        ));
    }
}
