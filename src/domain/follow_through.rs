//! Follow-through: what the city did about a decision after the vote.
//!
//! Once a poll is closed, the organizer records the responsible body's
//! response to its outcome (adopted, adopted in part, declined, with
//! reasons) and the actions planned, each with a target date and status
//! updates over time. These are the only commands a closed forum still
//! takes: a forum's story does not end at the vote, and residents who come
//! back months later see what became of what they voted for. Every entry
//! carries its time, decided when it was recorded.

use std::collections::BTreeMap;

use madang_protocol::{ActionId, ActionStatus, Command, PollId, PollStatus, ResponseKind};
use serde::{Deserialize, Serialize};

use super::decide::{Result, clean_text, misrouted};
use super::{DomainError, Event, Forum};

/// Responses, planned actions and action updates a forum holds in all: they
/// are sent whole in every view of a poll, so their number bounds a frame.
pub const MAX_FOLLOW_THROUGH_ENTRIES: usize = 300;
pub const MAX_BODY_CHARS: usize = 200;
pub const MAX_REASONS_CHARS: usize = 1_000;
pub const MAX_ACTION_TITLE_CHARS: usize = 200;
pub const MAX_NOTE_CHARS: usize = 1_000;

/// The rule a refusal names when the forum holds as much follow-through as it may.
pub const RULE_ENTRIES: &str = "limit.follow_through";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub at_ms: u64,
    pub body: String,
    pub response: ResponseKind,
    pub reasons: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionUpdate {
    pub at_ms: u64,
    pub status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub id: ActionId,
    pub poll: PollId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_date: Option<String>,
    pub planned_at_ms: u64,
    pub updates: Vec<ActionUpdate>,
}

impl Action {
    /// The latest status: planned until an update says otherwise.
    pub fn status(&self) -> ActionStatus {
        self.updates.last().map_or(ActionStatus::Planned, |u| u.status)
    }
}

/// Every decision's follow-through in a forum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowThrough {
    pub responses: BTreeMap<PollId, Vec<Response>>,
    pub actions: BTreeMap<ActionId, Action>,
}

impl FollowThrough {
    /// A poll's actions, in the order planned.
    pub fn actions_of(&self, poll: PollId) -> impl Iterator<Item = &Action> {
        self.actions.values().filter(move |a| a.poll == poll)
    }

    /// Responses, planned actions and their updates, in all: what the cap counts.
    fn entries(&self) -> usize {
        let responses: usize = self.responses.values().map(Vec::len).sum();
        let updates: usize = self.actions.values().map(|a| a.updates.len()).sum();
        responses + self.actions.len() + updates
    }

    pub fn has_any(&self, poll: PollId) -> bool {
        self.responses.contains_key(&poll) || self.actions_of(poll).next().is_some()
    }
}

/// Whether `date` is a calendar date written `YYYY-MM-DD` (years 2000 to 2999).
fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<u32>().ok();
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    if !date.bytes().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        return false;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..=2999).contains(&y) && (1..=days).contains(&d)
}

impl Forum {
    /// Decide a follow-through command (moderator only; `authorize` checked
    /// the role). Allowed in a closed forum.
    pub(super) fn decide_follow_through(&self, command: &Command, now_ms: u64) -> Result<Event> {
        if self.follow_through.entries() >= MAX_FOLLOW_THROUGH_ENTRIES {
            return Err(DomainError::Limit {
                rule: RULE_ENTRIES,
                message: format!("a forum holds at most {MAX_FOLLOW_THROUGH_ENTRIES} responses, actions and updates"),
            });
        }
        match command {
            Command::RecordResponse { poll, body, response, reasons } => {
                self.closed_poll(*poll)?;
                Ok(Event::ResponseRecorded {
                    poll: *poll,
                    body: clean_text("body", body, MAX_BODY_CHARS)?,
                    response: *response,
                    reasons: clean_text("reasons", reasons, MAX_REASONS_CHARS)?,
                    at_ms: now_ms,
                })
            }
            Command::PlanAction { poll, title, target_date } => {
                self.closed_poll(*poll)?;
                if let Some(date) = target_date
                    && !valid_date(date)
                {
                    return Err(DomainError::Invalid("target_date must be a date written YYYY-MM-DD".into()));
                }
                Ok(Event::ActionPlanned {
                    action: ActionId(self.follow_through.actions.len() as u32 + 1),
                    poll: *poll,
                    title: clean_text("title", title, MAX_ACTION_TITLE_CHARS)?,
                    target_date: target_date.clone(),
                    at_ms: now_ms,
                })
            }
            Command::UpdateAction { action, status, note } => {
                let found = self
                    .follow_through
                    .actions
                    .get(action)
                    .ok_or(DomainError::NotFound { what: "action", id: action.0 })?;
                if matches!(found.status(), ActionStatus::Done | ActionStatus::Dropped) && *status == found.status() {
                    return Err(DomainError::InvalidState(format!("action {action} is already {:?}", found.status())));
                }
                let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    Some(n) => Some(clean_text("note", n, MAX_NOTE_CHARS)?),
                    None => None,
                };
                if *status == ActionStatus::Dropped && note.is_none() {
                    return Err(DomainError::Invalid("a dropped action needs a note saying why".into()));
                }
                Ok(Event::ActionUpdated { action: *action, status: *status, note, at_ms: now_ms })
            }
            other => Err(misrouted(other)),
        }
    }

    fn closed_poll(&self, poll: PollId) -> Result<()> {
        match self.poll(poll)?.status {
            PollStatus::Closed => Ok(()),
            _ => Err(DomainError::InvalidState(format!(
                "poll {poll} is not closed: its follow-through starts once it is decided"
            ))),
        }
    }

    /// Change the follow-through by one event.
    pub(super) fn apply_follow_through(&mut self, event: &Event) {
        let ft = &mut self.follow_through;
        match event {
            Event::ResponseRecorded { poll, body, response, reasons, at_ms } => {
                let entry =
                    Response { at_ms: *at_ms, body: body.clone(), response: *response, reasons: reasons.clone() };
                ft.responses.entry(*poll).or_default().push(entry);
            }
            // Ids are never reused; a log that did would keep the first.
            Event::ActionPlanned { action, poll, title, target_date, at_ms } if !ft.actions.contains_key(action) => {
                let planned = Action {
                    id: *action,
                    poll: *poll,
                    title: title.clone(),
                    target_date: target_date.clone(),
                    planned_at_ms: *at_ms,
                    updates: Vec::new(),
                };
                ft.actions.insert(*action, planned);
            }
            Event::ActionUpdated { action, status, note, at_ms } => {
                if let Some(a) = ft.actions.get_mut(action) {
                    a.updates.push(ActionUpdate { at_ms: *at_ms, status: *status, note: note.clone() });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
