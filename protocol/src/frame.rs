//! Frames: the JSON text messages on the WebSocket, and the HTTP bodies.
//!
//! Every frame is a JSON object with a `type`. A client sends `auth` first,
//! then commands (each with a request `id`) and `ping`s; the server answers
//! with `welcome`, `ack`, `error`, `pong`, and pushes `event` and `tally`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    Channel, Command, Eligibility, ErrorCode, ForumView, IdeaId, IdeaSupport, ItemId, OptionId, ParticipantId, PollId,
    Role, SpeakerId, Tally, TemperatureView, Update,
};

/// The longest request id the server accepts.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The first frame of a connection.
///
/// Give either `token` (a moderator or display token, or a participant token
/// from an earlier `welcome`) or `join_code` (with an optional `name`, and
/// the `participant_token` from an earlier `welcome` to come back as the same
/// person).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Auth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_token: Option<String>,
    /// With `join_code`, in a ticketed forum: the participation ticket that
    /// admits this person (its first use binds it to them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The last sequence number this client saw, to resume from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
}

/// A frame from a client, once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Auth(Auth),
    Ping { id: Option<String> },
    Command { id: String, command: Command },
}

/// Why a client frame could not be parsed; answered with an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The request id, when the frame had one.
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

/// The fields every client frame starts with; read first so that an error
/// reply can carry the request id even when the rest is malformed.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PingBody {
    id: Option<String>,
}

/// The request id of a client frame, without parsing the rest: for answering
/// a frame the server will not process (rate limited) so the client knows
/// which command to send again.
pub fn request_id(text: &str) -> Option<String> {
    match serde_json::from_str::<Head>(text).ok()?.id? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Parse one client text frame.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let head: Head = serde_json::from_str(text).map_err(|e| FrameError {
        id: None,
        code: ErrorCode::BadRequest,
        message: format!("not a JSON object: {e}"),
    })?;
    let id = match head.id {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) => {
            return Err(FrameError { id: None, code: ErrorCode::BadRequest, message: "`id` must be a string".into() });
        }
    };
    let fail = |code, message: String| FrameError { id: id.clone(), code, message };
    let Some(kind) = head.kind else {
        return Err(fail(ErrorCode::BadRequest, "missing `type`".into()));
    };
    match kind.as_str() {
        "auth" => serde_json::from_str(text)
            .map(ClientFrame::Auth)
            .map_err(|e| fail(ErrorCode::BadRequest, format!("bad `auth`: {e}"))),
        "ping" => serde_json::from_str::<PingBody>(text)
            .map(|p| ClientFrame::Ping { id: p.id })
            .map_err(|e| fail(ErrorCode::BadRequest, format!("bad `ping`: {e}"))),
        name if crate::COMMAND_NAMES.contains(&name) => {
            let Some(req) = id.clone().filter(|s| !s.is_empty() && s.len() <= MAX_REQUEST_ID_LEN) else {
                return Err(fail(
                    ErrorCode::BadRequest,
                    format!("a command needs an `id`: a string of 1 to {MAX_REQUEST_ID_LEN} bytes"),
                ));
            };
            serde_json::from_str(text)
                .map(|command| ClientFrame::Command { id: req, command })
                .map_err(|e| fail(ErrorCode::BadRequest, format!("bad `{name}`: {e}")))
        }
        other => Err(fail(ErrorCode::UnknownMessage, format!("unknown message type `{other}`"))),
    }
}

/// The participant a connection speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantSelf {
    pub id: ParticipantId,
    /// Keep it: send it back in `auth` to be the same person after a reconnect.
    pub token: String,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The ideas this participant supports now, so that a page shows
    /// "you support this" after a reload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported: Vec<IdeaId>,
}

/// The two codes participants join with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JoinCodes {
    pub remote: String,
    pub hall: String,
}

/// A frame from the server, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to `auth`. With `snapshot`, the client replaces its state;
    /// without it, `replayed` `event` frames follow (what the client missed
    /// since `last_seq`), then the current tallies.
    Welcome {
        role: Role,
        forum_id: String,
        /// The forum's latest sequence number.
        head_seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<ParticipantSelf>,
        /// For moderators and displays.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        join_codes: Option<JoinCodes>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Box<ForumView>>,
        #[serde(default)]
        replayed: u32,
    },
    /// A change to the forum. Sequence numbers rise; a client may see gaps
    /// (events it is not shown, such as ballots).
    Event { seq: u64, at_ms: u64, update: Update },
    /// The latest tally of a poll, sent at the tally cadence while it changes.
    Tally { seq: u64, tally: Box<Tally> },
    /// The latest temperature check of the current item, sent at the tally
    /// cadence while it changes (signals are conflated like ballots).
    Temperature { seq: u64, temperature: TemperatureView },
    /// The latest support counts of the ideas whose support changed, sent at
    /// the tally cadence (supports are conflated like ballots).
    Supports { seq: u64, ideas: Vec<IdeaSupport> },
    /// A command was applied and persisted as event `seq`.
    Ack {
        id: String,
        seq: u64,
        /// True when this request id was already applied: nothing new happened.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<ItemId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idea: Option<IdeaId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        poll: Option<PollId>,
        /// For `raise_hand` and `add_speaker`: the new place in the speaker queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaker: Option<SpeakerId>,
        /// For `next_pair`: the two options to compare, in the order to show them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pair: Option<[OptionId; 2]>,
        /// For `next_pair`: the pairs this participant has not answered yet, this one included.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairs_left: Option<u32>,
        /// For `issue_tickets`: the numbers of the tickets issued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tickets: Option<TicketRange>,
        /// For `cast_ballot` and `cast_comparison`: the receipt under which
        /// this ballot appears in the public record once the poll closes
        /// (`XXXX-XXXX-XXXX`). A new ballot gets a new receipt; a pairwise
        /// poll has one receipt per participant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<String>,
    },
    /// A frame or command was refused; nothing was applied.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
        /// For `ballot_invalid`: the rule the ballot broke, such as `approval.max_choices`;
        /// for `invalid` when a forum limit is reached: the limit, such as `limit.ideas`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

/// An agenda item given at forum creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgendaItemSpec {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebox_secs: Option<u32>,
}

/// `POST /api/forums` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateForumRequest {
    pub title: String,
    /// Defaults to `ko`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, deserialize_with = "crate::null_as_default")]
    #[schemars(with = "Option<Vec<AgendaItemSpec>>")]
    pub agenda: Vec<AgendaItemSpec>,
    /// Who may join; defaults to `open`. Changeable until the forum starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility: Option<Eligibility>,
}

/// `POST /api/forums/{id}/tickets` body: issue `count` tickets for `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssueTicketsRequest {
    pub channel: Channel,
    pub count: u32,
}

/// A forum's participation tickets (`GET /api/forums/{id}/tickets`), or
/// the ones just issued (`POST`), for the forum's moderator only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TicketList {
    pub forum: String,
    pub tickets: Vec<TicketEntry>,
}

/// One participation ticket, as printed on its card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TicketEntry {
    pub ticket: u32,
    pub channel: Channel,
    /// The code to type: 16 characters in 4 groups (`XXXX-XXXX-XXXX-XXXX`).
    pub code: String,
    pub status: TicketStatus,
    /// The join link with the ticket in it, for the card's QR code.
    pub join_url: String,
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Not used yet.
    Unused,
    /// It admitted a participant's device.
    Used,
    /// It admits no one.
    Revoked,
}

/// Tickets `first` to `first + count - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TicketRange {
    pub first: u32,
    pub count: u32,
}

/// `POST /api/forums` answer (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateForumResponse {
    pub id: String,
    pub join_codes: JoinCodes,
    pub moderator_token: String,
    pub display_token: String,
}

/// The body of every HTTP error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}
