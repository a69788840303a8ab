//! The last-resort cleanup for servers whose handle is never dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Kill `pid` and remove `dir` once this (test) process has exited. Only
/// matters for servers whose handle is never dropped (statics); otherwise it
/// is killed together with the server.
pub(crate) fn spawn_watchdog(pid: u32, dir: &Path) -> Child {
    let script = r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done
if grep -q redis-server "/proc/$1/comm" 2>/dev/null; then kill -9 "$1"; fi
rm -rf "$2""#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::process::id().to_string())
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watchdog sh")
}
