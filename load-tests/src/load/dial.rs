//! Opening connections: TCP from one of the loopback source addresses, then
//! the WebSocket handshake of the target's dialect.
//!
//! Why several source addresses: one source address has about 28,000
//! ephemeral ports towards one server port, fewer than a run opens. This
//! module refuses anything but a loopback server, and knows nothing of what
//! is said once the connection is open.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, Result, bail};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::context::RunContext;
use crate::wire::Target;

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// The source address of connection `index`: 127.0.0.2, .3, … in turn, over `sources` addresses.
pub(crate) fn source_ip(index: usize, sources: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (index % sources.max(1) as usize) as u8))
}

/// A TCP connection from `source` to a loopback `server`; a small receive
/// buffer makes a reader that stops reading fill up (and be noticed) sooner.
pub(crate) async fn tcp(server: SocketAddr, source: IpAddr, small_receive_buffer: bool) -> Result<TcpStream> {
    if !server.ip().is_loopback() {
        bail!("{server}: only loopback servers are allowed");
    }
    let socket = TcpSocket::new_v4()?;
    if small_receive_buffer {
        socket.set_recv_buffer_size(4096)?;
    }
    socket.bind(SocketAddr::new(source, 0)).with_context(|| format!("binding {source}"))?;
    let stream = socket.connect(server).await.with_context(|| format!("connecting {source} → {server}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The WebSocket handshake on `stream`: Madang's `/ws` with the `madang.v1`
/// subprotocol, or the peer's Engine.IO address.
pub(crate) async fn handshake(
    stream: TcpStream,
    server: SocketAddr,
    target: Target,
    config: Option<WebSocketConfig>,
) -> Result<Ws> {
    let (url, subprotocol) = match target {
        Target::Madang => (format!("ws://{server}/ws"), Some("madang.v1")),
        _ => (format!("ws://{server}/socket.io/?EIO=4&transport=websocket"), None),
    };
    let mut request = url.into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(subprotocol));
    }
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, config).await?;
    Ok(ws)
}

/// Connection `index` of a run, not yet logged in.
pub(crate) async fn run_connection(ctx: &RunContext, index: usize, small_receive_buffer: bool) -> Result<Ws> {
    let args = &ctx.args;
    let stream = tcp(args.server, source_ip(index, args.sources), small_receive_buffer).await?;
    // Small buffers: tens of thousands of connections live in this process.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    handshake(stream, args.server, args.target, Some(config)).await
}
