//! One WebSocket connection to a Madang server, as a reusable async type.
//!
//! Why a type of its own: the interactive CLI and the end-to-end scenario
//! both need the same thing: connect with the
//! `madang.v1` subprotocol, authenticate, send commands and match their
//! `ack`/`error` answers by request id while `event` and `tally` frames keep
//! arriving in between. A reader task routes each answer to the command
//! waiting for it and everything else to a channel that the owner drains at
//! its own pace; a writer task owns the sending half so that commands can be
//! sent from `&self`.
//!
//! The pushed-frame channel is unbounded on purpose: a connection whose owner
//! is busy elsewhere (a participant in the scenario that only sends commands)
//! must never stall the reader, or acks would stop arriving too. The load
//! generator does not use this type: two tasks and a channel per connection
//! are too much for tens of thousands of them, and it speaks the peer's
//! dialect too (see `load/wire.rs`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use madang_protocol::{
    Auth, Command, ErrorCode, ForumView, IdeaId, ItemId, JoinCodes, ParticipantSelf, PollId, Role, SUBPROTOCOL,
    ServerFrame,
};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The `welcome` frame, unpacked.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub role: Role,
    pub forum_id: String,
    pub head_seq: u64,
    pub participant: Option<ParticipantSelf>,
    pub join_codes: Option<JoinCodes>,
    pub snapshot: Option<Box<ForumView>>,
    pub replayed: u32,
    /// The frame as the server sent it.
    pub raw: String,
}

/// A command's `ack`, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub id: String,
    pub seq: u64,
    pub duplicate: bool,
    pub item: Option<ItemId>,
    pub idea: Option<IdeaId>,
    pub poll: Option<PollId>,
}

/// An `error` frame, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
    pub rule: Option<String>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", code_name(self.code), self.message)?;
        if let Some(rule) = &self.rule {
            write!(f, " (rule {rule})")?;
        }
        Ok(())
    }
}

/// Why a command got no `ack`.
#[derive(Debug, Clone)]
pub enum CommandError {
    /// The server answered with an `error` frame.
    Rejected(Rejection),
    /// No answer within the connection's command timeout.
    Timeout { id: String, after: Duration },
    /// The connection ended before the answer came.
    Disconnected(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Rejected(r) => write!(f, "rejected: {r}"),
            CommandError::Timeout { id, after } => write!(f, "no answer to request {id} within {after:?}"),
            CommandError::Disconnected(why) => write!(f, "connection lost: {why}"),
        }
    }
}

impl std::error::Error for CommandError {}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code, or `None` when the connection dropped without a close frame.
    pub code: Option<u16>,
    pub reason: String,
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) if self.reason.is_empty() => write!(f, "close code {code}"),
            Some(code) => write!(f, "close code {code}, reason {:?}", self.reason),
            None => write!(f, "no close frame: {}", self.reason),
        }
    }
}

/// A frame the server pushed (or an answer nobody was waiting for).
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A frame that parses as a `madang.v1` server frame.
    Frame { frame: ServerFrame, raw: String },
    /// A frame that does not: a protocol mismatch, worth reporting.
    Unparsed { raw: String, error: String },
    /// The connection ended; nothing follows.
    Closed(CloseInfo),
}

/// Knobs for [`Client::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Names this connection in logs and error messages.
    pub label: String,
    /// Bounds the handshake, the wait for `welcome`, and each command.
    pub timeout: Duration,
}

enum Reply {
    Ack(Ack),
    Error(Rejection),
}

/// The commands waiting for their answer, shared by the caller and the reader task.
#[derive(Default)]
struct CommandWaiters {
    waiting: HashMap<String, oneshot::Sender<Reply>>,
    /// Set once the reader has stopped: why the connection ended.
    closed: Option<String>,
}

/// One authenticated connection.
pub struct Client {
    label: String,
    timeout: Duration,
    out: mpsc::UnboundedSender<Message>,
    waiters: Arc<Mutex<CommandWaiters>>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    id_prefix: String,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// A request id prefix unique to this connection, so that ids never repeat
/// across connections or runs (the spec does not say in which scope the
/// server deduplicates request ids).
fn id_prefix() -> String {
    static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
    let n = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let run = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    format!("{:x}-{n}", run & 0xffff_ffff_ffff)
}

/// The wire name of an error code, such as `invalid_state`.
pub fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

/// `auth` as a text frame: the [`Auth`] fields plus `"type": "auth"`.
fn auth_frame(auth: &Auth) -> Result<String> {
    let mut value = serde_json::to_value(auth).context("encoding auth")?;
    let obj = value.as_object_mut().ok_or_else(|| anyhow!("auth did not encode as an object"))?;
    obj.insert("type".into(), Value::String("auth".into()));
    Ok(value.to_string())
}

/// A command as a text frame: the [`Command`] plus its request `id`.
pub fn command_frame(id: &str, command: &Command) -> Result<String> {
    let mut value = serde_json::to_value(command).context("encoding command")?;
    let obj = value.as_object_mut().ok_or_else(|| anyhow!("command did not encode as an object"))?;
    obj.insert("id".into(), Value::String(id.into()));
    Ok(value.to_string())
}

fn close_info(frame: Option<CloseFrame>) -> CloseInfo {
    match frame {
        Some(f) => CloseInfo { code: Some(u16::from(f.code)), reason: f.reason.as_str().to_owned() },
        None => CloseInfo { code: None, reason: "close frame without a code".into() },
    }
}

impl Client {
    /// Open a WebSocket to `url` (a `ws://.../ws` address) with the `madang.v1`
    /// subprotocol, send `auth`, and wait for `welcome`.
    pub async fn connect(url: &str, auth: &Auth, opts: ConnectOptions) -> Result<(Client, Welcome)> {
        let ConnectOptions { label, timeout: limit } = opts;
        let mut request = url.into_client_request().with_context(|| format!("bad WebSocket URL {url:?}"))?;
        request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));

        let (ws, response) = timeout(limit, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| anyhow!("{label}: WebSocket handshake with {url} timed out after {limit:?}"))?
            .with_context(|| format!("{label}: WebSocket handshake with {url} failed"))?;
        // tungstenite already refuses a missing or different subprotocol; say so plainly if not.
        let agreed = response.headers().get(SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
        if agreed != Some(SUBPROTOCOL) {
            bail!("{label}: server did not agree to subprotocol {SUBPROTOCOL} (answered {agreed:?})");
        }
        let (mut sink, mut stream) = ws.split();

        let auth_text = auth_frame(auth)?;
        // Tokens stay out of logs.
        tracing::debug!(conn = %label, join_code = ?auth.join_code, last_seq = ?auth.last_seq, "-> auth");
        sink.send(Message::text(auth_text)).await.with_context(|| format!("{label}: sending auth"))?;

        let welcome = read_welcome(&label, &mut stream, limit).await?;
        let waiters = Arc::new(Mutex::new(CommandWaiters::default()));
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(write_frames(label.clone(), sink, out_rx));
        let reader = tokio::spawn(read_frames(label.clone(), stream, waiters.clone(), in_tx));

        let client = Client {
            label,
            timeout: limit,
            out: out_tx,
            waiters,
            incoming: in_rx,
            id_prefix: id_prefix(),
            next_id: AtomicU64::new(1),
            reader,
            writer,
        };
        Ok((client, welcome))
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// A request id not used before by this process.
    pub fn fresh_id(&self) -> String {
        format!("{}-{}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Send a command and wait for its `ack` (or `error`), bounded by the connection's timeout.
    pub async fn command(&self, command: &Command) -> Result<Ack, CommandError> {
        let id = self.fresh_id();
        self.command_with_id(&id, command).await
    }

    /// As [`Client::command`], with a request id of the caller's choosing (to test retries).
    pub async fn command_with_id(&self, id: &str, command: &Command) -> Result<Ack, CommandError> {
        let text = command_frame(id, command).map_err(|e| CommandError::Disconnected(format!("{e:#}")))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut waiters = self.lock();
            if let Some(why) = &waiters.closed {
                return Err(CommandError::Disconnected(why.clone()));
            }
            waiters.waiting.insert(id.to_owned(), tx);
        }
        tracing::debug!(conn = %self.label, "-> {text}");
        if self.out.send(Message::text(text)).is_err() {
            self.lock().waiting.remove(id);
            return Err(CommandError::Disconnected("the writer has stopped".into()));
        }
        match timeout(self.timeout, rx).await {
            Err(_) => {
                self.lock().waiting.remove(id);
                Err(CommandError::Timeout { id: id.to_owned(), after: self.timeout })
            }
            Ok(Err(_)) => {
                let why = self.lock().closed.clone().unwrap_or_else(|| "connection ended".into());
                Err(CommandError::Disconnected(why))
            }
            Ok(Ok(Reply::Ack(ack))) => Ok(ack),
            Ok(Ok(Reply::Error(rejection))) => Err(CommandError::Rejected(rejection)),
        }
    }

    /// Send one text frame as is; its answer, if any, arrives through [`Client::next`].
    pub fn send_text(&self, text: String) -> Result<()> {
        tracing::debug!(conn = %self.label, "-> {text}");
        self.out.send(Message::text(text)).map_err(|_| anyhow!("{}: connection is closed", self.label))
    }

    /// Start a normal close (code 1000); [`Incoming::Closed`] follows once the server answers.
    pub fn send_close(&self) {
        tracing::debug!(conn = %self.label, "-> close 1000");
        let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let _ = self.out.send(Message::Close(Some(frame)));
    }

    /// The next pushed frame; `None` only after [`Incoming::Closed`] was returned.
    pub async fn next(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// A pushed frame already received, without waiting.
    pub fn try_next(&mut self) -> Option<Incoming> {
        self.incoming.try_recv().ok()
    }

    /// Read pushed frames until `pick` returns something, within `limit`.
    ///
    /// Frames `pick` passes over are dropped. An `error` frame, a frame that
    /// does not parse, or the end of the connection fail the wait: in a
    /// scripted run none of them is expected.
    pub async fn wait_for<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut pick: impl FnMut(&ServerFrame) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            let incoming = timeout_at(deadline, self.incoming.recv())
                .await
                .map_err(|_| anyhow!("{}: timed out after {limit:?} waiting for {what}", self.label))?;
            match incoming {
                Some(Incoming::Frame { frame: ServerFrame::Error { .. }, raw }) => {
                    bail!("{}: unexpected error frame while waiting for {what}: {raw}", self.label)
                }
                Some(Incoming::Frame { frame, .. }) => {
                    if let Some(found) = pick(&frame) {
                        return Ok(found);
                    }
                }
                Some(Incoming::Unparsed { raw, error }) => {
                    bail!("{}: frame does not match madang.v1 ({error}): {raw}", self.label)
                }
                Some(Incoming::Closed(info)) => {
                    bail!("{}: server closed the connection ({info}) while waiting for {what}", self.label)
                }
                None => bail!("{}: connection already closed while waiting for {what}", self.label),
            }
        }
    }

    /// Close normally and wait (bounded) for the server's answer. Frames that
    /// arrive meanwhile are dropped. Returns how the connection ended.
    pub async fn close(mut self) -> Result<CloseInfo> {
        self.send_close();
        let limit = self.timeout;
        let label = self.label.clone();
        let closed = timeout(limit, async {
            while let Some(incoming) = self.incoming.recv().await {
                if let Incoming::Closed(info) = incoming {
                    return Some(info);
                }
            }
            None
        })
        .await
        .map_err(|_| anyhow!("{label}: server did not answer the close within {limit:?}"))?;
        closed.ok_or_else(|| anyhow!("{label}: connection ended twice"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CommandWaiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read frames until the `welcome`, within `limit`; anything else first is an error.
async fn read_welcome(label: &str, stream: &mut SplitStream<Socket>, limit: Duration) -> Result<Welcome> {
    let deadline = Instant::now() + limit;
    loop {
        let msg = timeout_at(deadline, stream.next())
            .await
            .map_err(|_| anyhow!("{label}: no welcome within {limit:?} after auth"))?;
        let text = match msg {
            Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
            Some(Ok(Message::Close(frame))) => {
                bail!("{label}: server closed the connection instead of welcoming ({})", close_info(frame))
            }
            Some(Ok(Message::Binary(b))) => {
                bail!("{label}: unexpected binary frame ({} bytes) before welcome", b.len())
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e).with_context(|| format!("{label}: connection failed before welcome")),
            None => bail!("{label}: connection ended before welcome"),
        };
        tracing::debug!(conn = %label, "<- {text}");
        let frame: ServerFrame = serde_json::from_str(&text)
            .with_context(|| format!("{label}: first frame is not a madang.v1 frame: {text}"))?;
        match frame {
            ServerFrame::Welcome { role, forum_id, head_seq, participant, join_codes, snapshot, replayed } => {
                return Ok(Welcome {
                    role,
                    forum_id,
                    head_seq,
                    participant,
                    join_codes,
                    snapshot,
                    replayed,
                    raw: text,
                });
            }
            ServerFrame::Error { code, message, rule, id } => {
                bail!("{label}: auth refused: {}", Rejection { id, code, message, rule })
            }
            _ => bail!("{label}: expected welcome, got {text}"),
        }
    }
}

/// The writer task: send what the client queues until the channel or the socket closes.
async fn write_frames(label: String, mut sink: SplitSink<Socket, Message>, mut out: mpsc::UnboundedReceiver<Message>) {
    while let Some(msg) = out.recv().await {
        if let Err(e) = sink.send(msg).await {
            tracing::debug!(conn = %label, "send failed: {e}");
            break;
        }
    }
}

/// The reader task: route every frame until the connection ends, then wake
/// every waiting command and push [`Incoming::Closed`].
async fn read_frames(
    label: String,
    mut stream: SplitStream<Socket>,
    waiters: Arc<Mutex<CommandWaiters>>,
    in_tx: mpsc::UnboundedSender<Incoming>,
) {
    let mut info = None;
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(Message::Text(t)) => {
                let text = t.as_str();
                tracing::debug!(conn = %label, "<- {text}");
                route(text, &waiters, &in_tx);
            }
            Ok(Message::Binary(b)) => {
                let _ = in_tx.send(Incoming::Unparsed {
                    raw: format!("<binary frame, {} bytes>", b.len()),
                    error: "madang.v1 uses text frames only".into(),
                });
            }
            // Keep reading after a close: that lets tungstenite answer it.
            Ok(Message::Close(frame)) => info = Some(close_info(frame)),
            Ok(_) => {}
            Err(e) => {
                if info.is_none() {
                    info = Some(CloseInfo { code: None, reason: e.to_string() });
                }
                break;
            }
        }
    }
    let info = info.unwrap_or(CloseInfo { code: None, reason: "connection ended without a close frame".into() });
    tracing::debug!(conn = %label, "closed: {info}");
    {
        let mut waiters = waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.closed = Some(info.to_string());
        // Dropping the senders wakes every waiting command.
        waiters.waiting.clear();
    }
    let _ = in_tx.send(Incoming::Closed(info));
}

/// Hand an answer to the command waiting for it, or push the frame.
fn route(text: &str, waiters: &Mutex<CommandWaiters>, pushed: &mpsc::UnboundedSender<Incoming>) {
    let frame = match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => frame,
        Err(e) => {
            let _ = pushed.send(Incoming::Unparsed { raw: text.to_owned(), error: e.to_string() });
            return;
        }
    };
    let answered = match &frame {
        ServerFrame::Ack { id, .. } | ServerFrame::Error { id: Some(id), .. } => {
            waiters.lock().unwrap_or_else(|e| e.into_inner()).waiting.remove(id)
        }
        _ => None,
    };
    let Some(waiter) = answered else {
        let _ = pushed.send(Incoming::Frame { frame, raw: text.to_owned() });
        return;
    };
    let reply = match frame {
        ServerFrame::Ack { id, seq, duplicate, item, idea, poll, .. } => {
            Reply::Ack(Ack { id, seq, duplicate, item, idea, poll })
        }
        ServerFrame::Error { id, code, message, rule } => Reply::Error(Rejection { id, code, message, rule }),
        _ => unreachable!("only acks and errors are answers"),
    };
    // The waiter may have timed out just now; then the answer is dropped.
    let _ = waiter.send(reply);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_type_and_id() {
        let text = command_frame("r1", &Command::ActivateItem { item: ItemId(2) }).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::json!({"type": "activate_item", "id": "r1", "item": 2}));

        let auth = Auth { join_code: Some("ABC234".into()), name: Some("Jiwoo".into()), ..Auth::default() };
        let v: Value = serde_json::from_str(&auth_frame(&auth).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"type": "auth", "join_code": "ABC234", "name": "Jiwoo"}));
    }

    #[test]
    fn request_ids_are_short_and_distinct() {
        let (a, b) = (id_prefix(), id_prefix());
        assert_ne!(a, b);
        assert!(a.len() + 21 <= madang_protocol::MAX_REQUEST_ID_LEN);
    }
}

/// A scripted server on loopback, to check the client's routing without a real server.
#[cfg(test)]
mod mock_tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    const TALLY: &str = r#"{"type":"tally","seq":1,"tally":{"poll":1,"ballots":2,"result":{"method":"yes_no","yes":1,"no":1,"abstain":0,"rule":"simple","passed":false,"tie":true}}}"#;

    async fn serve_one(listener: TcpListener) {
        let (tcp, _) = listener.accept().await.unwrap();
        #[allow(clippy::result_large_err)] // the callback signature is tungstenite's
        let check = |req: &Request, mut resp: Response| {
            let asked = req.headers().get(SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
            assert_eq!(asked, Some(SUBPROTOCOL));
            resp.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, check).await.unwrap();
        let auth: Value = match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
            other => panic!("expected auth, got {other:?}"),
        };
        assert_eq!(auth["type"], "auth");
        assert_eq!(auth["token"], "mod-token");
        let welcome = r#"{"type":"welcome","role":"moderator","forum_id":"f1","head_seq":0,"replayed":0}"#;
        ws.send(Message::text(welcome)).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            let cmd: Value = serde_json::from_str(t.as_str()).unwrap();
            let id = cmd["id"].as_str().unwrap().to_owned();
            // A pushed frame first, then the answer: the client must tell them apart.
            ws.send(Message::text(TALLY)).await.unwrap();
            let answer = if cmd["type"] == "close_forum" {
                serde_json::json!({"type": "error", "id": id, "code": "invalid_state", "message": "not live"})
            } else {
                serde_json::json!({"type": "ack", "id": id, "seq": 7, "item": 3})
            };
            ws.send(Message::text(answer.to_string())).await.unwrap();
        }
    }

    #[tokio::test]
    async fn correlates_answers_and_pushes_the_rest() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let server = tokio::spawn(serve_one(listener));

        let auth = Auth { token: Some("mod-token".into()), ..Auth::default() };
        let opts = ConnectOptions { label: "test".into(), timeout: Duration::from_secs(5) };
        let (mut client, welcome) = Client::connect(&url, &auth, opts).await.unwrap();
        assert_eq!(welcome.role, Role::Moderator);
        assert_eq!(welcome.forum_id, "f1");

        let ack = client
            .command(&Command::AddItem { title: "x".into(), description: None, timebox_secs: None })
            .await
            .unwrap();
        assert_eq!((ack.seq, ack.item), (7, Some(ItemId(3))));
        match client.command(&Command::CloseForum {}).await {
            Err(CommandError::Rejected(r)) => assert_eq!(r.code, ErrorCode::InvalidState),
            other => panic!("expected a rejection, got {other:?}"),
        }
        for _ in 0..2 {
            match client.try_next() {
                Some(Incoming::Frame { frame: ServerFrame::Tally { tally, .. }, .. }) => assert_eq!(tally.ballots, 2),
                other => panic!("expected a pushed tally, got {other:?}"),
            }
        }
        assert!(client.try_next().is_none());

        let info = client.close().await.unwrap();
        assert_eq!(info.code, Some(1000));
        server.await.unwrap();
    }
}
