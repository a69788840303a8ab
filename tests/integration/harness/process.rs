//! The real `madang` binary as a child process, for what only a process
//! shows: SIGKILL and SIGTERM, the command line, several nodes on one Redis.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::client::Client;
use super::http::create_forum;

/// The admin token of nodes started as [`Process`].
pub const PROCESS_ADMIN: &str = "crash-admin";

/// The real `madang` binary as a child process (killed on drop).
pub struct Process {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl Process {
    /// `madang serve` on the embedded store in `data_dir`.
    pub async fn start(data_dir: &Path) -> Process {
        Self::start_args(data_dir, &[]).await
    }

    /// `madang serve` on an ephemeral loopback port with `extra` arguments;
    /// returns once the banner named the address.
    pub async fn start_args(data_dir: &Path, extra: &[&str]) -> Process {
        Self::launch(tokio::process::Command::new(env!("CARGO_BIN_EXE_madang")), data_dir, extra).await
    }

    /// `madang serve` started with the soft open-file limit lowered to
    /// `soft` (by the shell that `exec`s it), as on a distribution's defaults.
    pub async fn start_with_soft_file_limit(data_dir: &Path, soft: u64, extra: &[&str]) -> Process {
        let mut shell = tokio::process::Command::new("sh");
        shell.args(["-c", &format!("ulimit -Sn {soft} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_madang")]);
        Self::launch(shell, data_dir, extra).await
    }

    async fn launch(mut command: tokio::process::Command, data_dir: &Path, extra: &[&str]) -> Process {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", PROCESS_ADMIN, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start madang");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The banner's first line names the bound address.
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("banner in time")
            .expect("read banner")
            .expect("a banner line");
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Process { child, base }
    }

    pub fn ws(&self) -> String {
        format!("{}/ws", self.base.replace("http://", "ws://"))
    }

    pub fn http(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn create_forum(&self, body: Value) -> Value {
        create_forum(&self.http("/api/forums"), PROCESS_ADMIN, &body).await
    }

    /// Connect and authenticate with `auth`; the client and its `welcome`.
    pub async fn connect(&self, auth: Value) -> (Client, Value) {
        Client::join(&self.ws(), auth).await
    }

    /// SIGKILL this process (by its own PID) and reap it.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
}
