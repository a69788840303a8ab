//! Agenda changes: from the moderator's send (and its ack) to each
//! connection's receipt of the `event` with that `seq`; the fan-out rate of
//! each change; and the changes a connection should have received but did not.
//!
//! Slow readers are left out of the before/after split and of the missed
//! count: they stop reading on purpose, and the split measures what they do
//! to everyone else.

use std::collections::{HashMap, HashSet};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::histogram::histogram;
use crate::roles::Role;
use crate::session::ConnectionReport;

pub(crate) struct Agenda {
    /// Every change the moderators saw acked: (seq, send µs, ack µs), sorted.
    pub(crate) changes: Vec<(u64, u64, u64)>,
    pub(crate) to_each_from_ack: Histogram<u64>,
    pub(crate) to_each_from_send: Histogram<u64>,
    /// Normal clients, for changes sent before the first slow reader stopped reading.
    pub(crate) normal_clients_before_slow: Histogram<u64>,
    /// Normal clients, for changes sent after.
    pub(crate) normal_clients_after_slow: Histogram<u64>,
    /// One object a change: how many received it and how fast.
    pub(crate) rounds: Vec<Value>,
    pub(crate) missed_changes: u64,
    pub(crate) conns_missing_changes: u64,
}

impl Agenda {
    pub(crate) fn of(reports: &[(Role, ConnectionReport)]) -> Agenda {
        let mut changes: Vec<(u64, u64, u64)> = Vec::new();
        for (role, report) in reports {
            if *role == Role::Moderator {
                changes.extend_from_slice(&report.agenda_changes);
            }
        }
        changes.sort_unstable();
        let change_at: HashMap<u64, (u64, u64)> = changes.iter().map(|&(seq, sent, ack)| (seq, (sent, ack))).collect();
        let slow_from = reports.iter().filter_map(|(_, report)| report.slow_stopped_at).min();
        let mut to_each_from_ack = histogram();
        let mut to_each_from_send = histogram();
        let mut normal_clients_before_slow = histogram();
        let mut normal_clients_after_slow = histogram();
        // seq → (connections that received it, last receipt)
        let mut per_change: HashMap<u64, (u64, u64)> = HashMap::new();
        let mut missed_changes = 0u64;
        let mut conns_missing_changes = 0u64;
        for (role, report) in receivers(reports) {
            for &(seq, at) in &report.agenda_events {
                let Some(&(sent, ack)) = change_at.get(&seq) else { continue };
                let _ = to_each_from_ack.record(at.saturating_sub(ack).max(1));
                let _ = to_each_from_send.record(at.saturating_sub(sent).max(1));
                if role != Role::Slow {
                    if slow_from.is_some_and(|slow_from| sent >= slow_from) {
                        let _ = normal_clients_after_slow.record(at.saturating_sub(ack).max(1));
                    } else {
                        let _ = normal_clients_before_slow.record(at.saturating_sub(ack).max(1));
                    }
                }
                let received = per_change.entry(seq).or_default();
                received.0 += 1;
                received.1 = received.1.max(at);
            }
            // Nothing missed: every change after this connection's first welcome, up to the end of its life.
            if role != Role::Slow && report.error.is_none() && report.close_code.is_none() {
                let got: HashSet<u64> = report.agenda_events.iter().map(|&(seq, _)| seq).collect();
                let missed =
                    changes.iter().filter(|&&(seq, _, _)| seq > report.first_head_seq && !got.contains(&seq)).count()
                        as u64;
                missed_changes += missed;
                conns_missing_changes += u64::from(missed > 0);
            }
        }
        let mut rounds = Vec::new();
        for &(seq, sent, ack) in &changes {
            if let Some(&(received, last)) = per_change.get(&seq) {
                let span = last.saturating_sub(ack.min(sent + 1)).max(1);
                rounds.push(json!({"seq": seq, "received": received, "all_after_ack_ms": last.saturating_sub(ack) as f64 / 1000.0,
                    "all_after_send_ms": last.saturating_sub(sent) as f64 / 1000.0, "frames_per_s": received as f64 / (span as f64 / 1e6)}));
            }
        }
        Agenda {
            changes,
            to_each_from_ack,
            to_each_from_send,
            normal_clients_before_slow,
            normal_clients_after_slow,
            rounds,
            missed_changes,
            conns_missing_changes,
        }
    }
}

/// Reconnected clients, and how many of them were resumed with a snapshot.
pub(crate) fn reconnects(reports: &[(Role, ConnectionReport)]) -> (u64, u64) {
    let mut reconnected = 0u64;
    let mut resumed_by_snapshot = 0u64;
    for (_, report) in receivers(reports) {
        if report.reconnected {
            reconnected += 1;
            resumed_by_snapshot += u64::from(report.resumed_by_snapshot);
        }
    }
    (reconnected, resumed_by_snapshot)
}

/// The connections that receive agenda changes: connected ones, moderators excepted.
fn receivers(reports: &[(Role, ConnectionReport)]) -> impl Iterator<Item = (Role, &ConnectionReport)> {
    reports
        .iter()
        .filter(|(role, report)| report.connected && *role != Role::Moderator)
        .map(|(role, report)| (*role, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_matched_to_receipts_and_missing_ones_counted() {
        let moderator = ConnectionReport {
            connected: true,
            agenda_changes: vec![(10, 100, 150), (12, 300, 350)],
            ..Default::default()
        };
        let everything =
            ConnectionReport { connected: true, agenda_events: vec![(10, 160), (12, 380)], ..Default::default() };
        // Joined at head 9, so it should have had both changes.
        let missing_one = ConnectionReport {
            connected: true,
            first_head_seq: 9,
            agenda_events: vec![(10, 170)],
            ..Default::default()
        };
        // Joined at head 10: only the second change was due, and it came.
        let late = ConnectionReport {
            connected: true,
            first_head_seq: 10,
            agenda_events: vec![(12, 400)],
            ..Default::default()
        };
        let reports =
            vec![(Role::Moderator, moderator), (Role::Idle, everything), (Role::Idle, missing_one), (Role::Idle, late)];
        let agenda = Agenda::of(&reports);
        assert_eq!(agenda.changes.len(), 2);
        assert_eq!(agenda.to_each_from_ack.len(), 4);
        assert_eq!(agenda.to_each_from_send.max(), 100);
        assert_eq!((agenda.missed_changes, agenda.conns_missing_changes), (1, 1));
        assert_eq!(agenda.rounds[0]["received"], 2);
        assert_eq!(agenda.rounds[1]["received"], 2);
    }
}
