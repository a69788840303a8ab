//! Ideas under the current item: submitted (held for approval with
//! premoderation), approved, hidden, and merged into one another.
//!
//! A merge is a forest: each merged idea points at the idea that absorbed it.
//! What a merge means for a poll's options is the polls' business
//! (`Forum::canonical_options`).

use madang_protocol::{Command, IdeaId, IdeaStatus, ItemId, ParticipantId};
use serde::{Deserialize, Serialize};

use super::decide::{Actor, Result, clean_text, misrouted};
use super::limits::{Limits, rule};
use super::{DomainError, Event, Forum};

pub(crate) const MAX_IDEA_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idea {
    pub id: IdeaId,
    pub item: ItemId,
    pub text: String,
    pub author: Option<ParticipantId>,
    pub status: IdeaStatus,
    pub merged_into: Option<IdeaId>,
}

impl Forum {
    /// Decide a command on ideas.
    pub(super) fn decide_ideas(&self, actor: Actor, command: &Command, limits: &Limits) -> Result<Event> {
        match command {
            Command::SubmitIdea { text } => {
                self.require_live()?;
                let Some(item) = self.active_item else {
                    return Err(DomainError::InvalidState("there is no current agenda item to put ideas under".into()));
                };
                let author = match actor {
                    Actor::Participant(p) => Some(p),
                    _ => None,
                };
                self.check_idea_room(author, limits)?;
                Ok(Event::IdeaSubmitted {
                    idea: self.next_idea_id(),
                    item,
                    text: clean_text("idea", text, MAX_IDEA_CHARS)?,
                    author,
                    approved: author.is_none() || !self.premoderation,
                })
            }
            Command::ApproveIdea { idea } => match self.idea(*idea)?.status {
                IdeaStatus::Pending | IdeaStatus::Hidden => Ok(Event::IdeaApproved { idea: *idea }),
                IdeaStatus::Approved => Err(DomainError::InvalidState(format!("idea {idea} is already approved"))),
                IdeaStatus::Merged => Err(DomainError::InvalidState(format!("idea {idea} was merged"))),
            },
            Command::HideIdea { idea } => match self.idea(*idea)?.status {
                IdeaStatus::Pending | IdeaStatus::Approved => Ok(Event::IdeaHidden { idea: *idea }),
                IdeaStatus::Hidden => Err(DomainError::InvalidState(format!("idea {idea} is already hidden"))),
                IdeaStatus::Merged => Err(DomainError::InvalidState(format!("idea {idea} was merged"))),
            },
            Command::MergeIdea { idea, into } => self.decide_merge(*idea, *into),
            other => Err(misrouted(other)),
        }
    }

    /// Refuse a new idea past a cap. Hidden and merged ideas count: they stay
    /// in the moderators' view, so hiding must not make room for more.
    fn check_idea_room(&self, author: Option<ParticipantId>, limits: &Limits) -> Result<()> {
        Limits::check(self.ideas.len(), limits.ideas, rule::IDEAS, "a forum holds this many ideas")?;
        if let Some(author) = author {
            let pending = self.ideas.values().filter(|i| i.status == IdeaStatus::Pending).count();
            let mine = self.ideas.values().filter(|i| i.author == Some(author)).count();
            Limits::check(
                mine,
                limits.ideas_per_participant,
                rule::IDEAS_PER_PARTICIPANT,
                "each participant may submit this many ideas",
            )?;
            Limits::check(pending, limits.pending_ideas, rule::PENDING_IDEAS, "this many ideas may await approval")?;
        }
        Ok(())
    }

    fn decide_merge(&self, idea: IdeaId, into: IdeaId) -> Result<Event> {
        if idea == into {
            return Err(DomainError::Invalid("an idea cannot be merged into itself".into()));
        }
        let (from, to) = (self.idea(idea)?, self.idea(into)?);
        if from.status == IdeaStatus::Merged {
            return Err(DomainError::InvalidState(format!("idea {idea} was already merged")));
        }
        if to.status != IdeaStatus::Approved {
            return Err(DomainError::InvalidState(format!("idea {into} must be approved to take a merge")));
        }
        if from.item != to.item {
            return Err(DomainError::Invalid("ideas of different agenda items cannot be merged".into()));
        }
        Ok(Event::IdeaMerged { idea, into })
    }

    /// Change the ideas by one event.
    pub(super) fn apply_ideas(&mut self, event: &Event) {
        match event {
            // Ids are never reused, so a second creation of one (only in a
            // log the hub did not write) is ignored: recreating a merged idea
            // would unmerge it behind the polls' kept counts.
            Event::IdeaSubmitted { idea, .. } if self.ideas.contains_key(idea) => {}
            Event::IdeaSubmitted { idea, item, text, author, approved } => {
                self.ideas.insert(
                    *idea,
                    Idea {
                        id: *idea,
                        item: *item,
                        text: text.clone(),
                        author: *author,
                        status: if *approved { IdeaStatus::Approved } else { IdeaStatus::Pending },
                        merged_into: None,
                    },
                );
                self.next_idea = self.next_idea.max(idea.0.saturating_add(1));
            }
            Event::IdeaApproved { idea } => self.set_idea_status(*idea, IdeaStatus::Approved),
            Event::IdeaHidden { idea } => self.set_idea_status(*idea, IdeaStatus::Hidden),
            Event::IdeaMerged { idea, into } => {
                if let Some(i) = self.ideas.get_mut(idea) {
                    i.status = IdeaStatus::Merged;
                    i.merged_into = Some(*into);
                }
                // A merge changes what ballots count for: recount the live pairwise counts (rare).
                self.rebuild_derived();
            }
            _ => {}
        }
    }

    fn set_idea_status(&mut self, idea: IdeaId, status: IdeaStatus) {
        if let Some(i) = self.ideas.get_mut(&idea) {
            i.status = status;
        }
    }

    /// Follow merges to the idea that finally absorbed `idea`.
    pub fn root_idea(&self, idea: IdeaId) -> IdeaId {
        let mut current = idea;
        // Merges form a forest (a merged idea cannot be a target), but bound
        // the walk anyway so that a damaged log cannot loop forever.
        for _ in 0..self.ideas.len() + 1 {
            match self.ideas.get(&current).and_then(|i| i.merged_into) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    pub(super) fn idea(&self, id: IdeaId) -> Result<&Idea> {
        self.ideas.get(&id).ok_or(DomainError::NotFound { what: "idea", id: id.0 })
    }
}

#[cfg(test)]
mod tests;
