//! When a connection acts: a voter's steady ballots or its one burst ballot,
//! a moderator's agenda changes, when a slow reader stops reading and when a
//! reconnecting client drops.
//!
//! Why apart: these are the run's knobs turned into instants, computed once
//! when the run starts; the loop that acts on them knows no arithmetic. The
//! jitter is a hash of the connection's index, so that a run repeats.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

use crate::cli::RunArgs;
use crate::roles::Role;

pub(crate) struct Schedule {
    /// A voter's steady ballots or a moderator's agenda changes.
    pub(crate) ticks: Option<Interval>,
    /// A voter's one ballot when the run is a burst.
    pub(crate) burst_at: Option<Instant>,
    /// When a slow reader stops reading.
    pub(crate) slow_at: Option<Instant>,
    /// When an idle connection drops and comes back.
    pub(crate) reconnect_at: Option<Instant>,
    /// Nothing new is sent after the run's duration: what is in flight is answered in the grace period.
    pub(crate) send_until: Instant,
    /// An instant no run reaches, for the timers a role does not have.
    pub(crate) far: Instant,
}

impl Schedule {
    /// The schedule of connection `index` (the `role_index`th of its role) in a run that starts at `start`.
    pub(crate) fn new(args: &RunArgs, role: Role, index: usize, role_index: usize, start: Instant) -> Schedule {
        let ticks = match (role, args.burst_ms) {
            (Role::Voter, None) => {
                let period = Duration::from_secs_f64(args.voters.max(1) as f64 / args.ballot_rate.max(0.001));
                let offset =
                    Duration::from_secs_f64(period.as_secs_f64() * (splitmix64(index as u64) % 1000) as f64 / 1000.0);
                Some(interval_from(start + offset, period))
            }
            (Role::Moderator, _) if args.agenda_rounds_wait_ms.is_none() => {
                let period = Duration::from_millis(args.agenda_every_ms * args.moderators as u64);
                let offset = Duration::from_millis(args.agenda_every_ms * role_index as u64 + 500);
                Some(interval_from(start + offset, period))
            }
            _ => None,
        };
        let burst_at = match (role, args.burst_ms) {
            (Role::Voter, Some(ms)) => {
                Some(start + Duration::from_micros(splitmix64(index as u64) % (ms.max(1) * 1000)))
            }
            _ => None,
        };
        let slow_at = (role == Role::Slow).then(|| start + Duration::from_secs_f64(args.slow_after_secs));
        let reconnect_at = match (role, args.reconnect_at_secs) {
            (Role::Idle, Some(at_secs)) => {
                let jitter = (splitmix64(index as u64 ^ 0xabc) % 1_000_000) as f64 / 1e6 * args.reconnect_window_secs;
                Some(start + Duration::from_secs_f64(at_secs + jitter))
            }
            _ => None,
        };
        Schedule {
            ticks,
            burst_at,
            slow_at,
            reconnect_at,
            send_until: start + Duration::from_secs_f64(args.duration.min(600.0)),
            far: start + Duration::from_secs(3600),
        }
    }

    /// Whether the run still takes new requests.
    pub(crate) fn sending(&self) -> bool {
        Instant::now() < self.send_until
    }
}

/// Ticks from `first` every `period`; a late tick delays the next ones rather than bunching them.
fn interval_from(first: Instant, period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(first.into(), period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// SplitMix64 of `seed`: a well-spread number from an index, the same on every run.
pub(crate) fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
