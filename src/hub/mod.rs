//! The hub: channel → subscribers registry and fan-out of published items.
//!
//! Owned by [`crate::app`] and shared (cheap `Clone`) by the publish API and
//! every connection task. The registry sits behind one std `Mutex` that is
//! held only for short, non-blocking work: no `.await` ever happens under
//! it. Publishing sequences an item and hands the same `Arc<Item>` (whose
//! transport encodings the publish parser built once) to the fan-out
//! (`fanout.rs`): one job per shard, each shard a task that offers items to
//! its subscribers' [`Inbox`]es. An idle stream session lets the shard write
//! plain chunks to its socket directly (`direct.rs`); everything else is
//! queued and the session task writes it.
//!
//! Subscriptions are RAII guards: dropping a [`Subscription`] removes it at
//! once and deletes the channel entry when it was the last one.

mod direct;
mod fanout;
mod inbox;
mod registry;
pub mod sequencer;

pub use direct::DirectSink;
pub use inbox::{Delivery, Inbox, Recv};
pub use registry::{
    Hub, HubConfig, HubStats, MessageCounts, SubMode, Subscription, FIRST_SUBSCRIPTION_DELAY,
};

use tokio_util::sync::CancellationToken;

/// Timed hub work until shutdown: once a second, release out-of-order
/// items that waited too long and end lingering subscriptions; and a second
/// after a channel's first subscription, ask its sessions to re-request.
pub async fn run_timers(hub: Hub, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let due = hub.next_first_subscription_due();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => hub.tick(),
            _ = hub.timers_changed() => {}
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                hub.fire_first_subscriptions();
            }
        }
    }
}
