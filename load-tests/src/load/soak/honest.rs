//! The honest side of a soak: one live forum with five open polls (one per
//! ballot kind), voters at a steady rate who reconnect now and then, people
//! who submit ideas and raise and lower their hands, newcomers joining,
//! listeners, projector displays and a moderator console editing the agenda.
//!
//! Why it counts what it counts: a ballot replaces the person's earlier one,
//! so after the run each poll's tally must hold at least one ballot per voter
//! who got an ack in it (nothing acked lost) and at most one per voter who
//! sent one there (nothing invented: a ballot whose connection was cut before
//! its ack may have landed, its outcome unknown to the voter). The displays'
//! last tallies are compared with that. Any error frame or lost connection on an honest client is an
//! honest error: with the default limits and these rates there should be none.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::{Shared, SoakArgs, honest_ip};
use crate::dial::{self, Ws};
use crate::roles::splitmix64;
use crate::wire::{self, Inbound, Target};

/// People who submit ideas; each stays within the 20 ideas a person may submit.
const IDEATORS: usize = 10;
/// People who raise and lower their hands.
const HAND_RAISERS: usize = 20;
/// The ballot kinds, one open poll each (the first `--polls` of them).
const KINDS: [&str; 5] = ["yes_no", "approval", "dots", "score", "ranked"];

/// The forum under soak and how to get in.
pub(crate) struct SoakForum {
    pub(crate) remote_code: String,
    display_token: String,
    /// (poll id, ballot kind), one per entry of [`KINDS`].
    polls: Vec<(u64, &'static str)>,
    tokens: Vec<String>,
    moderator: tokio::sync::Mutex<Option<Ws>>,
}

/// The final tallies against the acks.
pub(crate) struct TallyCheck {
    pub(crate) ok: bool,
    pub(crate) lines: Vec<String>,
}

/// A connection from honest address `index`, WebSocket handshake done.
async fn connect(shared: &Shared, index: usize) -> Result<Ws> {
    let stream = dial::tcp(shared.server, honest_ip(index), false).await?;
    dial::handshake(stream, shared.server, Target::Madang, None).await
}

/// Log in and wait (30 s at most) for the welcome; its `participant.token` when there is one.
async fn login(ws: &mut Ws, auth: Value) -> Result<Option<String>> {
    ws.send(Message::text(auth.to_string())).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no welcome in 30 s"))?;
        match message {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text)?;
                match frame["type"].as_str() {
                    Some("welcome") => {
                        return Ok(frame.pointer("/participant/token").and_then(Value::as_str).map(str::to_owned));
                    }
                    Some("error") => bail!("login refused: {}", frame["code"]),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(close))) => bail!("closed before welcome: {:?}", close.map(|c| u16::from(c.code))),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => bail!("ended before welcome"),
        }
    }
}

/// Send a command and wait (30 s at most) for its answer; an `error` is returned as `Err`.
async fn request(ws: &mut Ws, frame: Value) -> Result<Value> {
    let id = frame["id"].as_str().unwrap_or_default().to_owned();
    ws.send(Message::text(frame.to_string())).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| anyhow!("no answer to {id}"))?;
        match message {
            Some(Ok(Message::Text(text))) => {
                let answer: Value = serde_json::from_str(&text)?;
                if answer["id"].as_str() == Some(&id) {
                    if answer["type"] == "ack" {
                        return Ok(answer);
                    }
                    bail!("{} refused: {}", frame["type"], answer["code"]);
                }
            }
            Some(Ok(Message::Close(close))) => bail!("closed: {:?}", close.map(|c| u16::from(c.code))),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => bail!("connection ended"),
        }
    }
}

/// Create the forum, start it, open one poll per ballot kind, and register the people.
pub(crate) async fn setup(shared: &Arc<Shared>, args: &SoakArgs) -> Result<SoakForum> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let body = json!({"title": "Soak", "language": "en",
        "agenda": [{"title": "Opening"}, {"title": "Budget"}, {"title": "Next steps"}]});
    let response = http
        .post(format!("http://{}/api/forums", args.server))
        .bearer_auth(&args.admin_token)
        .json(&body)
        .send()
        .await
        .context("creating the forum")?;
    let status = response.status();
    let created: Value = response.json().await?;
    if !status.is_success() {
        bail!("creating the forum: {status}: {created}");
    }
    let field = |pointer: &str| created.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let moderator_token = field("/moderator_token");
    let mut moderator = connect(shared, 0).await?;
    login(&mut moderator, json!({"type": "auth", "token": moderator_token})).await?;
    request(&mut moderator, json!({"type": "start_forum", "id": "s1"})).await?;
    request(&mut moderator, json!({"type": "activate_item", "id": "s2", "item": 1})).await?;
    let labels = json!({"from": "fixed", "labels": ["Library", "Playground", "Bike lanes", "Market"]});
    let mut polls = Vec::new();
    for (n, kind) in KINDS.into_iter().take(args.polls.clamp(1, KINDS.len())).enumerate() {
        let (method, options) = match kind {
            "yes_no" => (json!({"kind": "yes_no", "rule": "simple"}), json!({"from": "none"})),
            "approval" => (json!({"kind": "approval", "max_choices": 2}), labels.clone()),
            "dots" => (json!({"kind": "dots", "budget": 5, "max_per_option": 3}), labels.clone()),
            "score" => (json!({"kind": "score"}), labels.clone()),
            _ => (json!({"kind": "ranked", "max_ranks": 3, "tally": "schulze"}), labels.clone()),
        };
        let create = json!({"type": "create_poll", "id": format!("c{n}"), "title": format!("Poll {kind}"),
            "method": method, "options": options, "results": "live"});
        let poll = request(&mut moderator, create).await?["poll"].as_u64().context("create_poll ack without poll")?;
        request(&mut moderator, json!({"type": "open_poll", "id": format!("o{n}"), "poll": poll})).await?;
        polls.push((poll, kind));
    }
    let people = voters(args) + IDEATORS + HAND_RAISERS + args.idle;
    let permits = Arc::new(Semaphore::new(64));
    let mut joins = JoinSet::new();
    for person in 0..people {
        let (permits, shared, code) = (permits.clone(), shared.clone(), field("/join_codes/remote"));
        joins.spawn(async move {
            let _permit = permits.acquire().await;
            let mut ws = connect(&shared, person).await?;
            let token =
                login(&mut ws, json!({"type": "auth", "join_code": code, "name": format!("p{person}")})).await?;
            let _ = ws.close(None).await;
            Ok::<_, anyhow::Error>((person, token.context("no participant token")?))
        });
    }
    let mut tokens = vec![String::new(); people];
    while let Some(joined) = joins.join_next().await {
        let (person, token) = joined??;
        tokens[person] = token;
    }
    Ok(SoakForum {
        remote_code: field("/join_codes/remote"),
        display_token: field("/display_token"),
        polls,
        tokens,
        moderator: tokio::sync::Mutex::new(Some(moderator)),
    })
}

fn voters(args: &SoakArgs) -> usize {
    (args.ballot_rate / args.per_voter_rate).ceil().max(1.0) as usize
}

/// A random ballot of `kind`, as the frame of request `id`.
fn ballot(id: u64, poll: u64, kind: &str, random: u64) -> String {
    let option = |shift: u32| (random >> shift) % 4 + 1;
    let ballot = match kind {
        "yes_no" => {
            let choice = ["yes", "no", "abstain"][(random % 3) as usize];
            json!({"kind": "yes_no", "choice": choice})
        }
        "approval" => {
            let (a, b) = (option(0), option(8));
            if a == b {
                json!({"kind": "approval", "options": [a]})
            } else {
                json!({"kind": "approval", "options": [a, b]})
            }
        }
        "dots" => {
            let (a, b) = (option(0), option(8));
            if a == b {
                json!({"kind": "dots", "allocations": [{"option": a, "dots": 3}]})
            } else {
                json!({"kind": "dots", "allocations": [{"option": a, "dots": 3}, {"option": b, "dots": 2}]})
            }
        }
        "score" => {
            json!({"kind": "score", "scores": (1..=4).map(|o| json!({"option": o, "score": (random >> (o * 4)) % 6})).collect::<Vec<_>>()})
        }
        _ => {
            let first = option(0);
            let rest: Vec<u64> = (1..=4).filter(|&o| o != first).take(2).collect();
            json!({"kind": "ranked", "ranking": [first, rest[0], rest[1]]})
        }
    };
    json!({"type": "cast_ballot", "id": id.to_string(), "poll": poll, "ballot": ballot}).to_string()
}

/// The honest tasks while they run.
pub(crate) struct Honest {
    voters: JoinSet<Voted>,
    others: JoinSet<()>,
    displays: JoinSet<()>,
    /// The displays' latest `ballots` per poll.
    tallies: watch::Receiver<HashMap<u64, u64>>,
    displays_done: watch::Sender<bool>,
    polls: Vec<(u64, &'static str)>,
}

pub(crate) fn start(shared: Arc<Shared>, args: &SoakArgs, forum: &Arc<SoakForum>, duration: Duration) -> Honest {
    let (tallies_tx, tallies) = watch::channel(HashMap::new());
    let tallies_tx = Arc::new(tallies_tx);
    let (displays_done, displays_done_rx) = watch::channel(false);
    let mut displays = JoinSet::new();
    for d in 0..args.displays {
        displays.spawn(display(shared.clone(), forum.clone(), d, tallies_tx.clone(), displays_done_rx.clone()));
    }
    let mut voter_tasks = JoinSet::new();
    let count = voters(args);
    let rate = args.ballot_rate / count as f64;
    for v in 0..count {
        voter_tasks.spawn(voter(shared.clone(), forum.clone(), v, rate));
    }
    let mut others = JoinSet::new();
    others.spawn(moderator(shared.clone(), forum.clone()));
    let first_ideator = count;
    for i in 0..IDEATORS {
        // Each ideator's 20 ideas spread over the run.
        let every = duration.div_f64(21.0);
        others.spawn(participant_actor(shared.clone(), forum.clone(), first_ideator + i, Activity::Ideas, every));
    }
    for h in 0..HAND_RAISERS {
        let person = first_ideator + IDEATORS + h;
        others.spawn(participant_actor(shared.clone(), forum.clone(), person, Activity::Hands, Duration::from_secs(3)));
    }
    for i in 0..args.idle {
        others.spawn(listener(shared.clone(), forum.clone(), first_ideator + IDEATORS + HAND_RAISERS + i));
    }
    others.spawn(newcomers(shared.clone(), forum.clone()));
    Honest { voters: voter_tasks, others, displays, tallies, displays_done, polls: forum.polls.clone() }
}

impl Honest {
    /// After the stop: wait for the voters' last acks, then until the displays'
    /// tallies hold one ballot per voter who got an ack in each poll (30 s at most).
    pub(crate) async fn finish(mut self) -> TallyCheck {
        let (mut acked, mut sent) = (vec![0u64; self.polls.len()], vec![0u64; self.polls.len()]);
        while let Some(voted) = self.voters.join_next().await {
            let voted = voted.unwrap_or_default();
            for (n, (a, s)) in voted.acked.into_iter().zip(voted.sent).enumerate() {
                acked[n] += u64::from(a);
                sent[n] += u64::from(s);
            }
        }
        while self.others.join_next().await.is_some() {}
        let bounds: HashMap<u64, (u64, u64)> =
            self.polls.iter().enumerate().map(|(n, (poll, _))| (*poll, (acked[n], sent[n]))).collect();
        let settled = tokio::time::timeout(
            Duration::from_secs(30),
            self.tallies.wait_for(|seen| {
                bounds.iter().all(|(poll, (low, high))| seen.get(poll).is_some_and(|n| low <= n && n <= high))
            }),
        )
        .await
        .is_ok_and(|settled| settled.is_ok());
        let seen = self.tallies.borrow().clone();
        let _ = self.displays_done.send(true);
        while self.displays.join_next().await.is_some() {}
        let lines = self
            .polls
            .iter()
            .enumerate()
            .map(|(n, (poll, kind))| {
                let shows = seen.get(poll).copied().unwrap_or(0);
                format!("poll {poll} ({kind}): {} voters acked, {} sent, tally shows {shows}", acked[n], sent[n])
            })
            .collect();
        TallyCheck { ok: settled, lines }
    }
}

/// One voter: ballots at `rate` a second, each in a poll drawn at random, reconnecting
/// (with its token and `last_seq`) every 1–5 minutes once its ballots in flight are acked.
async fn voter(shared: Arc<Shared>, forum: Arc<SoakForum>, index: usize, rate: f64) -> Voted {
    let mut voted = Voted { acked: vec![false; forum.polls.len()], sent: vec![false; forum.polls.len()] };
    let mut random = splitmix64(index as u64 + 1);
    let mut next_id = 1u64;
    let mut last_seq = None;
    // Spread the first ballots over one period, so the crowd does not tick in step.
    let period = Duration::from_secs_f64(1.0 / rate);
    tokio::time::sleep(period.mul_f64((random % 1000) as f64 / 1000.0)).await;
    while !shared.stopped() {
        let mut ws = match connect(&shared, index).await {
            Ok(ws) => ws,
            Err(error) => {
                shared.honest_error(format!("voter connect: {error:#}"));
                return voted;
            }
        };
        let mut auth = json!({"type": "auth", "token": forum.tokens[index]});
        if let Some(seq) = last_seq {
            auth["last_seq"] = json!(seq);
        }
        if let Err(error) = login(&mut ws, auth).await {
            shared.honest_error(format!("voter login: {error:#}"));
            return voted;
        }
        random = splitmix64(random);
        let lifetime = Duration::from_secs(60 + random % 241);
        let reconnect_at = Instant::now() + lifetime;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight: HashMap<u64, (Instant, usize)> = HashMap::new();
        let mut sending = true;
        loop {
            if !sending && in_flight.is_empty() {
                break;
            }
            tokio::select! {
                _ = ticker.tick(), if sending => {
                    if shared.stopped() || Instant::now() >= reconnect_at {
                        sending = false;
                        continue;
                    }
                    if in_flight.len() >= 32 {
                        continue;
                    }
                    random = splitmix64(random);
                    let n = (random % forum.polls.len() as u64) as usize;
                    let (poll, kind) = forum.polls[n];
                    let id = next_id;
                    next_id += 1;
                    in_flight.insert(id, (Instant::now(), n));
                    voted.sent[n] = true;
                    if let Err(error) = ws.send(Message::text(ballot(id, poll, kind, random >> 8))).await {
                        shared.honest_error(format!("voter send: {error}"));
                        return voted;
                    }
                }
                message = tokio::time::timeout(Duration::from_secs(30), ws.next()) => {
                    let text = match message {
                        Ok(Some(Ok(Message::Text(text)))) => text,
                        Ok(Some(Ok(Message::Close(close)))) => {
                            shared.honest_error(format!("voter closed: {:?}", close.map(|c| u16::from(c.code))));
                            return voted;
                        }
                        Ok(Some(Ok(_))) => continue,
                        Ok(Some(Err(error))) => {
                            shared.honest_error(format!("voter read: {error}"));
                            return voted;
                        }
                        Ok(None) => {
                            shared.honest_error("voter: connection ended");
                            return voted;
                        }
                        Err(_) => {
                            shared.honest_error(format!("voter: no frame in 30 s, {} in flight", in_flight.len()));
                            return voted;
                        }
                    };
                    match wire::parse(Target::Madang, &text) {
                        Inbound::Ack { id, .. } => {
                            if let Some((sent, n)) = in_flight.remove(&id) {
                                shared.record_ack_latency(sent.elapsed().as_micros() as u64);
                                voted.acked[n] = true;
                            }
                        }
                        Inbound::Error { id, code } => {
                            if let Some(id) = id {
                                in_flight.remove(&id);
                            }
                            shared.honest_error(format!("voter error frame: {code}"));
                        }
                        Inbound::Event { seq, .. } => last_seq = Some(last_seq.unwrap_or(0).max(seq)),
                        _ => {}
                    }
                }
            }
        }
        let _ = ws.close(None).await;
        if !shared.stopped() {
            shared.reconnects.fetch_add(1, Relaxed);
        }
    }
    voted
}

/// Per poll: whether one of a voter's ballots there was acked, and whether one was sent.
#[derive(Default)]
struct Voted {
    acked: Vec<bool>,
    sent: Vec<bool>,
}

/// A projector display: reads everything, keeps the latest `ballots` of each poll's tally.
async fn display(
    shared: Arc<Shared>,
    forum: Arc<SoakForum>,
    index: usize,
    tallies: Arc<watch::Sender<HashMap<u64, u64>>>,
    mut done: watch::Receiver<bool>,
) {
    let mut ws = match connect(&shared, index).await {
        Ok(ws) => ws,
        Err(error) => return shared.honest_error(format!("display connect: {error:#}")),
    };
    if let Err(error) = login(&mut ws, json!({"type": "auth", "token": forum.display_token})).await {
        return shared.honest_error(format!("display login: {error:#}"));
    }
    loop {
        tokio::select! {
            _ = done.wait_for(|done| *done) => break,
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if text.starts_with(r#"{"type":"tally""#) {
                        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                        if let (Some(poll), Some(ballots)) =
                            (frame.pointer("/tally/poll").and_then(Value::as_u64), frame.pointer("/tally/ballots").and_then(Value::as_u64))
                            && index == 0
                        {
                            tallies.send_modify(|seen| {
                                seen.insert(poll, ballots);
                            });
                        }
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    return shared.honest_error(format!("display closed: {:?}", close.map(|c| u16::from(c.code))));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return shared.honest_error(format!("display read: {error}")),
                None => return shared.honest_error("display: connection ended"),
            },
        }
    }
    let _ = ws.close(None).await;
}

/// The moderator console: edits the pending item's title once a second.
async fn moderator(shared: Arc<Shared>, forum: Arc<SoakForum>) {
    let Some(mut ws) = forum.moderator.lock().await.take() else { return };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = shared.until_stop() => break,
            _ = ticker.tick() => {
                n += 1;
                let edit = json!({"type": "edit_item", "id": format!("e{n}"), "item": 2, "title": format!("Budget, version {n}")});
                match request(&mut ws, edit).await {
                    Ok(_) => {
                        shared.other_acks.fetch_add(1, Relaxed);
                    }
                    Err(error) => return shared.honest_error(format!("moderator: {error:#}")),
                }
            }
        }
    }
    let _ = ws.close(None).await;
}

#[derive(Clone, Copy)]
enum Activity {
    /// Submit an idea each period (at most 20).
    Ideas,
    /// Raise the hand, then lower it, one command each period.
    Hands,
}

/// A participant who submits ideas or raises and lowers a hand, one command per `every`.
async fn participant_actor(
    shared: Arc<Shared>,
    forum: Arc<SoakForum>,
    person: usize,
    activity: Activity,
    every: Duration,
) {
    let mut ws = match connect(&shared, person).await {
        Ok(ws) => ws,
        Err(error) => return shared.honest_error(format!("participant connect: {error:#}")),
    };
    if let Err(error) = login(&mut ws, json!({"type": "auth", "token": forum.tokens[person]})).await {
        return shared.honest_error(format!("participant login: {error:#}"));
    }
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = shared.until_stop() => break,
            _ = ticker.tick() => {
                n += 1;
                let command = match activity {
                    Activity::Ideas if n > 20 => continue,
                    Activity::Ideas => json!({"type": "submit_idea", "id": n.to_string(), "text": format!("Idea {n} from {person}: more benches by the river")}),
                    Activity::Hands if n % 2 == 1 => json!({"type": "raise_hand", "id": n.to_string()}),
                    Activity::Hands => json!({"type": "lower_hand", "id": n.to_string()}),
                };
                match request(&mut ws, command).await {
                    Ok(_) => {
                        shared.other_acks.fetch_add(1, Relaxed);
                    }
                    Err(error) => return shared.honest_error(format!("participant: {error:#}")),
                }
            }
            // Frames between commands (events, tallies) are read and dropped.
            message = ws.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return shared.honest_error("participant: connection ended"),
                _ => {}
            },
        }
    }
    let _ = ws.close(None).await;
}

/// A participant who only listens.
async fn listener(shared: Arc<Shared>, forum: Arc<SoakForum>, person: usize) {
    let mut ws = match connect(&shared, person).await {
        Ok(ws) => ws,
        Err(error) => return shared.honest_error(format!("listener connect: {error:#}")),
    };
    if let Err(error) = login(&mut ws, json!({"type": "auth", "token": forum.tokens[person]})).await {
        return shared.honest_error(format!("listener login: {error:#}"));
    }
    loop {
        tokio::select! {
            _ = shared.until_stop() => break,
            message = ws.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return shared.honest_error("listener: connection ended"),
                _ => {}
            },
        }
    }
    let _ = ws.close(None).await;
}

/// A newcomer joins with the join code every 2 s (from the honest addresses in turn) and leaves.
async fn newcomers(shared: Arc<Shared>, forum: Arc<SoakForum>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    let mut n = 0usize;
    loop {
        tokio::select! {
            _ = shared.until_stop() => break,
            _ = ticker.tick() => {
                n += 1;
                let joined = async {
                    let mut ws = connect(&shared, n).await?;
                    login(&mut ws, json!({"type": "auth", "join_code": forum.remote_code, "name": format!("new{n}")})).await?;
                    let _ = ws.close(None).await;
                    Ok::<_, anyhow::Error>(())
                };
                match joined.await {
                    Ok(()) => {
                        shared.other_acks.fetch_add(1, Relaxed);
                    }
                    Err(error) => shared.honest_error(format!("newcomer: {error:#}")),
                }
            }
        }
    }
}
