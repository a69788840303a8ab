//! `run --target ceiling`: connect N plain TCP connections, read the
//! expected rounds of fixed-size messages, and report write → each receipt.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{STAMP_DIGITS, unix_micros};
use crate::cli::RunArgs;
use crate::dial;
use crate::measure::{command_line, format_percentiles, histogram, median_frames_per_s, percentiles, write_result};

/// Each message a connection read: (its write stamp, its arrival), µs since the Unix epoch.
type Receipts = Vec<(u64, u64)>;

pub(crate) async fn run(args: RunArgs) -> Result<bool> {
    let permits = Arc::new(Semaphore::new(args.connect_concurrency));
    let connected = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let readers: Vec<_> =
        (0..args.conns).map(|index| spawn_reader(&args, index, permits.clone(), connected.clone())).collect();
    let mut last_print = Instant::now();
    while (connected.load(Relaxed) as usize) < args.conns && started.elapsed().as_secs_f64() < args.connect_timeout {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_print.elapsed() > Duration::from_secs(1) {
            last_print = Instant::now();
            eprintln!("ceiling connecting held={}", connected.load(Relaxed));
        }
    }
    let held = connected.load(Relaxed);
    // stamp → (connections that received it, last arrival)
    let mut per_round: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut write_to_each = histogram();
    let mut failed = 0;
    for reader in readers {
        match reader.await {
            Ok(Ok(receipts)) => {
                for (stamp, at) in receipts {
                    let round = per_round.entry(stamp).or_default();
                    round.0 += 1;
                    round.1 = round.1.max(at);
                    let _ = write_to_each.record(at.saturating_sub(stamp).max(1));
                }
            }
            _ => failed += 1,
        }
    }
    let mut rounds: Vec<Value> = per_round
        .iter()
        .map(|(&stamp, &(received, last))| json!({"stamp": stamp, "received": received, "all_after_write_ms": last.saturating_sub(stamp) as f64 / 1000.0, "frames_per_s": received as f64 / (last.saturating_sub(stamp).max(1) as f64 / 1e6)}))
        .collect();
    rounds.sort_by_key(|round| round["stamp"].as_u64());
    let median = median_frames_per_s(&rounds);
    let result = json!({"scenario": args.name, "target": "ceiling", "conns": {"asked": args.conns, "held": held, "failed": failed},
        "bytes": args.ceiling_bytes, "to_each_from_write": percentiles(&write_to_each), "fanout_frames_per_s_median": median, "rounds": rounds,
        "command": command_line()});
    println!("\n== ceiling ({held} connections, {} bytes) ==", args.ceiling_bytes);
    println!("{:<34} {}", "write → each", format_percentiles(&result["to_each_from_write"]));
    println!("{:<34} {:.0}", "fan-out frames/s (median round)", median.unwrap_or(0.0));
    write_result(args.out.as_deref(), &result)?;
    Ok(true)
}

/// Connection `index`: connect (as the permits allow), then read the rounds
/// until they are all in or the run's time is up.
fn spawn_reader(
    args: &RunArgs,
    index: usize,
    permits: Arc<Semaphore>,
    connected: Arc<AtomicU64>,
) -> JoinHandle<Result<Receipts>> {
    let args = args.clone();
    tokio::spawn(async move {
        let mut stream = {
            let _permit = permits.acquire().await;
            let stream = dial::tcp(args.server, dial::source_ip(index, args.sources), false).await?;
            connected.fetch_add(1, Relaxed);
            stream
        };
        let mut message = vec![0u8; args.ceiling_bytes.max(STAMP_DIGITS + 1)];
        let mut receipts = Vec::new();
        let limit = Duration::from_secs_f64(args.connect_timeout + args.duration + 30.0);
        let reading = async {
            for _ in 0..args.ceiling_rounds {
                stream.read_exact(&mut message).await?;
                let now = unix_micros();
                let stamp: u64 = std::str::from_utf8(&message[..STAMP_DIGITS])
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .unwrap_or(0);
                receipts.push((stamp, now));
            }
            Ok::<_, anyhow::Error>(())
        };
        let _ = tokio::time::timeout(limit, reading).await;
        Ok(receipts)
    })
}
