//! `scenario`: one whole forum, end to end, checked at every step.
//!
//! Why: it is the smallest run that touches every moving part of the server
//! (HTTP creation, the three roles, moderation, merging, a ranked poll with
//! live tallies, ballot replacement, closing with an outcome), so it serves
//! as a smoke test of a deployment.
//! Every wait is bounded by `--timeout`, the whole run by `--deadline`; any
//! refusal, unexpected frame or timeout ends the run with a non-zero exit.
//!
//! The final Borda tally is recomputed here from the ballots the scenario
//! cast and compared with the server's outcome.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Display;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use futures_util::future::{join_all, try_join_all};
use madang_protocol::{
    Auth, Ballot, Channel, Command, CreateForumRequest, IdeaId, IdeaStatus, ItemId, OptionId, Outcome, PollId,
    PollMethod, PollOptionsSpec, PollStatus, PollView, RankedTally, ResultsVisibility, Role, ServerFrame, TallyResult,
    Update,
};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::ServerArgs;
use crate::client::{Ack, Client, ConnectOptions, Incoming, Welcome};
use crate::http::{create_forum, item, ws_url};
use crate::rng::Rng;

/// `scenario`: run a forum with a moderator, a display and some participants.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The server's admin token.
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// Participants joining with the remote code.
    #[arg(long, default_value_t = 2)]
    pub remote: u32,
    /// Participants joining with the hall code.
    #[arg(long, default_value_t = 1)]
    pub hall: u32,
    /// Seed for the ballots' rankings.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds the whole run may take.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub deadline: f64,
}

/// Run the scenario; print a summary and the outcome as JSON on stdout.
pub async fn run(args: ScenarioArgs) -> Result<()> {
    let total = args.remote + args.hall;
    // One idea each, one merged away, and a ranked poll needs two options.
    ensure!(total >= 3, "the scenario needs at least 3 participants (--remote + --hall)");
    let deadline = Duration::try_from_secs_f64(args.deadline).context("--deadline")?;
    let started = Instant::now();
    let report = tokio::time::timeout(deadline, scenario(&args))
        .await
        .map_err(|_| anyhow!("scenario: the run did not finish within its deadline of {deadline:?}"))?
        .context("scenario failed")?;
    report.print(started.elapsed())
}

/// What the run found, for the summary.
struct Report {
    forum_id: String,
    remote: u32,
    hall: u32,
    ideas: Vec<IdeaId>,
    merged: (IdeaId, IdeaId),
    poll: PollView,
    ballots_cast: usize,
    tally_frames: u64,
    tally_checked: bool,
    outcome: Outcome,
}

impl Report {
    fn print(&self, elapsed: Duration) -> Result<()> {
        let (gone, into) = self.merged;
        let ids: Vec<String> = self.ideas.iter().map(|i| format!("#{i}")).collect();
        println!();
        println!("forum         {}", self.forum_id);
        println!("participants  {} remote + {} hall", self.remote, self.hall);
        println!("ideas         {} submitted and approved, #{gone} merged into #{into}", ids.join(" "));
        println!(
            "poll          #{} {:?}, ranked (Borda), {} options",
            self.poll.id,
            self.poll.title,
            self.poll.options.len()
        );
        println!("ballots       {} cast, 1 replaced", self.ballots_cast);
        println!("display       {} tally frames", self.tally_frames);
        let labels: Vec<String> = self
            .outcome
            .tally
            .result
            .winners()
            .iter()
            .map(|w| match self.poll.options.iter().find(|o| o.id == *w) {
                Some(o) => format!("option {} ({:?})", w, o.label),
                None => format!("option {w}"),
            })
            .collect();
        println!("winner(s)     {}", labels.join(", "));
        let check = if self.tally_checked { "matches" } else { "NOT compared (the poll lists merged options)" };
        println!(
            "tally         {} ballots; Borda recomputed from the ballots cast {check}",
            self.outcome.tally.ballots
        );
        println!("took          {:.2}s", elapsed.as_secs_f64());
        println!("outcome:");
        println!("{}", serde_json::to_string_pretty(&self.outcome)?);
        Ok(())
    }
}

/// A progress line on stdout.
fn say(message: impl Display) {
    println!("- {message}");
}

/// Expect an ack, with the command's name in the error.
fn acked(what: &str, result: Result<Ack, crate::client::CommandError>) -> Result<Ack> {
    result.with_context(|| format!("{what} was not acknowledged"))
}

struct Participant {
    name: String,
    client: Client,
}

async fn scenario(args: &ScenarioArgs) -> Result<Report> {
    let limit = args.server.timeout();
    let server = &args.server.server;
    let url = ws_url(server)?;
    let total = (args.remote + args.hall) as usize;
    let opts = |label: &str| ConnectOptions { label: label.to_owned(), timeout: limit };

    // The forum, with two agenda items.
    let request = CreateForumRequest {
        title: format!("madang-client scenario (seed {})", args.seed),
        language: None,
        agenda: vec![item("Where should the new benches go?".into()), item("What should the square be called?".into())],
    };
    let created = create_forum(server, &args.admin_token, &request, limit).await.context("creating the forum")?;
    say(format_args!(
        "created forum {} (remote code {}, hall code {})",
        created.id, created.join_codes.remote, created.join_codes.hall
    ));

    // The moderator, and the item ids from its snapshot.
    let token = |t: &str| Auth { token: Some(t.to_owned()), ..Auth::default() };
    let (mut moderator, welcome) = Client::connect(&url, &token(&created.moderator_token), opts("moderator")).await?;
    check_welcome(&welcome, Role::Moderator, &created.id)?;
    ensure!(
        welcome.join_codes.as_ref() == Some(&created.join_codes),
        "moderator: welcome join codes {:?} differ from the created forum's {:?}",
        welcome.join_codes,
        created.join_codes
    );
    let snapshot = welcome.snapshot.as_ref().ok_or_else(|| anyhow!("moderator: welcome without a snapshot"))?;
    ensure!(
        snapshot.agenda.len() == 2,
        "moderator: expected 2 agenda items in the snapshot, got {}",
        snapshot.agenda.len()
    );
    let item1: ItemId = snapshot.agenda[0].id;
    say(format_args!("moderator connected (head seq {}, agenda items {})", welcome.head_seq, snapshot.agenda.len()));

    // The display, counting tallies on its own task.
    let (display, welcome) = Client::connect(&url, &token(&created.display_token), opts("display")).await?;
    check_welcome(&welcome, Role::Display, &created.id)?;
    let mut watcher = DisplayWatcher::spawn(display);
    say("display connected");

    acked("start_forum", moderator.command(&Command::StartForum {}).await)?;
    acked("set_premoderation", moderator.command(&Command::SetPremoderation { enabled: true }).await)?;
    acked("activate_item", moderator.command(&Command::ActivateItem { item: item1 }).await)?;
    say(format_args!("forum started, premoderation on, item {item1} active"));

    // Participants join, each with the code of its channel.
    let joins = (0..total).map(|i| {
        let (channel, code, name) = if i < args.remote as usize {
            (Channel::Remote, &created.join_codes.remote, format!("remote-{}", i + 1))
        } else {
            (Channel::Hall, &created.join_codes.hall, format!("hall-{}", i + 1 - args.remote as usize))
        };
        let auth = Auth { join_code: Some(code.clone()), name: Some(name.clone()), ..Auth::default() };
        let (url, opts, forum) = (&url, opts(&name), &created.id);
        async move {
            let (client, welcome) = Client::connect(url, &auth, opts).await?;
            check_welcome(&welcome, Role::Participant, forum)?;
            let me = welcome.participant.as_ref().ok_or_else(|| anyhow!("{name}: welcome without `participant`"))?;
            ensure!(me.channel == channel, "{name}: joined with the {channel:?} code but got channel {:?}", me.channel);
            anyhow::Ok(Participant { name, client })
        }
    });
    let mut participants = try_join_all(joins).await?;
    say(format_args!("{} participants joined ({} remote, {} hall)", total, args.remote, args.hall));

    // One idea each; with premoderation on they reach the moderator as pending.
    let submissions = participants.iter().map(|p| async move {
        let text = format!("An idea from {}", p.name);
        let ack = acked(&format!("{}: submit_idea", p.name), p.client.command(&Command::SubmitIdea { text }).await)?;
        ack.idea.ok_or_else(|| anyhow!("{}: the submit_idea ack carries no `idea`", p.name))
    });
    let mut ideas: Vec<IdeaId> = try_join_all(submissions).await?;
    ideas.sort();
    ensure!(ideas.iter().collect::<BTreeSet<_>>().len() == ideas.len(), "submit_idea acks repeat idea ids: {ideas:?}");
    expect_ideas(&mut moderator, limit, &ideas, IdeaStatus::Pending, item1).await?;
    say(format_args!("{} ideas submitted, all pending for the moderator", ideas.len()));

    for &idea in &ideas {
        acked(&format!("approve_idea {idea}"), moderator.command(&Command::ApproveIdea { idea }).await)?;
    }
    expect_ideas(&mut moderator, limit, &ideas, IdeaStatus::Approved, item1).await?;
    let (first, last) = (ideas[0], ideas[ideas.len() - 1]);
    acked("merge_idea", moderator.command(&Command::MergeIdea { idea: last, into: first }).await)?;
    moderator
        .wait_for(limit, &format!("idea {last} merged into {first}"), |f| match f {
            ServerFrame::Event { update: Update::Idea { idea }, .. } if idea.id == last => {
                Some(if idea.status == IdeaStatus::Merged && idea.merged_into == Some(first) {
                    Ok(())
                } else {
                    Err(anyhow!(
                        "moderator: after merge_idea, idea {last} is {:?} (merged into {:?})",
                        idea.status,
                        idea.merged_into
                    ))
                })
            }
            _ => None,
        })
        .await??;
    say(format_args!("ideas approved; idea {last} merged into idea {first}"));

    // A ranked poll over the item's ideas, with live results.
    let create = Command::CreatePoll {
        item: Some(item1),
        title: "Which idea first?".into(),
        method: PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda },
        options: PollOptionsSpec::Ideas {},
        results: ResultsVisibility::Live,
    };
    let ack = acked("create_poll", moderator.command(&create).await)?;
    let poll_id = ack.poll.ok_or_else(|| anyhow!("the create_poll ack carries no `poll`"))?;
    let poll = moderator
        .wait_for(limit, &format!("poll {poll_id} to be announced"), |f| match f {
            ServerFrame::Event { update: Update::Poll { poll }, .. } if poll.id == poll_id => Some(poll.clone()),
            _ => None,
        })
        .await?;
    ensure!(poll.status == PollStatus::Draft, "poll {poll_id}: created as {:?}, expected draft", poll.status);
    let options = check_options(&poll, &ideas, last)?;
    acked("open_poll", moderator.command(&Command::OpenPoll { poll: poll_id }).await)?;
    say(format_args!("poll {poll_id} created over {} options and opened", options.len()));

    // Ballots: a seeded random full ranking each, then one replaced.
    let mut rng = Rng::new(args.seed);
    let mut rankings: Vec<Vec<OptionId>> = (0..total)
        .map(|_| {
            let mut r = options.clone();
            rng.shuffle(&mut r);
            r
        })
        .collect();
    let casts = participants.iter().zip(&rankings).map(|(p, ranking)| cast(p, poll_id, ranking.clone()));
    try_join_all(casts).await?;
    let replacement: Vec<OptionId> = rankings[0].iter().rev().copied().collect();
    let ack = cast(&participants[0], poll_id, replacement.clone()).await?;
    ensure!(!ack.duplicate, "{}: the replacing ballot was acked as a duplicate", participants[0].name);
    rankings[0] = replacement;
    say(format_args!("{total} ballots cast; {} replaced theirs", participants[0].name));

    // The display must see every ballot counted, and never more.
    let seen = watcher.wait_for_ballots(poll_id, total as u32, limit).await?;
    say(format_args!("display saw a tally with {total} ballots ({} tally frames so far)", seen.tally_frames));

    acked("close_poll", moderator.command(&Command::ClosePoll { poll: poll_id }).await)?;
    let outcome = moderator
        .wait_for(limit, &format!("the outcome of poll {poll_id}"), |f| match f {
            ServerFrame::Event { update: Update::Poll { poll }, .. } if poll.id == poll_id => {
                match (&poll.outcome, poll.status) {
                    (Some(outcome), _) => Some(Ok(outcome.clone())),
                    (None, PollStatus::Closed) => {
                        Some(Err(anyhow!("moderator: poll {poll_id} closed without an outcome")))
                    }
                    (None, _) => None,
                }
            }
            _ => None,
        })
        .await??;
    ensure!(
        outcome.poll == poll_id && outcome.tally.poll == poll_id,
        "outcome is for poll {}, expected {poll_id}",
        outcome.poll
    );
    ensure!(
        outcome.tally.ballots == total as u32,
        "outcome counts {} ballots, expected {total} (one per participant)",
        outcome.tally.ballots
    );
    let tally_checked = if poll.options.iter().all(|o| o.merged_into.is_none()) {
        check_borda(&outcome.tally.result, &options, &rankings)?;
        true
    } else {
        false
    };
    say(format_args!("poll {poll_id} closed; outcome received"));

    // Nothing unexpected may have reached anyone meanwhile.
    for p in &mut participants {
        check_quiet(&mut p.client)?;
    }
    let (display, seen) = watcher.stop().await?;
    let mut closing: Vec<Client> = participants.into_iter().map(|p| p.client).collect();
    closing.push(moderator);
    closing.extend(display);
    for (label, result) in
        join_all(closing.into_iter().map(|c| async move { (c.label().to_owned(), c.close().await) })).await
    {
        match result {
            Ok(info) if info.code == Some(madang_protocol::close_code::NORMAL) => {}
            Ok(info) => tracing::warn!("{label}: closed with {info}"),
            Err(e) => tracing::warn!("{e:#}"),
        }
    }

    Ok(Report {
        forum_id: created.id,
        remote: args.remote,
        hall: args.hall,
        ideas,
        merged: (last, first),
        poll,
        ballots_cast: total,
        tally_frames: seen.tally_frames,
        tally_checked,
        outcome,
    })
}

fn check_welcome(welcome: &Welcome, role: Role, forum: &str) -> Result<()> {
    ensure!(welcome.role == role, "welcome: role {:?}, expected {role:?}", welcome.role);
    ensure!(welcome.forum_id == forum, "welcome: forum {:?}, expected {forum:?}", welcome.forum_id);
    Ok(())
}

async fn cast(p: &Participant, poll: PollId, ranking: Vec<OptionId>) -> Result<Ack> {
    let ballot = Ballot::Ranked { ranking };
    acked(&format!("{}: cast_ballot", p.name), p.client.command(&Command::CastBallot { poll, ballot }).await)
}

/// Wait until the moderator has seen every idea in `ideas` with `status`.
async fn expect_ideas(
    moderator: &mut Client,
    limit: Duration,
    ideas: &[IdeaId],
    status: IdeaStatus,
    item: ItemId,
) -> Result<()> {
    let mut missing: BTreeSet<IdeaId> = ideas.iter().copied().collect();
    moderator
        .wait_for(limit, &format!("ideas {ideas:?} to be {status:?}"), |f| {
            let ServerFrame::Event { update: Update::Idea { idea }, .. } = f else { return None };
            if !missing.contains(&idea.id) {
                return None;
            }
            if idea.status != status || idea.item != item {
                return Some(Err(anyhow!(
                    "moderator: idea {} is {:?} under item {}, expected {status:?} under item {item}",
                    idea.id,
                    idea.status,
                    idea.item
                )));
            }
            missing.remove(&idea.id);
            missing.is_empty().then_some(Ok(()))
        })
        .await?
}

/// The poll's options must be the approved ideas that were not merged away;
/// returns the options a full ranking covers (those not merged into another).
fn check_options(poll: &PollView, ideas: &[IdeaId], merged: IdeaId) -> Result<Vec<OptionId>> {
    let live: Vec<_> = poll.options.iter().filter(|o| o.merged_into.is_none()).collect();
    let got: BTreeSet<Option<IdeaId>> = live.iter().map(|o| o.idea).collect();
    let want: BTreeSet<Option<IdeaId>> = ideas.iter().filter(|&&i| i != merged).map(|&i| Some(i)).collect();
    ensure!(
        got == want,
        "poll {}: the options stand for ideas {got:?}, expected the approved, unmerged ideas {want:?}",
        poll.id
    );
    Ok(live.iter().map(|o| o.id).collect())
}

/// Recompute the Borda tally from the ballots and compare with the server's.
fn check_borda(result: &TallyResult, options: &[OptionId], rankings: &[Vec<OptionId>]) -> Result<()> {
    let TallyResult::Ranked { borda, first_choices, ranking, .. } = result else {
        bail!("outcome: expected a ranked tally, got {result:?}");
    };
    let n = options.len() as u64;
    let mut want_borda: BTreeMap<OptionId, u64> = BTreeMap::new();
    let mut want_first: BTreeMap<OptionId, u64> = BTreeMap::new();
    for r in rankings {
        for (rank, option) in r.iter().enumerate() {
            *want_borda.entry(*option).or_default() += n - 1 - rank as u64;
        }
        if let Some(top) = r.first() {
            *want_first.entry(*top).or_default() += 1;
        }
    }
    let nonzero =
        |m: BTreeMap<OptionId, u64>| -> BTreeMap<OptionId, u64> { m.into_iter().filter(|(_, c)| *c > 0).collect() };
    let got_borda = nonzero(borda.iter().map(|c| (c.option, c.count)).collect());
    let got_first = nonzero(first_choices.iter().map(|c| (c.option, c.count)).collect());
    ensure!(got_borda == nonzero(want_borda.clone()), "outcome: Borda points {got_borda:?}, recomputed {want_borda:?}");
    ensure!(
        got_first == nonzero(want_first.clone()),
        "outcome: first choices {got_first:?}, recomputed {want_first:?}"
    );

    // Tiers: equal points tie.
    let mut by_points: BTreeMap<std::cmp::Reverse<u64>, BTreeSet<OptionId>> = BTreeMap::new();
    for &o in options {
        by_points.entry(std::cmp::Reverse(want_borda.get(&o).copied().unwrap_or(0))).or_default().insert(o);
    }
    let want_tiers: Vec<BTreeSet<OptionId>> = by_points.into_values().collect();
    let got_tiers: Vec<BTreeSet<OptionId>> = ranking.iter().map(|t| t.iter().copied().collect()).collect();
    ensure!(got_tiers == want_tiers, "outcome: ranking {got_tiers:?}, recomputed {want_tiers:?}");
    Ok(())
}

/// Fail if a connection has received an error, an unparsable frame, or was closed.
fn check_quiet(client: &mut Client) -> Result<()> {
    while let Some(incoming) = client.try_next() {
        match incoming {
            Incoming::Frame { frame: ServerFrame::Error { .. } | ServerFrame::Ack { .. }, raw } => {
                bail!("{}: unexpected frame: {raw}", client.label())
            }
            Incoming::Frame { .. } => {}
            Incoming::Unparsed { raw, error } => {
                bail!("{}: frame does not match madang.v1 ({error}): {raw}", client.label())
            }
            Incoming::Closed(info) => bail!("{}: the server closed the connection ({info})", client.label()),
        }
    }
    Ok(())
}

/// What the display has seen so far.
#[derive(Debug, Clone, Default)]
struct DisplaySeen {
    tally_frames: u64,
    /// The latest and the largest ballot count per poll.
    latest: HashMap<PollId, u32>,
    most: HashMap<PollId, u32>,
    failure: Option<String>,
    /// The connection ended (the client is gone).
    closed: bool,
}

/// The display connection, read on its own task.
struct DisplayWatcher {
    seen: watch::Receiver<DisplaySeen>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<Client>>,
}

impl DisplayWatcher {
    fn spawn(mut display: Client) -> DisplayWatcher {
        let (tx, seen) = watch::channel(DisplaySeen::default());
        let (stop, mut stopped) = oneshot::channel();
        let fail = |tx: &watch::Sender<DisplaySeen>, why: String| {
            tx.send_modify(|s| {
                s.failure.get_or_insert(why);
            })
        };
        let task = tokio::spawn(async move {
            loop {
                let incoming = tokio::select! {
                    _ = &mut stopped => return Some(display),
                    incoming = display.next() => incoming,
                };
                match incoming {
                    Some(Incoming::Frame { frame: ServerFrame::Tally { tally, .. }, .. }) => tx.send_modify(|s| {
                        s.tally_frames += 1;
                        s.latest.insert(tally.poll, tally.ballots);
                        let most = s.most.entry(tally.poll).or_default();
                        *most = (*most).max(tally.ballots);
                    }),
                    Some(Incoming::Frame { frame: ServerFrame::Error { .. } | ServerFrame::Ack { .. }, raw }) => {
                        fail(&tx, format!("display: unexpected frame: {raw}"))
                    }
                    Some(Incoming::Frame { .. }) => {}
                    Some(Incoming::Unparsed { raw, error }) => {
                        fail(&tx, format!("display: frame does not match madang.v1 ({error}): {raw}"))
                    }
                    Some(Incoming::Closed(info)) => {
                        fail(&tx, format!("display: the server closed the connection ({info})"));
                        tx.send_modify(|s| s.closed = true);
                        return None;
                    }
                    None => return None,
                }
            }
        });
        DisplayWatcher { seen, stop: Some(stop), task }
    }

    /// Wait until a tally of `poll` counts `ballots`; fail if one ever counted more.
    async fn wait_for_ballots(&mut self, poll: PollId, ballots: u32, limit: Duration) -> Result<DisplaySeen> {
        let reached = tokio::time::timeout(
            limit,
            self.seen.wait_for(|s| s.failure.is_some() || s.latest.get(&poll) == Some(&ballots)),
        )
        .await
        .map(|r| r.map(|_| ()));
        let seen = self.seen.borrow().clone();
        if let Some(why) = &seen.failure {
            bail!("{why}");
        }
        match reached {
            Err(_) => bail!(
                "display: no tally of poll {poll} with {ballots} ballots within {limit:?} (latest: {:?}, {} tally frames)",
                seen.latest.get(&poll),
                seen.tally_frames
            ),
            Ok(Err(_)) => bail!("display: its reader stopped"),
            Ok(Ok(_)) => {}
        }
        let most = seen.most.get(&poll).copied().unwrap_or(0);
        ensure!(
            most <= ballots,
            "display: a tally of poll {poll} counted {most} ballots, more than the {ballots} participants"
        );
        Ok(seen)
    }

    /// Stop reading; hand back the client (unless the connection ended) and what was seen.
    async fn stop(mut self) -> Result<(Option<Client>, DisplaySeen)> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let client = self.task.await.context("display task")?;
        let seen = self.seen.borrow().clone();
        if let Some(why) = &seen.failure {
            bail!("{why}");
        }
        Ok((client, seen))
    }
}
