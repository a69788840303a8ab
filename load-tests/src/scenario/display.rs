//! The display of the scenario, read on a task of its own.
//!
//! Why a task: the display only listens, and the scenario must check what it
//! saw (every ballot counted, never more) without stopping to read it. The
//! task keeps a running summary in a watch channel and hands the connection
//! back when told to stop; it knows nothing of the rest of the forum.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use madang_protocol::{PollId, ServerFrame};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::{Client, Incoming};

/// What the display has seen so far.
#[derive(Debug, Clone, Default)]
pub struct DisplaySeen {
    pub tally_frames: u64,
    /// The latest and the largest ballot count per poll.
    latest: HashMap<PollId, u32>,
    most: HashMap<PollId, u32>,
    failure: Option<String>,
    /// The connection ended (the client is gone).
    closed: bool,
}

/// The display connection, read on its own task.
pub struct DisplayWatcher {
    seen: watch::Receiver<DisplaySeen>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<Client>>,
}

impl DisplayWatcher {
    pub fn spawn(mut display: Client) -> DisplayWatcher {
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
    pub async fn wait_for_ballots(&mut self, poll: PollId, ballots: u32, limit: Duration) -> Result<DisplaySeen> {
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
    pub async fn stop(mut self) -> Result<(Option<Client>, DisplaySeen)> {
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
