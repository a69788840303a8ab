//! Replays the example transcripts under `protocol/examples/transcripts/`
//! against a real server (ephemeral port, real WebSocket clients).
//!
//! Each transcript is a JSON file documenting one session step by step; its
//! format is described in `protocol/examples/transcripts/README.md`. Every
//! file in that directory is replayed, each against a fresh server and data
//! directory; a failure names the file, the step index, the step, and the
//! frames the client received that no step consumed.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::harness::{ADMIN, Client, TestServer};

/// How long an `expect` waits for its frame unless the step says otherwise.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(5);

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/examples/transcripts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcripts_replay_against_a_real_server() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(transcripts_dir())
        .expect("protocol/examples/transcripts exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts found");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        match run_file(file).await {
            Ok(steps) => eprintln!("transcript {name}: {steps} steps ok"),
            Err(report) => {
                eprintln!("transcript {name}: FAILED (details below)");
                failures.push(format!("{name}:\n{report}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} transcripts failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

async fn run_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let transcript: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    for key in ["title", "description"] {
        if !transcript[key].is_string() {
            return Err(format!("`{key}` must be a string"));
        }
    }
    let steps = transcript["steps"].as_array().ok_or("`steps` must be an array")?.clone();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut run =
        Run { server: Some(TestServer::start(dir.path()).await), vars: HashMap::new(), conns: HashMap::new() };
    let result = run.play(&transcript["forum"], &steps).await;
    run.shutdown().await;
    result.map(|()| steps.len())
}

/// One connection of a transcript.
struct Conn {
    client: Client,
    /// Frames received and not yet consumed by an `expect`, oldest first.
    aside: VecDeque<Value>,
    /// Every frame received on this connection, in order.
    history: Vec<Value>,
    /// The close code, once the server closed the connection.
    closed: Option<u16>,
}

enum Incoming {
    Frame(Value),
    Closed(u16),
}

impl Conn {
    /// The next frame or close off the socket, waiting until `deadline`.
    async fn receive(&mut self, deadline: Instant) -> Result<Option<Incoming>, String> {
        if let Some(code) = self.closed {
            return Ok(Some(Incoming::Closed(code)));
        }
        loop {
            let next = match tokio::time::timeout_at(deadline, self.client.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(next) => next,
            };
            let message = match next {
                None => return Err("the socket ended without a close frame".into()),
                Some(Err(err)) => return Err(format!("socket error: {err}")),
                Some(Ok(m)) => m,
            };
            match message {
                Message::Text(text) => {
                    let frame: Value =
                        serde_json::from_str(&text).map_err(|e| format!("server sent non-JSON {text:?}: {e}"))?;
                    self.history.push(frame.clone());
                    return Ok(Some(Incoming::Frame(frame)));
                }
                Message::Close(frame) => {
                    let code = frame.map_or(1005, |CloseFrame { code, .. }| u16::from(code));
                    self.closed = Some(code);
                    return Ok(Some(Incoming::Closed(code)));
                }
                _ => continue,
            }
        }
    }

    fn describe_aside(&self) -> String {
        if self.aside.is_empty() {
            return "  (none)".into();
        }
        self.aside.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
    }
}

struct Run {
    server: Option<TestServer>,
    vars: HashMap<String, Value>,
    conns: HashMap<String, Conn>,
}

impl Run {
    fn server(&self) -> &TestServer {
        self.server.as_ref().expect("server running")
    }

    async fn shutdown(&mut self) {
        self.conns.clear();
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    async fn play(&mut self, forum: &Value, steps: &[Value]) -> Result<(), String> {
        self.create_forum(forum).await.map_err(|e| format!("creating the forum: {e}"))?;
        for (index, step) in steps.iter().enumerate() {
            if let Err(reason) = self.step(step).await {
                let mut report = format!("step {index}: {step}\n{reason}");
                if let Some(who) = step_client(step)
                    && let Some(conn) = self.conns.get(who)
                {
                    report.push_str(&format!(
                        "\nframes {who} received that no step consumed:\n{}",
                        conn.describe_aside()
                    ));
                }
                return Err(report);
            }
        }
        Ok(())
    }

    async fn create_forum(&mut self, body: &Value) -> Result<(), String> {
        if !body.is_object() {
            return Err("`forum` must be a CreateForumRequest object".into());
        }
        let res = reqwest::Client::new()
            .post(self.server().http("/api/forums"))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let created: Value = res.json().await.map_err(|e| e.to_string())?;
        if status != 201 {
            return Err(format!("status {status}: {created}"));
        }
        for (var, pointer) in [
            ("forum_id", "/id"),
            ("moderator_token", "/moderator_token"),
            ("display_token", "/display_token"),
            ("remote_code", "/join_codes/remote"),
            ("hall_code", "/join_codes/hall"),
        ] {
            let value = created.pointer(pointer).ok_or_else(|| format!("no {pointer} in {created}"))?;
            self.vars.insert(var.into(), value.clone());
        }
        Ok(())
    }

    fn conn(&mut self, who: &str) -> Result<&mut Conn, String> {
        self.conns.get_mut(who).ok_or_else(|| format!("no open connection named {who:?}"))
    }

    async fn step(&mut self, step: &Value) -> Result<(), String> {
        let obj = step.as_object().ok_or("a step must be an object")?;
        let name = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
        if let Some(who) = name("connect") {
            if self.conns.contains_key(&who) {
                return Err(format!("{who} is already connected; `disconnect` first"));
            }
            let auth = substitute(obj.get("auth").ok_or("`connect` needs `auth`")?, &self.vars)?;
            let mut client = Client::connect(&self.server().ws_url()).await;
            client.send(auth).await;
            self.conns.insert(who, Conn { client, aside: VecDeque::new(), history: Vec::new(), closed: None });
        } else if let Some(who) = name("send") {
            let frame = substitute(obj.get("frame").ok_or("`send` needs `frame`")?, &self.vars)?;
            let conn = self.conn(&who)?;
            conn.client.ws.send(Message::Text(frame.to_string().into())).await.map_err(|e| format!("send: {e}"))?;
        } else if let Some(who) = name("send_text") {
            let text = obj.get("text").and_then(Value::as_str).ok_or("`send_text` needs a string `text`")?.to_string();
            let conn = self.conn(&who)?;
            conn.client.ws.send(Message::Text(text.into())).await.map_err(|e| format!("send: {e}"))?;
        } else if let Some(who) = name("expect") {
            let pattern = obj.get("frame").ok_or("`expect` needs `frame`")?;
            let timeout = obj.get("timeout_ms").and_then(Value::as_u64).map_or(EXPECT_TIMEOUT, Duration::from_millis);
            self.expect(&who, pattern, timeout, false).await?;
        } else if let Some(who) = name("expect_next") {
            let pattern = obj.get("frame").ok_or("`expect_next` needs `frame`")?;
            self.expect(&who, pattern, EXPECT_TIMEOUT, true).await?;
        } else if let Some(who) = name("never") {
            let pattern = obj.get("frame").ok_or("`never` needs `frame`")?;
            let vars = self.vars.clone();
            let conn = self.conn(&who)?;
            for frame in &conn.history {
                let mut scratch = vars.clone();
                if matches(pattern, frame, &mut scratch) {
                    return Err(format!(
                        "{who} received a frame it should not have:\n  pattern: {pattern}\n  frame:   {frame}"
                    ));
                }
            }
        } else if let Some(who) = name("expect_close") {
            let want = obj.get("code").and_then(Value::as_u64).ok_or("`expect_close` needs a numeric `code`")?;
            let conn = self.conn(&who)?;
            let deadline = Instant::now() + EXPECT_TIMEOUT;
            loop {
                match conn.receive(deadline).await? {
                    None => return Err(format!("{who} was not closed in time")),
                    Some(Incoming::Frame(frame)) => conn.aside.push_back(frame),
                    Some(Incoming::Closed(code)) if u64::from(code) == want => break,
                    Some(Incoming::Closed(code)) => {
                        return Err(format!("{who} was closed with {code}, expected {want}"));
                    }
                }
            }
            self.conns.remove(&who);
        } else if let Some(who) = name("disconnect") {
            let mut conn = self.conns.remove(&who).ok_or_else(|| format!("no open connection named {who:?}"))?;
            let _ = conn.client.ws.close(None).await;
            // Wait (bounded) for the server's half of the closing handshake.
            let deadline = Instant::now() + EXPECT_TIMEOUT;
            while let Ok(Some(Incoming::Frame(_))) = conn.receive(deadline).await {}
        } else if obj.get("restart") == Some(&Value::Bool(true)) {
            self.conns.clear();
            let server = self.server.take().expect("server running");
            let dir = server.data_dir.clone();
            server.stop().await;
            self.server = Some(TestServer::start(&dir).await);
        } else if let Some(path) = name("get") {
            let url = self.server().http(&interpolate(&path, &self.vars)?);
            let res = reqwest::get(url).await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let body: Value = res.json().await.map_err(|e| format!("body is not JSON: {e}"))?;
            let want = obj.get("status").and_then(Value::as_u64).unwrap_or(200);
            if u64::from(status) != want {
                return Err(format!("GET answered {status}, expected {want}: {body}"));
            }
            if let Some(pattern) = obj.get("body")
                && !matches(pattern, &body, &mut self.vars)
            {
                return Err(format!("GET body does not match\n  pattern: {pattern}\n  body:    {body}"));
            }
        } else if let Some(ms) = obj.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        } else {
            return Err("unknown step".into());
        }
        Ok(())
    }

    /// Wait for a frame matching `pattern` from `who`; frames that do not
    /// match are kept aside for later expects. With `next`, the oldest frame
    /// not yet consumed must match.
    async fn expect(&mut self, who: &str, pattern: &Value, timeout: Duration, next: bool) -> Result<(), String> {
        let mut vars = self.vars.clone();
        let conn = self.conns.get_mut(who).ok_or_else(|| format!("no open connection named {who:?}"))?;
        let found = if next {
            let frame = match conn.aside.pop_front() {
                Some(frame) => Some(frame),
                None => match conn.receive(Instant::now() + timeout).await? {
                    Some(Incoming::Frame(frame)) => Some(frame),
                    Some(Incoming::Closed(code)) => return Err(format!("{who} was closed with {code}")),
                    None => None,
                },
            };
            match frame {
                Some(frame) if matches(pattern, &frame, &mut vars) => true,
                Some(frame) => {
                    let report =
                        format!("the next frame of {who} does not match\n  pattern: {pattern}\n  frame:   {frame}");
                    conn.aside.push_front(frame);
                    return Err(report);
                }
                None => false,
            }
        } else if let Some(i) = conn.aside.iter().position(|f| matches(pattern, f, &mut vars.clone())) {
            let frame = conn.aside.remove(i).expect("index in range");
            matches(pattern, &frame, &mut vars)
        } else {
            let deadline = Instant::now() + timeout;
            loop {
                match conn.receive(deadline).await? {
                    None => break false,
                    Some(Incoming::Closed(code)) => {
                        return Err(format!("{who} was closed with {code} while waiting for\n  pattern: {pattern}"));
                    }
                    Some(Incoming::Frame(frame)) => {
                        if matches(pattern, &frame, &mut vars) {
                            break true;
                        }
                        vars = self.vars.clone();
                        conn.aside.push_back(frame);
                    }
                }
            }
        };
        if !found {
            return Err(format!("timed out after {timeout:?} waiting for {who} to receive\n  pattern: {pattern}"));
        }
        self.vars = vars;
        Ok(())
    }
}

fn step_client(step: &Value) -> Option<&str> {
    ["connect", "send", "send_text", "expect", "expect_next", "never", "expect_close", "disconnect"]
        .iter()
        .find_map(|k| step.get(*k).and_then(Value::as_str))
}

/// Replace every string `"$name"` by the variable's value (`"$$..."` is a
/// literal string starting with `$`).
fn substitute(value: &Value, vars: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.starts_with("$$") => Value::String(s[1..].to_string()),
        Value::String(s) if s.starts_with('$') => {
            vars.get(&s[1..]).cloned().ok_or_else(|| format!("unknown variable {s}"))?
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, vars)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), substitute(v, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Replace each `$name` inside a string (a `get` path) by the variable's value.
fn interpolate(text: &str, vars: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..len];
        match vars.get(name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => return Err(format!("unknown variable ${name}")),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Does `actual` match `pattern`? Objects match partially (every key of the
/// pattern must match; `"$absent"` requires the key to be missing), arrays
/// exactly (same length, elementwise), numbers by value, other scalars by
/// equality. `"*"` matches anything, `"$capture:name"` matches anything and
/// stores it in `vars`, `"$name"` matches the variable's value.
fn matches(pattern: &Value, actual: &Value, vars: &mut HashMap<String, Value>) -> bool {
    match (pattern, actual) {
        (Value::String(p), _) if p == "*" => true,
        (Value::String(p), _) if p.starts_with("$capture:") => {
            vars.insert(p["$capture:".len()..].to_string(), actual.clone());
            true
        }
        (Value::String(p), _) if p.starts_with("$$") => actual.as_str() == Some(&p[1..]),
        (Value::String(p), _) if p.starts_with('$') => match vars.get(&p[1..]) {
            Some(value) => {
                let value = value.clone();
                matches(&value, actual, vars)
            }
            None => false,
        },
        (Value::Object(p), Value::Object(a)) => p.iter().all(|(key, want)| match (want, a.get(key)) {
            (Value::String(s), got) if s == "$absent" => got.is_none(),
            (_, None) => false,
            (want, Some(got)) => matches(want, got, vars),
        }),
        (Value::Array(p), Value::Array(a)) => p.len() == a.len() && p.iter().zip(a).all(|(p, a)| matches(p, a, vars)),
        (Value::Number(p), Value::Number(a)) => p == a || p.as_f64() == a.as_f64(),
        (p, a) => p == a,
    }
}

#[test]
fn the_matcher_behaves_as_documented() {
    let mut vars = HashMap::new();
    let frame = serde_json::json!({"type": "ack", "id": "m-1", "seq": 7, "list": [1, 2], "mean": 4.0});
    assert!(matches(&serde_json::json!({"type": "ack"}), &frame, &mut vars));
    assert!(!matches(&serde_json::json!({"type": "error"}), &frame, &mut vars));
    assert!(matches(&serde_json::json!({"seq": "$capture:s", "duplicate": "$absent", "mean": 4}), &frame, &mut vars));
    assert_eq!(vars["s"], 7);
    assert!(matches(&serde_json::json!({"seq": "$s", "id": "*"}), &frame, &mut vars));
    assert!(!matches(&serde_json::json!({"missing": "*"}), &frame, &mut vars));
    assert!(!matches(&serde_json::json!({"list": [1]}), &frame, &mut vars));
    assert!(matches(&serde_json::json!({"list": [1, "*"]}), &frame, &mut vars));
    assert_eq!(
        substitute(&serde_json::json!({"a": "$s", "b": "$$s"}), &vars).unwrap(),
        serde_json::json!({"a": 7, "b": "$s"})
    );
}
