//! Pieces every hold session uses: subscribing, keep-alive jitter, noticing
//! a client that went away.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

use crate::grip::instruct::ChannelSpec;
use crate::hub::{Delivery, Hub, Inbox, Recv, SubMode, Subscription};

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
    let mut buf = [0u8; 64];
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

/// What woke a holding session.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    Shutdown,
    Inbox(Recv),
    /// The session's timer (its earliest deadline) passed.
    Timer,
    ClientClosed,
}

/// Waits for the next thing a holding session must react to, without
/// creating futures per wait (so a waiting session stays small and cheap to
/// wake): shutdown, deliveries, its timer, the client closing.
pub async fn wait(
    shutdown: Pin<&mut WaitForCancellationFuture<'_>>,
    inbox: &Inbox,
    batch: &mut Vec<Delivery>,
    timer: Option<Pin<&mut Sleep>>,
    stream: &TcpStream,
) -> Wake {
    let mut shutdown = shutdown;
    let mut timer = timer;
    poll_fn(move |cx| {
        if shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Shutdown);
        }
        if let Poll::Ready(r) = inbox.poll_recv(cx, batch) {
            return Poll::Ready(Wake::Inbox(r));
        }
        if let Some(t) = timer.as_mut() {
            if t.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
        }
        poll_client_closed(cx, stream).map(|()| Wake::ClientClosed)
    })
    .await
}

/// Ready when the client closed its side; data it sends meanwhile is read
/// and discarded.
pub fn poll_client_closed(cx: &mut Context<'_>, stream: &TcpStream) -> Poll<()> {
    let mut buf = [0u8; 64];
    loop {
        match stream.poll_read_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(()),
            Poll::Ready(Ok(())) => match stream.try_read(&mut buf) {
                Ok(0) => return Poll::Ready(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(()),
            },
        }
    }
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A timer for [`wait`], set to `deadline` (or left idle without one).
pub fn set_timer(timer: Pin<&mut Sleep>, deadline: Option<Instant>) -> Option<Pin<&mut Sleep>> {
    let d = deadline?;
    let mut timer = timer;
    if timer.deadline() != d {
        timer.as_mut().reset(d);
    }
    Some(timer)
}

/// A far-away deadline for a timer that is not armed yet.
pub fn never() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}
