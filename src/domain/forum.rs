//! The forum state and how events change it.
//!
//! `apply` is total: it trusts that an event was validated when it was
//! decided, and quietly ignores references to things that do not exist
//! rather than panicking, so that replay can never crash the server.

use std::collections::{BTreeMap, HashMap};

use madang_protocol::{
    Ballot, Channel, ForumStatus, HallCounts, IdeaId, IdeaStatus, ItemId, ItemState, OptionId, Outcome, ParticipantId,
    PollId, PollMethod, PollStatus, ResultsVisibility, SignalColor,
};

use serde::{Deserialize, Serialize};

use super::event::{Event, OptionSpec};
use super::method::OptionIndex;
use super::method::pairwise::Comparisons;
use super::method::ranked::LivePairwise;
use super::speakers::{Speaker, SpeakerQueue};

/// An item's timer. `deadline_ms` is set while running; otherwise
/// `remaining_ms` is what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub deadline_ms: Option<u64>,
    pub remaining_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub title: String,
    pub description: Option<String>,
    pub timebox_secs: Option<u32>,
    pub state: ItemState,
    /// None until the timer is first started or extended.
    pub timer: Option<Timer>,
}

impl Item {
    /// The timer as it stands, or a fresh one from the time box.
    pub fn timer_or_fresh(&self) -> Timer {
        self.timer
            .unwrap_or(Timer { deadline_ms: None, remaining_ms: u64::from(self.timebox_secs.unwrap_or(0)) * 1000 })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idea {
    pub id: IdeaId,
    pub item: ItemId,
    pub text: String,
    pub author: Option<ParticipantId>,
    pub status: IdeaStatus,
    pub merged_into: Option<IdeaId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOption {
    pub id: OptionId,
    pub label: String,
    pub idea: Option<IdeaId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub id: PollId,
    pub item: ItemId,
    pub title: String,
    pub method: PollMethod,
    pub options: Vec<PollOption>,
    pub status: PollStatus,
    pub results: ResultsVisibility,
    pub revealed: bool,
    /// One ballot per participant: a later one replaces the earlier.
    pub ballots: BTreeMap<ParticipantId, Ballot>,
    pub outcome: Option<Outcome>,
    /// The moderator's latest hand count for hall people without a device.
    #[serde(default)]
    pub hall_count: Option<HallCounts>,
    /// For pairwise polls: the comparisons and the pairs offered.
    #[serde(default)]
    pub comparisons: Comparisons,
    /// For ranked polls: pairwise counts of the device ballots, kept up to
    /// date ballot by ballot. Derived from `ballots`, so never serialized.
    #[serde(skip)]
    pub live: Option<LivePairwise>,
}

impl Poll {
    /// Whether participants and displays may see the tally now.
    pub fn results_public(&self) -> bool {
        self.results == ResultsVisibility::Live || self.revealed
    }

    pub fn option_ids(&self) -> Vec<OptionId> {
        self.options.iter().map(|o| o.id).collect()
    }

    /// Participants who cast a ballot or answered a pair.
    pub fn voters(&self) -> impl Iterator<Item = &ParticipantId> {
        self.ballots.keys().chain(self.comparisons.answers.keys().filter(|p| !self.ballots.contains_key(p)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub channel: Channel,
    pub name: Option<String>,
}

/// A forum: everything replay rebuilds. Serializable so that a snapshot can
/// stand in for the events before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forum {
    pub id: String,
    pub title: String,
    pub language: String,
    pub status: ForumStatus,
    pub premoderation: bool,
    pub remote_code: String,
    pub hall_code: String,
    pub moderator_token_hash: String,
    pub display_token_hash: String,
    /// Item ids in agenda order.
    pub agenda: Vec<ItemId>,
    pub items: BTreeMap<ItemId, Item>,
    pub active_item: Option<ItemId>,
    pub ideas: BTreeMap<IdeaId, Idea>,
    pub polls: BTreeMap<PollId, Poll>,
    pub participants: BTreeMap<ParticipantId, Participant>,
    pub participant_by_token: HashMap<String, ParticipantId>,
    /// People in the hall, as the moderator counted them.
    #[serde(default)]
    pub hall_headcount: Option<u32>,
    #[serde(default)]
    pub speakers: SpeakerQueue,
    /// Per item, each participant's latest temperature signal.
    #[serde(default)]
    pub signals: BTreeMap<ItemId, BTreeMap<ParticipantId, SignalColor>>,
    next_item: u32,
    next_idea: u32,
    next_poll: u32,
}

impl Forum {
    /// The forum a `ForumCreated` event describes; `None` for any other event.
    pub fn from_created(event: &Event) -> Option<Forum> {
        let Event::ForumCreated {
            id,
            title,
            language,
            remote_code,
            hall_code,
            moderator_token_hash,
            display_token_hash,
        } = event
        else {
            return None;
        };
        Some(Forum {
            id: id.clone(),
            title: title.clone(),
            language: language.clone(),
            status: ForumStatus::Draft,
            premoderation: false,
            remote_code: remote_code.clone(),
            hall_code: hall_code.clone(),
            moderator_token_hash: moderator_token_hash.clone(),
            display_token_hash: display_token_hash.clone(),
            agenda: Vec::new(),
            items: BTreeMap::new(),
            active_item: None,
            ideas: BTreeMap::new(),
            polls: BTreeMap::new(),
            participants: BTreeMap::new(),
            participant_by_token: HashMap::new(),
            hall_headcount: None,
            speakers: SpeakerQueue::default(),
            signals: BTreeMap::new(),
            next_item: 1,
            next_idea: 1,
            next_poll: 1,
        })
    }

    pub(super) fn next_item_id(&self) -> ItemId {
        ItemId(self.next_item)
    }

    pub(super) fn next_idea_id(&self) -> IdeaId {
        IdeaId(self.next_idea)
    }

    pub(super) fn next_poll_id(&self) -> PollId {
        PollId(self.next_poll)
    }

    pub(super) fn next_participant_id(&self) -> ParticipantId {
        ParticipantId(self.participants.len() as u32 + 1)
    }

    /// Follow merges to the idea that finally absorbed `idea`.
    pub fn root_idea(&self, idea: IdeaId) -> IdeaId {
        let mut current = idea;
        // Merges form a forest (a merged idea cannot be a target), but bound
        // the walk anyway so that a damaged log cannot loop forever.
        for _ in 0..self.ideas.len() + 1 {
            match self.ideas.get(&current).and_then(|i| i.merged_into) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    /// For each option of `poll`, the option it counts for: itself, or the
    /// last option along its idea's merge chain. Ideas in the chain that are
    /// not options of this poll are passed through, so a later merge into an
    /// idea outside the poll does not undo an earlier merge inside it.
    pub fn canonical_options(&self, poll: &Poll) -> HashMap<OptionId, OptionId> {
        let by_idea: HashMap<IdeaId, OptionId> =
            poll.options.iter().filter_map(|o| o.idea.map(|idea| (idea, o.id))).collect();
        poll.options
            .iter()
            .map(|o| {
                let mut target = o.id;
                if let Some(mut current) = o.idea {
                    // Merges form a forest, but bound the walk so a damaged log cannot loop.
                    for _ in 0..=self.ideas.len() {
                        let Some(next) = self.ideas.get(&current).and_then(|i| i.merged_into) else { break };
                        current = next;
                        if let Some(option) = by_idea.get(&current) {
                            target = *option;
                        }
                    }
                }
                (o.id, target)
            })
            .collect()
    }

    /// The channel a participant votes in; one the forum does not know (never
    /// in a valid log) counts as remote.
    pub(super) fn channel_of(&self, participant: &ParticipantId) -> Channel {
        self.participants.get(participant).map_or(Channel::Remote, |x| x.channel)
    }

    /// The options of `poll` as its counts see them (see `canonical_options`).
    pub fn option_index(&self, poll: &Poll) -> OptionIndex {
        let canonical = self.canonical_options(poll);
        OptionIndex::new(&poll.option_ids(), |o| canonical.get(&o).copied().unwrap_or(o))
    }

    /// Change the forum by one event.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ForumCreated { .. } => {}
            Event::ForumStarted {} => self.status = ForumStatus::Live,
            Event::ForumClosed {} => self.status = ForumStatus::Closed,
            Event::PremoderationSet { enabled } => self.premoderation = *enabled,
            Event::ItemAdded { item, title, description, timebox_secs } => {
                self.items.insert(
                    *item,
                    Item {
                        id: *item,
                        title: title.clone(),
                        description: description.clone(),
                        timebox_secs: *timebox_secs,
                        state: ItemState::Pending,
                        timer: None,
                    },
                );
                self.agenda.push(*item);
                self.next_item = self.next_item.max(item.0.saturating_add(1));
            }
            Event::ItemEdited { item, title, description, timebox_secs } => {
                if let Some(it) = self.items.get_mut(item) {
                    if let Some(t) = title {
                        it.title = t.clone();
                    }
                    if let Some(d) = description {
                        it.description = Some(d.clone());
                    }
                    if let Some(s) = timebox_secs {
                        it.timebox_secs = Some(*s);
                    }
                }
            }
            Event::ItemMoved { item, position } => {
                if let Some(from) = self.agenda.iter().position(|i| i == item) {
                    let id = self.agenda.remove(from);
                    let to = (*position as usize).min(self.agenda.len());
                    self.agenda.insert(to, id);
                }
            }
            Event::ItemRemoved { item } => {
                self.agenda.retain(|i| i != item);
                self.items.remove(item);
            }
            Event::ItemActivated { item, deadline_ms } => {
                if let Some(prev) = self.active_item.take() {
                    self.finish_item(prev);
                }
                if let Some(it) = self.items.get_mut(item) {
                    it.state = ItemState::Active;
                    if let Some(deadline) = deadline_ms {
                        it.timer = Some(Timer { deadline_ms: Some(*deadline), remaining_ms: 0 });
                    }
                    self.active_item = Some(*item);
                }
            }
            Event::ItemCompleted { item } => {
                self.finish_item(*item);
                if self.active_item == Some(*item) {
                    self.active_item = None;
                }
            }
            Event::TimerStarted { item, deadline_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    it.timer = Some(Timer { deadline_ms: Some(*deadline_ms), remaining_ms: 0 });
                }
            }
            Event::TimerPaused { item, remaining_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    it.timer = Some(Timer { deadline_ms: None, remaining_ms: *remaining_ms });
                }
            }
            Event::TimerExtended { item, extra_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    let mut timer = it.timer_or_fresh();
                    match timer.deadline_ms.as_mut() {
                        Some(deadline) => *deadline = deadline.saturating_add(*extra_ms),
                        None => timer.remaining_ms = timer.remaining_ms.saturating_add(*extra_ms),
                    }
                    it.timer = Some(timer);
                }
            }
            Event::ParticipantJoined { participant, channel, name, token_hash } => {
                self.participants
                    .insert(*participant, Participant { id: *participant, channel: *channel, name: name.clone() });
                self.participant_by_token.insert(token_hash.clone(), *participant);
            }
            Event::IdeaSubmitted { idea, item, text, author, approved } => {
                self.ideas.insert(
                    *idea,
                    Idea {
                        id: *idea,
                        item: *item,
                        text: text.clone(),
                        author: *author,
                        status: if *approved { IdeaStatus::Approved } else { IdeaStatus::Pending },
                        merged_into: None,
                    },
                );
                self.next_idea = self.next_idea.max(idea.0.saturating_add(1));
            }
            Event::IdeaApproved { idea } => self.set_idea_status(*idea, IdeaStatus::Approved),
            Event::IdeaHidden { idea } => self.set_idea_status(*idea, IdeaStatus::Hidden),
            Event::IdeaMerged { idea, into } => {
                if let Some(i) = self.ideas.get_mut(idea) {
                    i.status = IdeaStatus::Merged;
                    i.merged_into = Some(*into);
                }
                // A merge changes what ballots count for: recount the live pairwise counts (rare).
                self.rebuild_derived();
            }
            Event::PollCreated { poll, item, title, method, options, results } => {
                let options = options
                    .iter()
                    .zip(1u32..)
                    .map(|(OptionSpec { label, idea }, n)| PollOption {
                        id: OptionId(n),
                        label: label.clone(),
                        idea: *idea,
                    })
                    .collect();
                self.polls.insert(
                    *poll,
                    Poll {
                        id: *poll,
                        item: *item,
                        title: title.clone(),
                        method: method.clone(),
                        options,
                        status: PollStatus::Draft,
                        results: *results,
                        revealed: false,
                        ballots: BTreeMap::new(),
                        outcome: None,
                        hall_count: None,
                        comparisons: Comparisons::default(),
                        live: None,
                    },
                );
                self.rebuild_live(*poll);
                self.next_poll = self.next_poll.max(poll.0.saturating_add(1));
            }
            Event::PollOpened { poll } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.status = PollStatus::Open;
                }
            }
            Event::PollClosed { poll, outcome } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.status = PollStatus::Closed;
                    p.outcome = Some(outcome.clone());
                }
            }
            Event::ResultsRevealed { poll } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.revealed = true;
                }
            }
            Event::BallotCast { poll, participant, ballot } => {
                let options = self.polls.get(poll).filter(|p| p.live.is_some()).map(|p| self.option_index(p));
                let in_hall = self.channel_of(participant) == Channel::Hall;
                if let Some(p) = self.polls.get_mut(poll) {
                    if let (Some(live), Some(options)) = (p.live.as_mut(), options) {
                        live.replace(&options, p.ballots.get(participant), ballot, in_hall);
                    }
                    p.ballots.insert(*participant, ballot.clone());
                }
            }
            Event::PairOffered { poll, participant, pair, .. } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.comparisons.offers.insert(*participant, *pair);
                }
            }
            Event::ComparisonCast { poll, participant, winner, loser, skip } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.comparisons.answer(*participant, *winner, *loser, *skip);
                }
            }
            Event::HallCountEntered { poll, counts } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.hall_count = Some(counts.clone());
                }
            }
            Event::HallHeadcountSet { count } => self.hall_headcount = Some(*count),
            Event::HandRaised { speaker, participant, channel } => self.speakers.add(Speaker {
                id: *speaker,
                participant: Some(*participant),
                name: self.participants.get(participant).and_then(|p| p.name.clone()),
                channel: *channel,
                skipped: false,
            }),
            Event::SpeakerAdded { speaker, name } => self.speakers.add(Speaker {
                id: *speaker,
                participant: None,
                name: Some(name.clone()),
                channel: Channel::HallCount,
                skipped: false,
            }),
            Event::HandLowered { speaker } | Event::SpeakerRemoved { speaker } => {
                self.speakers.remove(*speaker);
            }
            Event::SpeakerCalled { speaker, at_ms, deadline_ms } => self.speakers.call(*speaker, *at_ms, *deadline_ms),
            Event::SpeakerSkipped { speaker } => self.speakers.skip(*speaker),
            Event::SpeakerMoved { speaker, position } => self.speakers.move_to(*speaker, *position as usize),
            Event::QueuePolicySet { policy } => self.speakers.policy = *policy,
            Event::SpeakingLimitSet { secs } => self.speakers.limit_secs = *secs,
            Event::SpeechEnded { at_ms } => self.speakers.end_speech(*at_ms),
            Event::SignalSet { item, participant, color } => {
                self.signals.entry(*item).or_default().insert(*participant, *color);
            }
        }
    }

    /// An item that is done keeps no running timer: its time is over.
    fn finish_item(&mut self, item: ItemId) {
        if let Some(it) = self.items.get_mut(&item) {
            it.state = ItemState::Done;
            if let Some(timer) = it.timer.as_mut() {
                *timer = Timer { deadline_ms: None, remaining_ms: 0 };
            }
        }
    }

    /// Recount every poll's live pairwise counts from its ballots: after a
    /// merge, and after a snapshot was loaded (they are not serialized).
    pub fn rebuild_derived(&mut self) {
        let ids: Vec<PollId> = self.polls.keys().copied().collect();
        ids.into_iter().for_each(|id| self.rebuild_live(id));
    }

    fn rebuild_live(&mut self, poll: PollId) {
        let Some(p) = self.polls.get(&poll) else { return };
        let live = matches!(p.method, PollMethod::Ranked { .. }).then(|| {
            let in_hall = |participant| self.channel_of(participant) == Channel::Hall;
            let ballots = p.ballots.iter().map(|(participant, ballot)| (ballot, in_hall(participant)));
            LivePairwise::recount(&self.option_index(p), ballots)
        });
        if let Some(p) = self.polls.get_mut(&poll) {
            p.live = live;
        }
    }

    fn set_idea_status(&mut self, idea: IdeaId, status: IdeaStatus) {
        if let Some(i) = self.ideas.get_mut(&idea) {
            i.status = status;
        }
    }
}
