//! What a forum task is asked, and what it answers.
//!
//! Connections, the hub and the tail task talk to a forum task only through
//! these messages, over one bounded channel: that channel is the whole
//! interface of the forum's single writer.

use madang_protocol::{Channel, Command, ForumView, ServerFrame};
use tokio::sync::{mpsc, oneshot};

use crate::abuse::AddressRefusal;
use crate::domain::{Actor, DomainError};
use crate::hub::Frame;
use crate::hub::fanout_channel;
use crate::hub::tickets::TicketBook;
use crate::hub::view::Audience;
use crate::store::Record;

/// How a connection proves who it is.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// A moderator, display or participant token.
    Token(String),
    /// A join code's channel, with an optional name, an earlier participant
    /// token, and in a ticketed forum the ticket's code.
    Join { channel: Channel, name: Option<String>, participant_token: Option<String>, ticket: Option<String> },
}

/// A connection, attached: its identity, the frames to send first, and its
/// subscription to the forum's broadcasts.
pub(crate) struct Attached {
    pub(crate) actor: Actor,
    pub(crate) first_frames: Vec<Frame>,
    pub(crate) updates: fanout_channel::Receiver,
    /// Events up to this seq are in what the connection was given first (its
    /// snapshot or replay); one that still comes through `updates` (a whole
    /// state held back, or a later frame of the batch it joined in) is not sent.
    pub(crate) shown_through: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AttachError {
    #[error("this credential is not valid for this forum")]
    Unauthorized,
    #[error("{0}")]
    Refused(DomainError),
    #[error("the forum cannot persist right now; try again")]
    Unavailable,
    #[error("this forum's stored log is damaged; it is not served until an operator repairs it")]
    Damaged,
    /// A limit per address (`abuse`): too many joins or wrong credentials.
    #[error(transparent)]
    Limited(#[from] AddressRefusal),
}

/// What a forum task is asked to do; each request carries where its answer goes.
pub(crate) enum Request {
    Command {
        actor: Actor,
        request_id: String,
        command: Command,
        reply: oneshot::Sender<ServerFrame>,
    },
    Attach {
        credential: Credential,
        last_seq: Option<u64>,
        reply: oneshot::Sender<Result<Attached, AttachError>>,
    },
    View {
        audience: Audience,
        reply: oneshot::Sender<ForumView>,
    },
    /// The forum's tickets, for the holder of the moderator `token`; `None`
    /// for any other token.
    Tickets {
        token: String,
        reply: oneshot::Sender<Option<TicketBook>>,
    },
    /// Records that other hub nodes appended, from the tail task.
    Tail(Vec<Record>),
}

/// Handle to a running forum task.
#[derive(Clone)]
pub(crate) struct ForumHandle {
    pub(crate) requests: mpsc::Sender<Request>,
}
