//! The scenario's checks of what the server answered: each compares one
//! answer with what the scenario itself knows (the role it logged in as, the
//! ideas it approved, the ballots it cast) and says what differs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail, ensure};
use madang_protocol::{IdeaId, OptionId, PollView, Role, ServerFrame, TallyResult};

use crate::client::{Client, Incoming, Welcome};

/// The welcome is for `role` in `forum`.
pub fn check_welcome(welcome: &Welcome, role: Role, forum: &str) -> Result<()> {
    ensure!(welcome.role == role, "welcome: role {:?}, expected {role:?}", welcome.role);
    ensure!(welcome.forum_id == forum, "welcome: forum {:?}, expected {forum:?}", welcome.forum_id);
    Ok(())
}

/// The poll's options must be the approved ideas that were not merged away;
/// returns the options a full ranking covers (those not merged into another).
pub fn check_options(poll: &PollView, ideas: &[IdeaId], merged: IdeaId) -> Result<Vec<OptionId>> {
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
pub fn check_borda(result: &TallyResult, options: &[OptionId], rankings: &[Vec<OptionId>]) -> Result<()> {
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
pub fn check_quiet(client: &mut Client) -> Result<()> {
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
