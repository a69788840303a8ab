//! One connection's session: what it has seen, the requests it has in
//! flight, and how it answers each frame the server sends.
//!
//! Why apart from the roles: every role reads the same frames the same way
//! (count them, match acks to requests, note tallies and agenda events); the
//! roles differ only in what they send and when. The session knows nothing
//! of schedules, and nothing of the wire beyond [`Inbound`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::context::RunContext;
use crate::dial::Ws;
use crate::roles::Role;
use crate::wire::{self, Credential, Inbound, Target};

/// What one connection saw, handed to the analysis when it ends. Times are
/// microseconds since the run's epoch.
#[derive(Default)]
pub(crate) struct ConnectionReport {
    pub(crate) connected: bool,
    pub(crate) error: Option<String>,
    pub(crate) close_code: Option<u16>,
    /// Each ballot's send → ack, µs.
    pub(crate) ack_latencies: Vec<u64>,
    /// (ack seq, ack time)
    pub(crate) acks: Vec<(u64, u64)>,
    /// (tally seq, time)
    pub(crate) tallies: Vec<(u64, u64)>,
    /// (agenda event seq, time)
    pub(crate) agenda_events: Vec<(u64, u64)>,
    /// Moderator: (seq, send time, ack time)
    pub(crate) agenda_changes: Vec<(u64, u64, u64)>,
    /// The forum's head at the first welcome: later changes are the ones to receive.
    pub(crate) first_head_seq: u64,
    pub(crate) reconnected: bool,
    pub(crate) resumed_by_snapshot: bool,
    pub(crate) slow_stopped_at: Option<u64>,
}

/// What the welcome said that a connection needs.
pub(crate) struct Welcomed {
    pub(crate) head_seq: u64,
    /// The server sent a snapshot instead of replaying the missed events.
    pub(crate) snapshot: bool,
}

/// What one connection has seen, and how it answers frames.
pub(crate) struct Session {
    pub(crate) role: Role,
    pub(crate) report: ConnectionReport,
    /// The highest event seq seen, for resuming after a reconnect.
    pub(crate) last_seq: u64,
    /// Requests sent and not answered yet: request id → send time (µs).
    pub(crate) in_flight: HashMap<u64, u64>,
    next_request_id: u64,
}

impl Session {
    pub(crate) fn new(role: Role, first_request_id: u64) -> Session {
        Session {
            role,
            report: ConnectionReport::default(),
            last_seq: 0,
            in_flight: HashMap::new(),
            next_request_id: first_request_id,
        }
    }

    /// A new request id, noted as sent now.
    pub(crate) fn start_request(&mut self, ctx: &RunContext) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.in_flight.insert(id, ctx.now_micros());
        id
    }

    /// Log in and wait for the welcome (or the peer's join ack); frames before it are handled as any other.
    pub(crate) async fn login(
        &mut self,
        ctx: &RunContext,
        ws: &mut Ws,
        credential: &Credential,
        last_seq: Option<u64>,
    ) -> Result<Welcomed> {
        let target = ctx.args.target;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        if target == Target::Madang {
            ws.send(Message::text(wire::login(target, &ctx.forum.id, credential, last_seq))).await?;
        }
        loop {
            let message =
                tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no welcome in 30 s"))?;
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    bail!("closed before welcome: {:?}", frame.map(|frame| u16::from(frame.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(error.into()),
                None => bail!("ended before welcome"),
            };
            if target == Target::Socketio {
                if text.starts_with('0') {
                    ws.send(Message::text("40")).await?;
                    continue;
                }
                if text.starts_with("40") {
                    ws.send(Message::text(wire::login(target, &ctx.forum.id, credential, last_seq))).await?;
                    continue;
                }
            }
            match wire::parse(target, &text) {
                Inbound::Welcome { head_seq, snapshot, .. } => return Ok(Welcomed { head_seq, snapshot }),
                Inbound::Error { code, .. } => bail!("login refused: {code}"),
                other => self.on(ctx, other, ws).await?,
            }
        }
    }

    /// Take what a run's connection read: a frame is handled, an end is
    /// counted as a drop. False when the connection is done.
    pub(crate) async fn take(
        &mut self,
        ctx: &RunContext,
        message: Option<Result<Message, tungstenite::Error>>,
        ws: &mut Ws,
    ) -> bool {
        let ended = match message {
            Some(Ok(Message::Text(text))) => {
                let frame = wire::parse(ctx.args.target, &text);
                if let Inbound::Event { agenda: true, .. } = frame {
                    ctx.counters.agenda_frame_bytes.store(text.len() as u64, Relaxed);
                }
                self.on(ctx, frame, ws).await.is_err()
            }
            Some(Ok(Message::Close(frame))) => {
                self.report.close_code = frame.map(|frame| u16::from(frame.code));
                true
            }
            Some(Ok(_)) => false,
            Some(Err(error)) => {
                self.report.error = Some(error.to_string());
                true
            }
            None => true,
        };
        if ended {
            ctx.counters.dropped.fetch_add(1, Relaxed);
        }
        !ended
    }

    /// Answer or note one frame.
    pub(crate) async fn on(&mut self, ctx: &RunContext, frame: Inbound, ws: &mut Ws) -> Result<()> {
        ctx.counters.frames_in.fetch_add(1, Relaxed);
        let now = ctx.now_micros();
        match frame {
            Inbound::Ping => ws.send(Message::text("3")).await?,
            Inbound::Ack { id, seq } => {
                if let Some(sent) = self.in_flight.remove(&id) {
                    match self.role {
                        Role::Moderator => self.report.agenda_changes.push((seq, sent, now)),
                        _ => {
                            ctx.counters.acks.fetch_add(1, Relaxed);
                            self.report.ack_latencies.push(now.saturating_sub(sent));
                            self.report.acks.push((seq, now));
                        }
                    }
                }
            }
            Inbound::Error { id, code } => {
                if let Some(id) = id {
                    self.in_flight.remove(&id);
                }
                if code == "rate_limited" {
                    ctx.counters.rate_limited.fetch_add(1, Relaxed);
                } else {
                    ctx.counters.rejected.fetch_add(1, Relaxed);
                }
                print_first_error_frames(&code);
            }
            Inbound::Tally { seq } => {
                if self.role == Role::Display {
                    self.report.tallies.push((seq, now));
                }
            }
            Inbound::Event { seq, agenda } => {
                self.last_seq = self.last_seq.max(seq);
                if agenda {
                    self.report.agenda_events.push((seq, now));
                }
            }
            Inbound::Welcome { .. } | Inbound::Other => {}
        }
        Ok(())
    }
}

/// The first few error frames on stderr: enough to see what went wrong, not one line per ballot.
fn print_first_error_frames(code: &str) {
    static SHOWN: AtomicU64 = AtomicU64::new(0);
    if SHOWN.fetch_add(1, Relaxed) < 5 {
        eprintln!("server error frame: {code}");
    }
}

/// Who connection `person` logs in as: the role's token, or the `person`th
/// participant's (people are shared round-robin), or a fresh join.
pub(crate) fn credential(ctx: &RunContext, role: Role, person: usize) -> Credential {
    let forum = &ctx.forum;
    let tokens = &forum.participant_tokens;
    match role {
        Role::Moderator => Credential::Token { token: forum.moderator_token.clone(), role: "moderator" },
        Role::Display => Credential::Token { token: forum.display_token.clone(), role: "display" },
        _ if tokens.is_empty() => Credential::Join { code: forum.remote_code.clone() },
        _ => Credential::Token { token: tokens[person % tokens.len()].clone(), role: "participant" },
    }
}
