//! Ranked tallies at scale: how long a full outcome takes for 100,000 ranked
//! ballots over 50 options (every method with its working, as a poll close
//! computes it), and how many ballots per second a forum folds in.
//!
//! Run: `cargo bench --bench tally`. Prints a table; timings are wall-clock
//! on this machine, so compare runs side by side, not across machines.

use std::time::Instant;

use madang::domain::tally::{self, OptionSet};
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
                let j = if rng.next() % 4 == 0 { j / 2 } else { j };
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
    let canonical = |o: OptionId| o;
    let options = OptionSet { all: &all, canonical: &canonical };
    println!("{BALLOTS} full ranked ballots over {OPTIONS} options");
    println!("{:<44} {:>12}", "step", "time");
    for method in [RankedTally::Borda, RankedTally::InstantRunoff, RankedTally::Schulze] {
        let poll = PollMethod::Ranked { max_ranks: None, tally: method };
        let start = Instant::now();
        let result = tally::count(&poll, &options, ballots.iter().map(|b| (b, 1)));
        let elapsed = start.elapsed();
        std::hint::black_box(result);
        println!("{:<44} {:>9.1} ms", format!("decisive tally ({method:?})"), elapsed.as_secs_f64() * 1e3);
    }
    let poll = PollMethod::Ranked { max_ranks: None, tally: RankedTally::Schulze };
    let start = Instant::now();
    let detail = tally::ranked_detail(&poll, &options, ballots.iter().map(|b| (b, 1))).expect("ranked");
    let elapsed = start.elapsed();
    println!("{:<44} {:>9.1} ms", "all three methods with their working", elapsed.as_secs_f64() * 1e3);
    println!(
        "winners: borda {:?}, instant-runoff {:?}, schulze {:?}",
        detail.winners.borda, detail.winners.instant_runoff, detail.winners.schulze
    );
    for method in [RankedTally::Borda, RankedTally::Schulze] {
        let poll = PollMethod::Ranked { max_ranks: None, tally: method };
        let start = Instant::now();
        let mut checked = 0usize;
        for ballot in &ballots {
            tally::validate_ballot(&poll, &options, ballot).expect("valid");
            checked += 1;
        }
        let elapsed = start.elapsed();
        println!("{:<44} {:>9.0} /s", format!("ballots validated ({method:?})"), checked as f64 / elapsed.as_secs_f64());
    }
}
