//! Pieces every hold session uses: subscribing, keep-alive jitter, noticing
//! a client that went away.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;

use crate::grip::instruct::ChannelSpec;
use crate::hub::{Hub, Inbox, SubMode, Subscription};

/// One subscribed channel of a session.
#[derive(Debug)]
pub struct SessionChannel {
    /// As the backend gave it; `prev_id` advances with deliveries.
    pub spec: ChannelSpec,
    pub sub: Subscription,
    /// What deliveries for this channel carry.
    pub slot: u32,
}

/// Subscribes `inbox` to the channels (route prefix added), keeping at most
/// `max`. Deliveries carry the channel's index in the returned list.
pub fn subscribe_all(
    hub: &Hub,
    inbox: &Arc<Inbox>,
    channels: &[ChannelSpec],
    prefix: &str,
    max: usize,
    mode: SubMode,
) -> Vec<SessionChannel> {
    if channels.len() > max {
        tracing::warn!(
            requested = channels.len(),
            max,
            "too many channels for one connection, extra ones ignored"
        );
    }
    channels
        .iter()
        .take(max)
        .enumerate()
        .map(|(i, spec)| {
            let full = format!("{prefix}{}", spec.name);
            let (sub, _first) = hub.subscribe(&full, inbox.clone(), i as u32, mode);
            SessionChannel {
                spec: spec.clone(),
                sub,
                slot: i as u32,
            }
        })
        .collect()
}

/// `Grip-Last` header values (`CHANNEL; last-id=ID`) for the channels that
/// have an id, named as the backend named them (without route prefix).
pub fn grip_last<'a>(channels: impl Iterator<Item = (&'a String, Option<&'a str>)>) -> Vec<String> {
    channels
        .filter_map(|(name, id)| id.map(|id| format!("{name}; last-id={id}")))
        .collect()
}

/// `timeout` minus up to one second of random jitter, as 1.36 schedules
/// keep-alives.
pub fn jittered(timeout: Duration) -> Duration {
    let j = Duration::from_millis(rand::rng().random_range(0..1000));
    timeout.saturating_sub(j)
}

/// Resolves when the client closed its side of the connection (or it
/// failed). Data the client sends meanwhile is read and discarded.
pub async fn client_closed(stream: &TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}
