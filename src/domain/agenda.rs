//! The agenda and each item's timer: adding, editing, ordering and removing
//! items, making one the current item, and its countdown.
//!
//! Deadlines are decided here from `now_ms` and carried in the events, so
//! applying them never reads a clock.

use madang_protocol::{Command, ItemId, ItemState};
use serde::{Deserialize, Serialize};

use super::decide::{MAX_TITLE_CHARS, Result, check_secs, clean_text, misrouted};
use super::limits::{Limits, rule};
use super::{DomainError, Event, Forum};

pub(crate) const MAX_DESCRIPTION_CHARS: usize = 2000;

/// An item's timer. `deadline_ms` is set while running; otherwise
/// `remaining_ms` is what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub deadline_ms: Option<u64>,
    pub remaining_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub title: String,
    pub description: Option<String>,
    pub timebox_secs: Option<u32>,
    pub state: ItemState,
    /// None until the timer is first started or extended.
    pub timer: Option<Timer>,
}

impl Item {
    /// The timer as it stands, or a fresh one from the time box.
    pub fn timer_or_fresh(&self) -> Timer {
        self.timer
            .unwrap_or(Timer { deadline_ms: None, remaining_ms: u64::from(self.timebox_secs.unwrap_or(0)) * 1000 })
    }
}

impl Forum {
    /// Decide a command on the agenda or on an item's timer.
    pub(super) fn decide_agenda(&self, command: &Command, now_ms: u64, limits: &Limits) -> Result<Event> {
        match command {
            Command::AddItem { title, description, timebox_secs } => {
                Limits::check(
                    self.agenda.len(),
                    limits.agenda_items,
                    rule::AGENDA_ITEMS,
                    "an agenda holds this many items",
                )?;
                Ok(Event::ItemAdded {
                    item: self.next_item_id(),
                    title: clean_text("title", title, MAX_TITLE_CHARS)?,
                    description: description
                        .as_deref()
                        .map(|d| clean_text("description", d, MAX_DESCRIPTION_CHARS))
                        .transpose()?,
                    timebox_secs: timebox_secs.map(|s| check_secs("timebox_secs", s)).transpose()?,
                })
            }
            Command::EditItem { item, title, description, timebox_secs } => {
                self.pending_item(*item)?;
                Ok(Event::ItemEdited {
                    item: *item,
                    title: title.as_deref().map(|t| clean_text("title", t, MAX_TITLE_CHARS)).transpose()?,
                    description: description
                        .as_deref()
                        .map(|d| clean_text("description", d, MAX_DESCRIPTION_CHARS))
                        .transpose()?,
                    timebox_secs: timebox_secs.map(|s| check_secs("timebox_secs", s)).transpose()?,
                })
            }
            Command::MoveItem { item, position } => {
                self.pending_item(*item)?;
                if *position as usize >= self.agenda.len() {
                    return Err(DomainError::Invalid(format!(
                        "position {position} is past the end of the agenda ({} items)",
                        self.agenda.len()
                    )));
                }
                Ok(Event::ItemMoved { item: *item, position: *position })
            }
            Command::RemoveItem { item } => {
                self.pending_item(*item)?;
                if self.polls.values().any(|p| p.item == *item) {
                    return Err(DomainError::InvalidState(format!("item {item} has polls; it cannot be removed")));
                }
                Ok(Event::ItemRemoved { item: *item })
            }
            Command::ActivateItem { item } => {
                self.require_live()?;
                let it = self.item(*item)?;
                match it.state {
                    ItemState::Pending => {
                        Ok(Event::ItemActivated { item: *item, deadline_ms: activation_deadline(it, now_ms) })
                    }
                    ItemState::Active => Err(DomainError::InvalidState(format!("item {item} is already active"))),
                    ItemState::Done => Err(DomainError::InvalidState(format!("item {item} is done"))),
                }
            }
            Command::CompleteItem { item } => match self.item(*item)?.state {
                ItemState::Done => Err(DomainError::InvalidState(format!("item {item} is already done"))),
                _ => Ok(Event::ItemCompleted { item: *item }),
            },
            Command::StartTimer { item } => {
                let it = self.timed_item(*item)?;
                let timer = it.timer_or_fresh();
                if timer.deadline_ms.is_some() {
                    return Err(DomainError::InvalidState(format!("the timer of item {item} is already running")));
                }
                Ok(Event::TimerStarted { item: *item, deadline_ms: now_ms.saturating_add(timer.remaining_ms) })
            }
            Command::PauseTimer { item } => {
                let it = self.timed_item(*item)?;
                match it.timer.and_then(|t| t.deadline_ms) {
                    Some(deadline) => {
                        Ok(Event::TimerPaused { item: *item, remaining_ms: deadline.saturating_sub(now_ms) })
                    }
                    None => Err(DomainError::InvalidState(format!("the timer of item {item} is not running"))),
                }
            }
            Command::ExtendTimer { item, secs } => {
                if self.item(*item)?.state == ItemState::Done {
                    return Err(DomainError::InvalidState(format!("item {item} is done")));
                }
                let extra_ms = u64::from(check_secs("secs", *secs)?) * 1000;
                match self.item(*item)?.timer.and_then(|t| t.deadline_ms) {
                    // Time already ran out: the extension counts from now, not from the past deadline.
                    Some(deadline) if deadline <= now_ms => {
                        Ok(Event::TimerStarted { item: *item, deadline_ms: now_ms.saturating_add(extra_ms) })
                    }
                    _ => Ok(Event::TimerExtended { item: *item, extra_ms }),
                }
            }
            other => Err(misrouted(other)),
        }
    }

    /// Change the agenda or an item's timer by one event.
    pub(super) fn apply_agenda(&mut self, event: &Event) {
        match event {
            Event::ItemAdded { item, title, description, timebox_secs } => {
                self.items.insert(
                    *item,
                    Item {
                        id: *item,
                        title: title.clone(),
                        description: description.clone(),
                        timebox_secs: *timebox_secs,
                        state: ItemState::Pending,
                        timer: None,
                    },
                );
                self.agenda.push(*item);
                self.next_item = self.next_item.max(item.0.saturating_add(1));
            }
            Event::ItemEdited { item, title, description, timebox_secs } => {
                if let Some(it) = self.items.get_mut(item) {
                    if let Some(t) = title {
                        it.title = t.clone();
                    }
                    if let Some(d) = description {
                        it.description = Some(d.clone());
                    }
                    if let Some(s) = timebox_secs {
                        it.timebox_secs = Some(*s);
                    }
                }
            }
            Event::ItemMoved { item, position } => {
                if let Some(from) = self.agenda.iter().position(|i| i == item) {
                    let id = self.agenda.remove(from);
                    let to = (*position as usize).min(self.agenda.len());
                    self.agenda.insert(to, id);
                }
            }
            Event::ItemRemoved { item } => {
                self.agenda.retain(|i| i != item);
                self.items.remove(item);
            }
            Event::ItemActivated { item, deadline_ms } => {
                if let Some(prev) = self.active_item.take() {
                    self.finish_item(prev);
                }
                if let Some(it) = self.items.get_mut(item) {
                    it.state = ItemState::Active;
                    if let Some(deadline) = deadline_ms {
                        it.timer = Some(Timer { deadline_ms: Some(*deadline), remaining_ms: 0 });
                    }
                    self.active_item = Some(*item);
                }
            }
            Event::ItemCompleted { item } => {
                self.finish_item(*item);
                if self.active_item == Some(*item) {
                    self.active_item = None;
                }
            }
            Event::TimerStarted { item, deadline_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    it.timer = Some(Timer { deadline_ms: Some(*deadline_ms), remaining_ms: 0 });
                }
            }
            Event::TimerPaused { item, remaining_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    it.timer = Some(Timer { deadline_ms: None, remaining_ms: *remaining_ms });
                }
            }
            Event::TimerExtended { item, extra_ms } => {
                if let Some(it) = self.items.get_mut(item) {
                    let mut timer = it.timer_or_fresh();
                    match timer.deadline_ms.as_mut() {
                        Some(deadline) => *deadline = deadline.saturating_add(*extra_ms),
                        None => timer.remaining_ms = timer.remaining_ms.saturating_add(*extra_ms),
                    }
                    it.timer = Some(timer);
                }
            }
            _ => {}
        }
    }

    /// An item that is done keeps no running timer: its time is over.
    fn finish_item(&mut self, item: ItemId) {
        if let Some(it) = self.items.get_mut(&item) {
            it.state = ItemState::Done;
            if let Some(timer) = it.timer.as_mut() {
                *timer = Timer { deadline_ms: None, remaining_ms: 0 };
            }
        }
    }

    pub(super) fn item(&self, id: ItemId) -> Result<&Item> {
        self.items.get(&id).ok_or(DomainError::NotFound { what: "item", id: id.0 })
    }

    fn pending_item(&self, id: ItemId) -> Result<&Item> {
        let item = self.item(id)?;
        if item.state != ItemState::Pending {
            return Err(DomainError::InvalidState(format!("item {id} is no longer pending")));
        }
        Ok(item)
    }

    fn timed_item(&self, id: ItemId) -> Result<&Item> {
        let item = self.item(id)?;
        if item.state == ItemState::Done {
            return Err(DomainError::InvalidState(format!("item {id} is done")));
        }
        if item.timebox_secs.is_none() && item.timer.is_none() {
            return Err(DomainError::InvalidState(format!(
                "item {id} has no time box: set timebox_secs, or extend the timer to give it time"
            )));
        }
        Ok(item)
    }
}

/// The deadline an item's countdown gets when it becomes the current item:
/// its time box (or what is left of a timer extended or paused before), from
/// now. `None` when it has no time, or its timer already runs.
fn activation_deadline(item: &Item, now_ms: u64) -> Option<u64> {
    if item.timebox_secs.is_none() && item.timer.is_none() {
        return None;
    }
    let timer = item.timer_or_fresh();
    match timer.deadline_ms {
        Some(_) => None,
        None => Some(now_ms.saturating_add(timer.remaining_ms)),
    }
}

#[cfg(test)]
mod tests;
