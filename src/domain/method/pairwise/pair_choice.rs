//! Pair choice: which pair a participant is shown next.
//!
//! A participant who still holds an offered pair they have not answered gets
//! it again (asking again does not re-roll). Otherwise,
//! among the pairs of canonical options they have not answered yet, the one
//! with the smallest load: answers to that pair across everyone plus pairs
//! currently offered to others and not yet answered by them. Ties are broken
//! by `mix(participant, a, b)` (a fixed hash, so people see pairs in different
//! orders without randomness), then by the options' order. The lower bit of
//! the mix says which option is shown first.
//!
//! Pure and deterministic: no randomness and no clock.

// The load of a pair is indexed by the rows of its two options.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use madang_protocol::{OptionId, ParticipantId};

use super::{Answer, Comparisons, canonical_pair, latest};
use crate::domain::method::OptionIndex;

/// splitmix64: a fixed 64-bit mixing function (Steele, Lea and Flood 2014).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The tie-break of pair choice: `splitmix64(participant << 32 ^ a << 16 ^ b)`, `a < b` option ids.
pub fn mix(participant: ParticipantId, a: OptionId, b: OptionId) -> u64 {
    splitmix64((u64::from(participant.0) << 32) ^ (u64::from(a.0) << 16) ^ u64::from(b.0))
}

/// The pair to show `participant` next, in showing order, and how many pairs
/// they have left (this one included); `None` when they answered every pair.
pub fn next_pair(
    options: &OptionIndex,
    comparisons: &Comparisons,
    participant: ParticipantId,
) -> Option<([OptionId; 2], u32)> {
    let k = options.canon.len();
    let mine = comparisons.answers.get(&participant).map(|a| latest(options, a)).unwrap_or_default();
    let left = (k * k.saturating_sub(1) / 2).saturating_sub(mine.len()) as u32;
    if left == 0 {
        return None;
    }
    if let Some(offer) = comparisons.offers.get(&participant)
        && let Some(key) = canonical_pair(options, offer[0], offer[1])
        && !mine.contains_key(&key)
    {
        let shown = |o: OptionId| options.row_of(o).map_or(o, |row| options.canon[row]);
        return Some(([shown(offer[0]), shown(offer[1])], left));
    }
    let mut load = vec![vec![0u64; k]; k];
    let mut answered_by: BTreeMap<ParticipantId, BTreeMap<(usize, usize), Answer>> = BTreeMap::new();
    for (p, list) in &comparisons.answers {
        let theirs = latest(options, list);
        for &(i, j) in theirs.keys() {
            load[i][j] += 1;
        }
        answered_by.insert(*p, theirs);
    }
    for (p, offer) in &comparisons.offers {
        if *p == participant {
            continue;
        }
        if let Some(key) = canonical_pair(options, offer[0], offer[1])
            && !answered_by.get(p).is_some_and(|theirs| theirs.contains_key(&key))
        {
            load[key.0][key.1] += 1;
        }
    }
    let mut best: Option<(u64, u64, usize, usize)> = None;
    for i in 0..k {
        for j in i + 1..k {
            if mine.contains_key(&(i, j)) {
                continue;
            }
            let candidate = (load[i][j], mix(participant, options.canon[i], options.canon[j]), i, j);
            if best.is_none_or(|b| candidate < b) {
                best = Some(candidate);
            }
        }
    }
    let (_, hash, i, j) = best?;
    let (a, b) = (options.canon[i], options.canon[j]);
    Some((if hash & 1 == 0 { [a, b] } else { [b, a] }, left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_support::{o, pid};

    fn identity(k: u32) -> OptionIndex {
        let all: Vec<OptionId> = (1..=k).map(o).collect();
        OptionIndex::new(&all, |x| x)
    }

    #[test]
    fn a_participant_gets_every_pair_once_then_none() {
        let options = identity(4);
        let mut c = Comparisons::default();
        let mut seen = std::collections::BTreeSet::new();
        for left in (1..=6).rev() {
            let (pair, n) = next_pair(&options, &c, pid(7)).unwrap();
            assert_eq!(n, left);
            assert_ne!(pair[0], pair[1]);
            assert!(seen.insert((pair[0].min(pair[1]), pair[0].max(pair[1]))));
            c.offers.insert(pid(7), pair);
            // Asking again before answering gives the same pair.
            assert_eq!(next_pair(&options, &c, pid(7)).unwrap().0, pair);
            c.answer(pid(7), pair[0], pair[1], false);
        }
        assert_eq!(next_pair(&options, &c, pid(7)), None);
    }

    #[test]
    fn pairs_are_covered_evenly_across_participants() {
        let options = identity(5); // 10 pairs
        let mut c = Comparisons::default();
        for round in 0..4 {
            for person in 1..=7 {
                let (pair, _) = next_pair(&options, &c, pid(person)).unwrap();
                c.offers.insert(pid(person), pair);
                c.answer(pid(person), pair[0], pair[1], round % 2 == 0);
                let mut load = BTreeMap::new();
                for list in c.answers.values() {
                    for a in list {
                        *load.entry((a.a, a.b)).or_insert(0u32) += 1;
                    }
                }
                let min = if load.len() < 10 { 0 } else { *load.values().min().unwrap() };
                let max = *load.values().max().unwrap();
                assert!(max - min <= 1, "after round {round}, person {person}: {load:?}");
            }
        }
    }

    #[test]
    fn outstanding_offers_spread_concurrent_requests() {
        let options = identity(4);
        let mut c = Comparisons::default();
        let mut offered = std::collections::BTreeSet::new();
        for person in 1..=6 {
            let (pair, _) = next_pair(&options, &c, pid(person)).unwrap();
            c.offers.insert(pid(person), pair);
            assert!(offered.insert((pair[0].min(pair[1]), pair[0].max(pair[1]))), "pair {pair:?} offered twice");
        }
    }

    #[test]
    fn mix_is_fixed() {
        // A change to the hash changes who sees which pair: keep it stable.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix(pid(1), o(1), o(2)), splitmix64((1 << 32) ^ (1 << 16) ^ 2));
    }
}
