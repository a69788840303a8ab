//! One standalone `redis-server` child process that a test can kill, pause
//! and restart on the same port and data directory.
//!
//! It knows how to run and break one server; joining servers into a cluster
//! is [`crate::RedisCluster`]'s business.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::NOT_FOUND;
use crate::probe::{free_port, ping, require_binary};
use crate::watchdog::spawn_watchdog;

const START_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_FILE: &str = "redis.log";

/// One `redis-server` child process. See the crate documentation.
pub struct RedisServer {
    pub port: u16,
    /// `redis://127.0.0.1:<port>`
    pub url: String,
    /// Extra arguments (cluster mode), kept for `restart`.
    extra: Vec<String>,
    child: Option<Child>,
    watchdog: Option<Child>,
    dir: TempDir,
}

impl RedisServer {
    /// Start a standalone server on a free loopback port; panics (with the
    /// server's log) if it does not answer PING within 10 s.
    pub fn start() -> RedisServer {
        Self::start_with(Vec::new())
    }

    pub(crate) fn start_with(extra: Vec<String>) -> RedisServer {
        require_binary("redis-server");
        let dir = tempfile::Builder::new().prefix("madang-redis-").tempdir().expect("tempdir for redis-server");
        let port = free_port();
        let mut server =
            RedisServer { port, url: format!("redis://127.0.0.1:{port}"), extra, child: None, watchdog: None, dir };
        server.spawn();
        server
    }

    /// The server's working directory (AOF files, `nodes.conf`, `redis.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PID of the running server process, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "redis-server on port {} is already running", self.port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(LOG_FILE))
            .expect("redis-server log file");
        let mut cmd = Command::new("redis-server");
        cmd.arg("--bind")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("yes")
            .arg("--appendfsync")
            .arg("always")
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{NOT_FOUND}"),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.watchdog = Some(spawn_watchdog(child.id(), self.dir.path()));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                panic!("redis-server on port {} exited at start ({status}); log:\n{}", self.port, self.log());
            }
            if ping(self.port) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "redis-server on port {} did not answer PING within {:?}; log:\n{}",
                    self.port,
                    START_TIMEOUT,
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(LOG_FILE)).unwrap_or_default()
    }

    /// SIGKILL the server (no shutdown, no final fsync) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }

    /// Start the server again on the same port and directory (the AOF reloads).
    /// Kills it first if it still runs.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP the server: connections stay open, nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`RedisServer::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid().unwrap_or_else(|| panic!("redis-server on port {} is not running", self.port));
        let status = Command::new("kill").arg(signal).arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed: {status}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
