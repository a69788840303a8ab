//! The speaker queue: raised hands from remote and hall devices and people
//! the moderator adds by name, in one queue, called under a policy.
//!
//! The queue keeps speakers in arrival order (which `move_speaker` can
//! change); the policy turns that into the calling order with a pure function
//! (`calling_order`), so that what the projector shows is exactly who
//! `call_next` picks. Times (start and end of speeches) are decided by the
//! caller and carried in events: nothing here reads a clock.

use std::collections::BTreeSet;

use madang_protocol::{Channel, Command, ParticipantId, QueuePolicy, SpeakerId};
use serde::{Deserialize, Serialize};

use super::decide::{Actor, MAX_NAME_CHARS, Result, check_secs, clean_text, misrouted};
use super::limits::{Limits, rule};
use super::{DomainError, Event, Forum};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Speaker {
    pub id: SpeakerId,
    /// The participant who raised their hand; `None` for people added by name.
    pub participant: Option<ParticipantId>,
    /// For people added by name; a participant's name is their join name.
    pub name: Option<String>,
    pub channel: Channel,
    /// Passed over with `skip_speaker`: waits behind everyone not skipped.
    #[serde(default)]
    pub skipped: bool,
}

impl Speaker {
    /// Who this is across turns, for "has spoken before": a participant by
    /// id, a person added by name by their name (case and spacing ignored).
    pub fn person(&self) -> Person {
        match (self.participant, &self.name) {
            (Some(p), _) => Person::Participant(p),
            (None, Some(name)) => Person::Named(name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()),
            (None, None) => Person::Named(String::new()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Person {
    Participant(ParticipantId),
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Speech {
    pub speaker: Speaker,
    pub started_ms: u64,
    pub deadline_ms: Option<u64>,
}

/// Speeches of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    pub speeches: u32,
    pub speaking_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpeakerQueue {
    pub policy: QueuePolicy,
    pub limit_secs: Option<u32>,
    /// In arrival order.
    pub waiting: Vec<Speaker>,
    pub current: Option<Speech>,
    /// Everyone who was given the floor.
    pub spoken: BTreeSet<Person>,
    /// The channel of the last speaker called, for `alternate`.
    pub last_channel: Option<Channel>,
    pub remote: Stats,
    pub hall: Stats,
    pub hall_count: Stats,
    next_speaker: u32,
}

impl SpeakerQueue {
    pub fn next_id(&self) -> SpeakerId {
        SpeakerId(self.next_speaker.max(1))
    }

    pub fn stats_mut(&mut self, channel: Channel) -> &mut Stats {
        match channel {
            Channel::Remote => &mut self.remote,
            Channel::Hall => &mut self.hall,
            Channel::HallCount => &mut self.hall_count,
        }
    }

    pub fn position(&self, speaker: SpeakerId) -> Option<usize> {
        self.waiting.iter().position(|s| s.id == speaker)
    }

    pub fn waiting_participant(&self, participant: ParticipantId) -> Option<&Speaker> {
        self.waiting.iter().find(|s| s.participant == Some(participant))
    }

    /// The waiting speakers in the order they will be called.
    pub fn order(&self) -> Vec<&Speaker> {
        calling_order(self.policy, &self.waiting, |s| self.spoken.contains(&s.person()), self.last_channel)
    }

    /// Who `call_next` gives the floor to.
    pub fn next(&self) -> Option<&Speaker> {
        self.order().into_iter().next()
    }

    // --- changes, from events (total: unknown speakers are ignored) --------

    pub fn add(&mut self, speaker: Speaker) {
        self.next_speaker = self.next_speaker.max(speaker.id.0.saturating_add(1));
        self.waiting.push(speaker);
    }

    pub fn remove(&mut self, speaker: SpeakerId) -> Option<Speaker> {
        self.position(speaker).map(|i| self.waiting.remove(i))
    }

    /// End the current speech at `at_ms`, adding its time to its channel.
    pub fn end_speech(&mut self, at_ms: u64) {
        if let Some(speech) = self.current.take() {
            let took = at_ms.saturating_sub(speech.started_ms);
            let stats = self.stats_mut(speech.speaker.channel);
            stats.speaking_ms = stats.speaking_ms.saturating_add(took);
        }
    }

    /// Give the floor to a waiting speaker from `at_ms`.
    pub fn call(&mut self, speaker: SpeakerId, at_ms: u64, deadline_ms: Option<u64>) {
        self.end_speech(at_ms);
        let Some(mut speaker) = self.remove(speaker) else { return };
        speaker.skipped = false;
        let stats = self.stats_mut(speaker.channel);
        stats.speeches = stats.speeches.saturating_add(1);
        self.spoken.insert(speaker.person());
        self.last_channel = Some(speaker.channel);
        self.current = Some(Speech { speaker, started_ms: at_ms, deadline_ms });
    }

    /// Pass over a waiting speaker: to the back of the arrival order, behind
    /// everyone not skipped.
    pub fn skip(&mut self, speaker: SpeakerId) {
        if let Some(mut s) = self.remove(speaker) {
            s.skipped = true;
            self.waiting.push(s);
        }
    }

    /// Move a waiting speaker to `position` in the arrival order. A moved
    /// speaker is no longer skipped: the moderator placed them on purpose.
    pub fn move_to(&mut self, speaker: SpeakerId, position: usize) {
        if let Some(mut s) = self.remove(speaker) {
            s.skipped = false;
            let to = position.min(self.waiting.len());
            self.waiting.insert(to, s);
        }
    }
}

/// The calling order of `waiting` (given in arrival order) under `policy`.
///
/// Skipped speakers always come last, in the order they were skipped. Before
/// them:
/// - `fifo`: the arrival order;
/// - `not_spoken_first`: those for whom `has_spoken` is false, then the
///   others, each group in arrival order;
/// - `alternate`: the room (`hall`, `hall_count`) and `remote` take turns,
///   each side in arrival order. The side that did not have the last speech
///   (`last_channel`) goes first; with no speech yet, the side of the earliest
///   arrival. When one side runs out, the other follows in arrival order.
pub fn calling_order(
    policy: QueuePolicy,
    waiting: &[Speaker],
    has_spoken: impl Fn(&Speaker) -> bool,
    last_channel: Option<Channel>,
) -> Vec<&Speaker> {
    let (ready, skipped): (Vec<&Speaker>, Vec<&Speaker>) = waiting.iter().partition(|s| !s.skipped);
    let mut order: Vec<&Speaker> = match policy {
        QueuePolicy::Fifo => ready,
        QueuePolicy::NotSpokenFirst => {
            let (fresh, again): (Vec<&Speaker>, Vec<&Speaker>) = ready.into_iter().partition(|s| !has_spoken(s));
            fresh.into_iter().chain(again).collect()
        }
        QueuePolicy::Alternate => {
            let (room, remote): (Vec<&Speaker>, Vec<&Speaker>) = ready.iter().partition(|s| s.channel.in_room());
            let room_first = match last_channel {
                Some(channel) => !channel.in_room(),
                None => ready.first().is_some_and(|s| s.channel.in_room()),
            };
            let (first, second) = if room_first { (room, remote) } else { (remote, room) };
            let mut order = Vec::with_capacity(first.len() + second.len());
            let (mut a, mut b) = (first.into_iter(), second.into_iter());
            loop {
                match (a.next(), b.next()) {
                    (None, None) => break,
                    (x, y) => order.extend(x.into_iter().chain(y)),
                }
            }
            order
        }
    };
    order.extend(skipped);
    order
}

impl Forum {
    /// Decide a command on the speaker queue.
    pub(super) fn decide_speakers(
        &self,
        actor: Actor,
        command: &Command,
        now_ms: u64,
        limits: &Limits,
    ) -> Result<Event> {
        match command {
            Command::RaiseHand {} => {
                let participant = self.acting_participant(actor)?;
                self.require_live()?;
                if self.speakers.waiting_participant(participant).is_some() {
                    return Err(DomainError::InvalidState("your hand is already raised".into()));
                }
                if self.speakers.current.as_ref().is_some_and(|s| s.speaker.participant == Some(participant)) {
                    return Err(DomainError::InvalidState("you have the floor now".into()));
                }
                self.check_queue_room(limits)?;
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
                self.check_queue_room(limits)?;
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
            other => Err(misrouted(other)),
        }
    }

    fn check_queue_room(&self, limits: &Limits) -> Result<()> {
        Limits::check(
            self.speakers.waiting.len(),
            limits.speaker_queue,
            rule::SPEAKER_QUEUE,
            "this many people can wait to speak",
        )
    }

    /// Change the speaker queue by one event.
    pub(super) fn apply_speakers(&mut self, event: &Event) {
        match event {
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
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
