//! The transport's limits, probed with raw sockets on loopback: sockets that
//! send no request, or trickle one, are closed; a stranger's body is never
//! waited for; the connection caps refuse what is over them while /healthz
//! still answers; the binary raises a low open-file limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use madang::listener::HttpLimits;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{ADMIN, Client, Process, TestServer};

/// Short timeouts, so that each test runs in about a second; no caps.
fn quick() -> HttpLimits {
    HttpLimits {
        max_connections: 10_000,
        max_connections_per_ip: 0,
        header_read_timeout: Duration::from_millis(600),
        body_read_timeout: Duration::from_millis(600),
        ..HttpLimits::default()
    }
}

/// Long timeouts, so that whatever a test sees quickly is not a timeout.
fn patient() -> HttpLimits {
    HttpLimits { header_read_timeout: Duration::from_secs(60), body_read_timeout: Duration::from_secs(60), ..quick() }
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind a loopback source address");
    socket.connect(server).await.expect("connect")
}

/// Read until the server closes the socket; what it sent, or panic after `within`.
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => {
                panic!("the server kept the socket open for {within:?}; it sent {:?}", String::from_utf8_lossy(&got))
            }
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Read until a whole response head has come; it, or panic after `within`.
async fn read_head(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("no response within {within:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(0)) | Ok(Err(_)) => panic!("closed without a response; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// `GET path` on a fresh connection from `from`: the response head and body.
async fn get_from(from: [u8; 4], server: SocketAddr, path: &str) -> String {
    let mut stream = connect_from(from, server).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: madang\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    read_to_close(&mut stream, Duration::from_secs(5)).await
}

#[tokio::test]
async fn trickling_headers_are_cut_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), quick()).await;
    let mut stream = connect_from([127, 0, 0, 1], server.addr).await;
    let started = Instant::now();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: madang\r\n").await.unwrap();
    let mut closed = false;
    for i in 0..40 {
        // One header line every 100 ms: each arrives well within any read timeout.
        if stream.write_all(format!("X-Trickle-{i}: 1\r\n").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await {
            assert!(matches!(read, Ok(0) | Err(_)), "the server answered an unfinished request head");
            closed = true;
            break;
        }
    }
    assert!(closed, "a socket trickling headers for 4 s was not closed");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "closed only after {elapsed:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_silent_socket_and_an_idle_keep_alive_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), quick()).await;
    let mut silent = connect_from([127, 0, 0, 1], server.addr).await;
    let mut kept_alive = connect_from([127, 0, 0, 1], server.addr).await;
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: madang\r\n\r\n").await.unwrap();
    let head = read_head(&mut kept_alive, Duration::from_secs(5)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let started = Instant::now();
    assert_eq!(read_to_close(&mut silent, Duration::from_secs(3)).await, "", "a silent socket gets no answer");
    read_to_close(&mut kept_alive, Duration::from_secs(3)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    server.stop().await;
}

#[tokio::test]
async fn an_unauthenticated_huge_post_is_refused_before_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), patient()).await;
    let mut stream = connect_from([127, 0, 0, 1], server.addr).await;
    let started = Instant::now();
    stream
        .write_all(
            b"POST /api/forums HTTP/1.1\r\nHost: madang\r\nContent-Type: application/json\r\n\
              Content-Length: 1099511627776\r\n\r\n{",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream, Duration::from_secs(2)).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // The rest of the announced body is not waited for either.
    read_to_close(&mut stream, Duration::from_secs(2)).await;
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn a_trickling_body_is_cut_at_the_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), quick()).await;
    let mut stream = connect_from([127, 0, 0, 1], server.addr).await;
    let head = format!(
        "POST /api/forums HTTP/1.1\r\nHost: madang\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut trickler) = stream.into_split();
    // One byte every 50 ms: each arrives well within any read timeout.
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if trickler.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let answer = read_head(&mut reader, Duration::from_secs(3)).await;
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn the_per_address_cap_refuses_the_next_connection_from_that_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), HttpLimits { max_connections_per_ip: 3, ..patient() }).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from([127, 0, 0, 3], server.addr).await);
    }
    // Each held socket is accepted before the next connection (the accept queue is in order).
    let answer = get_from([127, 0, 0, 3], server.addr, "/healthz").await;
    assert_eq!(answer, "", "the 4th connection from one address is closed unanswered");
    let other = get_from([127, 0, 0, 4], server.addr, "/healthz").await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // A closed connection gives its place back.
    drop(held.pop());
    let mut answer = String::new();
    for _ in 0..50 {
        answer = get_from([127, 0, 0, 3], server.addr, "/healthz").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        // The server notices the close when its read of that socket ends.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_healthz_answers_and_the_rest_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_http(dir.path(), HttpLimits { max_connections: 3, ..patient() }).await;
    // A WebSocket holds its place after the upgrade; silent sockets hold theirs.
    let _socket = Client::connect(&server.ws_url()).await;
    let _silent = [connect_from([127, 0, 0, 1], server.addr).await, connect_from([127, 0, 0, 1], server.addr).await];
    let started = Instant::now();
    let health = get_from([127, 0, 0, 1], server.addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""status":"ok""#), "{health}");
    let refused = get_from([127, 0, 0, 1], server.addr, "/api/forums/nope").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains(r#""code":"unavailable""#), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    // An overflow place is not for holding: a silent one is closed soon,
    // although the server's header timeout is a minute.
    let mut silent = connect_from([127, 0, 0, 1], server.addr).await;
    let started = Instant::now();
    read_to_close(&mut silent, Duration::from_secs(4)).await;
    assert!(started.elapsed() < Duration::from_secs(3), "held for {:?}", started.elapsed());
    server.stop().await;
}

/// The binary, started with a soft open-file limit of 128, serves 300 idle
/// sockets and still answers /healthz: it raised the limit to the hard one.
#[tokio::test]
async fn the_binary_raises_a_low_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let node = Process::start_with_soft_file_limit(dir.path(), 128, &["--max-connections-per-ip", "0"]).await;
    let addr: SocketAddr = node.base.trim_start_matches("http://").parse().expect("address");
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from([127, 0, 0, 1], addr).await);
    }
    let started = Instant::now();
    let health = get_from([127, 0, 0, 1], addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

/// The binary with an open-file limit it cannot raise (soft and hard 96) and
/// a connection cap above it, so that `accept` fails with `EMFILE`: it backs
/// off instead of spinning, says so at most once per second, and accepts
/// again as soon as files are free.
#[tokio::test]
async fn at_the_open_file_limit_accept_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "ulimit -n 96 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_madang")])
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", "limits-admin", "--data-dir"])
        .arg(dir.path())
        .args(["--max-connections", "1000", "--max-connections-per-ip", "0"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start madang");
    let mut banner = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), banner.next_line())
        .await
        .expect("banner in time")
        .expect("read banner")
        .expect("a banner line");
    let addr: SocketAddr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .parse()
        .expect("address");
    tokio::spawn(async move { while let Ok(Some(_)) = banner.next_line().await {} });
    let accept_errors = Arc::new(AtomicUsize::new(0));
    let mut log = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let counted = accept_errors.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = log.next_line().await {
            if line.contains("cannot accept connections") {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    // More sockets than the process has files: the kernel queues the rest.
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(connect_from([127, 0, 0, 1], addr).await);
    }
    let logged = Instant::now();
    let errors_before = accept_errors.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let errors = accept_errors.load(Ordering::Relaxed) - errors_before;
    assert!(errors >= 1, "the server never said that it cannot accept");
    let seconds = logged.elapsed().as_secs_f64();
    assert!(errors as f64 <= seconds + 2.0, "{errors} accept errors logged in {seconds:.1} s");

    drop(idle);
    let started = Instant::now();
    let health = get_from([127, 0, 0, 1], addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

/// Sockets that hold the server (a silent one, one half-way through its
/// request head) delay its shutdown by at most the shutdown grace, however
/// long the header read timeout.
#[tokio::test]
async fn held_sockets_delay_a_graceful_stop_by_at_most_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HttpLimits { shutdown_grace: Duration::from_millis(500), ..patient() };
    let server = TestServer::start_http(dir.path(), limits).await;
    let _silent = connect_from([127, 0, 0, 1], server.addr).await;
    let mut half = connect_from([127, 0, 0, 1], server.addr).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: mad").await.unwrap();
    let health = get_from([127, 0, 0, 1], server.addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2), "stopping took {:?}", started.elapsed());
    read_to_close(&mut half, Duration::from_secs(1)).await;
}
