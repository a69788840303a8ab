//! The forum's rules: pure, no I/O, no clock (time is passed in).
//!
//! A forum is a state machine driven by events. `Forum::decide` checks a
//! command against the current state and returns the event it would cause;
//! `Forum::apply` changes the state by an event. Only events are persisted,
//! so replay is recovery.
//!
//! Architecture invariant: nothing here knows about sockets, storage, JSON
//! framing or the wall clock. The value types (poll methods, ballots,
//! tallies) come from `madang_protocol` so that they have one definition.
//!
//! Layout: `decide` (authorization and the command router) and `forum` (the
//! state and the event router) route to one module per aggregate, each with
//! both its decisions and its state changes: `lifecycle`, `agenda`, `ideas`,
//! `polls`, `participants`, `hall`, `speakers`, `signals`, `supports`,
//! `display` (what the projectors show). `limits` caps
//! what a forum may hold, so that no one can grow it without bound. `tally` is a
//! poll's live tally over its channels; `method/` is everything about each
//! poll method, one module per method.

mod agenda;
mod decide;
mod display;
mod event;
pub mod follow_through;
mod forum;
pub mod hall;
mod ideas;
mod lifecycle;
pub mod limits;
pub mod method;
mod participants;
mod polls;
pub mod receipts;
mod signals;
pub mod speakers;
mod supports;
mod tally;
#[cfg(test)]
mod test_support;
pub mod tickets;

pub use agenda::{Item, Timer};
pub use decide::{Actor, DomainError, MAX_NAME_CHARS, MAX_TITLE_CHARS, clean_text};
pub use event::{Aggregate, Event, OptionSpec};
pub use forum::Forum;
pub use ideas::Idea;
pub use limits::Limits;
pub use participants::Participant;
pub use polls::{Poll, PollOption};
pub use speakers::{Speaker, SpeakerQueue, Speech};
