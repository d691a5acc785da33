//! A session's bounded delivery queue.
//!
//! The hub pushes shared [`Delivery`] values from the publishing task; the
//! session task (one per client connection) drains them in batches. Pushing
//! never blocks and never waits for the session: when the queue is full the
//! inbox is marked overflowed, the session is woken, and it ends itself. A
//! slow client therefore costs at most `capacity` pointers and never delays
//! anyone else.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures_util::task::AtomicWaker;

use crate::grip::item::Item;

/// One published item for one subscription of a session.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The item, shared by every subscriber.
    pub item: Arc<Item>,
    /// Index of the subscription (channel) within the receiving session.
    pub slot: u32,
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
}

/// Bounded multi-producer, single-consumer queue with one waker.
#[derive(Debug)]
pub struct Inbox {
    state: Mutex<State>,
    capacity: usize,
    waker: AtomicWaker,
}

impl Inbox {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Inbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                overflowed: false,
                recover: false,
            }),
            capacity,
            waker: AtomicWaker::new(),
        })
    }

    /// Queues a delivery. Returns `false` (and drops it) when the inbox is
    /// full or already overflowed.
    pub fn push(&self, delivery: Delivery) -> bool {
        let accepted = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
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
        };
        self.waker.wake();
        accepted
    }

    /// Asks the session to re-request its backend.
    pub fn request_recover(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).recover = true;
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
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .overflowed
    }

    /// Moves queued deliveries into `out` without waiting.
    pub fn try_recv(&self, out: &mut Vec<Delivery>) -> Option<Recv> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
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
