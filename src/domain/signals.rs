//! The temperature check: each participant's latest signal (a colour) on
//! the current item.

use madang_protocol::SignalColor;

use super::decide::{Actor, Result};
use super::{DomainError, Event, Forum};

impl Forum {
    /// Decide a participant's signal on the current item.
    pub(super) fn decide_signal(&self, actor: Actor, color: SignalColor) -> Result<Event> {
        let participant = self.acting_participant(actor)?;
        self.require_live()?;
        let Some(item) = self.active_item else {
            return Err(DomainError::InvalidState("there is no current agenda item to signal on".into()));
        };
        Ok(Event::SignalSet { item, participant, color })
    }

    /// Record a signal: it replaces the participant's earlier one on that item.
    pub(super) fn apply_signal(&mut self, event: &Event) {
        if let Event::SignalSet { item, participant, color } = event {
            self.signals.entry(*item).or_default().insert(*participant, *color);
        }
    }
}

#[cfg(test)]
mod tests;
