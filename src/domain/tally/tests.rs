//! The live pairwise counts a ranked poll keeps: always equal to a recount.

use madang_protocol::{Ballot, Channel, Command, OptionId, ParticipantId, PollMethod, RankedTally};

use crate::domain::test_support::*;
use crate::domain::*;

mod live_pairwise {
    use super::*;
    use proptest::prelude::*;

    /// A step of a ranked poll's life: a participant (re)casts a ranking, or the
    /// moderator merges one idea into another.
    #[derive(Debug, Clone)]
    enum Step {
        Cast { voter: usize, ranking: Vec<u32> },
        Merge { idea: u32, into: u32 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0usize..6, Just((1u32..=5).collect::<Vec<_>>()).prop_shuffle(), 1usize..=5)
                .prop_map(|(voter, ranking, len)| Step::Cast { voter, ranking: ranking[..len].to_vec() }),
            1 => (1u32..=5, 1u32..=5).prop_map(|(idea, into)| Step::Merge { idea, into }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// A live incremental tally equals a batch recount, after every step
        /// (replacements and merges included), and survives a snapshot.
        #[test]
        fn live_tally_equals_a_batch_recount(steps in prop::collection::vec(step(), 1..40)) {
            let method = PollMethod::Ranked { max_ranks: Some(5), tally: RankedTally::Schulze };
            let mut f = poll_over_ideas(5, method);
            let voters: Vec<ParticipantId> = (0..6)
                .map(|n| {
                    let channel = if n % 2 == 0 { Channel::Remote } else { Channel::Hall };
                    let event = f.decide_join(channel, None, None, format!("t{n}"), &Limits::default()).expect("join");
                    f.apply(&event);
                    match event { Event::ParticipantJoined { participant, .. } => participant, _ => unreachable!() }
                })
                .collect();
            let mut accepted = 0;
            let total = steps.len();
            let first_is_merge = matches!(steps.first(), Some(Step::Merge { .. }));
            for step in steps {
                let result = match step {
                    Step::Cast { voter, ranking } => {
                        let ballot = Ballot::Ranked { ranking: ranking.into_iter().map(OptionId).collect() };
                        run(&mut f, Actor::Participant(voters[voter]), Command::CastBallot { poll: poll(1), ballot }, 1)
                    }
                    Step::Merge { idea: a, into: b } => {
                        run(&mut f, MOD, Command::MergeIdea { idea: idea(a), into: idea(b) }, 1)
                    }
                };
                // Refused steps (a merge into a merged idea, say) change nothing.
                accepted += usize::from(result.is_ok());
                let mut recounted = f.clone();
                recounted.rebuild_derived();
                prop_assert_eq!(&f.polls[&poll(1)].live, &recounted.polls[&poll(1)].live);
                let mut batch = f.clone();
                batch.polls.get_mut(&poll(1)).unwrap().live = None;
                prop_assert_eq!(f.tally(&f.polls[&poll(1)]), batch.tally(&batch.polls[&poll(1)]));
            }
            // Ballots before any merge are always valid, so the live counts were exercised.
            prop_assert!(accepted > 0 || first_is_merge, "none of {total} steps was accepted");
        }
    }

    proptest! {
        /// Replacing a ballot counts exactly as casting only the new one.
        #[test]
        fn replacing_a_ballot_equals_casting_only_the_new_one(
            first in Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(),
            second in Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(),
            others in prop::collection::vec(Just((1u32..=4).collect::<Vec<_>>()).prop_shuffle(), 0..4),
        ) {
            let method = PollMethod::Ranked { max_ranks: None, tally: RankedTally::InstantRunoff };
            let cast_all = |replace: bool| {
                let mut f = poll_over_ideas(4, method.clone());
                let voters: Vec<ParticipantId> = (0..=others.len()).map(|_| join(&mut f)).collect();
                let ballot = |r: &[u32]| Ballot::Ranked { ranking: r.iter().copied().map(OptionId).collect() };
                if replace {
                    ok(&mut f, Actor::Participant(voters[0]), Command::CastBallot { poll: poll(1), ballot: ballot(&first) });
                }
                ok(&mut f, Actor::Participant(voters[0]), Command::CastBallot { poll: poll(1), ballot: ballot(&second) });
                for (voter, r) in voters[1..].iter().zip(&others) {
                    ok(&mut f, Actor::Participant(*voter), Command::CastBallot { poll: poll(1), ballot: ballot(r) });
                }
                f.tally(&f.polls[&poll(1)])
            };
            prop_assert_eq!(cast_all(true), cast_all(false));
        }
    }
}

/// A ranked tally counts the merged ballots once (ranking and every
/// method's detail from one profile), and each channel once.
#[test]
fn a_ranked_tally_counts_each_set_of_ballots_once() {
    use crate::domain::method::ranked::PROFILES_BUILT;
    for tally in [RankedTally::Borda, RankedTally::InstantRunoff, RankedTally::Schulze] {
        let mut f = poll_over_ideas(3, PollMethod::Ranked { max_ranks: None, tally });
        for n in 0..4u32 {
            let channel = if n % 2 == 0 { Channel::Remote } else { Channel::Hall };
            let event = f.decide_join(channel, None, None, format!("t{n}"), &Limits::default()).expect("join");
            f.apply(&event);
            let Event::ParticipantJoined { participant, .. } = event else { unreachable!() };
            let ranking = [1 + n % 3, 1 + (n + 1) % 3, 1 + (n + 2) % 3].into_iter().map(OptionId).collect();
            let ballot = Ballot::Ranked { ranking };
            run(&mut f, Actor::Participant(participant), Command::CastBallot { poll: poll(1), ballot }, 1).unwrap();
        }
        PROFILES_BUILT.with(|built| built.set(0));
        let counted = f.tally(&f.polls[&poll(1)]);
        assert!(counted.ranked.is_some(), "a ranked tally carries every method's detail");
        // All ballots, then remote, hall and hand count alone.
        assert_eq!(PROFILES_BUILT.with(|built| built.get()), 4, "{tally:?}");
    }
}

/// An empty poll says "no votes" in a field of its own, for every method, so
/// that no page reads its single tier as everyone tied first.
#[test]
fn a_poll_nobody_voted_in_says_no_votes() {
    use madang_protocol::{MajorityRule, PollOptionsSpec, YesNoChoice};
    let methods = [
        PollMethod::YesNo { rule: MajorityRule::TwoThirds },
        PollMethod::SingleChoice {},
        PollMethod::Approval { max_choices: 1 },
        PollMethod::Dots { budget: 3, max_per_option: 2 },
        PollMethod::Score {},
        PollMethod::Ranked { max_ranks: None, tally: RankedTally::InstantRunoff },
        PollMethod::Pairwise {},
    ];
    for (n, method) in (1u32..).zip(methods) {
        let mut f = live_with_item();
        let options =
            if matches!(method, PollMethod::YesNo { .. }) { PollOptionsSpec::None {} } else { fixed(&["A", "B"]) };
        ok(&mut f, MOD, create_poll(None, method.clone(), options));
        ok(&mut f, MOD, Command::OpenPoll { poll: poll(1) });
        let tally = f.tally(&f.polls[&poll(1)]);
        assert!(tally.no_votes, "{method:?} with no ballots: {tally:?}");
        let json = serde_json::to_value(&tally).expect("a tally serializes");
        assert_eq!(json["no_votes"], true, "{method:?}");

        let voter = f.decide_join(Channel::Remote, None, None, format!("t{n}"), &Limits::default()).expect("join");
        f.apply(&voter);
        let Event::ParticipantJoined { participant, .. } = voter else { panic!("not a join: {voter:?}") };
        let me = Actor::Participant(participant);
        let ballot = match method {
            PollMethod::YesNo { .. } => Some(Ballot::YesNo { choice: YesNoChoice::Yes }),
            PollMethod::SingleChoice {} => Some(Ballot::SingleChoice { option: OptionId(1) }),
            PollMethod::Approval { .. } => Some(Ballot::Approval { options: vec![OptionId(1)] }),
            PollMethod::Dots { .. } => Some(place(&[(1, 1)])),
            PollMethod::Score {} => Some(scores(&[(1, 3)])),
            PollMethod::Ranked { .. } => Some(rank(&[1, 2])),
            PollMethod::Pairwise {} => None,
        };
        match ballot {
            Some(ballot) => ok(&mut f, me, Command::CastBallot { poll: poll(1), ballot }),
            None => ok(
                &mut f,
                me,
                Command::CastComparison { poll: poll(1), winner: OptionId(1), loser: OptionId(2), skip: false },
            ),
        };
        let tally = f.tally(&f.polls[&poll(1)]);
        assert!(!tally.no_votes, "{method:?} with a ballot");
        assert!(serde_json::to_value(&tally).expect("serializes").get("no_votes").is_none(), "sent only when true");
    }
}
