//! Test support: real `redis-server` processes on loopback ports.
//!
//! Used by the Redis store's tests (and available to integration tests). Each
//! server runs in its own temporary directory with `appendonly yes` and
//! `appendfsync always`, so a [`RedisServer::restart`] after a
//! [`RedisServer::kill`] reloads everything that was acknowledged.
//!
//! Processes are only ever signalled by their own PID, never by name. A server
//! is killed when its handle is dropped; for handles that are never dropped
//! (a `static` shared by many tests), a tiny `sh` watchdog started beside each
//! server kills that server's PID and removes its directory once the test
//! process is gone.
//!
//! Missing binaries are a hard failure, never a skip: see [`NOT_FOUND`].

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The panic message when `redis-server` or `redis-cli` is not on PATH.
pub const NOT_FOUND: &str = "redis-server not found: the test command (tests/run) installs it with apt-get; \
     or install the Debian package redis-server";

const START_TIMEOUT: Duration = Duration::from_secs(10);
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);
const LOG_FILE: &str = "redis.log";

/// One `redis-server` child process. See the module documentation.
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

    fn start_with(extra: Vec<String>) -> RedisServer {
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

/// Three cluster-enabled masters on free loopback ports, slots spread over
/// all three, no replicas.
pub struct RedisCluster {
    /// `redis://127.0.0.1:<port>` of each master.
    pub urls: Vec<String>,
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Start three masters, join them with `redis-cli --cluster create`, and
    /// wait until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        require_binary("redis-server");
        require_binary("redis-cli");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let bus_port = free_port();
                RedisServer::start_with(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-port",
                        &bus_port.to_string(),
                        "--cluster-node-timeout",
                        "5000",
                    ]
                    .map(String::from)
                    .to_vec(),
                )
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]).stdin(Stdio::null());
        let out = match create.output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{NOT_FOUND}"),
            Err(e) => panic!("cannot run redis-cli: {e}"),
        };
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        for node in &nodes {
            loop {
                let info = query(node.port, &["CLUSTER", "INFO"]).unwrap_or_default();
                if info.contains("cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    panic!("redis cluster node {} not ok within {CLUSTER_TIMEOUT:?}: {info}", node.port);
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        let urls = nodes.iter().map(|n| n.url.clone()).collect();
        RedisCluster { urls, nodes }
    }
}

fn require_binary(name: &str) {
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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Kill `pid` and remove `dir` once this (test) process has exited. Only
/// matters for servers whose handle is never dropped (statics); otherwise it
/// is killed together with the server.
fn spawn_watchdog(pid: u32, dir: &Path) -> Child {
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

fn ping(port: u16) -> bool {
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
