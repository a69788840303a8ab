//! Polls and what participants put in them: creating, opening, closing
//! (with the outcome) and revealing a poll; device ballots; and the pairs and
//! comparisons of a pairwise poll.
//!
//! How a ballot or comparison is checked and counted is the method's business
//! (`method/`); this module knows the poll's life and which options count
//! for which after ideas were merged.

use std::collections::{BTreeMap, HashMap};

use madang_protocol::{
    Ballot, BallotSecrecy, Channel, Command, HallCounts, IdeaId, IdeaStatus, ItemId, OptionId, Outcome, ParticipantId,
    PollId, PollMethod, PollOptionsSpec, PollStatus, ResultsVisibility,
};
use serde::{Deserialize, Serialize};

use super::decide::{Actor, MAX_TITLE_CHARS, Result, clean_text, misrouted};
use super::event::OptionSpec;
use super::limits::{Limits, rule};
use super::method::pairwise::{self, Comparisons};
use super::method::ranked::LivePairwise;
use super::method::{self, OptionIndex};
use super::receipts::{self, Receipt};
use super::{DomainError, Event, Forum};

pub(crate) const MAX_OPTIONS: usize = 100;

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
    /// Whether ballots are published with their voters' names.
    #[serde(default)]
    pub secrecy: BallotSecrecy,
    /// Each voter's receipt in this poll (`receipts`).
    #[serde(default)]
    pub receipts: BTreeMap<ParticipantId, Receipt>,
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

impl Forum {
    /// Decide a command on a poll, its ballots or its comparisons.
    pub(super) fn decide_polls(&self, actor: Actor, command: &Command, now_ms: u64, limits: &Limits) -> Result<Event> {
        match command {
            Command::CreatePoll { item, title, method, options, results, ballots } => {
                Limits::check(self.polls.len(), limits.polls, rule::POLLS, "a forum holds this many polls")?;
                let mut event = self.decide_create_poll(*item, title, method, options, *results, limits)?;
                if let Event::PollCreated { secrecy, .. } = &mut event {
                    *secrecy = *ballots;
                }
                Ok(event)
            }
            Command::OpenPoll { poll } => {
                self.require_live()?;
                match self.poll(*poll)?.status {
                    PollStatus::Draft => Ok(Event::PollOpened { poll: *poll }),
                    PollStatus::Open => Err(DomainError::InvalidState(format!("poll {poll} is already open"))),
                    PollStatus::Closed => Err(DomainError::InvalidState(format!("poll {poll} is closed"))),
                }
            }
            Command::ClosePoll { poll } => {
                let p = self.poll(*poll)?;
                if p.status != PollStatus::Open {
                    return Err(DomainError::InvalidState(format!("poll {poll} is not open")));
                }
                Ok(Event::PollClosed {
                    poll: *poll,
                    outcome: Box::new(Outcome {
                        poll: *poll,
                        title: p.title.clone(),
                        method: p.method.clone(),
                        closed_at_ms: now_ms,
                        tally: self.tally(p),
                        record: None,
                    }),
                })
            }
            Command::RevealResults { poll } => {
                let p = self.poll(*poll)?;
                if p.results_public() {
                    return Err(DomainError::InvalidState(format!("the results of poll {poll} are already visible")));
                }
                Ok(Event::ResultsRevealed { poll: *poll })
            }
            Command::CastBallot { poll, ballot } => {
                let Actor::Participant(participant) = actor else {
                    return Err(DomainError::Forbidden("only participants cast ballots".into()));
                };
                self.require_live()?;
                let p = self.poll(*poll)?;
                if p.status != PollStatus::Open {
                    return Err(DomainError::InvalidState(format!("poll {poll} is not open")));
                }
                self.check_named_voter(p, participant)?;
                method::validate_ballot(&p.method, &self.option_index(p), ballot)?;
                let receipt = Some(self.next_receipt(p, participant));
                Ok(Event::BallotCast { poll: *poll, participant, ballot: ballot.clone(), receipt })
            }
            Command::NextPair { poll } => {
                let participant = self.acting_participant(actor)?;
                let p = self.open_pairwise_poll(*poll)?;
                match pairwise::next_pair(&self.option_index(p), &p.comparisons, participant) {
                    Some((pair, pairs_left)) => Ok(Event::PairOffered { poll: *poll, participant, pair, pairs_left }),
                    None => Err(DomainError::InvalidState(format!("you have answered every pair of poll {poll}"))),
                }
            }
            Command::CastComparison { poll, winner, loser, skip } => {
                let participant = self.acting_participant(actor)?;
                let p = self.open_pairwise_poll(*poll)?;
                self.check_named_voter(p, participant)?;
                pairwise::validate_comparison(&self.option_index(p), *winner, *loser)?;
                let receipt = Some(self.comparison_receipt(p, participant));
                Ok(Event::ComparisonCast {
                    poll: *poll,
                    participant,
                    winner: *winner,
                    loser: *loser,
                    skip: *skip,
                    receipt,
                })
            }
            other => Err(misrouted(other)),
        }
    }

    fn decide_create_poll(
        &self,
        item: Option<ItemId>,
        title: &str,
        method: &PollMethod,
        options: &PollOptionsSpec,
        results: ResultsVisibility,
        limits: &Limits,
    ) -> Result<Event> {
        let item = match item.or(self.active_item) {
            Some(i) => self.item(i)?.id,
            None => return Err(DomainError::InvalidState("no item given and no current agenda item".into())),
        };
        let title = clean_text("title", title, MAX_TITLE_CHARS)?;
        check_method(method)?;
        let spec = options;
        let options: Vec<OptionSpec> = match options {
            PollOptionsSpec::None {} => Vec::new(),
            PollOptionsSpec::Fixed { labels } => labels
                .iter()
                .map(|l| Ok(OptionSpec { label: clean_text("option label", l, MAX_TITLE_CHARS)?, idea: None }))
                .collect::<Result<_>>()?,
            PollOptionsSpec::Ideas {} => self
                .ideas
                .values()
                .filter(|i| i.item == item && i.status == IdeaStatus::Approved)
                .map(|i| OptionSpec { label: i.text.clone(), idea: Some(i.id) })
                .collect(),
        };
        match method {
            PollMethod::YesNo { .. } if !options.is_empty() || !matches!(spec, PollOptionsSpec::None {}) => {
                return Err(DomainError::Invalid(
                    "a yes/no poll has no options: use options {\"from\":\"none\"}".into(),
                ));
            }
            PollMethod::YesNo { .. } => {}
            _ if options.len() < 2 => {
                return Err(DomainError::Invalid(format!(
                    "this poll needs at least 2 options, it has {}",
                    options.len()
                )));
            }
            _ if options.len() > MAX_OPTIONS => {
                return Err(DomainError::Invalid(format!("a poll has at most {MAX_OPTIONS} options")));
            }
            _ => {}
        }
        let existing: usize = self.polls.values().map(|p| p.options.len()).sum();
        Limits::check_total(
            existing + options.len(),
            limits.poll_options,
            rule::POLL_OPTIONS,
            "the polls of a forum have this many options together",
        )?;
        Ok(Event::PollCreated {
            poll: self.next_poll_id(),
            item,
            title,
            method: method.clone(),
            options,
            results,
            secrecy: BallotSecrecy::Secret,
        })
    }

    /// A named poll publishes each ballot with its voter's name: a voter
    /// who joined without one cannot vote in it.
    fn check_named_voter(&self, poll: &Poll, participant: ParticipantId) -> Result<()> {
        let named = self.participants.get(&participant).is_some_and(|p| p.name.is_some());
        if poll.secrecy == BallotSecrecy::Named && !named {
            return Err(DomainError::Rule {
                rule: "named.requires_name",
                message: format!(
                    "poll {} is a named vote: only participants who joined with their name vote in it",
                    poll.id
                ),
            });
        }
        Ok(())
    }

    /// A poll that takes comparisons now: it exists, is pairwise and open, and the forum is live.
    fn open_pairwise_poll(&self, poll: PollId) -> Result<&Poll> {
        self.require_live()?;
        let p = self.poll(poll)?;
        if !matches!(p.method, PollMethod::Pairwise {}) {
            return Err(DomainError::Invalid(format!(
                "poll {poll} is not a pairwise poll: pairs are for pairwise polls; use cast_ballot"
            )));
        }
        if p.status != PollStatus::Open {
            return Err(DomainError::InvalidState(format!("poll {poll} is not open")));
        }
        Ok(p)
    }

    pub(super) fn poll(&self, id: PollId) -> Result<&Poll> {
        self.polls.get(&id).ok_or(DomainError::NotFound { what: "poll", id: id.0 })
    }

    /// Change a poll by one event.
    pub(super) fn apply_polls(&mut self, event: &Event) {
        match event {
            Event::PollCreated { poll, item, title, method, options, results, secrecy } => {
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
                        secrecy: *secrecy,
                        receipts: BTreeMap::new(),
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
                    p.outcome = Some(Outcome::clone(outcome));
                }
            }
            Event::ResultsRevealed { poll } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.revealed = true;
                }
            }
            Event::BallotCast { poll, participant, ballot, receipt } => {
                let options = self.polls.get(poll).filter(|p| p.live.is_some()).map(|p| self.option_index(p));
                let in_hall = self.channel_of(participant) == Channel::Hall;
                let receipt = match (receipt, self.polls.get(poll)) {
                    (Some(r), _) => r.clone(),
                    (None, Some(p)) => self.next_receipt(p, *participant),
                    (None, None) => String::new(),
                };
                if let Some(p) = self.polls.get_mut(poll) {
                    let casts = p.receipts.get(participant).map_or(0, |r| r.casts).saturating_add(1);
                    p.receipts.insert(*participant, Receipt { casts, current: receipt });
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
            Event::ComparisonCast { poll, participant, winner, loser, skip, receipt } => {
                let receipt = match (receipt, self.polls.get(poll)) {
                    (Some(r), _) => r.clone(),
                    (None, Some(p)) => self.comparison_receipt(p, *participant),
                    (None, None) => String::new(),
                };
                if let Some(p) = self.polls.get_mut(poll) {
                    p.receipts.entry(*participant).or_insert(Receipt { casts: 1, current: receipt });
                    p.comparisons.answer(*participant, *winner, *loser, *skip);
                }
            }
            _ => {}
        }
    }

    /// The receipt of `participant`'s next ballot in `poll`: a new one for each ballot cast.
    fn next_receipt(&self, poll: &Poll, participant: ParticipantId) -> String {
        let earlier = poll.receipts.get(&participant).map_or(0, |r| r.casts);
        receipts::receipt(&self.receipt_key, poll.id, participant, earlier)
    }

    /// The one receipt of `participant`'s comparisons in a pairwise `poll`.
    fn comparison_receipt(&self, poll: &Poll, participant: ParticipantId) -> String {
        match poll.receipts.get(&participant) {
            Some(r) => r.current.clone(),
            None => receipts::receipt(&self.receipt_key, poll.id, participant, 0),
        }
    }

    /// Recount every poll's live pairwise counts from its ballots: after a
    /// merge, and after a snapshot was loaded (they are not serialized).
    pub fn rebuild_derived(&mut self) {
        let ids: Vec<PollId> = self.polls.keys().copied().collect();
        ids.into_iter().for_each(|id| self.rebuild_live(id));
    }

    pub(super) fn rebuild_live(&mut self, poll: PollId) {
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

    /// The options of `poll` as its counts see them (see `canonical_options`).
    pub(crate) fn option_index(&self, poll: &Poll) -> OptionIndex {
        let canonical = self.canonical_options(poll);
        OptionIndex::new(&poll.option_ids(), |o| canonical.get(&o).copied().unwrap_or(o))
    }
}

fn check_method(method: &PollMethod) -> Result<()> {
    let bad = |m: &str| Err(DomainError::Invalid(m.to_string()));
    match method {
        PollMethod::Approval { max_choices: 0 } => bad("max_choices must be at least 1"),
        PollMethod::Dots { budget: 0, .. } => bad("budget must be at least 1"),
        PollMethod::Dots { max_per_option: 0, .. } => bad("max_per_option must be at least 1"),
        PollMethod::Ranked { max_ranks: Some(0), .. } => bad("max_ranks must be at least 1"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
