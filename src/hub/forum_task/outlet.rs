//! One audience's channel, and the recent frames kept for resume.
//!
//! An outlet is where the forum task's frames leave it for one audience. It
//! does not know which audience it serves or what its frames say: the forum
//! task decides what goes where (see `fanout`).
//!
//! The resume ring is bounded twice: in frames, and in bytes. Frames differ
//! in size by a factor of thousands (a participant count against a whole
//! agenda), so a count alone would let large frames hold gigabytes; the
//! oldest frames go first, and a client further behind gets a snapshot.
//!
//! Whole-state updates (the speaker queue, the agenda, participant counts,
//! the hall check) are conflated: each carries all of its part of the forum,
//! so sending every one of them to every connection costs a frame of up to
//! hundreds of kilobytes per hand raise while only the latest matters. Each
//! kind has a small burst of credit, refilled at one frame per tally
//! interval: the first changes after a quiet spell go out at once, as a
//! moderator's few edits in a row always did; a sustained stream is held,
//! one frame per kind, a newer one replacing the held one. Held frames go out
//! at the next tally tick, and before any later frame of this audience, so
//! `seq` still rises strictly on every connection; they enter the resume
//! ring only when sent, so a resume replays what was sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::hub::Frame;
use crate::hub::fanout_channel::{self, Budget};
use crate::hub::frames::WholeState;

/// How much of the recent past an outlet keeps for resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RingBudget {
    pub(super) frames: usize,
    pub(super) bytes: usize,
}

pub(super) struct Outlet {
    tx: fanout_channel::Sender,
    /// (seq, frame), oldest first.
    ring: VecDeque<(u64, Frame)>,
    /// The bytes of the frames in `ring`.
    ring_bytes: usize,
    budget: RingBudget,
    /// Every frame after this seq is in `ring`.
    floor: u64,
    /// Whole-state frames not sent yet, at most one per kind, by rising seq.
    held: Vec<(u64, WholeState, Frame)>,
    /// Each whole-state kind's credit, in frames, and when it was last topped up.
    credit: [(f64, Instant); WholeState::COUNT],
    conflation: Conflation,
}

/// How whole-state frames are paced (see the module's docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Conflation {
    /// One frame of credit comes back per interval (the tally interval).
    pub(super) interval: Duration,
    /// Frames of a kind that may go out at once after a quiet spell.
    pub(super) burst: u32,
}

impl Outlet {
    pub(super) fn new(channel: Budget, floor: u64, budget: RingBudget, conflation: Conflation) -> Outlet {
        let full = (f64::from(conflation.burst), Instant::now());
        Outlet {
            tx: fanout_channel::channel(channel),
            ring: VecDeque::new(),
            ring_bytes: 0,
            budget,
            floor,
            held: Vec::new(),
            credit: [full; WholeState::COUNT],
            conflation,
        }
    }

    /// Keep an event's frame for resumes without sending it (replay at start).
    /// Older frames go until it fits; a frame larger than the whole byte
    /// budget is not kept, and every resume from before it gets a snapshot.
    pub(super) fn keep(&mut self, seq: u64, frame: Frame) {
        let size = frame.len();
        if size > self.budget.bytes {
            self.ring.clear();
            self.ring_bytes = 0;
            self.floor = seq;
            return;
        }
        while self.ring.len() >= self.budget.frames.max(1) || self.ring_bytes + size > self.budget.bytes {
            let Some((old, dropped)) = self.ring.pop_front() else { break };
            self.ring_bytes -= dropped.len();
            self.floor = old;
        }
        self.ring_bytes += size;
        self.ring.push_back((seq, frame));
    }

    /// Send an event's frame and keep it for resumes, or hold it if it is a
    /// whole state whose kind has no credit left at `now`.
    /// Every frame that goes out is also handed to `mirror`, in order.
    pub(super) fn publish(
        &mut self,
        seq: u64,
        frame: Frame,
        kind: Option<WholeState>,
        now: Instant,
        mut mirror: impl FnMut(&Frame),
    ) {
        if let Some(kind) = kind {
            let held_already = self.held.iter().position(|(_, k, _)| *k == kind);
            if let Some(i) = held_already {
                // The newer state replaces the held one; it has the highest seq, so it goes last.
                self.held.remove(i);
                self.held.push((seq, kind, frame));
                return;
            }
            if self.top_up(kind, now) < 1.0 {
                self.held.push((seq, kind, frame));
                return;
            }
        }
        self.flush(now, &mut mirror);
        self.emit(seq, kind, frame, now, &mut mirror);
    }

    /// Send every held frame, oldest first.
    pub(super) fn flush(&mut self, now: Instant, mut mirror: impl FnMut(&Frame)) {
        for (seq, kind, frame) in std::mem::take(&mut self.held) {
            self.emit(seq, Some(kind), frame, now, &mut mirror);
        }
    }

    /// Whether a whole-state frame waits for the next tick.
    pub(super) fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// A kind's credit at `now`: one frame back per interval, up to the burst.
    fn top_up(&mut self, kind: WholeState, now: Instant) -> f64 {
        let Conflation { interval, burst } = self.conflation;
        let (credit, at) = &mut self.credit[kind.index()];
        let earned = now.saturating_duration_since(*at).as_secs_f64() / interval.as_secs_f64().max(1e-6);
        *credit = (*credit + earned).min(f64::from(burst));
        *at = now;
        *credit
    }

    fn emit(
        &mut self,
        seq: u64,
        kind: Option<WholeState>,
        frame: Frame,
        now: Instant,
        mirror: &mut impl FnMut(&Frame),
    ) {
        if let Some(kind) = kind {
            // A held frame goes out at the tick whatever the credit: the debt
            // keeps the next frames of its kind waiting for ticks, so that the
            // sent frames never outrun the burst plus one per interval.
            let credit = self.top_up(kind, now);
            self.credit[kind.index()].0 = (credit - 1.0).max(-f64::from(self.conflation.burst));
        }
        mirror(&frame);
        self.send(frame.clone());
        self.keep(seq, frame);
    }

    /// Send a frame that is not kept: tallies and temperatures are conflated,
    /// and a resume gets the current ones instead.
    pub(super) fn send(&self, frame: Frame) {
        self.tx.send(frame);
    }

    pub(super) fn subscribe(&self) -> fanout_channel::Receiver {
        self.tx.subscribe()
    }

    /// The frames after `last_seq`, if they are all still kept and `last_seq`
    /// is not past `head`; `None` means the client needs a snapshot.
    pub(super) fn missed_since(&self, last_seq: u64, head: u64) -> Option<Vec<Frame>> {
        (last_seq >= self.floor && last_seq <= head)
            .then(|| self.ring.iter().filter(|(seq, _)| *seq > last_seq).map(|(_, f)| f.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB_100: usize = 100 * 1000;
    const CHANNEL: Budget = Budget { frames: 64, bytes: 1 << 20 };

    fn frame(seq: u64, size: usize) -> Frame {
        let mut text = format!("{seq:08}");
        text.push_str(&"x".repeat(size - text.len()));
        Frame::from(text)
    }

    fn outlet(frames: usize, bytes: usize) -> Outlet {
        let conflation = Conflation { interval: Duration::from_millis(100), burst: 1 };
        Outlet::new(CHANNEL, 0, RingBudget { frames, bytes }, conflation)
    }

    fn seqs(frames: &[Frame]) -> Vec<u64> {
        frames.iter().map(|f| f.as_str()[..8].parse().unwrap()).collect()
    }

    #[test]
    fn large_frames_are_kept_within_the_byte_budget() {
        let mut out = outlet(4096, 1024 * 1024);
        for seq in 1..=100 {
            out.keep(seq, frame(seq, KB_100));
            assert!(out.ring_bytes <= 1024 * 1024, "the ring holds {} bytes at seq {seq}", out.ring_bytes);
        }
        assert_eq!(out.ring_bytes, out.ring.iter().map(|(_, f)| f.len()).sum::<usize>());
        // 1 MiB holds ten frames of 100 KB: the last ten.
        assert_eq!(out.ring.len(), 10);
        assert_eq!(seqs(&out.missed_since(95, 100).expect("kept")), vec![96, 97, 98, 99, 100]);
        assert_eq!(seqs(&out.missed_since(90, 100).expect("kept")), (91..=100).collect::<Vec<_>>());
        // Behind the kept window: a snapshot.
        assert_eq!(out.missed_since(89, 100), None);
        assert_eq!(out.missed_since(1, 100), None);
    }

    fn received(rx: &mut fanout_channel::Receiver) -> Vec<u64> {
        let frames: Vec<Frame> = std::iter::from_fn(|| rx.try_recv().unwrap()).collect();
        seqs(&frames)
    }

    #[test]
    fn whole_states_past_the_burst_are_held_and_go_out_before_any_later_frame() {
        let conflation = Conflation { interval: Duration::from_secs(3600), burst: 2 };
        let mut out = Outlet::new(CHANNEL, 0, RingBudget { frames: 4096, bytes: 1 << 20 }, conflation);
        let mut rx = out.subscribe();
        let now = Instant::now();
        let mut mirrored = Vec::new();
        let mut publish = |out: &mut Outlet, seq: u64, kind: Option<WholeState>| {
            out.publish(seq, frame(seq, 100), kind, now, |f| mirrored.push(f.clone()));
        };
        let speakers = Some(WholeState::Speakers);
        let participants = Some(WholeState::Participants);
        // The burst goes out at once; past it, the newest of each kind waits.
        for seq in 1..=5 {
            publish(&mut out, seq, speakers);
        }
        // Another kind with credit goes out at once, after the held queue.
        publish(&mut out, 6, participants);
        assert_eq!(received(&mut rx), [1, 2, 5, 6]);
        publish(&mut out, 7, speakers);
        assert!(out.holds());
        // A later frame of another kind first sends what is held, oldest first.
        publish(&mut out, 8, None);
        assert_eq!(received(&mut rx), [7, 8]);
        publish(&mut out, 9, speakers);
        publish(&mut out, 10, speakers);
        out.flush(now, |f| mirrored.push(f.clone()));
        assert_eq!(received(&mut rx), [10]);
        assert!(!out.holds());
        // The crowd hears exactly what the channel did; the ring keeps only what was sent.
        assert_eq!(seqs(&mirrored), [1, 2, 5, 6, 7, 8, 10]);
        assert_eq!(seqs(&out.missed_since(0, 10).expect("kept")), [1, 2, 5, 6, 7, 8, 10]);
    }

    #[test]
    fn the_frame_count_still_bounds_small_frames() {
        let mut out = outlet(3, 1024 * 1024);
        for seq in 1..=10 {
            out.keep(seq, frame(seq, 100));
        }
        assert_eq!(seqs(&out.missed_since(7, 10).expect("kept")), vec![8, 9, 10]);
        assert_eq!(out.missed_since(6, 10), None);
    }

    #[test]
    fn a_frame_larger_than_the_budget_is_not_kept_and_resumes_before_it_get_a_snapshot() {
        let mut out = outlet(4096, 250_000);
        out.keep(1, frame(1, KB_100));
        out.keep(2, frame(2, 300_000));
        assert_eq!(out.ring_bytes, 0);
        assert_eq!(out.missed_since(1, 2), None);
        assert_eq!(out.missed_since(2, 2), Some(vec![]));
        out.keep(3, frame(3, KB_100));
        assert_eq!(seqs(&out.missed_since(2, 3).expect("kept")), vec![3]);
    }
}
