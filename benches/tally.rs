//! Ranked tallies at scale: how long a full outcome takes for 100,000 ranked
//! ballots over 50 options (every method with its working, as a poll close
//! computes it), and how many ballots per second a forum folds in.
//!
//! Run: `cargo bench --bench tally`. Prints a table; timings are wall-clock
//! on this machine, so compare runs side by side, not across machines.
//!
//! With `MADANG_DIFF_PYTHON` pointing at a Python that has pref_voting (the
//! venv `tests/run` builds under `target/differential-venv`), the same
//! profile is also counted by pref_voting in the same run, and the table
//! gives Madang's time as a ratio of the peer's.

use std::time::Instant;

use madang::domain::method::{self, OptionIndex, ranked};
use madang_protocol::{Ballot, OptionId, PollMethod, RankedTally};

/// A small seeded generator, so every run counts the same profile.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn profile(ballots: usize, options: u32, seed: u64) -> Vec<Ballot> {
    let mut rng = XorShift(seed);
    (0..ballots)
        .map(|_| {
            // A Fisher–Yates shuffle with a bias towards low ids, so that the
            // profile has a structure (and a winner) rather than pure noise.
            let mut ranking: Vec<OptionId> = (1..=options).map(OptionId).collect();
            for i in (1..ranking.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                let j = if rng.next().is_multiple_of(4) { j / 2 } else { j };
                ranking.swap(i, j);
            }
            Ballot::Ranked { ranking }
        })
        .collect()
}

fn main() {
    const BALLOTS: usize = 100_000;
    const OPTIONS: u32 = 50;
    let ballots = profile(BALLOTS, OPTIONS, 0x5eed);
    let all: Vec<OptionId> = (1..=OPTIONS).map(OptionId).collect();
    let options = OptionIndex::new(&all, |o| o);
    println!("{BALLOTS} full ranked ballots over {OPTIONS} options");
    println!("{:<44} {:>12}", "step", "time");
    for method in [RankedTally::Borda, RankedTally::InstantRunoff, RankedTally::Schulze] {
        let poll = PollMethod::Ranked { max_ranks: None, tally: method };
        let start = Instant::now();
        let result = method::count(&poll, &options, ballots.iter().map(|b| (b, 1)), None);
        let elapsed = start.elapsed();
        std::hint::black_box(result);
        println!("{:<44} {:>9.1} ms", format!("decisive tally ({method:?})"), elapsed.as_secs_f64() * 1e3);
    }
    let mut madang = Vec::new();
    for method in [RankedTally::Borda, RankedTally::InstantRunoff, RankedTally::Schulze] {
        let poll = PollMethod::Ranked { max_ranks: None, tally: method };
        let start = Instant::now();
        let result = method::count(&poll, &options, ballots.iter().map(|b| (b, 1)), None);
        madang.push(start.elapsed().as_secs_f64());
        std::hint::black_box(result);
    }
    let poll = PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze };
    let start = Instant::now();
    let detail = method::ranked_detail(&poll, &options, ballots.iter().map(|b| (b, 1)), None).expect("ranked");
    let elapsed = start.elapsed();
    println!("{:<44} {:>9.1} ms", "all three methods with their working", elapsed.as_secs_f64() * 1e3);
    println!(
        "winners: borda {:?}, instant-runoff {:?}, schulze {:?}",
        detail.winners.borda, detail.winners.instant_runoff, detail.winners.schulze
    );
    // Live: each ballot folded into the kept pairwise counts as it is cast,
    // then the Schulze order recomputed from them at the tally cadence.
    let start = Instant::now();
    let mut matrix = ranked::PairwiseMatrix::new(&all);
    for ballot in &ballots {
        if let Ballot::Ranked { ranking } = ballot {
            matrix.add(&method::counted_ranking(&options, ranking), 1);
        }
    }
    let folded = start.elapsed();
    println!("{:<44} {:>9.0} /s", "ballots folded into live pairwise counts", BALLOTS as f64 / folded.as_secs_f64());
    let start = Instant::now();
    let live = ranked::schulze_from_pairwise(&all, matrix.rows());
    println!("{:<44} {:>9.2} ms", "live Schulze order from the kept counts", start.elapsed().as_secs_f64() * 1e3);
    assert_eq!(live.ranking.first().cloned().unwrap_or_default(), detail.winners.schulze);
    if let Ok(python) = std::env::var("MADANG_DIFF_PYTHON") {
        peer(&python, &ballots, OPTIONS, &madang, detail.winners.clone());
    } else {
        println!("(set MADANG_DIFF_PYTHON to count the same profile with pref_voting side by side)");
    }
    for method in [RankedTally::Borda, RankedTally::Schulze] {
        let poll = PollMethod::Ranked { max_ranks: None, tally: method };
        let start = Instant::now();
        let mut checked = 0usize;
        for ballot in &ballots {
            method::validate_ballot(&poll, &options, ballot).expect("valid");
            checked += 1;
        }
        let elapsed = start.elapsed();
        println!(
            "{:<44} {:>9.0} /s",
            format!("ballots validated ({method:?})"),
            checked as f64 / elapsed.as_secs_f64()
        );
    }
}

/// Count the same profile with pref_voting and print Madang/peer ratios.
fn peer(python: &str, ballots: &[Ballot], options: u32, madang: &[f64], winners: madang_protocol::MethodWinners) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let rankings: Vec<Vec<u32>> = ballots
        .iter()
        .filter_map(|b| match b {
            Ballot::Ranked { ranking } => Some(ranking.iter().map(|o| o.0 - 1).collect()),
            _ => None,
        })
        .collect();
    let input = serde_json::json!({ "options": options, "rankings": rankings }).to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer_pref_voting.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the pref_voting peer");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("send the profile");
    let output = child.wait_with_output().expect("peer output");
    assert!(output.status.success(), "the pref_voting peer failed");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("peer JSON");
    let t = &result["timings"];
    let profile = t["profile"].as_f64().unwrap_or(0.0);
    println!();
    println!(
        "side by side with pref_voting (same profile, same run); the peer also spends {profile:.1} s building its profile"
    );
    println!("{:<16} {:>12} {:>12} {:>10} {:>18}", "method", "madang", "pref_voting", "ratio", "ratio incl. profile");
    for (name, mine) in ["borda", "instant_runoff", "schulze"].iter().zip(madang) {
        let theirs = t[name].as_f64().unwrap_or(f64::NAN);
        // Madang reads the ballots inside each count; the peer reads them once into its profile.
        println!(
            "{:<16} {:>9.1} ms {:>9.1} ms {:>9.3}x {:>17.4}x",
            name,
            mine * 1e3,
            theirs * 1e3,
            mine / theirs,
            mine / (theirs + profile)
        );
    }
    let ids = |v: &[OptionId]| v.iter().map(|o| o.0).collect::<Vec<_>>();
    let agree = result["winners"]["borda"] == serde_json::json!(ids(&winners.borda))
        && result["winners"]["instant_runoff"] == serde_json::json!(ids(&winners.instant_runoff))
        && result["winners"]["schulze"] == serde_json::json!(ids(&winners.schulze));
    println!("same winners under every method: {agree}");
    assert!(agree, "pref_voting disagrees: {}", result["winners"]);
}
