//! The run's result: the JSON written to `--out` (its field names are what
//! `bench.sh` and anyone comparing runs read), the table printed at the
//! end, and the verdict `--strict` acts on.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use anyhow::Result;
use serde_json::{Value, json};

use super::agenda::{Agenda, reconnects};
use super::ballots::Ballots;
use super::{
    ProcSample, command_line, format_percentiles, median_frames_per_s, percentiles, proc_sample, write_result,
};
use crate::context::RunContext;
use crate::roles::{Cast, Role};
use crate::session::ConnectionReport;

/// What the orchestrator noted while the run went on.
pub(crate) struct RunTotals {
    pub(crate) began_unix_secs: u64,
    pub(crate) cast: Cast,
    pub(crate) connect_secs: f64,
    /// Connections held once connecting was over.
    pub(crate) held: u64,
    /// When the run (and the poll, in a burst) started, µs since the epoch.
    pub(crate) run_started_micros: u64,
    pub(crate) run_secs: f64,
    pub(crate) acks_run: u64,
    /// Frames received from the run's start to the end of the grace period.
    pub(crate) frames_run: u64,
    pub(crate) server_base: Option<ProcSample>,
    pub(crate) server_connected: Option<ProcSample>,
    pub(crate) server_run_start: Option<ProcSample>,
    pub(crate) server_run_end: Option<ProcSample>,
    /// The progress lines, one a second.
    pub(crate) progress: Vec<String>,
}

/// Errors by their first word, and close codes by role (`"Slow:4008"`).
struct Failures {
    errors: HashMap<String, u64>,
    closes: HashMap<String, u64>,
}

impl Failures {
    fn of(reports: &[(Role, ConnectionReport)]) -> Failures {
        let mut errors: HashMap<String, u64> = HashMap::new();
        let mut closes: HashMap<String, u64> = HashMap::new();
        for (role, report) in reports {
            if let Some(error) = &report.error {
                let key = error.split(':').next().unwrap_or(error).to_owned();
                *errors.entry(key).or_default() += 1;
            }
            if let Some(code) = report.close_code {
                *closes.entry(format!("{role:?}:{code}")).or_default() += 1;
            }
        }
        Failures { errors, closes }
    }

    /// Closes of connections that were not meant to be closed (slow readers are).
    fn unexpected_closes(&self) -> u64 {
        self.closes.iter().filter(|(key, _)| !key.starts_with("Slow:")).map(|(_, count)| count).sum()
    }
}

/// Everything measured from the connections' reports.
struct Measured {
    ballots: Ballots,
    agenda: Agenda,
    failures: Failures,
    reconnected: u64,
    resumed_by_snapshot: u64,
}

/// Build the result, print the table, write `--out`; false when `--strict` and the run had errors.
pub(crate) fn report(ctx: &RunContext, totals: &RunTotals, reports: &[(Role, ConnectionReport)]) -> Result<bool> {
    let args = &ctx.args;
    let counters = &ctx.counters;
    let (reconnected, resumed_by_snapshot) = reconnects(reports);
    let measured = Measured {
        ballots: Ballots::of(reports),
        agenda: Agenda::of(reports),
        failures: Failures::of(reports),
        reconnected,
        resumed_by_snapshot,
    };
    let result = result_json(ctx, totals, &measured);
    print_table(ctx, totals, &measured, &result);
    write_result(args.out.as_deref(), &result)?;
    let ok = counters.connect_failed.load(Relaxed) == 0
        && counters.rejected.load(Relaxed) == 0
        && counters.rate_limited.load(Relaxed) == 0
        && measured.failures.unexpected_closes() == 0
        && measured.agenda.missed_changes == 0;
    if args.strict && !ok {
        eprintln!("strict: the run had errors");
    }
    Ok(ok || !args.strict)
}

/// The server's CPU seconds during the run.
fn run_cpu(totals: &RunTotals) -> Option<f64> {
    match (totals.server_run_start, totals.server_run_end) {
        (Some(start), Some(end)) => Some(end.cpu_s - start.cpu_s),
        _ => None,
    }
}

fn result_json(ctx: &RunContext, totals: &RunTotals, measured: &Measured) -> Value {
    let (args, counters, cast) = (&ctx.args, &ctx.counters, &totals.cast);
    let Measured { ballots, agenda, failures, reconnected, resumed_by_snapshot } = measured;
    let (held, run_secs, acks_run, frames_run) = (totals.held, totals.run_secs, totals.acks_run, totals.frames_run);
    let sample = |sample: Option<ProcSample>| sample.map(|s| json!({"cpu_s": s.cpu_s, "rss_bytes": s.rss}));
    let run_cpu = run_cpu(totals);
    let rss_per_conn = match (totals.server_base, totals.server_connected) {
        (Some(base), Some(connected)) if held > 0 => Some((connected.rss as f64 - base.rss as f64) / held as f64),
        _ => None,
    };
    let burst = args.burst_ms.map(|_| ballots.burst(totals.run_started_micros));
    json!({
        "scenario": args.name,
        "target": args.target,
        "date_unix": totals.began_unix_secs,
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "command": command_line(),
        "conns": {"asked": args.conns, "held": held, "failed": counters.connect_failed.load(Relaxed), "connect_secs": totals.connect_secs,
                  "voters": cast.voters, "displays": cast.displays, "idle": cast.idle(), "slow": cast.slow, "moderators": args.moderators},
        "run_secs": run_secs,
        "ballots": {"acked": acks_run, "acked_per_s": acks_run as f64 / run_secs, "offered_per_s": if args.burst_ms.is_some() { Value::Null } else { json!(args.ballot_rate) },
                    "ack_latency": percentiles(&ballots.ack_latency), "ack_to_display_tally": percentiles(&ballots.ack_to_display_tally),
                    "displays_missing_last_tally": ballots.displays_missing_last_tally, "burst": burst},
        "agenda": {"changes": agenda.changes.len(), "to_each_from_ack": percentiles(&agenda.to_each_from_ack), "to_each_from_send": percentiles(&agenda.to_each_from_send),
                   "fanout_frames_per_s_median": median_frames_per_s(&agenda.rounds), "rounds": agenda.rounds,
                   "normal_clients_before_slow": percentiles(&agenda.normal_clients_before_slow), "normal_clients_after_slow": percentiles(&agenda.normal_clients_after_slow),
                   "missed_changes": agenda.missed_changes, "conns_missing_changes": agenda.conns_missing_changes},
        "reconnect": {"reconnected": reconnected, "resumed_by_snapshot": resumed_by_snapshot},
        "errors": {"rejected": counters.rejected.load(Relaxed), "rate_limited": counters.rate_limited.load(Relaxed),
                   "connection_errors": failures.errors, "closes": failures.closes, "slow_closed_4008": failures.closes.get("Slow:4008").copied().unwrap_or(0)},
        "frames_in_during_run": frames_run,
        "agenda_frame_bytes": counters.agenda_frame_bytes.load(Relaxed),
        "server": {"pid": args.server_pid, "base": sample(totals.server_base), "connected": sample(totals.server_connected), "run_cpu_s": run_cpu,
                   "run_cpu_util": run_cpu.map(|cpu| cpu / run_secs),
                   "rss_per_conn_bytes": rss_per_conn,
                   "acks_per_cpu_s": run_cpu.map(|cpu| acks_run as f64 / cpu.max(1e-9)),
                   "frames_per_cpu_s": run_cpu.map(|cpu| frames_run as f64 / cpu.max(1e-9))},
        "generator": {"rss_bytes": proc_sample(std::process::id()).map(|s| s.rss)},
        "progress": totals.progress,
    })
}

fn print_table(ctx: &RunContext, totals: &RunTotals, measured: &Measured, result: &Value) {
    let (args, counters) = (&ctx.args, &ctx.counters);
    let (run_secs, acks_run, frames_run) = (totals.run_secs, totals.acks_run, totals.frames_run);
    println!("\n== {} against {:?} ({} connections held of {}) ==", args.name, args.target, totals.held, args.conns);
    let row = |name: &str, value: String| println!("{name:<34} {value}");
    row("connect time", format!("{:.1} s", totals.connect_secs));
    row("acked ballots/s", format!("{:.0} ({} in {run_secs:.1} s)", acks_run as f64 / run_secs, acks_run));
    row("ack latency", format_percentiles(&result["ballots"]["ack_latency"]));
    row("ballot ack → display tally", format_percentiles(&result["ballots"]["ack_to_display_tally"]));
    if let Some(burst) = &result["ballots"]["burst"].as_object() {
        row(
            "burst",
            format!("{} acked, last ack {} ms after open", burst["ballots_acked"], burst["last_ack_after_open_ms"]),
        );
    }
    row("agenda change → each (from ack)", format_percentiles(&result["agenda"]["to_each_from_ack"]));
    row("agenda change → each (from send)", format_percentiles(&result["agenda"]["to_each_from_send"]));
    if let (Some(median), Some(_)) =
        (result["agenda"]["fanout_frames_per_s_median"].as_f64(), args.agenda_rounds_wait_ms)
    {
        row("fan-out frames/s (median round)", format!("{median:.0}"));
    }
    let slow = totals.cast.slow;
    if slow > 0 {
        row(
            "normal p99 before/after slow",
            format!(
                "{} / {}",
                format_percentiles(&result["agenda"]["normal_clients_before_slow"]),
                format_percentiles(&result["agenda"]["normal_clients_after_slow"])
            ),
        );
        row("slow readers closed 4008", format!("{} of {slow}", result["errors"]["slow_closed_4008"]));
    }
    if args.reconnect_at_secs.is_some() {
        row("reconnected / by snapshot", format!("{} / {}", measured.reconnected, measured.resumed_by_snapshot));
    }
    let agenda = &measured.agenda;
    row("changes missed (conns)", format!("{} ({})", agenda.missed_changes, agenda.conns_missing_changes));
    row(
        "errors",
        format!(
            "rejected {} rate_limited {} conn {:?} closes {:?}",
            counters.rejected.load(Relaxed),
            counters.rate_limited.load(Relaxed),
            measured.failures.errors,
            measured.failures.closes
        ),
    );
    if let Some(cpu) = run_cpu(totals) {
        row(
            "server CPU during run",
            format!(
                "{:.0}% of one core, {:.0} acks/CPU-s, {:.0} frames/CPU-s",
                cpu / run_secs * 100.0,
                acks_run as f64 / cpu.max(1e-9),
                frames_run as f64 / cpu.max(1e-9)
            ),
        );
    }
    if let Some(rss_per_conn) = result["server"]["rss_per_conn_bytes"].as_f64() {
        let rss = totals.server_connected.map_or(0.0, |sample| sample.rss as f64 / 1048576.0);
        row("server RSS per connection", format!("{:.1} KiB (RSS {rss:.0} MiB)", rss_per_conn / 1024.0));
    }
}
