//! `madang-load soak`: a long run of honest load and abusive clients at once,
//! sampled every few seconds, judged "flat" or not at the end.
//!
//! Why one process: the verdict compares the honest clients' acks with the
//! forum's final tallies, and the samples put the server's memory, files and
//! threads next to the ack latency and the abusers' refusals of the same
//! window; all of that needs one clock and one set of counters. The honest
//! crowd connects from 127.0.1.1–127.0.1.64 (at most a few dozen connections
//! and joins per address, inside every default per-address limit), each
//! abuser from an address of its own (127.0.0.2–127.0.0.10), so the
//! per-address limits bite the abusers and never the crowd. `honest` plays
//! the forum, `abuse` the attackers; this file holds what they share, the
//! sampler and the verdict.

mod abuse;
mod honest;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use hdrhistogram::Histogram;
use tokio::sync::watch;

#[derive(Args, Clone)]
pub(crate) struct SoakArgs {
    /// host:port of a Madang server started with its default limits (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) server: SocketAddr,
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true, default_value = "")]
    pub(crate) admin_token: String,
    /// The server's pid, to sample its memory, open files and threads.
    #[arg(long)]
    pub(crate) server_pid: u32,
    /// Minutes of load once the forum is set up.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) minutes: f64,
    /// Honest ballots per second over all voters (half of the measured saturation, 36,600/s).
    #[arg(long, default_value_t = 18_000.0)]
    pub(crate) ballot_rate: f64,
    /// Ballots per second per voter (the server allows a person 20/s).
    #[arg(long, default_value_t = 12.0)]
    pub(crate) per_voter_rate: f64,
    /// Participants connected who only listen.
    #[arg(long, default_value_t = 200)]
    pub(crate) idle: usize,
    #[arg(long, default_value_t = 4)]
    pub(crate) displays: usize,
    /// Open polls, one per ballot kind in this order: yes/no, approval, dots,
    /// score, ranked. Every open poll's tally goes to every participant up to
    /// ten times a second, so each one adds a fan-out as large as the crowd.
    #[arg(long, default_value_t = 5)]
    pub(crate) polls: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    pub(crate) sample_secs: u64,
    /// The samples (CSV) go here; the refusals to `<stem>-refusals.csv`, the summary to `<stem>.json`.
    #[arg(long, default_value = "soak.csv")]
    pub(crate) out: PathBuf,
}

/// What every task of a soak shares.
pub(crate) struct Shared {
    pub(crate) server: SocketAddr,
    pub(crate) stop: watch::Receiver<bool>,
    /// Honest acked ballots.
    pub(crate) acks: AtomicU64,
    /// Honest acked commands other than ballots (ideas, hands, agenda, joins).
    pub(crate) other_acks: AtomicU64,
    pub(crate) honest_errors: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    /// Ballot send → ack in µs, since the last sample.
    latency: Mutex<Histogram<u64>>,
    /// Abusers' outcomes by kind (`idea_flood.rate_limited`, …), since the start.
    refusals: Mutex<BTreeMap<String, u64>>,
    first_errors: Mutex<Vec<String>>,
}

impl Shared {
    pub(crate) fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the run is over.
    pub(crate) async fn until_stop(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stopped| *stopped).await;
    }

    pub(crate) fn record_ack_latency(&self, micros: u64) {
        self.acks.fetch_add(1, Relaxed);
        if let Ok(mut histogram) = self.latency.lock() {
            histogram.saturating_record(micros.max(1));
        }
    }

    /// An honest client got an error or lost its connection.
    pub(crate) fn honest_error(&self, what: impl Into<String>) {
        self.honest_errors.fetch_add(1, Relaxed);
        if let Ok(mut first) = self.first_errors.lock()
            && first.len() < 20
        {
            first.push(what.into());
        }
    }

    /// One outcome of an abuser: `abuser.outcome`.
    pub(crate) fn outcome(&self, abuser: &str, outcome: &str) {
        if let Ok(mut refusals) = self.refusals.lock() {
            *refusals.entry(format!("{abuser}.{outcome}")).or_default() += 1;
        }
    }
}

/// Honest connection `index`'s source address: 127.0.1.1 … 127.0.1.64 in turn.
pub(crate) fn honest_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (index % 64) as u8))
}

/// One sample of the server and the window since the previous one.
struct Sample {
    secs: f64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    acked: u64,
    acked_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    honest_errors: u64,
    /// CPU used over the window, in % of one core: the server's and this generator's.
    server_cpu: f64,
    generator_cpu: f64,
}

/// User + system CPU time of a process so far, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(stat_path: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else { return 0 };
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Clock ticks per second, for [`cpu_ticks`].
fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// `VmRSS` (KiB) and `Threads` from /proc/PID/status, and the count of /proc/PID/fd.
fn read_process(pid: u32) -> Result<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("the server is gone")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok((field("VmRSS:"), fds, field("Threads:")))
}

pub(crate) async fn run(args: SoakArgs) -> Result<bool> {
    let (stop_tx, stop) = watch::channel(false);
    let shared = std::sync::Arc::new(Shared {
        server: args.server,
        stop,
        acks: AtomicU64::new(0),
        other_acks: AtomicU64::new(0),
        honest_errors: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        latency: Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3)?),
        refusals: Mutex::new(BTreeMap::new()),
        first_errors: Mutex::new(Vec::new()),
    });
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    eprintln!("soak: setting up the forum and its people");
    let forum = std::sync::Arc::new(honest::setup(&shared, &args).await?);
    let honest = honest::start(shared.clone(), &args, &forum, duration);
    let abusers = abuse::start(shared.clone(), &forum, duration);
    eprintln!("soak: running for {:.1} minutes", args.minutes);

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut last_acks = 0;
    let mut last_refusals = BTreeMap::new();
    let mut refusal_rows = String::from("secs,kind,count\n");
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(args.sample_secs),
        Duration::from_secs(args.sample_secs),
    );
    let mut last_at = started;
    let server_stat = format!("/proc/{}/stat", args.server_pid);
    let mut last_cpu = (cpu_ticks(&server_stat), cpu_ticks("/proc/self/stat"));
    let hz = ticks_per_sec();
    while started.elapsed() < duration {
        ticker.tick().await;
        let now = Instant::now();
        let (rss_kib, fds, threads) = read_process(args.server_pid)?;
        let acked = shared.acks.load(Relaxed);
        let window = now.duration_since(last_at).as_secs_f64();
        let cpu = (cpu_ticks(&server_stat), cpu_ticks("/proc/self/stat"));
        let cpu_pct = |now: u64, before: u64| (now.saturating_sub(before)) as f64 / hz / window * 100.0;
        let (server_cpu, generator_cpu) = (cpu_pct(cpu.0, last_cpu.0), cpu_pct(cpu.1, last_cpu.1));
        last_cpu = cpu;
        let (p50_ms, p99_ms) = {
            let mut histogram = shared.latency.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let quantiles =
                (histogram.value_at_quantile(0.5) as f64 / 1000.0, histogram.value_at_quantile(0.99) as f64 / 1000.0);
            histogram.reset();
            quantiles
        };
        let sample = Sample {
            secs: now.duration_since(started).as_secs_f64(),
            rss_kib,
            fds,
            threads,
            acked,
            acked_per_sec: (acked - last_acks) as f64 / window,
            p50_ms,
            p99_ms,
            honest_errors: shared.honest_errors.load(Relaxed),
            server_cpu,
            generator_cpu,
        };
        let refusals = shared.refusals.lock().map(|r| r.clone()).unwrap_or_default();
        let mut window_refusals = Vec::new();
        for (kind, count) in &refusals {
            let delta = count - last_refusals.get(kind).copied().unwrap_or(0);
            if delta > 0 {
                let _ = writeln!(refusal_rows, "{:.0},{kind},{delta}", sample.secs);
                window_refusals.push(format!("{kind}={delta}"));
            }
        }
        eprintln!(
            "{:>6.0}s rss {:>7} KiB  fds {:>5}  threads {:>3}  cpu {:>3.0}% (gen {:>3.0}%)  acked/s {:>7.0}  ack p50 {:>6.1} ms p99 {:>7.1} ms  honest errors {}  | {}",
            sample.secs,
            sample.rss_kib,
            sample.fds,
            sample.threads,
            sample.server_cpu,
            sample.generator_cpu,
            sample.acked_per_sec,
            sample.p50_ms,
            sample.p99_ms,
            sample.honest_errors,
            window_refusals.join(" ")
        );
        last_acks = acked;
        last_refusals = refusals;
        last_at = now;
        samples.push(sample);
    }
    let _ = stop_tx.send(true);
    eprintln!("soak: stopping; waiting for the honest clients' last acks and the final tallies");
    let check = honest.finish().await;
    abusers.finish().await;

    let mut csv = String::from(
        "secs,rss_kib,fds,threads,server_cpu_pct,generator_cpu_pct,acked,acked_per_sec,ack_p50_ms,ack_p99_ms,honest_errors\n",
    );
    for s in &samples {
        let _ = writeln!(
            csv,
            "{:.0},{},{},{},{:.0},{:.0},{},{:.0},{:.1},{:.1},{}",
            s.secs,
            s.rss_kib,
            s.fds,
            s.threads,
            s.server_cpu,
            s.generator_cpu,
            s.acked,
            s.acked_per_sec,
            s.p50_ms,
            s.p99_ms,
            s.honest_errors
        );
    }
    std::fs::write(&args.out, csv).with_context(|| format!("writing {}", args.out.display()))?;
    let stem = args.out.with_extension("");
    std::fs::write(format!("{}-refusals.csv", stem.display()), refusal_rows)?;

    let refusals = shared.refusals.lock().map(|r| r.clone()).unwrap_or_default();
    let verdict = judge(&samples, &shared, &check, &refusals);
    let summary = serde_json::json!({
        "minutes": args.minutes,
        "ballot_rate_offered": args.ballot_rate,
        "acked_ballots": shared.acks.load(Relaxed),
        "other_acks": shared.other_acks.load(Relaxed),
        "reconnects": shared.reconnects.load(Relaxed),
        "honest_errors": shared.honest_errors.load(Relaxed),
        "first_honest_errors": shared.first_errors.lock().map(|e| e.clone()).unwrap_or_default(),
        "tallies": check.lines,
        "abusers": refusals,
        "checks": verdict.iter().map(|(name, ok, detail)| serde_json::json!({"check": name, "ok": ok, "detail": detail})).collect::<Vec<_>>(),
        "flat": verdict.iter().all(|(_, ok, _)| *ok),
    });
    std::fs::write(format!("{}.json", stem.display()), serde_json::to_string_pretty(&summary)?)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(verdict.iter().all(|(_, ok, _)| *ok))
}

/// The checks that make a run "flat": (name, passed, what was measured).
fn judge(
    samples: &[Sample],
    shared: &Shared,
    tallies: &honest::TallyCheck,
    refusals: &BTreeMap<String, u64>,
) -> Vec<(&'static str, bool, String)> {
    let mut checks = Vec::new();
    // The first tenth (at least one sample) is warm-up: connections still settling, buffers filling.
    let warm_up = (samples.len() / 10).max(1);
    let body = if samples.len() > warm_up + 3 { &samples[warm_up..] } else { samples };
    let third = (body.len() / 3).max(1);
    let (first, last) = (&body[..third.min(body.len())], &body[body.len().saturating_sub(third)..]);
    let max = |part: &[Sample], f: fn(&Sample) -> f64| part.iter().map(f).fold(0.0, f64::max);
    let rss = (max(first, |s| s.rss_kib as f64), max(last, |s| s.rss_kib as f64));
    checks.push((
        "rss_flat",
        rss.1 <= rss.0 * 1.25,
        format!("last third max {:.0} KiB vs first third max {:.0} KiB (limit 1.25x)", rss.1, rss.0),
    ));
    let fds = (max(first, |s| s.fds as f64), max(last, |s| s.fds as f64));
    checks.push((
        "open_files_bounded",
        fds.1 <= fds.0 * 1.25 + 64.0,
        format!("last third max {:.0} vs first third max {:.0} (limit 1.25x + 64)", fds.1, fds.0),
    ));
    let p99 = (max(first, |s| s.p99_ms), max(last, |s| s.p99_ms));
    checks.push((
        "ack_p99_flat",
        p99.1 <= p99.0 * 2.0,
        format!("last third max {:.1} ms vs first third max {:.1} ms (limit 2x)", p99.1, p99.0),
    ));
    let errors = shared.honest_errors.load(Relaxed);
    checks.push(("no_honest_errors", errors == 0, format!("{errors} honest errors")));
    checks.push(("nothing_acked_lost", tallies.ok, tallies.lines.join("; ")));
    let uncut: u64 = refusals
        .iter()
        .filter(|(kind, _)| kind.ends_with(".not_cut") || kind.ends_with(".held_too_long"))
        .map(|(_, n)| n)
        .sum();
    checks.push(("abusers_cut_off", uncut == 0, format!("{uncut} abusive sockets held past their timeout")));
    checks
}
