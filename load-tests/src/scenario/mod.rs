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

mod checks;
mod display;

use std::collections::BTreeSet;
use std::fmt::Display;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::Args;
use futures_util::future::{join_all, try_join_all};
use madang_protocol::{
    Auth, Ballot, Channel, Command, CreateForumRequest, CreateForumResponse, IdeaId, IdeaStatus, ItemId, OptionId,
    Outcome, PollId, PollMethod, PollOptionsSpec, PollStatus, PollView, RankedTally, ResultsVisibility, Role,
    ServerFrame, Update,
};

use crate::ServerArgs;
use crate::client::{Ack, Client, ConnectOptions};
use crate::http::{create_forum, item, ws_url};
use crate::rng::Rng;
use checks::{check_borda, check_options, check_quiet, check_welcome};
use display::DisplayWatcher;

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
    let url = ws_url(&args.server.server)?;
    let total = (args.remote + args.hall) as usize;

    let created = create(args, limit).await?;
    let (mut moderator, item1) = connect_moderator(&url, &created, limit).await?;
    // The display, counting tallies on its own task.
    let (display, welcome) = Client::connect(&url, &token(&created.display_token), options("display", limit)).await?;
    check_welcome(&welcome, Role::Display, &created.id)?;
    let mut watcher = DisplayWatcher::spawn(display);
    say("display connected");

    acked("start_forum", moderator.command(&Command::StartForum {}).await)?;
    acked("set_premoderation", moderator.command(&Command::SetPremoderation { enabled: true }).await)?;
    acked("activate_item", moderator.command(&Command::ActivateItem { item: item1 }).await)?;
    say(format_args!("forum started, premoderation on, item {item1} active"));

    let mut participants = join(args, &url, &created, limit).await?;
    let ideas = submit_and_moderate_ideas(&participants, &mut moderator, limit, item1).await?;
    let (first, last) = (ideas[0], ideas[ideas.len() - 1]);
    let (poll, options) = open_ranked_poll(&mut moderator, limit, item1, &ideas, last).await?;
    let rankings = cast_ballots(&participants, args.seed, poll.id, &options).await?;

    // The display must see every ballot counted, and never more.
    let seen = watcher.wait_for_ballots(poll.id, total as u32, limit).await?;
    say(format_args!("display saw a tally with {total} ballots ({} tally frames so far)", seen.tally_frames));

    let outcome = close_poll(&mut moderator, limit, poll.id, total).await?;
    let tally_checked = if poll.options.iter().all(|o| o.merged_into.is_none()) {
        check_borda(&outcome.tally.result, &options, &rankings)?;
        true
    } else {
        false
    };
    say(format_args!("poll {} closed; outcome received", poll.id));

    // Nothing unexpected may have reached anyone meanwhile.
    for p in &mut participants {
        check_quiet(&mut p.client)?;
    }
    let (display, seen) = watcher.stop().await?;
    let mut closing: Vec<Client> = participants.into_iter().map(|p| p.client).collect();
    closing.push(moderator);
    closing.extend(display);
    close_all(closing).await;

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

fn options(label: &str, limit: Duration) -> ConnectOptions {
    ConnectOptions { label: label.to_owned(), timeout: limit }
}

fn token(token: &str) -> Auth {
    Auth { token: Some(token.to_owned()), ..Auth::default() }
}

/// The forum, with two agenda items.
async fn create(args: &ScenarioArgs, limit: Duration) -> Result<CreateForumResponse> {
    let request = CreateForumRequest {
        title: format!("madang-client scenario (seed {})", args.seed),
        language: None,
        eligibility: None,
        agenda: vec![item("Where should the new benches go?".into()), item("What should the square be called?".into())],
    };
    let created =
        create_forum(&args.server.server, &args.admin_token, &request, limit).await.context("creating the forum")?;
    say(format_args!(
        "created forum {} (remote code {}, hall code {})",
        created.id, created.join_codes.remote, created.join_codes.hall
    ));
    Ok(created)
}

/// The moderator, and the first item's id from its snapshot.
async fn connect_moderator(url: &str, created: &CreateForumResponse, limit: Duration) -> Result<(Client, ItemId)> {
    let (moderator, welcome) =
        Client::connect(url, &token(&created.moderator_token), options("moderator", limit)).await?;
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
    Ok((moderator, item1))
}

/// Participants join, each with the code of its channel.
async fn join(
    args: &ScenarioArgs,
    url: &str,
    created: &CreateForumResponse,
    limit: Duration,
) -> Result<Vec<Participant>> {
    let total = (args.remote + args.hall) as usize;
    let joins = (0..total).map(|i| {
        let (channel, code, name) = if i < args.remote as usize {
            (Channel::Remote, &created.join_codes.remote, format!("remote-{}", i + 1))
        } else {
            (Channel::Hall, &created.join_codes.hall, format!("hall-{}", i + 1 - args.remote as usize))
        };
        let auth = Auth { join_code: Some(code.clone()), name: Some(name.clone()), ..Auth::default() };
        let (opts, forum) = (options(&name, limit), &created.id);
        async move {
            let (client, welcome) = Client::connect(url, &auth, opts).await?;
            check_welcome(&welcome, Role::Participant, forum)?;
            let me = welcome.participant.as_ref().ok_or_else(|| anyhow!("{name}: welcome without `participant`"))?;
            ensure!(me.channel == channel, "{name}: joined with the {channel:?} code but got channel {:?}", me.channel);
            anyhow::Ok(Participant { name, client })
        }
    });
    let participants = try_join_all(joins).await?;
    say(format_args!("{} participants joined ({} remote, {} hall)", total, args.remote, args.hall));
    Ok(participants)
}

/// One idea each, pending under premoderation; the moderator approves them
/// all and merges the last into the first. Returns the ideas, sorted.
async fn submit_and_moderate_ideas(
    participants: &[Participant],
    moderator: &mut Client,
    limit: Duration,
    item1: ItemId,
) -> Result<Vec<IdeaId>> {
    let submissions = participants.iter().map(|p| async move {
        let text = format!("An idea from {}", p.name);
        let ack = acked(&format!("{}: submit_idea", p.name), p.client.command(&Command::SubmitIdea { text }).await)?;
        ack.idea.ok_or_else(|| anyhow!("{}: the submit_idea ack carries no `idea`", p.name))
    });
    let mut ideas: Vec<IdeaId> = try_join_all(submissions).await?;
    ideas.sort();
    ensure!(ideas.iter().collect::<BTreeSet<_>>().len() == ideas.len(), "submit_idea acks repeat idea ids: {ideas:?}");
    expect_ideas(moderator, limit, &ideas, IdeaStatus::Pending, item1).await?;
    say(format_args!("{} ideas submitted, all pending for the moderator", ideas.len()));

    for &idea in &ideas {
        acked(&format!("approve_idea {idea}"), moderator.command(&Command::ApproveIdea { idea }).await)?;
    }
    expect_ideas(moderator, limit, &ideas, IdeaStatus::Approved, item1).await?;
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
    Ok(ideas)
}

/// A ranked poll over the item's ideas, with live results, opened. Returns
/// the poll as announced and the options a full ranking covers.
async fn open_ranked_poll(
    moderator: &mut Client,
    limit: Duration,
    item1: ItemId,
    ideas: &[IdeaId],
    merged: IdeaId,
) -> Result<(PollView, Vec<OptionId>)> {
    let create = Command::CreatePoll {
        ballots: Default::default(),
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
            ServerFrame::Event { update: Update::Poll { poll }, .. } if poll.id == poll_id => {
                Some(PollView::clone(poll))
            }
            _ => None,
        })
        .await?;
    ensure!(poll.status == PollStatus::Draft, "poll {poll_id}: created as {:?}, expected draft", poll.status);
    let options = check_options(&poll, ideas, merged)?;
    acked("open_poll", moderator.command(&Command::OpenPoll { poll: poll_id }).await)?;
    say(format_args!("poll {poll_id} created over {} options and opened", options.len()));
    Ok((poll, options))
}

/// A seeded random full ranking from each participant, then the first one
/// replaces theirs. Returns the rankings that count.
async fn cast_ballots(
    participants: &[Participant],
    seed: u64,
    poll_id: PollId,
    options: &[OptionId],
) -> Result<Vec<Vec<OptionId>>> {
    let mut rng = Rng::new(seed);
    let mut rankings: Vec<Vec<OptionId>> = participants
        .iter()
        .map(|_| {
            let mut r = options.to_vec();
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
    say(format_args!("{} ballots cast; {} replaced theirs", participants.len(), participants[0].name));
    Ok(rankings)
}

/// Close the poll and wait for its outcome, which must count one ballot a participant.
async fn close_poll(moderator: &mut Client, limit: Duration, poll_id: PollId, total: usize) -> Result<Outcome> {
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
    Ok(outcome)
}

/// Close every connection normally; a close that goes otherwise is only logged.
async fn close_all(clients: Vec<Client>) {
    for (label, result) in
        join_all(clients.into_iter().map(|c| async move { (c.label().to_owned(), c.close().await) })).await
    {
        match result {
            Ok(info) if info.code == Some(madang_protocol::close_code::NORMAL) => {}
            Ok(info) => tracing::warn!("{label}: closed with {info}"),
            Err(e) => tracing::warn!("{e:#}"),
        }
    }
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
