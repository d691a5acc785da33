//! A session's bounded delivery queue.
//!
//! The fan-out offers shared items from its shard tasks; the session task
//! (one per client connection) drains them in batches, unless it armed a
//! [`DirectSink`] and the items can be written for it right away. Offering
//! never blocks and never waits for the session: when the queue is full the
//! inbox is marked overflowed, the session is woken, and it ends itself. A
//! slow client therefore costs at most `capacity` pointers and never delays
//! anyone else.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Poll;

use futures_util::task::AtomicWaker;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::direct::{DirectSink, Written};
use crate::grip::item::Item;

/// Numbers inboxes, to spread them over the fan-out shards.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// One published item for one subscription of a session.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The item, shared by every subscriber.
    pub item: Arc<Item>,
    /// Index of the subscription (channel) within the receiving session.
    pub slot: u32,
    /// Bytes of the item already written directly (the rest is due).
    pub skip: u32,
}

/// What a session gets from [`Inbox::recv`].
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// At least one delivery was moved into the caller's buffer.
    Items,
    /// The queue overflowed: the session fell too far behind.
    Overflowed,
    /// The session should re-request its backend (`recover`, or a
    /// channel's first subscription). Queued items stay queued.
    Recover,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Delivery>,
    overflowed: bool,
    recover: bool,
    direct: Option<DirectSink>,
    /// When the last direct write happened (if the sink tracks them).
    wrote_at: Option<Instant>,
}

/// Bounded multi-producer, single-consumer queue with one waker.
#[derive(Debug)]
pub struct Inbox {
    state: Mutex<State>,
    capacity: usize,
    waker: AtomicWaker,
    id: usize,
    /// The socket of the first sink armed here, not kept open: the fan-out
    /// reads through it (and through this inbox) ahead of a run of direct
    /// writes, so that their cache misses overlap instead of stalling each
    /// write in turn.
    warm: OnceLock<Weak<TcpStream>>,
}

impl Inbox {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Inbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                overflowed: false,
                recover: false,
                direct: None,
                wrote_at: None,
            }),
            capacity,
            waker: AtomicWaker::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            warm: OnceLock::new(),
        })
    }

    /// The fan-out shard (of `shards`) this inbox belongs to.
    pub(super) fn shard(&self, shards: usize) -> usize {
        self.id % shards.max(1)
    }

    /// Reads this inbox's lock word and its socket's counters: plain loads
    /// whose only purpose is to bring their cache lines in (see `warm`).
    pub(super) fn warm_up(&self) -> usize {
        usize::from(self.state.is_poisoned()) ^ self.warm.get().map_or(0, Weak::strong_count)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a delivery. Returns `false` (and drops it) when the inbox is
    /// full or already overflowed.
    pub fn push(&self, delivery: Delivery) -> bool {
        let accepted = self.enqueue(&mut self.lock(), delivery);
        self.waker.wake();
        accepted
    }

    fn enqueue(&self, st: &mut State, delivery: Delivery) -> bool {
        if st.overflowed {
            false
        } else if st.queue.len() >= self.capacity {
            st.overflowed = true;
            st.queue = VecDeque::new();
            false
        } else {
            st.queue.push_back(delivery);
            true
        }
    }

    /// Hands a run of items for subscription `slot` to the session: written
    /// to its socket at once when it armed a sink and has nothing queued,
    /// queued otherwise. Returns how many were accepted and refused.
    pub fn offer(&self, items: &[&Arc<Item>], slot: u32) -> (usize, usize) {
        let mut st = self.lock();
        let (mut from, mut skip) = (0, 0);
        if let Some(sink) = st.direct.as_ref().filter(|_| st.queue.is_empty()) {
            let written = sink.write(items);
            let track = sink.track_writes;
            if written != Written::Not && track {
                st.wrote_at = Some(Instant::now());
            }
            match written {
                Written::All => return (items.len(), 0),
                Written::Part { items, skip: s } => (from, skip) = (items, s),
                Written::Not => {}
            }
        }
        // the session takes over from here
        st.direct = None;
        let mut accepted = from;
        for (i, item) in items[from..].iter().enumerate() {
            let d = Delivery {
                item: Arc::clone(item),
                slot,
                skip: if i == 0 { skip as u32 } else { 0 },
            };
            if self.enqueue(&mut st, d) {
                accepted += 1;
            }
        }
        drop(st);
        self.waker.wake();
        (accepted, items.len() - accepted)
    }

    /// Lets the fan-out write to `sink` until [`Inbox::disarm`]; refused
    /// (returns `false`) while anything waits for the session.
    pub fn arm(&self, sink: DirectSink) -> bool {
        let mut st = self.lock();
        if !st.queue.is_empty() || st.overflowed || st.recover {
            return false;
        }
        if self.warm.get().is_none() {
            let _ = self.warm.set(Arc::downgrade(&sink.stream));
        }
        st.direct = Some(sink);
        st.wrote_at = None;
        true
    }

    /// Takes the sink back; returns when the fan-out last wrote to it, if
    /// it did and was asked to track writes. Waits for a write in progress.
    pub fn disarm(&self) -> Option<Instant> {
        let mut st = self.lock();
        st.direct = None;
        st.wrote_at.take()
    }

    /// Asks the session to re-request its backend.
    pub fn request_recover(&self) {
        self.lock().recover = true;
        self.waker.wake();
    }

    /// Waits for deliveries and moves all queued ones into `out`.
    pub async fn recv(&self, out: &mut Vec<Delivery>) -> Recv {
        poll_fn(|cx| self.poll_recv(cx, out)).await
    }

    /// [`Inbox::recv`] as a poll function, for hand-written wait loops.
    pub fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
        out: &mut Vec<Delivery>,
    ) -> Poll<Recv> {
        if let Some(r) = self.try_recv(out) {
            return Poll::Ready(r);
        }
        self.waker.register(cx.waker());
        match self.try_recv(out) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }

    /// Resolves once the inbox has overflowed (for use while the session is
    /// busy writing and not receiving).
    pub async fn overflowed(&self) {
        poll_fn(|cx| {
            if self.is_overflowed() {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.is_overflowed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn is_overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Moves queued deliveries into `out` without waiting.
    pub fn try_recv(&self, out: &mut Vec<Delivery>) -> Option<Recv> {
        let mut st = self.lock();
        if st.overflowed {
            return Some(Recv::Overflowed);
        }
        if st.recover {
            st.recover = false;
            return Some(Recv::Recover);
        }
        if st.queue.is_empty() {
            return None;
        }
        out.extend(st.queue.drain(..));
        if st.queue.capacity() > 64 {
            // a burst is over: give the memory back while the session waits
            st.queue.shrink_to(8);
        }
        Some(Recv::Items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u32) -> Delivery {
        Delivery {
            item: Arc::new(Item::test_stream("c", &format!("{n}"))),
            slot: n,
            skip: 0,
        }
    }

    #[tokio::test]
    async fn delivers_in_order_in_batches() {
        let inbox = Inbox::new(10);
        for n in 0..3 {
            assert!(inbox.push(item(n)));
        }
        let mut out = Vec::new();
        assert_eq!(inbox.recv(&mut out).await, Recv::Items);
        assert_eq!(
            out.iter().map(|d| d.slot).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(inbox.try_recv(&mut out).is_none());
    }

    #[tokio::test]
    async fn overflow_is_sticky_and_frees_the_queue() {
        let inbox = Inbox::new(2);
        assert!(inbox.push(item(0)));
        assert!(inbox.push(item(1)));
        assert!(!inbox.push(item(2)));
        assert!(!inbox.push(item(3)));
        let mut out = Vec::new();
        assert_eq!(inbox.recv(&mut out).await, Recv::Overflowed);
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn wakes_a_waiting_receiver() {
        let inbox = Inbox::new(4);
        let rx = inbox.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            rx.recv(&mut out).await;
            out.len()
        });
        tokio::task::yield_now().await;
        inbox.push(item(7));
        assert_eq!(task.await.unwrap(), 1);
    }
}
