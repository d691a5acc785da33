//! Accept loops for the client listeners.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::conn;
use super::io::Peer;
use crate::app::Ctx;

/// Accepts connections until shutdown; each gets its own task. A permit
/// from `permits` (shared by all client listeners) is taken before
/// `accept`, so at most that many connections are served at once and the
/// rest wait in the listen queue.
pub async fn run(listener: TcpListener, ctx: Ctx, permits: Arc<Semaphore>) {
    let mut backoff = Duration::from_millis(5);
    let mut failing = false;
    loop {
        let permit = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                failing = false;
                ctx.tracker
                    .spawn(conn::serve(stream, Peer::plain(peer), ctx.clone(), permit));
            }
            Err(e) => {
                // typically EMFILE: wait for connections to close; said
                // once per run of failures, not once per retry
                if !failing {
                    tracing::warn!(error = %e, "accept failed, retrying");
                    failing = true;
                } else {
                    tracing::debug!(error = %e, "accept failed");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
