//! Test harness: a real server on an ephemeral port, real WebSocket clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use madang::hub::HubConfig;
use madang::server::{self, Config};
use madang::ws::WsLimits;
use madang_protocol::{CreateForumRequest, CreateForumResponse, SUBPROTOCOL};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN: &str = "test-admin-token";
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(data_dir: &Path) -> TestServer {
        Self::start_with(
            data_dir,
            HubConfig { tally_interval: Duration::from_millis(50), ..HubConfig::default() },
            WsLimits::default(),
        )
        .await
    }

    pub async fn start_with(data_dir: &Path, hub: HubConfig, ws: WsLimits) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let config = Config { data_dir: data_dir.to_path_buf(), redis: None, admin_token: ADMIN.into(), hub, ws };
        let handle = tokio::spawn(server::run(listener, config, async move {
            let _ = stopped.await;
        }));
        TestServer { addr, data_dir: data_dir.to_path_buf(), stop: Some(stop), handle: Some(handle) }
    }

    /// Graceful stop; returns when the server has fully stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), handle)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn create_forum(&self, request: &CreateForumRequest) -> CreateForumResponse {
        let res = reqwest::Client::new()
            .post(self.http("/api/forums"))
            .bearer_auth(ADMIN)
            .json(request)
            .send()
            .await
            .expect("POST /api/forums");
        assert_eq!(res.status(), 201, "create forum");
        res.json().await.expect("create response")
    }

    pub async fn connect(&self, auth: Value) -> (Client, Value) {
        let mut client = Client::connect(&self.ws_url()).await;
        client.send(auth).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "expected welcome, got {welcome}");
        (client, welcome)
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Frames received while waiting for something else.
    pub backlog: Vec<Value>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("connect");
        assert_eq!(response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap()), Some(SUBPROTOCOL));
        Client { ws, next_id: 0, backlog: Vec::new() }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send raw");
    }

    /// The next text frame, as JSON (from the backlog first).
    pub async fn recv(&mut self) -> Value {
        if !self.backlog.is_empty() {
            return self.backlog.remove(0);
        }
        self.recv_socket().await
    }

    async fn recv_socket(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the socket is open")
                .expect("a valid frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Close(frame) => panic!("closed unexpectedly: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Wait for a frame matching `pred`, keeping the others in the backlog.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; backlog: {:?}",
                self.backlog
            );
            let frame = self.recv_socket().await;
            if pred(&frame) {
                return frame;
            }
            self.backlog.push(frame);
        }
    }

    /// Send a command with a fresh id and return its answer (ack or error).
    pub async fn command(&mut self, mut command: Value) -> Value {
        // Request ids must be unique per person across reconnects: a reused id
        // is answered as a resend of the original command.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        self.next_id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("r{}", self.next_id);
        command["id"] = json!(id);
        self.send(command).await;
        self.answer(&id).await
    }

    /// Send a command with a given id and return its answer.
    pub async fn command_with_id(&mut self, id: &str, mut command: Value) -> Value {
        command["id"] = json!(id);
        self.send(command).await;
        self.answer(id).await
    }

    pub async fn answer(&mut self, id: &str) -> Value {
        let id = id.to_string();
        self.expect(&format!("answer to {id}"), move |f| {
            (f["type"] == "ack" || f["type"] == "error") && f["id"] == json!(id)
        })
        .await
    }

    /// Like `command`, and assert it was acked.
    pub async fn ok(&mut self, command: Value) -> Value {
        let answer = self.command(command.clone()).await;
        assert_eq!(answer["type"], "ack", "command {command} was refused: {answer}");
        answer
    }

    /// Wait for the close frame; returns its code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next()).await.expect("close in time");
            match next {
                Some(Ok(Message::Close(Some(CloseFrame { code, .. })))) => return code.into(),
                Some(Ok(Message::Close(None))) => return 1005,
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket error before close: {err}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Several hub nodes on Redis: in-process nodes on a `RedisConfig`,
// the real binary as a child process, fallible clients, and raw Redis reads.
// ---------------------------------------------------------------------------

/// A key prefix no other test (or test run) uses: no braces, no whitespace.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("t{}-{test}-{n}", std::process::id())
}

/// One Redis server at `url`, keys under `prefix`.
pub fn redis_single(url: &str, prefix: &str) -> madang::store::redis::RedisConfig {
    madang::store::redis::RedisConfig { prefix: prefix.to_string(), ..madang::store::redis::RedisConfig::single(url) }
}

/// Rate limits high enough for a test that drives thousands of commands.
pub fn fast_limits() -> WsLimits {
    WsLimits {
        rate_per_sec: std::num::NonZeroU32::new(100_000).unwrap(),
        burst: std::num::NonZeroU32::new(100_000).unwrap(),
        ..WsLimits::default()
    }
}

/// The hub configuration tests use: tallies every 50 ms.
pub fn test_hub() -> HubConfig {
    HubConfig { tally_interval: Duration::from_millis(50), ..HubConfig::default() }
}

impl TestServer {
    /// A node on Redis (tallies every 50 ms, default limits).
    pub async fn start_redis(data_dir: &Path, redis: madang::store::redis::RedisConfig) -> TestServer {
        Self::start_redis_with(data_dir, redis, test_hub(), WsLimits::default()).await
    }

    /// A node on Redis with the given hub configuration and limits.
    pub async fn start_redis_with(
        data_dir: &Path,
        redis: madang::store::redis::RedisConfig,
        hub: HubConfig,
        ws: WsLimits,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let config =
            Config { data_dir: data_dir.to_path_buf(), redis: Some(redis), admin_token: ADMIN.into(), hub, ws };
        let handle = tokio::spawn(server::run(listener, config, async move {
            let _ = stopped.await;
        }));
        TestServer { addr, data_dir: data_dir.to_path_buf(), stop: Some(stop), handle: Some(handle) }
    }

    /// `GET /api/forums/{id}` as JSON (asserting 200).
    pub async fn forum_view(&self, forum: &str) -> Value {
        get_json(&self.http(&format!("/api/forums/{forum}"))).await
    }

    /// `GET /healthz`: the status code and the JSON body.
    pub async fn healthz(&self) -> (u16, Value) {
        healthz(&self.http("/healthz")).await
    }
}

/// `GET url`, asserting 200; the body as JSON.
pub async fn get_json(url: &str) -> Value {
    let res = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(res.status(), 200, "GET {url}");
    res.json().await.expect("JSON body")
}

/// `GET <base>/healthz`: the status code and the JSON body.
pub async fn healthz(url: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

/// Poll `view()` until it equals `expected` (another node catching up), at most `WAIT`.
pub async fn wait_for_view(server: &TestServer, forum: &str, expected: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = server.forum_view(forum).await;
        if &view == expected {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} did not catch up within {WAIT:?}:\n got      {view}\n expected {expected}",
            server.addr
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Client {
    /// Like `connect`, but `None` when the server cannot be reached or the
    /// handshake fails within 5 s (a node that was killed).
    pub async fn try_connect(url: &str) -> Option<Client> {
        let mut request = url.into_client_request().ok()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        let (ws, _) =
            tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(request)).await.ok()?.ok()?;
        Some(Client { ws, next_id: 0, backlog: Vec::new() })
    }

    /// Authenticate on a fresh connection; `None` on any connection failure.
    /// Panics if the server answers with something other than `welcome`.
    pub async fn try_join(url: &str, auth: Value) -> Option<(Client, Value)> {
        let mut client = Client::try_connect(url).await?;
        client.ws.send(Message::Text(auth.to_string().into())).await.ok()?;
        let welcome = client.try_next(Duration::from_secs(10)).await?;
        assert_eq!(welcome["type"], "welcome", "expected welcome, got {welcome}");
        Some((client, welcome))
    }

    /// The next text frame, or `None` if the socket fails, closes or stays silent for `wait`.
    pub async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??.ok()?;
            match message {
                Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON frame")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Send `command` with request id `id` and wait up to `wait` for its
    /// answer; `None` if the connection fails first (other frames are dropped).
    pub async fn try_command(&mut self, id: &str, mut command: Value, wait: Duration) -> Option<Value> {
        command["id"] = json!(id);
        self.backlog.clear();
        self.ws.send(Message::Text(command.to_string().into())).await.ok()?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.try_next(left).await?;
            if (frame["type"] == "ack" || frame["type"] == "error") && frame["id"] == json!(id) {
                return Some(frame);
            }
        }
    }
}

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

    /// `madang serve --redis-url <url> --redis-prefix <prefix>`.
    pub async fn start_redis(data_dir: &Path, url: &str, prefix: &str) -> Process {
        Self::start_args(data_dir, &["--redis-url", url, "--redis-prefix", prefix]).await
    }

    /// `madang serve` on an ephemeral loopback port with `extra` arguments;
    /// returns once the banner named the address.
    pub async fn start_args(data_dir: &Path, extra: &[&str]) -> Process {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_madang"))
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
        let res = reqwest::Client::new()
            .post(self.http("/api/forums"))
            .bearer_auth(PROCESS_ADMIN)
            .json(&body)
            .send()
            .await
            .expect("POST /api/forums");
        assert_eq!(res.status(), 201);
        res.json().await.expect("JSON")
    }

    pub async fn connect(&self, auth: Value) -> (Client, Value) {
        let mut client = Client::connect(&self.ws()).await;
        client.send(auth).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (client, welcome)
    }

    /// SIGKILL this process (by its own PID) and reap it.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
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
pub fn stream_entries(ports: &[u16], key: &str) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
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

/// Poll `GET /api/forums/{id}` on `server` until it answers 200 (a node
/// discovering a forum another node created), at most `WAIT`.
pub async fn wait_forum_known(server: &TestServer, forum: &str) {
    let url = server.http(&format!("/api/forums/{forum}"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let res = reqwest::Client::new().get(&url).timeout(Duration::from_secs(10)).send().await.expect("GET forum");
        if res.status() == 200 {
            return;
        }
        assert_eq!(res.status(), 404, "GET {url}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} did not discover forum {forum} in {WAIT:?}",
            server.addr
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
