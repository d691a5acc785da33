//! Paces low-priority re-requests: a `POST /recover`, a channel's
//! first-subscription refresh or a gap in a channel's ids can send every
//! held session back to its backend at once. Pushpin 1.36 runs such updates
//! in batches of 100, at most 10 batches a second; this keeps the same
//! rate, 1,000 re-requests a second across the proxy, so a recover with
//! thousands of held clients reaches the backends spread over seconds.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Re-requests per second at most.
pub const UPDATES_PER_SECOND: u32 = 1000;

/// Hands out evenly spaced start times.
#[derive(Debug)]
pub struct Pacer {
    next: Mutex<Option<Instant>>,
    spacing: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(UPDATES_PER_SECOND)
    }
}

impl Pacer {
    pub fn new(per_second: u32) -> Self {
        Pacer {
            next: Mutex::new(None),
            spacing: Duration::from_secs(1) / per_second.max(1),
        }
    }

    /// Waits for this caller's turn (at once when nothing is queued), or
    /// until shutdown.
    pub async fn wait(&self, shutdown: &CancellationToken) {
        let now = Instant::now();
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.spacing);
            at
        };
        if at > now {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn callers_are_spaced_evenly_and_idle_time_is_not_banked() {
        let pacer = Pacer::new(1000);
        let token = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..2000 {
            pacer.wait(&token).await;
        }
        // the first goes at once, the 2,000th 1,999 ms later
        assert_eq!(start.elapsed(), Duration::from_millis(1999));
        tokio::time::advance(Duration::from_secs(10)).await;
        let again = Instant::now();
        pacer.wait(&token).await;
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait() {
        let pacer = Pacer::new(1);
        let token = CancellationToken::new();
        pacer.wait(&token).await;
        token.cancel();
        let t = Instant::now();
        pacer.wait(&token).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
