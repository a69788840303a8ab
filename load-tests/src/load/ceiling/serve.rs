//! `ceiling-serve`: accept N connections, then write the same message to all
//! of them, round after round, through one broadcast channel.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::sync::broadcast;

use super::{STAMP_DIGITS, unix_micros};
use crate::cli::CeilingArgs;

pub(crate) async fn serve(args: CeilingArgs) -> Result<()> {
    // A deep accept queue: with the default (1,024), a 20,000-strong
    // connection storm has SYNs dropped and retried with backoff until the
    // accept deadline passes, and the run measures nothing.
    let socket = if args.listen.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(args.listen)?;
    let listener = socket.listen(65_535)?;
    eprintln!("ceiling: listening on {}, waiting for {} connections", args.listen, args.conns);
    let (messages, _) = broadcast::channel::<Arc<[u8]>>(64);
    let mut accepted = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.accept_timeout);
    let mut writers = Vec::new();
    while (accepted) < args.conns {
        let Ok(accepted_or_not) = tokio::time::timeout_at(deadline, listener.accept()).await else {
            bail!("ceiling: timed out accepting ({} of {})", accepted, args.conns)
        };
        // One failed accept (a connection reset while queued, a descriptor
        // short for a moment) must not end the whole measurement.
        let mut stream = match accepted_or_not {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("ceiling: accept failed after {}: {error}", accepted);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        accepted += 1;
        let mut receiver = messages.subscribe();
        writers.push(tokio::spawn(async move {
            while let Ok(message) = receiver.recv().await {
                if stream.write_all(&message).await.is_err() {
                    break;
                }
            }
        }));
    }
    eprintln!("ceiling: {} connections accepted; writing {} rounds", accepted, args.rounds);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..args.rounds {
        let mut message = format!("{:0width$}", unix_micros(), width = STAMP_DIGITS).into_bytes();
        message.resize(args.bytes.max(STAMP_DIGITS + 1) - 1, b'x');
        message.push(b'\n');
        let _ = messages.send(Arc::from(message.into_boxed_slice()));
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    drop(messages);
    let _ = tokio::time::timeout(Duration::from_secs(10), futures_util::future::join_all(writers)).await;
    Ok(())
}
