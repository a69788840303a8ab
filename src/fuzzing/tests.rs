//! The fuzz targets on the stable toolchain: their seeds, the corpora the
//! coverage-guided runs saved, the inputs that once crashed, and a short
//! random run that mutates the seeds. The long runs are in README, "Fuzzing".

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("client_frame", client_frame),
    ("ballot", ballot),
    ("log_replay", log_replay),
    ("domain_sequence", domain_sequence),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file under `fuzz/<kind>/<target>/`, sorted; none when the folder is absent.
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("corpus entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    // A fuzzer running beside the tests may remove a file it has just replaced.
    files.into_iter().filter_map(|p| std::fs::read(&p).ok().map(|data| (p, data))).collect()
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    inputs("seeds", target).into_iter().map(|(_, data)| data).collect()
}

#[test]
fn the_busy_forum_has_something_of_everything() {
    let forum = busy_forum();
    assert_eq!(forum.participants.len(), 2);
    assert_eq!(forum.ideas.len(), 3);
    assert_eq!(forum.polls.len(), 7, "one poll of every method");
    assert!(forum.polls.values().all(|p| p.status == madang_protocol::PollStatus::Open), "every poll open");
    assert!(!forum.speakers.waiting.is_empty(), "a hand raised");
}

#[test]
fn the_command_seed_reaches_every_aggregate() {
    let seed = std::fs::read(fuzz_dir().join("seeds/domain_sequence/every_command")).expect("seed");
    let lines = seed.split(|&c| c == b'\n').count();
    let (forum, events) = decided_events(&seed);
    // A seed whose commands are refused (after a protocol change) would
    // leave the fuzzer to rediscover the whole protocol.
    let accepted = events.len() - 1;
    assert!(accepted * 10 >= lines * 9, "only {accepted} of {lines} seed commands were accepted");
    assert_eq!(forum.status, madang_protocol::ForumStatus::Closed);
}

/// `fuzz/seeds/log_replay/every_event` is derived from the command seed;
/// `MADANG_UPDATE_SEEDS=1` rewrites it.
#[test]
fn the_log_seed_is_current() {
    let commands = std::fs::read(fuzz_dir().join("seeds/domain_sequence/every_command")).expect("seed");
    let path = fuzz_dir().join("seeds/log_replay/every_event");
    let seed = log_seed(&commands);
    if std::env::var_os("MADANG_UPDATE_SEEDS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("seed dir");
        std::fs::write(&path, &seed).expect("write seed");
    }
    assert_eq!(std::fs::read(&path).ok(), Some(seed), "stale seed: rerun with MADANG_UPDATE_SEEDS=1");
}

/// The framed logs of `log_replay` replay to their end, through entries in
/// the previous format and in this one, so that the fuzzer's damage starts
/// from past the hash chain.
#[test]
fn the_framed_log_seed_replays_past_the_hash_chain() {
    let seed = std::fs::read(fuzz_dir().join("seeds/log_replay/every_event")).expect("seed");
    // Past the mode, flip and cut bytes that `log_replay` reads first.
    let records = chained_records(&seed[10..]);
    let has_hash =
        |r: &Record| serde_json::from_slice::<serde_json::Value>(&r.payload).expect("json")["hash"].is_string();
    assert!(has_hash(&records[0]) && !has_hash(records.last().expect("records")), "both formats");
    let state = ForumState::replay(&records, |_, _| {}).expect("the framed log replays");
    assert_eq!(state.head, records.len() as u64);
    assert!(records.len() > 50, "only {} events in the seed", records.len());
}

#[test]
fn seeds_corpora_and_former_crashes_run_clean() {
    for (target, run) in TARGETS {
        let mut ran = 0;
        for kind in ["seeds", "corpus", "regressions"] {
            for (path, data) in inputs(kind, target) {
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
                ran += 1;
            }
        }
        assert!(ran > 0, "{target} has no seeds");
    }
}

/// Seeds with bytes flipped, inserted, deleted and spliced: most random
/// bytes are not JSON, while a mutated seed reaches the rules.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "{target} has no seeds");
    let edits = prop::collection::vec((0u8..4, any::<usize>(), any::<u8>()), 0..12);
    (0..seeds.len(), edits).prop_map(move |(pick, edits)| {
        let mut data = seeds[pick].clone();
        for (kind, at, byte) in edits {
            let at = if data.is_empty() { 0 } else { at % data.len() };
            match kind {
                0 if !data.is_empty() => data[at] ^= byte.max(1),
                1 => data.insert(at, byte),
                2 if !data.is_empty() => {
                    data.remove(at);
                }
                _ => {
                    // Digits are where ids and counts are: make one large or odd.
                    let digits: &[u8] =
                        [&b"0"[..], b"4294967295", b"-1", b"99999999999999999999", b"1e9"][usize::from(byte) % 5];
                    data.splice(at..at, digits.iter().copied());
                }
            }
        }
        data
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_client_frames(data in prop_oneof![mutated("client_frame"), any::<Vec<u8>>()]) {
        client_frame(&data);
    }

    #[test]
    fn random_ballots(data in prop::collection::vec(any::<u8>(), 0..256)) {
        ballot(&data);
    }

    #[test]
    fn random_logs(data in prop_oneof![mutated("log_replay"), any::<Vec<u8>>()]) {
        log_replay(&data);
    }

    #[test]
    fn random_command_sequences(data in mutated("domain_sequence")) {
        domain_sequence(&data);
    }
}

/// Found by `log_replay` (`fuzz/regressions/log_replay/resubmitted_idea_after_merge`):
/// a log that creates an idea, merges it, then creates an idea with the same
/// id again left a ranked poll's kept pairwise counts merged while the idea
/// no longer was, so the forum replayed from the log differed from the same
/// forum loaded from a snapshot (which recounts them). The hub never writes
/// such a log; replay must still give one answer.
#[test]
fn an_idea_created_twice_keeps_its_first_creation() {
    use madang_protocol::{Ballot, IdeaId, ItemId, ParticipantId, PollId, PollMethod, RankedTally};

    use crate::domain::OptionSpec;

    let mut forum = new_forum();
    let submitted = |idea: u32, text: &str| Event::IdeaSubmitted {
        idea: IdeaId(idea),
        item: ItemId(1),
        text: text.into(),
        author: None,
        approved: true,
    };
    let events = [
        Event::ItemAdded { item: ItemId(1), title: "Parks".into(), description: None, timebox_secs: None },
        submitted(1, "Trees"),
        submitted(2, "Benches"),
        Event::PollCreated {
            secrecy: Default::default(),
            poll: PollId(1),
            item: ItemId(1),
            title: "Q".into(),
            method: PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze },
            options: vec![
                OptionSpec { label: "Trees".into(), idea: Some(IdeaId(1)) },
                OptionSpec { label: "Benches".into(), idea: Some(IdeaId(2)) },
            ],
            results: madang_protocol::ResultsVisibility::Live,
        },
        Event::BallotCast {
            poll: PollId(1),
            participant: ParticipantId(1),
            ballot: Ballot::Ranked { ranking: vec![OptionId(2), OptionId(1)] },
            receipt: None,
        },
        Event::IdeaMerged { idea: IdeaId(2), into: IdeaId(1) },
        submitted(2, "Benches again"),
    ];
    for event in &events {
        forum.apply(event);
    }
    assert_eq!(forum.ideas[&IdeaId(2)].merged_into, Some(IdeaId(1)), "the first creation stands");
    let mut recounted = forum.clone();
    recounted.rebuild_derived();
    assert_eq!(recounted, forum, "kept counts must match a recount");
}

/// The same for participants: a second join under an id in another channel
/// would move its ballots between the kept counts' remote and hall halves
/// without a recount.
#[test]
fn a_participant_joined_twice_keeps_the_first_join() {
    use madang_protocol::{Ballot, ItemId, ParticipantId, PollId, PollMethod, RankedTally};

    use crate::domain::OptionSpec;

    let mut forum = new_forum();
    let joined = |channel| Event::ParticipantJoined {
        participant: ParticipantId(1),
        channel,
        name: None,
        token_hash: "t".into(),
        ticket: None,
    };
    let events = [
        joined(Channel::Remote),
        Event::ItemAdded { item: ItemId(1), title: "Parks".into(), description: None, timebox_secs: None },
        Event::PollCreated {
            secrecy: Default::default(),
            poll: PollId(1),
            item: ItemId(1),
            title: "Q".into(),
            method: PollMethod::Ranked { max_ranks: None, tally: RankedTally::Borda },
            options: vec![OptionSpec { label: "A".into(), idea: None }, OptionSpec { label: "B".into(), idea: None }],
            results: madang_protocol::ResultsVisibility::Live,
        },
        Event::BallotCast {
            poll: PollId(1),
            participant: ParticipantId(1),
            ballot: Ballot::Ranked { ranking: vec![OptionId(2), OptionId(1)] },
            receipt: None,
        },
        joined(Channel::Hall),
    ];
    for event in &events {
        forum.apply(event);
    }
    assert_eq!(forum.participants[&ParticipantId(1)].channel, Channel::Remote, "the first join stands");
    let mut recounted = forum.clone();
    recounted.rebuild_derived();
    assert_eq!(recounted, forum, "kept counts must match a recount");
}
