//! The public record of a forum (`protocol/RECORD.md`): JSON lines derived
//! from the log, each chained to the one before by the SHA-256 of its bytes.
//!
//! Pure: no I/O, no clock. [`RecordChain`] is the chain's state (its length
//! and head, and what the builder needs that the forum does not keep: each
//! open poll's hand counts in the order they were entered). It observes each
//! entry *before* the forum applies it, so it sees the state a decision was
//! taken against (the ballots in force at a close), and produces the lines
//! that entry adds. The live server keeps only the chain state and drops the
//! lines; serving the record replays the log through the same code and keeps
//! them, so the record is a pure function of the log.
//!
//! A line is serialized exactly once and hashed as serialized: nothing here
//! ever re-serializes a line to check it.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use madang_protocol::{
    BallotSecrecy, Channel, HallCountEntry, IdeaStatus, MergedOption, ParticipantId, PollBallots, PollId, PollMethod,
    PollStatus, RECORD_FORMAT, RECORD_GENESIS, RecordBallot, RecordBody, RecordComparison, RecordLine, RecordOption,
    RecordParticipants, RecordStamp,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::receipts::{self, short_code};
use crate::domain::{Event, Forum, Poll};

/// The fingerprint of a hash given in hex (RECORD.md §2); empty for a hash
/// that is not hex (never one this module made).
pub fn fingerprint(head_hex: &str) -> String {
    hex::decode(head_hex).map(|bytes| short_code(&bytes)).unwrap_or_default()
}

/// The record's chain as the forum task keeps it beside the forum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordChain {
    /// Lines so far.
    pub n: u64,
    /// SHA-256 (hex) of the last line.
    pub head: String,
    /// The hand counts of each poll not yet closed, in the order entered:
    /// the forum keeps only the last, the record publishes every correction.
    #[serde(default)]
    hall_counts: BTreeMap<PollId, Vec<HallCountEntry>>,
}

impl RecordChain {
    /// The chain after its first line (`forum`), and that line.
    pub fn start(forum: &Forum, at_ms: u64) -> (RecordChain, Vec<u8>) {
        let mut chain = RecordChain { n: 0, head: RECORD_GENESIS.to_string(), hall_counts: BTreeMap::new() };
        let line = chain.push(
            at_ms,
            RecordBody::Forum {
                format: RECORD_FORMAT.to_string(),
                forum: forum.id.clone(),
                title: forum.title.clone(),
                language: forum.language.clone(),
                eligibility: forum.eligibility,
            },
        );
        (chain, line)
    }

    /// The lines `event` (at `at_ms`) adds to the record, given the forum
    /// as it was before the event; each is passed to `line` (without `\n`).
    pub fn observe(&mut self, forum: &Forum, at_ms: u64, event: &Event, line: &mut dyn FnMut(Vec<u8>)) {
        if let Event::PollClosed { poll, outcome } = event {
            let Some(p) = forum.polls.get(poll).filter(|p| p.status == PollStatus::Open) else { return };
            let ballots = self.push(at_ms, self.poll_ballots(forum, p));
            line(ballots);
            // The stamp is the record's own: a log written before stamps
            // existed gets the same one a live close would have carried.
            let mut outcome = outcome.clone();
            outcome.record = Some(stamp(&self.head));
            self.hall_counts.remove(poll);
            line(self.push(at_ms, RecordBody::PollOutcome { poll: *poll, outcome }));
        } else if let Some(body) = self.body(forum, at_ms, event) {
            line(self.push(at_ms, body));
        }
    }

    /// The stamp a `poll_closed` for `poll` at `at_ms` will carry: the hash
    /// of the `poll_ballots` line it will add next, computed as `observe`
    /// will compute it. `None` when `poll` is not open.
    pub fn stamp_for_close(&self, forum: &Forum, poll: PollId, at_ms: u64) -> Option<RecordStamp> {
        let body = self.poll_ballots(forum, forum.polls.get(&poll).filter(|p| p.status == PollStatus::Open)?);
        let (bytes, _) = self.line(at_ms, body);
        Some(stamp(&hash(&bytes)))
    }

    /// Serialize the next line and advance the chain over it.
    fn push(&mut self, at_ms: u64, body: RecordBody) -> Vec<u8> {
        let (bytes, n) = self.line(at_ms, body);
        self.n = n;
        self.head = hash(&bytes);
        bytes
    }

    /// The next line's bytes and number, without advancing.
    fn line(&self, at_ms: u64, body: RecordBody) -> (Vec<u8>, u64) {
        let n = self.n + 1;
        let line = RecordLine { n, prev: self.head.clone(), at_ms, body };
        // Plain data with string keys: serializing cannot fail.
        (serde_json::to_vec(&line).unwrap_or_default(), n)
    }

    /// The one line an event other than a poll's close adds, if any.
    fn body(&mut self, forum: &Forum, at_ms: u64, event: &Event) -> Option<RecordBody> {
        let idea_line = |idea| {
            let i = forum.ideas.get(&idea)?;
            let channel = i.author.map(|a| forum.channel_of(&a));
            Some(RecordBody::IdeaPublished { idea, item: i.item, text: i.text.clone(), channel })
        };
        match event {
            Event::ForumStarted {} => Some(RecordBody::ForumStarted {}),
            Event::ForumClosed {} => Some(RecordBody::ForumClosed {}),
            Event::ItemAdded { item, title, description, timebox_secs } => Some(RecordBody::ItemAdded {
                item: *item,
                title: title.clone(),
                description: description.clone(),
                timebox_secs: *timebox_secs,
            }),
            Event::ItemEdited { item, title, description, timebox_secs } => Some(RecordBody::ItemEdited {
                item: *item,
                title: title.clone(),
                description: description.clone(),
                timebox_secs: *timebox_secs,
            }),
            Event::ItemMoved { item, position } => Some(RecordBody::ItemMoved { item: *item, position: *position }),
            Event::ItemRemoved { item } => Some(RecordBody::ItemRemoved { item: *item }),
            Event::ItemActivated { item, .. } => Some(RecordBody::ItemActivated {
                item: *item,
                completed: forum.active_item.filter(|current| current != item),
            }),
            Event::ItemCompleted { item } => Some(RecordBody::ItemCompleted { item: *item }),
            Event::IdeaSubmitted { idea, item, text, author, approved: true } if !forum.ideas.contains_key(idea) => {
                let channel = author.map(|a| forum.channel_of(&a));
                Some(RecordBody::IdeaPublished { idea: *idea, item: *item, text: text.clone(), channel })
            }
            Event::IdeaApproved { idea }
                if forum
                    .ideas
                    .get(idea)
                    .is_some_and(|i| matches!(i.status, IdeaStatus::Pending | IdeaStatus::Hidden)) =>
            {
                idea_line(*idea)
            }
            Event::IdeaHidden { idea } if forum.ideas.get(idea).is_some_and(|i| i.status == IdeaStatus::Approved) => {
                Some(RecordBody::IdeaHidden { idea: *idea })
            }
            Event::IdeaMerged { idea, into } if forum.ideas.contains_key(idea) => {
                Some(RecordBody::IdeaMerged { idea: *idea, into: *into })
            }
            Event::HallHeadcountSet { count } => Some(RecordBody::Headcount { count: *count }),
            Event::PollOpened { poll } => {
                forum.polls.get(poll).filter(|p| p.status == PollStatus::Draft).map(|p| RecordBody::PollOpened {
                    poll: p.id,
                    item: p.item,
                    title: p.title.clone(),
                    method: p.method.clone(),
                    options: p
                        .options
                        .iter()
                        .map(|o| RecordOption { id: o.id, label: o.label.clone(), idea: o.idea })
                        .collect(),
                    results: p.results,
                    ballots: p.secrecy,
                })
            }
            Event::EligibilitySet { eligibility } => Some(RecordBody::Eligibility { eligibility: *eligibility }),
            Event::TicketsIssued { channel, first, count } if forum.tickets.continue_with(*first, *count) => {
                Some(RecordBody::TicketsIssued { channel: *channel, first: *first, count: *count })
            }
            Event::TicketRevoked { ticket, withdrawn, .. }
                if forum.tickets.get(*ticket).is_some_and(|t| !t.revoked) =>
            {
                Some(RecordBody::TicketRevoked { withdrawn: withdrawn.clone() })
            }
            Event::ResponseRecorded { poll, body, response, reasons, .. } => Some(RecordBody::ResponseRecorded {
                poll: *poll,
                body: body.clone(),
                response: *response,
                reasons: reasons.clone(),
            }),
            Event::ActionPlanned { action, poll, title, target_date, .. }
                if !forum.follow_through.actions.contains_key(action) =>
            {
                Some(RecordBody::ActionPlanned {
                    action: *action,
                    poll: *poll,
                    title: title.clone(),
                    target_date: target_date.clone(),
                })
            }
            Event::ActionUpdated { action, status, note, .. } if forum.follow_through.actions.contains_key(action) => {
                Some(RecordBody::ActionUpdated { action: *action, status: *status, note: note.clone() })
            }
            Event::HallCountEntered { poll, counts } => {
                if forum.polls.get(poll).is_some_and(|p| p.status == PollStatus::Open) {
                    let entry = HallCountEntry { at_ms, counts: counts.clone() };
                    self.hall_counts.entry(*poll).or_default().push(entry);
                }
                None
            }
            _ => None,
        }
    }

    /// Everything `poll`'s count uses, as the record publishes it at the close.
    fn poll_ballots(&self, forum: &Forum, poll: &Poll) -> RecordBody {
        let receipt_of = |participant| match poll.receipts.get(participant) {
            Some(r) => r.current.clone(),
            // Never in a log the hub wrote: every ballot's apply keeps its receipt.
            None => receipts::receipt(&forum.receipt_key, poll.id, *participant, 0),
        };
        // Only a named poll publishes who cast a ballot; a secret poll's ballots carry no name.
        let name_of = |participant: &ParticipantId| match poll.secrecy {
            BallotSecrecy::Named => forum.participants.get(participant).and_then(|p| p.name.clone()),
            BallotSecrecy::Secret => None,
        };
        let mut ballots: Vec<RecordBallot> = if matches!(poll.method, PollMethod::Pairwise {}) {
            poll.comparisons
                .answers
                .iter()
                .filter(|(_, answers)| !answers.is_empty())
                .map(|(participant, answers)| {
                    let mut answers = answers.clone();
                    answers.sort_by_key(|a| a.order);
                    RecordBallot::Comparisons {
                        receipt: receipt_of(participant),
                        channel: forum.channel_of(participant),
                        name: name_of(participant),
                        comparisons: answers
                            .iter()
                            .map(|a| match a.winner {
                                Some(winner) => RecordComparison {
                                    winner,
                                    loser: if winner == a.a { a.b } else { a.a },
                                    skip: false,
                                },
                                None => RecordComparison { winner: a.a, loser: a.b, skip: true },
                            })
                            .collect(),
                    }
                })
                .collect()
        } else {
            poll.ballots
                .iter()
                .map(|(participant, ballot)| RecordBallot::Ballot {
                    receipt: receipt_of(participant),
                    channel: forum.channel_of(participant),
                    weight: 1,
                    ballot: ballot.clone(),
                    name: name_of(participant),
                })
                .collect()
        };
        ballots.sort_by(|a, b| a.receipt().cmp(b.receipt()));
        let joined = |channel| forum.participants.values().filter(|p| p.channel == channel).count() as u32;
        let mut merged_options: Vec<MergedOption> = forum
            .canonical_options(poll)
            .into_iter()
            .filter(|(option, target)| option != target)
            .map(|(option, counts_for)| MergedOption { option, counts_for })
            .collect();
        merged_options.sort_by_key(|m| m.option);
        RecordBody::PollBallots(Box::new(PollBallots {
            poll: poll.id,
            ballots,
            hall_counts: self.hall_counts.get(&poll.id).cloned().unwrap_or_default(),
            participants: RecordParticipants {
                remote: joined(Channel::Remote),
                hall: joined(Channel::Hall),
                headcount: forum.hall_headcount,
            },
            merged_options,
        }))
    }
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn stamp(head: &str) -> RecordStamp {
    RecordStamp { head: head.to_string(), fingerprint: fingerprint(head) }
}
