//! Fan-out: everything that leaves a forum task for its listeners.
//!
//! Events are rendered once per audience and published as soon as their batch
//! is persisted: staff frames to moderators, public frames to displays and,
//! through the crowd's shards, to participants. Whole-state updates (speaker
//! queue, agenda, participant counts, hall check) are conflated: within a
//! batch only the last of each kind is published, and across batches each
//! kind goes out at most once per tally interval (see `outlet`). Tallies and temperature checks
//! are conflated: an event only marks them dirty, and each tally tick sends
//! the latest of each (participants' shards take turns, see `crowd`). Idea
//! supports are conflated the same way: each tick sends the latest counts of
//! the ideas whose support changed, in one `supports` frame. Outcomes
//! of closed polls are handed to the store for other systems. Ballots are never
//! broadcast. This module does not decide who may see a tally: `view` does.

use madang_protocol::{IdeaId, PollStatus};

use std::time::Instant;

use super::ForumTask;
use crate::domain::{Event, Forum};
use crate::hub::crowd;
use crate::hub::frames::{self, Frame, WholeState};
use crate::hub::journal::Entry;
use crate::hub::view::{self, Audience, WholePart};
use crate::store::OutcomeRecord;

/// An event's frame and the whole state it replaces, if it is one.
pub(super) type EventFrame = (Frame, Option<WholeState>);

/// An event's frames for staff and for the public; `None` where it shows that audience nothing.
pub(super) type EventFrames = [Option<EventFrame>; 2];

/// Drop every whole-state frame that a later frame of the same kind and
/// audience in the same run replaces: they would go out at the same moment,
/// and the later one carries everything the earlier one did.
pub(super) fn drop_superseded<'a>(run: impl DoubleEndedIterator<Item = &'a mut EventFrames>) {
    let mut seen = [[false; WholeState::COUNT]; 2];
    for event_frames in run.rev() {
        for (audience, slot) in event_frames.iter_mut().enumerate() {
            let Some(kind) = slot.as_ref().and_then(|(_, kind)| *kind) else { continue };
            if std::mem::replace(&mut seen[audience][kind.index()], true) {
                *slot = None;
            }
        }
    }
}

/// The whole parts (`view::WholePart`) that a run of events changed, each
/// rendered once, for its last change: a hand storm costs one speaker queue
/// rendered per batch, not one per hand. The last change of a part may be
/// rendered after the run's later events, since only events of its own kind
/// change that part.
#[derive(Default)]
pub(super) struct WholeParts {
    /// Per part, the (seq, at_ms) of its last change in the run.
    last: Vec<(WholePart, u64, u64)>,
}

impl WholeParts {
    /// Render each part's last change against `forum` (the state after the
    /// run), for every audience: (seq, frames), by rising seq.
    pub(super) fn render(self, forum: &Forum) -> Vec<(u64, EventFrames)> {
        let mut rendered: Vec<(u64, EventFrames)> = self
            .last
            .into_iter()
            .map(|(part, seq, at_ms)| {
                let frame = frames::whole_part(forum, part, seq, at_ms);
                (seq, [Some(frame.clone()), Some(frame)])
            })
            .collect();
        rendered.sort_by_key(|(seq, _)| *seq);
        rendered
    }
}

/// What a run of events (a batch, or a tail read from the store) still owes
/// its frames at its end: hall checks and whole parts, rendered once each.
#[derive(Default)]
pub(super) struct RunFrames {
    pub(super) hall: HallChecks,
    pub(super) parts: WholeParts,
}

impl RunFrames {
    /// Render what the run owes against `forum`, the state after it, into
    /// the frames of the entries it belongs to (`entries` by rising seq).
    pub(super) fn settle<'a>(mut self, forum: &Forum, entries: impl Iterator<Item = (u64, &'a mut EventFrames)>) {
        self.hall.settle(forum);
        let mut checks = self.hall.take_rendered().into_iter().peekable();
        let mut parts = self.parts.render(forum).into_iter().peekable();
        for (seq, frames) in entries {
            if let Some((_, whole)) = parts.next_if(|(at, _)| *at == seq) {
                *frames = whole;
            }
            if let Some((_, frame)) = checks.next_if(|(at, _)| *at == seq) {
                frames[0] = Some((frame, Some(WholeState::HallCheck)));
            }
        }
    }
}

/// Moderators' hall checks for the hall ballots of a batch or a tail. Rendering one counts
/// every poll's voters, so a run of consecutive hall ballots gets one, on
/// its last ballot, rendered against the state right after that ballot.
#[derive(Default)]
pub(super) struct HallChecks {
    /// The last hall ballot of the current run: (seq, at_ms).
    owed: Option<(u64, u64)>,
    /// (seq, staff frame) of the runs that ended.
    rendered: Vec<(u64, Frame)>,
}

impl HallChecks {
    /// End the current run: render its hall check against `forum`, which
    /// must be the state right after the run's last ballot.
    pub(super) fn settle(&mut self, forum: &Forum) {
        if let Some((seq, at_ms)) = self.owed.take() {
            self.rendered.push((seq, frames::hall_check(forum, seq, at_ms)));
        }
    }

    /// The rendered hall checks, by the seq of the ballot each belongs to.
    pub(super) fn take_rendered(&mut self) -> Vec<(u64, Frame)> {
        std::mem::take(&mut self.rendered)
    }
}

impl ForumTask {
    /// Render an applied entry once for each audience.
    pub(super) fn render_event(&self, entry: &Entry) -> EventFrames {
        [
            frames::event_of_kind(&self.state.forum, entry, Audience::Staff),
            frames::event_of_kind(&self.state.forum, entry, Audience::Public),
        ]
    }

    /// Before a batch applies `event`: whether it is a hall ballot whose hall
    /// check waits for the end of its run; any other event ends the run.
    pub(super) fn settle_hall_checks_before(&self, event: &Event, hall: &mut HallChecks) -> bool {
        let hall_ballot = view::changes_hall_check(&self.state.forum, event);
        if !hall_ballot {
            hall.settle(&self.state.forum);
        }
        hall_ballot
    }

    /// The frames of an applied batch entry (see `settle_hall_checks_before`);
    /// a whole part waits in `parts` for the end of the run.
    pub(super) fn render_batch_event(&self, entry: &Entry, hall_ballot: bool, run: &mut RunFrames) -> EventFrames {
        if let Some(part) = view::whole_part_changed_by(&entry.event) {
            run.parts.last.retain(|(p, _, _)| *p != part);
            run.parts.last.push((part, entry.seq, entry.at_ms));
            return [None, None];
        }
        if hall_ballot {
            run.hall.owed = Some((entry.seq, entry.at_ms));
            return [None, frames::event_of_kind(&self.state.forum, entry, Audience::Public)];
        }
        self.render_event(entry)
    }

    /// Send a persisted event's frames and keep them for resumes (a whole
    /// state may wait for the next tick: see `outlet`).
    pub(super) fn publish_event(&mut self, seq: u64, [staff, public]: EventFrames) {
        let now = Instant::now();
        if let Some((frame, kind)) = staff {
            self.staff.publish(seq, frame, kind, now, |_| {});
        }
        if let Some((frame, kind)) = public {
            let crowd = &self.crowd;
            self.public.publish(seq, frame, kind, now, |frame| crowd.send_event(frame));
        }
    }

    /// Send the whole-state frames held since their kind last went out.
    fn flush_held(&mut self) {
        let now = Instant::now();
        self.staff.flush(now, |_| {});
        let crowd = &self.crowd;
        self.public.flush(now, |frame| crowd.send_event(frame));
    }

    /// Note which tallies and temperature an applied event changed.
    pub(super) fn mark_dirty(&mut self, event: &Event) {
        let forum = &self.state.forum;
        match event {
            Event::BallotCast { poll, .. }
            | Event::ComparisonCast { poll, .. }
            | Event::HallCountEntered { poll, .. }
            | Event::PollOpened { poll }
            | Event::ResultsRevealed { poll } => {
                self.dirty_polls.insert(*poll);
            }
            // A new current item starts with an empty temperature check.
            Event::SignalSet { .. } | Event::ItemActivated { .. } => self.temperature_dirty = true,
            Event::IdeaSupported { idea, .. } | Event::SupportWithdrawn { idea, .. } => {
                self.dirty_ideas.insert(*idea);
            }
            // Participants were told the idea is gone: no count of it follows.
            Event::IdeaHidden { idea } => self.crowd.forget_supports(*idea),
            Event::PollClosed { poll, .. } => {
                self.dirty_polls.remove(poll);
            }
            // A revoked ticket's withdrawn ballots change those polls' tallies.
            Event::TicketRevoked { withdrawn, .. } => self.dirty_polls.extend(withdrawn.iter().copied()),
            // A merge moves the ballots of every option whose idea's merge
            // chain passes through the merged idea: the option's own idea, or
            // one merged into it earlier (a chain that now reaches an option).
            Event::IdeaMerged { idea, .. } => {
                for p in forum.polls.values() {
                    if p.status == PollStatus::Open
                        && p.options.iter().filter_map(|o| o.idea).any(|start| merges_through(forum, start, *idea))
                    {
                        self.dirty_polls.insert(p.id);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a tick has anything to send: held whole states, changed
    /// tallies, a changed temperature check, or crowd shards still owed a turn.
    pub(super) fn tallies_pending(&self) -> bool {
        self.staff.holds()
            || self.public.holds()
            || !self.dirty_polls.is_empty()
            || self.temperature_dirty
            || !self.dirty_ideas.is_empty()
            || self.crowd.pending()
    }

    /// Send held whole states; then changed tallies and the temperature: to
    /// moderators and displays at every tick; to participants a few shards
    /// at a time (`crowd`).
    pub(super) fn publish_tallies(&mut self) {
        self.flush_held();
        let shards = self.crowd_shards_per_tick();
        let forum = &self.state.forum;
        if std::mem::take(&mut self.temperature_dirty) {
            let frame =
                view::current_temperature(forum).map(|temperature| frames::temperature(self.state.head, temperature));
            if let Some(frame) = &frame {
                self.staff.send(frame.clone());
                self.public.send(frame.clone());
            }
            self.crowd.temperature_changed(frame);
        }
        let ideas = std::mem::take(&mut self.dirty_ideas);
        if !ideas.is_empty() {
            let staff = view::supports_of(forum, ideas.iter().copied(), Audience::Staff);
            if !staff.is_empty() {
                self.staff.send(frames::supports(self.state.head, staff));
            }
            let public = view::supports_of(forum, ideas, Audience::Public);
            if !public.is_empty() {
                self.public.send(frames::supports(self.state.head, public.clone()));
                self.crowd.supports_changed(self.state.head, public);
            }
        }
        for poll_id in std::mem::take(&mut self.dirty_polls) {
            let Some(poll) = forum.polls.get(&poll_id) else { continue };
            if poll.status != PollStatus::Open {
                continue;
            }
            let frame = frames::tally(self.state.head, forum.tally(poll));
            self.staff.send(frame.clone());
            if view::tally_visible(poll, Audience::Public) {
                self.public.send(frame.clone());
                self.crowd.tally_changed(poll_id, frame);
            }
        }
        self.crowd.serve(shards, |poll_id| {
            forum
                .polls
                .get(&poll_id)
                .is_some_and(|p| p.status == PollStatus::Open && view::tally_visible(p, Audience::Public))
        });
    }

    /// How many of the crowd's shards hear tallies at this tick (`crowd::shards_due`).
    fn crowd_shards_per_tick(&mut self) -> usize {
        let listeners = self.crowd.listeners();
        let (rate, tick) = (self.config.crowd_tally_frames_per_sec, self.config.tally_interval);
        crowd::shards_due(&mut self.crowd_credit, listeners, rate, tick)
    }

    /// Hand closed polls' outcomes to the store.
    pub(super) async fn publish_outcomes(&mut self) {
        for outcome in std::mem::take(&mut self.outcomes) {
            if let Err(err) = self.store.publish_outcome(&outcome).await {
                // Other nodes, or this one at its next start, publish it again.
                tracing::warn!(forum = %outcome.forum, seq = outcome.seq, %err, "outcome not published yet");
            }
        }
    }
}

/// Whether `idea` is `start` or on the chain of merges that `start` was absorbed along.
fn merges_through(forum: &Forum, start: IdeaId, idea: IdeaId) -> bool {
    let mut current = start;
    // Merges form a forest, but bound the walk so a damaged log cannot loop.
    for _ in 0..=forum.ideas.len() {
        if current == idea {
            return true;
        }
        match forum.ideas.get(&current).and_then(|i| i.merged_into) {
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

/// The outcome record of a poll's closing entry, for the store. The outcome
/// is handed on as the entry stores it, so fields a newer build wrote into
/// it reach other systems too.
pub(super) fn outcome_record(forum: &Forum, entry: &Entry) -> Option<OutcomeRecord> {
    let Event::PollClosed { poll, outcome } = &entry.event else { return None };
    #[derive(serde::Deserialize)]
    struct Stored<'a> {
        #[serde(borrow)]
        event: Closed<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Closed<'a> {
        #[serde(borrow)]
        outcome: &'a serde_json::value::RawValue,
    }
    let outcome_json = match serde_json::from_slice::<Stored>(&entry.raw) {
        Ok(stored) => stored.event.outcome.get().to_string(),
        Err(err) => {
            // Never expected: the entry was decoded from these bytes. An
            // empty outcome handed on would read as a real one.
            tracing::error!(forum = %forum.id, seq = entry.seq, %err, "outcome cannot be read back; not published");
            return None;
        }
    };
    Some(OutcomeRecord {
        forum: forum.id.clone(),
        seq: entry.seq,
        poll: poll.0,
        title: outcome.title.clone(),
        closed_at_ms: outcome.closed_at_ms,
        outcome_json,
    })
}
