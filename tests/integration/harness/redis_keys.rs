//! A node's Redis seen from the test's side: a key prefix of the test's own,
//! and raw reads of the keys a node wrote (its log stream, key existence),
//! behind the node's back and on whichever cluster node holds the key.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use madang::store::redis::RedisConfig;
use serde_json::Value;

/// A key prefix no other test (or test run) uses: no braces, no whitespace.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("t{}-{test}-{n}", std::process::id())
}

/// One Redis server at `url`, keys under `prefix`.
pub fn redis_single(url: &str, prefix: &str) -> RedisConfig {
    RedisConfig { prefix: prefix.to_string(), ..RedisConfig::single(url) }
}

/// Run a command on whichever of `ports` holds `key` (a cluster answers
/// MOVED elsewhere); the raw reply.
pub fn redis_on_key(ports: &[u16], args: &[&str]) -> redis::Value {
    let mut errors = Vec::new();
    for port in ports {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("redis url");
        let mut con = match client.get_connection_with_timeout(Duration::from_secs(2)) {
            Ok(con) => con,
            Err(e) => {
                errors.push(format!("{port}: {e}"));
                continue;
            }
        };
        con.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        match cmd.query::<redis::Value>(&mut con) {
            Ok(value) => return value,
            Err(e) => errors.push(format!("{port}: {e}")),
        }
    }
    panic!("{args:?} failed on every node: {errors:?}")
}

fn redis_text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        other => panic!("not a string reply: {other:?}"),
    }
}

/// `XRANGE key - +`: each entry's id and its fields (as text).
pub fn stream_entries(ports: &[u16], key: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let redis::Value::Array(entries) = redis_on_key(ports, &["XRANGE", key, "-", "+"]) else {
        panic!("XRANGE {key}: not an array")
    };
    entries
        .iter()
        .map(|entry| {
            let redis::Value::Array(parts) = entry else { panic!("stream entry {entry:?}") };
            let redis::Value::Array(fields) = &parts[1] else { panic!("stream entry fields {entry:?}") };
            let fields = fields.chunks(2).map(|kv| (redis_text(&kv[0]), redis_text(&kv[1]))).collect();
            (redis_text(&parts[0]), fields)
        })
        .collect()
}

/// A forum's log in Redis, each record decoded as JSON (journal entries:
/// `seq`, `at_ms`, `request` {`actor`, `id`}?, `event` {`type`, ...}).
pub fn forum_log(ports: &[u16], prefix: &str, forum: &str) -> Vec<Value> {
    stream_entries(ports, &format!("{prefix}:{{{forum}}}:events"))
        .into_iter()
        .map(|(id, fields)| {
            let entry: Value = serde_json::from_str(&fields["r"]).unwrap_or_else(|e| panic!("record {id}: {e}"));
            assert_eq!(id, format!("0-{}", entry["seq"]), "entry id is 0-<seq>");
            entry
        })
        .collect()
}

/// `EXISTS key` on whichever node holds it.
pub fn redis_key_exists(ports: &[u16], key: &str) -> bool {
    matches!(redis_on_key(ports, &["EXISTS", key]), redis::Value::Int(1))
}
