//! Tallies: ballot validation and counting for every poll method.
//!
//! Two promises rest on this module. A participant whose ballot is refused
//! must learn which rule it broke (`rule` is sent to the client), so every
//! check has a stable dotted name. And everyone watching a poll (hall screen,
//! remote participants, the recorded outcome) must see the same numbers for
//! the same ballots, so counting is exact integer arithmetic, independent of
//! ballot order, and a tie is shown as a tie rather than broken silently.
//!
//! The code is pure (no I/O, no clock) so a tally can be recomputed from the
//! event log at any time and tested without a server.
//!
//! Merged ideas: when an idea is merged into another, ballots naming the
//! merged option count for the target. Counts and rankings list canonical
//! options only, in poll order.
//!
//! Counting trusts that ballots were validated, but never panics on one that
//! was not: a ballot of the wrong kind is counted in `ballots` and otherwise
//! ignored, unknown options and out-of-range scores are skipped, repeats
//! count once, and sums saturate.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use madang_protocol::{
    Allocation, Ballot, InstantRunoff, MAX_SCORE, MajorityRule, MethodWinners, OptionCount, OptionId, PollId,
    PollMethod, RankedDetail, RankedTally, RunoffRound, SchulzeDetail, ScoreEntry, ScoreStat, Tally, TallyResult,
    YesNoChoice,
};

use super::ranked;

/// A ballot that breaks a rule of its poll's method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BallotError {
    /// Dotted rule name, e.g. "approval.max_choices"; sent to clients as `rule`.
    pub rule: &'static str,
    /// Human-readable, names the limit, e.g. "approve at most 3 options (got 4)".
    pub message: String,
}

impl BallotError {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        BallotError { rule, message: message.into() }
    }
}

/// The options of a poll as the tally sees them.
pub struct OptionSet<'a> {
    /// Every option id of the poll, in poll order (merged ones included).
    pub all: &'a [OptionId],
    /// Maps an option to the option it counts for: itself, or the option its idea was merged into
    /// (already resolved to the final target; never a chain).
    pub canonical: &'a dyn Fn(OptionId) -> OptionId,
}

/// An [`OptionSet`] resolved once, so lookups are by hash rather than by scan.
struct Resolved {
    /// Canonical options in poll order: the rows of every count.
    canon: Vec<OptionId>,
    /// Every option of the poll → the option it counts for.
    target: HashMap<OptionId, OptionId>,
    /// Canonical option → its row in `canon`.
    row: HashMap<OptionId, usize>,
}

impl Resolved {
    fn new(options: &OptionSet<'_>) -> Self {
        let target: HashMap<OptionId, OptionId> =
            options.all.iter().map(|&option| (option, (options.canonical)(option))).collect();
        let mut canon = Vec::new();
        let mut row = HashMap::new();
        for &option in options.all {
            if target.get(&option) == Some(&option) && !row.contains_key(&option) {
                row.insert(option, canon.len());
                canon.push(option);
            }
        }
        Resolved { canon, target, row }
    }

    fn first_unknown(&self, options: impl IntoIterator<Item = OptionId>) -> Option<OptionId> {
        options.into_iter().find(|option| !self.target.contains_key(option))
    }

    /// The option `option` counts for (itself if unknown, so unknown ids stay distinct).
    fn canonical(&self, option: OptionId) -> OptionId {
        self.target.get(&option).copied().unwrap_or(option)
    }

    /// The row `option` counts in; `None` for an unknown option, or one whose
    /// merge target is not a canonical option of this poll.
    fn row_of(&self, option: OptionId) -> Option<usize> {
        self.target.get(&option).and_then(|target| self.row.get(target)).copied()
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// Check a ballot against the poll's method and options.
///
/// Checks run in a fixed order (kind, unknown options, then the method's own
/// rules), so a ballot breaking several rules always reports the same one.
pub fn validate_ballot(method: &PollMethod, options: &OptionSet<'_>, ballot: &Ballot) -> Result<(), BallotError> {
    let set = Resolved::new(options);
    match (method, ballot) {
        (PollMethod::YesNo { .. }, Ballot::YesNo { .. }) => Ok(()),
        (PollMethod::Approval { max_choices }, Ballot::Approval { options: chosen }) => {
            check_known(&set, chosen.iter().copied())?;
            validate_approval(&set, *max_choices, chosen)
        }
        (PollMethod::Dots { budget, max_per_option }, Ballot::Dots { allocations }) => {
            check_known(&set, allocations.iter().map(|a| a.option))?;
            validate_dots(*budget, *max_per_option, allocations)
        }
        (PollMethod::Score {}, Ballot::Score { scores }) => {
            check_known(&set, scores.iter().map(|s| s.option))?;
            validate_score(scores)
        }
        (PollMethod::Ranked { max_ranks, .. }, Ballot::Ranked { ranking }) => {
            check_known(&set, ranking.iter().copied())?;
            validate_ranked(&set, *max_ranks, ranking)
        }
        (PollMethod::Pairwise {}, _) => Err(BallotError::new(
            "ballot.kind",
            "a pairwise poll takes comparisons, not ballots: use next_pair and cast_comparison",
        )),
        _ => Err(BallotError::new(
            "ballot.kind",
            format!("this poll takes {} ballots (got a {} ballot)", method.kind(), ballot_kind(ballot)),
        )),
    }
}

fn ballot_kind(ballot: &Ballot) -> &'static str {
    match ballot {
        Ballot::YesNo { .. } => "yes_no",
        Ballot::Approval { .. } => "approval",
        Ballot::Dots { .. } => "dots",
        Ballot::Score { .. } => "score",
        Ballot::Ranked { .. } => "ranked",
    }
}

fn check_known(set: &Resolved, options: impl IntoIterator<Item = OptionId>) -> Result<(), BallotError> {
    match set.first_unknown(options) {
        Some(option) => {
            Err(BallotError::new("option.unknown", format!("option {option} is not an option of this poll")))
        }
        None => Ok(()),
    }
}

/// Describes the first option that repeats an earlier one by raw id.
fn raw_duplicate(options: impl IntoIterator<Item = OptionId>) -> Option<String> {
    let mut seen = HashSet::new();
    options
        .into_iter()
        .find(|&option| !seen.insert(option))
        .map(|option| format!("option {option} appears more than once"))
}

/// Describes the first option that counts for the same canonical option as an earlier one.
fn canonical_duplicate(set: &Resolved, options: &[OptionId]) -> Option<String> {
    let mut first_for: HashMap<OptionId, OptionId> = HashMap::new();
    for &option in options {
        let target = set.canonical(option);
        if let Some(&earlier) = first_for.get(&target) {
            return Some(if earlier == option {
                format!("option {option} appears more than once")
            } else {
                format!("options {earlier} and {option} both count for option {target} (merged)")
            });
        }
        first_for.insert(target, option);
    }
    None
}

fn validate_approval(set: &Resolved, max_choices: u32, chosen: &[OptionId]) -> Result<(), BallotError> {
    if chosen.is_empty() {
        return Err(BallotError::new("approval.empty", "approve at least 1 option"));
    }
    if let Some(message) = canonical_duplicate(set, chosen) {
        return Err(BallotError::new("approval.duplicate", message));
    }
    // Duplicates are rejected above, so the length is the number of distinct options.
    if chosen.len() as u64 > u64::from(max_choices) {
        return Err(BallotError::new(
            "approval.max_choices",
            format!("approve at most {max_choices} options (got {})", chosen.len()),
        ));
    }
    Ok(())
}

fn validate_dots(budget: u32, max_per_option: u32, allocations: &[Allocation]) -> Result<(), BallotError> {
    if !allocations.iter().any(|a| a.dots > 0) {
        return Err(BallotError::new("dots.empty", "place at least 1 dot"));
    }
    if let Some(message) = raw_duplicate(allocations.iter().map(|a| a.option)) {
        return Err(BallotError::new("dots.duplicate", message));
    }
    if let Some(over) = allocations.iter().find(|a| a.dots > max_per_option) {
        return Err(BallotError::new(
            "dots.max_per_option",
            format!("place at most {max_per_option} dots on one option (got {} on option {})", over.dots, over.option),
        ));
    }
    let spent = allocations.iter().fold(0u64, |sum, a| sum.saturating_add(u64::from(a.dots)));
    if spent > u64::from(budget) {
        return Err(BallotError::new("dots.budget", format!("place at most {budget} dots in all (got {spent})")));
    }
    Ok(())
}

fn validate_score(scores: &[ScoreEntry]) -> Result<(), BallotError> {
    if scores.is_empty() {
        return Err(BallotError::new("score.empty", "score at least 1 option"));
    }
    if let Some(out) = scores.iter().find(|s| s.score > MAX_SCORE) {
        return Err(BallotError::new(
            "score.range",
            format!("scores go from 0 to {MAX_SCORE} (got {} for option {})", out.score, out.option),
        ));
    }
    if let Some(message) = raw_duplicate(scores.iter().map(|s| s.option)) {
        return Err(BallotError::new("score.duplicate", message));
    }
    Ok(())
}

fn validate_ranked(set: &Resolved, max_ranks: Option<u32>, ranking: &[OptionId]) -> Result<(), BallotError> {
    if ranking.is_empty() {
        return Err(BallotError::new("ranked.empty", "rank at least 1 option"));
    }
    if let Some(message) = canonical_duplicate(set, ranking) {
        return Err(BallotError::new("ranked.duplicate", message));
    }
    match max_ranks {
        Some(limit) => {
            if ranking.len() as u64 > u64::from(limit) {
                return Err(BallotError::new(
                    "ranked.max_ranks",
                    format!("rank at most {limit} options (got {})", ranking.len()),
                ));
            }
        }
        None => {
            // A full ranking: every canonical option exactly once. Duplicates are
            // already rejected, so it is complete when it covers every row and
            // names nothing that does not count for one.
            let covered: HashSet<usize> = ranking.iter().filter_map(|&option| set.row_of(option)).collect();
            let wanted = set.canon.len();
            if covered.len() != wanted || ranking.len() != wanted {
                let missing = set.canon.iter().zip(0usize..).find(|(_, row)| !covered.contains(row));
                let detail = match missing {
                    Some((option, _)) => format!("option {option} is missing"),
                    None => format!("got {}", ranking.len()),
                };
                return Err(BallotError::new("ranked.incomplete", format!("rank all {wanted} options ({detail})")));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------

/// Count the ballots. Deterministic: the same ballots (in any order) give an equal Tally.
///
/// `ballots` in the result is the number of ballots iterated, including any
/// that do not match the method (those are otherwise ignored). No channel
/// breakdown: the forum adds it (see `Forum::tally`).
pub fn tally<'b>(
    poll: PollId,
    method: &PollMethod,
    options: &OptionSet<'_>,
    ballots: impl IntoIterator<Item = &'b Ballot>,
) -> Tally {
    let mut counted: u32 = 0;
    let ballots = ballots.into_iter().inspect(|_| counted = counted.saturating_add(1)).map(|ballot| (ballot, 1));
    let result = count(method, options, ballots);
    Tally { poll, ballots: counted, result, by_channel: None, ranked: None }
}

/// Count weighted ballots: a ballot of weight `w` counts exactly as `w`
/// identical ballots would, without expanding them (a paper ranking entered
/// with count 12 weighs 12). Counts stay exact integers (saturating).
pub fn count<'b>(
    method: &PollMethod,
    options: &OptionSet<'_>,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
) -> TallyResult {
    count_with(method, options, ballots, None)
}

/// Like [`count`], with the pairwise counts of exactly these ballots already
/// kept (a live poll's [`ranked::PairwiseMatrix`]), so Schulze need not recount them.
pub fn count_with<'b>(
    method: &PollMethod,
    options: &OptionSet<'_>,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
    pairwise: Option<&ranked::PairwiseMatrix>,
) -> TallyResult {
    let set = Resolved::new(options);
    let ballots = ballots.into_iter();
    match method {
        PollMethod::YesNo { rule } => count_yes_no(*rule, ballots),
        PollMethod::Approval { .. } => count_approval(&set, ballots),
        PollMethod::Dots { .. } => count_dots(&set, ballots),
        PollMethod::Score {} => count_score(&set, ballots),
        PollMethod::Ranked { tally, .. } => count_ranked(*tally, &set, ballots, pairwise),
        // Comparisons are not ballots: `Forum::tally` counts them (see `pairwise`).
        PollMethod::Pairwise {} => {
            let k = set.canon.len();
            super::pairwise::result(&set.canon, vec![vec![0; k]; k], 0)
        }
    }
}

fn add_u32(counter: &mut u32, weight: u64) {
    *counter = u32::try_from(u64::from(*counter).saturating_add(weight)).unwrap_or(u32::MAX);
}

/// Whether a yes/no motion carries:
///
/// - `Simple`: more yes than no (`yes > no`); abstentions do not count.
/// - `Absolute`: yes is more than half of all ballots, abstentions included
///   (`2·yes > yes + no + abstain`). So abstaining works like voting no.
/// - `TwoThirds`: at least two thirds of the yes and no ballots are yes
///   (`3·yes ≥ 2·(yes + no)`), and at least one yes, so an empty or
///   all-abstain poll does not carry. Exactly two thirds passes.
///
/// Arithmetic is in u64, so it cannot overflow.
fn passes(rule: MajorityRule, yes: u32, no: u32, abstain: u32) -> bool {
    let (yes, no, abstain) = (u64::from(yes), u64::from(no), u64::from(abstain));
    match rule {
        MajorityRule::Simple => yes > no,
        MajorityRule::Absolute => 2 * yes > yes + no + abstain,
        MajorityRule::TwoThirds => yes > 0 && 3 * yes >= 2 * (yes + no),
    }
}

/// Counts yes, no and abstain. `tie` is `yes == no` under every rule (then the
/// motion never carries: no rule passes without more yes than no).
fn count_yes_no<'b>(rule: MajorityRule, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let (mut yes, mut no, mut abstain) = (0u32, 0u32, 0u32);
    for (ballot, weight) in ballots {
        if let Ballot::YesNo { choice } = ballot {
            let counter = match choice {
                YesNoChoice::Yes => &mut yes,
                YesNoChoice::No => &mut no,
                YesNoChoice::Abstain => &mut abstain,
            };
            add_u32(counter, weight);
        }
    }
    TallyResult::YesNo { yes, no, abstain, rule, passed: passes(rule, yes, no, abstain), tie: yes == no }
}

/// Approvals per canonical option; a ballot approves each canonical option at
/// most once, however many of its merged options it names.
fn count_approval<'b>(set: &Resolved, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut counts = vec![0u64; set.canon.len()];
    let mut marks = PerBallot::new(set.canon.len());
    for (ballot, weight) in ballots {
        let Ballot::Approval { options } = ballot else { continue };
        for row in options.iter().filter_map(|&option| set.row_of(option)) {
            marks.keep_first(row, ());
        }
        for (row, ()) in marks.drain() {
            counts[row] = counts[row].saturating_add(weight);
        }
    }
    let ranking = tiers(&set.canon, |a, b| counts[b].cmp(&counts[a]));
    TallyResult::Approval { counts: option_counts(&set.canon, &counts), ranking }
}

/// Dots per canonical option; dots on merged options add to their target.
fn count_dots<'b>(set: &Resolved, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut counts = vec![0u64; set.canon.len()];
    for (ballot, weight) in ballots {
        let Ballot::Dots { allocations } = ballot else { continue };
        for allocation in allocations {
            if let Some(row) = set.row_of(allocation.option) {
                counts[row] = counts[row].saturating_add(u64::from(allocation.dots).saturating_mul(weight));
            }
        }
    }
    let ranking = tiers(&set.canon, |a, b| counts[b].cmp(&counts[a]));
    TallyResult::Dots { counts: option_counts(&set.canon, &counts), ranking }
}

/// Running score totals for one canonical option.
#[derive(Default, Clone, Copy)]
struct ScoreTotals {
    ballots: u32,
    sum: u64,
    distribution: [u32; 6],
}

impl ScoreTotals {
    /// Mean as an exact fraction (sum, ballots); `None` when nobody scored.
    fn mean_fraction(&self) -> Option<(u128, u128)> {
        (self.ballots > 0).then(|| (u128::from(self.sum), u128::from(self.ballots)))
    }

    fn stat(&self, option: OptionId) -> ScoreStat {
        let mean = if self.ballots == 0 { 0.0 } else { self.sum as f64 / f64::from(self.ballots) };
        ScoreStat {
            option,
            ballots: self.ballots,
            sum: self.sum,
            mean,
            median: median(&self.distribution),
            distribution: self.distribution,
        }
    }
}

/// The median of the scores a distribution describes (midpoint of the two
/// middle scores for an even count; 0 when empty).
fn median(distribution: &[u32; 6]) -> f64 {
    let total: u64 = distribution.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    // The score at 0-based position `index` in the sorted list of scores.
    let nth = |index: u64| -> u8 {
        let mut before = 0u64;
        for (score, &count) in (0u8..).zip(distribution.iter()) {
            before += u64::from(count);
            if index < before {
                return score;
            }
        }
        MAX_SCORE
    };
    if total % 2 == 1 {
        f64::from(nth(total / 2))
    } else {
        (f64::from(nth(total / 2 - 1)) + f64::from(nth(total / 2))) / 2.0
    }
}

/// Score statistics per canonical option. A ballot scoring several options
/// that count for the same canonical option gives it the highest of those
/// scores, once. Ranked by exact mean, options nobody scored last.
fn count_score<'b>(set: &Resolved, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> TallyResult {
    let mut totals = vec![ScoreTotals::default(); set.canon.len()];
    let mut best = PerBallot::new(set.canon.len());
    for (ballot, weight) in ballots {
        let Ballot::Score { scores } = ballot else { continue };
        for entry in scores.iter().filter(|entry| entry.score <= MAX_SCORE) {
            if let Some(row) = set.row_of(entry.option) {
                best.keep_max(row, entry.score);
            }
        }
        for (row, score) in best.drain() {
            let totals = &mut totals[row];
            add_u32(&mut totals.ballots, weight);
            totals.sum = totals.sum.saturating_add(u64::from(score).saturating_mul(weight));
            if let Some(count) = totals.distribution.get_mut(usize::from(score)) {
                add_u32(count, weight);
            }
        }
    }
    let ranking = tiers(&set.canon, |a, b| by_mean_desc(totals[a].mean_fraction(), totals[b].mean_fraction()));
    let stats = set.canon.iter().zip(&totals).map(|(&option, totals)| totals.stat(option)).collect();
    TallyResult::Score { stats, ranking }
}

/// Orders two exact means best first, comparing `sa/na` with `sb/nb` by
/// cross-multiplying in u128 (no floats, no overflow); unscored comes last.
fn by_mean_desc(a: Option<(u128, u128)>, b: Option<(u128, u128)>) -> Ordering {
    match (a, b) {
        (Some((sum_a, n_a)), Some((sum_b, n_b))) => (sum_b * n_a).cmp(&(sum_a * n_b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The ranked ballots of a poll as canonical rows, best first, each row at
/// most once per ballot (its first occurrence). Every ranked method works from this.
struct Profile {
    /// Each distinct ballot once, with how many it stands for.
    rankings: Vec<(Vec<usize>, u64)>,
}

impl Profile {
    fn new<'b>(set: &Resolved, ballots: impl Iterator<Item = (&'b Ballot, u64)>) -> Self {
        let mut seen = PerBallot::new(set.canon.len());
        let mut rankings = Vec::new();
        for (ballot, weight) in ballots {
            let Ballot::Ranked { ranking } = ballot else { continue };
            for row in ranking.iter().filter_map(|&option| set.row_of(option)) {
                seen.keep_first(row, ());
            }
            // Drained in first-occurrence order: the ranking without repeats.
            rankings.push((seen.drain().map(|(row, ())| row).collect::<Vec<_>>(), weight));
        }
        Profile { rankings }
    }

    /// The profile in option ids, as the ranked methods take it.
    fn weighted(&self, canon: &[OptionId]) -> Vec<ranked::WeightedRanking> {
        self.rankings.iter().map(|(rows, weight)| (rows.iter().map(|&row| canon[row]).collect(), *weight)).collect()
    }
}

fn count_ranked<'b>(
    method: RankedTally,
    set: &Resolved,
    ballots: impl Iterator<Item = (&'b Ballot, u64)>,
    pairwise: Option<&ranked::PairwiseMatrix>,
) -> TallyResult {
    let profile = Profile::new(set, ballots).weighted(&set.canon);
    let borda = ranked::borda(&set.canon, &profile);
    TallyResult::Ranked {
        tally: method,
        ranking: ranked_order(method, &set.canon, &profile, &borda, pairwise),
        borda: borda.iter().map(|&(option, count)| OptionCount { option, count }).collect(),
        first_choices: ranked::first_choices(&set.canon, &profile)
            .into_iter()
            .map(|(option, count)| OptionCount { option, count })
            .collect(),
    }
}

/// The ranking of a ranked poll under its method. Each method gets the whole profile.
fn ranked_order(
    method: RankedTally,
    canon: &[OptionId],
    profile: &[ranked::WeightedRanking],
    borda: &[(OptionId, u64)],
    pairwise: Option<&ranked::PairwiseMatrix>,
) -> Vec<Vec<OptionId>> {
    match method {
        RankedTally::Borda => ranked::tiers_by_score(borda),
        RankedTally::InstantRunoff => runoff_order(&ranked::instant_runoff(canon, profile)),
        RankedTally::Schulze => schulze(canon, profile, pairwise).ranking,
    }
}

/// Schulze from kept pairwise counts when they are over these options, else from the profile.
fn schulze(
    canon: &[OptionId],
    profile: &[ranked::WeightedRanking],
    pairwise: Option<&ranked::PairwiseMatrix>,
) -> ranked::SchulzeResult {
    match pairwise {
        Some(matrix) if matrix.options() == canon => ranked::schulze_from_pairwise(canon, matrix.rows()),
        _ => ranked::schulze(canon, profile),
    }
}

/// The options a poll's counts are over: its options that count for themselves, in poll order.
pub fn counted_options(options: &OptionSet<'_>) -> Vec<OptionId> {
    Resolved::new(options).canon
}

/// A ranked ballot as it is counted: each option mapped to the option it
/// counts for, unknown options and repeats dropped (the first place wins).
pub fn counted_ranking(options: &OptionSet<'_>, ranking: &[OptionId]) -> Vec<OptionId> {
    let set = Resolved::new(options);
    let mut seen = HashSet::new();
    ranking
        .iter()
        .filter_map(|&option| set.row_of(option))
        .filter(|row| seen.insert(*row))
        .map(|row| set.canon[row])
        .collect()
}

/// Instant-runoff as tiers: the winners, then the options eliminated last
/// before those eliminated earlier; options eliminated together share a tier.
fn runoff_order(result: &ranked::IrvResult) -> Vec<Vec<OptionId>> {
    let mut tiers = vec![result.winners.clone()];
    tiers.extend(result.rounds.iter().rev().filter(|r| !r.eliminated.is_empty()).map(|r| r.eliminated.clone()));
    tiers.retain(|t| !t.is_empty());
    tiers
}

/// Every ranked method over the same weighted ballots, with its working, for
/// a ranked poll; `None` for other methods.
pub fn ranked_detail<'b>(
    method: &PollMethod,
    options: &OptionSet<'_>,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
) -> Option<RankedDetail> {
    ranked_detail_with(method, options, ballots, None)
}

/// Like [`ranked_detail`], with the pairwise counts of exactly these ballots already kept.
pub fn ranked_detail_with<'b>(
    method: &PollMethod,
    options: &OptionSet<'_>,
    ballots: impl IntoIterator<Item = (&'b Ballot, u64)>,
    pairwise: Option<&ranked::PairwiseMatrix>,
) -> Option<RankedDetail> {
    let PollMethod::Ranked { .. } = method else { return None };
    let set = Resolved::new(options);
    let profile = Profile::new(&set, ballots.into_iter()).weighted(&set.canon);
    let borda = ranked::tiers_by_score(&ranked::borda(&set.canon, &profile)).into_iter().next().unwrap_or_default();
    let irv = ranked::instant_runoff(&set.canon, &profile);
    let schulze = schulze(&set.canon, &profile, pairwise);
    let sorted = |mut v: Vec<OptionId>| {
        v.sort();
        v
    };
    let winners = MethodWinners {
        borda: borda.clone(),
        instant_runoff: irv.winners.clone(),
        schulze: schulze.ranking.first().cloned().unwrap_or_default(),
    };
    let methods_disagree = sorted(winners.borda.clone()) != sorted(winners.instant_runoff.clone())
        || sorted(winners.instant_runoff.clone()) != sorted(winners.schulze.clone());
    let to_counts =
        |counts: &[(OptionId, u64)]| counts.iter().map(|&(option, count)| OptionCount { option, count }).collect();
    Some(RankedDetail {
        options: set.canon.clone(),
        instant_runoff: InstantRunoff {
            rounds: irv
                .rounds
                .iter()
                .map(|r| RunoffRound {
                    counts: to_counts(&r.counts),
                    exhausted: r.exhausted,
                    eliminated: r.eliminated.clone(),
                    simultaneous: r.simultaneous,
                })
                .collect(),
            winners: irv.winners,
        },
        schulze: SchulzeDetail { pairwise: schulze.pairwise, strongest: schulze.strongest, ranking: schulze.ranking },
        winners,
        methods_disagree,
    })
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

fn option_counts(canon: &[OptionId], counts: &[u64]) -> Vec<OptionCount> {
    canon.iter().zip(counts).map(|(&option, &count)| OptionCount { option, count }).collect()
}

/// Groups the canonical options into tiers, best first. `order(a, b)` on rows
/// is `Less` when `a` ranks above `b` and `Equal` when they tie. The sort is
/// stable, so tier members stay in poll order. No empty tiers; no options, no tiers.
fn tiers(canon: &[OptionId], order: impl Fn(usize, usize) -> Ordering) -> Vec<Vec<OptionId>> {
    let mut rows: Vec<usize> = (0..canon.len()).collect();
    rows.sort_by(|&a, &b| order(a, b));
    let mut ranking: Vec<Vec<OptionId>> = Vec::new();
    let mut previous: Option<usize> = None;
    for row in rows {
        match (previous, ranking.last_mut()) {
            (Some(prev), Some(tier)) if order(prev, row) == Ordering::Equal => tier.push(canon[row]),
            _ => ranking.push(vec![canon[row]]),
        }
        previous = Some(row);
    }
    ranking
}

/// Scratch space for one ballot: a value per row, remembered in the order rows
/// were first touched and cleared in O(touched) between ballots.
struct PerBallot<T> {
    slots: Vec<Option<T>>,
    touched: Vec<usize>,
}

impl<T: Copy + Ord> PerBallot<T> {
    fn new(rows: usize) -> Self {
        PerBallot { slots: vec![None; rows], touched: Vec::new() }
    }

    /// Records `value` for `row` unless the row already has one.
    fn keep_first(&mut self, row: usize, value: T) {
        if let Some(slot @ None) = self.slots.get_mut(row) {
            *slot = Some(value);
            self.touched.push(row);
        }
    }

    /// Records `value` for `row`, keeping the larger if the row already has one.
    fn keep_max(&mut self, row: usize, value: T) {
        match self.slots.get_mut(row) {
            Some(Some(current)) => *current = (*current).max(value),
            Some(slot @ None) => {
                *slot = Some(value);
                self.touched.push(row);
            }
            None => {}
        }
    }

    /// The touched rows with their values, in first-touched order; clears them.
    fn drain(&mut self) -> impl Iterator<Item = (usize, T)> + '_ {
        let slots = &mut self.slots;
        self.touched
            .drain(..)
            .filter_map(move |row| slots.get_mut(row).and_then(Option::take).map(|value| (row, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn o(id: u32) -> OptionId {
        OptionId(id)
    }

    fn ids(list: &[u32]) -> Vec<OptionId> {
        list.iter().copied().map(OptionId).collect()
    }

    fn tiers_of(list: &[&[u32]]) -> Vec<Vec<OptionId>> {
        list.iter().map(|tier| ids(tier)).collect()
    }

    fn counts(list: &[(u32, u64)]) -> Vec<OptionCount> {
        list.iter().map(|&(option, count)| OptionCount { option: o(option), count }).collect()
    }

    /// A poll's options 1..=n, some merged into others.
    #[derive(Debug, Clone)]
    struct Options {
        all: Vec<OptionId>,
        merged: HashMap<OptionId, OptionId>,
    }

    impl Options {
        fn new(n: u32) -> Self {
            Options { all: (1..=n).map(OptionId).collect(), merged: HashMap::new() }
        }

        fn merge(mut self, from: u32, into: u32) -> Self {
            self.merged.insert(o(from), o(into));
            self
        }

        fn validate(&self, method: &PollMethod, ballot: &Ballot) -> Result<(), BallotError> {
            let canonical = |option: OptionId| self.merged.get(&option).copied().unwrap_or(option);
            validate_ballot(method, &OptionSet { all: &self.all, canonical: &canonical }, ballot)
        }

        fn tally(&self, method: &PollMethod, ballots: &[Ballot]) -> Tally {
            let canonical = |option: OptionId| self.merged.get(&option).copied().unwrap_or(option);
            tally(PollId(7), method, &OptionSet { all: &self.all, canonical: &canonical }, ballots)
        }
    }

    fn assert_rule(result: Result<(), BallotError>, rule: &str) {
        match result {
            Err(error) => {
                assert_eq!(error.rule, rule, "message: {}", error.message);
                assert!(!error.message.is_empty());
                assert_eq!(error.to_string(), error.message);
            }
            Ok(()) => panic!("expected rule {rule}, ballot was accepted"),
        }
    }

    fn yes_no(rule: MajorityRule) -> PollMethod {
        PollMethod::YesNo { rule }
    }
    fn approval(max_choices: u32) -> PollMethod {
        PollMethod::Approval { max_choices }
    }
    fn dots(budget: u32, max_per_option: u32) -> PollMethod {
        PollMethod::Dots { budget, max_per_option }
    }
    fn score() -> PollMethod {
        PollMethod::Score {}
    }
    fn ranked(max_ranks: Option<u32>) -> PollMethod {
        PollMethod::Ranked { max_ranks, tally: RankedTally::Borda }
    }

    fn choose(choice: YesNoChoice) -> Ballot {
        Ballot::YesNo { choice }
    }
    fn votes(yes: usize, no: usize, abstain: usize) -> Vec<Ballot> {
        let mut ballots = vec![choose(YesNoChoice::Yes); yes];
        ballots.extend(vec![choose(YesNoChoice::No); no]);
        ballots.extend(vec![choose(YesNoChoice::Abstain); abstain]);
        ballots
    }
    fn approve(options: &[u32]) -> Ballot {
        Ballot::Approval { options: ids(options) }
    }
    fn place(allocations: &[(u32, u32)]) -> Ballot {
        Ballot::Dots {
            allocations: allocations.iter().map(|&(option, dots)| Allocation { option: o(option), dots }).collect(),
        }
    }
    fn scores(entries: &[(u32, u8)]) -> Ballot {
        Ballot::Score {
            scores: entries.iter().map(|&(option, score)| ScoreEntry { option: o(option), score }).collect(),
        }
    }
    fn rank(ranking: &[u32]) -> Ballot {
        Ballot::Ranked { ranking: ids(ranking) }
    }

    // --- validation: one test per rule --------------------------------------

    #[test]
    fn ballot_kind_must_match_method() {
        let options = Options::new(3);
        assert_rule(options.validate(&yes_no(MajorityRule::Simple), &approve(&[1])), "ballot.kind");
        assert_rule(options.validate(&approval(2), &choose(YesNoChoice::Yes)), "ballot.kind");
        assert_rule(options.validate(&dots(5, 5), &scores(&[(1, 3)])), "ballot.kind");
        assert_rule(options.validate(&score(), &rank(&[1])), "ballot.kind");
        assert_rule(options.validate(&ranked(None), &place(&[(1, 1)])), "ballot.kind");
        // Kind is checked before anything else, even an unknown option.
        assert_rule(options.validate(&score(), &approve(&[99])), "ballot.kind");
    }

    #[test]
    fn valid_ballots_pass() {
        let options = Options::new(3).merge(3, 1);
        assert_eq!(options.validate(&yes_no(MajorityRule::TwoThirds), &choose(YesNoChoice::Abstain)), Ok(()));
        assert_eq!(options.validate(&approval(2), &approve(&[3, 2])), Ok(()));
        assert_eq!(options.validate(&dots(6, 3), &place(&[(1, 3), (3, 3), (2, 0)])), Ok(()));
        assert_eq!(options.validate(&score(), &scores(&[(1, 0), (3, 5)])), Ok(()));
        assert_eq!(options.validate(&ranked(Some(2)), &rank(&[2, 3])), Ok(()));
        // The merged option 3 stands in for its target 1: a complete ranking.
        assert_eq!(options.validate(&ranked(None), &rank(&[3, 2])), Ok(()));
    }

    #[test]
    fn option_unknown_for_every_method_with_options() {
        let options = Options::new(3);
        assert_rule(options.validate(&approval(3), &approve(&[1, 4])), "option.unknown");
        assert_rule(options.validate(&dots(5, 5), &place(&[(9, 1)])), "option.unknown");
        assert_rule(options.validate(&score(), &scores(&[(0, 3)])), "option.unknown");
        assert_rule(options.validate(&ranked(None), &rank(&[1, 2, 3, 4])), "option.unknown");
        // Unknown is checked before the method's own rules (here: duplicate and too many).
        assert_rule(options.validate(&approval(1), &approve(&[1, 1, 4])), "option.unknown");
    }

    #[test]
    fn approval_empty() {
        assert_rule(Options::new(3).validate(&approval(2), &approve(&[])), "approval.empty");
    }

    #[test]
    fn approval_duplicate_by_raw_and_by_merged_id() {
        let options = Options::new(3).merge(3, 1);
        assert_rule(options.validate(&approval(3), &approve(&[2, 2])), "approval.duplicate");
        let error = options.validate(&approval(3), &approve(&[1, 3])).unwrap_err();
        assert_eq!(error.rule, "approval.duplicate");
        assert_eq!(error.message, "options 1 and 3 both count for option 1 (merged)");
        // Duplicate is checked before max_choices.
        assert_rule(options.validate(&approval(1), &approve(&[2, 2])), "approval.duplicate");
    }

    #[test]
    fn approval_max_choices() {
        let options = Options::new(5);
        assert_eq!(options.validate(&approval(3), &approve(&[1, 2, 3])), Ok(()));
        let error = options.validate(&approval(3), &approve(&[1, 2, 3, 4])).unwrap_err();
        assert_eq!(error.rule, "approval.max_choices");
        assert_eq!(error.message, "approve at most 3 options (got 4)");
    }

    #[test]
    fn dots_empty_for_no_allocations_or_only_zeros() {
        let options = Options::new(3);
        assert_rule(options.validate(&dots(5, 3), &place(&[])), "dots.empty");
        assert_rule(options.validate(&dots(5, 3), &place(&[(1, 0), (2, 0)])), "dots.empty");
    }

    #[test]
    fn dots_duplicate_by_raw_id_only() {
        let options = Options::new(3).merge(3, 1);
        assert_rule(options.validate(&dots(9, 3), &place(&[(2, 1), (2, 1)])), "dots.duplicate");
        // A zero allocation repeated is still a duplicate.
        assert_rule(options.validate(&dots(9, 3), &place(&[(2, 1), (1, 0), (1, 0)])), "dots.duplicate");
        // A merged option and its target are different raw ids: allowed, and summed when counted.
        assert_eq!(options.validate(&dots(9, 3), &place(&[(1, 3), (3, 3)])), Ok(()));
    }

    #[test]
    fn dots_max_per_option() {
        let error = Options::new(3).validate(&dots(10, 3), &place(&[(1, 2), (2, 4)])).unwrap_err();
        assert_eq!(error.rule, "dots.max_per_option");
        assert_eq!(error.message, "place at most 3 dots on one option (got 4 on option 2)");
    }

    #[test]
    fn dots_budget_with_no_overflow() {
        let options = Options::new(3);
        assert_eq!(options.validate(&dots(6, 3), &place(&[(1, 3), (2, 3)])), Ok(()));
        let error = options.validate(&dots(6, 3), &place(&[(1, 3), (2, 3), (3, 1)])).unwrap_err();
        assert_eq!(error.rule, "dots.budget");
        assert_eq!(error.message, "place at most 6 dots in all (got 7)");
        // Sums past u32::MAX do not wrap around to something under budget.
        let huge = dots(u32::MAX, u32::MAX);
        assert_rule(options.validate(&huge, &place(&[(1, u32::MAX), (2, u32::MAX), (3, 2)])), "dots.budget");
    }

    #[test]
    fn score_empty() {
        assert_rule(Options::new(3).validate(&score(), &scores(&[])), "score.empty");
    }

    #[test]
    fn score_range() {
        let options = Options::new(3);
        assert_eq!(options.validate(&score(), &scores(&[(1, MAX_SCORE)])), Ok(()));
        let error = options.validate(&score(), &scores(&[(1, 2), (2, 6)])).unwrap_err();
        assert_eq!(error.rule, "score.range");
        assert_eq!(error.message, "scores go from 0 to 5 (got 6 for option 2)");
        // Range is checked before duplicates.
        assert_rule(options.validate(&score(), &scores(&[(1, 2), (1, 255)])), "score.range");
    }

    #[test]
    fn score_duplicate_by_raw_id_only() {
        let options = Options::new(3).merge(3, 1);
        assert_rule(options.validate(&score(), &scores(&[(2, 1), (2, 4)])), "score.duplicate");
        assert_eq!(options.validate(&score(), &scores(&[(1, 1), (3, 4)])), Ok(()));
    }

    #[test]
    fn ranked_empty() {
        assert_rule(Options::new(3).validate(&ranked(Some(2)), &rank(&[])), "ranked.empty");
        assert_rule(Options::new(3).validate(&ranked(None), &rank(&[])), "ranked.empty");
    }

    #[test]
    fn ranked_duplicate_by_raw_and_by_merged_id() {
        let options = Options::new(4).merge(4, 2);
        assert_rule(options.validate(&ranked(None), &rank(&[1, 1, 2, 3])), "ranked.duplicate");
        assert_rule(options.validate(&ranked(Some(3)), &rank(&[4, 1, 2])), "ranked.duplicate");
        // Duplicate is checked before max_ranks.
        assert_rule(options.validate(&ranked(Some(1)), &rank(&[2, 4])), "ranked.duplicate");
    }

    #[test]
    fn ranked_max_ranks() {
        let options = Options::new(4);
        assert_eq!(options.validate(&ranked(Some(2)), &rank(&[3, 1])), Ok(()));
        let error = options.validate(&ranked(Some(2)), &rank(&[3, 1, 2])).unwrap_err();
        assert_eq!(error.rule, "ranked.max_ranks");
        assert_eq!(error.message, "rank at most 2 options (got 3)");
    }

    #[test]
    fn ranked_incomplete_when_a_full_ranking_misses_an_option() {
        let options = Options::new(4).merge(4, 2);
        let error = options.validate(&ranked(None), &rank(&[1, 4])).unwrap_err();
        assert_eq!(error.rule, "ranked.incomplete");
        assert_eq!(error.message, "rank all 3 options (option 3 is missing)");
        assert_eq!(options.validate(&ranked(None), &rank(&[3, 4, 1])), Ok(()));
    }

    // --- counting ------------------------------------------------------------

    fn yes_no_result(rule: MajorityRule, yes: usize, no: usize, abstain: usize) -> (bool, bool) {
        let ballots = votes(yes, no, abstain);
        let tally = Options::new(0).tally(&yes_no(rule), &ballots);
        assert_eq!(tally.ballots as usize, yes + no + abstain);
        match tally.result {
            TallyResult::YesNo { yes: y, no: n, abstain: a, rule: r, passed, tie } => {
                assert_eq!((y as usize, n as usize, a as usize, r), (yes, no, abstain, rule));
                (passed, tie)
            }
            other => panic!("expected a yes/no result, got {other:?}"),
        }
    }

    #[test]
    fn yes_no_simple_majority() {
        use MajorityRule::Simple;
        assert_eq!(yes_no_result(Simple, 3, 2, 5), (true, false));
        assert_eq!(yes_no_result(Simple, 2, 2, 1), (false, true));
        assert_eq!(yes_no_result(Simple, 1, 2, 0), (false, false));
    }

    #[test]
    fn yes_no_absolute_majority_counts_abstentions() {
        use MajorityRule::{Absolute, Simple};
        // 3 yes, 2 no, 5 abstain: passes by simple majority, fails absolute (6 > 10 is false).
        assert_eq!(yes_no_result(Simple, 3, 2, 5), (true, false));
        assert_eq!(yes_no_result(Absolute, 3, 2, 5), (false, false));
        // 3 of 5: 6 > 5 passes.
        assert_eq!(yes_no_result(Absolute, 3, 1, 1), (true, false));
        // Exactly half is not more than half: 4 > 4 fails.
        assert_eq!(yes_no_result(Absolute, 2, 1, 1), (false, false));
    }

    #[test]
    fn yes_no_two_thirds_boundary() {
        use MajorityRule::TwoThirds;
        // Exactly two thirds passes: 3·4 >= 2·6.
        assert_eq!(yes_no_result(TwoThirds, 4, 2, 0), (true, false));
        // Abstentions do not count: still exactly two thirds.
        assert_eq!(yes_no_result(TwoThirds, 4, 2, 9), (true, false));
        // Just under: 3·3 = 9 < 2·5 = 10.
        assert_eq!(yes_no_result(TwoThirds, 3, 2, 0), (false, false));
        // Only abstentions: no yes, does not pass.
        assert_eq!(yes_no_result(TwoThirds, 0, 0, 3), (false, true));
    }

    #[test]
    fn yes_no_with_no_ballots_is_a_tie_that_fails() {
        for rule in [MajorityRule::Simple, MajorityRule::Absolute, MajorityRule::TwoThirds] {
            assert_eq!(yes_no_result(rule, 0, 0, 0), (false, true), "{rule:?}");
        }
    }

    #[test]
    fn yes_no_ignores_ballots_of_another_kind_but_counts_them() {
        let ballots = vec![choose(YesNoChoice::Yes), approve(&[1])];
        let tally = Options::new(0).tally(&yes_no(MajorityRule::Simple), &ballots);
        assert_eq!(tally.ballots, 2);
        assert_eq!(
            tally.result,
            TallyResult::YesNo { yes: 1, no: 0, abstain: 0, rule: MajorityRule::Simple, passed: true, tie: false }
        );
    }

    #[test]
    fn approval_counts_with_merge_and_tie() {
        // Option 4 merged into 2.
        let options = Options::new(4).merge(4, 2);
        let ballots = [approve(&[1, 2]), approve(&[4]), approve(&[3, 4]), approve(&[1]), approve(&[3])];
        let tally = options.tally(&approval(2), &ballots);
        assert_eq!(tally.poll, PollId(7));
        assert_eq!(tally.ballots, 5);
        assert_eq!(
            tally.result,
            TallyResult::Approval { counts: counts(&[(1, 2), (2, 3), (3, 2)]), ranking: tiers_of(&[&[2], &[1, 3]]) }
        );
        assert_eq!(tally.result.winners(), &[o(2)]);
    }

    #[test]
    fn approval_counts_a_canonical_option_once_per_ballot() {
        // Invalid ballot (2 and 4 are the same option), but counting must not double it.
        let options = Options::new(4).merge(4, 2);
        let tally = options.tally(&approval(3), &[approve(&[2, 4, 2, 99])]);
        assert_eq!(
            tally.result,
            TallyResult::Approval { counts: counts(&[(1, 0), (2, 1), (3, 0)]), ranking: tiers_of(&[&[2], &[1, 3]]) }
        );
    }

    #[test]
    fn dots_counts_with_merge_and_tie() {
        // Option 4 merged into 1: its dots add to option 1.
        let options = Options::new(4).merge(4, 1);
        let ballots = [place(&[(1, 5), (4, 3)]), place(&[(2, 5), (3, 5)]), place(&[(3, 3), (2, 0)])];
        let tally = options.tally(&dots(10, 5), &ballots);
        assert_eq!(tally.ballots, 3);
        assert_eq!(
            tally.result,
            TallyResult::Dots { counts: counts(&[(1, 8), (2, 5), (3, 8)]), ranking: tiers_of(&[&[1, 3], &[2]]) }
        );
        assert_eq!(tally.result.winners(), &[o(1), o(3)]);
    }

    fn stat(option: u32, ballots: u32, sum: u64, mean: f64, median: f64, distribution: [u32; 6]) -> ScoreStat {
        ScoreStat { option: o(option), ballots, sum, mean, median, distribution }
    }

    #[test]
    fn score_stats_with_merge_even_median_and_unscored_last() {
        // Options 1..=6; 4 merged into 3. Option 5 is never scored.
        let options = Options::new(6).merge(4, 3);
        let ballots = [
            // 3 gets max(2, 4) = 4 once.
            scores(&[(1, 5), (2, 3), (3, 2), (4, 4)]),
            scores(&[(1, 3), (2, 3), (3, 5)]),
            scores(&[(1, 4), (6, 0)]),
            scores(&[(1, 0)]),
        ];
        let tally = options.tally(&score(), &ballots);
        assert_eq!(tally.ballots, 4);
        assert_eq!(
            tally.result,
            TallyResult::Score {
                stats: vec![
                    // 5, 3, 4, 0: mean 12/4 = 3, median of [0, 3, 4, 5] = 3.5.
                    stat(1, 4, 12, 3.0, 3.5, [1, 0, 0, 1, 1, 1]),
                    // 3, 3: mean 3, ties option 1 exactly.
                    stat(2, 2, 6, 3.0, 3.0, [0, 0, 0, 2, 0, 0]),
                    // 4, 5.
                    stat(3, 2, 9, 4.5, 4.5, [0, 0, 0, 0, 1, 1]),
                    stat(5, 0, 0, 0.0, 0.0, [0; 6]),
                    // Scored 0 by one ballot: ranks above unscored option 5.
                    stat(6, 1, 0, 0.0, 0.0, [1, 0, 0, 0, 0, 0]),
                ],
                ranking: tiers_of(&[&[3], &[1, 2], &[6], &[5]]),
            }
        );
    }

    #[test]
    fn score_odd_median_and_exact_mean_order() {
        let options = Options::new(2);
        // Option 1: 1, 1, 2 → mean 4/3, median 1. Option 2: 1, 2 → mean 3/2 (higher).
        let ballots = [scores(&[(1, 1), (2, 1)]), scores(&[(1, 1), (2, 2)]), scores(&[(1, 2)])];
        let tally = options.tally(&score(), &ballots);
        let TallyResult::Score { stats, ranking } = tally.result else { panic!("expected a score result") };
        assert_eq!(stats[0].median, 1.0);
        assert_eq!((stats[0].sum, stats[0].ballots), (4, 3));
        assert_eq!(stats[1].median, 1.5);
        assert_eq!(ranking, tiers_of(&[&[2], &[1]]));
    }

    #[test]
    fn ranked_borda_with_partial_rankings_and_merge() {
        // Options 1..=5; 5 merged into 4. n = 4 canonical options: first place scores 3.
        let options = Options::new(5).merge(5, 4);
        let ballots = [
            rank(&[1, 2]), // 1: 3, 2: 2 (3 and 4 unranked: 0)
            rank(&[2, 5]), // 2: 3, 4: 2
            rank(&[3, 1]), // 3: 3, 1: 2
            rank(&[4]),    // 4: 3
            rank(&[1]),    // 1: 3
        ];
        let tally = options.tally(&ranked(Some(2)), &ballots);
        assert_eq!(tally.ballots, 5);
        assert_eq!(
            tally.result,
            TallyResult::Ranked {
                tally: RankedTally::Borda,
                borda: counts(&[(1, 8), (2, 5), (3, 3), (4, 5)]),
                first_choices: counts(&[(1, 2), (2, 1), (3, 1), (4, 1)]),
                ranking: tiers_of(&[&[1], &[2, 4], &[3]]),
            }
        );
    }

    #[test]
    fn ranked_borda_full_rankings() {
        let options = Options::new(3);
        // Points 2, 1, 0 by position.
        let ballots = [rank(&[1, 2, 3]), rank(&[3, 1, 2]), rank(&[2, 1, 3])];
        let tally = options.tally(&ranked(None), &ballots);
        assert_eq!(
            tally.result,
            TallyResult::Ranked {
                tally: RankedTally::Borda,
                borda: counts(&[(1, 4), (2, 3), (3, 2)]),
                first_choices: counts(&[(1, 1), (2, 1), (3, 1)]),
                ranking: tiers_of(&[&[1], &[2], &[3]]),
            }
        );
    }

    #[test]
    fn ranked_keeps_first_occurrence_of_each_canonical_option() {
        // 5 → 4. [5, 4, 3] counts as [4, 3]: 4 gets 3 points, 3 gets 2 (not 1).
        let options = Options::new(5).merge(5, 4);
        let tally = options.tally(&ranked(Some(3)), &[rank(&[5, 4, 3])]);
        let TallyResult::Ranked { borda, first_choices, ranking, .. } = tally.result else {
            panic!("expected a ranked result")
        };
        assert_eq!(borda, counts(&[(1, 0), (2, 0), (3, 2), (4, 3)]));
        assert_eq!(first_choices, counts(&[(1, 0), (2, 0), (3, 0), (4, 1)]));
        assert_eq!(ranking, tiers_of(&[&[4], &[3], &[1, 2]]));
    }

    #[test]
    fn no_ballots_ties_every_canonical_option() {
        let options = Options::new(3).merge(2, 1);
        let everyone = tiers_of(&[&[1, 3]]);
        let zero = counts(&[(1, 0), (3, 0)]);
        assert_eq!(
            options.tally(&approval(1), &[]).result,
            TallyResult::Approval { counts: zero.clone(), ranking: everyone.clone() }
        );
        assert_eq!(
            options.tally(&dots(3, 3), &[]).result,
            TallyResult::Dots { counts: zero.clone(), ranking: everyone.clone() }
        );
        assert_eq!(
            options.tally(&score(), &[]).result,
            TallyResult::Score {
                stats: vec![stat(1, 0, 0, 0.0, 0.0, [0; 6]), stat(3, 0, 0, 0.0, 0.0, [0; 6])],
                ranking: everyone.clone(),
            }
        );
        let empty_ranked = options.tally(&ranked(None), &[]);
        assert_eq!(empty_ranked.ballots, 0);
        assert_eq!(
            empty_ranked.result,
            TallyResult::Ranked {
                tally: RankedTally::Borda,
                borda: zero.clone(),
                first_choices: zero,
                ranking: everyone,
            }
        );
    }

    /// One ballot set per method, all in one list, with one poll to count each.
    fn mixed_polls() -> Vec<(Options, PollMethod, Vec<Ballot>)> {
        let merged = Options::new(4).merge(4, 2);
        vec![
            (Options::new(0), yes_no(MajorityRule::TwoThirds), votes(4, 2, 3)),
            (merged.clone(), approval(2), vec![approve(&[1, 2]), approve(&[4]), approve(&[3, 4]), approve(&[1])]),
            (merged.clone(), dots(6, 3), vec![place(&[(1, 3), (4, 3)]), place(&[(2, 1)]), place(&[(3, 3), (1, 2)])]),
            (
                merged.clone(),
                score(),
                vec![scores(&[(1, 5), (2, 1), (4, 3)]), scores(&[(3, 4)]), scores(&[(1, 2), (3, 3)])],
            ),
            (merged, ranked(Some(2)), vec![rank(&[1, 4]), rank(&[3]), rank(&[4, 3]), rank(&[1, 2])]),
        ]
    }

    #[test]
    fn ballot_order_does_not_change_any_tally() {
        for (options, method, ballots) in mixed_polls() {
            let expected = options.tally(&method, &ballots);
            let mut reversed = ballots.clone();
            reversed.reverse();
            let mut rotated = ballots.clone();
            rotated.rotate_left(1);
            let mut interleaved: Vec<Ballot> = ballots.iter().step_by(2).cloned().collect();
            interleaved.extend(ballots.iter().skip(1).step_by(2).cloned());
            for order in [reversed, rotated, interleaved] {
                assert_eq!(options.tally(&method, &order), expected, "{method:?}");
            }
        }
    }

    // --- properties ----------------------------------------------------------

    /// Options 1..=seeds.len(); each option after the first is either its own
    /// (even seed) or merged into an earlier canonical option.
    fn options_from(seeds: &[u8]) -> Options {
        let mut options = Options::new(seeds.len() as u32);
        let mut canonical: Vec<u32> = Vec::new();
        for (id, &seed) in (1u32..).zip(seeds) {
            if canonical.is_empty() || seed % 2 == 0 {
                canonical.push(id);
            } else {
                let into = canonical[usize::from(seed) % canonical.len()];
                options = options.merge(id, into);
            }
        }
        options
    }

    fn arb_method() -> impl Strategy<Value = PollMethod> {
        prop_oneof![
            prop_oneof![Just(MajorityRule::Simple), Just(MajorityRule::Absolute), Just(MajorityRule::TwoThirds)]
                .prop_map(yes_no),
            (0u32..5).prop_map(approval),
            (0u32..15, 0u32..8).prop_map(|(budget, max)| dots(budget, max)),
            Just(score()),
            prop::option::of(0u32..5).prop_map(ranked),
        ]
    }

    /// Any ballot, including invalid ones: unknown ids, repeats, scores over 5.
    fn arb_ballot() -> impl Strategy<Value = Ballot> {
        let id = || (0u32..9).prop_map(OptionId);
        prop_oneof![
            prop_oneof![Just(YesNoChoice::Yes), Just(YesNoChoice::No), Just(YesNoChoice::Abstain)].prop_map(choose),
            prop::collection::vec(id(), 0..6).prop_map(|options| Ballot::Approval { options }),
            prop::collection::vec((id(), 0u32..12).prop_map(|(option, dots)| Allocation { option, dots }), 0..6)
                .prop_map(|allocations| Ballot::Dots { allocations }),
            prop::collection::vec((id(), 0u8..8).prop_map(|(option, score)| ScoreEntry { option, score }), 0..6)
                .prop_map(|scores| Ballot::Score { scores }),
            prop::collection::vec(id(), 0..8).prop_map(|ranking| Ballot::Ranked { ranking }),
        ]
    }

    fn arb_poll() -> impl Strategy<Value = (Options, PollMethod, Vec<Ballot>, Vec<Ballot>)> {
        (prop::collection::vec(any::<u8>(), 1..7), arb_method(), prop::collection::vec(arb_ballot(), 0..40))
            .prop_flat_map(|(seeds, method, ballots)| {
                let shuffled = Just(ballots.clone()).prop_shuffle();
                (Just(options_from(&seeds)), Just(method), Just(ballots), shuffled)
            })
    }

    fn ranking_of(result: &TallyResult) -> Option<&Vec<Vec<OptionId>>> {
        match result {
            TallyResult::YesNo { .. } => None,
            TallyResult::Approval { ranking, .. }
            | TallyResult::Dots { ranking, .. }
            | TallyResult::Score { ranking, .. }
            | TallyResult::Ranked { ranking, .. }
            | TallyResult::Pairwise { ranking, .. } => Some(ranking),
        }
    }

    /// The Tennessee capital example (English Wikipedia, "Instant-runoff
    /// voting" and "Condorcet method"): Memphis 1, Nashville 2, Chattanooga 3,
    /// Knoxville 4, entered as weighted paper rankings.
    fn tennessee() -> Vec<(Ballot, u64)> {
        vec![(rank(&[1, 2, 3, 4]), 42), (rank(&[2, 3, 4, 1]), 26), (rank(&[3, 4, 2, 1]), 15), (rank(&[4, 3, 2, 1]), 17)]
    }

    #[test]
    fn each_ranked_method_orders_the_poll_by_its_own_rule() {
        let options = Options::new(4);
        let method = |tally| PollMethod::Ranked { max_ranks: None, tally };
        let ranking = |tally| match count_weighted(&options, &method(tally), &tennessee()) {
            TallyResult::Ranked { ranking, .. } => ranking,
            other => panic!("expected a ranked result, got {other:?}"),
        };
        // Instant-runoff: Chattanooga, then Nashville, then Memphis are eliminated.
        assert_eq!(ranking(RankedTally::InstantRunoff), tiers_of(&[&[4], &[1], &[2], &[3]]));
        // Schulze: Nashville is the Condorcet winner; Chattanooga beats Knoxville beats Memphis.
        assert_eq!(ranking(RankedTally::Schulze), tiers_of(&[&[2], &[3], &[4], &[1]]));
        // Borda: 194, 173, 126, 107.
        assert_eq!(ranking(RankedTally::Borda), tiers_of(&[&[2], &[3], &[1], &[4]]));
    }

    #[test]
    fn the_ranked_detail_shows_every_method_and_flags_disagreement() {
        let options = Options::new(4);
        let canonical = |option: OptionId| option;
        let set = OptionSet { all: &options.all, canonical: &canonical };
        let method = PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze };
        let ballots = tennessee();
        let detail = ranked_detail(&method, &set, ballots.iter().map(|(b, w)| (b, *w))).expect("a ranked poll");
        assert_eq!(detail.winners, MethodWinners { borda: ids(&[2]), instant_runoff: ids(&[4]), schulze: ids(&[2]) });
        assert!(detail.methods_disagree, "Knoxville wins instant-runoff, Nashville the others");
        assert_eq!(detail.instant_runoff.rounds.len(), 4);
        assert_eq!(detail.instant_runoff.rounds[1].counts, counts(&[(1, 42), (2, 26), (4, 32)]));
        assert_eq!(detail.schulze.pairwise[1], vec![58, 0, 68, 68]);
        // Without ballots every method ties everyone: they agree.
        let none = ranked_detail(&method, &set, std::iter::empty()).expect("a ranked poll");
        assert!(!none.methods_disagree);
        assert_eq!(none.winners.instant_runoff, ids(&[1, 2, 3, 4]));
        assert_eq!(ranked_detail(&PollMethod::Score {}, &set, std::iter::empty()), None);
    }

    fn count_weighted(options: &Options, method: &PollMethod, ballots: &[(Ballot, u64)]) -> TallyResult {
        let canonical = |option: OptionId| options.merged.get(&option).copied().unwrap_or(option);
        count(
            method,
            &OptionSet { all: &options.all, canonical: &canonical },
            ballots.iter().map(|(ballot, weight)| (ballot, *weight)),
        )
    }

    #[test]
    fn a_weighted_paper_ranking_counts_as_that_many_ballots() {
        let options = Options::new(3);
        let weighted = [(rank(&[3, 1, 2]), 12), (rank(&[2, 3, 1]), 5)];
        let result = count_weighted(&options, &ranked(None), &weighted);
        assert_eq!(
            result,
            TallyResult::Ranked {
                tally: RankedTally::Borda,
                borda: counts(&[(1, 12), (2, 10), (3, 29)]),
                first_choices: counts(&[(1, 0), (2, 5), (3, 12)]),
                ranking: tiers_of(&[&[3], &[1], &[2]]),
            }
        );
    }

    proptest! {
        #[test]
        fn prop_a_weight_counts_as_that_many_copies(
            (options, method, ballots, _shuffled) in arb_poll(),
            weights in prop::collection::vec(0u64..4, 40),
        ) {
            let weighted: Vec<(Ballot, u64)> = ballots.iter().cloned().zip(weights.iter().copied()).collect();
            let expanded: Vec<Ballot> = weighted
                .iter()
                .flat_map(|(ballot, weight)| std::iter::repeat_n(ballot.clone(), *weight as usize))
                .collect();
            prop_assert_eq!(count_weighted(&options, &method, &weighted), options.tally(&method, &expanded).result);
        }

        #[test]
        fn prop_ballot_order_does_not_matter((options, method, ballots, shuffled) in arb_poll()) {
            for ballot in &ballots {
                // Never panics, whatever the ballot.
                let _ = options.validate(&method, ballot);
            }
            prop_assert_eq!(options.tally(&method, &shuffled), options.tally(&method, &ballots));
        }

        #[test]
        fn prop_every_canonical_option_ranked_exactly_once((options, method, ballots, _shuffled) in arb_poll()) {
            let tally = options.tally(&method, &ballots);
            prop_assert_eq!(tally.ballots as usize, ballots.len());
            match ranking_of(&tally.result) {
                Some(ranking) => {
                    prop_assert!(ranking.iter().all(|tier| !tier.is_empty()));
                    let mut ranked: Vec<OptionId> = ranking.iter().flatten().copied().collect();
                    ranked.sort();
                    let mut canonical: Vec<OptionId> =
                        options.all.iter().copied().filter(|option| !options.merged.contains_key(option)).collect();
                    canonical.sort();
                    prop_assert_eq!(ranked, canonical);
                }
                None => {
                    let TallyResult::YesNo { yes, no, abstain, .. } = tally.result else { unreachable!() };
                    prop_assert!(u64::from(yes) + u64::from(no) + u64::from(abstain) <= u64::from(tally.ballots));
                }
            }
        }
    }
}
