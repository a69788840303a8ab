//! The roles a connection plays, and one connection's life from dial to stop.
//!
//! Why the split below: most connections only listen, and their loop must
//! stay as small as a loop can be (see `listener`), while the few that act
//! (voters, displays, moderators, slow readers, reconnecting clients) share
//! one general loop (`active`). Both read frames through the connection's
//! [`Session`]; what they send and when is the [`Schedule`]'s.

mod active;
mod listener;
mod rounds_moderator;
mod schedule;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::context::{Phase, RunContext};
use crate::dial::{self, Ws};
use crate::session::{ConnectionReport, Session, credential};
use crate::wire::{self, Credential};

pub(crate) use rounds_moderator::{rounds_moderator, sample_frames_in};
use schedule::Schedule;
pub(crate) use schedule::splitmix64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Voter,
    Display,
    Idle,
    /// An idle connection that stops reading.
    Slow,
    Moderator,
}

/// How many connections play each role: voters first, then displays, then
/// idle ones, the slow readers last.
pub(crate) struct Cast {
    pub(crate) conns: usize,
    pub(crate) voters: usize,
    pub(crate) displays: usize,
    pub(crate) slow: usize,
}

impl Cast {
    /// The idle connections, slow readers included.
    pub(crate) fn idle(&self) -> usize {
        self.conns - self.voters - self.displays
    }

    /// The role of connection `index`, and its index among that role's connections.
    pub(crate) fn role_of(&self, index: usize) -> (Role, usize) {
        if index < self.voters {
            (Role::Voter, index)
        } else if index < self.voters + self.displays {
            (Role::Display, index - self.voters)
        } else if index >= self.conns - self.slow {
            (Role::Slow, index)
        } else {
            (Role::Idle, index)
        }
    }
}

/// One connection, from dial to stop.
pub(crate) async fn connection(ctx: Arc<RunContext>, index: usize, role: Role, role_index: usize) -> ConnectionReport {
    // Request ids are unique per person, and the moderators are one person: number them by connection.
    let mut session = Session::new(role, ((index as u64) << 24) + 1);
    let credential = credential(&ctx, role, if role == Role::Voter { role_index } else { index });
    let Some(mut ws) = open(&ctx, index, &credential, &mut session).await else {
        return session.report;
    };
    let mut phase = ctx.phase.clone();
    let Some(start) = wait_for_start(&ctx, &mut ws, &mut session, &mut phase).await else {
        if session.report.close_code.is_some() || *phase.borrow() != Phase::Stop {
            ctx.counters.dropped.fetch_add(1, Relaxed);
        }
        return session.report;
    };
    let schedule = Schedule::new(&ctx.args, role, index, role_index, start);
    if role == Role::Idle && schedule.reconnect_at.is_none() {
        return listener::listen(&ctx, ws, session, phase).await;
    }
    let player = active::Player { ctx: &ctx, session, index, role_index, credential };
    player.play(ws, phase, schedule).await
}

/// Dial and log in, within the connect timeout and while no more than the
/// allowed handshakes are in flight. `None` when that failed (noted in the report).
async fn open(ctx: &RunContext, index: usize, credential: &Credential, session: &mut Session) -> Option<Ws> {
    let _permit = ctx.connect_permits.acquire().await;
    let opened = async {
        let mut ws = dial::run_connection(ctx, index, session.role == Role::Slow).await?;
        let welcomed = session.login(ctx, &mut ws, credential, None).await?;
        Ok::<_, anyhow::Error>((ws, welcomed.head_seq))
    };
    let error = match tokio::time::timeout(Duration::from_secs_f64(ctx.args.connect_timeout), opened).await {
        Ok(Ok((ws, head_seq))) => {
            session.report.first_head_seq = head_seq;
            session.last_seq = head_seq;
            session.report.connected = true;
            ctx.counters.connected.fetch_add(1, Relaxed);
            return Some(ws);
        }
        Ok(Err(error)) => format!("{error:#}"),
        Err(_) => "connect timed out".into(),
    };
    ctx.counters.connect_failed.fetch_add(1, Relaxed);
    session.report.error = Some(error);
    None
}

/// Read what comes until the run starts; `None` when the run stopped or the
/// connection ended first.
async fn wait_for_start(
    ctx: &RunContext,
    ws: &mut Ws,
    session: &mut Session,
    phase: &mut watch::Receiver<Phase>,
) -> Option<Instant> {
    let mut run_start = ctx.run_start.clone();
    loop {
        if let Some(start) = *run_start.borrow_and_update() {
            return Some(start);
        }
        if *phase.borrow() == Phase::Stop {
            return None;
        }
        tokio::select! {
            _ = run_start.changed() => {}
            _ = phase.changed() => {}
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let frame = wire::parse(ctx.args.target, &text);
                    if session.on(ctx, frame, ws).await.is_err() {
                        return None;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    session.report.close_code = frame.map(|frame| u16::from(frame.code));
                    return None;
                }
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_then_displays_then_idle_with_the_slow_ones_last() {
        let cast = Cast { conns: 10, voters: 3, displays: 2, slow: 2 };
        let roles: Vec<_> = (0..10).map(|index| cast.role_of(index)).collect();
        assert_eq!(roles[..3], [(Role::Voter, 0), (Role::Voter, 1), (Role::Voter, 2)]);
        assert_eq!(roles[3..5], [(Role::Display, 0), (Role::Display, 1)]);
        assert_eq!(roles[5..8], [(Role::Idle, 5), (Role::Idle, 6), (Role::Idle, 7)]);
        assert_eq!(roles[8..], [(Role::Slow, 8), (Role::Slow, 9)]);
        assert_eq!(cast.idle(), 5);
    }
}
