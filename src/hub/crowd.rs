//! Participants' share of a forum's public frames, in shards.
//!
//! Events go to every participant at once. Tallies and the temperature
//! check are different: they are conflated state, and a forum of 20,000
//! phones at the display's 10 per second would be 200,000 socket writes a
//! second, more than the server's core can make while it also takes
//! ballots. So participants are split into shards by id, each with its own
//! channel (`fanout_channel`), and each tally tick serves only the next shards in
//! turn with the latest frame of whatever changed since that shard last
//! heard. A small crowd gets every tick; a large one gets tallies less often
//! and evenly spread, never as one burst that would delay everyone's next
//! frame (the delay of an agenda change is measured across the whole crowd).
//!
//! Idea supports go the same way: the crowd keeps each idea's latest counts,
//! and a shard's turn brings one `supports` frame with the ideas whose
//! support changed since it last heard.
//!
//! Architecture invariant: the crowd knows frames, poll ids and support
//! counts only; which tallies and ideas participants may see is decided by
//! the forum task, at send time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use madang_protocol::{IdeaId, IdeaSupport, ParticipantId, PollId};

use super::Frame;
use super::fanout_channel::{self, Budget};
use super::frames;

/// Shards per forum: enough to spread a tally over a tick's worth of
/// writes, few enough that a forum's idle channels cost little memory.
pub const SHARDS: usize = 8;

/// However large the crowd, participants hear a changed tally this often.
pub const MAX_INTERVAL: Duration = Duration::from_secs(2);

/// How many shards hear tallies at this tick: all of them for a small crowd;
/// for a large one, few enough that tally frames to participants stay within
/// `frames_per_sec` (each frame is a socket write), but each shard at least
/// every [`MAX_INTERVAL`]. Fractions of a shard carry over in `credit`, so
/// the pace holds below one shard per tick too.
pub fn shards_due(credit: &mut f64, listeners: usize, frames_per_sec: u32, tick: Duration) -> usize {
    let paced = Duration::from_secs_f64(listeners as f64 / f64::from(frames_per_sec.max(1)));
    let interval = tick.max(paced).min(MAX_INTERVAL);
    let ticks = (interval.as_secs_f64() / tick.as_secs_f64().max(1e-3)).max(1.0);
    *credit = (*credit + SHARDS as f64 / ticks).min(SHARDS as f64);
    let whole = credit.floor();
    *credit -= whole;
    whole as usize
}

pub struct Crowd {
    shards: Vec<Shard>,
    /// The next shard to serve.
    cursor: usize,
    latest_tallies: BTreeMap<PollId, Frame>,
    latest_temperature: Option<Frame>,
    /// Each idea's latest support counts, while a shard has not heard them.
    latest_supports: BTreeMap<IdeaId, IdeaSupport>,
    /// The seq the latest support counts are current at.
    supports_seq: u64,
}

struct Shard {
    tx: fanout_channel::Sender,
    /// Polls whose tally changed since this shard last heard.
    dirty: BTreeSet<PollId>,
    temperature: bool,
    /// Ideas whose support changed since this shard last heard.
    ideas: BTreeSet<IdeaId>,
}

impl Crowd {
    pub fn new(channel: Budget) -> Crowd {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                tx: fanout_channel::channel(channel),
                dirty: BTreeSet::new(),
                temperature: false,
                ideas: BTreeSet::new(),
            })
            .collect();
        Crowd {
            shards,
            cursor: 0,
            latest_tallies: BTreeMap::new(),
            latest_temperature: None,
            latest_supports: BTreeMap::new(),
            supports_seq: 0,
        }
    }

    pub fn subscribe(&self, participant: ParticipantId) -> fanout_channel::Receiver {
        self.shards[participant.0 as usize % SHARDS].tx.subscribe()
    }

    pub fn listeners(&self) -> usize {
        self.shards.iter().map(|s| s.tx.receiver_count()).sum()
    }

    /// An event: every participant, now.
    pub fn send_event(&self, frame: &Frame) {
        for shard in &self.shards {
            shard.tx.send(frame.clone());
        }
    }

    pub fn tally_changed(&mut self, poll: PollId, frame: Frame) {
        self.latest_tallies.insert(poll, frame);
        self.shards.iter_mut().for_each(|s| {
            s.dirty.insert(poll);
        });
    }

    pub fn temperature_changed(&mut self, frame: Option<Frame>) {
        self.latest_temperature = frame;
        self.shards.iter_mut().for_each(|s| s.temperature = true);
    }

    /// Support counts current at `seq`, of ideas participants may see.
    pub fn supports_changed(&mut self, seq: u64, supports: Vec<IdeaSupport>) {
        self.supports_seq = seq;
        for support in supports {
            self.latest_supports.insert(support.idea, support);
            self.shards.iter_mut().for_each(|s| {
                s.ideas.insert(support.idea);
            });
        }
    }

    /// An idea left the public view (hidden): its counts waiting for a
    /// shard's turn are not sent.
    pub fn forget_supports(&mut self, idea: IdeaId) {
        self.latest_supports.remove(&idea);
        self.shards.iter_mut().for_each(|s| {
            s.ideas.remove(&idea);
        });
    }

    pub fn pending(&self) -> bool {
        self.shards.iter().any(|s| s.temperature || !s.dirty.is_empty() || !s.ideas.is_empty())
    }

    /// Serve the next `count` shards: each hears the latest frame of every
    /// poll that changed since it last heard and for which `may_send` holds
    /// now (the poll may have closed, or its results been hidden, since).
    pub fn serve(&mut self, count: usize, may_send: impl Fn(PollId) -> bool) {
        for _ in 0..count.min(SHARDS) {
            let shard = &mut self.shards[self.cursor];
            self.cursor = (self.cursor + 1) % SHARDS;
            for poll in std::mem::take(&mut shard.dirty) {
                if let Some(frame) = self.latest_tallies.get(&poll).filter(|_| may_send(poll)) {
                    shard.tx.send(frame.clone());
                }
            }
            if std::mem::take(&mut shard.temperature)
                && let Some(frame) = &self.latest_temperature
            {
                shard.tx.send(frame.clone());
            }
            let supports: Vec<IdeaSupport> = std::mem::take(&mut shard.ideas)
                .into_iter()
                .filter_map(|idea| self.latest_supports.get(&idea).copied())
                .collect();
            if !supports.is_empty() {
                shard.tx.send(frames::supports(self.supports_seq, supports));
            }
        }
        // Frames of polls, and counts of ideas, nobody is waiting for are no longer needed.
        let shards = &self.shards;
        self.latest_tallies.retain(|poll, _| shards.iter().any(|s| s.dirty.contains(poll)));
        self.latest_supports.retain(|idea, _| shards.iter().any(|s| s.ideas.contains(idea)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Frame {
        Frame::from(text.to_string())
    }

    const CHANNEL: Budget = Budget { frames: 16, bytes: 1 << 20 };

    fn drain(rx: &mut fanout_channel::Receiver) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().unwrap()).map(|f| f.as_str().to_string()).collect()
    }

    #[test]
    fn shards_hear_the_latest_tally_in_turn_and_events_at_once() {
        let mut crowd = Crowd::new(CHANNEL);
        let mut rx: Vec<_> = (0..SHARDS as u32).map(|p| crowd.subscribe(ParticipantId(p))).collect();
        crowd.send_event(&frame("event"));
        crowd.tally_changed(PollId(1), frame("tally 1a"));
        crowd.tally_changed(PollId(1), frame("tally 1b"));
        crowd.serve(2, |_| true);
        for (i, rx) in rx.iter_mut().enumerate() {
            let expected: &[&str] = if i < 2 { &["event", "tally 1b"] } else { &["event"] };
            assert_eq!(drain(rx), expected, "shard {i}");
        }
        assert!(crowd.pending());
        // A poll that may no longer be sent is dropped, not sent late.
        crowd.serve(SHARDS, |_| false);
        assert!(rx.iter_mut().all(|rx| drain(rx).is_empty()));
        assert!(!crowd.pending());
        assert!(crowd.latest_tallies.is_empty());
    }

    /// Shards served over `seconds` of 100 ms ticks.
    fn served(listeners: usize, seconds: usize) -> usize {
        let mut credit = 0.0;
        (0..seconds * 10).map(|_| shards_due(&mut credit, listeners, 20_000, Duration::from_millis(100))).sum()
    }

    #[test]
    fn tallies_to_the_crowd_keep_their_pace() {
        // A small crowd: every shard, every tick.
        assert_eq!(served(1_500, 10), 100 * SHARDS);
        // 19,800 listeners at 20,000 frames/s: each shard about once a second.
        let shards = served(19_800, 10);
        let frames_per_sec = shards as f64 * (19_800.0 / SHARDS as f64) / 10.0;
        assert!((19_000.0..=20_500.0).contains(&frames_per_sec), "{shards} shards: {frames_per_sec} frames/s");
        // A huge crowd: still every shard every 2 s.
        assert_eq!(served(1_000_000, 10), 5 * SHARDS);
    }

    #[test]
    fn supports_are_conflated_per_shard_into_one_frame_per_turn() {
        let mut crowd = Crowd::new(CHANNEL);
        let mut rx: Vec<_> = (0..SHARDS as u32).map(|p| crowd.subscribe(ParticipantId(p))).collect();
        let support = |idea, remote| IdeaSupport { idea: IdeaId(idea), remote, hall: 0 };
        crowd.supports_changed(5, vec![support(1, 1)]);
        crowd.supports_changed(6, vec![support(1, 2), support(2, 1)]);
        crowd.serve(1, |_| true);
        let first: Vec<String> = drain(&mut rx[0]);
        assert_eq!(first.len(), 1, "{first:?}");
        let frame: serde_json::Value = serde_json::from_str(&first[0]).unwrap();
        assert_eq!(frame["type"], "supports");
        assert_eq!(
            frame["ideas"],
            serde_json::json!([{"idea": 1, "remote": 2, "hall": 0}, {"idea": 2, "remote": 1, "hall": 0}])
        );
        assert!(drain(&mut rx[1]).is_empty());
        crowd.serve(SHARDS, |_| true);
        assert!(!crowd.pending());
        assert!(crowd.latest_supports.is_empty());
    }

    #[test]
    fn a_hidden_ideas_waiting_counts_are_not_sent() {
        let mut crowd = Crowd::new(CHANNEL);
        let mut rx = crowd.subscribe(ParticipantId(0));
        let support = |idea| IdeaSupport { idea: IdeaId(idea), remote: 1, hall: 0 };
        crowd.supports_changed(5, vec![support(1), support(2)]);
        crowd.forget_supports(IdeaId(1));
        crowd.serve(SHARDS, |_| true);
        let frames = drain(&mut rx);
        assert_eq!(frames.len(), 1, "{frames:?}");
        let frame: serde_json::Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!(frame["ideas"], serde_json::json!([{"idea": 2, "remote": 1, "hall": 0}]));
        assert!(!crowd.pending());
    }

    #[test]
    fn the_temperature_is_conflated_per_shard() {
        let mut crowd = Crowd::new(CHANNEL);
        let mut rx = crowd.subscribe(ParticipantId(0));
        crowd.temperature_changed(Some(frame("t1")));
        crowd.temperature_changed(Some(frame("t2")));
        crowd.serve(SHARDS, |_| true);
        assert_eq!(drain(&mut rx), ["t2"]);
        assert_eq!(crowd.listeners(), 1);
    }
}
