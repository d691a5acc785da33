//! The hub: channel → subscribers registry and fan-out of published items.
//!
//! Owned by [`crate::app`] and shared (cheap `Clone`) by the publish API and
//! every connection task. State sits behind one std `Mutex` that is held only
//! for short, non-blocking work: no `.await` ever happens under it. Publishing
//! pushes the same `Arc<Item>` (whose transport encodings were built once by
//! the publish parser) into each subscriber's [`Inbox`]; sessions do the
//! socket writes on their own tasks.
//!
//! Subscriptions are RAII guards: dropping a [`Subscription`] removes it at
//! once and deletes the channel entry when it was the last one.

mod inbox;
mod registry;

pub use inbox::{Delivery, Inbox, Recv};
pub use registry::{Hub, HubConfig, HubStats, Subscription};

use tokio_util::sync::CancellationToken;

/// Periodic hub work (releasing out-of-order items that waited too long,
/// expiring remembered ids), until shutdown.
pub async fn run_timers(hub: Hub, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => hub.tick(),
        }
    }
}
