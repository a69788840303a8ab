//! One WebSocket connection: authenticate, then read commands and write frames.
//!
//! A connection is one task that takes whichever comes first: a frame from
//! the client (parsed, rate limited, and forwarded to the forum task), an
//! answer from the forum task, or a frame of the forum's broadcast. Answers
//! go out in the order the client's frames came, and several commands may
//! be in flight at once (pipelining, up to `MAX_IN_FLIGHT`). What is ready is
//! written as one burst. The audience's channel (`hub::fanout_channel`) is the
//! connection's outbound queue: a connection that falls behind by more than it
//! keeps (in frames or in bytes) is closed with 4008 and resumes by reconnecting.
//!
//! Architecture invariant: this module knows roles and credentials only as
//! far as routing them to the hub; what a role may do is decided by the domain.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{FutureExt, SinkExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use madang_protocol::{ClientFrame, ServerFrame, close_code, parse_client_frame};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::abuse::{CLOCK, Person, PersonLimiter, PersonLimits};
use crate::domain::Actor;
use crate::hub::fanout_channel::{self, RecvError};
use crate::hub::{AttachError, Attached, ForumHandle, Frame, Hub, Request, frames};

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct WsLimits {
    pub auth_timeout: Duration,
    /// Frames per second, sustained.
    pub rate_per_sec: NonZeroU32,
    pub burst: NonZeroU32,
    /// Frames per person over all of their connections (`abuse`).
    pub per_person: PersonLimits,
    /// Frames refused for the rate limit before the connection is closed.
    pub flood_close_after: u32,
    /// How long one socket write may take before the peer is given up on.
    pub write_timeout: Duration,
    /// Whether a WebSocket's address, for the limits per address, is the
    /// last `X-Forwarded-For` entry (behind a reverse proxy) rather than the
    /// socket's peer (see `abuse::client_address`).
    pub trust_forwarded_for: bool,
    /// Origins besides the server's own whose pages may open a WebSocket
    /// (see [`origin_allowed`]), as [`allowed_origin`] normalises them.
    pub allowed_origins: Arc<[String]>,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            auth_timeout: Duration::from_secs(10),
            rate_per_sec: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(40).unwrap_or(NonZeroU32::MIN),
            per_person: PersonLimits::default(),
            flood_close_after: 100,
            write_timeout: Duration::from_secs(10),
            trust_forwarded_for: false,
            allowed_origins: Arc::from([]),
        }
    }
}

/// Whether a WebSocket upgrade with these request headers may proceed.
///
/// A browser sends `Origin` with every upgrade and lets any page open a
/// WebSocket to any server, with no same-origin rule: without this check a
/// page on another site, open on a hall laptop, could talk to the forum
/// with whatever credential it got hold of. So a request whose `Origin` is
/// present must come from the server's own origin (its host and port equal
/// the `Host` header, which behind a proxy is the public name as long as the
/// proxy keeps it) or be one of `allowed`. Clients that are not browsers
/// (the load generator, scripts) send no `Origin` and are not affected; they
/// could forge one anyway, which is why this protects browsers only.
pub(crate) fn origin_allowed(headers: &axum::http::HeaderMap, allowed: &[String]) -> bool {
    use axum::http::header;
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if !a.is_empty() && a.eq_ignore_ascii_case(h))
}

/// Why an `--allowed-origin` value is refused.
#[derive(Debug, thiserror::Error)]
#[error("an allowed origin is a scheme and a host with an optional port, like https://forum.example.org: {0:?}")]
pub struct InvalidOrigin(String);

/// An `--allowed-origin` value as browsers write an `Origin` header:
/// lowercase, without a trailing slash.
pub fn allowed_origin(value: &str) -> Result<String, InvalidOrigin> {
    let origin = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    match authority {
        Some(a)
            if !a.is_empty()
                && a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')) =>
        {
            Ok(origin)
        }
        _ => Err(InvalidOrigin(value.to_string())),
    }
}

/// Commands a connection may have in flight (sent, not yet answered)
/// before it stops reading: each person's last 64 request ids are
/// remembered for resends (SPEC §6.3), so more could never be needed.
const MAX_IN_FLIGHT: usize = 64;

/// Frames written to the socket in one go before new input is looked at.
const MAX_BURST: usize = 64;

/// Serve one upgraded socket until either side ends it or the server shuts down.
///
/// One task per connection, which reads, writes and waits for answers in
/// turn: a connection is mostly idle, and a task, its buffers and the
/// channels between two halves were most of its memory (README, performance).
pub(crate) async fn serve(
    mut socket: WebSocket,
    peer: IpAddr,
    hub: Arc<Hub>,
    people: Arc<PersonLimiter>,
    limits: WsLimits,
    shutdown: CancellationToken,
    priority_lane: Option<tokio::runtime::Handle>,
) {
    // Boxed, so that what authenticating needs is freed once it is done
    // rather than sized into every connection's future.
    let attached = tokio::select! {
        _ = shutdown.cancelled() => {
            close(&mut socket, close_code::GOING_AWAY, "server shutting down").await;
            return;
        }
        attached = Box::pin(authenticate(&hub, &mut socket, peer, &limits)) => attached,
    };
    let Some((forum, handle, Attached { actor, first_frames, updates, shown_through })) = attached else { return };
    let connection = Connection {
        socket,
        handle,
        actor,
        person: Person::new(&forum, actor),
        people,
        updates,
        shown_through: Some(shown_through),
        limiter: RateLimiter::direct_with_clock(
            Quota::per_second(limits.rate_per_sec).allow_burst(limits.burst),
            CLOCK.clone(),
        ),
        refused: 0,
        answers: Answers::default(),
        out: first_frames,
    };
    match priority_lane.filter(|_| matches!(actor, Actor::Display | Actor::Moderator)) {
        // This task waits for it: the connection stays tracked for shutdown.
        Some(priority_lane) => {
            let _ = priority_lane.spawn(async move { connection.run(&limits, &shutdown).await }).await;
        }
        None => connection.run(&limits, &shutdown).await,
    }
}

struct Connection {
    socket: WebSocket,
    handle: ForumHandle,
    actor: Actor,
    /// Who this connection's person is, for the limit over all of their connections.
    person: Person,
    people: Arc<PersonLimiter>,
    updates: fanout_channel::Receiver,
    /// Until an event past it arrives: the seq its first frames showed the
    /// forum at; older events on `updates` are already shown, and `seq`
    /// rises strictly on a connection.
    shown_through: Option<u64>,
    limiter: DefaultDirectRateLimiter,
    /// Frames refused for the rate limit so far.
    refused: u32,
    /// Answers to this connection's frames, in the order the frames came.
    answers: Answers,
    /// Frames to write next.
    out: Vec<Frame>,
}

/// Why a connection ends, and the close frame it gets (if any).
enum End {
    Close(u16, &'static str),
    /// The client closed or vanished: finish the closing handshake.
    ClientClosed,
    /// A write failed or timed out: nothing more can be sent.
    Broken,
}

impl Connection {
    async fn run(mut self, limits: &WsLimits, shutdown: &CancellationToken) {
        // Registered once: one registration per frame, with every
        // connection on the same token, showed up in fan-out profiles.
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let end = loop {
            if let Err(end) = self.flush(limits.write_timeout).await {
                break end;
            }
            let step = tokio::select! {
                biased;
                _ = &mut cancelled => Err(End::Close(close_code::GOING_AWAY, "server shutting down")),
                answer = self.answers.next(), if !self.answers.is_empty() => {
                    self.out.push(answer);
                    Ok(())
                }
                update = self.updates.recv() => self.take_update(update),
                message = self.socket.recv(), if self.answers.len() < MAX_IN_FLIGHT => {
                    // Boxed, like the close below: an idle connection's task
                    // should not carry room for what only a message needs.
                    Box::pin(self.take_message(message, limits)).await
                }
            };
            if let Err(end) = step.and_then(|()| self.take_ready()) {
                break end;
            }
        };
        match end {
            End::Close(code, reason) => {
                // What is already queued still goes out, then the close.
                let _ = self.flush(limits.write_timeout).await;
                Box::pin(close(&mut self.socket, code, reason)).await;
            }
            End::ClientClosed => {
                let _ = tokio::time::timeout(Duration::from_secs(2), self.socket.close()).await;
            }
            End::Broken => {}
        }
    }

    /// Feed every queued frame, then flush once: one syscall for a burst.
    /// Timed only when the socket cannot take it at once: a timer per burst
    /// showed up in profiles of a large fan-out.
    async fn flush(&mut self, write_timeout: Duration) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let (socket, out) = (&mut self.socket, &mut self.out);
        let burst = async move {
            for frame in out.drain(..) {
                socket.feed(Message::Text(frame)).await?;
            }
            socket.flush().await
        };
        let mut burst = std::pin::pin!(burst);
        let done = match burst.as_mut().now_or_never() {
            Some(done) => done,
            // Boxed: the timer is large, and needed only by a blocked socket.
            None => Box::pin(tokio::time::timeout(write_timeout, burst)).await.map_err(|_| End::Broken)?,
        };
        done.map_err(|_| End::Broken)
    }

    fn take_update(&mut self, update: Result<Frame, RecvError>) -> Result<(), End> {
        match update {
            Ok(frame) => {
                self.push_update(frame);
                Ok(())
            }
            Err(RecvError::Lagged) => Err(End::Close(close_code::TOO_SLOW, TOO_SLOW)),
            Err(RecvError::Closed) => Err(End::Close(close_code::GOING_AWAY, "forum stopped")),
        }
    }

    /// Queue a broadcast frame, unless it is an event the connection's first frames already showed.
    fn push_update(&mut self, frame: Frame) {
        if let Some(shown) = self.shown_through {
            match event_seq(&frame) {
                Some(seq) if seq <= shown => return,
                Some(_) => self.shown_through = None,
                None => {}
            }
        }
        self.out.push(frame);
    }

    /// Take whatever else is ready without waiting: updates and answers.
    fn take_ready(&mut self) -> Result<(), End> {
        while self.out.len() < MAX_BURST {
            match self.updates.try_recv() {
                Ok(Some(frame)) => self.push_update(frame),
                Ok(None) => break,
                Err(err) => return self.take_update(Err(err)),
            }
        }
        while self.out.len() < MAX_BURST
            && let Some(answer) = self.answers.next().now_or_never()
        {
            self.out.push(answer);
        }
        Ok(())
    }

    async fn take_message(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        limits: &WsLimits,
    ) -> Result<(), End> {
        let text = match message {
            None | Some(Ok(Message::Close(_))) => return Err(End::ClientClosed),
            Some(Err(err)) if is_too_big(&err) => return Err(End::Close(close_code::TOO_BIG, "frame too large")),
            Some(Err(err)) if is_not_utf8(&err) => return Err(End::Close(close_code::INVALID_PAYLOAD, NOT_UTF8)),
            Some(Err(_)) => return Err(End::Broken),
            Some(Ok(Message::Binary(_))) => {
                return Err(End::Close(close_code::UNSUPPORTED, "binary frames are not part of madang.v1"));
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => return Ok(()), // pings are answered by the WebSocket layer
        };
        // The connection's own limit first: a frame it refuses does not
        // use up the person's allowance on their other connections.
        if self.limiter.check().is_err() || !self.people.allow(&self.person) {
            self.refused += 1;
            if self.refused >= limits.flood_close_after {
                return Err(End::Close(close_code::FLOOD, "flooding"));
            }
            let id = madang_protocol::request_id(&text);
            self.answers.push_back(Answer::now(frames::rate_limited(id)));
            return Ok(());
        }
        let answer = match parse_client_frame(&text) {
            Err(err) => Answer::now(frames::error(err.id, err.code, err.message, None)),
            Ok(ClientFrame::Auth(_)) => Answer::now(frames::already_authenticated()),
            Ok(ClientFrame::Ping { id }) => Answer::now(frames::pong(id)),
            Ok(ClientFrame::Command { id, command }) => {
                let (tx, rx) = oneshot::channel();
                let request = Request::Command { actor: self.actor, request_id: id.clone(), command, reply: tx };
                // Waits only while the forum's queue is full: then this
                // connection stops reading too, which is the backpressure.
                match self.handle.requests.send(request).await {
                    Err(_) => Answer::now(frames::unavailable(Some(id))),
                    Ok(()) => Answer::Waiting { id, rx },
                }
            }
        };
        self.answers.push_back(answer);
        Ok(())
    }
}

const TOO_SLOW: &str = "too slow: reconnect and resume";
const NOT_UTF8: &str = "a text frame must be UTF-8";

/// Answers not yet written, in the order their frames came. Only the
/// first is ever waited for: the others cannot be sent before it anyway.
/// (A plain queue rather than `FuturesOrdered`, which allocates for every
/// connection whether it is used or not.)
#[derive(Default)]
struct Answers(VecDeque<Answer>);

impl Answers {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push_back(&mut self, answer: Answer) {
        self.0.push_back(answer);
    }

    /// The first answer, once it is known; pending forever when there is none.
    async fn next(&mut self) -> Frame {
        poll_fn(|cx| {
            let Some(first) = self.0.front_mut() else { return Poll::Pending };
            let frame = std::task::ready!(Pin::new(first).poll(cx));
            self.0.pop_front();
            Poll::Ready(frame)
        })
        .await
    }
}

/// The answer to one client frame, encoded: known at once, or the forum
/// task's. Encoded as soon as it is known, because a `ServerFrame` is large
/// (568 bytes) and every connection's task had room for one.
enum Answer {
    Now(std::future::Ready<Frame>),
    Waiting { id: String, rx: oneshot::Receiver<ServerFrame> },
}

impl Answer {
    fn now(frame: ServerFrame) -> Answer {
        Answer::Now(std::future::ready(frames::encode(&frame)))
    }
}

impl Future for Answer {
    type Output = Frame;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Frame> {
        match self.get_mut() {
            Answer::Now(ready) => Pin::new(ready).poll(cx),
            // A forum task that stopped without answering took the request
            // and may have been appending it: its outcome is unknown.
            Answer::Waiting { id, rx } => Pin::new(rx)
                .poll(cx)
                .map(|answer| frames::encode(&answer.unwrap_or_else(|_| frames::outcome_unknown(Some(id.clone()))))),
        }
    }
}

/// Send a close frame and wait (2 s at most) for the client's, reading
/// past whatever it sent meanwhile. Dropping a socket with unread input
/// makes the kernel reset the connection, and a reset can discard frames
/// the client has not read yet, the close frame among them.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let handshake = async {
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), handshake).await;
}

async fn send_frame(socket: &mut WebSocket, frame: &ServerFrame) {
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.send(Message::Text(frames::encode(frame)))).await;
}

/// Whether a read error is an oversized message or frame.
fn is_too_big(err: &axum::Error) -> bool {
    let text = err.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}

/// Whether a read error is a text frame whose payload is not UTF-8. The
/// WebSocket layer reports it as an error, after which the socket can still
/// send the close frame that tells the client why (RFC 6455 §8.1).
fn is_not_utf8(err: &axum::Error) -> bool {
    err.to_string().starts_with("UTF-8 encoding error")
}

/// Wait for the `auth` frame and attach to its forum; on failure, tell the
/// client why and close.
/// The seq of an `event` frame, read from the front of its encoding (the
/// hub's frames put `type` and `seq` first); `None` for any other frame.
fn event_seq(frame: &Frame) -> Option<u64> {
    let rest = frame.as_str().strip_prefix(r#"{"type":"event","seq":"#)?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..digits].parse().ok()
}

async fn authenticate(
    hub: &Hub,
    socket: &mut WebSocket,
    peer: IpAddr,
    limits: &WsLimits,
) -> Option<(String, ForumHandle, Attached)> {
    let first = match tokio::time::timeout(limits.auth_timeout, socket.recv()).await {
        Err(_) => {
            close(socket, close_code::AUTH_REQUIRED, "no auth frame in time").await;
            return None;
        }
        Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return None,
        Ok(Some(Err(err))) => {
            if is_too_big(&err) {
                close(socket, close_code::TOO_BIG, "frame too large").await;
            } else if is_not_utf8(&err) {
                close(socket, close_code::INVALID_PAYLOAD, NOT_UTF8).await;
            }
            return None;
        }
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(Message::Binary(_)))) => {
            close(socket, close_code::UNSUPPORTED, "binary frames are not part of madang.v1").await;
            return None;
        }
        Ok(Some(Ok(_))) => {
            close(socket, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
    };
    let auth = match parse_client_frame(&first) {
        Ok(ClientFrame::Auth(auth)) => auth,
        Ok(_) => {
            send_frame(socket, &frames::auth_required()).await;
            close(socket, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
        Err(err) => {
            send_frame(socket, &frames::error(err.id, err.code, err.message, None)).await;
            close(socket, close_code::AUTH_REQUIRED, "the first frame must be auth").await;
            return None;
        }
    };
    match hub.attach(auth, peer).await {
        Ok(attached) => Some(attached),
        Err(err) => {
            let (code, reason) = match &err {
                AttachError::Unauthorized => (close_code::UNAUTHORIZED, "unauthorized"),
                AttachError::Refused(_) => (close_code::UNAUTHORIZED, "refused"),
                AttachError::Unavailable => (close_code::TRY_AGAIN_LATER, "try again later"),
                AttachError::Damaged => (close_code::TRY_AGAIN_LATER, "forum damaged"),
                AttachError::Limited(_) => (close_code::TRY_AGAIN_LATER, "rate limited"),
            };
            send_frame(socket, &frames::attach_refused(&err)).await;
            close(socket, code, reason).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::{allowed_origin, origin_allowed};

    fn request(origin: Option<&'static str>, host: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_static(host));
        }
        headers
    }

    #[test]
    fn an_origin_is_allowed_when_absent_own_or_listed() {
        let listed = ["https://forum.example.org".to_string()];
        assert!(origin_allowed(&request(None, Some("forum.example.org")), &[]));
        assert!(origin_allowed(&request(Some("https://forum.example.org"), Some("forum.example.org")), &[]));
        assert!(origin_allowed(&request(Some("http://10.0.0.5:8080"), Some("10.0.0.5:8080")), &[]));
        assert!(origin_allowed(&request(Some("https://FORUM.example.org"), Some("proxy:8080")), &listed));
    }

    #[test]
    fn another_origin_is_refused() {
        let listed = ["https://forum.example.org".to_string()];
        for (origin, host) in [
            ("https://evil.example", Some("forum.example.org")),
            ("null", Some("forum.example.org")),
            ("http://10.0.0.5:8081", Some("10.0.0.5:8080")),
            ("https://forum.example.org.evil.example", Some("forum.example.org")),
            ("http://", Some("")),
            ("https://forum.example.org", None),
        ] {
            assert!(!origin_allowed(&request(Some(origin), host), &[]), "{origin} to {host:?}");
        }
        assert!(!origin_allowed(&request(Some("http://forum.example.org"), Some("proxy")), &listed), "scheme");
    }

    #[test]
    fn allowed_origins_are_normalised_and_checked() {
        assert_eq!(allowed_origin(" https://Forum.Example.org/ ").unwrap(), "https://forum.example.org");
        assert_eq!(allowed_origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for bad in ["forum.example.org", "https://", "https://forum.example.org/path", "ftp://x", "*", "null"] {
            assert!(allowed_origin(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod event_seq_tests {
    use madang_protocol::{ParticipantCounts, ServerFrame, Update};

    use super::event_seq;
    use crate::hub::frames;

    #[test]
    fn the_seq_of_an_event_is_read_from_its_encoding_and_other_frames_have_none() {
        let counts = ParticipantCounts { remote: 3, hall: 1, tickets: None };
        let update = Update::Participants { participants: counts };
        let event = frames::encode(&ServerFrame::Event { seq: 4_021, at_ms: 7, update });
        assert_eq!(event_seq(&event), Some(4_021));
        assert_eq!(event_seq(&frames::encode(&frames::pong(None))), None);
    }
}
