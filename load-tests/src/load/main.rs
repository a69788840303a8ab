//! `madang-load`: the load generator.
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
//!
//! This file only parses the command line, raises the descriptor limit and
//! builds the two runtimes; `run` orchestrates a run, `roles` plays the
//! connections, `measure` turns what they saw into the result, and `ceiling`
//! is the raw fan-out baseline.

mod ceiling;
mod cli;
mod context;
mod dial;
mod measure;
mod roles;
mod run;
mod session;
mod setup;
mod soak;
mod wire;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
/// Raise the open-file limit as far as allowed (every connection is a
/// descriptor); returns the limit in force.
fn raise_nofile() -> u64 {
    // SAFETY: plain libc calls with a properly initialised struct.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let want = libc::rlimit { rlim_cur: 1 << 20, rlim_max: 1 << 20 };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let nofile = raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
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
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args, nofile, devices_handle).await,
            Command::CeilingServe(args) => ceiling::serve(args).await.map(|()| true),
            Command::Soak(args) => soak::run(args).await,
        }
    });
    devices.shutdown_background();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
