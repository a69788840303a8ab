//! The command line: `run` (one bounded scenario) and `ceiling-serve`.
//!
//! Why apart: `load-tests/bench.sh` and `tests/run` call these flags by name,
//! so they are an interface; this module only declares them and their
//! defaults, and knows nothing of how a run uses them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::wire::Target;

#[derive(Parser)]
#[command(name = "madang-load", about = "Load generator for Madang, the socket.io peer and the raw fan-out ceiling")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run one bounded load scenario and report.
    Run(RunArgs),
    /// The raw fan-out ceiling: accept N TCP connections, then write the same
    /// bytes to all of them, round after round (no WebSocket, no forum).
    CeilingServe(CeilingArgs),
    /// Honest load and abusive clients at once for minutes, sampled; fails unless the server stays flat.
    Soak(crate::soak::SoakArgs),
}

#[derive(Args, Clone)]
pub(crate) struct RunArgs {
    #[arg(long, value_enum, default_value = "madang")]
    pub(crate) target: Target,
    /// host:port of the server (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) server: SocketAddr,
    /// Madang admin token (to create the forum).
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true, default_value = "")]
    pub(crate) admin_token: String,
    /// Total connections, all roles included (moderators excepted).
    #[arg(long, default_value_t = 1000)]
    pub(crate) conns: usize,
    #[arg(long, default_value_t = 10)]
    pub(crate) displays: usize,
    #[arg(long, default_value_t = 100)]
    pub(crate) voters: usize,
    /// Ballots per second over all voters (steady); each voter stays under the 20/s limit.
    #[arg(long, default_value_t = 200.0)]
    pub(crate) ballot_rate: f64,
    /// Instead of a steady rate: the poll opens at the start and every voter
    /// casts one ballot at a random moment within this many milliseconds.
    #[arg(long)]
    pub(crate) burst_ms: Option<u64>,
    /// Moderator connections changing the agenda (each one is rate limited to 20/s).
    #[arg(long, default_value_t = 1)]
    pub(crate) moderators: usize,
    /// Milliseconds between agenda changes (over all moderators).
    #[arg(long, default_value_t = 1000)]
    pub(crate) agenda_every_ms: u64,
    /// At most this many agenda changes.
    #[arg(long, default_value_t = 1000)]
    pub(crate) agenda_changes: u64,
    /// Wait until every connection has each agenda change before the next one
    /// (fan-out rounds), for at most this many milliseconds per round.
    #[arg(long)]
    pub(crate) agenda_rounds_wait_ms: Option<u64>,
    /// Fraction of the idle connections that stop reading after --slow-after-secs.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) slow_fraction: f64,
    #[arg(long, default_value_t = 5.0)]
    pub(crate) slow_after_secs: f64,
    /// Idle connections drop and reconnect (resuming with last_seq) at this many
    /// seconds into the run, spread over --reconnect-window-secs.
    #[arg(long)]
    pub(crate) reconnect_at_secs: Option<f64>,
    #[arg(long, default_value_t = 5.0)]
    pub(crate) reconnect_window_secs: f64,
    /// Distinct participants joined before the run (idle connections reuse their tokens).
    #[arg(long, default_value_t = 1000)]
    pub(crate) people: usize,
    /// Seconds of load after everyone is connected.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 180.0)]
    pub(crate) connect_timeout: f64,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    pub(crate) connect_concurrency: usize,
    /// Number of loopback source addresses (127.0.0.2 …).
    #[arg(long, default_value_t = 8)]
    pub(crate) sources: u8,
    /// The server's pid, to sample its CPU and RSS.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Ceiling target: bytes per message and rounds to expect.
    #[arg(long, default_value_t = 400)]
    pub(crate) ceiling_bytes: usize,
    #[arg(long, default_value_t = 5)]
    pub(crate) ceiling_rounds: usize,
    /// Scenario name, copied into the result.
    #[arg(long, default_value = "custom")]
    pub(crate) name: String,
    /// Write the JSON result here.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Exit non-zero when any connection or command failed.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Args)]
pub(crate) struct CeilingArgs {
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub(crate) listen: SocketAddr,
    #[arg(long)]
    pub(crate) conns: usize,
    #[arg(long, default_value_t = 400)]
    pub(crate) bytes: usize,
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    #[arg(long, default_value_t = 1000)]
    pub(crate) interval_ms: u64,
    /// Give up waiting for connections after this many seconds.
    #[arg(long, default_value_t = 180)]
    pub(crate) accept_timeout: u64,
}
