//! Group commit: one batch of requests, decided in memory, appended at once.
//!
//! Every command of a batch is decided and applied in order (later commands
//! see earlier ones) and its frames are rendered against the state at its own
//! sequence number; the batch's entries then go to the store in one append
//! (one fsync on the embedded store). Only once that returns are acks sent and
//! frames published. Refusals wait for the append too: a refusal may rest on
//! an earlier command of the batch (a ballot after a `close_poll`), which
//! holds only if that command lands.
//!
//! On a shared store another node may append first; the batch is then undone
//! (`recovery`), the task catches up (`replication`), and the batch is decided
//! again. Replies are taken once answered, so no one is answered twice.

use std::time::{Duration, Instant};

use madang_protocol::{Channel, Command, ForumView, ServerFrame};
use tokio::sync::oneshot;

use super::ForumTask;
use super::attach::Authenticated;
use super::fanout::{EventFrames, RunFrames, drop_superseded, outcome_record};
use super::request::{AttachError, Attached, Credential, Request};
use crate::domain::{Actor, Event};
use crate::hub::clock::now_ms;
use crate::hub::journal::{Entry, JournalError, RequestKey};
use crate::hub::state::AckInfo;
use crate::hub::tickets::TicketBook;
use crate::hub::view::{self, Audience};
use crate::hub::{frames, tokens};
use crate::store::{Record, StoreError};

/// How many times a batch is decided again when other nodes keep appending first.
const MAX_ATTEMPTS: usize = 32;
/// How long after losing a race a forum task keeps copying its state before
/// each batch, so that the next lost race is undone without a rebuild.
const CONTENTION_WINDOW: Duration = Duration::from_secs(30);

/// A request of the batch, until it is answered (its reply is then `None`).
pub(super) enum BatchRequest {
    Command {
        actor: Actor,
        request_id: String,
        command: Command,
        reply: Option<oneshot::Sender<ServerFrame>>,
    },
    Attach {
        credential: Credential,
        last_seq: Option<u64>,
        reply: Option<oneshot::Sender<Result<Attached, AttachError>>>,
    },
    View {
        audience: Audience,
        reply: Option<oneshot::Sender<ForumView>>,
    },
    Tickets {
        token: String,
        reply: Option<oneshot::Sender<Option<TicketBook>>>,
    },
}

impl BatchRequest {
    /// Split what the task received into the batch's requests and the
    /// records other nodes appended.
    pub(super) fn take_all(received: Vec<Request>) -> (Vec<BatchRequest>, Vec<Record>) {
        let mut requests = Vec::with_capacity(received.len());
        let mut tail = Vec::new();
        for request in received {
            match request {
                Request::Tail(records) => tail.extend(records),
                Request::Command { actor, request_id, command, reply } => {
                    requests.push(BatchRequest::Command { actor, request_id, command, reply: Some(reply) })
                }
                Request::Attach { credential, last_seq, reply } => {
                    requests.push(BatchRequest::Attach { credential, last_seq, reply: Some(reply) })
                }
                Request::View { audience, reply } => requests.push(BatchRequest::View { audience, reply: Some(reply) }),
                Request::Tickets { token, reply } => requests.push(BatchRequest::Tickets { token, reply: Some(reply) }),
            }
        }
        (requests, tail)
    }

    /// Answer that nothing was applied: the forum could not persist.
    pub(super) fn refuse(&mut self) {
        self.answer_unavailable(frames::unavailable);
    }

    /// Answer that the store did not confirm the append: it may have landed.
    fn unconfirmed(&mut self) {
        self.answer_unavailable(frames::outcome_unknown);
    }

    fn answer_unavailable(&mut self, frame: fn(Option<String>) -> ServerFrame) {
        match self {
            BatchRequest::Command { request_id, reply, .. } => reply_once(reply, frame(Some(request_id.clone()))),
            BatchRequest::Attach { reply, .. } => reply_once(reply, Err(AttachError::Unavailable)),
            BatchRequest::View { .. } | BatchRequest::Tickets { .. } => {}
        }
    }
}

/// Send an answer unless this request was answered already.
fn reply_once<T>(reply: &mut Option<oneshot::Sender<T>>, answer: T) {
    if let Some(reply) = reply.take() {
        // A requester that went away needs no answer.
        let _ = reply.send(answer);
    }
}

/// What to answer once the batch is persisted.
enum Answer {
    Ack {
        info: AckInfo,
        duplicate: bool,
    },
    /// Attach as `actor` (a newcomer's is the participant their join made).
    Welcome {
        actor: Actor,
        token: String,
    },
    View,
    Tickets,
    /// The domain refused a command.
    Refused(ServerFrame),
    /// The domain or the credential refused an attach.
    AttachRefused(AttachError),
}

/// A request decided in this batch: the entry it appends, if any, that
/// entry's frames, and its answer.
struct Decided {
    /// Index into the batch's requests.
    request: usize,
    /// The entry it appends, and that entry as stored.
    entry: Option<(Entry, Record)>,
    frames: EventFrames,
    answer: Answer,
}

impl Decided {
    /// A request that appends nothing, answered after the batch.
    fn answer_only(request: usize, answer: Answer) -> Decided {
        Decided { request, entry: None, frames: [None, None], answer }
    }
}

/// The key under which a person's request ids are remembered (stored in the log).
fn actor_key(actor: Actor) -> String {
    match actor {
        Actor::Moderator => "moderator".into(),
        Actor::Display => "display".into(),
        Actor::Participant(p) => format!("p{p}"),
    }
}

impl ForumTask {
    pub(super) async fn decide_and_persist(&mut self, requests: &mut [BatchRequest]) {
        let shared = self.store.shared();
        for attempt in 1..=MAX_ATTEMPTS {
            // Decide against everything other nodes have appended so far. When
            // the store cannot even be read, the append would fail too: answer now.
            if shared && let Err(err) = self.catch_up().await {
                tracing::warn!(forum = %self.state.forum.id, %err, "store unavailable; refusing the batch");
                requests.iter_mut().for_each(BatchRequest::refuse);
                return;
            }
            let contended = self.last_conflict.is_some_and(|at| at.elapsed() < CONTENTION_WINDOW);
            let checkpoint = (shared && contended).then(|| self.state.clone());
            let head_before = self.state.head;
            let decided = self.decide_all(requests, now_ms());
            let records: Vec<Record> =
                decided.iter().filter_map(|d| d.entry.as_ref()).map(|(_, record)| record.clone()).collect();
            match self.store.append(&self.state.forum.id, &records).await {
                Ok(()) => {
                    self.log_bytes_since_snapshot += records.iter().map(|r| r.payload.len() as u64).sum::<u64>();
                    return self.finish(decided, requests);
                }
                Err(StoreError::OutOfOrder { .. }) if shared => {
                    tracing::debug!(forum = %self.state.forum.id, attempt, "another node appended first; deciding again");
                    self.last_conflict = Some(Instant::now());
                    if !self.undo_batch(checkpoint, head_before).await {
                        requests.iter_mut().for_each(BatchRequest::refuse);
                        return;
                    }
                    // A random pause breaks the symmetry of two busy nodes that
                    // would otherwise keep colliding on the same sequence number.
                    let cap_ms = 1u64 << attempt.min(5);
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..cap_ms * 1000))).await;
                }
                Err(err) => {
                    tracing::error!(forum = %self.state.forum.id, %err, "append failed; refusing the batch");
                    if append_may_have_landed(&err) {
                        requests.iter_mut().for_each(BatchRequest::unconfirmed);
                    } else {
                        requests.iter_mut().for_each(BatchRequest::refuse);
                    }
                    // On a shared store, what may have landed arrives with the next catch-up.
                    self.undo_batch(checkpoint, head_before).await;
                    return;
                }
            }
        }
        tracing::warn!(forum = %self.state.forum.id, "gave up after {MAX_ATTEMPTS} conflicting appends");
        requests.iter_mut().for_each(BatchRequest::refuse);
    }

    /// Decide every unanswered request of the batch, applying as it goes.
    /// Every answer, refusals included, waits for the append.
    fn decide_all(&mut self, requests: &mut [BatchRequest], now: u64) -> Vec<Decided> {
        let mut decided = Vec::new();
        let mut deferred = Vec::new();
        let mut run = RunFrames::default();
        for (index, request) in requests.iter_mut().enumerate() {
            match request {
                BatchRequest::Command { reply: None, .. }
                | BatchRequest::Attach { reply: None, .. }
                | BatchRequest::View { reply: None, .. }
                | BatchRequest::Tickets { reply: None, .. } => {}
                BatchRequest::Command { actor, request_id, command, .. } => {
                    decided.push(self.decide_command(index, *actor, request_id, command, now, &mut run));
                }
                BatchRequest::Attach { credential, .. } => match self.authenticate(credential) {
                    Ok(Authenticated::Known { actor, token }) => {
                        deferred.push(Decided::answer_only(index, Answer::Welcome { actor, token }))
                    }
                    Ok(Authenticated::Newcomer { channel, name, ticket }) => {
                        decided.push(self.decide_join(index, channel, name, ticket, now, &mut run));
                    }
                    Err(err) => decided.push(Decided::answer_only(index, Answer::AttachRefused(err))),
                },
                BatchRequest::View { .. } => deferred.push(Decided::answer_only(index, Answer::View)),
                BatchRequest::Tickets { .. } => deferred.push(Decided::answer_only(index, Answer::Tickets)),
            }
        }
        let entries = decided.iter_mut().filter_map(|d| Some((d.entry.as_ref()?.0.seq, &mut d.frames)));
        run.settle(&self.state.forum, entries);
        // Attaches and views last: their snapshot or replay and their
        // subscription start after every frame of this batch.
        decided.extend(deferred);
        decided
    }

    fn decide_command(
        &mut self,
        index: usize,
        actor: Actor,
        request_id: &str,
        command: &Command,
        now: u64,
        run: &mut RunFrames,
    ) -> Decided {
        let key = RequestKey { actor: actor_key(actor), id: request_id.to_string() };
        if let Some(info) = self.state.applied.get(&key) {
            // Answered only after this batch persists, in case the original is in it.
            return Decided::answer_only(index, Answer::Ack { info: info.clone(), duplicate: true });
        }
        match self.state.forum.decide(actor, command, now, &self.config.limits) {
            Err(err) => {
                Decided::answer_only(index, Answer::Refused(frames::refused(Some(request_id.to_string()), &err)))
            }
            Ok(event) => match self.apply_new(now, Some(key), event, run) {
                Ok((entry, record, event_frames)) => {
                    let answer = Answer::Ack { info: AckInfo::of(&entry), duplicate: false };
                    Decided { request: index, entry: Some((entry, record)), frames: event_frames, answer }
                }
                Err(err) => {
                    tracing::error!(forum = %self.state.forum.id, %err, "a decided command cannot be recorded");
                    Decided::answer_only(index, Answer::Refused(frames::internal(Some(request_id.to_string()))))
                }
            },
        }
    }

    fn decide_join(
        &mut self,
        index: usize,
        channel: Channel,
        name: Option<String>,
        ticket: Option<u32>,
        now: u64,
        run: &mut RunFrames,
    ) -> Decided {
        let token = tokens::generate(&self.state.forum.id);
        let limits = &self.config.limits;
        match self.state.forum.decide_join(channel, name.as_deref(), ticket, tokens::hash(&token), limits) {
            Ok(event) => {
                // Checked before applying: whatever is applied must also be appended and answered.
                let Event::ParticipantJoined { participant, .. } = event else {
                    tracing::error!(forum = %self.state.forum.id, "a join decided as another event; not applied");
                    return Decided::answer_only(index, Answer::AttachRefused(AttachError::Unavailable));
                };
                match self.apply_new(now, None, event, run) {
                    Ok((entry, record, event_frames)) => {
                        let answer = Answer::Welcome { actor: Actor::Participant(participant), token };
                        Decided { request: index, entry: Some((entry, record)), frames: event_frames, answer }
                    }
                    Err(err) => {
                        tracing::error!(forum = %self.state.forum.id, %err, "a join cannot be recorded");
                        Decided::answer_only(index, Answer::AttachRefused(AttachError::Unavailable))
                    }
                }
            }
            Err(err) => Decided::answer_only(index, Answer::AttachRefused(AttachError::Refused(err))),
        }
    }

    /// Chain, encode, apply and render a freshly decided event. An event
    /// that cannot be encoded is not applied: what is applied is appended.
    fn apply_new(
        &mut self,
        now: u64,
        request: Option<RequestKey>,
        event: Event,
        run: &mut RunFrames,
    ) -> Result<(Entry, Record, EventFrames), JournalError> {
        let event = self.state.stamped(event, now);
        let entry = Entry::new(self.state.head + 1, now, &self.state.head_hash, request, event)?;
        let record = entry.record();
        let hall_ballot = self.settle_hall_checks_before(&entry.event, &mut run.hall);
        self.state.apply_entry(&entry);
        self.mark_dirty(&entry.event);
        let event_frames = self.render_batch_event(&entry, hall_ballot, run);
        Ok((entry, record, event_frames))
    }

    /// The batch is persisted: publish its frames and answer everyone, in order.
    fn finish(&mut self, mut decided: Vec<Decided>, requests: &mut [BatchRequest]) {
        // A newcomer attached between two of them gets the state after the
        // whole batch, so the earlier whole state is not owed to anyone.
        drop_superseded(decided.iter_mut().map(|d| &mut d.frames));
        for Decided { request, entry, frames: event_frames, answer } in decided {
            if let Some((entry, _)) = &entry {
                self.publish_event(entry.seq, event_frames);
                self.outcomes.extend(outcome_record(&self.state.forum, entry));
            }
            match (&mut requests[request], answer) {
                (BatchRequest::Command { request_id, reply, .. }, Answer::Ack { info, duplicate }) => {
                    reply_once(reply, frames::ack(request_id.clone(), &info, duplicate));
                }
                (BatchRequest::Attach { last_seq, reply, .. }, Answer::Welcome { actor, token }) => {
                    let attached = self.attach(actor, token, *last_seq);
                    reply_once(reply, Ok(attached));
                }
                (BatchRequest::Command { reply, .. }, Answer::Refused(frame)) => reply_once(reply, frame),
                (BatchRequest::Attach { reply, .. }, Answer::AttachRefused(err)) => reply_once(reply, Err(err)),
                (BatchRequest::Tickets { token, reply }, Answer::Tickets) => {
                    let forum = &self.state.forum;
                    let book = (tokens::hash(token) == forum.moderator_token_hash).then(|| TicketBook::of(forum));
                    reply_once(reply, book);
                }
                (BatchRequest::View { audience, reply }, Answer::View) => {
                    reply_once(reply, view::forum_view(&self.state.forum, *audience, self.state.head));
                }
                // A decided answer always matches the request it was made for.
                _ => {}
            }
        }
    }
}

/// Whether a failed append may still have landed: only a store that did not
/// answer leaves that open (see `EventLog`'s errors); every other failure
/// wrote nothing.
fn append_may_have_landed(err: &StoreError) -> bool {
    matches!(err, StoreError::Unavailable(_))
}
