//! Helpers that tests across the domain share: ids, poll methods and
//! ballots for the method tests, and forums driven by commands (decide, then
//! apply, as the hub does) for the aggregate tests.
//!
//! Test-only. A helper used by one test module stays in that module.

use std::collections::HashMap;

use madang_protocol::{
    Allocation, Ballot, Channel, Command, HallCounts, HallOptionCount, IdeaId, ItemId, MajorityRule, OptionCount,
    OptionId, ParticipantId, PollId, PollMethod, PollOptionsSpec, QueuePolicy, RankedTally, ResultsVisibility,
    ScoreEntry, ScoreStat, Screen, SignalColor, SpeakerId, Tally, TallyResult, YesNoChoice,
};

use super::method::{BallotError, OptionIndex, count, validate_ballot};
use super::{Actor, DomainError, Event, Forum, Limits};

// --- ids --------------------------------------------------------------------

pub(crate) fn o(id: u32) -> OptionId {
    OptionId(id)
}

pub(crate) fn ids(list: &[u32]) -> Vec<OptionId> {
    list.iter().copied().map(OptionId).collect()
}

pub(crate) fn tiers_of(list: &[&[u32]]) -> Vec<Vec<OptionId>> {
    list.iter().map(|tier| ids(tier)).collect()
}

pub(crate) fn counts(list: &[(u32, u64)]) -> Vec<OptionCount> {
    list.iter().map(|&(option, count)| OptionCount { option: o(option), count }).collect()
}

pub(crate) fn pid(n: u32) -> ParticipantId {
    ParticipantId(n)
}

// --- methods and ballots ----------------------------------------------------

/// A poll's options 1..=n, some merged into others.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) all: Vec<OptionId>,
    pub(crate) merged: HashMap<OptionId, OptionId>,
}

impl Options {
    pub(crate) fn new(n: u32) -> Self {
        Options { all: (1..=n).map(OptionId).collect(), merged: HashMap::new() }
    }

    pub(crate) fn merge(mut self, from: u32, into: u32) -> Self {
        self.merged.insert(o(from), o(into));
        self
    }

    pub(crate) fn index(&self) -> OptionIndex {
        OptionIndex::new(&self.all, |option| self.merged.get(&option).copied().unwrap_or(option))
    }

    pub(crate) fn validate(&self, method: &PollMethod, ballot: &Ballot) -> Result<(), BallotError> {
        validate_ballot(method, &self.index(), ballot)
    }

    pub(crate) fn tally(&self, method: &PollMethod, ballots: &[Ballot]) -> Tally {
        tally(PollId(7), method, &self.index(), ballots)
    }
}

/// Count the ballots. Deterministic: the same ballots (in any order) give an equal Tally.
///
/// `ballots` in the result is the number of ballots iterated, including any
/// that do not match the method (those are otherwise ignored). No channel
/// breakdown: the forum adds it (see `Forum::tally`).
pub(crate) fn tally<'b>(
    poll: PollId,
    method: &PollMethod,
    options: &OptionIndex,
    ballots: impl IntoIterator<Item = &'b Ballot>,
) -> Tally {
    let mut counted: u32 = 0;
    let ballots = ballots.into_iter().inspect(|_| counted = counted.saturating_add(1)).map(|ballot| (ballot, 1));
    let result = count(method, options, ballots, None);
    Tally { poll, ballots: counted, result, by_channel: None, ranked: None, no_votes: counted == 0 }
}

pub(crate) fn assert_rule(result: Result<(), BallotError>, rule: &str) {
    match result {
        Err(error) => {
            assert_eq!(error.rule, rule, "message: {}", error.message);
            assert!(!error.message.is_empty());
            assert_eq!(error.to_string(), error.message);
        }
        Ok(()) => panic!("expected rule {rule}, ballot was accepted"),
    }
}

pub(crate) fn yes_no(rule: MajorityRule) -> PollMethod {
    PollMethod::YesNo { rule }
}
pub(crate) fn approval(max_choices: u32) -> PollMethod {
    PollMethod::Approval { max_choices }
}
pub(crate) fn dots(budget: u32, max_per_option: u32) -> PollMethod {
    PollMethod::Dots { budget, max_per_option }
}
pub(crate) fn score() -> PollMethod {
    PollMethod::Score {}
}
pub(crate) fn single_choice() -> PollMethod {
    PollMethod::SingleChoice {}
}
pub(crate) fn ranked(max_ranks: Option<u32>) -> PollMethod {
    PollMethod::Ranked { max_ranks, tally: RankedTally::Borda }
}

pub(crate) fn choose(choice: YesNoChoice) -> Ballot {
    Ballot::YesNo { choice }
}
pub(crate) fn votes(yes: usize, no: usize, abstain: usize) -> Vec<Ballot> {
    let mut ballots = vec![choose(YesNoChoice::Yes); yes];
    ballots.extend(vec![choose(YesNoChoice::No); no]);
    ballots.extend(vec![choose(YesNoChoice::Abstain); abstain]);
    ballots
}
pub(crate) fn approve(options: &[u32]) -> Ballot {
    Ballot::Approval { options: ids(options) }
}
pub(crate) fn place(allocations: &[(u32, u32)]) -> Ballot {
    Ballot::Dots {
        allocations: allocations.iter().map(|&(option, dots)| Allocation { option: o(option), dots }).collect(),
    }
}
pub(crate) fn scores(entries: &[(u32, u8)]) -> Ballot {
    Ballot::Score { scores: entries.iter().map(|&(option, score)| ScoreEntry { option: o(option), score }).collect() }
}
pub(crate) fn rank(ranking: &[u32]) -> Ballot {
    Ballot::Ranked { ranking: ids(ranking) }
}

pub(crate) fn count_weighted(options: &Options, method: &PollMethod, ballots: &[(Ballot, u64)]) -> TallyResult {
    count(method, &options.index(), ballots.iter().map(|(ballot, weight)| (ballot, *weight)), None)
}

pub(crate) fn stat(option: u32, ballots: u32, sum: u64, mean: f64, median: f64, distribution: [u32; 6]) -> ScoreStat {
    ScoreStat { option: o(option), ballots, sum, mean, median, distribution }
}

// --- forums -----------------------------------------------------------------

pub(crate) const MOD: Actor = Actor::Moderator;

pub(crate) fn p(n: u32) -> Actor {
    Actor::Participant(ParticipantId(n))
}

pub(crate) fn item(n: u32) -> ItemId {
    ItemId(n)
}

pub(crate) fn idea(n: u32) -> IdeaId {
    IdeaId(n)
}

pub(crate) fn poll(n: u32) -> PollId {
    PollId(n)
}

pub(crate) fn created() -> Event {
    Event::ForumCreated {
        id: "forum-1".into(),
        title: "Town hall".into(),
        language: "ko".into(),
        remote_code: "REMOTE".into(),
        hall_code: "HALL".into(),
        moderator_token_hash: "mod-hash".into(),
        display_token_hash: "display-hash".into(),
        eligibility: Default::default(),
        receipt_key: None,
    }
}

/// A fresh forum in draft.
pub(crate) fn forum() -> Forum {
    Forum::from_created(&created()).expect("ForumCreated builds a forum")
}

/// Decide under the default limits, and on success apply: what the hub does.
pub(crate) fn run(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> Result<Event, DomainError> {
    run_with(forum, &Limits::default(), actor, command, now)
}

/// `run` under the given limits.
pub(crate) fn run_with(
    forum: &mut Forum,
    limits: &Limits,
    actor: Actor,
    command: Command,
    now: u64,
) -> Result<Event, DomainError> {
    let event = forum.decide(actor, &command, now, limits)?;
    forum.apply(&event);
    Ok(event)
}

/// `run_with` that must succeed.
#[track_caller]
pub(crate) fn ok_with(forum: &mut Forum, limits: &Limits, actor: Actor, command: Command) -> Event {
    let name = command.name();
    run_with(forum, limits, actor, command, 0).unwrap_or_else(|e| panic!("`{name}` was refused: {e:?}"))
}

/// `run_with` that must fail, and must leave the forum unchanged.
#[track_caller]
pub(crate) fn err_with(forum: &mut Forum, limits: &Limits, actor: Actor, command: Command) -> DomainError {
    let before = forum.clone();
    let name = command.name();
    let event = forum.decide(actor, &command, 0, limits);
    assert_eq!(*forum, before, "deciding `{name}` changed the forum");
    match event {
        Ok(event) => panic!("`{name}` was accepted: {event:?}"),
        Err(e) => e,
    }
}

/// `run` that must succeed.
#[track_caller]
pub(crate) fn ok_at(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> Event {
    let name = command.name();
    run(forum, actor, command, now).unwrap_or_else(|e| panic!("`{name}` was refused: {e:?}"))
}

#[track_caller]
pub(crate) fn ok(forum: &mut Forum, actor: Actor, command: Command) -> Event {
    ok_at(forum, actor, command, 0)
}

/// `run` that must fail, and must leave the forum unchanged.
#[track_caller]
pub(crate) fn err_at(forum: &mut Forum, actor: Actor, command: Command, now: u64) -> DomainError {
    let before = forum.clone();
    let name = command.name();
    let event = forum.decide(actor, &command, now, &Limits::default());
    assert_eq!(*forum, before, "deciding `{name}` changed the forum");
    match event {
        Ok(event) => panic!("`{name}` was accepted: {event:?}"),
        Err(e) => e,
    }
}

#[track_caller]
pub(crate) fn err(forum: &mut Forum, actor: Actor, command: Command) -> DomainError {
    err_at(forum, actor, command, 0)
}

#[track_caller]
pub(crate) fn assert_invalid_state(e: DomainError, fragment: &str) {
    match e {
        DomainError::InvalidState(message) => {
            assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}")
        }
        other => panic!("expected InvalidState containing {fragment:?}, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn assert_invalid(e: DomainError, fragment: &str) {
    match e {
        DomainError::Invalid(message) => assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}"),
        other => panic!("expected Invalid containing {fragment:?}, got {other:?}"),
    }
}

/// A refusal by a named rule, with `fragment` in its message.
#[track_caller]
pub(crate) fn assert_broken(e: DomainError, rule: &str, fragment: &str) {
    match e {
        DomainError::Rule { rule: got, message } => {
            assert_eq!(got, rule, "message: {message}");
            assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}");
        }
        other => panic!("expected the rule {rule:?}, got {other:?}"),
    }
}

/// A refusal by a cap of `Limits`, naming `rule`.
#[track_caller]
pub(crate) fn assert_limit(e: DomainError, rule: &str) {
    match e {
        DomainError::Limit { rule: got, .. } => assert_eq!(got, rule),
        other => panic!("expected the limit {rule:?}, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn assert_forbidden(e: DomainError, fragment: &str) {
    match e {
        DomainError::Forbidden(message) => {
            assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}")
        }
        other => panic!("expected Forbidden containing {fragment:?}, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn assert_not_found(e: DomainError, what: &'static str, id: u32) {
    assert_eq!(e, DomainError::NotFound { what, id });
}

pub(crate) fn add_item(title: &str) -> Command {
    Command::AddItem { title: title.into(), description: None, timebox_secs: None }
}

pub(crate) fn add_timed_item(title: &str, secs: u32) -> Command {
    Command::AddItem { title: title.into(), description: None, timebox_secs: Some(secs) }
}

pub(crate) fn submit(text: &str) -> Command {
    Command::SubmitIdea { text: text.into() }
}

pub(crate) fn join(forum: &mut Forum) -> ParticipantId {
    let token = format!("token-{}", forum.participants.len() + 1);
    let event = forum.decide_join(Channel::Remote, None, None, token, &Limits::default()).expect("join");
    forum.apply(&event);
    match event {
        Event::ParticipantJoined { participant, .. } => participant,
        other => panic!("join gave {other:?}"),
    }
}

/// A live forum with no items.
pub(crate) fn live() -> Forum {
    let mut f = forum();
    ok(&mut f, MOD, Command::StartForum {});
    f
}

/// A live forum whose item 1 ("Parks", time box 300 s) is active, its
/// countdown (started by the activation) paused at the full 300 s so that
/// timer tests start it at a time of their choosing.
pub(crate) fn live_with_item() -> Forum {
    let mut f = live();
    ok(&mut f, MOD, add_timed_item("Parks", 300));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    ok(&mut f, MOD, Command::PauseTimer { item: item(1) });
    f
}

/// A yes/no poll under simple majority.
pub(crate) fn simple_yes_no() -> PollMethod {
    PollMethod::YesNo { rule: MajorityRule::Simple }
}

pub(crate) fn fixed(labels: &[&str]) -> PollOptionsSpec {
    PollOptionsSpec::Fixed { labels: labels.iter().map(|l| l.to_string()).collect() }
}

pub(crate) fn create_poll(item: Option<ItemId>, method: PollMethod, options: PollOptionsSpec) -> Command {
    Command::CreatePoll {
        ballots: Default::default(),
        item,
        title: "Which?".into(),
        method,
        options,
        results: ResultsVisibility::Live,
    }
}

pub(crate) fn cast(poll_id: u32, ballot: Ballot) -> Command {
    Command::CastBallot { poll: poll(poll_id), ballot }
}

/// A live forum with item 1 active and an open approval poll 1 over fixed options A, B, C.
pub(crate) fn open_approval_poll(max_choices: u32) -> Forum {
    let mut f = live_with_item();
    ok(&mut f, MOD, create_poll(None, approval(max_choices), fixed(&["A", "B", "C"])));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

/// One instance of every command a participant may not send (all but
/// submit_idea and cast_ballot), with plausible arguments.
pub(crate) fn moderator_commands() -> Vec<Command> {
    vec![
        Command::StartForum {},
        Command::CloseForum {},
        Command::SetPremoderation { enabled: true },
        add_item("Budget"),
        Command::EditItem { item: item(1), title: Some("New".into()), description: None, timebox_secs: None },
        Command::MoveItem { item: item(1), position: 0 },
        Command::RemoveItem { item: item(1) },
        Command::ActivateItem { item: item(1) },
        Command::CompleteItem { item: item(1) },
        Command::StartTimer { item: item(1) },
        Command::PauseTimer { item: item(1) },
        Command::ExtendTimer { item: item(1), secs: 60 },
        Command::ApproveIdea { idea: idea(1) },
        Command::HideIdea { idea: idea(1) },
        Command::MergeIdea { idea: idea(1), into: idea(2) },
        create_poll(None, approval(1), fixed(&["A", "B"])),
        Command::OpenPoll { poll: poll(1) },
        Command::ClosePoll { poll: poll(1) },
        Command::RevealResults { poll: poll(1) },
        Command::EnterHallCount {
            poll: poll(1),
            counts: HallCounts::Approval { people: 1, counts: vec![HallOptionCount { option: o(1), count: 1 }] },
        },
        Command::SetHallHeadcount { count: 10 },
        Command::AddSpeaker { name: "Mrs Kim".into() },
        Command::CallNext {},
        Command::SkipSpeaker {},
        Command::RemoveSpeaker { speaker: SpeakerId(1) },
        Command::MoveSpeaker { speaker: SpeakerId(1), position: 0 },
        Command::SetQueuePolicy { policy: QueuePolicy::Alternate },
        Command::SetSpeakingLimit { secs: Some(60) },
        Command::EndSpeech {},
        Command::ShowOnDisplay { screen: Screen::Blank },
        Command::SetEligibility { eligibility: madang_protocol::Eligibility::Ticketed },
        Command::IssueTickets { channel: Channel::Hall, count: 2 },
        Command::RevokeTicket { ticket: 1 },
        Command::RecordResponse {
            poll: poll(1),
            body: "Parks".into(),
            response: madang_protocol::ResponseKind::Adopted,
            reasons: "As voted".into(),
        },
        Command::PlanAction { poll: poll(1), title: "Plant trees".into(), target_date: None },
        Command::UpdateAction {
            action: madang_protocol::ActionId(1),
            status: madang_protocol::ActionStatus::Done,
            note: None,
        },
    ]
}

pub(crate) fn participant_commands() -> Vec<Command> {
    vec![
        submit("An idea"),
        cast(1, approve(&[1])),
        Command::NextPair { poll: poll(1) },
        Command::CastComparison { poll: poll(1), winner: o(1), loser: o(2), skip: false },
        Command::RaiseHand {},
        Command::LowerHand {},
        Command::Signal { color: SignalColor::Green },
        Command::SupportIdea { idea: idea(1) },
        Command::WithdrawSupport { idea: idea(1) },
    ]
}

/// A live forum, item 1 active, with approved moderator ideas 1..=n.
pub(crate) fn ideas(n: u32) -> Forum {
    let mut f = live_with_item();
    for k in 1..=n {
        ok(&mut f, MOD, submit(&format!("Idea {k}")));
    }
    f
}

/// Live forum, item 1 active, approved ideas 1..=n, open poll 1 over them with `method`.
pub(crate) fn poll_over_ideas(n: u32, method: PollMethod) -> Forum {
    let mut f = ideas(n);
    ok(&mut f, MOD, create_poll(None, method, PollOptionsSpec::Ideas {}));
    ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
    f
}

pub(crate) fn join_on(forum: &mut Forum, channel: Channel, name: Option<&str>) -> ParticipantId {
    let token = format!("token-{}", forum.participants.len() + 1);
    let event = forum.decide_join(channel, name, None, token, &Limits::default()).expect("join");
    forum.apply(&event);
    match event {
        Event::ParticipantJoined { participant, .. } => participant,
        other => panic!("join gave {other:?}"),
    }
}
