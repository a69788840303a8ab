//! The general loop of a connection that acts: voters send ballots,
//! moderators change the agenda, slow readers stop reading, reconnecting
//! clients drop and resume with `last_seq`, displays read tallies.
//!
//! Why one loop for all of them: a role is a set of timers from its
//! [`Schedule`], and the timers it does not have are disabled `select!`
//! branches. A slow reader, once stopped, drains what was queued for it at
//! the end to learn how the server closed it.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::Role;
use super::schedule::Schedule;
use crate::context::{Phase, RunContext};
use crate::dial::{self, Ws};
use crate::session::{ConnectionReport, Session};
use crate::wire::{self, Credential};

/// A voter keeps at most this many ballots unanswered; a tick past it is skipped.
const MAX_BALLOTS_IN_FLIGHT: usize = 8;

pub(super) struct Player<'a> {
    pub(super) ctx: &'a RunContext,
    pub(super) session: Session,
    pub(super) index: usize,
    pub(super) role_index: usize,
    pub(super) credential: Credential,
}

impl Player<'_> {
    /// Act on the schedule and read until the run stops or the connection ends.
    pub(super) async fn play(
        mut self,
        mut ws: Ws,
        mut phase: watch::Receiver<Phase>,
        mut schedule: Schedule,
    ) -> ConnectionReport {
        let ctx = self.ctx;
        let role = self.session.role;
        let far = schedule.far;
        let mut burst_done = false;
        let mut reading = true;
        let mut reconnected = false;
        let mut sent_changes = 0u64;
        loop {
            tokio::select! {
                biased;
                _ = phase.changed() => {
                    if *phase.borrow() == Phase::Stop { break; }
                }
                _ = tokio::time::sleep_until(schedule.burst_at.unwrap_or(far).into()),
                    if schedule.burst_at.is_some() && !burst_done && schedule.sending() => {
                    burst_done = true;
                    let choice = if self.index.is_multiple_of(2) { "yes" } else { "no" };
                    if self.send_ballot(&mut ws, |_| choice).await.is_err() { break; }
                }
                _ = async { schedule.ticks.as_mut().unwrap().tick().await },
                    if schedule.ticks.is_some() && schedule.sending() => {
                    let sent = match role {
                        Role::Voter if self.session.in_flight.len() < MAX_BALLOTS_IN_FLIGHT => {
                            let index = self.index;
                            self.send_ballot(&mut ws, |id| ["yes", "no", "abstain"][(id as usize + index) % 3]).await
                        }
                        Role::Moderator if sent_changes < ctx.args.agenda_changes => {
                            sent_changes += 1;
                            self.send_agenda_change(&mut ws, sent_changes).await
                        }
                        _ => Ok(()),
                    };
                    if sent.is_err() { break; }
                }
                _ = tokio::time::sleep_until(schedule.slow_at.unwrap_or(far).into()),
                    if schedule.slow_at.is_some() && reading => {
                    reading = false;
                    self.session.report.slow_stopped_at = Some(ctx.now_micros());
                }
                _ = tokio::time::sleep_until(schedule.reconnect_at.unwrap_or(far).into()),
                    if schedule.reconnect_at.is_some() && !reconnected => {
                    reconnected = true;
                    drop(ws);
                    match self.reconnect().await {
                        Ok(resumed) => ws = resumed,
                        Err(error) => {
                            self.session.report.error = Some(error);
                            ctx.counters.dropped.fetch_add(1, Relaxed);
                            return self.session.report;
                        }
                    }
                }
                message = ws.next(), if reading => if !self.session.take(ctx, message, &mut ws).await { break },
            }
        }
        if role == Role::Slow && self.session.report.close_code.is_none() {
            self.session.report.close_code = drain_until_close(&mut ws).await;
        }
        self.session.report
    }

    /// Cast a ballot; `choice` picks the answer from the request id.
    async fn send_ballot(&mut self, ws: &mut Ws, choice: impl FnOnce(u64) -> &'static str) -> anyhow::Result<()> {
        let id = self.session.start_request(self.ctx);
        let frame = wire::ballot(self.ctx.args.target, id, self.ctx.forum.poll, choice(id));
        ws.send(Message::text(frame)).await?;
        Ok(())
    }

    /// Send this moderator's `sent`th agenda change.
    async fn send_agenda_change(&mut self, ws: &mut Ws, sent: u64) -> anyhow::Result<()> {
        let id = self.session.start_request(self.ctx);
        let version = (self.role_index as u64) * 1_000_000 + sent;
        let frame = wire::agenda_change(self.ctx.args.target, id, self.ctx.forum.item, version);
        ws.send(Message::text(frame)).await?;
        Ok(())
    }

    /// Dial again and resume from the last seq seen, within 30 s; the error says why not.
    async fn reconnect(&mut self) -> Result<Ws, String> {
        let ctx = self.ctx;
        let session = &mut self.session;
        let credential = &self.credential;
        let index = self.index;
        let resumed = async {
            let mut ws = dial::run_connection(ctx, index, false).await?;
            let welcomed = session.login(ctx, &mut ws, credential, Some(session.last_seq)).await?;
            Ok::<_, anyhow::Error>((ws, welcomed.snapshot))
        };
        match tokio::time::timeout(Duration::from_secs(30), resumed).await {
            Ok(Ok((ws, snapshot))) => {
                self.session.report.reconnected = true;
                self.session.report.resumed_by_snapshot = snapshot;
                ctx.counters.reconnected.fetch_add(1, Relaxed);
                Ok(ws)
            }
            Ok(Err(error)) => Err(format!("reconnect: {error:#}")),
            Err(_) => Err("reconnect timed out".into()),
        }
    }
}

/// Read and drop what was queued until the close frame, within 10 s: its
/// code, or `None` when the connection ended without one.
async fn drain_until_close(ws: &mut Ws) -> Option<u16> {
    let drain = async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), drain).await.unwrap_or(None)
}
