//! A broadcast channel bounded in bytes as well as in frames: how one
//! audience's frames reach its connections.
//!
//! A forum task sends each frame once; every connection subscribed reads it
//! at its own pace. Frames differ in size by a factor of thousands (a
//! participant count against a whole agenda at its limits, near a megabyte),
//! so a channel that keeps the last N frames whatever their size lets one
//! connection that stopped reading pin N large frames. Here the frames not yet
//! read by every receiver are kept within a frame count and a byte budget:
//! publishing evicts the oldest while either is exceeded, and a receiver whose
//! next frame was evicted gets [`RecvError::Lagged`] (the connection is closed
//! as too slow and resumes). A frame every receiver has read is dropped at once,
//! so an idle audience holds nothing. One frame larger than the whole byte
//! budget still goes out: it is then the only one kept.
//!
//! The ring sits behind a `std` mutex taken only for a push, a pop or a
//! receiver's bookkeeping, never across an `.await`; receivers wait on a
//! `Notify` that every send wakes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::Frame;

/// How much a channel keeps for its slowest receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    pub(crate) frames: usize,
    pub(crate) bytes: usize,
}

/// Why a receiver gets no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecvError {
    /// Frames it had not read were evicted; it continues at the oldest kept one.
    #[error("the receiver fell behind by more than the channel keeps")]
    Lagged,
    /// The sender is gone and every frame it sent was read.
    #[error("the channel is closed")]
    Closed,
}

/// A frame and how many receivers have still to read it.
struct Slot {
    frame: Frame,
    unread: usize,
}

struct Ring {
    slots: VecDeque<Slot>,
    /// The index of `slots[0]`; every frame before it is gone.
    floor: u64,
    /// The bytes of the frames in `slots`.
    bytes: usize,
    receivers: usize,
    closed: bool,
}

impl Ring {
    /// The index the next frame sent will have.
    fn end(&self) -> u64 {
        self.floor + self.slots.len() as u64
    }

    fn pop_front(&mut self) {
        if let Some(slot) = self.slots.pop_front() {
            self.bytes -= slot.frame.len();
            self.floor += 1;
        }
    }

    /// Drop the oldest frames once every receiver has read them.
    fn drop_read(&mut self) {
        while self.slots.front().is_some_and(|s| s.unread == 0) {
            self.pop_front();
        }
    }
}

struct Shared {
    ring: Mutex<Ring>,
    notify: Notify,
    budget: Budget,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ring> {
        // The ring's invariants hold between statements that cannot panic: a
        // poisoned lock still guards a consistent ring.
        self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The frame at `next`, if there is one, moving `next` past it.
    fn take(&self, next: &mut u64) -> Result<Option<Frame>, RecvError> {
        let mut ring = self.lock();
        if *next < ring.floor {
            *next = ring.floor;
            return Err(RecvError::Lagged);
        }
        let at = (*next - ring.floor) as usize;
        let Some(slot) = ring.slots.get_mut(at) else {
            return if ring.closed { Err(RecvError::Closed) } else { Ok(None) };
        };
        slot.unread -= 1;
        let frame = slot.frame.clone();
        *next += 1;
        if at == 0 {
            ring.drop_read();
        }
        Ok(Some(frame))
    }
}

/// The sending side; dropping it closes the channel.
pub(crate) struct Sender {
    shared: Arc<Shared>,
}

/// One subscriber: reads every frame sent after it subscribed, in order.
pub(crate) struct Receiver {
    shared: Arc<Shared>,
    /// The index of the next frame to read.
    next: u64,
}

pub(crate) fn channel(budget: Budget) -> Sender {
    let ring = Ring { slots: VecDeque::new(), floor: 0, bytes: 0, receivers: 0, closed: false };
    Sender { shared: Arc::new(Shared { ring: Mutex::new(ring), notify: Notify::new(), budget }) }
}

impl Sender {
    /// Send to every receiver; with none, the frame is dropped.
    pub(crate) fn send(&self, frame: Frame) {
        let Budget { frames, bytes } = self.shared.budget;
        {
            let mut ring = self.shared.lock();
            if ring.receivers == 0 {
                return;
            }
            ring.bytes += frame.len();
            let unread = ring.receivers;
            ring.slots.push_back(Slot { frame, unread });
            while ring.slots.len() > 1 && (ring.slots.len() > frames.max(1) || ring.bytes > bytes) {
                ring.pop_front();
            }
        }
        self.shared.notify.notify_waiters();
    }

    /// A receiver of every frame sent from now on.
    pub(crate) fn subscribe(&self) -> Receiver {
        let mut ring = self.shared.lock();
        ring.receivers += 1;
        Receiver { shared: self.shared.clone(), next: ring.end() }
    }

    pub(crate) fn receiver_count(&self) -> usize {
        self.shared.lock().receivers
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.notify.notify_waiters();
    }
}

impl Receiver {
    /// The next frame, without waiting: `Ok(None)` when there is none yet.
    pub(crate) fn try_recv(&mut self) -> Result<Option<Frame>, RecvError> {
        self.shared.take(&mut self.next)
    }

    /// The next frame, once there is one. Cancel-safe: a frame is taken only
    /// when the call returns it.
    pub(crate) async fn recv(&mut self) -> Result<Frame, RecvError> {
        loop {
            // Created before looking, so that a send in between still wakes it.
            let notified = self.shared.notify.notified();
            if let Some(frame) = self.shared.take(&mut self.next)? {
                return Ok(frame);
            }
            notified.await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut ring = self.shared.lock();
        ring.receivers -= 1;
        let from = self.next.saturating_sub(ring.floor) as usize;
        for slot in ring.slots.iter_mut().skip(from) {
            slot.unread -= 1;
        }
        ring.drop_read();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn frame(n: usize, size: usize) -> Frame {
        let mut text = format!("{n:08}");
        text.push_str(&"x".repeat(size.saturating_sub(text.len())));
        Frame::from(text)
    }

    fn numbers(rx: &mut Receiver) -> Vec<usize> {
        std::iter::from_fn(|| rx.try_recv().unwrap()).map(|f| f.as_str()[..8].parse().unwrap()).collect()
    }

    fn held(tx: &Sender) -> (usize, usize) {
        let ring = tx.shared.lock();
        (ring.slots.len(), ring.bytes)
    }

    #[test]
    fn every_receiver_reads_every_frame_in_order_and_read_frames_are_dropped() {
        let tx = channel(Budget { frames: 16, bytes: 1 << 20 });
        tx.send(frame(0, 100));
        let (mut a, mut b) = (tx.subscribe(), tx.subscribe());
        for n in 1..=3 {
            tx.send(frame(n, 100));
        }
        assert_eq!(numbers(&mut a), [1, 2, 3]);
        assert_eq!(held(&tx), (3, 300), "b has not read them yet");
        assert_eq!(numbers(&mut b), [1, 2, 3]);
        assert_eq!(held(&tx), (0, 0));
        // A receiver that goes away no longer holds frames back.
        tx.send(frame(4, 100));
        drop(b);
        assert_eq!(numbers(&mut a), [4]);
        assert_eq!(held(&tx), (0, 0));
        drop(a);
        tx.send(frame(5, 100));
        assert_eq!(held(&tx), (0, 0), "nobody listens: nothing is kept");
        assert_eq!(tx.receiver_count(), 0);
    }

    #[test]
    fn the_frame_count_evicts_and_the_slow_receiver_lags() {
        let tx = channel(Budget { frames: 3, bytes: 1 << 20 });
        let (mut slow, mut fast) = (tx.subscribe(), tx.subscribe());
        for n in 1..=5 {
            tx.send(frame(n, 100));
            assert_eq!(numbers(&mut fast), [n]);
        }
        assert_eq!(held(&tx), (3, 300));
        assert_eq!(slow.try_recv(), Err(RecvError::Lagged));
        // It continues at the oldest frame kept.
        assert_eq!(numbers(&mut slow), [3, 4, 5]);
        assert_eq!(held(&tx), (0, 0));
    }

    #[test]
    fn the_byte_budget_evicts_large_frames_long_before_the_count() {
        let tx = channel(Budget { frames: 1024, bytes: 1_000_000 });
        let (mut slow, mut fast) = (tx.subscribe(), tx.subscribe());
        for n in 1..=25 {
            tx.send(frame(n, 200_000));
            assert_eq!(numbers(&mut fast), [n]);
            assert!(held(&tx).1 <= 1_000_000, "{:?} held after frame {n}", held(&tx));
        }
        assert_eq!(held(&tx), (5, 1_000_000));
        assert_eq!(slow.try_recv(), Err(RecvError::Lagged));
        assert_eq!(numbers(&mut slow), [21, 22, 23, 24, 25]);
    }

    #[test]
    fn a_frame_larger_than_the_budget_still_goes_out_alone() {
        let tx = channel(Budget { frames: 1024, bytes: 250_000 });
        let (mut a, mut b) = (tx.subscribe(), tx.subscribe());
        tx.send(frame(1, 100_000));
        assert_eq!(numbers(&mut a), [1]);
        tx.send(frame(2, 300_000));
        assert_eq!(held(&tx), (1, 300_000));
        assert_eq!(numbers(&mut a), [2]);
        // b had not read frame 1: it was evicted to make room.
        assert_eq!(b.try_recv(), Err(RecvError::Lagged));
        assert_eq!(numbers(&mut b), [2]);
        assert_eq!(held(&tx), (0, 0));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_send_and_ends_on_close() {
        let tx = channel(Budget { frames: 16, bytes: 1 << 20 });
        let mut rx = tx.subscribe();
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            let end = rx.recv().await;
            (first, second, end)
        });
        // The receiver is parked in `recv` (nothing was sent yet) before the sends.
        tokio::task::yield_now().await;
        tx.send(frame(1, 10));
        tx.send(frame(2, 10));
        drop(tx);
        let (first, second, end) = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert_eq!(first.unwrap().as_str()[..8].parse::<usize>().unwrap(), 1);
        assert_eq!(second.unwrap().as_str()[..8].parse::<usize>().unwrap(), 2);
        assert_eq!(end, Err(RecvError::Closed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receivers_on_other_threads_miss_no_wake_up() {
        let tx = channel(Budget { frames: 100_000, bytes: 1 << 30 });
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = tx.subscribe();
                tokio::spawn(async move {
                    let mut count = 0;
                    while rx.recv().await.is_ok() {
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        for n in 0..10_000 {
            tx.send(frame(n, 16));
            if n % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(tx);
        for reader in readers {
            let count = tokio::time::timeout(Duration::from_secs(10), reader).await.unwrap().unwrap();
            assert_eq!(count, 10_000);
        }
    }
}
