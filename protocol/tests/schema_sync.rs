//! Keeps the checked-in JSON Schema, the example frames and SPEC.md in step
//! with the protocol types.
//!
//! - `schema/*.schema.json` must equal what `madang_protocol::schema`
//!   generates. Run with `MADANG_UPDATE_SCHEMA=1` to rewrite them.
//! - Every `examples/frames/*.json` must parse (client frames with
//!   `parse_client_frame`; server frames and HTTP bodies must survive a
//!   deserialize/serialize round trip unchanged) and must be valid against
//!   the checked-in schema.
//! - SPEC.md must show every example file in a ```json block, and every
//!   ```json block of SPEC.md must be one of the example files. The lines of
//!   the example session (`→ {...}` from the client, `← {...}` from the
//!   server) are checked the same way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use madang_protocol::{
    COMMAND_NAMES, ClientFrame, CreateForumRequest, CreateForumResponse, ErrorBody, ErrorCode, ForumView, ServerFrame,
    parse_client_frame, schema,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A schema as generated; `schema_files_are_up_to_date` checks that the
/// checked-in file is the same text.
fn load_schema(file: &str) -> Value {
    let (_, text) = schema::all().into_iter().find(|(name, _)| *name == file).expect("a known schema file");
    serde_json::from_str(&text).expect("a schema is JSON")
}

/// The example files, sorted by name, with their text.
fn examples() -> Vec<(String, String)> {
    let dir = crate_dir().join("examples").join("frames");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), read(&p)))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no examples in {}", dir.display());
    out
}

// ---------------------------------------------------------------------------
// A small JSON Schema validator: exactly the keywords the generated schemas
// use. An unknown keyword fails the test, so that a schemars upgrade that
// starts emitting new keywords is noticed rather than silently ignored.

fn validate(root: &Value, schema: &Value, inst: &Value, at: &str) -> Result<(), String> {
    let obj = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: schema `false` accepts nothing")),
        Value::Object(obj) => obj,
        other => panic!("not a schema: {other}"),
    };
    for (key, value) in obj {
        match key.as_str() {
            "$schema" | "$defs" | "title" | "description" | "default" | "format" | "examples" => {}
            "$ref" => {
                let reference = value.as_str().expect("$ref is a string");
                let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {reference}"));
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "dangling $ref {reference}");
                validate(root, target, inst, at)?;
            }
            "type" => {
                let types: Vec<&str> = match value {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().map(|t| t.as_str().expect("type name")).collect(),
                    other => panic!("bad `type` {other}"),
                };
                if !types.iter().any(|t| has_type(inst, t)) {
                    return Err(format!("{at}: expected {types:?}, got {inst}"));
                }
            }
            "const" => {
                if inst != value {
                    return Err(format!("{at}: expected {value}, got {inst}"));
                }
            }
            "enum" => {
                if !value.as_array().expect("enum is an array").contains(inst) {
                    return Err(format!("{at}: {inst} is not one of {value}"));
                }
            }
            "properties" => {
                if let Value::Object(fields) = inst {
                    for (name, sub) in value.as_object().expect("properties is an object") {
                        if let Some(v) = fields.get(name) {
                            validate(root, sub, v, &format!("{at}/{name}"))?;
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Value::Object(fields) = inst {
                    let known = obj.get("properties").and_then(Value::as_object);
                    for (name, v) in fields {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            validate(root, value, v, &format!("{at}/{name}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Value::Object(fields) = inst {
                    for name in value.as_array().expect("required is an array") {
                        let name = name.as_str().expect("required names are strings");
                        if !fields.contains_key(name) {
                            return Err(format!("{at}: missing required `{name}`"));
                        }
                    }
                }
            }
            "items" => {
                if let Value::Array(elems) = inst {
                    for (i, v) in elems.iter().enumerate() {
                        validate(root, value, v, &format!("{at}/{i}"))?;
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Value::Array(elems) = inst {
                    check_bound(key, value, elems.len() as f64, at)?;
                }
            }
            "minLength" | "maxLength" => {
                if let Value::String(s) = inst {
                    check_bound(key, value, s.chars().count() as f64, at)?;
                }
            }
            "minimum" | "maximum" => {
                if let Some(n) = inst.as_f64() {
                    check_bound(key, value, n, at)?;
                }
            }
            "oneOf" => {
                let subs = value.as_array().expect("oneOf is an array");
                let matched = subs.iter().filter(|s| validate(root, s, inst, at).is_ok()).count();
                if matched != 1 {
                    return Err(format!("{at}: {matched} of the oneOf alternatives match {inst}"));
                }
            }
            "anyOf" => {
                let subs = value.as_array().expect("anyOf is an array");
                if !subs.iter().any(|s| validate(root, s, inst, at).is_ok()) {
                    let why: Vec<String> = subs.iter().filter_map(|s| validate(root, s, inst, at).err()).collect();
                    return Err(format!("{at}: no anyOf alternative matches: {why:?}"));
                }
            }
            other => panic!("the test validator does not know the keyword `{other}`; teach it"),
        }
    }
    Ok(())
}

fn has_type(inst: &Value, ty: &str) -> bool {
    match ty {
        "null" => inst.is_null(),
        "boolean" => inst.is_boolean(),
        "string" => inst.is_string(),
        "array" => inst.is_array(),
        "object" => inst.is_object(),
        "number" => inst.is_number(),
        "integer" => inst.is_u64() || inst.is_i64(),
        other => panic!("unknown type {other}"),
    }
}

fn check_bound(key: &str, bound: &Value, actual: f64, at: &str) -> Result<(), String> {
    let bound = bound.as_f64().expect("a numeric bound");
    let ok = if key.starts_with("min") { actual >= bound } else { actual <= bound };
    if ok { Ok(()) } else { Err(format!("{at}: {key} {bound} violated by {actual}")) }
}

fn validate_root(schema: &Value, inst: &Value) -> Result<(), String> {
    validate(schema, schema, inst, "#")
}

fn validate_def(schema: &Value, def: &str, inst: &Value) -> Result<(), String> {
    validate(schema, &schema["$defs"][def], inst, "#")
}

// ---------------------------------------------------------------------------

#[test]
fn schema_files_are_up_to_date() {
    let dir = crate_dir().join("schema");
    let update = std::env::var("MADANG_UPDATE_SCHEMA").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, generated) in schema::all() {
        let path = dir.join(file);
        if update {
            std::fs::create_dir_all(&dir).expect("create schema/");
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "schema files out of date: {stale:?}; regenerate with `MADANG_UPDATE_SCHEMA=1 cargo test -p madang-protocol --test schema_sync`"
    );
}

#[test]
fn schemas_are_json_schema_2020_12() {
    for (file, generated) in schema::all() {
        let value: Value = serde_json::from_str(&generated).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(value["$schema"], "https://json-schema.org/draft/2020-12/schema", "{file}");
        assert!(value["title"].is_string(), "{file} has a title");
    }
}

/// Deserialize into `T`, serialize again, and require the same JSON value.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, text: &str) -> Result<Value, String> {
    let original: Value = serde_json::from_str(text).map_err(|e| format!("{name}: not JSON: {e}"))?;
    let typed: T = serde_json::from_str(text).map_err(|e| format!("{name}: does not deserialize: {e}"))?;
    let again = serde_json::to_value(&typed).expect("serializes");
    if again != original {
        return Err(format!("{name}: round trip changed it\n  file: {original}\n  back: {again}"));
    }
    Ok(original)
}

fn check_client(name: &str, text: &str, client_schema: &Value) -> Result<ClientFrame, String> {
    let frame = parse_client_frame(text).map_err(|e| format!("{name}: parse_client_frame refused it: {e:?}"))?;
    schema::matches_client_frame_schema(text).map_err(|e| format!("{name}: schema type refused it: {e}"))?;
    let value: Value = serde_json::from_str(text).expect("parsed above");
    validate_root(client_schema, &value).map_err(|e| format!("{name}: not valid against client-frame schema: {e}"))?;
    Ok(frame)
}

fn check_server(name: &str, text: &str, server_schema: &Value) -> Result<Value, String> {
    let value = round_trip::<ServerFrame>(name, text)?;
    validate_root(server_schema, &value).map_err(|e| format!("{name}: not valid against server-frame schema: {e}"))?;
    Ok(value)
}

#[test]
fn example_frames_parse_and_match_the_schema() {
    let client_schema = load_schema("client-frame.schema.json");
    let server_schema = load_schema("server-frame.schema.json");
    let mut failures = Vec::new();
    let mut commands = BTreeSet::new();
    let mut server_types = BTreeSet::new();
    let mut update_kinds = BTreeSet::new();
    let mut tally_methods = BTreeSet::new();
    let mut ballot_kinds = BTreeSet::new();
    for (name, text) in examples() {
        let result = if name.starts_with("client.") {
            check_client(&name, &text, &client_schema).map(|frame| {
                if let ClientFrame::Command { command, .. } = &frame {
                    commands.insert(command.name());
                    if let madang_protocol::Command::CastBallot { ballot, .. } = command {
                        let v = serde_json::to_value(ballot).unwrap();
                        ballot_kinds.insert(v["kind"].as_str().unwrap().to_owned());
                    }
                }
            })
        } else if name.starts_with("server.") {
            check_server(&name, &text, &server_schema).map(|v| {
                server_types.insert(v["type"].as_str().unwrap().to_owned());
                if let Some(kind) = v["update"]["kind"].as_str() {
                    update_kinds.insert(kind.to_owned());
                }
                if let Some(method) = v["tally"]["result"]["method"].as_str() {
                    tally_methods.insert(method.to_owned());
                }
            })
        } else if name == "http.create_forum.request.json" {
            serde_json::from_str::<CreateForumRequest>(&text).map_err(|e| format!("{name}: {e}")).and_then(|_| {
                validate_root(&load_schema("create-forum-request.schema.json"), &serde_json::from_str(&text).unwrap())
            })
        } else if name == "http.create_forum.response.json" {
            round_trip::<CreateForumResponse>(&name, &text)
                .and_then(|v| validate_root(&load_schema("create-forum-response.schema.json"), &v))
        } else if name == "http.error.json" {
            round_trip::<ErrorBody>(&name, &text)
                .and_then(|v| validate_root(&load_schema("error-body.schema.json"), &v))
        } else if name == "http.issue_tickets.request.json" {
            round_trip::<madang_protocol::IssueTicketsRequest>(&name, &text)
                .and_then(|v| validate_root(&load_schema("issue-tickets-request.schema.json"), &v))
        } else if name == "http.tickets.response.json" {
            round_trip::<madang_protocol::TicketList>(&name, &text)
                .and_then(|v| validate_root(&load_schema("ticket-list.schema.json"), &v))
        } else if name == "http.forum_view.json" {
            round_trip::<ForumView>(&name, &text).and_then(|v| validate_def(&server_schema, "ForumView", &v))
        } else {
            Err(format!("{name}: unknown example kind; name it client.*, server.* or one of the http.* bodies"))
        };
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every message, update kind, tally method and ballot kind has an example.
    let all_commands: BTreeSet<&str> = COMMAND_NAMES.iter().copied().collect();
    let missing: Vec<_> = all_commands.difference(&commands).collect();
    assert!(missing.is_empty(), "commands without an example: {missing:?}");
    let want = |names: &[&str], got: &BTreeSet<String>, what: &str| {
        let missing: Vec<_> = names.iter().filter(|n| !got.contains(**n)).collect();
        assert!(missing.is_empty(), "{what} without an example: {missing:?}");
    };
    want(&["welcome", "event", "tally", "ack", "error", "pong"], &server_types, "server frames");
    want(&["forum", "agenda", "idea", "idea_removed", "poll", "participants"], &update_kinds, "update kinds");
    want(&["yes_no", "approval", "dots", "score", "ranked"], &tally_methods, "tally methods");
    want(&["yes_no", "approval", "dots", "score", "ranked"], &ballot_kinds, "ballot kinds");
}

/// Frames the parser refuses must be refused by the schema too, and the
/// other way round.
#[test]
fn schema_and_parser_agree_on_bad_frames() {
    let client_schema = load_schema("client-frame.schema.json");
    let long_id = "x".repeat(65);
    let bad = [
        r#"{"type":"open_poll","poll":1}"#.to_owned(),
        r#"{"type":"open_poll","id":"","poll":1}"#.to_owned(),
        format!(r#"{{"type":"open_poll","id":"{long_id}","poll":1}}"#),
        r#"{"type":"open_poll","id":7,"poll":1}"#.to_owned(),
        r#"{"type":"open_poll","id":"a"}"#.to_owned(),
        r#"{"type":"open_poll","id":"a","poll":-1}"#.to_owned(),
        r#"{"type":"cast_ballot","id":"a","poll":1,"ballot":{"kind":"ranked"}}"#.to_owned(),
        r#"{"type":"cast_ballot","id":"a","poll":1,"ballot":{"kind":"borda","ranking":[1]}}"#.to_owned(),
        r#"{"type":"create_poll","id":"a","title":"t","method":{"kind":"ranked"}}"#.to_owned(),
        r#"{"type":"launch_rockets","id":"a"}"#.to_owned(),
        r#"{"id":"a"}"#.to_owned(),
        r#"{"type":"auth","last_seq":-3}"#.to_owned(),
        r#"{"type":"ping","id":5}"#.to_owned(),
    ];
    for text in &bad {
        assert!(parse_client_frame(text).is_err(), "parser accepted {text}");
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(validate_root(&client_schema, &value).is_err(), "schema accepted {text}");
        assert!(schema::matches_client_frame_schema(text).is_err(), "schema type accepted {text}");
    }
    assert_eq!(
        parse_client_frame(r#"{"type":"launch_rockets","id":"a"}"#).unwrap_err().code,
        ErrorCode::UnknownMessage
    );
    assert_eq!(parse_client_frame("not json").unwrap_err().code, ErrorCode::BadRequest);

    let max_id = "x".repeat(64);
    let good = [
        format!(r#"{{"type":"open_poll","id":"{max_id}","poll":1}}"#),
        r#"{"type":"start_forum","id":"a","unknown_field":true}"#.to_owned(),
        r#"{"type":"ping"}"#.to_owned(),
        r#"{"type":"auth"}"#.to_owned(),
    ];
    for text in &good {
        assert!(parse_client_frame(text).is_ok(), "parser refused {text}");
        let value: Value = serde_json::from_str(text).unwrap();
        validate_root(&client_schema, &value).unwrap_or_else(|e| panic!("schema refused {text}: {e}"));
    }
}

fn spec() -> String {
    read(&crate_dir().join("SPEC.md"))
}

/// The contents of every ```json block of the text.
fn json_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == "```json" => current = Some(String::new()),
            Some(block) if trimmed == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "unterminated ```json block in SPEC.md");
    blocks
}

#[test]
fn spec_shows_exactly_the_example_files() {
    let spec = spec();
    let blocks: Vec<Value> = json_blocks(&spec)
        .iter()
        .map(|b| {
            serde_json::from_str(b).unwrap_or_else(|e| panic!("a ```json block in SPEC.md is not JSON ({e}):\n{b}"))
        })
        .collect();
    let examples: Vec<(String, Value)> =
        examples().into_iter().map(|(name, text)| (name, serde_json::from_str(&text).unwrap())).collect();
    let missing: Vec<&str> =
        examples.iter().filter(|(_, v)| !blocks.contains(v)).map(|(name, _)| name.as_str()).collect();
    assert!(missing.is_empty(), "SPEC.md does not show these example files: {missing:?}");
    let unchecked: Vec<String> =
        blocks.iter().filter(|b| !examples.iter().any(|(_, v)| v == *b)).map(|b| b.to_string()).collect();
    assert!(
        unchecked.is_empty(),
        "SPEC.md has ```json blocks that are not example files (add them under examples/frames/):\n{}",
        unchecked.join("\n")
    );
}

#[test]
fn spec_session_transcript_is_valid() {
    let client_schema = load_schema("client-frame.schema.json");
    let server_schema = load_schema("server-frame.schema.json");
    let mut seen = 0;
    let mut failures = Vec::new();
    for (n, line) in spec().lines().enumerate() {
        let name = format!("SPEC.md line {}", n + 1);
        let result = if let Some(json) = line.strip_prefix("→ ") {
            check_client(&name, json, &client_schema).map(drop)
        } else if let Some(json) = line.strip_prefix("← ") {
            check_server(&name, json, &server_schema).map(drop)
        } else {
            continue;
        };
        seen += 1;
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert!(seen >= 10, "SPEC.md has an example session with `→ ` and `← ` lines");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The example record (`examples/record/*.jsonl`, written by the server's
/// builder and kept identical to it by a test there): each line is valid
/// against `record.schema.json`, reads back and serializes to the same bytes,
/// and chains to the line before by the SHA-256 of its bytes (RECORD.md §1).
#[test]
fn example_record_chains_and_matches_the_schema() {
    use sha2::{Digest, Sha256};
    let schema = load_schema("record.schema.json");
    let dir = crate_dir().join("examples").join("record");
    let mut types = BTreeSet::new();
    for file in ["forum.jsonl", "committee.jsonl"] {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert_eq!(bytes.last(), Some(&b'\n'), "the record ends with a newline");
        let mut prev = madang_protocol::RECORD_GENESIS.to_string();
        for (k, line) in bytes[..bytes.len() - 1].split(|b| *b == b'\n').enumerate() {
            let at = format!("{file} line {}", k + 1);
            let value: Value = serde_json::from_slice(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            validate_root(&schema, &value).unwrap_or_else(|e| panic!("{at}: {e}"));
            let typed: madang_protocol::RecordLine =
                serde_json::from_slice(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(serde_json::to_vec(&typed).unwrap(), line, "{at} serializes back to its bytes");
            assert_eq!(typed.n, k as u64 + 1, "{at}");
            assert_eq!(typed.prev, prev, "{at} chains to the line before");
            if k == 0 {
                assert_eq!(value["type"], "forum");
                assert_eq!(value["format"], madang_protocol::RECORD_FORMAT);
            }
            if let madang_protocol::RecordBody::PollOutcome { outcome, .. } = &typed.body {
                let stamp = outcome.record.as_ref().expect("a closed poll's outcome carries the record stamp");
                assert_eq!(stamp.head, prev, "{at}: the stamp is the hash of the line before");
            }
            types.insert(value["type"].as_str().unwrap().to_owned());
            prev = hex::encode(Sha256::digest(line));
        }
    }
    // The schema lists every line type; the examples show each of them.
    let listed: BTreeSet<String> = schema["oneOf"]
        .as_array()
        .expect("a union of line types")
        .iter()
        .map(|alt| alt["properties"]["type"]["const"].as_str().expect("each alternative names its type").to_owned())
        .collect();
    let missing: Vec<_> = listed.difference(&types).collect();
    assert!(missing.is_empty(), "line types without an example: {missing:?}");
    let named: BTreeSet<String> = madang_protocol::RECORD_LINE_TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(named, listed, "RECORD_LINE_TYPES lists exactly the schema's line types");
}
