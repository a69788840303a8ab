//! One WebSocket connection: authenticate, then read commands and write frames.
//!
//! A connection is two halves. The reader parses frames, enforces the rate
//! limit, and forwards commands to the forum task, awaiting each answer. The
//! writer feeds the socket from two sources: answers for this connection
//! (a small bounded queue) and the forum's broadcast, whose bounded buffer is
//! the connection's outbound queue: a connection that falls behind by more
//! than the buffer is closed with 4008 and resumes by reconnecting.
//!
//! Architecture invariant: this module knows roles and credentials only as
//! far as routing them to the hub; what a role may do is decided by the domain.

use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use madang_protocol::{ClientFrame, ErrorCode, ServerFrame, close_code, parse_client_frame};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::Actor;
use crate::hub::{AttachError, Attached, ForumHandle, Frame, Hub, Request, domain_error_frame, encode_frame, error_frame};

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct WsLimits {
    pub auth_timeout: Duration,
    /// Frames per second, sustained.
    pub rate_per_sec: NonZeroU32,
    pub burst: NonZeroU32,
    /// Frames refused for the rate limit before the connection is closed.
    pub flood_close_after: u32,
    /// How long one socket write may take before the peer is given up on.
    pub write_timeout: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            auth_timeout: Duration::from_secs(10),
            rate_per_sec: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(40).unwrap_or(NonZeroU32::MIN),
            flood_close_after: 100,
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// What the reader asks the writer to do.
enum Outbound {
    Frame(Frame),
    Close(u16, &'static str),
}

type Sink = SplitSink<WebSocket, Message>;

/// One clock for every connection's rate limiter: making a new one runs
/// `cpuid`, which a virtual machine traps, at a cost that showed up in
/// profiles of connection storms.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);
type Stream = SplitStream<WebSocket>;

/// Serve one upgraded socket until either side ends it or the server shuts down.
pub async fn serve(socket: WebSocket, hub: Arc<Hub>, limits: WsLimits, shutdown: CancellationToken, tasks: TaskTracker) {
    let (mut sink, mut stream) = socket.split();
    let attached = tokio::select! {
        _ = shutdown.cancelled() => {
            close(&mut sink, close_code::GOING_AWAY, "server shutting down").await;
            return;
        }
        attached = authenticate(&hub, &mut sink, &mut stream, &limits) => attached,
    };
    let Some((handle, Attached { actor, frames, updates })) = attached else { return };
    let (out_tx, out_rx) = mpsc::channel(64);
    // The writer cancels this when it stops, so the reader stops too; the
    // reader stops the writer by dropping `out_tx`.
    let writer_done = CancellationToken::new();
    tasks.spawn(write_loop(sink, out_rx, updates, frames, shutdown, writer_done.clone(), limits.write_timeout));
    read_loop(stream, out_tx, handle, actor, &limits, writer_done).await;
}

async fn close(sink: &mut Sink, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.send(Message::Close(Some(frame)))).await;
}

async fn send_frame(sink: &mut Sink, frame: &ServerFrame) {
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.send(Message::Text(encode_frame(frame)))).await;
}

/// Whether a read error is an oversized message or frame.
fn is_too_big(err: &axum::Error) -> bool {
    let text = err.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}

/// Wait for the `auth` frame and attach to its forum; on failure, tell the
/// client why and close.
async fn authenticate(
    hub: &Hub,
    sink: &mut Sink,
    stream: &mut Stream,
    limits: &WsLimits,
) -> Option<(ForumHandle, Attached)> {
    let first = match tokio::time::timeout(limits.auth_timeout, stream.next()).await {
        Err(_) => {
            close(sink, close_code::AUTH_REQUIRED, "no auth frame in time").await;
            return None;
        }
        Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return None,
        Ok(Some(Err(err))) => {
            if is_too_big(&err) {
                close(sink, close_code::TOO_BIG, "frame too large").await;
            }
            return None;
        }
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(Message::Binary(_)))) => {
            close(sink, close_code::UNSUPPORTED, "binary frames are not part of madang.v1").await;
            return None;
        }
        Ok(Some(Ok(_))) => {
            close(sink, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
    };
    let auth = match parse_client_frame(&first) {
        Ok(ClientFrame::Auth(auth)) => auth,
        Ok(_) => {
            let message = "the first frame must be `auth`".to_string();
            send_frame(sink, &error_frame(None, ErrorCode::Unauthorized, message, None)).await;
            close(sink, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
        Err(err) => {
            send_frame(sink, &error_frame(err.id, err.code, err.message, None)).await;
            close(sink, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
    };
    match hub.attach(auth).await {
        Ok(attached) => Some(attached),
        Err(err) => {
            let (frame, code, reason) = match &err {
                AttachError::Unauthorized => (
                    error_frame(None, ErrorCode::Unauthorized, err.to_string(), None),
                    close_code::UNAUTHORIZED,
                    "unauthorized",
                ),
                AttachError::Refused(domain) => (domain_error_frame(None, domain), close_code::UNAUTHORIZED, "refused"),
                AttachError::Unavailable => (
                    error_frame(None, ErrorCode::Unavailable, err.to_string(), None),
                    close_code::TRY_AGAIN_LATER,
                    "try again later",
                ),
            };
            send_frame(sink, &frame).await;
            close(sink, code, reason).await;
            None
        }
    }
}

async fn read_loop(
    mut stream: Stream,
    out: mpsc::Sender<Outbound>,
    handle: ForumHandle,
    actor: Actor,
    limits: &WsLimits,
    done: CancellationToken,
) {
    let quota = Quota::per_second(limits.rate_per_sec).allow_burst(limits.burst);
    let limiter: DefaultDirectRateLimiter = RateLimiter::direct_with_clock(quota, CLOCK.clone());
    let mut refused = 0u32;
    let reply = |frame: ServerFrame| Outbound::Frame(encode_frame(&frame));
    loop {
        let message = tokio::select! {
            _ = done.cancelled() => return,
            message = stream.next() => message,
        };
        let text = match message {
            None | Some(Ok(Message::Close(_))) => return,
            Some(Err(err)) => {
                if is_too_big(&err) {
                    let _ = out.send(Outbound::Close(close_code::TOO_BIG, "frame too large")).await;
                }
                return;
            }
            Some(Ok(Message::Binary(_))) => {
                let _ = out.send(Outbound::Close(close_code::UNSUPPORTED, "binary frames are not part of madang.v1")).await;
                return;
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue, // pings are answered by the WebSocket layer
        };
        if limiter.check().is_err() {
            refused += 1;
            if refused >= limits.flood_close_after {
                let _ = out.send(Outbound::Close(close_code::FLOOD, "flooding")).await;
                return;
            }
            let message = "too many messages: slow down".to_string();
            let id = madang_protocol::request_id(&text);
            if out.send(reply(error_frame(id, ErrorCode::RateLimited, message, None))).await.is_err() {
                return;
            }
            continue;
        }
        let answer = match parse_client_frame(&text) {
            Err(err) => error_frame(err.id, err.code, err.message, None),
            Ok(ClientFrame::Auth(_)) => {
                error_frame(None, ErrorCode::BadRequest, "this connection is already authenticated".into(), None)
            }
            Ok(ClientFrame::Ping { id }) => ServerFrame::Pong { id },
            Ok(ClientFrame::Command { id, command }) => {
                let (tx, rx) = oneshot::channel();
                let request = Request::Command { actor, request_id: id.clone(), command, reply: tx };
                let unavailable = || {
                    let message = "the forum is not available right now; the command was not applied".to_string();
                    error_frame(Some(id.clone()), ErrorCode::Unavailable, message, None)
                };
                match handle.requests.send(request).await {
                    Err(_) => unavailable(),
                    Ok(()) => rx.await.unwrap_or_else(|_| unavailable()),
                }
            }
        };
        if out.send(reply(answer)).await.is_err() {
            return;
        }
    }
}

async fn write_loop(
    mut sink: Sink,
    mut direct: mpsc::Receiver<Outbound>,
    mut updates: broadcast::Receiver<Frame>,
    first: Vec<Frame>,
    shutdown: CancellationToken,
    done: CancellationToken,
    write_timeout: Duration,
) {
    // Ends the reader too, whichever way the writer stops.
    let _done = done.drop_guard();
    let mut queue: Vec<Frame> = first;
    loop {
        // Feed everything ready, then flush once: one syscall for a burst,
        // and one timer for the whole burst rather than one per frame.
        let burst = async {
            for frame in queue.drain(..) {
                sink.feed(Message::Text(frame)).await?;
            }
            sink.flush().await
        };
        if tokio::time::timeout(write_timeout, burst).await.map_or(true, |r| r.is_err()) {
            return;
        }
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => Outbound::Close(close_code::GOING_AWAY, "server shutting down"),
            out = direct.recv() => match out {
                Some(out) => out,
                None => {
                    // The reader is done (the client closed, usually): finish
                    // the closing handshake rather than resetting the socket.
                    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
                    return;
                }
            },
            update = updates.recv() => match update {
                Ok(frame) => Outbound::Frame(frame),
                Err(broadcast::error::RecvError::Lagged(_)) => Outbound::Close(close_code::TOO_SLOW, "too slow: reconnect and resume"),
                Err(broadcast::error::RecvError::Closed) => Outbound::Close(close_code::GOING_AWAY, "forum stopped"),
            },
        };
        match next {
            Outbound::Frame(frame) => queue.push(frame),
            Outbound::Close(code, reason) => {
                close(&mut sink, code, reason).await;
                return;
            }
        }
        // Take whatever else is already waiting, without blocking.
        while queue.len() < 64 {
            match direct.try_recv() {
                Ok(Outbound::Frame(frame)) => queue.push(frame),
                Ok(Outbound::Close(code, reason)) => {
                    for frame in queue.drain(..) {
                        let _ = sink.feed(Message::Text(frame)).await;
                    }
                    close(&mut sink, code, reason).await;
                    return;
                }
                Err(_) => break,
            }
        }
        while queue.len() < 64 {
            match updates.try_recv() {
                Ok(frame) => queue.push(frame),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    close(&mut sink, close_code::TOO_SLOW, "too slow: reconnect and resume").await;
                    return;
                }
                Err(_) => break,
            }
        }
    }
}
