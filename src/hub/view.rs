//! Views: the domain's state mapped to the wire's view types, per audience.
//!
//! Moderators (staff) see everything; participants and displays (public) see
//! approved ideas only and tallies only while results are visible.

use madang_protocol::{
    ActionUpdateView, ActionView, Channel, FollowThroughView, ForumHeader, ForumView, HallCheck, IdeaId, IdeaStatus,
    IdeaSupport, IdeaView, ItemId, ItemView, ParticipantCounts, PollHallCheck, PollId, PollOptionView, PollStatus,
    PollView, ResponseView, SignalColor, SignalCounts, SpeakerQueueView, SpeakerView, SpeakingByChannel, SpeakingStats,
    SpeechView, SupportCounts, TemperatureView, TicketCounts, TicketTally, TimerView, Update,
};

use crate::domain::speakers::Stats;
use crate::domain::{Aggregate, Event, Forum, Idea, Item, Poll, Speaker, hall};

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
        eligibility: forum.eligibility,
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
        supports: forum.support_counts(idea.id),
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
        hall_count: match audience {
            Audience::Staff => poll.hall_count.clone(),
            Audience::Public => None,
        },
        revealed: (audience == Audience::Staff).then_some(poll.revealed),
        ballots: poll.secrecy,
        follow_through: follow_through_view(forum, poll.id),
    }
}

/// A poll's follow-through, public to every audience; `None` until anything is recorded.
fn follow_through_view(forum: &Forum, poll: PollId) -> Option<FollowThroughView> {
    let ft = &forum.follow_through;
    if !ft.has_any(poll) {
        return None;
    }
    let responses = ft
        .responses
        .get(&poll)
        .into_iter()
        .flatten()
        .map(|r| ResponseView {
            at_ms: r.at_ms,
            body: r.body.clone(),
            response: r.response,
            reasons: r.reasons.clone(),
        })
        .collect();
    let actions = ft
        .actions_of(poll)
        .map(|a| ActionView {
            id: a.id,
            title: a.title.clone(),
            target_date: a.target_date.clone(),
            planned_at_ms: a.planned_at_ms,
            status: a.status(),
            updates: a
                .updates
                .iter()
                .map(|u| ActionUpdateView { at_ms: u.at_ms, status: u.status, note: u.note.clone() })
                .collect(),
        })
        .collect();
    Some(FollowThroughView { responses, actions })
}

fn speaker_view(speaker: &Speaker) -> SpeakerView {
    SpeakerView {
        id: speaker.id,
        channel: speaker.channel,
        participant: speaker.participant,
        name: speaker.name.clone(),
        skipped: speaker.skipped,
    }
}

fn speaking_stats(stats: &Stats) -> SpeakingStats {
    SpeakingStats { speeches: stats.speeches, speaking_ms: stats.speaking_ms }
}

/// The speaker queue, the same for every audience: waiting speakers in calling order.
pub fn speakers_view(forum: &Forum) -> SpeakerQueueView {
    let queue = &forum.speakers;
    SpeakerQueueView {
        policy: queue.policy,
        limit_secs: queue.limit_secs,
        current: queue.current.as_ref().map(|speech| SpeechView {
            speaker: speaker_view(&speech.speaker),
            started_ms: speech.started_ms,
            deadline_ms: speech.deadline_ms,
        }),
        waiting: queue.order().into_iter().map(speaker_view).collect(),
        stats: SpeakingByChannel {
            remote: speaking_stats(&queue.remote),
            hall: speaking_stats(&queue.hall),
            hall_count: speaking_stats(&queue.hall_count),
        },
    }
}

/// The distribution of the latest signals on `item`, in all and per channel.
pub fn temperature_view(forum: &Forum, item: ItemId) -> TemperatureView {
    let mut view = TemperatureView {
        item,
        total: SignalCounts::default(),
        remote: SignalCounts::default(),
        hall: SignalCounts::default(),
    };
    let add = |counts: &mut SignalCounts, color: SignalColor| {
        let slot = match color {
            SignalColor::Green => &mut counts.green,
            SignalColor::Yellow => &mut counts.yellow,
            SignalColor::Red => &mut counts.red,
        };
        *slot = slot.saturating_add(1);
    };
    for (participant, color) in forum.signals.get(&item).into_iter().flatten() {
        add(&mut view.total, *color);
        match forum.participants.get(participant).map(|p| p.channel) {
            Some(Channel::Hall) => add(&mut view.hall, *color),
            _ => add(&mut view.remote, *color),
        }
    }
    view
}

/// The support counts of `ideas` that `audience` may see, in id order.
pub fn supports_of(forum: &Forum, ideas: impl IntoIterator<Item = IdeaId>, audience: Audience) -> Vec<IdeaSupport> {
    ideas
        .into_iter()
        .filter(|id| forum.ideas.get(id).is_some_and(|i| idea_visible(i, audience)))
        .map(|idea| {
            let SupportCounts { remote, hall } = forum.support_counts(idea);
            IdeaSupport { idea, remote, hall }
        })
        .collect()
}

/// The temperature check of the current item, if there is one.
pub fn current_temperature(forum: &Forum) -> Option<TemperatureView> {
    forum.active_item.map(|item| temperature_view(forum, item))
}

/// Hall people per poll against the headcount: hall device ballots plus the
/// people of the hand count (see `hall::people_counted`).
pub fn hall_check(forum: &Forum) -> HallCheck {
    let headcount = forum.hall_headcount;
    let polls: Vec<PollHallCheck> = forum
        .polls
        .values()
        .filter(|p| p.status != PollStatus::Draft)
        .map(|p| {
            let hall_ballots =
                p.voters().filter(|id| forum.participants.get(id).is_some_and(|x| x.channel == Channel::Hall)).count()
                    as u32;
            let hand_counted = p.hall_count.as_ref().map_or(0, hall::people_counted);
            let total = hall_ballots.saturating_add(hand_counted);
            PollHallCheck {
                poll: p.id,
                hall_ballots,
                hand_counted,
                total,
                exceeds: headcount.is_some_and(|h| total > h),
            }
        })
        .collect();
    HallCheck {
        headcount,
        hall_devices: participant_counts(forum).hall,
        hall_tickets_used: (!forum.eligibility.is_open()).then(|| forum.tickets.counts(Channel::Hall).1),
        exceeds: polls.iter().any(|p| p.exceeds),
        polls,
    }
}

fn participant_counts(forum: &Forum) -> ParticipantCounts {
    let mut counts = ParticipantCounts::default();
    for p in forum.participants.values() {
        match p.channel {
            Channel::Remote => counts.remote += 1,
            Channel::Hall => counts.hall += 1,
            // Participants never join as hall_count.
            Channel::HallCount => {}
        }
    }
    if !forum.tickets.issued.is_empty() {
        let tally = |channel| {
            let (issued, used, revoked) = forum.tickets.counts(channel);
            TicketTally { issued, used, revoked }
        };
        counts.tickets = Some(TicketCounts { remote: tally(Channel::Remote), hall: tally(Channel::Hall) });
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
        speakers: speakers_view(forum),
        temperature: current_temperature(forum),
        hall_check: (audience == Audience::Staff).then(|| hall_check(forum)),
        screen: forum.screen,
        seq,
    }
}

/// Whether `event` is a hall device's ballot that moderators see as the hall
/// check it changes: only once a headcount is set.
pub fn changes_hall_check(forum: &Forum, event: &Event) -> bool {
    let Event::BallotCast { participant, .. } = event else { return false };
    forum.hall_headcount.is_some() && forum.participants.get(participant).is_some_and(|p| p.channel == Channel::Hall)
}

/// The parts of a forum that an update carries whole, for every audience
/// alike, and that only events of their own kind change: so that of several
/// such events in a row, only the last needs its update rendered, and it may
/// be rendered after later events of other kinds (`whole_part_changed_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholePart {
    Agenda,
    Participants,
    Speakers,
}

/// The part `event` replaces whole, if any (see [`WholePart`]); `update_for`
/// answers every such event with [`whole_part_update`].
pub fn whole_part_changed_by(event: &Event) -> Option<WholePart> {
    // The domain's aggregates are exactly these parts: every agenda event
    // changes the agenda, every speaker event the queue, a join the counts.
    match event.aggregate() {
        Aggregate::Agenda => Some(WholePart::Agenda),
        Aggregate::Participants => Some(WholePart::Participants),
        Aggregate::Speakers => Some(WholePart::Speakers),
        _ => None,
    }
}

/// The update that carries `part` of `forum` whole, the same for every audience.
pub fn whole_part_update(forum: &Forum, part: WholePart) -> Update {
    match part {
        WholePart::Agenda => Update::Agenda { agenda: agenda(forum), active_item: forum.active_item },
        WholePart::Participants => Update::Participants { participants: participant_counts(forum) },
        WholePart::Speakers => Update::Speakers { speakers: speakers_view(forum) },
    }
}

/// What `audience` is told about `event`, already applied to `forum`.
/// `None`: nothing (ballots are secret; pending ideas are not public).
pub fn update_for(forum: &Forum, event: &Event, audience: Audience) -> Option<Update> {
    let poll_update =
        |poll| forum.polls.get(poll).map(|p| Update::Poll { poll: Box::new(poll_view(forum, p, audience)) });
    match event {
        Event::ForumCreated { .. }
        | Event::ForumStarted {}
        | Event::ForumClosed {}
        | Event::PremoderationSet { .. }
        | Event::EligibilitySet { .. } => Some(Update::Forum { forum: header(forum) }),
        Event::ItemAdded { .. }
        | Event::ItemEdited { .. }
        | Event::ItemMoved { .. }
        | Event::ItemRemoved { .. }
        | Event::ItemActivated { .. }
        | Event::ItemCompleted { .. }
        | Event::TimerStarted { .. }
        | Event::TimerPaused { .. }
        | Event::TimerExtended { .. }
        | Event::ParticipantJoined { .. }
        | Event::TicketsIssued { .. }
        | Event::TicketRevoked { .. }
        | Event::HandRaised { .. }
        | Event::HandLowered { .. }
        | Event::SpeakerAdded { .. }
        | Event::SpeakerCalled { .. }
        | Event::SpeakerSkipped { .. }
        | Event::SpeakerRemoved { .. }
        | Event::SpeakerMoved { .. }
        | Event::QueuePolicySet { .. }
        | Event::SpeakingLimitSet { .. }
        | Event::SpeechEnded { .. } => whole_part_changed_by(event).map(|part| whole_part_update(forum, part)),
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
        | Event::ResultsRevealed { poll }
        | Event::ResponseRecorded { poll, .. }
        | Event::ActionPlanned { poll, .. } => poll_update(poll),
        Event::ActionUpdated { action, .. } => poll_update(&forum.follow_through.actions.get(action)?.poll),
        // Ballots are secret; once a headcount is set, moderators see a hall
        // device's ballot as the hall check it changes (without a headcount
        // nothing can exceed it, so nothing is sent).
        Event::BallotCast { .. } => match audience {
            Audience::Staff if changes_hall_check(forum, event) => {
                Some(Update::HallCheck { hall_check: hall_check(forum) })
            }
            _ => None,
        },
        Event::HallCountEntered { poll, counts } => match audience {
            Audience::Staff => {
                Some(Update::HallCount { poll: *poll, counts: counts.clone(), hall_check: hall_check(forum) })
            }
            // The public sees the hall count in the next tally's `by_channel`.
            Audience::Public => None,
        },
        Event::HallHeadcountSet { .. } => match audience {
            Audience::Staff => Some(Update::HallCheck { hall_check: hall_check(forum) }),
            Audience::Public => None,
        },
        // Pairs and comparisons are secret; comparisons reach everyone as tallies.
        Event::PairOffered { .. } | Event::ComparisonCast { .. } => None,
        // Signals are conflated into `temperature` frames at the tally cadence.
        Event::SignalSet { .. } => None,
        // Every audience: phones and the console show what the hall sees.
        Event::ScreenShown { screen } => Some(Update::Screen { screen: *screen }),
        // Supports are conflated into `supports` frames at the tally cadence.
        Event::IdeaSupported { .. } | Event::SupportWithdrawn { .. } => None,
    }
}

#[cfg(test)]
mod tests;
