//! A test's WebSocket client: commands with fresh request ids, answers
//! matched by id, and a backlog for frames that arrive while it waits for
//! something else.
//!
//! Every method panics when the server fails it: it is for a server that must
//! stay up.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use madang_protocol::SUBPROTOCOL;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

/// One WebSocket connection speaking the Madang subprotocol.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames received while waiting for something else.
    pub backlog: Vec<Value>,
}

impl Client {
    /// The opening handshake's request for `url`, asking for the subprotocol.
    pub fn handshake(url: &str) -> Result<Request, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        Ok(request)
    }

    /// Connect to `url`, asserting the server chose the subprotocol.
    pub async fn connect(url: &str) -> Client {
        let request = Client::handshake(url).expect("request");
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("connect");
        assert_eq!(response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap()), Some(SUBPROTOCOL));
        Client { ws, backlog: Vec::new() }
    }

    /// Connect to `url` and authenticate with `auth`; the client and its `welcome`.
    pub async fn join(url: &str, auth: Value) -> (Client, Value) {
        let mut client = Client::connect(url).await;
        client.send(auth).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "expected welcome, got {welcome}");
        (client, welcome)
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
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!("r{}", NEXT.fetch_add(1, Ordering::Relaxed));
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
