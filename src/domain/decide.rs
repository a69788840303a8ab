//! Deciding: a command checked against the current forum becomes one event,
//! or an error that says which rule it broke.
//!
//! Deciding never changes the forum; the caller persists the event and then
//! applies it. The time of the decision is passed in (`now_ms`), so these
//! rules run the same in tests, in replay, and on every hub node.

use madang_protocol::{
    Channel, Command, ForumStatus, IdeaId, IdeaStatus, ItemId, ItemState, PollId, PollMethod, PollOptionsSpec,
    PollStatus, ResultsVisibility,
};

use super::event::{Event, OptionSpec};
use super::forum::{Forum, Idea, Item, Poll};
use super::hall;
use super::method::{self, BallotError, pairwise};
use super::speakers::MAX_WAITING;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Moderator,
    Display,
    Participant(madang_protocol::ParticipantId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: u32 },
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ballot(#[from] BallotError),
}

type Result<T> = std::result::Result<T, DomainError>;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_IDEA_CHARS: usize = 500;
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_OPTIONS: usize = 100;
pub const MAX_AGENDA_ITEMS: usize = 200;
/// A time box or extension longer than a day is a typo, not a plan.
pub const MAX_TIMER_SECS: u32 = 24 * 60 * 60;

/// Trim and bound a piece of text; `what` names it in the error.
pub fn clean_text(what: &str, text: &str, max_chars: usize) -> Result<String> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(DomainError::Invalid(format!("{what} must not be empty")));
    }
    if chars > max_chars {
        return Err(DomainError::Invalid(format!("{what} is {chars} characters; at most {max_chars} are allowed")));
    }
    Ok(trimmed.to_string())
}

fn check_secs(what: &str, secs: u32) -> Result<u32> {
    if secs == 0 || secs > MAX_TIMER_SECS {
        return Err(DomainError::Invalid(format!("{what} must be between 1 and {MAX_TIMER_SECS} seconds")));
    }
    Ok(secs)
}

/// Which commands each role may send.
fn authorize(actor: Actor, command: &Command) -> Result<()> {
    let participant_only = matches!(
        command,
        Command::CastBallot { .. }
            | Command::NextPair { .. }
            | Command::CastComparison { .. }
            | Command::RaiseHand {}
            | Command::LowerHand {}
            | Command::Signal { .. }
    );
    let participant_command = participant_only || matches!(command, Command::SubmitIdea { .. });
    match actor {
        Actor::Display => Err(DomainError::Forbidden("displays are read-only".into())),
        Actor::Participant(_) if !participant_command => {
            Err(DomainError::Forbidden(format!("`{}` is for moderators", command.name())))
        }
        Actor::Moderator if matches!(command, Command::CastBallot { .. }) => Err(DomainError::Forbidden(
            "moderators do not cast ballots: enter hall counts with `enter_hall_count`".into(),
        )),
        Actor::Moderator if matches!(command, Command::NextPair { .. } | Command::CastComparison { .. }) => {
            Err(DomainError::Forbidden(format!(
                "`{}` is for participants: moderators do not compare pairs",
                command.name()
            )))
        }
        Actor::Moderator if matches!(command, Command::RaiseHand {} | Command::LowerHand {}) => {
            Err(DomainError::Forbidden(format!(
                "`{}` is for participants: add hall people with `add_speaker`",
                command.name()
            )))
        }
        Actor::Moderator if participant_only => {
            Err(DomainError::Forbidden(format!("`{}` is for participants", command.name())))
        }
        _ => Ok(()),
    }
}

impl Forum {
    /// Decide a command. The returned event is what would happen; nothing has happened yet.
    pub fn decide(&self, actor: Actor, command: &Command, now_ms: u64) -> Result<Event> {
        authorize(actor, command)?;
        if self.status == ForumStatus::Closed {
            return Err(DomainError::InvalidState("the forum is closed".into()));
        }
        match command {
            Command::StartForum {} => match self.status {
                ForumStatus::Draft => Ok(Event::ForumStarted {}),
                _ => Err(DomainError::InvalidState("the forum is already live".into())),
            },
            Command::CloseForum {} => match self.polls.values().find(|p| p.status == PollStatus::Open) {
                Some(open) => Err(DomainError::InvalidState(format!("poll {} is still open: close it first", open.id))),
                None => Ok(Event::ForumClosed {}),
            },
            Command::SetPremoderation { enabled } => Ok(Event::PremoderationSet { enabled: *enabled }),
            Command::AddItem { title, description, timebox_secs } => {
                if self.agenda.len() >= MAX_AGENDA_ITEMS {
                    return Err(DomainError::Invalid(format!("an agenda holds at most {MAX_AGENDA_ITEMS} items")));
                }
                Ok(Event::ItemAdded {
                    item: self.next_item_id(),
                    title: clean_text("title", title, MAX_TITLE_CHARS)?,
                    description: description
                        .as_deref()
                        .map(|d| clean_text("description", d, MAX_DESCRIPTION_CHARS))
                        .transpose()?,
                    timebox_secs: timebox_secs.map(|s| check_secs("timebox_secs", s)).transpose()?,
                })
            }
            Command::EditItem { item, title, description, timebox_secs } => {
                self.pending_item(*item)?;
                Ok(Event::ItemEdited {
                    item: *item,
                    title: title.as_deref().map(|t| clean_text("title", t, MAX_TITLE_CHARS)).transpose()?,
                    description: description
                        .as_deref()
                        .map(|d| clean_text("description", d, MAX_DESCRIPTION_CHARS))
                        .transpose()?,
                    timebox_secs: timebox_secs.map(|s| check_secs("timebox_secs", s)).transpose()?,
                })
            }
            Command::MoveItem { item, position } => {
                self.pending_item(*item)?;
                if *position as usize >= self.agenda.len() {
                    return Err(DomainError::Invalid(format!(
                        "position {position} is past the end of the agenda ({} items)",
                        self.agenda.len()
                    )));
                }
                Ok(Event::ItemMoved { item: *item, position: *position })
            }
            Command::RemoveItem { item } => {
                self.pending_item(*item)?;
                if self.polls.values().any(|p| p.item == *item) {
                    return Err(DomainError::InvalidState(format!("item {item} has polls; it cannot be removed")));
                }
                Ok(Event::ItemRemoved { item: *item })
            }
            Command::ActivateItem { item } => {
                self.require_live()?;
                let it = self.item(*item)?;
                match it.state {
                    ItemState::Pending => {
                        Ok(Event::ItemActivated { item: *item, deadline_ms: activation_deadline(it, now_ms) })
                    }
                    ItemState::Active => Err(DomainError::InvalidState(format!("item {item} is already active"))),
                    ItemState::Done => Err(DomainError::InvalidState(format!("item {item} is done"))),
                }
            }
            Command::CompleteItem { item } => match self.item(*item)?.state {
                ItemState::Done => Err(DomainError::InvalidState(format!("item {item} is already done"))),
                _ => Ok(Event::ItemCompleted { item: *item }),
            },
            Command::StartTimer { item } => {
                let it = self.timed_item(*item)?;
                let timer = it.timer_or_fresh();
                if timer.deadline_ms.is_some() {
                    return Err(DomainError::InvalidState(format!("the timer of item {item} is already running")));
                }
                Ok(Event::TimerStarted { item: *item, deadline_ms: now_ms.saturating_add(timer.remaining_ms) })
            }
            Command::PauseTimer { item } => {
                let it = self.timed_item(*item)?;
                match it.timer.and_then(|t| t.deadline_ms) {
                    Some(deadline) => {
                        Ok(Event::TimerPaused { item: *item, remaining_ms: deadline.saturating_sub(now_ms) })
                    }
                    None => Err(DomainError::InvalidState(format!("the timer of item {item} is not running"))),
                }
            }
            Command::ExtendTimer { item, secs } => {
                if self.item(*item)?.state == ItemState::Done {
                    return Err(DomainError::InvalidState(format!("item {item} is done")));
                }
                let extra_ms = u64::from(check_secs("secs", *secs)?) * 1000;
                match self.item(*item)?.timer.and_then(|t| t.deadline_ms) {
                    // Time already ran out: the extension counts from now, not from the past deadline.
                    Some(deadline) if deadline <= now_ms => {
                        Ok(Event::TimerStarted { item: *item, deadline_ms: now_ms.saturating_add(extra_ms) })
                    }
                    _ => Ok(Event::TimerExtended { item: *item, extra_ms }),
                }
            }
            Command::SubmitIdea { text } => {
                self.require_live()?;
                let Some(item) = self.active_item else {
                    return Err(DomainError::InvalidState("there is no current agenda item to put ideas under".into()));
                };
                let author = match actor {
                    Actor::Participant(p) => Some(p),
                    _ => None,
                };
                Ok(Event::IdeaSubmitted {
                    idea: self.next_idea_id(),
                    item,
                    text: clean_text("idea", text, MAX_IDEA_CHARS)?,
                    author,
                    approved: author.is_none() || !self.premoderation,
                })
            }
            Command::ApproveIdea { idea } => match self.idea(*idea)?.status {
                IdeaStatus::Pending | IdeaStatus::Hidden => Ok(Event::IdeaApproved { idea: *idea }),
                IdeaStatus::Approved => Err(DomainError::InvalidState(format!("idea {idea} is already approved"))),
                IdeaStatus::Merged => Err(DomainError::InvalidState(format!("idea {idea} was merged"))),
            },
            Command::HideIdea { idea } => match self.idea(*idea)?.status {
                IdeaStatus::Pending | IdeaStatus::Approved => Ok(Event::IdeaHidden { idea: *idea }),
                IdeaStatus::Hidden => Err(DomainError::InvalidState(format!("idea {idea} is already hidden"))),
                IdeaStatus::Merged => Err(DomainError::InvalidState(format!("idea {idea} was merged"))),
            },
            Command::MergeIdea { idea, into } => self.decide_merge(*idea, *into),
            Command::CreatePoll { item, title, method, options, results } => {
                self.decide_create_poll(*item, title, method, options, *results)
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
                    outcome: madang_protocol::Outcome {
                        poll: *poll,
                        title: p.title.clone(),
                        method: p.method.clone(),
                        closed_at_ms: now_ms,
                        tally: self.tally(p),
                    },
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
                method::validate_ballot(&p.method, &self.option_index(p), ballot)?;
                Ok(Event::BallotCast { poll: *poll, participant, ballot: ballot.clone() })
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
                pairwise::validate_comparison(&self.option_index(p), *winner, *loser)?;
                Ok(Event::ComparisonCast { poll: *poll, participant, winner: *winner, loser: *loser, skip: *skip })
            }
            Command::EnterHallCount { poll, counts } => {
                let p = self.poll(*poll)?;
                if matches!(p.method, PollMethod::Pairwise {}) {
                    return Err(DomainError::InvalidState(format!(
                        "poll {poll} is a pairwise poll: it takes no hall count (pairs cannot be counted by hand)"
                    )));
                }
                match p.status {
                    PollStatus::Open => {}
                    PollStatus::Draft => {
                        return Err(DomainError::InvalidState(format!(
                            "poll {poll} is not open yet: hall counts are entered while it is open"
                        )));
                    }
                    PollStatus::Closed => {
                        return Err(DomainError::InvalidState(format!(
                            "poll {poll} is closed: its hall count can no longer change"
                        )));
                    }
                }
                method::validate_hall_count(&p.method, &self.option_index(p), counts)?;
                Ok(Event::HallCountEntered { poll: *poll, counts: counts.clone() })
            }
            Command::SetHallHeadcount { count } => Ok(Event::HallHeadcountSet { count: hall::headcount(*count)? }),
            Command::RaiseHand {} => {
                let participant = self.acting_participant(actor)?;
                self.require_live()?;
                if self.speakers.waiting_participant(participant).is_some() {
                    return Err(DomainError::InvalidState("your hand is already raised".into()));
                }
                if self.speakers.current.as_ref().is_some_and(|s| s.speaker.participant == Some(participant)) {
                    return Err(DomainError::InvalidState("you have the floor now".into()));
                }
                self.check_queue_room()?;
                let channel = self
                    .participants
                    .get(&participant)
                    .map(|p| p.channel)
                    .ok_or(DomainError::NotFound { what: "participant", id: participant.0 })?;
                Ok(Event::HandRaised { speaker: self.speakers.next_id(), participant, channel })
            }
            Command::LowerHand {} => {
                let participant = self.acting_participant(actor)?;
                match self.speakers.waiting_participant(participant) {
                    Some(s) => Ok(Event::HandLowered { speaker: s.id }),
                    None => Err(DomainError::InvalidState("your hand is not raised".into())),
                }
            }
            Command::AddSpeaker { name } => {
                self.require_live()?;
                self.check_queue_room()?;
                Ok(Event::SpeakerAdded {
                    speaker: self.speakers.next_id(),
                    name: clean_text("name", name, MAX_NAME_CHARS)?,
                })
            }
            Command::CallNext {} => {
                self.require_live()?;
                let Some(next) = self.speakers.next() else {
                    return Err(DomainError::InvalidState("nobody is waiting to speak".into()));
                };
                let deadline_ms = self.speakers.limit_secs.map(|s| now_ms.saturating_add(u64::from(s) * 1000));
                Ok(Event::SpeakerCalled { speaker: next.id, at_ms: now_ms, deadline_ms })
            }
            Command::SkipSpeaker {} => match self.speakers.next() {
                Some(next) => Ok(Event::SpeakerSkipped { speaker: next.id }),
                None => Err(DomainError::InvalidState("nobody is waiting to speak".into())),
            },
            Command::RemoveSpeaker { speaker } => match self.speakers.position(*speaker) {
                Some(_) => Ok(Event::SpeakerRemoved { speaker: *speaker }),
                None => Err(DomainError::NotFound { what: "waiting speaker", id: speaker.0 }),
            },
            Command::MoveSpeaker { speaker, position } => {
                if self.speakers.position(*speaker).is_none() {
                    return Err(DomainError::NotFound { what: "waiting speaker", id: speaker.0 });
                }
                let waiting = self.speakers.waiting.len();
                if *position as usize >= waiting {
                    return Err(DomainError::Invalid(format!(
                        "position {position} is past the end of the queue ({waiting} waiting)"
                    )));
                }
                Ok(Event::SpeakerMoved { speaker: *speaker, position: *position })
            }
            Command::SetQueuePolicy { policy } => Ok(Event::QueuePolicySet { policy: *policy }),
            Command::SetSpeakingLimit { secs } => {
                Ok(Event::SpeakingLimitSet { secs: secs.map(|s| check_secs("secs", s)).transpose()? })
            }
            Command::EndSpeech {} => match self.speakers.current {
                Some(_) => Ok(Event::SpeechEnded { at_ms: now_ms }),
                None => Err(DomainError::InvalidState("nobody has the floor".into())),
            },
            Command::Signal { color } => {
                let participant = self.acting_participant(actor)?;
                self.require_live()?;
                let Some(item) = self.active_item else {
                    return Err(DomainError::InvalidState("there is no current agenda item to signal on".into()));
                };
                Ok(Event::SignalSet { item, participant, color: *color })
            }
        }
    }

    fn acting_participant(&self, actor: Actor) -> Result<madang_protocol::ParticipantId> {
        match actor {
            Actor::Participant(p) => Ok(p),
            _ => Err(DomainError::Forbidden("only participants may do this".into())),
        }
    }

    fn check_queue_room(&self) -> Result<()> {
        if self.speakers.waiting.len() >= MAX_WAITING {
            return Err(DomainError::Invalid(format!("at most {MAX_WAITING} people can wait to speak")));
        }
        Ok(())
    }

    /// A new participant joining with a code of `channel`.
    pub fn decide_join(&self, channel: Channel, name: Option<&str>, token_hash: String) -> Result<Event> {
        if self.status == ForumStatus::Closed {
            return Err(DomainError::InvalidState("the forum is closed".into()));
        }
        if channel == Channel::HallCount {
            return Err(DomainError::Invalid("participants join as remote or hall".into()));
        }
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(clean_text("name", n, MAX_NAME_CHARS)?),
            None => None,
        };
        Ok(Event::ParticipantJoined { participant: self.next_participant_id(), channel, name, token_hash })
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

    fn decide_merge(&self, idea: IdeaId, into: IdeaId) -> Result<Event> {
        if idea == into {
            return Err(DomainError::Invalid("an idea cannot be merged into itself".into()));
        }
        let (from, to) = (self.idea(idea)?, self.idea(into)?);
        if from.status == IdeaStatus::Merged {
            return Err(DomainError::InvalidState(format!("idea {idea} was already merged")));
        }
        if to.status != IdeaStatus::Approved {
            return Err(DomainError::InvalidState(format!("idea {into} must be approved to take a merge")));
        }
        if from.item != to.item {
            return Err(DomainError::Invalid("ideas of different agenda items cannot be merged".into()));
        }
        Ok(Event::IdeaMerged { idea, into })
    }

    fn decide_create_poll(
        &self,
        item: Option<ItemId>,
        title: &str,
        method: &PollMethod,
        options: &PollOptionsSpec,
        results: ResultsVisibility,
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
        Ok(Event::PollCreated { poll: self.next_poll_id(), item, title, method: method.clone(), options, results })
    }

    fn require_live(&self) -> Result<()> {
        match self.status {
            ForumStatus::Live => Ok(()),
            ForumStatus::Draft => Err(DomainError::InvalidState("the forum has not started yet".into())),
            ForumStatus::Closed => Err(DomainError::InvalidState("the forum is closed".into())),
        }
    }

    fn item(&self, id: ItemId) -> Result<&Item> {
        self.items.get(&id).ok_or(DomainError::NotFound { what: "item", id: id.0 })
    }

    fn pending_item(&self, id: ItemId) -> Result<&Item> {
        let item = self.item(id)?;
        if item.state != ItemState::Pending {
            return Err(DomainError::InvalidState(format!("item {id} is no longer pending")));
        }
        Ok(item)
    }

    fn timed_item(&self, id: ItemId) -> Result<&Item> {
        let item = self.item(id)?;
        if item.state == ItemState::Done {
            return Err(DomainError::InvalidState(format!("item {id} is done")));
        }
        if item.timebox_secs.is_none() && item.timer.is_none() {
            return Err(DomainError::InvalidState(format!(
                "item {id} has no time box: set timebox_secs, or extend the timer to give it time"
            )));
        }
        Ok(item)
    }

    fn idea(&self, id: IdeaId) -> Result<&Idea> {
        self.ideas.get(&id).ok_or(DomainError::NotFound { what: "idea", id: id.0 })
    }

    fn poll(&self, id: PollId) -> Result<&Poll> {
        self.polls.get(&id).ok_or(DomainError::NotFound { what: "poll", id: id.0 })
    }
}

/// The deadline an item's countdown gets when it becomes the current item:
/// its time box (or what is left of a timer extended or paused before), from
/// now. `None` when it has no time, or its timer already runs.
fn activation_deadline(item: &Item, now_ms: u64) -> Option<u64> {
    if item.timebox_secs.is_none() && item.timer.is_none() {
        return None;
    }
    let timer = item.timer_or_fresh();
    match timer.deadline_ms {
        Some(_) => None,
        None => Some(now_ms.saturating_add(timer.remaining_ms)),
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
