//! `madang-load`: the load generator (issue 7).
//!
//! `madang-load run` opens N WebSocket connections spread over the loopback
//! source addresses 127.0.0.2–127.0.0.9 and plays the roles of a forum:
//! projector displays, idle participants, voters casting ballots at a set
//! rate (steady, or one burst when a poll opens), moderators changing the
//! agenda, clients that stop reading, and clients that drop and resume. It
//! drives a Madang server, the socket.io peer (`--target socketio`) or the raw
//! fan-out ceiling (`--target ceiling`, served by `madang-load ceiling-serve`).
//! Every run is bounded in count and time, prints a progress line per second
//! and a table, and writes a JSON result (`--out`).
//!
//! How things are measured (all in one process, one monotonic clock):
//! - ack latency: a ballot's send → its `ack`;
//! - ballot → display: a `tally` frame carries the forum's `seq` when it was
//!   rendered, so it counts every ballot whose ack `seq` is at most that. For
//!   each acked ballot and each display, the delay is the display's first tally
//!   with `seq ≥ ack.seq`, minus the ack's arrival (0 if the tally came first);
//! - agenda change → all: the moderator's `edit_item` ack (and its send) →
//!   each connection's receipt of the `event` with that `seq`;
//! - server CPU and RSS from `/proc/<--server-pid>`.

mod wire;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use wire::{Cred, In, Target};

#[derive(Parser)]
#[command(name = "madang-load", about = "Load generator for Madang, the socket.io peer and the raw fan-out ceiling")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one bounded load scenario and report.
    Run(RunArgs),
    /// The raw fan-out ceiling: accept N TCP connections, then write the same
    /// bytes to all of them, round after round (no WebSocket, no forum).
    CeilingServe(CeilingArgs),
}

#[derive(Args, Clone)]
struct RunArgs {
    #[arg(long, value_enum, default_value = "madang")]
    target: Target,
    /// host:port of the server (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: SocketAddr,
    /// Madang admin token (to create the forum).
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true, default_value = "")]
    admin_token: String,
    /// Total connections, all roles included (moderators excepted).
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    #[arg(long, default_value_t = 10)]
    displays: usize,
    #[arg(long, default_value_t = 100)]
    voters: usize,
    /// Ballots per second over all voters (steady); each voter stays under the 20/s limit.
    #[arg(long, default_value_t = 200.0)]
    ballot_rate: f64,
    /// Instead of a steady rate: the poll opens at the start and every voter
    /// casts one ballot at a random moment within this many milliseconds.
    #[arg(long)]
    burst_ms: Option<u64>,
    /// Moderator connections changing the agenda (each one is rate limited to 20/s).
    #[arg(long, default_value_t = 1)]
    moderators: usize,
    /// Milliseconds between agenda changes (over all moderators).
    #[arg(long, default_value_t = 1000)]
    agenda_every_ms: u64,
    /// At most this many agenda changes.
    #[arg(long, default_value_t = 1000)]
    agenda_changes: u64,
    /// Wait until every connection has each agenda change before the next one
    /// (fan-out rounds), for at most this many milliseconds per round.
    #[arg(long)]
    agenda_rounds_wait_ms: Option<u64>,
    /// Fraction of the idle connections that stop reading after --slow-after-secs.
    #[arg(long, default_value_t = 0.0)]
    slow_fraction: f64,
    #[arg(long, default_value_t = 5.0)]
    slow_after_secs: f64,
    /// Idle connections drop and reconnect (resuming with last_seq) at this many
    /// seconds into the run, spread over --reconnect-window-secs.
    #[arg(long)]
    reconnect_at_secs: Option<f64>,
    #[arg(long, default_value_t = 5.0)]
    reconnect_window_secs: f64,
    /// Distinct participants joined before the run (idle connections reuse their tokens).
    #[arg(long, default_value_t = 1000)]
    people: usize,
    /// Seconds of load after everyone is connected.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 180.0)]
    connect_timeout: f64,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Number of loopback source addresses (127.0.0.2 …).
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// The server's pid, to sample its CPU and RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Ceiling target: bytes per message and rounds to expect.
    #[arg(long, default_value_t = 400)]
    ceiling_bytes: usize,
    #[arg(long, default_value_t = 5)]
    ceiling_rounds: usize,
    /// Scenario name, copied into the result.
    #[arg(long, default_value = "custom")]
    name: String,
    /// Write the JSON result here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Exit non-zero when any connection or command failed.
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
struct CeilingArgs {
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    #[arg(long)]
    conns: usize,
    #[arg(long, default_value_t = 400)]
    bytes: usize,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Give up waiting for connections after this many seconds.
    #[arg(long, default_value_t = 180)]
    accept_timeout: u64,
}

fn raise_nofile() -> u64 {
    // SAFETY: plain libc calls with a properly initialised struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let want = libc::rlimit { rlim_cur: 1 << 20, rlim_max: 1 << 20 };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let nofile = raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    // Displays and moderators are separate devices in a real forum: here
    // they get a thread of their own, so that what they measure is not the
    // wait behind this process's 20,000 other connections.
    let devices = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("devices")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let devices_handle = devices.handle().clone();
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Run(args) => run(args, nofile, devices_handle).await,
            Cmd::CeilingServe(args) => ceiling_serve(args).await.map(|()| true),
        }
    });
    devices.shutdown_background();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- shared state

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Run,
    Stop,
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connect_failed: AtomicU64,
    acks: AtomicU64,
    rejected: AtomicU64,
    rate_limited: AtomicU64,
    dropped: AtomicU64,
    frames_in: AtomicU64,
    reconnected: AtomicU64,
}

struct Forum {
    id: String,
    remote_code: String,
    moderator: String,
    display: String,
    poll: u64,
    item: u64,
    tokens: Vec<String>,
}

struct Ctx {
    args: RunArgs,
    forum: Forum,
    c: Counters,
    t0: Instant,
    phase: watch::Receiver<Phase>,
    run_start: watch::Receiver<Option<Instant>>,
    connect_sem: Semaphore,
}

impl Ctx {
    fn us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.t0).as_micros() as u64
    }
    fn now(&self) -> u64 {
        self.us(Instant::now())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Voter,
    Display,
    Idle,
    Slow,
    Moderator,
}

#[derive(Default)]
struct ConnResult {
    connected: bool,
    error: Option<String>,
    close_code: Option<u16>,
    ack_lat: Vec<u64>,
    /// (ack seq, ack time µs)
    acks: Vec<(u64, u64)>,
    /// (tally seq, time µs)
    tallies: Vec<(u64, u64)>,
    /// (agenda event seq, time µs)
    agenda: Vec<(u64, u64)>,
    /// Moderator: (seq, send µs, ack µs)
    changes: Vec<(u64, u64, u64)>,
    first_head: u64,
    reconnected: bool,
    resumed_by_snapshot: bool,
    slow_stopped_at: Option<u64>,
}

type Ws = WebSocketStream<TcpStream>;

fn source_ip(i: usize, n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % n.max(1) as usize) as u8))
}

async fn dial_tcp(server: SocketAddr, src: IpAddr, small_rcvbuf: bool) -> Result<TcpStream> {
    if !server.ip().is_loopback() {
        bail!("{server}: only loopback servers are allowed");
    }
    let sock = TcpSocket::new_v4()?;
    if small_rcvbuf {
        sock.set_recv_buffer_size(4096)?;
    }
    sock.bind(SocketAddr::new(src, 0)).with_context(|| format!("binding {src}"))?;
    let stream = sock.connect(server).await.with_context(|| format!("connecting {src} → {server}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn dial(ctx: &Ctx, i: usize, slow: bool) -> Result<Ws> {
    let a = &ctx.args;
    let stream = dial_tcp(a.server, source_ip(i, a.sources), slow).await?;
    let (url, proto) = match a.target {
        Target::Madang => (format!("ws://{}/ws", a.server), Some("madang.v1")),
        _ => (format!("ws://{}/socket.io/?EIO=4&transport=websocket", a.server), None),
    };
    let mut req = url.into_client_request()?;
    if let Some(p) = proto {
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
    }
    // Small buffers: tens of thousands of connections live in this process.
    let cfg = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(cfg)).await?;
    Ok(ws)
}

/// Log in and wait for the welcome (or the peer's join ack); frames before it are handled by `on`.
async fn login(
    ctx: &Ctx,
    ws: &mut Ws,
    cred: &Cred,
    last_seq: Option<u64>,
    st: &mut State,
) -> Result<(u64, Option<String>, bool)> {
    let target = ctx.args.target;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    if target == Target::Madang {
        ws.send(Message::text(wire::login(target, &ctx.forum.id, cred, last_seq))).await?;
    }
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no welcome in 30 s"))?;
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => bail!("closed before welcome: {:?}", f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("ended before welcome"),
        };
        if target == Target::Socketio {
            if text.starts_with('0') {
                ws.send(Message::text("40")).await?;
                continue;
            }
            if text.starts_with("40") {
                ws.send(Message::text(wire::login(target, &ctx.forum.id, cred, last_seq))).await?;
                continue;
            }
        }
        match wire::parse(target, &text) {
            In::Welcome { head_seq, token, snapshot, .. } => return Ok((head_seq, token, snapshot)),
            In::Error { code, .. } => bail!("login refused: {code}"),
            other => st.on(ctx, other, ws).await?,
        }
    }
}

/// What one connection has seen, and how it answers frames.
struct State {
    role: Role,
    res: ConnResult,
    last_seq: u64,
    inflight: HashMap<u64, u64>,
    next_id: u64,
}

impl State {
    /// Take what a run's connection read: a frame is handled, an end is
    /// counted as a drop. False when the connection is done.
    async fn take(
        &mut self,
        ctx: &Ctx,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        ws: &mut Ws,
    ) -> bool {
        let ended = match message {
            Some(Ok(Message::Text(t))) => {
                let f = wire::parse(ctx.args.target, &t);
                if let In::Event { agenda: true, .. } = f {
                    AGENDA_BYTES.store(t.len() as u64, Relaxed);
                }
                self.on(ctx, f, ws).await.is_err()
            }
            Some(Ok(Message::Close(f))) => {
                self.res.close_code = f.map(|f| u16::from(f.code));
                true
            }
            Some(Ok(_)) => false,
            Some(Err(e)) => {
                self.res.error = Some(e.to_string());
                true
            }
            None => true,
        };
        if ended {
            ctx.c.dropped.fetch_add(1, Relaxed);
        }
        !ended
    }

    async fn on(&mut self, ctx: &Ctx, frame: In, ws: &mut Ws) -> Result<()> {
        ctx.c.frames_in.fetch_add(1, Relaxed);
        let now = ctx.now();
        match frame {
            In::Ping => ws.send(Message::text("3")).await?,
            In::Ack { id, seq } => {
                if let Some(sent) = self.inflight.remove(&id) {
                    match self.role {
                        Role::Moderator => self.res.changes.push((seq, sent, now)),
                        _ => {
                            ctx.c.acks.fetch_add(1, Relaxed);
                            self.res.ack_lat.push(now.saturating_sub(sent));
                            self.res.acks.push((seq, now));
                        }
                    }
                }
            }
            In::Error { id, code } => {
                if let Some(id) = id {
                    self.inflight.remove(&id);
                }
                if code == "rate_limited" {
                    ctx.c.rate_limited.fetch_add(1, Relaxed);
                } else {
                    ctx.c.rejected.fetch_add(1, Relaxed);
                }
                tracing_error(&code);
            }
            In::Tally { seq } => {
                if self.role == Role::Display {
                    self.res.tallies.push((seq, now));
                }
            }
            In::Event { seq, agenda } => {
                self.last_seq = self.last_seq.max(seq);
                if agenda {
                    self.res.agenda.push((seq, now));
                }
            }
            In::Welcome { .. } | In::Other => {}
        }
        Ok(())
    }
}

/// The size of an agenda `event` frame as received (for the ceiling's message size).
static AGENDA_BYTES: AtomicU64 = AtomicU64::new(0);

fn tracing_error(code: &str) {
    static SHOWN: AtomicU64 = AtomicU64::new(0);
    if SHOWN.fetch_add(1, Relaxed) < 5 {
        eprintln!("server error frame: {code}");
    }
}

fn rand_u64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn cred_for(ctx: &Ctx, role: Role, i: usize) -> Cred {
    let f = &ctx.forum;
    match role {
        Role::Moderator => Cred::Token { token: f.moderator.clone(), role: "moderator" },
        Role::Display => Cred::Token { token: f.display.clone(), role: "display" },
        _ if f.tokens.is_empty() => Cred::Join { code: f.remote_code.clone() },
        _ => Cred::Token { token: f.tokens[i % f.tokens.len()].clone(), role: "participant" },
    }
}

/// One connection, from dial to stop.
async fn conn_task(ctx: Arc<Ctx>, i: usize, role: Role, role_index: usize) -> ConnResult {
    // Request ids are unique per person, and the moderators are one person: number them by connection.
    let mut st = State {
        role,
        res: ConnResult::default(),
        last_seq: 0,
        inflight: HashMap::new(),
        next_id: ((i as u64) << 24) + 1,
    };
    let cred = cred_for(&ctx, role, if role == Role::Voter { role_index } else { i });
    let mut ws = {
        let _permit = ctx.connect_sem.acquire().await;
        let opened = async {
            let mut ws = dial(&ctx, i, role == Role::Slow).await?;
            let (head, _, _) = login(&ctx, &mut ws, &cred, None, &mut st).await?;
            Ok::<_, anyhow::Error>((ws, head))
        };
        match tokio::time::timeout(Duration::from_secs_f64(ctx.args.connect_timeout), opened).await {
            Ok(Ok((ws, head))) => {
                st.res.first_head = head;
                st.last_seq = head;
                ws
            }
            Ok(Err(e)) => {
                ctx.c.connect_failed.fetch_add(1, Relaxed);
                st.res.error = Some(format!("{e:#}"));
                return st.res;
            }
            Err(_) => {
                ctx.c.connect_failed.fetch_add(1, Relaxed);
                st.res.error = Some("connect timed out".into());
                return st.res;
            }
        }
    };
    st.res.connected = true;
    ctx.c.connected.fetch_add(1, Relaxed);

    let mut phase = ctx.phase.clone();
    let mut run_start = ctx.run_start.clone();
    let start = loop {
        if let Some(s) = *run_start.borrow_and_update() {
            break Some(s);
        }
        if *phase.borrow() == Phase::Stop {
            break None;
        }
        tokio::select! {
            _ = run_start.changed() => {}
            _ = phase.changed() => {}
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => { let f = wire::parse(ctx.args.target, &t); if st.on(&ctx, f, &mut ws).await.is_err() { break None; } }
                Some(Ok(Message::Close(f))) => { st.res.close_code = f.map(|f| u16::from(f.code)); break None; }
                Some(Ok(_)) => {}
                _ => break None,
            }
        }
    };
    let Some(start) = start else {
        if st.res.close_code.is_some() || *phase.borrow() != Phase::Stop {
            ctx.c.dropped.fetch_add(1, Relaxed);
        }
        return st.res;
    };
    let a = &ctx.args;
    let target = a.target;

    // The role's schedule.
    let voters = a.voters.max(1) as f64;
    let mut tick = match (role, a.burst_ms) {
        (Role::Voter, None) => {
            let period = Duration::from_secs_f64(voters / a.ballot_rate.max(0.001));
            let offset = Duration::from_secs_f64(period.as_secs_f64() * (rand_u64(i as u64) % 1000) as f64 / 1000.0);
            let mut t = tokio::time::interval_at((start + offset).into(), period);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Some(t)
        }
        (Role::Moderator, _) if a.agenda_rounds_wait_ms.is_none() => {
            let period = Duration::from_millis(a.agenda_every_ms * a.moderators as u64);
            let offset = Duration::from_millis(a.agenda_every_ms * role_index as u64 + 500);
            let mut t = tokio::time::interval_at((start + offset).into(), period);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Some(t)
        }
        _ => None,
    };
    let burst_at = match (role, a.burst_ms) {
        (Role::Voter, Some(ms)) => Some(start + Duration::from_micros(rand_u64(i as u64) % (ms.max(1) * 1000))),
        _ => None,
    };
    let mut burst_done = false;
    let slow_at = (role == Role::Slow).then(|| start + Duration::from_secs_f64(a.slow_after_secs));
    let mut reading = true;
    let reconnect_at = match (role, a.reconnect_at_secs) {
        (Role::Idle, Some(s)) => {
            let jitter = (rand_u64(i as u64 ^ 0xabc) % 1_000_000) as f64 / 1e6 * a.reconnect_window_secs;
            Some(start + Duration::from_secs_f64(s + jitter))
        }
        _ => None,
    };
    let mut reconnected = false;
    let mut sent_changes = 0u64;
    let far = start + Duration::from_secs(3600);
    // Nothing new is sent after the run's duration: what is in flight is answered in the grace period.
    let send_until = start + Duration::from_secs_f64(a.duration.min(600.0));

    // Most connections only listen. Their loop waits on two things only, the
    // stop signal registered once: the general loop below creates a timer
    // and a watch registration per frame, and with 20,000 listeners on one
    // core that was the generator, not the server, setting the pace of a
    // fan-out measurement.
    if role == Role::Idle && reconnect_at.is_none() {
        let stop = async {
            while phase.changed().await.is_ok() {
                if *phase.borrow() == Phase::Stop {
                    break;
                }
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                m = ws.next() => if !st.take(&ctx, m, &mut ws).await { break },
            }
        }
        return st.res;
    }

    loop {
        tokio::select! {
            biased;
            _ = phase.changed() => {
                if *phase.borrow() == Phase::Stop { break; }
            }
            _ = tokio::time::sleep_until(burst_at.unwrap_or(far).into()), if burst_at.is_some() && !burst_done && Instant::now() < send_until => {
                burst_done = true;
                let id = st.next_id; st.next_id += 1;
                st.inflight.insert(id, ctx.now());
                if ws.send(Message::text(wire::ballot(target, id, ctx.forum.poll, if i % 2 == 0 { "yes" } else { "no" }))).await.is_err() { break; }
            }
            _ = async { tick.as_mut().unwrap().tick().await }, if tick.is_some() && Instant::now() < send_until => {
                match role {
                    Role::Voter if st.inflight.len() < 8 => {
                        let id = st.next_id; st.next_id += 1;
                        st.inflight.insert(id, ctx.now());
                        let choice = ["yes", "no", "abstain"][(id as usize + i) % 3];
                        if ws.send(Message::text(wire::ballot(target, id, ctx.forum.poll, choice))).await.is_err() { break; }
                    }
                    Role::Moderator if sent_changes < a.agenda_changes => {
                        sent_changes += 1;
                        let id = st.next_id; st.next_id += 1;
                        st.inflight.insert(id, ctx.now());
                        let n = (role_index as u64) * 1_000_000 + sent_changes;
                        if ws.send(Message::text(wire::agenda_change(target, id, ctx.forum.item, n))).await.is_err() { break; }
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(slow_at.unwrap_or(far).into()), if slow_at.is_some() && reading => {
                reading = false;
                st.res.slow_stopped_at = Some(ctx.now());
            }
            _ = tokio::time::sleep_until(reconnect_at.unwrap_or(far).into()), if reconnect_at.is_some() && !reconnected => {
                reconnected = true;
                drop(ws);
                let resumed = async {
                    let mut ws = dial(&ctx, i, false).await?;
                    let (_, _, snapshot) = login(&ctx, &mut ws, &cred, Some(st.last_seq), &mut st).await?;
                    Ok::<_, anyhow::Error>((ws, snapshot))
                };
                match tokio::time::timeout(Duration::from_secs(30), resumed).await {
                    Ok(Ok((w, snapshot))) => {
                        ws = w;
                        st.res.reconnected = true;
                        st.res.resumed_by_snapshot = snapshot;
                        ctx.c.reconnected.fetch_add(1, Relaxed);
                    }
                    Ok(Err(e)) => { st.res.error = Some(format!("reconnect: {e:#}")); ctx.c.dropped.fetch_add(1, Relaxed); return st.res; }
                    Err(_) => { st.res.error = Some("reconnect timed out".into()); ctx.c.dropped.fetch_add(1, Relaxed); return st.res; }
                }
            }
            m = ws.next(), if reading => if !st.take(&ctx, m, &mut ws).await { break },
        }
    }
    // A slow reader drains what was queued for it, to learn how it was closed.
    if role == Role::Slow && st.res.close_code.is_none() {
        let drain = async {
            while let Some(m) = ws.next().await {
                match m {
                    Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            None
        };
        if let Ok(code) = tokio::time::timeout(Duration::from_secs(10), drain).await {
            st.res.close_code = code;
        }
    }
    st.res
}

/// The moderator of fan-out rounds: one change, wait until (nearly) everyone has it, next.
async fn rounds_moderator(ctx: Arc<Ctx>, seen: Arc<AtomicU64>) -> ConnResult {
    let mut st =
        State { role: Role::Moderator, res: ConnResult::default(), last_seq: 0, inflight: HashMap::new(), next_id: 1 };
    let cred = cred_for(&ctx, Role::Moderator, 0);
    let mut ws = match async {
        let mut ws = dial(&ctx, 0, false).await?;
        login(&ctx, &mut ws, &cred, None, &mut st).await?;
        Ok::<_, anyhow::Error>(ws)
    }
    .await
    {
        Ok(ws) => ws,
        Err(e) => {
            st.res.error = Some(format!("{e:#}"));
            return st.res;
        }
    };
    let mut run_start = ctx.run_start.clone();
    while run_start.borrow_and_update().is_none() {
        tokio::select! {
            _ = run_start.changed() => {}
            m = ws.next() => if let Some(Ok(Message::Text(t))) = m { let f = wire::parse(ctx.args.target, &t); let _ = st.on(&ctx, f, &mut ws).await; } else if m.is_none() { return st.res; },
        }
    }
    let a = &ctx.args;
    let wait = Duration::from_millis(a.agenda_rounds_wait_ms.unwrap_or(5000));
    let total = ctx.c.connected.load(Relaxed);
    for n in 1..=a.agenda_changes {
        tokio::time::sleep(Duration::from_millis(a.agenda_every_ms)).await;
        let before = seen.load(Relaxed);
        let id = st.next_id;
        st.next_id += 1;
        st.inflight.insert(id, ctx.now());
        if ws.send(Message::text(wire::agenda_change(a.target, id, ctx.forum.item, n))).await.is_err() {
            break;
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Read our own frames (the ack and the event) until everyone has it or time is up.
        loop {
            let everyone = seen.load(Relaxed) >= before + total.saturating_sub(1) && st.inflight.is_empty();
            if everyone || tokio::time::Instant::now() >= deadline {
                break;
            }
            match tokio::time::timeout(Duration::from_millis(5), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let f = wire::parse(a.target, &t);
                    let _ = st.on(&ctx, f, &mut ws).await;
                }
                Ok(None) | Ok(Some(Err(_))) => return st.res,
                _ => {}
            }
        }
        if *ctx.phase.borrow() == Phase::Stop {
            break;
        }
    }
    st.res
}

// ---------------------------------------------------------------- setup

async fn madang_request(ws: &mut Ws, frame: Value) -> Result<Value> {
    let id = frame["id"].as_str().unwrap_or_default().to_owned();
    ws.send(Message::text(frame.to_string())).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no answer to {id}"))?;
        let Some(Ok(Message::Text(t))) = m else {
            if m.is_none() {
                bail!("connection ended");
            }
            continue;
        };
        let v: Value = serde_json::from_str(&t)?;
        if v["id"].as_str() == Some(&id) {
            if v["type"] == "ack" {
                return Ok(v);
            }
            bail!("{id} refused: {t}");
        }
    }
}

async fn setup_madang(a: &RunArgs, open_poll: bool, people: usize) -> Result<(Forum, Option<Ws>)> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let body = json!({"title": format!("Load test {}", a.name), "language": "en",
        "agenda": [{"title": "Opening"}, {"title": "Budget"}, {"title": "Next steps", "description": "Who follows up on what."}]});
    let resp = http
        .post(format!("http://{}/api/forums", a.server))
        .bearer_auth(&a.admin_token)
        .json(&body)
        .send()
        .await
        .context("creating the forum")?;
    let status = resp.status();
    let created: Value = resp.json().await?;
    if !status.is_success() {
        bail!("creating the forum: {status}: {created}");
    }
    let s = |k: &str| created.pointer(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut forum = Forum {
        id: s("/id"),
        remote_code: s("/join_codes/remote"),
        moderator: s("/moderator_token"),
        display: s("/display_token"),
        poll: 1,
        item: 2,
        tokens: vec![],
    };
    let stream = dial_tcp(a.server, source_ip(0, a.sources), false).await?;
    let mut req = format!("ws://{}/ws", a.server).into_client_request()?;
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("madang.v1"));
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await?;
    ws.send(Message::text(json!({"type": "auth", "token": forum.moderator}).to_string())).await?;
    let _welcome = ws.next().await;
    madang_request(&mut ws, json!({"type": "start_forum", "id": "s1"})).await?;
    madang_request(&mut ws, json!({"type": "activate_item", "id": "s2", "item": 1})).await?;
    let ack = madang_request(
        &mut ws,
        json!({"type": "create_poll", "id": "s3", "title": "Go ahead?", "method": {"kind": "yes_no", "rule": "simple"}, "options": {"from": "none"}}),
    )
    .await?;
    forum.poll = ack["poll"].as_u64().unwrap_or(1);
    if open_poll {
        madang_request(&mut ws, json!({"type": "open_poll", "id": "s4", "poll": forum.poll})).await?;
    }
    // Register the people: each joins once and leaves, so that the run's
    // connections come back with their tokens (a join is an event every
    // connected client receives; see the README).
    let sem = Arc::new(Semaphore::new(64));
    let mut joins = Vec::with_capacity(people);
    for i in 0..people {
        let sem = sem.clone();
        let (server, code, sources) = (a.server, forum.remote_code.clone(), a.sources);
        joins.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            let stream = dial_tcp(server, source_ip(i, sources), false).await?;
            let mut req = format!("ws://{server}/ws").into_client_request()?;
            req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("madang.v1"));
            let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await?;
            ws.send(Message::text(json!({"type": "auth", "join_code": code, "name": format!("p{i}")}).to_string()))
                .await?;
            let t = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
            let Ok(Some(Ok(Message::Text(t)))) = t else { bail!("no welcome") };
            let v: Value = serde_json::from_str(&t)?;
            let token = v
                .pointer("/participant/token")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("no token: {t}"))?
                .to_owned();
            let _ = ws.close(None).await;
            Ok::<_, anyhow::Error>(token)
        }));
    }
    for j in joins {
        forum.tokens.push(j.await??);
    }
    Ok((forum, Some(ws)))
}

// ---------------------------------------------------------------- /proc

#[derive(Clone, Copy, Default)]
struct ProcSample {
    cpu_s: f64,
    rss: u64,
}

fn proc_sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024;
    Some(ProcSample { cpu_s, rss })
}

fn server_sample(a: &RunArgs) -> Option<ProcSample> {
    a.server_pid.and_then(proc_sample)
}

// ---------------------------------------------------------------- stats

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

fn pct(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!(null);
    }
    let ms = |q: f64| (h.value_at_quantile(q) as f64 / 1000.0 * 100.0).round() / 100.0;
    json!({"count": h.len(), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "p999_ms": ms(0.999), "max_ms": (h.max() as f64 / 10.0).round() / 100.0})
}

fn fmt_pct(v: &Value) -> String {
    if v.is_null() {
        return "-".into();
    }
    format!("p50 {} / p99 {} / p99.9 {} ms (n={})", v["p50_ms"], v["p99_ms"], v["p999_ms"], v["count"])
}

// ---------------------------------------------------------------- run

async fn run(a: RunArgs, nofile: u64, devices: tokio::runtime::Handle) -> Result<bool> {
    let t_begin = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if a.conns + 64 > nofile as usize {
        eprintln!("warning: RLIMIT_NOFILE is {nofile}, fewer than {} connections need", a.conns);
    }
    if a.target == Target::Ceiling {
        return run_ceiling(a).await;
    }
    let per_voter = a.ballot_rate / a.voters.max(1) as f64;
    if a.burst_ms.is_none() && a.voters > 0 && per_voter > 19.0 {
        bail!("{per_voter:.1} ballots/s per voter is over the 20/s rate limit: add voters");
    }
    let base = server_sample(&a);
    let t_setup = Instant::now();
    let displays = a.displays.min(a.conns);
    let voters = a.voters.min(a.conns - displays);
    let idle = a.conns - displays - voters;
    let slow = ((idle as f64) * a.slow_fraction).round() as usize;
    let people = a.people.max(voters);
    let (forum, setup_ws) = match a.target {
        Target::Madang => setup_madang(&a, true, people).await?,
        _ => {
            let n = rand_u64(t_begin) % 1_000_000;
            let tokens = (0..people).map(|i| format!("p{n}-{i}")).collect();
            let id = format!("f{n}");
            (
                Forum {
                    id,
                    remote_code: String::new(),
                    moderator: "m".into(),
                    display: "d".into(),
                    poll: 1,
                    item: 2,
                    tokens,
                },
                None,
            )
        }
    };
    eprintln!(
        "setup: forum {} with {people} people in {:.1}s; connecting {} ({voters} voters, {displays} displays, {} idle of which {slow} stop reading, {} moderators)",
        forum.id,
        t_setup.elapsed().as_secs_f64(),
        a.conns,
        idle,
        a.moderators
    );

    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let (start_tx, start_rx) = watch::channel(None);
    let ctx = Arc::new(Ctx {
        args: a.clone(),
        forum,
        c: Counters::default(),
        t0: Instant::now(),
        phase: phase_rx,
        run_start: start_rx,
        connect_sem: Semaphore::new(a.connect_concurrency.max(1)),
    });

    // Roles: voters, then displays, then idle (the slow ones last).
    let mut tasks = Vec::with_capacity(a.conns + a.moderators);
    let mut roles = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        let (role, k) = if i < voters {
            (Role::Voter, i)
        } else if i < voters + displays {
            (Role::Display, i - voters)
        } else if i >= a.conns - slow {
            (Role::Slow, i)
        } else {
            (Role::Idle, i)
        };
        roles.push(role);
        let task = conn_task(ctx.clone(), i, role, k);
        tasks.push(if role == Role::Display { devices.spawn(task) } else { tokio::spawn(task) });
    }
    let seen = Arc::new(AtomicU64::new(0));
    let mut moderator_tasks = Vec::new();
    if a.agenda_rounds_wait_ms.is_some() {
        moderator_tasks.push(devices.spawn(rounds_moderator(ctx.clone(), seen.clone())));
    } else {
        for m in 0..a.moderators {
            moderator_tasks.push(devices.spawn(conn_task(ctx.clone(), a.conns + m, Role::Moderator, m)));
        }
    }

    // Connect.
    let t_conn = Instant::now();
    let limit = Duration::from_secs_f64(a.connect_timeout);
    let mut last_print = Instant::now();
    loop {
        let done = ctx.c.connected.load(Relaxed) + ctx.c.connect_failed.load(Relaxed);
        if done >= a.conns as u64 || t_conn.elapsed() > limit + Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let s = server_sample(&a).unwrap_or_default();
            eprintln!(
                "connecting t={:>5.1}s held={} failed={} server rss={:.0} MiB",
                t_conn.elapsed().as_secs_f64(),
                ctx.c.connected.load(Relaxed),
                ctx.c.connect_failed.load(Relaxed),
                s.rss as f64 / 1048576.0
            );
        }
    }
    let connect_secs = t_conn.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = ctx.c.connected.load(Relaxed);
    let connected_sample = server_sample(&a);
    eprintln!("connected {held}/{} in {connect_secs:.1}s ({} failed)", a.conns, ctx.c.connect_failed.load(Relaxed));

    // Count agenda receipts for the rounds moderator.
    if a.agenda_rounds_wait_ms.is_some() {
        let c = ctx.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let f = c.c.frames_in.load(Relaxed);
                if f != last {
                    seen.store(f, Relaxed);
                    last = f;
                }
                if *c.phase.borrow() == Phase::Stop {
                    break;
                }
            }
        });
    }

    // Run.
    let t_run = Instant::now();
    let run_cpu0 = server_sample(&a);
    let acks0 = ctx.c.acks.load(Relaxed);
    let frames0 = ctx.c.frames_in.load(Relaxed);
    let _ = start_tx.send(Some(t_run));
    let _ = phase_tx.send(Phase::Run);
    let dur = Duration::from_secs_f64(a.duration.min(600.0));
    let mut prev_acks = acks0;
    let mut prev_cpu = run_cpu0.map(|s| s.cpu_s).unwrap_or(0.0);
    let mut progress = Vec::new();
    while t_run.elapsed() < dur {
        tokio::time::sleep(Duration::from_secs(1).min(dur.saturating_sub(t_run.elapsed()))).await;
        let acks = ctx.c.acks.load(Relaxed);
        let s = server_sample(&a).unwrap_or_default();
        let line = format!(
            "run t={:>5.1}s held={} acks/s={} rejected={} rate_limited={} dropped={} reconnected={} frames_in={} server cpu={:.0}% rss={:.0} MiB",
            t_run.elapsed().as_secs_f64(),
            ctx.c.connected.load(Relaxed) - ctx.c.dropped.load(Relaxed),
            acks - prev_acks,
            ctx.c.rejected.load(Relaxed),
            ctx.c.rate_limited.load(Relaxed),
            ctx.c.dropped.load(Relaxed),
            ctx.c.reconnected.load(Relaxed),
            ctx.c.frames_in.load(Relaxed),
            (s.cpu_s - prev_cpu) * 100.0,
            s.rss as f64 / 1048576.0
        );
        eprintln!("{line}");
        progress.push(line);
        prev_acks = acks;
        prev_cpu = s.cpu_s;
    }
    let run_secs = t_run.elapsed().as_secs_f64();
    let run_cpu1 = server_sample(&a);
    let acks_run = ctx.c.acks.load(Relaxed) - acks0;
    // Let answers, events and tallies in flight arrive: until nothing came for 1 s (at most 15 s).
    let grace = Instant::now();
    let mut last_frames = ctx.c.frames_in.load(Relaxed);
    loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let f = ctx.c.frames_in.load(Relaxed);
        // Tallies keep coming at 10 Hz while ballots changed; 20 frames a second is quiet enough.
        if f.saturating_sub(last_frames) <= 20 || grace.elapsed() > Duration::from_secs(15) {
            break;
        }
        last_frames = f;
    }
    let frames_run = ctx.c.frames_in.load(Relaxed) - frames0;
    let _ = phase_tx.send(Phase::Stop);
    drop(setup_ws);

    // Collect, bounded.
    let mut results: Vec<(Role, ConnResult)> = Vec::with_capacity(tasks.len());
    let collect = async {
        for (t, role) in tasks.into_iter().zip(roles.iter().copied()) {
            results.push((role, t.await.unwrap_or_default()));
        }
        for t in moderator_tasks {
            results.push((Role::Moderator, t.await.unwrap_or_default()));
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), collect).await.is_err() {
        eprintln!("warning: some connections did not finish within 60 s; reporting those that did");
    }

    // ---- analysis
    let mut ack_h = hist();
    let mut acks: Vec<(u64, u64)> = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut closes: HashMap<String, u64> = HashMap::new();
    let mut changes: Vec<(u64, u64, u64)> = Vec::new();
    for (role, r) in &results {
        for &l in &r.ack_lat {
            let _ = ack_h.record(l.max(1));
        }
        acks.extend_from_slice(&r.acks);
        if *role == Role::Moderator {
            changes.extend_from_slice(&r.changes);
        }
        if let Some(e) = &r.error {
            let key = e.split(':').next().unwrap_or(e).to_owned();
            *errors.entry(key).or_default() += 1;
        }
        if let Some(c) = r.close_code {
            *closes.entry(format!("{role:?}:{c}")).or_default() += 1;
        }
    }
    acks.sort_unstable();
    changes.sort_unstable();

    // Ballot ack → a display's tally that counts it.
    let mut tally_h = hist();
    for (role, r) in &results {
        if *role != Role::Display || r.tallies.is_empty() {
            continue;
        }
        let t = &r.tallies;
        for &(seq, at) in &acks {
            let k = t.partition_point(|&(s, _)| s < seq);
            if let Some(&(_, seen_at)) = t.get(k) {
                let _ = tally_h.record(seen_at.saturating_sub(at).max(1));
            }
        }
    }
    let tally_missing = acks.last().map_or(0, |&(last, _)| {
        results
            .iter()
            .filter(|(role, r)| {
                *role == Role::Display && r.connected && r.tallies.last().is_none_or(|&(s, _)| s < last)
            })
            .count()
    });

    // Agenda change → every connection.
    let change_at: HashMap<u64, (u64, u64)> = changes.iter().map(|&(s, sent, ack)| (s, (sent, ack))).collect();
    let slow_from = results.iter().filter_map(|(_, r)| r.slow_stopped_at).min();
    let mut from_ack = hist();
    let mut from_send = hist();
    let mut from_ack_before_slow = hist();
    let mut from_ack_after_slow = hist();
    let mut per_change: HashMap<u64, (u64, u64)> = HashMap::new(); // seq -> (count, last receipt)
    let mut missed = 0u64;
    let mut missed_conns = 0u64;
    let mut reconnected = 0u64;
    let mut resumed_snapshot = 0u64;
    for (role, r) in &results {
        if !r.connected || *role == Role::Moderator {
            continue;
        }
        for &(seq, at) in &r.agenda {
            if let Some(&(sent, ack)) = change_at.get(&seq) {
                let _ = from_ack.record(at.saturating_sub(ack).max(1));
                let _ = from_send.record(at.saturating_sub(sent).max(1));
                if *role != Role::Slow {
                    if slow_from.is_some_and(|s| sent >= s) {
                        let _ = from_ack_after_slow.record(at.saturating_sub(ack).max(1));
                    } else {
                        let _ = from_ack_before_slow.record(at.saturating_sub(ack).max(1));
                    }
                }
                let e = per_change.entry(seq).or_default();
                e.0 += 1;
                e.1 = e.1.max(at);
            }
        }
        if r.reconnected {
            reconnected += 1;
            resumed_snapshot += u64::from(r.resumed_by_snapshot);
        }
        // Nothing missed: every change after this connection's first welcome, up to the end of its life.
        if *role != Role::Slow && r.error.is_none() && r.close_code.is_none() {
            let got: std::collections::HashSet<u64> = r.agenda.iter().map(|&(s, _)| s).collect();
            let m = changes.iter().filter(|&&(s, _, _)| s > r.first_head && !got.contains(&s)).count() as u64;
            missed += m;
            missed_conns += u64::from(m > 0);
        }
    }
    let mut rounds = Vec::new();
    for &(seq, sent, ack) in &changes {
        if let Some(&(n, last)) = per_change.get(&seq) {
            let span = last.saturating_sub(ack.min(sent + 1)).max(1);
            rounds.push(json!({"seq": seq, "received": n, "all_after_ack_ms": last.saturating_sub(ack) as f64 / 1000.0,
                "all_after_send_ms": last.saturating_sub(sent) as f64 / 1000.0, "frames_per_s": n as f64 / (span as f64 / 1e6)}));
        }
    }
    let mut fps: Vec<f64> = rounds.iter().filter_map(|r| r["frames_per_s"].as_f64()).collect();
    fps.sort_by(f64::total_cmp);
    let fanout_fps_median = fps.get(fps.len() / 2).copied();

    let srv = |s: Option<ProcSample>| s.map(|s| json!({"cpu_s": s.cpu_s, "rss_bytes": s.rss}));
    let run_cpu = match (run_cpu0, run_cpu1) {
        (Some(x), Some(y)) => Some(y.cpu_s - x.cpu_s),
        _ => None,
    };
    let mem_per_conn = match (base, connected_sample) {
        (Some(b), Some(c)) if held > 0 => Some((c.rss as f64 - b.rss as f64) / held as f64),
        _ => None,
    };
    let ack_rate = acks_run as f64 / run_secs;
    let burst = a.burst_ms.map(|_| {
        let first = acks.iter().map(|&(_, t)| t).min().unwrap_or(0);
        let last = acks.iter().map(|&(_, t)| t).max().unwrap_or(0);
        let run0 = ctx.us(t_run);
        json!({"ballots_acked": acks.len(), "first_ack_after_open_ms": first.saturating_sub(run0) as f64 / 1000.0,
               "last_ack_after_open_ms": last.saturating_sub(run0) as f64 / 1000.0})
    });
    let slow_closed_4008 = closes.get("Slow:4008").copied().unwrap_or(0);
    let result = json!({
        "scenario": a.name,
        "target": a.target,
        "date_unix": t_begin,
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "conns": {"asked": a.conns, "held": held, "failed": ctx.c.connect_failed.load(Relaxed), "connect_secs": connect_secs,
                  "voters": voters, "displays": displays, "idle": idle, "slow": slow, "moderators": a.moderators},
        "run_secs": run_secs,
        "ballots": {"acked": acks_run, "acked_per_s": ack_rate, "offered_per_s": if a.burst_ms.is_some() { Value::Null } else { json!(a.ballot_rate) },
                    "ack_latency": pct(&ack_h), "ack_to_display_tally": pct(&tally_h), "displays_missing_last_tally": tally_missing, "burst": burst},
        "agenda": {"changes": changes.len(), "to_each_from_ack": pct(&from_ack), "to_each_from_send": pct(&from_send),
                   "fanout_frames_per_s_median": fanout_fps_median, "rounds": rounds,
                   "normal_clients_before_slow": pct(&from_ack_before_slow), "normal_clients_after_slow": pct(&from_ack_after_slow),
                   "missed_changes": missed, "conns_missing_changes": missed_conns},
        "reconnect": {"reconnected": reconnected, "resumed_by_snapshot": resumed_snapshot},
        "errors": {"rejected": ctx.c.rejected.load(Relaxed), "rate_limited": ctx.c.rate_limited.load(Relaxed),
                   "connection_errors": errors, "closes": closes, "slow_closed_4008": slow_closed_4008},
        "frames_in_during_run": frames_run,
        "agenda_frame_bytes": AGENDA_BYTES.load(Relaxed),
        "server": {"pid": a.server_pid, "base": srv(base), "connected": srv(connected_sample), "run_cpu_s": run_cpu,
                   "run_cpu_util": run_cpu.map(|c| c / run_secs),
                   "rss_per_conn_bytes": mem_per_conn,
                   "acks_per_cpu_s": run_cpu.map(|c| acks_run as f64 / c.max(1e-9)),
                   "frames_per_cpu_s": run_cpu.map(|c| frames_run as f64 / c.max(1e-9))},
        "generator": {"rss_bytes": proc_sample(std::process::id()).map(|s| s.rss)},
        "progress": progress,
    });

    println!("\n== {} against {:?} ({} connections held of {}) ==", a.name, a.target, held, a.conns);
    let row = |k: &str, v: String| println!("{k:<34} {v}");
    row("connect time", format!("{connect_secs:.1} s"));
    row("acked ballots/s", format!("{ack_rate:.0} ({} in {run_secs:.1} s)", acks_run));
    row("ack latency", fmt_pct(&result["ballots"]["ack_latency"]));
    row("ballot ack → display tally", fmt_pct(&result["ballots"]["ack_to_display_tally"]));
    if let Some(b) = &result["ballots"]["burst"].as_object() {
        row("burst", format!("{} acked, last ack {} ms after open", b["ballots_acked"], b["last_ack_after_open_ms"]));
    }
    row("agenda change → each (from ack)", fmt_pct(&result["agenda"]["to_each_from_ack"]));
    row("agenda change → each (from send)", fmt_pct(&result["agenda"]["to_each_from_send"]));
    if let (Some(f), Some(_)) = (fanout_fps_median, a.agenda_rounds_wait_ms) {
        row("fan-out frames/s (median round)", format!("{f:.0}"));
    }
    if slow > 0 {
        row(
            "normal p99 before/after slow",
            format!(
                "{} / {}",
                fmt_pct(&result["agenda"]["normal_clients_before_slow"]),
                fmt_pct(&result["agenda"]["normal_clients_after_slow"])
            ),
        );
        row("slow readers closed 4008", format!("{slow_closed_4008} of {slow}"));
    }
    if a.reconnect_at_secs.is_some() {
        row("reconnected / by snapshot", format!("{reconnected} / {resumed_snapshot}"));
    }
    row("changes missed (conns)", format!("{missed} ({missed_conns})"));
    row(
        "errors",
        format!(
            "rejected {} rate_limited {} conn {:?} closes {:?}",
            ctx.c.rejected.load(Relaxed),
            ctx.c.rate_limited.load(Relaxed),
            errors,
            closes
        ),
    );
    if let Some(c) = run_cpu {
        row(
            "server CPU during run",
            format!(
                "{:.0}% of one core, {:.0} acks/CPU-s, {:.0} frames/CPU-s",
                c / run_secs * 100.0,
                acks_run as f64 / c.max(1e-9),
                frames_run as f64 / c.max(1e-9)
            ),
        );
    }
    if let Some(m) = mem_per_conn {
        row(
            "server RSS per connection",
            format!(
                "{:.1} KiB (RSS {:.0} MiB)",
                m / 1024.0,
                connected_sample.map_or(0.0, |s| s.rss as f64 / 1048576.0)
            ),
        );
    }
    if let Some(out) = &a.out {
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, serde_json::to_string_pretty(&result)?)?;
    }
    let unexpected_closes: u64 = closes.iter().filter(|(k, _)| !k.starts_with("Slow:")).map(|(_, v)| v).sum();
    let ok = ctx.c.connect_failed.load(Relaxed) == 0
        && ctx.c.rejected.load(Relaxed) == 0
        && ctx.c.rate_limited.load(Relaxed) == 0
        && unexpected_closes == 0
        && missed == 0;
    if a.strict && !ok {
        eprintln!("strict: the run had errors");
    }
    Ok(ok || !a.strict)
}

// ---------------------------------------------------------------- ceiling

async fn ceiling_serve(a: CeilingArgs) -> Result<()> {
    // A deep accept queue: with the default (1,024), SYNs of a 20,000-strong
    // connection storm were dropped and retried with backoff until the
    // accept deadline passed, and the run measured nothing.
    let socket = if a.listen.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(a.listen)?;
    let listener = socket.listen(65_535)?;
    eprintln!("ceiling: listening on {}, waiting for {} connections", a.listen, a.conns);
    let (tx, _) = tokio::sync::broadcast::channel::<bytes_like::Bytes>(64);
    let accepted = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.accept_timeout);
    let mut writers = Vec::new();
    while (accepted.load(Relaxed) as usize) < a.conns {
        let Ok(r) = tokio::time::timeout_at(deadline, listener.accept()).await else {
            bail!("ceiling: timed out accepting ({} of {})", accepted.load(Relaxed), a.conns)
        };
        // One failed accept (a connection reset while queued, a descriptor
        // short for a moment) must not end the whole measurement.
        let mut sock = match r {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("ceiling: accept failed after {}: {e}", accepted.load(Relaxed));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        accepted.fetch_add(1, Relaxed);
        let mut rx = tx.subscribe();
        writers.push(tokio::spawn(async move {
            while let Ok(b) = rx.recv().await {
                if sock.write_all(&b).await.is_err() {
                    break;
                }
            }
        }));
    }
    eprintln!("ceiling: {} connections accepted; writing {} rounds", accepted.load(Relaxed), a.rounds);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..a.rounds {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
        let mut msg = format!("{now:020}").into_bytes();
        msg.resize(a.bytes.max(21) - 1, b'x');
        msg.push(b'\n');
        let _ = tx.send(Arc::from(msg.into_boxed_slice()));
        tokio::time::sleep(Duration::from_millis(a.interval_ms)).await;
    }
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(10), futures_util::future::join_all(writers)).await;
    Ok(())
}

mod bytes_like {
    pub type Bytes = std::sync::Arc<[u8]>;
}

async fn run_ceiling(a: RunArgs) -> Result<bool> {
    let sem = Arc::new(Semaphore::new(a.connect_concurrency));
    let connected = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    for i in 0..a.conns {
        let (sem, connected, a2) = (sem.clone(), connected.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = {
                let _p = sem.acquire().await;
                let s = dial_tcp(a2.server, source_ip(i, a2.sources), false).await?;
                connected.fetch_add(1, Relaxed);
                s
            };
            let mut buf = vec![0u8; a2.ceiling_bytes.max(21)];
            let mut got = Vec::new();
            let limit = Duration::from_secs_f64(a2.connect_timeout + a2.duration + 30.0);
            let reading = async {
                for _ in 0..a2.ceiling_rounds {
                    s.read_exact(&mut buf).await?;
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
                    let stamp: u64 = std::str::from_utf8(&buf[..20]).ok().and_then(|x| x.parse().ok()).unwrap_or(0);
                    got.push((stamp, now));
                }
                Ok::<_, anyhow::Error>(())
            };
            let _ = tokio::time::timeout(limit, reading).await;
            Ok::<_, anyhow::Error>(got)
        }));
    }
    let mut last = Instant::now();
    while (connected.load(Relaxed) as usize) < a.conns && t0.elapsed().as_secs_f64() < a.connect_timeout {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last.elapsed() > Duration::from_secs(1) {
            last = Instant::now();
            eprintln!("ceiling connecting held={}", connected.load(Relaxed));
        }
    }
    let held = connected.load(Relaxed);
    let mut per_round: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut h = hist();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(got)) => {
                for (stamp, at) in got {
                    let e = per_round.entry(stamp).or_default();
                    e.0 += 1;
                    e.1 = e.1.max(at);
                    let _ = h.record(at.saturating_sub(stamp).max(1));
                }
            }
            _ => failed += 1,
        }
    }
    let mut rounds: Vec<Value> = per_round
        .iter()
        .map(|(&stamp, &(n, last))| json!({"stamp": stamp, "received": n, "all_after_write_ms": last.saturating_sub(stamp) as f64 / 1000.0, "frames_per_s": n as f64 / (last.saturating_sub(stamp).max(1) as f64 / 1e6)}))
        .collect();
    rounds.sort_by_key(|r| r["stamp"].as_u64());
    let mut fps: Vec<f64> = rounds.iter().filter_map(|r| r["frames_per_s"].as_f64()).collect();
    fps.sort_by(f64::total_cmp);
    let median = fps.get(fps.len() / 2).copied();
    let result = json!({"scenario": a.name, "target": "ceiling", "conns": {"asked": a.conns, "held": held, "failed": failed},
        "bytes": a.ceiling_bytes, "to_each_from_write": pct(&h), "fanout_frames_per_s_median": median, "rounds": rounds,
        "command": std::env::args().collect::<Vec<_>>().join(" ")});
    println!("\n== ceiling ({held} connections, {} bytes) ==", a.ceiling_bytes);
    println!("{:<34} {}", "write → each", fmt_pct(&result["to_each_from_write"]));
    println!("{:<34} {:.0}", "fan-out frames/s (median round)", median.unwrap_or(0.0));
    if let Some(out) = &a.out {
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, serde_json::to_string_pretty(&result)?)?;
    }
    Ok(true)
}
