//! The Madang wire protocol, version 1 (`madang.v1`).
//!
//! This crate is the single definition of what crosses the wire: the frames a
//! client sends and the frames the server answers with, the commands, the
//! views of a forum, the value types that commands and views share (poll
//! methods, ballots, tallies), error codes and close codes. `SPEC.md` beside
//! this crate is the prose specification; `schema/` holds the JSON Schema
//! generated from these types (a test keeps it in sync).
//!
//! The crate is plain data: serde and schemars derives, no I/O, no runtime.
//! The server maps these types to its domain; independent clients can be
//! written from `SPEC.md` alone.

pub mod command;
pub mod frame;
pub mod record;
pub mod schema;
pub mod tally;
pub mod view;

pub use command::*;
pub use frame::*;
pub use record::*;
pub use tally::*;
pub use view::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Reads an optional field that has a default: `null` means the default, as
/// absence does (SPEC, Conventions: the server accepts `null` for optional fields).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The WebSocket subprotocol a client must request.
pub const SUBPROTOCOL: &str = "madang.v1";

/// Largest text frame the server accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An agenda item, numbered from 1 within its forum; never reused.
    ItemId
);
id_type!(
    /// An idea, numbered from 1 within its forum; never reused.
    IdeaId
);
id_type!(
    /// A poll, numbered from 1 within its forum; never reused.
    PollId
);
id_type!(
    /// An option of one poll, numbered from 1 within that poll.
    OptionId
);
id_type!(
    /// A participant, numbered from 1 within its forum; stable across reconnects.
    ParticipantId
);
id_type!(
    /// An action planned in response to a decision, numbered from 1 within its forum.
    ActionId
);
id_type!(
    /// A place in the speaker queue (one raised hand, or one person the
    /// moderator added), numbered from 1 within its forum; never reused.
    SpeakerId
);

/// Where a contribution comes from. A participant's channel is decided by
/// the join code they used (`remote` or `hall`); `hall_count` marks what the
/// moderator entered for people in the hall without a device (hand counts,
/// paper ballots, speakers added by name). A participant is never `hall_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Joined with the remote code, from anywhere.
    Remote,
    /// Joined with the hall code, on a device in the room.
    Hall,
    /// Entered by the moderator for people in the hall without a device.
    HallCount,
}

impl Channel {
    /// Whether this channel is in the room (`hall` or `hall_count`): the
    /// side that `alternate` speaker queues alternate with `remote`.
    pub fn in_room(self) -> bool {
        matches!(self, Channel::Hall | Channel::HallCount)
    }
}

/// Who may become a participant of a forum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    /// Anyone with a join code joins; one device is one participant.
    #[default]
    Open,
    /// Only holders of a participation ticket join (with a join code and the
    /// ticket); a ticket admits the first device that uses it, once.
    Ticketed,
}

impl Eligibility {
    pub fn is_open(&self) -> bool {
        *self == Eligibility::Open
    }
}

/// What a connection may do, decided by the credential it authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the forum: every command.
    Moderator,
    /// A projector: read-only, sees the join codes.
    Display,
    /// Submits ideas and ballots.
    Participant,
}

/// Every error the server reports, on the WebSocket (`error` frame) and over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or misses a required field.
    BadRequest,
    /// The frame's `type` is not a message this protocol knows.
    UnknownMessage,
    /// The credential is missing, forged, or no longer valid.
    Unauthorized,
    /// The role of this connection may not send this command.
    Forbidden,
    /// The forum, item, idea, poll or option does not exist.
    NotFound,
    /// The command is not allowed in the current state (a closed poll, a done item).
    InvalidState,
    /// A field is out of range (an empty title, a too long idea).
    Invalid,
    /// The ballot breaks a rule of the poll's method; `rule` names it.
    BallotInvalid,
    /// Too many messages: slow down.
    RateLimited,
    /// The server could not persist the command (not applied), or its store did not
    /// confirm it (the outcome is unknown). Resend with the same id to learn the outcome.
    Unavailable,
    /// A bug on the server's side; the command was not applied.
    Internal,
    /// The forum's stored log is damaged: the forum is quarantined until an
    /// operator repairs it. Other forums on the server are not affected.
    ForumDamaged,
}

/// WebSocket close codes the server uses.
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect later and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame, or another frame the protocol has no use for.
    pub const UNSUPPORTED: u16 = 1003;
    /// A text frame whose payload is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame larger than [`crate::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The server could not take the connection now (its store is unavailable); retry with backoff.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The credential was refused; do not retry with it.
    pub const UNAUTHORIZED: u16 = 4001;
    /// No `auth` frame within the time allowed, or another frame came first.
    pub const AUTH_REQUIRED: u16 = 4002;
    /// The connection read too slowly and its outbound queue filled; reconnect and resume.
    pub const TOO_SLOW: u16 = 4008;
    /// The connection kept flooding after `rate_limited` errors.
    pub const FLOOD: u16 = 4029;
}
