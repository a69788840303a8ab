//! What each audience is shown of a poll's reveal and of ideas' supports.

use madang_protocol::{Channel, Command, IdeaId, PollId, PollMethod, PollOptionsSpec, ResultsVisibility};

use super::*;
use crate::domain::{Actor, Limits};

fn run(forum: &mut Forum, actor: Actor, command: Command) {
    let name = command.name();
    let event =
        forum.decide(actor, &command, 1_000, &Limits::default()).unwrap_or_else(|e| panic!("`{name}` refused: {e}"));
    forum.apply(&event);
}

/// A live forum with item 1 active and one approved idea.
fn live_forum() -> Forum {
    let created = Event::ForumCreated {
        id: "f1".into(),
        title: "Parks".into(),
        language: "en".into(),
        remote_code: "REMOTE".into(),
        hall_code: "HALL".into(),
        moderator_token_hash: "m".into(),
        display_token_hash: "d".into(),
        eligibility: Default::default(),
        receipt_key: None,
    };
    let mut forum = Forum::from_created(&created).expect("a forum");
    run(&mut forum, Actor::Moderator, Command::StartForum {});
    run(
        &mut forum,
        Actor::Moderator,
        Command::AddItem { title: "Parks".into(), description: None, timebox_secs: None },
    );
    run(&mut forum, Actor::Moderator, Command::ActivateItem { item: ItemId(1) });
    run(&mut forum, Actor::Moderator, Command::SubmitIdea { text: "Trees".into() });
    forum
}

#[test]
fn moderators_see_whether_a_hidden_polls_results_were_revealed() {
    let mut forum = live_forum();
    let create = Command::CreatePoll {
        ballots: Default::default(),
        item: None,
        title: "Trees?".into(),
        method: PollMethod::YesNo { rule: madang_protocol::MajorityRule::Simple },
        options: PollOptionsSpec::None {},
        results: ResultsVisibility::Hidden,
    };
    run(&mut forum, Actor::Moderator, create);
    let poll = PollId(1);
    let view = |forum: &Forum, audience| poll_view(forum, &forum.polls[&poll], audience).revealed;
    assert_eq!(view(&forum, Audience::Staff), Some(false));
    run(&mut forum, Actor::Moderator, Command::OpenPoll { poll });
    run(&mut forum, Actor::Moderator, Command::RevealResults { poll });
    assert_eq!(view(&forum, Audience::Staff), Some(true));
    assert_eq!(view(&forum, Audience::Public), None, "the public is told by `results_visible`");
}

#[test]
fn an_idea_view_carries_its_supports_per_channel() {
    let mut forum = live_forum();
    for (n, channel) in [Channel::Remote, Channel::Hall, Channel::Hall].into_iter().enumerate() {
        let join = forum.decide_join(channel, None, None, format!("token-{n}"), &Limits::default()).expect("join");
        forum.apply(&join);
    }
    for participant in forum.participants.keys().copied().collect::<Vec<_>>() {
        run(&mut forum, Actor::Participant(participant), Command::SupportIdea { idea: IdeaId(1) });
    }
    let idea = &forum.ideas[&IdeaId(1)];
    assert_eq!(idea_view(&forum, idea).supports, SupportCounts { remote: 1, hall: 2 });
    assert_eq!(
        supports_of(&forum, [IdeaId(1)], Audience::Public),
        [IdeaSupport { idea: IdeaId(1), remote: 1, hall: 2 }]
    );
}
