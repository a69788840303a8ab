//! One audience's broadcast channel, and the recent frames kept for resume.
//!
//! An outlet is where the forum task's frames leave it for one audience. It
//! does not know which audience it serves or what its frames say: the forum
//! task decides what goes where (see `fanout`).

use std::collections::VecDeque;

use tokio::sync::broadcast;

use crate::hub::Frame;

pub(super) struct Outlet {
    tx: broadcast::Sender<Frame>,
    /// (seq, frame), oldest first.
    ring: VecDeque<(u64, Frame)>,
    /// Every frame after this seq is in `ring`.
    floor: u64,
}

impl Outlet {
    pub(super) fn new(capacity: usize, floor: u64) -> Outlet {
        Outlet { tx: broadcast::channel(capacity).0, ring: VecDeque::new(), floor }
    }

    /// Keep an event's frame for resumes without sending it (replay at start).
    pub(super) fn keep(&mut self, seq: u64, frame: Frame, ring_capacity: usize) {
        if self.ring.len() >= ring_capacity
            && let Some((old, _)) = self.ring.pop_front()
        {
            self.floor = old;
        }
        self.ring.push_back((seq, frame));
    }

    /// Send an event's frame and keep it for resumes.
    pub(super) fn publish(&mut self, seq: u64, frame: Frame, ring_capacity: usize) {
        self.send(frame.clone());
        self.keep(seq, frame, ring_capacity);
    }

    /// Send a frame that is not kept: tallies and temperatures are conflated,
    /// and a resume gets the current ones instead.
    pub(super) fn send(&self, frame: Frame) {
        // No receivers is not an error: nobody is watching.
        let _ = self.tx.send(frame);
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// The frames after `last_seq`, if they are all still kept and `last_seq`
    /// is not past `head`; `None` means the client needs a snapshot.
    pub(super) fn missed_since(&self, last_seq: u64, head: u64) -> Option<Vec<Frame>> {
        (last_seq >= self.floor && last_seq <= head)
            .then(|| self.ring.iter().filter(|(seq, _)| *seq > last_seq).map(|(_, f)| f.clone()).collect())
    }
}
