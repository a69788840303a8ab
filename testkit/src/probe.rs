//! Small synchronous probes: a free loopback port, one command against a
//! port, whether a binary is on PATH.
//!
//! Deliberately blocking and with short timeouts: they run while a server
//! starts or while a test inspects Redis behind the server's back.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::NOT_FOUND;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

pub(crate) fn ping(port: u16) -> bool {
    query(port, &["PING"]).is_some_and(|r| r == "PONG")
}

/// Run one command against 127.0.0.1:`port` with short timeouts; the reply as text.
pub fn query(port: u16, args: &[&str]) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    con.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    con.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query::<redis::Value>(&mut con).ok().map(value_text)
}

fn value_text(value: redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::SimpleString(s) => s,
        redis::Value::Okay => "OK".into(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::VerbatimString { text, .. } => text,
        redis::Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

pub(crate) fn require_binary(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(name))))
        .unwrap_or(false);
    if !found {
        panic!("{NOT_FOUND}");
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
