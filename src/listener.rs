//! Accepting connections on the open internet: how many may be open, for how
//! long a socket may stay silent, and what happens at the open-file limit.
//!
//! Every connection is a file descriptor, and a process that runs out of them
//! can accept nothing, not even a health check, while `accept` fails in a
//! tight loop. So the accept loop is our own rather than `axum::serve`, which
//! neither sets a header read timeout nor counts connections:
//!
//! - a socket must send a complete request head within `header_read_timeout`,
//!   whether it trickles bytes or sends none (also between keep-alive requests);
//! - one address (an IPv4 address, an IPv6 /64) holds at most
//!   `max_connections_per_ip` connections; the next one is closed at once;
//! - all addresses together hold at most `max_connections`; past it, a few
//!   more (`OVERFLOW_CONNECTIONS`) are served by the overflow router, which
//!   answers `/healthz` and refuses everything else with 503, so that a load
//!   balancer still learns how the node is; past those, a connection is closed
//!   at once; an overflow connection must send its request within 2 s;
//! - an accept error (`EMFILE`, …) backs off briefly and is logged at most
//!   once per second.
//!
//! A connection's place is held by its socket, so a WebSocket keeps its place
//! after the upgrade until the socket closes. Only HTTP/1.1 is served: the
//! WebSocket upgrade needs it, and HTTP/2 without TLS has no header timeout.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::abuse::address_key;

/// File descriptors kept free of connections for the store's files, Redis,
/// the overflow connections and the process itself.
pub const RESERVED_FILES: u64 = 256;

/// Connections served past `max_connections`, by the overflow router only.
pub const OVERFLOW_CONNECTIONS: usize = 64;

/// The longest an overflow connection may take to send its request head:
/// the few overflow places are for quick health checks, not for holding.
const OVERFLOW_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause after a failed `accept`, so that a full file table is not a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Limits of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Connections open at once, over all addresses (WebSockets included).
    pub max_connections: usize,
    /// Connections open at once from one IPv4 address or IPv6 /64; 0 for no
    /// such cap (behind a reverse proxy, every connection has its address).
    pub max_connections_per_ip: usize,
    /// How long a socket may take to send a request's head, from when it
    /// connects or finished its previous request.
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive, in all.
    pub body_read_timeout: Duration,
    /// How long open connections get to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    /// Caps derived from the process's current soft open-file limit.
    fn default() -> Self {
        HttpLimits {
            max_connections: max_connections_for(open_file_limit()),
            max_connections_per_ip: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The default global cap for a soft open-file limit of `files`.
pub fn max_connections_for(files: u64) -> usize {
    let free = files.saturating_sub(RESERVED_FILES).max(1);
    usize::try_from(free).unwrap_or(usize::MAX)
}

/// The process's soft open-file limit (`u64::MAX` where there is none).
pub fn open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// Raise the soft open-file limit as far as the hard limit allows; the
/// limit in force afterwards. A distribution's default soft limit (1,024) is
/// far below what a forum of thousands of phones needs.
pub fn raise_open_file_limit() -> io::Result<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(u64::MAX)
    }
    #[cfg(not(unix))]
    {
        Ok(u64::MAX)
    }
}

/// What a connection may do, decided when it is accepted.
enum Admission {
    Serve(Place),
    Overflow(Place),
    Refuse(&'static str),
}

/// The counters behind the caps.
#[derive(Default)]
struct Counts {
    total: usize,
    per_key: HashMap<IpAddr, usize>,
}

struct Admissions {
    limits: HttpLimits,
    counts: Mutex<Counts>,
}

impl Admissions {
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Admission {
        let key = address_key(peer);
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let per_ip = self.limits.max_connections_per_ip;
        let from_key = counts.per_key.get(&key).copied().unwrap_or(0);
        if per_ip > 0 && from_key >= per_ip {
            return Admission::Refuse("the address has too many connections open");
        }
        let overflow = counts.total >= self.limits.max_connections;
        if counts.total >= self.limits.max_connections.saturating_add(OVERFLOW_CONNECTIONS) {
            return Admission::Refuse("the server is at its connection limit");
        }
        counts.total += 1;
        *counts.per_key.entry(key).or_insert(0) += 1;
        let place = Place { admissions: self.clone(), key };
        if overflow { Admission::Overflow(place) } else { Admission::Serve(place) }
    }
}

/// One connection's place under the caps, given back when dropped.
struct Place {
    admissions: Arc<Admissions>,
    key: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.admissions.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.per_key.remove(&self.key);
            }
        }
    }
}

/// A socket that holds its connection's place for as long as it is open,
/// through a WebSocket upgrade too.
struct Counted {
    stream: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A warning logged at most once per second, with how many were left out.
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    fn new() -> Self {
        Throttled { last: None, suppressed: 0 }
    }

    /// Whether to log now; if so, how many were left out since the last one.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < Duration::from_secs(1)) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// What each connection is served by.
pub(crate) struct Routers {
    /// The whole application.
    pub(crate) app: Router,
    /// For connections past `max_connections`: `/healthz`, and 503 for the rest.
    pub(crate) overflow: Router,
}

/// Accept and serve connections until `stop` is cancelled; then stop
/// accepting, let each open connection finish its request (for at most
/// `shutdown_grace`), and return. Upgraded WebSockets are not waited for:
/// they end on `stop` themselves.
pub(crate) async fn serve(listener: TcpListener, routers: Routers, limits: HttpLimits, stop: CancellationToken) {
    let admissions = Arc::new(Admissions { limits: limits.clone(), counts: Mutex::default() });
    let connections = TaskTracker::new();
    let mut accept_errors = Throttled::new();
    let mut refusals = Throttled::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                if let Some(suppressed) = accept_errors.due() {
                    tracing::error!(%err, suppressed, "cannot accept connections");
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let (place, overflow) = match admissions.admit(peer.ip()) {
            Admission::Serve(place) => (place, false),
            Admission::Overflow(place) => (place, true),
            Admission::Refuse(reason) => {
                if let Some(suppressed) = refusals.due() {
                    tracing::warn!(reason, suppressed, "connection refused");
                }
                drop(stream);
                continue;
            }
        };
        let router = if overflow { routers.overflow.clone() } else { routers.app.clone() };
        let io = Counted { stream, _place: place };
        connections.spawn(serve_connection(io, peer, router, overflow, limits.clone(), stop.clone()));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Serve one connection's requests; each carries the peer's address as
/// [`ConnectInfo`], for the limits per address.
async fn serve_connection(
    io: Counted,
    peer: SocketAddr,
    router: Router,
    overflow: bool,
    limits: HttpLimits,
    stop: CancellationToken,
) {
    let header_read_timeout = if overflow {
        limits.header_read_timeout.min(OVERFLOW_HEADER_READ_TIMEOUT)
    } else {
        limits.header_read_timeout
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).keep_alive(!overflow);
    let service = router.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
            return;
        }
        _ = stop.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    // Shutting down: the request in progress may finish, for a while.
    let _ = tokio::time::timeout(limits.shutdown_grace, connection).await;
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_files_for_the_store() {
        assert_eq!(max_connections_for(1024), 768);
        assert_eq!(max_connections_for(100), 1);
    }
}
