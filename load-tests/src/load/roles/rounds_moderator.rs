//! The moderator of fan-out rounds (`--agenda-rounds-wait-ms`): one agenda
//! change, wait until (nearly) every connection has it, then the next.
//!
//! Why not a scheduled moderator: a fan-out measurement wants each change to
//! reach everyone before the next is sent, so that rounds do not overlap.
//! "Everyone has it" is read from the frames-in counter as sampled by
//! [`sample_frames_in`], which is all this module knows of the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::Role;
use crate::context::{Phase, RunContext};
use crate::dial;
use crate::session::{ConnectionReport, Session, credential};
use crate::wire;

/// Run the rounds; `frames_seen` is the run's frames-in counter as [`sample_frames_in`] keeps it.
pub(crate) async fn rounds_moderator(ctx: Arc<RunContext>, frames_seen: Arc<AtomicU64>) -> ConnectionReport {
    let mut session = Session::new(Role::Moderator, 1);
    let credential = credential(&ctx, Role::Moderator, 0);
    let opened = async {
        let mut ws = dial::run_connection(&ctx, 0, false).await?;
        session.login(&ctx, &mut ws, &credential, None).await?;
        Ok::<_, anyhow::Error>(ws)
    };
    let mut ws = match opened.await {
        Ok(ws) => ws,
        Err(error) => {
            session.report.error = Some(format!("{error:#}"));
            return session.report;
        }
    };
    let mut run_start = ctx.run_start.clone();
    while run_start.borrow_and_update().is_none() {
        tokio::select! {
            _ = run_start.changed() => {}
            message = ws.next() => {
                if let Some(Ok(Message::Text(text))) = message {
                    let frame = wire::parse(ctx.args.target, &text);
                    let _ = session.on(&ctx, frame, &mut ws).await;
                } else if message.is_none() {
                    return session.report;
                }
            }
        }
    }
    let args = &ctx.args;
    let wait = Duration::from_millis(args.agenda_rounds_wait_ms.unwrap_or(5000));
    let connected = ctx.counters.connected.load(Relaxed);
    for version in 1..=args.agenda_changes {
        tokio::time::sleep(Duration::from_millis(args.agenda_every_ms)).await;
        let before = frames_seen.load(Relaxed);
        let id = session.start_request(&ctx);
        if ws.send(Message::text(wire::agenda_change(args.target, id, ctx.forum.item, version))).await.is_err() {
            break;
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Read our own frames (the ack and the event) until everyone has it or time is up.
        loop {
            let everyone =
                frames_seen.load(Relaxed) >= before + connected.saturating_sub(1) && session.in_flight.is_empty();
            if everyone || tokio::time::Instant::now() >= deadline {
                break;
            }
            match tokio::time::timeout(Duration::from_millis(5), ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame = wire::parse(args.target, &text);
                    let _ = session.on(&ctx, frame, &mut ws).await;
                }
                Ok(None) | Ok(Some(Err(_))) => return session.report,
                _ => {}
            }
        }
        if *ctx.phase.borrow() == Phase::Stop {
            break;
        }
    }
    session.report
}

/// Copy the frames-in counter into `frames_seen` every 2 ms until the run
/// stops: the rounds moderator polls a copy that changes at a bounded rate
/// instead of the counter every connection bumps.
pub(crate) async fn sample_frames_in(ctx: Arc<RunContext>, frames_seen: Arc<AtomicU64>) {
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let frames_in = ctx.counters.frames_in.load(Relaxed);
        if frames_in != last {
            frames_seen.store(frames_in, Relaxed);
            last = frames_in;
        }
        if *ctx.phase.borrow() == Phase::Stop {
            break;
        }
    }
}
