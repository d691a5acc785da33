//! Channel registry, subscription guards and the fan-out loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;

use super::inbox::{Delivery, Inbox};
use crate::grip::item::Item;

#[derive(Debug)]
struct Subscriber {
    inbox: Arc<Inbox>,
    slot: u32,
}

#[derive(Debug, Default)]
struct Channel {
    subs: Slab<Subscriber>,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    overflowed: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    channels: Mutex<HashMap<Arc<str>, Channel>>,
    counters: Counters,
    config: HubConfig,
}

/// Hub settings from the `[handler]` section.
#[derive(Debug, Clone, Default)]
pub struct HubConfig {
    pub message_wait: std::time::Duration,
    pub id_cache_ttl: std::time::Duration,
}

impl From<&crate::config::Config> for HubConfig {
    fn from(c: &crate::config::Config) -> Self {
        HubConfig {
            message_wait: c.message_wait,
            id_cache_ttl: c.id_cache_ttl,
        }
    }
}

/// Counters for tests, logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    pub channels: usize,
    pub subscriptions: usize,
    pub published: u64,
    pub delivered: u64,
    /// Deliveries refused because a subscriber's queue was full.
    pub overflowed: u64,
}

/// Handle to the shared registry.
#[derive(Debug, Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// A live subscription; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    channel: Arc<str>,
    key: usize,
}

impl Subscription {
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.hub.lock();
        if let Some(ch) = map.get_mut(&*self.channel) {
            ch.subs.try_remove(self.key);
            if ch.subs.is_empty() {
                map.remove(&*self.channel);
            }
        }
    }
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    pub fn with_config(config: HubConfig) -> Self {
        Hub {
            inner: Arc::new(Inner {
                config,
                ..Inner::default()
            }),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Once a second: time-based housekeeping.
    pub fn tick(&self) {}

    /// Forgets per-channel sequencing state (`POST /recover`).
    pub fn recover(&self) {}

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Channel>> {
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes `inbox` to `channel`; deliveries carry `slot`. The second
    /// value is true when this is the channel's first subscriber.
    pub fn subscribe(&self, channel: &str, inbox: Arc<Inbox>, slot: u32) -> (Subscription, bool) {
        let mut map = self.lock();
        let (name, first) = match map.get_key_value(channel) {
            Some((k, _)) => (k.clone(), false),
            None => (Arc::<str>::from(channel), true),
        };
        let key = map
            .entry(name.clone())
            .or_default()
            .subs
            .insert(Subscriber { inbox, slot });
        drop(map);
        let sub = Subscription {
            hub: self.clone(),
            channel: name,
            key,
        };
        (sub, first)
    }

    /// Delivers one item to every subscriber of its channel, in call order.
    /// Returns how many subscribers accepted it.
    pub fn publish(&self, item: &Arc<Item>) -> usize {
        let c = &self.inner.counters;
        c.published.fetch_add(1, Ordering::Relaxed);
        let map = self.lock();
        let Some(ch) = map.get(item.channel.as_str()) else {
            return 0;
        };
        let mut accepted = 0;
        let mut refused = 0;
        for (_, s) in ch.subs.iter() {
            let d = Delivery {
                item: item.clone(),
                slot: s.slot,
            };
            if s.inbox.push(d) {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        drop(map);
        c.delivered.fetch_add(accepted as u64, Ordering::Relaxed);
        if refused > 0 {
            c.overflowed.fetch_add(refused, Ordering::Relaxed);
        }
        accepted
    }

    /// Number of subscribers of a channel.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.lock().get(channel).map_or(0, |c| c.subs.len())
    }

    pub fn stats(&self) -> HubStats {
        let map = self.lock();
        let c = &self.inner.counters;
        HubStats {
            channels: map.len(),
            subscriptions: map.values().map(|c| c.subs.len()).sum(),
            published: c.published.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            overflowed: c.overflowed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Recv;

    fn publish(hub: &Hub, ch: &str, text: &str) -> usize {
        hub.publish(&Arc::new(Item::test_stream(ch, text)))
    }

    #[test]
    fn subscribe_publish_unsubscribe() {
        let hub = Hub::new();
        let inbox = Inbox::new(8);
        let (a, first) = hub.subscribe("a", inbox.clone(), 0);
        assert!(first);
        let (b, first) = hub.subscribe("a", Inbox::new(8), 0);
        assert!(!first);
        assert_eq!(publish(&hub, "a", "x"), 2);
        assert_eq!(publish(&hub, "nobody", "x"), 0);
        drop(b);
        assert_eq!(hub.subscribers("a"), 1);
        drop(a);
        assert_eq!(hub.stats().channels, 0);
        let mut out = Vec::new();
        assert_eq!(inbox.try_recv(&mut out), Some(Recv::Items));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn full_subscriber_does_not_stop_others() {
        let hub = Hub::new();
        let slow = Inbox::new(1);
        let fast = Inbox::new(100);
        let _s = hub.subscribe("c", slow.clone(), 0);
        let _f = hub.subscribe("c", fast.clone(), 0);
        for i in 0..10 {
            publish(&hub, "c", &i.to_string());
        }
        let mut out = Vec::new();
        assert_eq!(fast.try_recv(&mut out), Some(Recv::Items));
        assert_eq!(out.len(), 10);
        assert_eq!(slow.try_recv(&mut Vec::new()), Some(Recv::Overflowed));
        assert_eq!(hub.stats().overflowed, 9);
    }
}
