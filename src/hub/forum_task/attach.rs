//! Attaching a connection: who a credential names, and what it hears first.
//!
//! A credential is checked against the forum's token hashes; a join code
//! without a participant token is a newcomer, whose join the batch decides
//! like a command. Once the batch is persisted, the connection gets its
//! `welcome` with either a snapshot or the frames it missed, and its
//! subscription, in the same step, so it neither misses nor doubles a frame.
//! What a role may do is not decided here but in the domain.

use madang_protocol::{Channel, ParticipantSelf, PollStatus, Role};

use super::ForumTask;
use super::request::{AttachError, Attached, Credential};
use crate::domain::Actor;
use crate::hub::view::{self, Audience};
use crate::hub::{frames, tickets, tokens};

/// Whom a credential names.
pub(super) enum Authenticated {
    /// A holder of one of the forum's tokens, and that token.
    Known { actor: Actor, token: String },
    /// Someone joining by code, not yet a participant, with the number of
    /// the genuine ticket they gave.
    Newcomer { channel: Channel, name: Option<String>, ticket: Option<u32> },
}

impl ForumTask {
    pub(super) fn authenticate(&self, credential: &Credential) -> Result<Authenticated, AttachError> {
        let forum = &self.state.forum;
        let known = |token: &str| {
            let hash = tokens::hash(token);
            if hash == forum.moderator_token_hash {
                Some(Actor::Moderator)
            } else if hash == forum.display_token_hash {
                Some(Actor::Display)
            } else {
                forum.participant_by_token.get(&hash).map(|p| Actor::Participant(*p))
            }
        };
        match credential {
            Credential::Token(token) => known(token)
                .map(|actor| Authenticated::Known { actor, token: token.clone() })
                .ok_or(AttachError::Unauthorized),
            Credential::Join { participant_token: Some(token), .. } => known(token)
                .filter(|a| matches!(a, Actor::Participant(_)))
                .map(|actor| Authenticated::Known { actor, token: token.clone() })
                .ok_or(AttachError::Unauthorized),
            Credential::Join { channel, name, participant_token: None, ticket } => {
                // A made-up ticket is a wrong credential, like an unknown code.
                let ticket = match ticket {
                    Some(code) => Some(tickets::number_of(forum, code).ok_or(AttachError::Unauthorized)?),
                    None => None,
                };
                Ok(Authenticated::Newcomer { channel: *channel, name: name.clone(), ticket })
            }
        }
    }

    /// The welcome, what the connection missed since `last_seq` (or a
    /// snapshot), and its subscription to its audience's frames.
    pub(super) fn attach(&mut self, actor: Actor, token: String, last_seq: Option<u64>) -> Attached {
        if last_seq.is_some() {
            // A resume replays exactly what it missed, held whole states too:
            // they go out now, before the subscription starts. A snapshot
            // needs no such flush: it is current at the head, and a held
            // frame that reaches it later is the state it already shows.
            let now = std::time::Instant::now();
            match actor {
                Actor::Moderator => self.staff.flush(now, |_| {}),
                _ => {
                    let crowd = &self.crowd;
                    self.public.flush(now, |frame| crowd.send_event(frame));
                }
            }
        }
        let forum = &self.state.forum;
        let head = self.state.head;
        let (role, audience) = match actor {
            Actor::Moderator => (Role::Moderator, Audience::Staff),
            Actor::Display => (Role::Display, Audience::Public),
            Actor::Participant(_) => (Role::Participant, Audience::Public),
        };
        let outlet = match audience {
            Audience::Staff => &self.staff,
            Audience::Public => &self.public,
        };
        let participant = match actor {
            Actor::Participant(id) => forum.participants.get(&id).map(|p| ParticipantSelf {
                id,
                token: token.clone(),
                channel: p.channel,
                name: p.name.clone(),
                supported: forum.supported_by(id),
            }),
            _ => None,
        };
        let replay = last_seq.and_then(|last_seq| outlet.missed_since(last_seq, head));
        let welcome = frames::welcome(forum, head, role, audience, participant, replay.as_ref().map(Vec::len));
        let mut first_frames = vec![welcome];
        if let Some(replayed) = replay {
            first_frames.extend(replayed);
            for poll in forum.polls.values() {
                if poll.status == PollStatus::Open && view::tally_visible(poll, audience) {
                    first_frames.push(frames::tally(head, forum.tally(poll)));
                }
            }
            if let Some(temperature) = view::current_temperature(forum) {
                first_frames.push(frames::temperature(head, temperature));
            }
            // Supports are not replayed as events: a resume gets their counts now.
            let supports = view::supports_of(forum, forum.supports.keys().copied(), audience);
            if !supports.is_empty() {
                first_frames.push(frames::supports(head, supports));
            }
        }
        let updates = match actor {
            Actor::Participant(id) => self.crowd.subscribe(id),
            _ => outlet.subscribe(),
        };
        Attached { actor, first_frames, updates, shown_through: head }
    }
}
