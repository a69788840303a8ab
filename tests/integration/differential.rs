//! Differential test of the ranked-ballot counting (`madang::domain::method::ranked`)
//! against an independent, well-known implementation: the Python package
//! pref_voting (the version pinned in `tests/differential/requirements.txt`,
//! which `tests/run` installs into a venv under `target/`), plus property
//! checks on the same random profiles.
//!
//! Thousands of profiles come from a seeded xorshift generator (so a failure
//! reproduces): 2–7 options with ids in a shuffled, non-sorted order; 1–40
//! rankings weighing 1–50; complete and truncated (sometimes empty) rankings;
//! and, on purpose, many ties: small electorates, rankings drawn from a
//! small pool, symmetric profiles (all rotations of one ranking, or a ranking
//! and its reverse, with equal weights), bullet votes. `check.py` computes
//! each with pref_voting and this test compares every field exactly.
//!
//! What is matched with what (pref_voting 1.18.2; ProfileWithTies built with
//! the profile's options as candidates, one ranking dict per weighted ranking
//! with the weight as its count, and `use_extended_strict_preference()`, so
//! that, as in Madang, a listed option is above every unlisted one and
//! unlisted options tie):
//!
//! * `pairwise`: `ProfileWithTies.support(a, b)`; on complete profiles also
//!   `Profile.support`.
//! * `first_choices`: `ProfileWithTies.plurality_scores()`.
//! * `borda`: `scoring_methods.domination_borda_scores` (options ranked
//!   strictly below, extended: n-1-k at position k, 0 when unlisted, which is
//!   exactly Madang's truncated Borda); `borda_for_profile_with_ties(..,
//!   borda_scores=domination_borda_scores)` for the top tier of
//!   `tiers_by_score`; on complete profiles also `Profile.borda_scores()`.
//! * `instant_runoff`: `iterative_methods.instant_runoff` on the
//!   ProfileWithTies (algorithm "basic", score "approval", which for truncated
//!   linear ballots is the highest continuing option; no tie-breaker, so all
//!   options tied for fewest go at once; it stops at one option or when all
//!   continuing options tie: Madang's rule exactly), its elimination order
//!   from `instant_runoff_with_explanation` (whose list ends with the final
//!   tie, if any, so Madang's side appends its tied winners), the round counts
//!   from `ProfileWithTies.tops_scores` replaying those eliminations, and
//!   `instant_runoff_for_truncated_linear_orders` (stops at a majority of the
//!   non-exhausted ballots, which a Madang winner also has). Documented
//!   difference: with only empty ballots the latter returns no winner where
//!   Madang ties every option, so that function is compared only when some
//!   ballot is not empty. On complete profiles also `instant_runoff` on a
//!   linear `Profile` (basic with the majority exit, and recursive) and its
//!   explanation with `exit_on_majority=False`.
//! * `schulze`: `margin_based_methods.beat_path` (Schulze; links where the
//!   margin is positive, of strength the margin): winners by "floyd_warshall"
//!   and, for n <= 5, by "basic" (all simple paths); the defeat relation by
//!   `beat_path_defeat` (compared with strongest[i][j] > strongest[j][i]);
//!   the strongest-path matrix from `has_strong_path` (largest k with a path
//!   of margins >= k, 0 for none, matching Madang's 0 for "no path"); the
//!   tiers by peeling undefeated options off pref_voting's defeat relation
//!   (Madang's definition of `ranking`).
//! * Condorcet winner: `ProfileWithTies.condorcet_winner()` against the
//!   option that beats every other in Madang's pairwise matrix.
//!
//! No profile is restricted for these comparisons beyond the one noted above.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use madang::domain::method::ranked::{self, IrvResult, SchulzeResult, WeightedRanking};
use madang_protocol::OptionId;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Random profiles
// ---------------------------------------------------------------------------

/// xorshift64*: tiny, seeded, good enough to spread profiles around.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (self.next() >> 11) % (hi - lo + 1)
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.range(0, den - 1) < num
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.range(0, i as u64) as usize;
            v.swap(i, j);
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    options: Vec<OptionId>,
    profile: Vec<WeightedRanking>,
}

const KINDS: [&str; 6] = ["mixed", "small", "duplicated", "symmetric", "complete", "bullets"];

/// 2–7 distinct option ids from 1..=40, in a random (not sorted) order.
fn gen_options(rng: &mut Rng) -> Vec<OptionId> {
    let n = rng.range(2, 7) as usize;
    let mut ids: Vec<u32> = (1..=40).collect();
    rng.shuffle(&mut ids);
    ids.truncate(n);
    ids.into_iter().map(OptionId).collect()
}

/// A ranking: complete with probability `complete`/100, otherwise truncated
/// to 1..n-1 options (to none, once in twenty).
fn gen_ranking(rng: &mut Rng, options: &[OptionId], complete: u64) -> Vec<OptionId> {
    let mut r = options.to_vec();
    rng.shuffle(&mut r);
    let n = r.len();
    if !rng.chance(complete, 100) {
        let len = if rng.chance(1, 20) { 0 } else { rng.range(1, n as u64 - 1) as usize };
        r.truncate(len);
    }
    r
}

fn gen_case(rng: &mut Rng, kind: &'static str) -> Case {
    let options = gen_options(rng);
    let n = options.len();
    let mut profile: Vec<WeightedRanking> = Vec::new();
    match kind {
        "mixed" => {
            for _ in 0..rng.range(1, 40) {
                profile.push((gen_ranking(rng, &options, 50), rng.range(1, 50)));
            }
        }
        "small" => {
            for _ in 0..rng.range(1, 5) {
                profile.push((gen_ranking(rng, &options, 50), rng.range(1, 3)));
            }
        }
        "duplicated" => {
            let pool: Vec<Vec<OptionId>> = (0..rng.range(1, 4)).map(|_| gen_ranking(rng, &options, 50)).collect();
            for _ in 0..rng.range(2, 20) {
                let r = pool[rng.range(0, pool.len() as u64 - 1) as usize].clone();
                profile.push((r, rng.range(1, 6)));
            }
        }
        "symmetric" => {
            let mut base = options.clone();
            rng.shuffle(&mut base);
            let len = if rng.chance(1, 2) { n } else { rng.range(1, n as u64) as usize };
            let w = rng.range(1, 10);
            if rng.chance(2, 3) {
                // Every rotation of one ranking (a Latin square): all first-choice counts tie.
                for k in 0..n {
                    let mut r = base.clone();
                    r.rotate_left(k);
                    r.truncate(len);
                    profile.push((r, w));
                }
            } else {
                // A ranking and its reverse: every pairwise margin 0 when complete.
                let mut r = base.clone();
                r.truncate(len);
                let mut rev = base.clone();
                rev.reverse();
                rev.truncate(len);
                profile.push((r, w));
                profile.push((rev, w));
            }
            if rng.chance(1, 2) {
                for _ in 0..rng.range(1, 3) {
                    profile.push((gen_ranking(rng, &options, 50), rng.range(1, 2)));
                }
            }
            rng.shuffle(&mut profile);
        }
        "complete" => {
            let (entries, max_w) = if rng.chance(1, 2) { (rng.range(1, 40), 50) } else { (rng.range(1, 8), 4) };
            for _ in 0..entries {
                profile.push((gen_ranking(rng, &options, 100), rng.range(1, max_w)));
            }
        }
        "bullets" => {
            for _ in 0..rng.range(1, 10) {
                let mut r = options.clone();
                rng.shuffle(&mut r);
                r.truncate(if rng.chance(3, 4) { 1 } else { 2 });
                profile.push((r, rng.range(1, 5)));
            }
        }
        _ => unreachable!(),
    }
    Case { kind, options, profile }
}

fn gen_cases(seed: u64, per_kind: usize) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    let mut cases = Vec::with_capacity(per_kind * KINDS.len());
    for _ in 0..per_kind {
        for kind in KINDS {
            cases.push(gen_case(&mut rng, kind));
        }
    }
    cases
}

fn case_json(case: &Case) -> Value {
    json!({
        "options": case.options.iter().map(|o| o.0).collect::<Vec<_>>(),
        "ballots": case.profile.iter().map(|(r, w)| json!({
            "ranking": r.iter().map(|o| o.0).collect::<Vec<_>>(),
            "weight": w,
        })).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------
// Madang's side, in check.py's shape
// ---------------------------------------------------------------------------

fn ids(v: &[OptionId]) -> Vec<u32> {
    v.iter().map(|o| o.0).collect()
}

fn sorted(v: &[OptionId]) -> Vec<u32> {
    let mut v = ids(v);
    v.sort_unstable();
    v
}

fn condorcet_winner(options: &[OptionId], d: &[Vec<u64>]) -> Option<OptionId> {
    (0..options.len()).find(|&i| (0..options.len()).all(|j| j == i || d[i][j] > d[j][i])).map(|i| options[i])
}

/// The elimination list as pref_voting's explanation gives it: each round's
/// eliminated options, then the final tie when several options share it.
fn irv_elims(irv: &IrvResult) -> Vec<Vec<u32>> {
    let mut elims: Vec<Vec<u32>> =
        irv.rounds.iter().filter(|r| !r.eliminated.is_empty()).map(|r| sorted(&r.eliminated)).collect();
    if irv.winners.len() > 1 {
        elims.push(sorted(&irv.winners));
    }
    elims
}

fn madang_results(case: &Case) -> BTreeMap<&'static str, Value> {
    let (options, profile) = (&case.options[..], &case.profile[..]);
    let n = options.len();
    let d = ranked::pairwise(options, profile);
    let borda = ranked::borda(options, profile);
    let borda_tiers = ranked::tiers_by_score(&borda);
    let irv = ranked::instant_runoff(options, profile);
    let s = ranked::schulze(options, profile);
    assert_eq!(s.pairwise, d, "schulze().pairwise differs from pairwise()");
    let irv_winners = json!(sorted(&irv.winners));
    let borda_points: Vec<u64> = borda.iter().map(|(_, p)| *p).collect();
    let defeats: Vec<Vec<bool>> =
        (0..n).map(|i| (0..n).map(|j| s.strongest[i][j] > s.strongest[j][i]).collect()).collect();
    let mut m = BTreeMap::new();
    m.insert("pairwise", json!(d));
    m.insert("pairwise_linear", json!(d));
    m.insert(
        "first_choices",
        json!(ranked::first_choices(options, profile).iter().map(|(_, c)| *c).collect::<Vec<_>>()),
    );
    m.insert("borda", json!(borda_points));
    m.insert("borda_linear", json!(borda_points));
    m.insert("borda_winners", json!(sorted(&borda_tiers[0])));
    m.insert("borda_tiers", json!(borda_tiers.iter().map(|t| sorted(t)).collect::<Vec<_>>()));
    for key in [
        "irv_winners",
        "irv_explained_winners",
        "irv_truncated_winners",
        "irv_linear_winners",
        "irv_linear_recursive_winners",
    ] {
        m.insert(key, irv_winners.clone());
    }
    m.insert("irv_elims", json!(irv_elims(&irv)));
    m.insert("irv_linear_elims", json!(irv_elims(&irv)));
    m.insert(
        "irv_round_counts",
        json!(irv.rounds.iter().map(|r| r.counts.iter().map(|(_, c)| *c).collect::<Vec<_>>()).collect::<Vec<_>>()),
    );
    m.insert("schulze_winners", json!(sorted(&s.ranking[0])));
    m.insert("schulze_winners_basic", json!(sorted(&s.ranking[0])));
    m.insert("schulze_defeats", json!(defeats));
    m.insert("schulze_tiers", json!(s.ranking.iter().map(|t| sorted(t)).collect::<Vec<_>>()));
    m.insert("schulze_strongest", json!(s.strongest));
    m.insert("condorcet_winner", json!(condorcet_winner(options, &d).map(|o| o.0)));
    m
}

/// Fields check.py leaves null where pref_voting's function does not apply
/// to the profile (see the module doc); every other field is always compared.
const OPTIONAL: [&str; 7] = [
    "irv_truncated_winners",
    "irv_linear_winners",
    "irv_linear_recursive_winners",
    "irv_linear_elims",
    "borda_linear",
    "pairwise_linear",
    "schulze_winners_basic",
];

// ---------------------------------------------------------------------------
// pref_voting's side
// ---------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has pref_voting: $MADANG_DIFF_PYTHON (tests/run sets it to
/// its venv), else the venv tests/run makes under target/, else python3.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MADANG_DIFF_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join("target/differential-venv/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

fn pinned_version() -> String {
    let req = std::fs::read_to_string(root().join("tests/differential/requirements.txt"))
        .expect("read tests/differential/requirements.txt");
    req.lines()
        .find_map(|l| l.trim().strip_prefix("pref_voting=="))
        .expect("requirements.txt pins pref_voting==VERSION")
        .trim()
        .to_string()
}

/// Fails (never skips) when python or pref_voting is missing, or is not the pinned version.
fn require_pref_voting(python: &Path) -> String {
    let how = "tests/run installs it: it makes a venv at target/differential-venv with \
               tests/differential/requirements.txt (or point MADANG_DIFF_PYTHON at a python that has it)";
    let out = Command::new(python)
        .args(["-c", "import importlib.metadata as m, pref_voting; print(m.version('pref_voting'))"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {how}", python.display()));
    assert!(
        out.status.success(),
        "pref_voting is not importable by {}: {}\n{how}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let pinned = pinned_version();
    assert_eq!(
        version,
        pinned,
        "{} has pref_voting {version}, requirements.txt pins {pinned}; {how}",
        python.display()
    );
    version
}

/// Streams every case to one check.py process and returns its answers, in order.
fn run_check_py(python: &Path, cases: &[Case]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(root().join("tests/differential/check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {} check.py: {e}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<String> = cases.iter().map(|c| case_json(c).to_string()).collect();
    let writer = std::thread::spawn(move || {
        for line in input {
            writeln!(stdin, "{line}").expect("write to check.py");
        }
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let answers: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(&l.expect("read check.py")).expect("check.py JSON")).collect();
    writer.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "check.py exited with {status}");
    assert_eq!(answers.len(), cases.len(), "check.py answered {} of {} profiles", answers.len(), cases.len());
    answers
}

#[test]
fn ranked_counting_agrees_with_pref_voting() {
    let started = Instant::now();
    let python = python();
    let version = require_pref_voting(&python);
    let cases = gen_cases(0x6d61_6461_6e67, 600);
    let answers = run_check_py(&python, &cases);
    let mut compared: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with_cw = 0;
    let mut irv_ties = 0;
    let mut schulze_ties = 0;
    for (k, (case, py)) in cases.iter().zip(&answers).enumerate() {
        if let Some(err) = py.get("error") {
            panic!("check.py failed on profile {k} {}:\n{}", case_json(case), err.as_str().unwrap_or_default());
        }
        let ours = madang_results(case);
        let py = py.as_object().expect("check.py answers objects");
        for (key, theirs) in py {
            let Some(mine) = ours.get(key.as_str()) else {
                panic!("check.py answered an unknown field {key}");
            };
            if theirs.is_null() && OPTIONAL.contains(&key.as_str()) {
                continue;
            }
            if mine != theirs {
                panic!(
                    "MISMATCH on profile {k} ({} kind), field {key}:\n  profile:     {}\n  madang:      {mine}\n  pref_voting: {theirs}\n  all madang:  {}\n  all pref_voting: {}",
                    case.kind,
                    case_json(case),
                    json!(ours),
                    Value::Object(py.clone()),
                );
            }
            *compared.entry(ours.get_key_value(key.as_str()).unwrap().0).or_default() += 1;
        }
        for key in ours.keys() {
            assert!(py.contains_key(*key), "check.py did not answer {key}");
        }
        with_cw += usize::from(!py["condorcet_winner"].is_null());
        irv_ties += usize::from(py["irv_winners"].as_array().unwrap().len() > 1);
        schulze_ties += usize::from(py["schulze_winners"].as_array().unwrap().len() > 1);
    }
    let total: usize = compared.values().sum();
    eprintln!("per field: {compared:?}");
    eprintln!(
        "differential: {} profiles, {total} comparisons, 0 mismatches against pref_voting {version} \
         ({with_cw} with a Condorcet winner, {irv_ties} IRV ties, {schulze_ties} Schulze ties) in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    // The generator must keep producing the hard cases it is there for.
    assert!(cases.len() >= 3000);
    assert!(irv_ties >= 300 && schulze_ties >= 300 && with_cw >= 300, "too few ties or Condorcet winners");
    assert!(compared["irv_truncated_winners"] >= 3000 && compared["irv_linear_elims"] >= 500);
}

// ---------------------------------------------------------------------------
// Properties, on the same generator (Madang alone)
// ---------------------------------------------------------------------------

type All = (Vec<(OptionId, u64)>, Vec<(OptionId, u64)>, IrvResult, SchulzeResult, Vec<Vec<OptionId>>);

fn everything(options: &[OptionId], profile: &[WeightedRanking]) -> All {
    let borda = ranked::borda(options, profile);
    let tiers = ranked::tiers_by_score(&borda);
    (
        borda,
        ranked::first_choices(options, profile),
        ranked::instant_runoff(options, profile),
        ranked::schulze(options, profile),
        tiers,
    )
}

#[test]
fn ballot_order_does_not_matter() {
    let mut rng = Rng::new(11);
    for case in gen_cases(1, 500) {
        let mut shuffled = case.profile.clone();
        rng.shuffle(&mut shuffled);
        assert_eq!(
            everything(&case.options, &case.profile),
            everything(&case.options, &shuffled),
            "shuffling the ballots of {} changed a result",
            case_json(&case)
        );
    }
}

#[test]
fn splitting_a_weighted_ranking_changes_nothing() {
    let mut rng = Rng::new(12);
    let mut split = 0;
    for case in gen_cases(2, 500) {
        let heavy: Vec<usize> = (0..case.profile.len()).filter(|&i| case.profile[i].1 >= 2).collect();
        if heavy.is_empty() {
            continue;
        }
        let i = heavy[rng.range(0, heavy.len() as u64 - 1) as usize];
        let (ranking, w) = case.profile[i].clone();
        let a = rng.range(1, w - 1);
        let mut profile = case.profile.clone();
        profile[i].1 = a;
        let at = rng.range(0, profile.len() as u64) as usize;
        profile.insert(at, (ranking, w - a));
        assert_eq!(
            everything(&case.options, &case.profile),
            everything(&case.options, &profile),
            "splitting ranking {i} of {} into weights {a} + {} changed a result",
            case_json(&case),
            w - a
        );
        split += 1;
    }
    assert!(split >= 2000, "only {split} profiles had a ranking to split");
}

#[test]
fn a_condorcet_winner_is_the_unique_schulze_winner() {
    let mut seen = 0;
    for case in gen_cases(3, 500) {
        let s = ranked::schulze(&case.options, &case.profile);
        if let Some(cw) = condorcet_winner(&case.options, &s.pairwise) {
            assert_eq!(
                s.ranking[0],
                vec![cw],
                "Condorcet winner {cw} is not the unique Schulze winner of {}",
                case_json(&case)
            );
            seen += 1;
        }
    }
    assert!(seen >= 500, "only {seen} profiles had a Condorcet winner");
}

#[test]
fn a_majority_first_choice_wins_instant_runoff() {
    let mut seen = 0;
    for case in gen_cases(4, 500) {
        let total: u64 = case.profile.iter().map(|(_, w)| w).sum();
        let firsts = ranked::first_choices(&case.options, &case.profile);
        if let Some((o, _)) = firsts.iter().find(|(_, c)| 2 * c > total) {
            let irv = ranked::instant_runoff(&case.options, &case.profile);
            assert_eq!(
                irv.winners,
                vec![*o],
                "majority first choice {o} does not win instant-runoff in {}",
                case_json(&case)
            );
            seen += 1;
        }
    }
    assert!(seen >= 300, "only {seen} profiles had a majority first choice");
}
