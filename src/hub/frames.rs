//! Every frame the server sends, built in one place.
//!
//! The forum task, the hub and the connections all answer clients; building
//! their frames here gives each answer one wording (an `unavailable` reads the
//! same whichever layer gives up) and one encoding. Answers to one request are
//! `ServerFrame`s, encoded by the connection that writes them; broadcasts are
//! encoded here, once, into a shared `Frame`. This module decides nothing: it
//! knows the protocol's frame types, the domain's refusals and the views.

use madang_protocol::{
    ErrorCode, IdeaSupport, JoinCodes, ParticipantSelf, Role, ServerFrame, Tally, TemperatureView, Update,
};

use super::AttachError;
use super::journal::Entry;
use super::state::AckInfo;
use super::view::{self, Audience};
use crate::domain::{DomainError, Forum};

/// The largest frame a forum held to the default `Limits` can cause, with
/// room to spare (the tests build that forum and measure). The WebSocket
/// write buffer is this large: a frame over it would drop the socket.
pub(crate) const LARGEST_FRAME_BYTES: usize = 8 * 1024 * 1024;

/// A serialized server frame, shared by every subscriber: cloning it bumps a
/// reference count, so a broadcast is encoded once however many receive it.
pub type Frame = axum::extract::ws::Utf8Bytes;

pub(crate) fn encode(frame: &ServerFrame) -> Frame {
    // Our frame types are plain data with string keys: serializing cannot fail.
    Frame::from(serde_json::to_string(frame).unwrap_or_default())
}

pub(crate) fn ack(request_id: String, info: &AckInfo, duplicate: bool) -> ServerFrame {
    ServerFrame::Ack {
        id: request_id,
        seq: info.seq,
        duplicate,
        item: info.item,
        idea: info.idea,
        poll: info.poll,
        speaker: info.speaker,
        pair: info.pair,
        pairs_left: info.pairs_left,
        tickets: info.tickets,
        receipt: info.receipt.clone(),
    }
}

pub(crate) fn pong(id: Option<String>) -> ServerFrame {
    ServerFrame::Pong { id }
}

pub(crate) fn error(id: Option<String>, code: ErrorCode, message: String, rule: Option<String>) -> ServerFrame {
    ServerFrame::Error { id, code, message, rule }
}

/// The domain refused a command or a join; the ballot rule or the cap it
/// broke, if any, is named.
pub(crate) fn refused(id: Option<String>, err: &DomainError) -> ServerFrame {
    let (code, rule) = match err {
        DomainError::Forbidden(_) => (ErrorCode::Forbidden, None),
        DomainError::NotFound { .. } => (ErrorCode::NotFound, None),
        DomainError::InvalidState(_) => (ErrorCode::InvalidState, None),
        DomainError::Invalid(_) => (ErrorCode::Invalid, None),
        DomainError::Ballot(b) => (ErrorCode::BallotInvalid, Some(b.rule.to_string())),
        DomainError::Limit { rule, .. } | DomainError::Rule { rule, .. } => {
            (ErrorCode::Invalid, Some(rule.to_string()))
        }
    };
    error(id, code, err.to_string(), rule)
}

/// A command that was not applied because the forum could not take or persist it.
pub(crate) fn unavailable(id: Option<String>) -> ServerFrame {
    let message = "the forum could not persist this command; it was not applied: retry with the same id";
    error(id, ErrorCode::Unavailable, message.into(), None)
}

/// A command whose append the store did not confirm: it may have landed
/// (a shared store that timed out may still apply it). Resending the same id
/// tells which: the original ack with `duplicate: true`, or it is applied now.
pub(crate) fn outcome_unknown(id: Option<String>) -> ServerFrame {
    let message = "the store did not confirm this command; it may have been applied: \
                   resend it with the same id to learn its outcome";
    error(id, ErrorCode::Unavailable, message.into(), None)
}

/// A command the server decided but could not record: a bug; nothing was applied.
pub(crate) fn internal(id: Option<String>) -> ServerFrame {
    error(id, ErrorCode::Internal, "the server could not record this command; it was not applied".into(), None)
}

pub(crate) fn rate_limited(id: Option<String>) -> ServerFrame {
    error(id, ErrorCode::RateLimited, "too many messages: slow down".into(), None)
}

/// An `auth` frame on a connection that is already authenticated.
pub(crate) fn already_authenticated() -> ServerFrame {
    error(None, ErrorCode::BadRequest, "this connection is already authenticated".into(), None)
}

/// A first frame that is not `auth`.
pub(crate) fn auth_required() -> ServerFrame {
    error(None, ErrorCode::Unauthorized, "the first frame must be `auth`".into(), None)
}

/// Why a connection could not attach: its credential, the domain, or the store.
pub(crate) fn attach_refused(err: &AttachError) -> ServerFrame {
    match err {
        AttachError::Unauthorized => error(None, ErrorCode::Unauthorized, err.to_string(), None),
        AttachError::Refused(domain) => refused(None, domain),
        AttachError::Unavailable => error(None, ErrorCode::Unavailable, err.to_string(), None),
        AttachError::Damaged => error(None, ErrorCode::ForumDamaged, err.to_string(), None),
        AttachError::Limited(_) => error(None, ErrorCode::RateLimited, err.to_string(), None),
    }
}

/// The first frame of an attached connection: who it is, and either the
/// whole forum (`replayed: None`) or the count of missed frames that follow.
pub(crate) fn welcome(
    forum: &Forum,
    head: u64,
    role: Role,
    audience: Audience,
    participant: Option<ParticipantSelf>,
    replayed: Option<usize>,
) -> Frame {
    encode(&ServerFrame::Welcome {
        role,
        forum_id: forum.id.clone(),
        head_seq: head,
        participant,
        join_codes: (role != Role::Participant)
            .then(|| JoinCodes { remote: forum.remote_code.clone(), hall: forum.hall_code.clone() }),
        snapshot: match replayed {
            Some(_) => None,
            None => Some(Box::new(view::forum_view(forum, audience, head))),
        },
        replayed: replayed.map_or(0, |count| count as u32),
    })
}

/// An event as `audience` sees it; `None` when it shows that audience nothing.
pub(crate) fn event(forum: &Forum, entry: &Entry, audience: Audience) -> Option<Frame> {
    event_of_kind(forum, entry, audience).map(|(frame, _)| frame)
}

/// An update that carries one whole part of the forum's state: a newer one
/// of the same kind replaces an older one entirely, so a client that skips
/// the older one loses nothing (SPEC §8.7, conflation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WholeState {
    Participants,
    Speakers,
    Agenda,
    HallCheck,
}

impl WholeState {
    pub(crate) const COUNT: usize = 4;

    pub(crate) fn of(update: &Update) -> Option<WholeState> {
        match update {
            Update::Participants { .. } => Some(WholeState::Participants),
            Update::Speakers { .. } => Some(WholeState::Speakers),
            Update::Agenda { .. } => Some(WholeState::Agenda),
            Update::HallCheck { .. } => Some(WholeState::HallCheck),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// An event as `audience` sees it, and the whole state it replaces, if it is one.
pub(crate) fn event_of_kind(forum: &Forum, entry: &Entry, audience: Audience) -> Option<(Frame, Option<WholeState>)> {
    view::update_for(forum, &entry.event, audience).map(|update| {
        let kind = WholeState::of(&update);
        (encode(&ServerFrame::Event { seq: entry.seq, at_ms: entry.at_ms, update }), kind)
    })
}

/// The event frame of entry (`seq`, `at_ms`) that carries `part` of `forum`
/// whole (`view::WholePart`), for every audience, and its kind.
pub(crate) fn whole_part(forum: &Forum, part: view::WholePart, seq: u64, at_ms: u64) -> (Frame, Option<WholeState>) {
    let update = view::whole_part_update(forum, part);
    let kind = WholeState::of(&update);
    (encode(&ServerFrame::Event { seq, at_ms, update }), kind)
}

/// Moderators' hall check as it stands after entry `seq`.
pub(crate) fn hall_check(forum: &Forum, seq: u64, at_ms: u64) -> Frame {
    let update = Update::HallCheck { hall_check: view::hall_check(forum) };
    encode(&ServerFrame::Event { seq, at_ms, update })
}

pub(crate) fn supports(seq: u64, ideas: Vec<IdeaSupport>) -> Frame {
    encode(&ServerFrame::Supports { seq, ideas })
}

pub(crate) fn tally(seq: u64, tally: Tally) -> Frame {
    encode(&ServerFrame::Tally { seq, tally: Box::new(tally) })
}

pub(crate) fn temperature(seq: u64, temperature: TemperatureView) -> Frame {
    encode(&ServerFrame::Temperature { seq, temperature })
}

#[cfg(test)]
mod tests;
