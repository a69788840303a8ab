//! Test harness: a real server on an ephemeral port, real WebSocket clients.
#![allow(dead_code)]

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
