//! The hub: every live forum, each owned by its own single-writer task.
//!
//! The hub itself holds only routing: forum id → the forum task's request
//! channel, and join code → forum and channel. Forum state lives in the
//! forum tasks (see `forum_task`); the hub never reads or writes it.

mod clock;
mod crowd;
pub(crate) mod fanout_channel;
mod forum_task;
pub(crate) mod frames;
pub(crate) mod journal;
mod record_cache;
pub(crate) mod state;
pub(crate) mod tickets;
pub(crate) mod tokens;
pub(crate) mod view;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use madang_protocol::{
    Auth, Channel, Command, CreateForumRequest, CreateForumResponse, ErrorCode, ForumHeader, ForumView, JoinCodes,
    ServerFrame, TicketRange,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use forum_task::{AttachError, Attached, ForumHandle, Request};
pub(crate) use frames::Frame;
pub(crate) use view::Audience;

use tickets::TicketBook;

use crate::abuse::{AddressGuard, AddressLimits, AddressRefusal};
use crate::domain::{Actor, DomainError, Event, Forum, Limits, MAX_NAME_CHARS, MAX_TITLE_CHARS, clean_text};
use crate::store::{Record, Store, StoreError};
use clock::now_ms;
use forum_task::{Credential, ForumTask};
use journal::{Entry, GENESIS_HASH};
use state::ReplayError;

/// The default pacing of tally frames.
pub(crate) const DEFAULT_TALLY_INTERVAL: Duration = Duration::from_millis(100);

/// Tuning of the forum tasks.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How often changed tallies are sent.
    pub tally_interval: Duration,
    /// Events kept per forum and audience for resume, across restarts too.
    pub ring_capacity: usize,
    /// Bytes of those events' frames kept per forum and audience, at most:
    /// the oldest go first, and a client further behind gets a snapshot.
    pub ring_bytes: usize,
    /// Frames a subscriber may fall behind before it is closed as too slow.
    pub broadcast_capacity: usize,
    /// Bytes of frames a subscriber may fall behind, per audience channel
    /// (staff, public, each participants' shard), before it is closed as too
    /// slow: frames range from a hundred bytes to most of a megabyte, so the
    /// count alone would let one stalled reader pin gigabytes.
    pub fanout_bytes: usize,
    /// Whole-state updates (speaker queue, agenda, participant counts, hall
    /// check) of one kind that go out at once after a quiet spell; beyond
    /// them, one per `tally_interval`, the latest (SPEC §8.7).
    pub whole_state_burst: u32,
    /// Requests a forum task takes at once (one append, one fsync).
    pub batch_size: usize,
    /// Requests that may wait for a forum task before senders wait too.
    pub request_queue: usize,
    /// Events at least between snapshots of a forum's state (replay starts
    /// from the latest); also at least as many log bytes as the last snapshot had.
    pub snapshot_every: u64,
    /// Tally and temperature frames per second to participants, at most
    /// (displays and moderators get every tick); see `hub::crowd`.
    pub crowd_tally_frames_per_sec: u32,
    /// How large each forum may grow (ideas, agenda, polls, participants,
    /// speaker queue): what bounds the largest frame. The WebSocket write
    /// buffer (`frames::LARGEST_FRAME_BYTES`) is sized for the defaults:
    /// raising a cap can make a frame too large to send.
    pub limits: Limits,
    /// New participants and wrong credentials per address (`abuse`).
    pub addresses: AddressLimits,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            tally_interval: DEFAULT_TALLY_INTERVAL,
            ring_capacity: 4096,
            ring_bytes: 4 * 1024 * 1024,
            broadcast_capacity: 1024,
            fanout_bytes: 16 * 1024 * 1024,
            whole_state_burst: 16,
            // Large enough that a burst of ballots shares one fsync: the
            // embedded store's fsync, not deciding, bounds a forum's rate.
            batch_size: 4096,
            request_queue: 8192,
            snapshot_every: 1000,
            crowd_tally_frames_per_sec: 20_000,
            limits: Limits::default(),
            addresses: AddressLimits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HubError {
    #[error("{0}")]
    Invalid(String),
    #[error("no such forum")]
    NotFound,
    #[error("the forum is shutting down or cannot persist right now")]
    Unavailable,
    #[error("this forum's stored log is damaged; it is not served until an operator repairs it")]
    Damaged,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("forum {forum}: {source}")]
    Replay { forum: String, source: ReplayError },
}

/// Why `GET /api/join/{code}` is not answered with the code's forum.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinLookupError {
    #[error(transparent)]
    Limited(#[from] AddressRefusal),
    #[error("no forum has this join code")]
    UnknownCode,
    #[error(transparent)]
    Hub(#[from] HubError),
}

pub(crate) struct Hub {
    store: Arc<dyn Store>,
    config: Arc<HubConfig>,
    forums: DashMap<String, ForumHandle>,
    codes: DashMap<String, (String, Channel)>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// Where forum tasks run (`server::PriorityLane`); `None`: here.
    priority_lane: Option<tokio::runtime::Handle>,
    /// When forums were last listed from a shared store (unix ms).
    last_discovery: AtomicU64,
    /// One discovery at a time.
    discovery_gate: tokio::sync::Semaphore,
    /// Forums the store quarantined when it opened (damaged logs): answered
    /// as damaged rather than unknown. Fixed for the life of the hub.
    damaged: HashSet<String>,
    /// Joins and wrong credentials per address.
    addresses: Arc<AddressGuard>,
    /// Public records built lately, by forum and log head.
    records: record_cache::RecordCache,
    /// Record builds under way (each holds a whole log).
    record_builds: tokio::sync::Semaphore,
}

/// How often a node on a shared store looks for forums other nodes created.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(2);

impl Hub {
    /// Load every stored forum and start its task. A forum whose log cannot
    /// be replayed is reported and left out; the others still serve.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        config: HubConfig,
        shutdown: CancellationToken,
        tasks: TaskTracker,
        priority_lane: Option<tokio::runtime::Handle>,
    ) -> Result<Arc<Hub>, HubError> {
        let hub = Arc::new(Hub {
            store: store.clone(),
            config: Arc::new(config.clone()),
            forums: DashMap::new(),
            codes: DashMap::new(),
            shutdown,
            tasks,
            priority_lane,
            last_discovery: AtomicU64::new(0),
            discovery_gate: tokio::sync::Semaphore::new(1),
            // The store has logged each one (forum, offset, reason) as it opened.
            damaged: store.damaged_forums().into_iter().map(|d| d.forum).collect(),
            addresses: Arc::new(AddressGuard::new(&config.addresses)),
            records: record_cache::RecordCache::default(),
            record_builds: tokio::sync::Semaphore::new(record_cache::CONCURRENT_BUILDS),
        });
        for id in store.forums().await? {
            match ForumTask::load(store.clone(), &id, hub.config.clone()).await {
                Ok(task) => {
                    tracing::info!(forum = %id, title = %task.forum().title, "forum loaded");
                    hub.start(task);
                }
                Err(source) => {
                    tracing::error!(forum = %id, error = %source, "forum log cannot be replayed; not served")
                }
            }
        }
        if store.shared() {
            hub.tasks.spawn(discover_periodically(Arc::downgrade(&hub), hub.shutdown.clone()));
        }
        Ok(hub)
    }

    /// Start serving a loaded forum, unless it is already served (two
    /// discoveries may load the same forum; the first one wins).
    fn start(&self, task: ForumTask) {
        let forum = task.forum();
        let MapEntry::Vacant(slot) = self.forums.entry(forum.id.clone()) else { return };
        self.codes.insert(forum.remote_code.clone(), (forum.id.clone(), Channel::Remote));
        self.codes.insert(forum.hall_code.clone(), (forum.id.clone(), Channel::Hall));
        let (tx, rx) = mpsc::channel(self.config.request_queue);
        if self.store.shared() {
            let tail =
                forum_task::tail(self.store.clone(), forum.id.clone(), task.head(), tx.clone(), self.shutdown.clone());
            self.tasks.spawn(tail);
        }
        slot.insert(ForumHandle { requests: tx });
        let run = task.run(rx, self.shutdown.clone());
        match &self.priority_lane {
            Some(priority_lane) => self.tasks.spawn_on(run, priority_lane),
            None => self.tasks.spawn(run),
        };
    }

    /// Load forums other nodes created since we last looked (shared stores only).
    pub(crate) async fn discover(&self) -> Result<(), HubError> {
        let started = now_ms();
        for id in self.store.forums().await? {
            if self.forums.contains_key(&id) {
                continue;
            }
            match ForumTask::load(self.store.clone(), &id, self.config.clone()).await {
                Ok(task) => {
                    tracing::info!(forum = %id, "forum discovered");
                    self.start(task);
                }
                // A forum whose first records are still being written shows up on the next pass.
                Err(err) => tracing::debug!(forum = %id, %err, "forum not loadable yet"),
            }
        }
        self.last_discovery.fetch_max(started, Ordering::Relaxed);
        Ok(())
    }

    /// On a shared store, a join code we do not know may belong to a forum
    /// another node just created: look again. Concurrent misses share one
    /// discovery (the gate), so a burst of unknown codes lists forums once.
    async fn discover_on_miss(&self) {
        if !self.store.shared() {
            return;
        }
        let missed_at = now_ms();
        let Ok(_gate) = self.discovery_gate.acquire().await else { return };
        // Someone else looked after our miss while we waited: that answer is fresh enough.
        if self.last_discovery.load(Ordering::Relaxed) > missed_at {
            return;
        }
        if let Err(err) = self.discover().await {
            tracing::debug!(%err, "discovery failed");
        }
    }

    /// On a shared store, a token names its forum: load just that one if
    /// another node created it.
    async fn load_on_miss(&self, forum_id: &str) {
        if !self.store.shared() || crate::store::validate_forum_id(forum_id).is_err() {
            return;
        }
        match self.store.head(forum_id).await {
            Ok(head) if head > 0 => match ForumTask::load(self.store.clone(), forum_id, self.config.clone()).await {
                Ok(task) => {
                    tracing::info!(forum = %forum_id, "forum discovered");
                    self.start(task);
                }
                Err(err) => tracing::debug!(forum = %forum_id, %err, "forum not loadable yet"),
            },
            Ok(_) => {}
            Err(err) => tracing::debug!(forum = %forum_id, %err, "cannot look up forum"),
        }
    }

    fn lookup(&self, forum_id: &str) -> Option<ForumHandle> {
        self.forums.get(forum_id).map(|h| h.value().clone())
    }

    fn lookup_code(&self, code: &str) -> Option<(String, Channel)> {
        self.codes.get(code).map(|e| e.value().clone())
    }

    /// Why the store cannot serve right now, if it cannot.
    pub(crate) fn degraded(&self) -> Option<String> {
        self.store.degraded()
    }

    pub(crate) fn forum_count(&self) -> usize {
        self.forums.len()
    }

    /// How many forums are quarantined because their stored log is damaged.
    pub(crate) fn damaged_count(&self) -> usize {
        self.damaged.len()
    }

    /// Reserve a fresh join code for `forum_id`.
    fn reserve_code(&self, forum_id: &str, channel: Channel) -> String {
        loop {
            let code = tokens::join_code();
            if let MapEntry::Vacant(slot) = self.codes.entry(code.clone()) {
                slot.insert((forum_id.to_string(), channel));
                return code;
            }
        }
    }

    /// Create a forum: its first events are persisted before it is announced.
    pub(crate) async fn create_forum(&self, request: CreateForumRequest) -> Result<CreateForumResponse, HubError> {
        let id = loop {
            let id = tokens::forum_id();
            if !self.forums.contains_key(&id) && !self.damaged.contains(&id) {
                break id;
            }
        };
        let remote = self.reserve_code(&id, Channel::Remote);
        let hall = self.reserve_code(&id, Channel::Hall);
        let (moderator_token, display_token) = (tokens::generate(&id), tokens::generate(&id));
        let created = self.persist_new_forum(&id, request, &remote, &hall, &moderator_token, &display_token).await;
        match created {
            Ok(task) => {
                self.start(task);
                tracing::info!(forum = %id, "forum created");
                Ok(CreateForumResponse { id, join_codes: JoinCodes { remote, hall }, moderator_token, display_token })
            }
            Err(err) => {
                self.codes.remove(&remote);
                self.codes.remove(&hall);
                Err(err)
            }
        }
    }

    async fn persist_new_forum(
        &self,
        id: &str,
        request: CreateForumRequest,
        remote: &str,
        hall: &str,
        moderator_token: &str,
        display_token: &str,
    ) -> Result<ForumTask, HubError> {
        let invalid = |e: DomainError| HubError::Invalid(e.to_string());
        let language = request.language.unwrap_or_else(|| "ko".into());
        if language.is_empty()
            || language.len() > 35
            || !language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(HubError::Invalid("language must be a language tag such as `ko` or `en`".into()));
        }
        let max_agenda = self.config.limits.agenda_items;
        if request.agenda.len() > max_agenda {
            return Err(HubError::Invalid(format!("an agenda holds at most {max_agenda} items")));
        }
        let created = Event::ForumCreated {
            id: id.to_string(),
            title: clean_text("title", &request.title, MAX_TITLE_CHARS).map_err(invalid)?,
            language,
            remote_code: remote.to_string(),
            hall_code: hall.to_string(),
            moderator_token_hash: tokens::hash(moderator_token),
            display_token_hash: tokens::hash(display_token),
            eligibility: request.eligibility.unwrap_or_default(),
            receipt_key: Some(hex::encode(rand::random::<[u8; 32]>())),
        };
        // Agenda items go through the same rules as `add_item` commands.
        let mut forum = Forum::from_created(&created).ok_or(HubError::Unavailable)?;
        let mut events = vec![created];
        for item in request.agenda {
            let command =
                Command::AddItem { title: item.title, description: item.description, timebox_secs: item.timebox_secs };
            let event = forum.decide(Actor::Moderator, &command, 0, &self.config.limits).map_err(invalid)?;
            forum.apply(&event);
            events.push(event);
        }
        let now = now_ms();
        let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
        for event in events {
            let prev = entries.last().map_or(GENESIS_HASH.to_string(), |e| e.hash.clone());
            let entry = Entry::new(entries.len() as u64 + 1, now, &prev, None, event);
            entries.push(entry.map_err(|err| HubError::Replay { forum: id.to_string(), source: err.into() })?);
        }
        let records: Vec<Record> = entries.iter().map(Entry::record).collect();
        self.store.append(id, &records).await?;
        ForumTask::created(self.store.clone(), &entries, self.config.clone())
            .map_err(|source| HubError::Replay { forum: id.to_string(), source })
    }

    /// The per-address limits' state, which the server sweeps.
    pub(crate) fn addresses(&self) -> Arc<AddressGuard> {
        self.addresses.clone()
    }

    /// Find the forum an `auth` frame from `peer` is for, and attach to it;
    /// the forum's id, its handle and the attached connection.
    ///
    /// A locked-out address is refused before its credential is looked at;
    /// a wrong token or an unknown join code counts towards locking it out;
    /// a new participant counts towards the address's joins, before anything
    /// is persisted. A known code with a participant token the forum refuses
    /// is not counted: it is a phone coming back with a token of another or
    /// an older forum, which drops the token and joins again (SPEC §4).
    pub(crate) async fn attach(
        &self,
        auth: Auth,
        peer: IpAddr,
    ) -> Result<(String, ForumHandle, Attached), AttachError> {
        self.addresses.check_locked_out(peer).map_err(AttachError::Limited)?;
        // A refused token or ticket is a wrong credential (an unknown join
        // code is counted where it is looked up).
        let by_secret = auth.join_code.is_none() || (auth.ticket.is_some() && auth.participant_token.is_none());
        let attached = self.attach_from(auth, peer).await;
        if by_secret && matches!(attached, Err(AttachError::Unauthorized)) {
            self.addresses.failed(peer);
        }
        attached
    }

    async fn attach_from(&self, auth: Auth, peer: IpAddr) -> Result<(String, ForumHandle, Attached), AttachError> {
        let (forum_id, credential) = match (auth.token, auth.join_code) {
            (Some(token), None) => {
                let forum = tokens::forum_of(&token).ok_or(AttachError::Unauthorized)?.to_string();
                (forum, Credential::Token(token))
            }
            (None, Some(code)) => {
                let code = code.trim().to_ascii_uppercase();
                if self.lookup_code(&code).is_none() {
                    self.discover_on_miss().await;
                }
                let Some((forum, channel)) = self.lookup_code(&code) else {
                    self.addresses.failed(peer);
                    return Err(AttachError::Unauthorized);
                };
                if auth.name.as_deref().is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
                    return Err(AttachError::Refused(DomainError::Invalid(format!(
                        "name is longer than {MAX_NAME_CHARS} characters"
                    ))));
                }
                if auth.participant_token.is_none() {
                    self.addresses.join(peer).map_err(AttachError::Limited)?;
                }
                let credential = Credential::Join {
                    channel,
                    name: auth.name,
                    participant_token: auth.participant_token,
                    ticket: auth.ticket,
                };
                (forum, credential)
            }
            _ => return Err(AttachError::Unauthorized),
        };
        if self.damaged.contains(&forum_id) {
            return Err(AttachError::Damaged);
        }
        if self.lookup(&forum_id).is_none() {
            self.load_on_miss(&forum_id).await;
        }
        let handle = self.lookup(&forum_id).ok_or(AttachError::Unauthorized)?;
        let (reply, answer) = oneshot::channel();
        let request = Request::Attach { credential, last_seq: auth.last_seq, reply };
        handle.requests.send(request).await.map_err(|_| AttachError::Unavailable)?;
        let attached = answer.await.map_err(|_| AttachError::Unavailable)??;
        Ok((forum_id, handle, attached))
    }

    /// The forum a join code belongs to, as a join page shows it before
    /// joining: its public header and the code's channel.
    ///
    /// The answer tells whether a code exists, so it is limited as `auth` is:
    /// a locked-out address is refused before the code is looked at, and an
    /// unknown code counts as a wrong credential of the address.
    pub(crate) async fn join_lookup(
        &self,
        code: &str,
        peer: IpAddr,
    ) -> Result<(ForumHeader, Channel), JoinLookupError> {
        self.addresses.check_locked_out(peer)?;
        let code = code.trim().to_ascii_uppercase();
        if self.lookup_code(&code).is_none() {
            self.discover_on_miss().await;
        }
        let Some((forum, channel)) = self.lookup_code(&code) else {
            self.addresses.failed(peer);
            return Err(JoinLookupError::UnknownCode);
        };
        let view = self.view(&forum, Audience::Public).await?;
        Ok((view.forum, channel))
    }

    /// The ids of the forums this node serves, sorted.
    pub(crate) fn forum_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.forums.iter().map(|f| f.key().clone()).collect();
        ids.sort();
        ids
    }

    /// The forum as `audience` sees it, for HTTP.
    pub(crate) async fn view(&self, forum_id: &str, audience: Audience) -> Result<ForumView, HubError> {
        let handle = self.serving(forum_id).await?;
        let (reply, answer) = oneshot::channel();
        handle.requests.send(Request::View { audience, reply }).await.map_err(|_| HubError::Unavailable)?;
        answer.await.map_err(|_| HubError::Unavailable)
    }

    /// The task of a forum this node serves, loaded if needed.
    async fn serving(&self, forum_id: &str) -> Result<ForumHandle, HubError> {
        if self.damaged.contains(forum_id) {
            return Err(HubError::Damaged);
        }
        if self.lookup(forum_id).is_none() {
            self.load_on_miss(forum_id).await;
        }
        self.lookup(forum_id).ok_or(HubError::NotFound)
    }

    /// A forum's tickets, for the holder of its moderator token; `None` for any other token.
    pub(crate) async fn ticket_book(&self, forum_id: &str, token: &str) -> Result<Option<TicketBook>, HubError> {
        let handle = self.serving(forum_id).await?;
        let (reply, answer) = oneshot::channel();
        let request = Request::Tickets { token: token.to_string(), reply };
        handle.requests.send(request).await.map_err(|_| HubError::Unavailable)?;
        answer.await.map_err(|_| HubError::Unavailable)
    }

    /// Issue tickets as the forum's moderator (the command `issue_tickets`,
    /// for an organizer's own tooling over HTTP): the tickets issued and
    /// the forum's tickets after it; `None` for a token that is not the
    /// moderator's.
    pub(crate) async fn issue_tickets(
        &self,
        forum_id: &str,
        token: &str,
        channel: Channel,
        count: u32,
    ) -> Result<Option<(TicketRange, TicketBook)>, HubError> {
        if self.ticket_book(forum_id, token).await?.is_none() {
            return Ok(None);
        }
        let handle = self.serving(forum_id).await?;
        let (reply, answer) = oneshot::channel();
        let request_id = format!("http-tickets-{}", hex::encode(rand::random::<[u8; 8]>()));
        let command = Command::IssueTickets { channel, count };
        let request = Request::Command { actor: Actor::Moderator, request_id, command, reply };
        handle.requests.send(request).await.map_err(|_| HubError::Unavailable)?;
        let range = match answer.await.map_err(|_| HubError::Unavailable)? {
            ServerFrame::Ack { tickets: Some(range), .. } => range,
            ServerFrame::Error { code: ErrorCode::Unavailable | ErrorCode::Internal, .. } => {
                return Err(HubError::Unavailable);
            }
            ServerFrame::Error { message, .. } => return Err(HubError::Invalid(message)),
            _ => return Err(HubError::Unavailable),
        };
        let book = self.ticket_book(forum_id, token).await?.ok_or(HubError::Unavailable)?;
        Ok(Some((range, book)))
    }

    /// The forum's public record (`protocol/RECORD.md`) as it stands: the
    /// log read from the store and replayed off the forum task, through the
    /// same code the task runs, keeping the lines; cached by the log's head.
    pub(crate) async fn record(&self, forum_id: &str) -> Result<bytes::Bytes, HubError> {
        self.serving(forum_id).await?;
        let head = self.store.head(forum_id).await?;
        if let Some(record) = self.records.get(forum_id, head) {
            return Ok(record);
        }
        let _build = self.record_builds.acquire().await.map_err(|_| HubError::Unavailable)?;
        // Another request may have built it while this one waited.
        if let Some(record) = self.records.get(forum_id, head) {
            return Ok(record);
        }
        let records = self.store.read_after(forum_id, 0).await?;
        let built_head = records.last().map_or(0, |r| r.seq);
        let built = tokio::task::spawn_blocking(move || state::ForumState::record_of(&records))
            .await
            .map_err(|_| HubError::Unavailable)?
            .map_err(|source| HubError::Replay { forum: forum_id.to_string(), source })?;
        let record = bytes::Bytes::from(built);
        self.records.put(forum_id, built_head, record.clone());
        Ok(record)
    }
}

async fn discover_periodically(hub: Weak<Hub>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(DISCOVERY_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(hub) = hub.upgrade() else { return };
        if let Err(err) = hub.discover().await {
            tracing::debug!(%err, "discovery failed; will retry");
        }
    }
}
