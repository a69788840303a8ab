//! The display screen: what the projectors in the hall show is the
//! moderator's call, not something each display guesses.
//!
//! The choice is an event like any other, so a display that restarts (or a
//! second projector that connects late) shows the same screen. Only choices
//! a display can show are accepted: a final result must exist and be public,
//! and an instant-runoff step must be one of its rounds.

use madang_protocol::{PollId, PollMethod, PollStatus, RankedTally, Screen};

use super::decide::Result;
use super::polls::Poll;
use super::{DomainError, Event, Forum};

impl Forum {
    /// Decide what the displays show.
    pub(super) fn decide_display(&self, screen: Screen) -> Result<Event> {
        match screen {
            Screen::Poll { poll } => {
                let poll = self.shown_poll(poll)?;
                if poll.status == PollStatus::Draft {
                    return Err(DomainError::InvalidState(format!("poll {} is a draft: open it first", poll.id)));
                }
            }
            Screen::Result { poll, step } => {
                let poll = self.shown_poll(poll)?;
                let Some(outcome) = poll.outcome.as_ref().filter(|_| poll.status == PollStatus::Closed) else {
                    return Err(DomainError::InvalidState(format!(
                        "poll {} is not closed: it has no final result yet",
                        poll.id
                    )));
                };
                if !poll.results_public() {
                    return Err(DomainError::InvalidState(format!(
                        "poll {}'s results are hidden: reveal them first",
                        poll.id
                    )));
                }
                if let Some(step) = step {
                    if !matches!(poll.method, PollMethod::Ranked { tally: RankedTally::InstantRunoff, .. }) {
                        return Err(DomainError::Invalid(format!(
                            "poll {} is not an instant-runoff poll: it has no rounds to step through",
                            poll.id
                        )));
                    }
                    let rounds = outcome.tally.ranked.as_ref().map_or(0, |r| r.instant_runoff.rounds.len());
                    if step as usize > rounds {
                        return Err(DomainError::Invalid(format!(
                            "poll {} has {rounds} rounds: step {step} is beyond them",
                            poll.id
                        )));
                    }
                }
            }
            Screen::Auto | Screen::Ideas | Screen::Speakers | Screen::Join | Screen::Blank => {}
        }
        Ok(Event::ScreenShown { screen })
    }

    fn shown_poll(&self, id: PollId) -> Result<&Poll> {
        self.polls.get(&id).ok_or(DomainError::NotFound { what: "poll", id: id.0 })
    }

    /// Record the displays' screen.
    pub(super) fn apply_display(&mut self, event: &Event) {
        if let Event::ScreenShown { screen } = event {
            self.screen = *screen;
        }
    }
}

#[cfg(test)]
mod tests;
