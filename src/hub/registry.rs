//! Channel registry, subscription guards, sequencing and the fan-out loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use slab::Slab;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fanout::{Fanout, Target, Targets};
use super::inbox::Inbox;
use super::sequencer::Sequencer;
use crate::grip::item::Item;

/// What kind of session a subscription feeds; each gets only its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubMode {
    /// Long-poll: `http-response` items.
    Response,
    /// Stream hold: `http-stream` items.
    Stream,
    /// WebSocket: `ws-message` items.
    WebSocket,
}

impl SubMode {
    pub(super) fn wants(self, item: &Item) -> bool {
        match self {
            SubMode::Response => item.http_response.is_some(),
            SubMode::Stream => item.http_stream.is_some(),
            SubMode::WebSocket => item.ws_message.is_some(),
        }
    }
}

#[derive(Debug)]
struct Subscriber {
    inbox: Arc<Inbox>,
    slot: u32,
    mode: SubMode,
}

#[derive(Debug, Default)]
struct Channel {
    subs: Slab<Subscriber>,
    /// Set when the last (long-poll) subscriber left: the channel still
    /// counts as subscribed until then.
    linger_until: Option<Instant>,
    /// The fan-out's snapshot of `subs`, until they change.
    targets: Option<Arc<Targets>>,
}

impl Channel {
    fn targets(&mut self, shards: usize) -> Arc<Targets> {
        let subs = &self.subs;
        self.targets
            .get_or_insert_with(|| {
                let all = subs.iter().map(|(_, s)| Target {
                    inbox: s.inbox.clone(),
                    slot: s.slot,
                    mode: s.mode,
                });
                Arc::new(Targets::new(all, shards))
            })
            .clone()
    }
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    /// Items past de-duplication and sequencing, each counted once when it
    /// goes to the fan-out (subscribers or not): 1.36's "messages received".
    fanned_out: AtomicU64,
}

#[derive(Debug)]
struct State {
    channels: HashMap<Arc<str>, Channel>,
    seq: Sequencer,
    /// Channels that got their first subscriber, and when to refresh them.
    first_subs: Vec<(Arc<str>, Instant)>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    counters: Counters,
    fanout: Fanout,
    config: HubConfig,
    /// Wakes the hub's timer task when a first-subscription refresh is due.
    timers: Notify,
}

/// Hub settings from the `[handler]` section.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub message_wait: Duration,
    pub id_cache_ttl: Duration,
    pub subscription_linger: Duration,
    pub update_on_first_subscription: bool,
    /// Fan-out shards (tasks delivering in parallel): one per CPU.
    pub fanout_shards: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig::from(&crate::config::Config::default())
    }
}

impl From<&crate::config::Config> for HubConfig {
    fn from(c: &crate::config::Config) -> Self {
        HubConfig {
            message_wait: c.message_wait,
            id_cache_ttl: c.id_cache_ttl,
            subscription_linger: c.subscription_linger,
            update_on_first_subscription: c.update_on_first_subscription,
            fanout_shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// How long after a channel's first subscription its sessions re-request.
pub const FIRST_SUBSCRIPTION_DELAY: Duration = Duration::from_secs(1);

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

/// What the Prometheus `message_received` / `message_sent` report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Items that came out of sequencing (whether anyone was subscribed).
    pub received: u64,
    /// Deliveries offered to subscribers, one per item per subscriber of
    /// the matching kind, counted before they reach the client (also when
    /// the subscriber's queue was full), as 1.36 counts them.
    pub sent: u64,
}

/// Handle to the shared registry.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::with_config(HubConfig::default())
    }
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
        let linger = self.hub.inner.config.subscription_linger;
        let mut st = self.hub.lock();
        let Some(ch) = st.channels.get_mut(&*self.channel) else {
            return;
        };
        let mode = ch.subs.try_remove(self.key).map(|s| s.mode);
        ch.targets = None;
        if !ch.subs.is_empty() {
            return;
        }
        if mode == Some(SubMode::Response) && !linger.is_zero() {
            ch.linger_until = Some(Instant::now() + linger);
        } else {
            st.channels.remove(&*self.channel);
            st.seq.channel_gone(&self.channel);
        }
    }
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    pub fn with_config(config: HubConfig) -> Self {
        let seq = Sequencer::new(config.message_wait, config.id_cache_ttl);
        Hub {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    channels: HashMap::new(),
                    seq,
                    first_subs: Vec::new(),
                }),
                counters: Counters::default(),
                fanout: Fanout::new(config.fanout_shards),
                config,
                timers: Notify::new(),
            }),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes `inbox` to `channel`; deliveries carry `slot`. The second
    /// value is true when the channel had no subscribers (nor a lingering
    /// long-poll subscription).
    pub fn subscribe(
        &self,
        channel: &str,
        inbox: Arc<Inbox>,
        slot: u32,
        mode: SubMode,
    ) -> (Subscription, bool) {
        let mut st = self.lock();
        let (name, first) = match st.channels.get_key_value(channel) {
            Some((k, _)) => (k.clone(), false),
            None => (Arc::<str>::from(channel), true),
        };
        let ch = st.channels.entry(name.clone()).or_default();
        ch.linger_until = None;
        ch.targets = None;
        let key = ch.subs.insert(Subscriber { inbox, slot, mode });
        if first && self.inner.config.update_on_first_subscription && mode != SubMode::WebSocket {
            st.first_subs
                .push((name.clone(), Instant::now() + FIRST_SUBSCRIPTION_DELAY));
            self.inner.timers.notify_one();
        }
        drop(st);
        let sub = Subscription {
            hub: self.clone(),
            channel: name,
            key,
        };
        (sub, first)
    }

    /// Publishes one item: de-duplication and sequencing, then fan-out to
    /// every subscriber of the matching kind, in order. Returns how many
    /// deliveries were queued.
    pub fn publish(&self, item: &Arc<Item>) -> usize {
        self.inner
            .counters
            .published
            .fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        let subscribed = st.channels.contains_key(item.channel.as_str());
        let ready = st
            .seq
            .add(item.clone(), subscribed && !item.no_seq, Instant::now());
        let mut n = 0;
        for it in &ready {
            n += self.fan_out(&mut st, it);
        }
        n
    }

    /// Hands one ready item to the fan-out; returns how many subscribers
    /// want it.
    fn fan_out(&self, st: &mut State, item: &Arc<Item>) -> usize {
        self.inner
            .counters
            .fanned_out
            .fetch_add(1, Ordering::Relaxed);
        let Some(ch) = st.channels.get_mut(item.channel.as_str()) else {
            return 0;
        };
        let fanout = &self.inner.fanout;
        let targets = ch.targets(fanout.shards());
        fanout.send(item, &targets);
        targets.wanting(item)
    }

    /// Starts the fan-out's shard tasks; until then `publish` delivers
    /// inline.
    pub fn start_fanout(
        &self,
        tracker: &tokio_util::task::TaskTracker,
        shutdown: &CancellationToken,
    ) {
        let fanout = &self.inner.fanout;
        for i in 0..fanout.shards() {
            let hub = self.clone();
            let shutdown = shutdown.clone();
            tracker.spawn(async move {
                let inner = &hub.inner;
                inner.fanout.run_shard(i, shutdown).await;
            });
        }
        fanout.set_running();
    }

    /// Once a second: release items that waited too long, end lingering
    /// subscriptions.
    pub fn tick(&self) {
        let now = Instant::now();
        let mut st = self.lock();
        let expired: Vec<Arc<str>> = st
            .channels
            .iter()
            .filter(|(_, c)| c.subs.is_empty() && c.linger_until.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            st.channels.remove(&k);
            st.seq.channel_gone(&k);
        }
        let ready = st.seq.tick(now);
        for it in &ready {
            self.fan_out(&mut st, it);
        }
    }

    /// When the next first-subscription refresh is due, if any.
    pub fn next_first_subscription_due(&self) -> Option<Instant> {
        self.lock().first_subs.iter().map(|(_, t)| *t).min()
    }

    /// Resolves when a first-subscription refresh was scheduled.
    pub async fn timers_changed(&self) {
        self.inner.timers.notified().await;
    }

    /// Asks every session of channels whose first subscription was a second
    /// ago to re-request their backend.
    pub fn fire_first_subscriptions(&self) {
        let now = Instant::now();
        let mut st = self.lock();
        let (due, later): (Vec<_>, Vec<_>) = st.first_subs.drain(..).partition(|(_, t)| *t <= now);
        st.first_subs = later;
        for (ch, _) in due {
            if let Some(c) = st.channels.get(&ch) {
                for (_, s) in c.subs.iter() {
                    if s.mode != SubMode::WebSocket {
                        s.inbox.request_recover();
                    }
                }
            }
        }
    }

    /// `POST /recover`: forget every last id; held HTTP sessions re-request.
    pub fn recover(&self) {
        let mut st = self.lock();
        st.seq.clear_last_ids();
        for c in st.channels.values() {
            for (_, s) in c.subs.iter() {
                if s.mode != SubMode::WebSocket {
                    s.inbox.request_recover();
                }
            }
        }
    }

    /// The last id published on a channel (while it has subscribers).
    pub fn last_id(&self, channel: &str) -> Option<String> {
        self.lock().seq.last_id(channel).map(str::to_owned)
    }

    /// Forgets a channel's last id (a subscriber found it inconsistent).
    pub fn forget_last_id(&self, channel: &str) {
        self.lock().seq.forget_last_id(channel);
    }

    /// Number of subscribers of a channel.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.lock()
            .channels
            .get(channel)
            .map_or(0, |c| c.subs.len())
    }

    /// Lock-free totals for the metrics endpoint.
    pub fn message_counts(&self) -> MessageCounts {
        MessageCounts {
            received: self.inner.counters.fanned_out.load(Ordering::Relaxed),
            sent: self.inner.fanout.offered(),
        }
    }

    pub fn stats(&self) -> HubStats {
        let st = self.lock();
        let c = &self.inner.counters;
        let (delivered, overflowed) = self.inner.fanout.counts();
        HubStats {
            channels: st.channels.len(),
            subscriptions: st.channels.values().map(|c| c.subs.len()).sum(),
            published: c.published.load(Ordering::Relaxed),
            delivered,
            overflowed,
        }
    }
}

#[cfg(test)]
mod tests;
