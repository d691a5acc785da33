//! Fan-out: how a published item travels from the registry to sessions.
//!
//! Publishing takes a snapshot of the channel's subscribers (kept while they
//! do not change), split into shards, and appends one job per shard. Each
//! shard has a task that delivers its jobs in order, so a publish costs one
//! wake-up per shard instead of one per subscriber, shards run on different
//! worker threads, and a shard that fell behind hands each subscriber
//! several items at once (one write). A subscriber belongs to exactly one
//! shard and so sees items in publish order. Until the shard tasks run
//! (unit tests, benchmarks) delivery happens inline, in `publish`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::inbox::Inbox;
use super::registry::SubMode;
use crate::grip::item::Item;

/// Items handed to one subscriber in one go at most.
const MAX_RUN: usize = 64;
/// Subscribers a shard serves before letting other tasks run.
const YIELD_EVERY: usize = 32;

/// One subscription as the fan-out sees it.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) inbox: Arc<Inbox>,
    pub(super) slot: u32,
    pub(super) mode: SubMode,
}

/// A channel's subscribers, split by shard.
#[derive(Debug)]
pub(super) struct Targets {
    per_shard: Box<[Vec<Target>]>,
    /// Subscribers per mode (`SubMode as usize`).
    per_mode: [usize; 3],
}

impl Targets {
    pub(super) fn new(targets: impl Iterator<Item = Target>, shards: usize) -> Self {
        let mut per_shard: Vec<Vec<Target>> = (0..shards.max(1)).map(|_| Vec::new()).collect();
        let mut per_mode = [0; 3];
        for t in targets {
            per_mode[t.mode as usize] += 1;
            per_shard[t.inbox.shard(shards)].push(t);
        }
        Targets {
            per_shard: per_shard.into_boxed_slice(),
            per_mode,
        }
    }

    /// How many subscribers want `item`.
    pub(super) fn wanting(&self, item: &Item) -> usize {
        [SubMode::Response, SubMode::Stream, SubMode::WebSocket]
            .into_iter()
            .filter(|m| m.wants(item))
            .map(|m| self.per_mode[m as usize])
            .sum()
    }
}

/// Deliveries handed to sessions and refused (full queues), per shard so
/// shards never share a counter: one relaxed add per batch. Counted before
/// a delivery can reach the client, so a client that got an item always
/// finds it counted (the metrics endpoint's `message_sent` is `offered`).
#[derive(Debug, Default)]
struct Tally {
    offered: AtomicU64,
    overflowed: AtomicU64,
}

#[derive(Debug)]
struct Job {
    item: Arc<Item>,
    targets: Arc<Targets>,
}

#[derive(Debug, Default)]
struct Shard {
    jobs: Mutex<VecDeque<Job>>,
    notify: Notify,
    tally: Tally,
}

/// The shards and their job queues.
#[derive(Debug)]
pub(super) struct Fanout {
    shards: Box<[Shard]>,
    /// Shard tasks run; otherwise `send` delivers inline.
    running: AtomicBool,
}

impl Fanout {
    pub(super) fn new(shards: usize) -> Self {
        Fanout {
            shards: (0..shards.max(1)).map(|_| Shard::default()).collect(),
            running: AtomicBool::new(false),
        }
    }

    pub(super) fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Sends `item` to its channel's subscribers. Called in publish order
    /// (under the registry lock), which is the order each subscriber sees.
    pub(super) fn send(&self, item: &Arc<Item>, targets: &Arc<Targets>) {
        if !self.running.load(Ordering::Acquire) {
            let items = std::slice::from_ref(item);
            let mut picked = Vec::with_capacity(1);
            for (shard, part) in self.shards.iter().zip(targets.per_shard.iter()) {
                deliver(items, part, &shard.tally, &mut picked);
            }
            return;
        }
        for (shard, part) in self.shards.iter().zip(targets.per_shard.iter()) {
            if part.is_empty() {
                continue;
            }
            shard
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(Job {
                    item: item.clone(),
                    targets: targets.clone(),
                });
            shard.notify.notify_one();
        }
    }

    /// From now on `send` leaves delivery to the shard tasks.
    pub(super) fn set_running(&self) {
        self.running.store(true, Ordering::Release);
    }

    /// Shard `index`'s task: delivers its jobs until shutdown.
    pub(super) async fn run_shard(&self, index: usize, shutdown: CancellationToken) {
        let shard = &self.shards[index];
        let tally = &shard.tally;
        let mut jobs = VecDeque::new();
        let mut run: Vec<Arc<Item>> = Vec::new();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = shard.notify.notified() => {}
            }
            loop {
                if jobs.is_empty() {
                    // everything taken earlier is older than what waits here
                    std::mem::swap(
                        &mut *shard.jobs.lock().unwrap_or_else(|e| e.into_inner()),
                        &mut jobs,
                    );
                }
                let Some(first) = jobs.pop_front() else {
                    break;
                };
                // consecutive items for the same subscribers go out together
                let targets = first.targets;
                run.push(first.item);
                while run.len() < MAX_RUN
                    && jobs
                        .front()
                        .is_some_and(|j| Arc::ptr_eq(&j.targets, &targets))
                {
                    run.extend(jobs.pop_front().map(|j| j.item));
                }
                let mut picked = Vec::with_capacity(run.len());
                let mut parts = targets.per_shard[index].chunks(YIELD_EVERY).peekable();
                while let Some(part) = parts.next() {
                    deliver(&run, part, tally, &mut picked);
                    if parts.peek().is_some() {
                        tokio::task::yield_now().await;
                    }
                }
                drop(picked);
                run.clear();
            }
        }
    }

    /// Deliveries offered so far (made or refused), over all shards.
    pub(super) fn offered(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.tally.offered.load(Ordering::Relaxed))
            .sum()
    }

    /// Deliveries made and refused so far, over all shards.
    pub(super) fn counts(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(d, o), s| {
            let offered = s.tally.offered.load(Ordering::Relaxed);
            let refused = s.tally.overflowed.load(Ordering::Relaxed);
            (d + offered.saturating_sub(refused), o + refused)
        })
    }
}

/// Offers `items` (one channel's, in order) to each target that wants them;
/// `picked` is scratch space, reused so a delivery allocates nothing.
fn deliver<'a>(
    items: &'a [Arc<Item>],
    targets: &[Target],
    tally: &Tally,
    picked: &mut Vec<&'a Arc<Item>>,
) {
    let offered: usize = targets
        .iter()
        .map(|t| items.iter().filter(|i| t.mode.wants(i)).count())
        .sum();
    tally.offered.fetch_add(offered as u64, Ordering::Relaxed);
    // Touch every target's inbox and socket first: these loads do not
    // depend on each other, so their cache misses (the inboxes have gone
    // cold since the last item) are taken together rather than one per write.
    std::hint::black_box(targets.iter().fold(0, |a, t| a ^ t.inbox.warm_up()));
    let mut refused = 0;
    for t in targets {
        picked.clear();
        picked.extend(items.iter().filter(|i| t.mode.wants(i)));
        if !picked.is_empty() {
            refused += t.inbox.offer(picked, t.slot).1;
        }
    }
    if refused > 0 {
        tally
            .overflowed
            .fetch_add(refused as u64, Ordering::Relaxed);
    }
}
