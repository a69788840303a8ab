//! JSON Schema (draft 2020-12) of the `madang.v1` wire format.
//!
//! The schemas are generated from the types of this crate and checked in
//! under `protocol/schema/`; the test `tests/schema_sync.rs` fails when they
//! drift (run it with `MADANG_UPDATE_SCHEMA=1` to rewrite them).
//!
//! What the server sends (`server_frame`, `create_forum_response`,
//! `error_body`) is described as it is serialized: fields the server always
//! writes are required. What clients send (`client_frame`,
//! `create_forum_request`) is described as the server accepts it: fields
//! with a default are optional.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use crate::{
    Auth, Command, CreateForumRequest, CreateForumResponse, ErrorBody, IssueTicketsRequest, RecordLine, ServerFrame,
    TicketList,
};

/// A request id: a string of 1 to 64 bytes (JSON Schema counts characters,
/// so `maxLength` is only an approximation for non-ASCII ids; keep ids ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(description = "A request id chosen by the client: a string of 1 to 64 bytes, unique per person.")]
struct RequestId(#[schemars(length(min = 1, max = 64))] String);

/// A command frame: any command plus the request `id` the answer (`ack` or
/// `error`) carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct CommandFrame {
    id: RequestId,
    #[serde(flatten)]
    command: Command,
}

/// A frame from a client, tagged by `type`: `auth` (first, once), `ping`,
/// or a command with a request `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(rename = "ClientFrame")]
// Only describes the union for the schema; the server parses client frames
// with `crate::parse_client_frame`.
enum ClientFrameSchema {
    /// The first frame of a connection.
    Auth(Auth),
    /// Answered with `pong`, echoing `id`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A command.
    #[serde(untagged)]
    Command(CommandFrame),
}

fn render(schema: Schema) -> String {
    let mut out = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    out.push('\n');
    out
}

fn for_clients<T: JsonSchema>() -> String {
    render(SchemaSettings::draft2020_12().for_deserialize().into_generator().into_root_schema_for::<T>())
}

fn from_server<T: JsonSchema>() -> String {
    render(SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<T>())
}

/// Schema of a frame a client sends on the WebSocket.
pub fn client_frame() -> String {
    for_clients::<ClientFrameSchema>()
}

/// Schema of a frame the server sends on the WebSocket ([`ServerFrame`]).
pub fn server_frame() -> String {
    from_server::<ServerFrame>()
}

/// Schema of the `POST /api/forums` body ([`CreateForumRequest`]).
pub fn create_forum_request() -> String {
    for_clients::<CreateForumRequest>()
}

/// Schema of the `POST /api/forums` answer ([`CreateForumResponse`]).
pub fn create_forum_response() -> String {
    from_server::<CreateForumResponse>()
}

/// Schema of every HTTP error body ([`ErrorBody`]).
pub fn error_body() -> String {
    from_server::<ErrorBody>()
}

/// Schema of the `POST /api/forums/{id}/tickets` body ([`IssueTicketsRequest`]).
pub fn issue_tickets_request() -> String {
    for_clients::<IssueTicketsRequest>()
}

/// Schema of the ticket API's answers ([`TicketList`]).
pub fn ticket_list() -> String {
    from_server::<TicketList>()
}

/// Schema of one line of the public record ([`RecordLine`], RECORD.md).
pub fn record_line() -> String {
    from_server::<RecordLine>()
}

/// Every schema with the file name it is checked in under, in `protocol/schema/`.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("client-frame.schema.json", client_frame()),
        ("server-frame.schema.json", server_frame()),
        ("create-forum-request.schema.json", create_forum_request()),
        ("create-forum-response.schema.json", create_forum_response()),
        ("error-body.schema.json", error_body()),
        ("issue-tickets-request.schema.json", issue_tickets_request()),
        ("ticket-list.schema.json", ticket_list()),
        ("record.schema.json", record_line()),
    ]
}

/// Check a client frame against the schema-only client frame type: `Ok`
/// when the frame has the shape `client-frame.schema.json` describes.
/// Used by the tests to keep the schema and [`crate::parse_client_frame`]
/// in agreement.
pub fn matches_client_frame_schema(text: &str) -> Result<(), String> {
    match serde_json::from_str::<ClientFrameSchema>(text).map_err(|e| e.to_string())? {
        ClientFrameSchema::Command(CommandFrame { id: RequestId(id), .. })
            if id.is_empty() || id.len() > crate::MAX_REQUEST_ID_LEN =>
        {
            Err(format!("a request id must be 1 to {} bytes", crate::MAX_REQUEST_ID_LEN))
        }
        _ => Ok(()),
    }
}
