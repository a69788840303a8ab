//! Helpers that tests across the domain share: short constructors for ids.
//!
//! Test-only. A helper used by one test module stays in that module.

use madang_protocol::{OptionId, ParticipantId};

pub(crate) fn o(n: u32) -> OptionId {
    OptionId(n)
}

pub(crate) fn pid(n: u32) -> ParticipantId {
    ParticipantId(n)
}
