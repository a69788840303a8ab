//! Views: the domain's state mapped to the wire's view types, per audience.
//!
//! Moderators (staff) see everything; participants and displays (public) see
//! approved ideas only and tallies only while results are visible.

use madang_protocol::{
    ForumHeader, ForumView, IdeaStatus, IdeaView, ItemView, ParticipantCounts, PollOptionView, PollStatus, PollView,
    TimerView, Update,
};

use crate::domain::{Event, Forum, Idea, Item, Poll};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Staff,
    Public,
}

pub fn header(forum: &Forum) -> ForumHeader {
    ForumHeader {
        id: forum.id.clone(),
        title: forum.title.clone(),
        language: forum.language.clone(),
        status: forum.status,
        premoderation: forum.premoderation,
    }
}

fn item_view(item: &Item) -> ItemView {
    ItemView {
        id: item.id,
        title: item.title.clone(),
        description: item.description.clone(),
        timebox_secs: item.timebox_secs,
        state: item.state,
        timer: item.timer.map(|t| TimerView {
            running: t.deadline_ms.is_some(),
            deadline_ms: t.deadline_ms,
            remaining_ms: t.remaining_ms,
        }),
    }
}

fn agenda(forum: &Forum) -> Vec<ItemView> {
    forum.agenda.iter().filter_map(|id| forum.items.get(id)).map(item_view).collect()
}

fn idea_view(forum: &Forum, idea: &Idea) -> IdeaView {
    let author = idea.author.and_then(|p| forum.participants.get(&p));
    IdeaView {
        id: idea.id,
        item: idea.item,
        text: idea.text.clone(),
        author: author.and_then(|a| a.name.clone()),
        channel: author.map(|a| a.channel),
        status: idea.status,
        merged_into: idea.merged_into,
    }
}

fn idea_visible(idea: &Idea, audience: Audience) -> bool {
    audience == Audience::Staff || matches!(idea.status, IdeaStatus::Approved | IdeaStatus::Merged)
}

/// Whether `audience` may see the tally of `poll` now.
pub fn tally_visible(poll: &Poll, audience: Audience) -> bool {
    audience == Audience::Staff || poll.results_public()
}

pub fn poll_view(forum: &Forum, poll: &Poll, audience: Audience) -> PollView {
    let canonical = forum.canonical_options(poll);
    let visible = tally_visible(poll, audience);
    PollView {
        id: poll.id,
        item: poll.item,
        title: poll.title.clone(),
        method: poll.method.clone(),
        options: poll
            .options
            .iter()
            .map(|o| PollOptionView {
                id: o.id,
                label: o.label.clone(),
                idea: o.idea,
                merged_into: canonical.get(&o.id).copied().filter(|target| *target != o.id),
            })
            .collect(),
        status: poll.status,
        results: poll.results,
        results_visible: visible,
        outcome: if visible { poll.outcome.clone() } else { None },
    }
}

fn participant_counts(forum: &Forum) -> ParticipantCounts {
    let mut counts = ParticipantCounts::default();
    for p in forum.participants.values() {
        match p.channel {
            madang_protocol::Channel::Remote => counts.remote += 1,
            madang_protocol::Channel::Hall => counts.hall += 1,
        }
    }
    counts
}

/// The whole forum for one audience, current at `seq`.
pub fn forum_view(forum: &Forum, audience: Audience, seq: u64) -> ForumView {
    ForumView {
        forum: header(forum),
        agenda: agenda(forum),
        active_item: forum.active_item,
        ideas: forum.ideas.values().filter(|i| idea_visible(i, audience)).map(|i| idea_view(forum, i)).collect(),
        polls: forum.polls.values().map(|p| poll_view(forum, p, audience)).collect(),
        tallies: forum
            .polls
            .values()
            .filter(|p| p.status == PollStatus::Open && tally_visible(p, audience))
            .map(|p| forum.tally(p))
            .collect(),
        participants: participant_counts(forum),
        seq,
    }
}

/// What `audience` is told about `event`, already applied to `forum`.
/// `None`: nothing (ballots are secret; pending ideas are not public).
pub fn update_for(forum: &Forum, event: &Event, audience: Audience) -> Option<Update> {
    let poll_update = |poll| forum.polls.get(poll).map(|p| Update::Poll { poll: poll_view(forum, p, audience) });
    match event {
        Event::ForumCreated { .. } | Event::ForumStarted {} | Event::ForumClosed {} | Event::PremoderationSet { .. } => {
            Some(Update::Forum { forum: header(forum) })
        }
        Event::ItemAdded { .. }
        | Event::ItemEdited { .. }
        | Event::ItemMoved { .. }
        | Event::ItemRemoved { .. }
        | Event::ItemActivated { .. }
        | Event::ItemCompleted { .. }
        | Event::TimerStarted { .. }
        | Event::TimerPaused { .. }
        | Event::TimerExtended { .. } => Some(Update::Agenda { agenda: agenda(forum), active_item: forum.active_item }),
        Event::ParticipantJoined { .. } => Some(Update::Participants { participants: participant_counts(forum) }),
        Event::IdeaSubmitted { idea, .. } | Event::IdeaApproved { idea } | Event::IdeaMerged { idea, .. } => {
            let idea = forum.ideas.get(idea)?;
            idea_visible(idea, audience).then(|| Update::Idea { idea: idea_view(forum, idea) })
        }
        Event::IdeaHidden { idea } => match audience {
            Audience::Staff => forum.ideas.get(idea).map(|i| Update::Idea { idea: idea_view(forum, i) }),
            Audience::Public => Some(Update::IdeaRemoved { idea: *idea }),
        },
        Event::PollCreated { poll, .. }
        | Event::PollOpened { poll }
        | Event::PollClosed { poll, .. }
        | Event::ResultsRevealed { poll } => poll_update(poll),
        Event::BallotCast { .. } => None,
    }
}
