//! Per-channel ordering and de-duplication of published items (pure).
//!
//! An item whose `prev-id` is not its channel's last `id` waits (at most
//! [`PENDING_MAX`] per channel, one per `prev-id`) until its predecessor
//! arrives, then both go out in order; one whose predecessor never comes is
//! released after `message_wait`. Only channels with subscribers are
//! sequenced, and `no-seq` items skip it. An item whose `id` was seen on its
//! channel within `id_cache_ttl` is dropped, subscribers or not.
//!
//! Owned by the hub and driven under its lock; time comes in as arguments,
//! so everything here is deterministic and unit-tested without a runtime.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::grip::item::Item;

/// Most items waiting for a predecessor on one channel.
pub const PENDING_MAX: usize = 100;

#[derive(Debug)]
struct Pending {
    item: Arc<Item>,
    since: Instant,
}

/// Sequencing and de-duplication state for every channel.
#[derive(Debug)]
pub struct Sequencer {
    wait: Duration,
    id_ttl: Duration,
    last_ids: HashMap<String, String>,
    pending: HashMap<String, Vec<Pending>>,
    seen: HashMap<(String, String), Instant>,
    /// `seen` keys in insertion order (= expiry order, the TTL is fixed).
    seen_order: VecDeque<((String, String), Instant)>,
}

impl Sequencer {
    pub fn new(wait: Duration, id_ttl: Duration) -> Self {
        Sequencer {
            wait,
            id_ttl,
            last_ids: HashMap::new(),
            pending: HashMap::new(),
            seen: HashMap::new(),
            seen_order: VecDeque::new(),
        }
    }

    /// Takes a published item; returns the items to deliver now, in order.
    /// `sequenced`: the channel has subscribers and the item is not `no-seq`.
    pub fn add(&mut self, item: Arc<Item>, sequenced: bool, now: Instant) -> Vec<Arc<Item>> {
        self.expire_ids(now);
        if let Some(id) = &item.id {
            if !self.id_ttl.is_zero() {
                let key = (item.channel.clone(), id.clone());
                if self.seen.contains_key(&key) {
                    return Vec::new();
                }
                self.seen.insert(key.clone(), now + self.id_ttl);
                self.seen_order.push_back((key, now + self.id_ttl));
            }
        }
        if !sequenced {
            return vec![item];
        }
        if let (Some(last), Some(prev)) = (self.last_ids.get(&item.channel), &item.prev_id) {
            if last != prev {
                let waiting = self.pending.entry(item.channel.clone()).or_default();
                let duplicate = waiting
                    .iter()
                    .any(|p| p.item.prev_id.as_ref() == Some(prev));
                if !duplicate && waiting.len() < PENDING_MAX {
                    waiting.push(Pending { item, since: now });
                }
                return Vec::new();
            }
        }
        let mut out = Vec::new();
        self.send(item, &mut out);
        out
    }

    /// Delivers `item`, then every waiting item that follows it.
    fn send(&mut self, item: Arc<Item>, out: &mut Vec<Arc<Item>>) {
        let channel = item.channel.clone();
        let mut next = Some(item);
        while let Some(it) = next.take() {
            match &it.id {
                Some(id) => {
                    self.last_ids.insert(channel.clone(), id.clone());
                }
                None => {
                    self.last_ids.remove(&channel);
                }
            }
            let id = it.id.clone();
            out.push(it);
            if let (Some(id), Some(waiting)) = (id, self.pending.get_mut(&channel)) {
                if let Some(i) = waiting
                    .iter()
                    .position(|p| p.item.prev_id.as_ref() == Some(&id))
                {
                    next = Some(waiting.remove(i).item);
                }
            }
        }
        if self.pending.get(&channel).is_some_and(Vec::is_empty) {
            self.pending.remove(&channel);
        }
    }

    /// Releases items that waited longer than `message_wait` (oldest first,
    /// each followed by whatever was waiting for it).
    pub fn tick(&mut self, now: Instant) -> Vec<Arc<Item>> {
        self.expire_ids(now);
        let mut out = Vec::new();
        loop {
            let oldest = self
                .pending
                .iter()
                .flat_map(|(ch, v)| v.iter().enumerate().map(move |(i, p)| (ch, i, p.since)))
                .min_by_key(|(_, _, since)| *since);
            let Some((ch, i, since)) = oldest else { break };
            if since + self.wait > now {
                break;
            }
            let ch = ch.clone();
            let waiting = self
                .pending
                .get_mut(&ch)
                .expect("channel has pending items");
            let item = waiting.remove(i).item;
            self.send(item, &mut out);
        }
        out
    }

    fn expire_ids(&mut self, now: Instant) {
        while let Some((_, at)) = self.seen_order.front() {
            if *at > now {
                break;
            }
            let (key, at) = self.seen_order.pop_front().expect("front exists");
            if self.seen.get(&key) == Some(&at) {
                self.seen.remove(&key);
            }
        }
    }

    /// The channel lost its last subscriber: drop its waiting items and id.
    pub fn channel_gone(&mut self, channel: &str) {
        self.pending.remove(channel);
        self.last_ids.remove(channel);
    }

    pub fn last_id(&self, channel: &str) -> Option<&str> {
        self.last_ids.get(channel).map(String::as_str)
    }

    /// Forgets a channel's last id (after a subscriber saw an inconsistency).
    pub fn forget_last_id(&mut self, channel: &str) {
        self.last_ids.remove(channel);
    }

    /// Forgets every last id (`recover`).
    pub fn clear_last_ids(&mut self) {
        self.last_ids.clear();
    }

    /// Items waiting on a channel (for tests and stats).
    pub fn pending_count(&self, channel: &str) -> usize {
        self.pending.get(channel).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests;
