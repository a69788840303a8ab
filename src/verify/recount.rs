//! The recount of one closed poll with the server's own counting code: a
//! throwaway [`Forum`] is rebuilt from the record's lines alone (one synthetic
//! participant per published ballot, in its channel; one synthetic idea per
//! option, merged as `merged_options` says; the last hand count) and asked
//! for its tally, exactly as the server asked when the poll closed.

use madang_protocol::{
    Channel, IdeaId, ItemId, ParticipantId, PollBallots, PollId, PollMethod, RecordBallot, RecordOption,
    ResultsVisibility, Tally,
};

use crate::domain::{Event, Forum, OptionSpec};

/// What a poll's `poll_opened` line said.
#[derive(Debug, Clone)]
pub struct OpenedPoll {
    pub poll: PollId,
    pub item: ItemId,
    pub title: String,
    pub method: PollMethod,
    pub options: Vec<RecordOption>,
    pub results: ResultsVisibility,
}

/// The tally the server computes for `opened` closed with `ballots`
/// (`None` never happens: the forum always has the poll it was just given).
///
/// Options are given to the forum in record order, so they get the ids 1, 2,
/// ... (the caller checks that the record numbers them so). A ballot of the
/// wrong shape for the poll (comparisons in an ordinary poll, a ballot in a
/// pairwise one) is left out, as the server could never have accepted it.
pub fn recount(opened: &OpenedPoll, ballots: &PollBallots) -> Option<Tally> {
    let poll = opened.poll;
    let created = Event::ForumCreated {
        id: "verify".to_string(),
        title: String::new(),
        language: "und".to_string(),
        remote_code: String::new(),
        hall_code: String::new(),
        moderator_token_hash: String::new(),
        display_token_hash: String::new(),
        eligibility: Default::default(),
        receipt_key: Some(String::new()),
    };
    let mut forum = Forum::from_created(&created)?;
    let idea = |position: usize| IdeaId(u32::try_from(position + 1).unwrap_or(u32::MAX));
    let mut events = Vec::new();
    for (position, option) in opened.options.iter().enumerate() {
        events.push(Event::IdeaSubmitted {
            idea: idea(position),
            item: opened.item,
            text: option.label.clone(),
            author: None,
            approved: true,
        });
    }
    let position_of = |option| opened.options.iter().position(|o| o.id == option);
    for merged in &ballots.merged_options {
        if let (Some(from), Some(into)) = (position_of(merged.option), position_of(merged.counts_for)) {
            events.push(Event::IdeaMerged { idea: idea(from), into: idea(into) });
        }
    }
    events.push(Event::PollCreated {
        poll,
        item: opened.item,
        title: opened.title.clone(),
        method: opened.method.clone(),
        options: opened
            .options
            .iter()
            .enumerate()
            .map(|(position, o)| OptionSpec { label: o.label.clone(), idea: Some(idea(position)) })
            .collect(),
        results: opened.results,
        // Secrecy decides who may vote and what is published, never how ballots count.
        secrecy: Default::default(),
    });
    events.push(Event::PollOpened { poll });
    let pairwise = matches!(opened.method, PollMethod::Pairwise {});
    for (i, ballot) in ballots.ballots.iter().enumerate() {
        let participant = ParticipantId(u32::try_from(i + 1).unwrap_or(u32::MAX));
        let join = |channel: Channel| Event::ParticipantJoined {
            participant,
            channel,
            name: None,
            token_hash: format!("voter-{i}"),
            ticket: None,
        };
        match ballot {
            RecordBallot::Ballot { receipt, channel, ballot, .. } if !pairwise => {
                events.push(join(*channel));
                events.push(Event::BallotCast {
                    poll,
                    participant,
                    ballot: ballot.clone(),
                    receipt: Some(receipt.clone()),
                });
            }
            RecordBallot::Comparisons { receipt, channel, comparisons, .. } if pairwise => {
                events.push(join(*channel));
                for c in comparisons {
                    events.push(Event::ComparisonCast {
                        poll,
                        participant,
                        winner: c.winner,
                        loser: c.loser,
                        skip: c.skip,
                        receipt: Some(receipt.clone()),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(last) = ballots.hall_counts.last() {
        events.push(Event::HallCountEntered { poll, counts: last.counts.clone() });
    }
    for event in &events {
        forum.apply(event);
    }
    forum.polls.get(&poll).map(|p| forum.tally(p))
}
