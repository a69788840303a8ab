//! Ballots: how fast each was acked, and how soon a display showed a tally
//! that counts it.
//!
//! A `tally` frame carries the forum's `seq` when it was rendered, so it
//! counts every ballot whose ack `seq` is at most that: for each acked
//! ballot and each display, the delay is the display's first tally with
//! `seq ≥ ack.seq`, minus the ack's arrival (recorded as 1 µs if the tally
//! came first).

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::histogram::histogram;
use crate::roles::Role;
use crate::session::ConnectionReport;

pub(crate) struct Ballots {
    /// Every ack of the run: (seq, arrival µs), sorted.
    pub(crate) acks: Vec<(u64, u64)>,
    pub(crate) ack_latency: Histogram<u64>,
    pub(crate) ack_to_display_tally: Histogram<u64>,
    /// Displays whose last tally does not count the last acked ballot.
    pub(crate) displays_missing_last_tally: usize,
}

impl Ballots {
    pub(crate) fn of(reports: &[(Role, ConnectionReport)]) -> Ballots {
        let mut ack_latency = histogram();
        let mut acks: Vec<(u64, u64)> = Vec::new();
        for (_, report) in reports {
            for &latency in &report.ack_latencies {
                let _ = ack_latency.record(latency.max(1));
            }
            acks.extend_from_slice(&report.acks);
        }
        acks.sort_unstable();

        let mut ack_to_display_tally = histogram();
        for (role, report) in reports {
            if *role != Role::Display || report.tallies.is_empty() {
                continue;
            }
            let tallies = &report.tallies;
            for &(seq, acked_at) in &acks {
                let first_counting = tallies.partition_point(|&(tally_seq, _)| tally_seq < seq);
                if let Some(&(_, shown_at)) = tallies.get(first_counting) {
                    let _ = ack_to_display_tally.record(shown_at.saturating_sub(acked_at).max(1));
                }
            }
        }
        let displays_missing_last_tally = acks.last().map_or(0, |&(last, _)| {
            reports
                .iter()
                .filter(|(role, report)| {
                    *role == Role::Display
                        && report.connected
                        && report.tallies.last().is_none_or(|&(seq, _)| seq < last)
                })
                .count()
        });
        Ballots { acks, ack_latency, ack_to_display_tally, displays_missing_last_tally }
    }

    /// A burst run: how many ballots were acked, and when the first and last
    /// acks came after the poll opened (at `opened_at` µs).
    pub(crate) fn burst(&self, opened_at: u64) -> Value {
        let first = self.acks.iter().map(|&(_, at)| at).min().unwrap_or(0);
        let last = self.acks.iter().map(|&(_, at)| at).max().unwrap_or(0);
        json!({"ballots_acked": self.acks.len(), "first_ack_after_open_ms": first.saturating_sub(opened_at) as f64 / 1000.0,
               "last_ack_after_open_ms": last.saturating_sub(opened_at) as f64 / 1000.0})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(acks: &[(u64, u64)], tallies: &[(u64, u64)]) -> ConnectionReport {
        ConnectionReport { connected: true, acks: acks.to_vec(), tallies: tallies.to_vec(), ..Default::default() }
    }

    #[test]
    fn a_ballot_reaches_a_display_with_the_first_tally_that_counts_it() {
        let reports = vec![
            (Role::Voter, report(&[(5, 1_000), (7, 2_000)], &[])),
            // Tally seq 6 counts the ballot acked at seq 5, not the one at 7.
            (Role::Display, report(&[], &[(6, 1_500), (7, 2_100)])),
            // This display never saw a tally counting seq 7.
            (Role::Display, report(&[], &[(6, 1_200)])),
        ];
        let ballots = Ballots::of(&reports);
        assert_eq!(ballots.acks, vec![(5, 1_000), (7, 2_000)]);
        assert_eq!(ballots.ack_to_display_tally.len(), 3);
        assert_eq!(ballots.ack_to_display_tally.max(), 500);
        assert_eq!(ballots.displays_missing_last_tally, 1);
    }
}
