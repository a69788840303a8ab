//! One run, in order: set up the forum, start every connection, wait until
//! they are connected, start the run and print a progress line a second, let
//! what is in flight arrive, stop, collect what each connection saw, report.
//!
//! Why the runtimes: displays and moderators are spawned on the `devices`
//! runtime (a thread of their own), so that what they measure is not the wait
//! behind this process's tens of thousands of other connections. This module
//! sequences the phases; it does not compute a single measurement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::ceiling;
use crate::cli::RunArgs;
use crate::context::{Counters, Phase, RunContext};
use crate::measure::{self, RunTotals, server_sample};
use crate::roles::{self, Cast, Role};
use crate::session::ConnectionReport;
use crate::setup;
use crate::wire::Target;

/// Run one scenario and report; false when `--strict` and the run had errors.
pub(crate) async fn run(args: RunArgs, nofile: u64, devices: Handle) -> Result<bool> {
    let began_unix_secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if args.conns + 64 > nofile as usize {
        eprintln!("warning: RLIMIT_NOFILE is {nofile}, fewer than {} connections need", args.conns);
    }
    if args.target == Target::Ceiling {
        return ceiling::run(args).await;
    }
    let per_voter = args.ballot_rate / args.voters.max(1) as f64;
    if args.burst_ms.is_none() && args.voters > 0 && per_voter > 19.0 {
        bail!("{per_voter:.1} ballots/s per voter is over the 20/s rate limit: add voters");
    }
    let server_base = server_sample(&args);
    let setup_started = Instant::now();
    let cast = cast(&args);
    let people = args.people.max(cast.voters);
    let (forum, setup_moderator) = setup::forum(&args, people, began_unix_secs).await?;
    eprintln!(
        "setup: forum {} with {people} people in {:.1}s; connecting {} ({} voters, {} displays, {} idle of which {} stop reading, {} moderators)",
        forum.id,
        setup_started.elapsed().as_secs_f64(),
        args.conns,
        cast.voters,
        cast.displays,
        cast.idle(),
        cast.slow,
        args.moderators
    );

    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let (start_tx, start_rx) = watch::channel(None);
    let ctx = Arc::new(RunContext {
        args: args.clone(),
        forum,
        counters: Counters::default(),
        epoch: Instant::now(),
        phase: phase_rx,
        run_start: start_rx,
        connect_permits: Semaphore::new(args.connect_concurrency.max(1)),
    });
    let connections = spawn_connections(&ctx, &cast, &devices);
    let frames_seen = Arc::new(AtomicU64::new(0));
    let moderators = spawn_moderators(&ctx, &devices, &frames_seen);

    let connect_secs = wait_until_connected(&ctx).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counters = &ctx.counters;
    let held = counters.connected.load(Relaxed);
    let server_connected = server_sample(&args);
    eprintln!(
        "connected {held}/{} in {connect_secs:.1}s ({} failed)",
        args.conns,
        counters.connect_failed.load(Relaxed)
    );
    if args.agenda_rounds_wait_ms.is_some() {
        tokio::spawn(roles::sample_frames_in(ctx.clone(), frames_seen.clone()));
    }

    let run_started = Instant::now();
    let server_run_start = server_sample(&args);
    let acks_before = counters.acks.load(Relaxed);
    let frames_before = counters.frames_in.load(Relaxed);
    let _ = start_tx.send(Some(run_started));
    let _ = phase_tx.send(Phase::Run);
    let progress = print_progress(&ctx, run_started, server_run_start).await;
    let run_secs = run_started.elapsed().as_secs_f64();
    let server_run_end = server_sample(&args);
    let acks_run = counters.acks.load(Relaxed) - acks_before;
    wait_until_quiet(&ctx).await;
    let frames_run = counters.frames_in.load(Relaxed) - frames_before;
    let _ = phase_tx.send(Phase::Stop);
    drop(setup_moderator);

    let reports = collect(connections, moderators).await;
    let totals = RunTotals {
        began_unix_secs,
        cast,
        connect_secs,
        held,
        run_started_micros: ctx.micros_at(run_started),
        run_secs,
        acks_run,
        frames_run,
        server_base,
        server_connected,
        server_run_start,
        server_run_end,
        progress,
    };
    measure::report(&ctx, &totals, &reports)
}

/// How many connections play each role.
fn cast(args: &RunArgs) -> Cast {
    let displays = args.displays.min(args.conns);
    let voters = args.voters.min(args.conns - displays);
    let idle = args.conns - displays - voters;
    let slow = ((idle as f64) * args.slow_fraction).round() as usize;
    Cast { conns: args.conns, voters, displays, slow }
}

type Connection = (Role, JoinHandle<ConnectionReport>);

/// Every connection's task: displays on the devices runtime, the others here.
fn spawn_connections(ctx: &Arc<RunContext>, cast: &Cast, devices: &Handle) -> Vec<Connection> {
    let mut connections = Vec::with_capacity(cast.conns);
    for index in 0..cast.conns {
        let (role, role_index) = cast.role_of(index);
        let task = roles::connection(ctx.clone(), index, role, role_index);
        connections.push((role, if role == Role::Display { devices.spawn(task) } else { tokio::spawn(task) }));
    }
    connections
}

/// The moderators, on the devices runtime: one rounds moderator, or `--moderators` scheduled ones.
fn spawn_moderators(
    ctx: &Arc<RunContext>,
    devices: &Handle,
    frames_seen: &Arc<AtomicU64>,
) -> Vec<JoinHandle<ConnectionReport>> {
    let args = &ctx.args;
    if args.agenda_rounds_wait_ms.is_some() {
        return vec![devices.spawn(roles::rounds_moderator(ctx.clone(), frames_seen.clone()))];
    }
    (0..args.moderators)
        .map(|moderator| {
            devices.spawn(roles::connection(ctx.clone(), args.conns + moderator, Role::Moderator, moderator))
        })
        .collect()
}

/// Wait until every connection is connected or has failed (or the connect
/// timeout and 5 s more have passed), with a line a second; returns the seconds it took.
async fn wait_until_connected(ctx: &RunContext) -> f64 {
    let (args, counters) = (&ctx.args, &ctx.counters);
    let connecting = Instant::now();
    let limit = Duration::from_secs_f64(args.connect_timeout);
    let mut last_print = Instant::now();
    loop {
        let done = counters.connected.load(Relaxed) + counters.connect_failed.load(Relaxed);
        if done >= args.conns as u64 || connecting.elapsed() > limit + Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let server = server_sample(args).unwrap_or_default();
            eprintln!(
                "connecting t={:>5.1}s held={} failed={} server rss={:.0} MiB",
                connecting.elapsed().as_secs_f64(),
                counters.connected.load(Relaxed),
                counters.connect_failed.load(Relaxed),
                server.rss as f64 / 1048576.0
            );
        }
    }
    connecting.elapsed().as_secs_f64()
}

/// For the run's duration, a progress line a second on stderr; returns the lines.
async fn print_progress(
    ctx: &RunContext,
    run_started: Instant,
    server_run_start: Option<measure::ProcSample>,
) -> Vec<String> {
    let counters = &ctx.counters;
    let duration = Duration::from_secs_f64(ctx.args.duration.min(600.0));
    let mut previous_acks = counters.acks.load(Relaxed);
    let mut previous_cpu = server_run_start.map(|sample| sample.cpu_s).unwrap_or(0.0);
    let mut progress = Vec::new();
    while run_started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(1).min(duration.saturating_sub(run_started.elapsed()))).await;
        let acks = counters.acks.load(Relaxed);
        let server = server_sample(&ctx.args).unwrap_or_default();
        let line = format!(
            "run t={:>5.1}s held={} acks/s={} rejected={} rate_limited={} dropped={} reconnected={} frames_in={} server cpu={:.0}% rss={:.0} MiB",
            run_started.elapsed().as_secs_f64(),
            counters.connected.load(Relaxed) - counters.dropped.load(Relaxed),
            acks - previous_acks,
            counters.rejected.load(Relaxed),
            counters.rate_limited.load(Relaxed),
            counters.dropped.load(Relaxed),
            counters.reconnected.load(Relaxed),
            counters.frames_in.load(Relaxed),
            (server.cpu_s - previous_cpu) * 100.0,
            server.rss as f64 / 1048576.0
        );
        eprintln!("{line}");
        progress.push(line);
        previous_acks = acks;
        previous_cpu = server.cpu_s;
    }
    progress
}

/// Let answers, events and tallies in flight arrive: until nothing came for 1 s (at most 15 s).
async fn wait_until_quiet(ctx: &RunContext) {
    let frames_in = &ctx.counters.frames_in;
    let grace = Instant::now();
    let mut last_frames = frames_in.load(Relaxed);
    loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let frames = frames_in.load(Relaxed);
        // Tallies keep coming at 10 Hz while ballots changed; 20 frames a second is quiet enough.
        if frames.saturating_sub(last_frames) <= 20 || grace.elapsed() > Duration::from_secs(15) {
            break;
        }
        last_frames = frames;
    }
}

/// What every connection saw, waiting 60 s at most for all of them to end.
async fn collect(
    connections: Vec<Connection>,
    moderators: Vec<JoinHandle<ConnectionReport>>,
) -> Vec<(Role, ConnectionReport)> {
    let mut reports = Vec::with_capacity(connections.len() + moderators.len());
    let collecting = async {
        for (role, task) in connections {
            reports.push((role, task.await.unwrap_or_default()));
        }
        for task in moderators {
            reports.push((Role::Moderator, task.await.unwrap_or_default()));
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), collecting).await.is_err() {
        eprintln!("warning: some connections did not finish within 60 s; reporting those that did");
    }
    reports
}
