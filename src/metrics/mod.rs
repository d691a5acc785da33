//! The Prometheus metrics of Pushpin 1.36: five unlabelled figures, served
//! at `prometheus_port` (see [`http`]).
//!
//! | metric | type | counts |
//! |---|---|---|
//! | `request_received` | counter | client requests that found a route, and WebSocket connections |
//! | `connection_connected` | gauge | peak concurrent requests/WebSockets of the report window |
//! | `connection_minute` | counter | connection minutes, rounded up per connection |
//! | `message_received` | counter | published items, after de-duplication and ordering |
//! | `message_sent` | counter | deliveries, one per item per subscriber |
//!
//! A "connection" is what 1.36 tracks: one client request from routing to
//! its final answer (a hold included, however long), or one WebSocket, not
//! a TCP connection; keep-alive time between requests does not count.
//!
//! [`Metrics`] lives in the app context. Connection tasks count a request
//! with [`Metrics::request`] and keep the returned [`Connection`] until the
//! request is answered; message totals are the hub's
//! ([`crate::hub::Hub::message_counts`]), read at scrape time. Values are
//! live: nothing waits for the report interval, which only bounds the
//! `connection_connected` window ([`run_reports`] ticks it).

mod connections;
pub mod http;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::hub::MessageCounts;
use connections::{MinuteShard, Peak};

/// Which of 1.36's two endpoints a scrape is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `[handler] prometheus_port`: everything.
    Handler,
    /// `[proxy] prometheus_port`: 1.36's proxy never saw messages, so its
    /// message counters stay 0; reporting ours there would count them twice
    /// for anyone summing both endpoints.
    Proxy,
}

/// The five values, as a scrape reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub request_received: u64,
    pub connection_connected: u64,
    pub connection_minute: u64,
    pub message_received: u64,
    pub message_sent: u64,
}

/// Name, type and help text of each metric, in 1.36's order.
const METRICS: [(&str, &str, &str); 5] = [
    ("request_received", "counter", "Number of requests received"),
    (
        "connection_connected",
        "gauge",
        "Number of concurrent connections",
    ),
    (
        "connection_minute",
        "counter",
        "Number of minutes clients have been connected",
    ),
    (
        "message_received",
        "counter",
        "Number of messages received by the publish API",
    ),
    (
        "message_sent",
        "counter",
        "Number of messages sent to clients",
    ),
];

impl Snapshot {
    /// The text exposition format, byte for byte as 1.36 writes it.
    pub fn to_text(&self, prefix: &str) -> String {
        let values = [
            self.request_received,
            self.connection_connected,
            self.connection_minute,
            self.message_received,
            self.message_sent,
        ];
        let mut out = String::with_capacity(640);
        for ((name, kind, help), value) in METRICS.iter().zip(values) {
            out.push_str(&format!(
                "# HELP {prefix}{name} {help}\n# TYPE {prefix}{name} {kind}\n{prefix}{name} {value}\n"
            ));
        }
        out
    }
}

/// Request and connection counts; see the module docs.
#[derive(Debug)]
pub struct Metrics {
    /// An endpoint is configured; otherwise nothing is counted.
    enabled: bool,
    /// `connection_connected` is a window's peak (else the current count).
    windowed: bool,
    epoch: Instant,
    requests: AtomicU64,
    open: AtomicU64,
    peak: Peak,
    minutes: Box<[Mutex<MinuteShard>]>,
    /// Round-robin choice of minute shard for new connections.
    next_shard: AtomicUsize,
}

impl Metrics {
    /// `report_interval` zero: no window (see [`Config::stats_report_interval`]).
    ///
    /// [`Config::stats_report_interval`]: crate::config::Config::stats_report_interval
    pub fn new(enabled: bool, report_interval: Duration) -> Self {
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get());
        Metrics {
            enabled,
            windowed: !report_interval.is_zero(),
            epoch: Instant::now(),
            requests: AtomicU64::new(0),
            open: AtomicU64::new(0),
            peak: Peak::default(),
            minutes: (0..shards).map(|_| Mutex::default()).collect(),
            next_shard: AtomicUsize::new(0),
        }
    }

    /// Counts a routed request (or WebSocket) and opens its connection;
    /// keep the guard until the request is answered. `None` when no
    /// endpoint is configured.
    pub fn request(&self) -> Option<Connection<'_>> {
        if !self.enabled {
            return None;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let start = self.now();
        let shard = self.next_shard.fetch_add(1, Ordering::Relaxed) % self.minutes.len();
        self.shard(shard).open(start);
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.changed(open);
        Some(Connection {
            metrics: self,
            shard,
            start,
        })
    }

    fn close(&self, shard: usize, start: u64) {
        let open = self.open.fetch_sub(1, Ordering::Relaxed) - 1;
        self.peak.changed(open);
        let now = self.now();
        self.shard(shard).close(start, now);
    }

    /// Whole seconds since this was made.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, MinuteShard> {
        self.minutes[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A report tick: the `connection_connected` window restarts.
    pub fn report(&self) {
        self.peak.report(self.open.load(Ordering::Relaxed));
    }

    /// The values a scrape of `view` reports now.
    pub fn snapshot(&self, messages: MessageCounts, view: View) -> Snapshot {
        let now = self.now();
        let connection_minute = (0..self.minutes.len())
            .map(|i| self.shard(i).total(now))
            .sum();
        let connection_connected = if self.windowed {
            self.peak.value()
        } else {
            self.open.load(Ordering::Relaxed)
        };
        let messages = match view {
            View::Handler => messages,
            View::Proxy => MessageCounts::default(),
        };
        Snapshot {
            request_received: self.requests.load(Ordering::Relaxed),
            connection_connected,
            connection_minute,
            message_received: messages.received,
            message_sent: messages.sent,
        }
    }
}

/// One open connection (a request until its final answer, or a WebSocket);
/// dropping it closes it.
#[derive(Debug)]
pub struct Connection<'a> {
    metrics: &'a Metrics,
    shard: usize,
    /// Second it opened (see [`Metrics::now`]).
    start: u64,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.metrics.close(self.shard, self.start);
    }
}

/// Ticks the report window every `interval` until shutdown.
pub async fn run_reports(metrics: &Metrics, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => metrics.report(),
        }
    }
}

#[cfg(test)]
mod tests;
