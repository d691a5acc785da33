//! Pieces every hold session uses: subscribing, keep-alive jitter, noticing
//! a client that went away.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;

use crate::grip::instruct::ChannelSpec;
use crate::hub::{Hub, Inbox, Subscription};

/// One subscribed channel of a session.
#[derive(Debug)]
pub struct SessionChannel {
    pub spec: ChannelSpec,
    pub sub: Subscription,
}

/// Subscribes `inbox` to the channels (route prefix added), keeping at most
/// `max`. Deliveries carry the channel's index in the returned list.
pub fn subscribe_all(
    hub: &Hub,
    inbox: &Arc<Inbox>,
    channels: &[ChannelSpec],
    prefix: &str,
    max: usize,
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
            let (sub, _first) = hub.subscribe(&full, inbox.clone(), i as u32);
            SessionChannel {
                spec: spec.clone(),
                sub,
            }
        })
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
