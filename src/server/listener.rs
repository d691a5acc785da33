//! Accept loops for the plain client listeners, and the retry pacing that
//! every accept loop shares ([`Backoff`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::conn;
use super::io::Peer;
use super::permits::{ClientPermit, ClientPermits};
use crate::app::Ctx;

/// Accepts connections until shutdown; each gets its own task. A permit
/// from `permits` (shared by all client listeners; a plain client uses one
/// descriptor) is taken before `accept`, so clients over the limits wait
/// in the listen queue.
pub async fn run(listener: TcpListener, ctx: Ctx, permits: ClientPermits) {
    accept_loop(
        &listener,
        &ctx,
        &permits,
        1,
        "client",
        |stream, peer, permit| {
            ctx.tracker
                .spawn(conn::serve(stream, Peer::plain(peer), ctx.clone(), permit));
        },
    )
    .await;
}

/// The loop of every TCP client listener: take a permit for a client using
/// `descriptors` descriptors, accept one, hand both to `serve`; pace retries
/// after accept errors. Returns at shutdown.
pub async fn accept_loop(
    listener: &TcpListener,
    ctx: &Ctx,
    permits: &ClientPermits,
    descriptors: u32,
    what: &'static str,
    mut serve: impl FnMut(TcpStream, SocketAddr, ClientPermit),
) {
    let mut backoff = Backoff::default();
    loop {
        let Some(permit) = permits.acquire(descriptors, &ctx.shutdown).await else {
            return;
        };
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                serve(stream, peer, permit);
            }
            Err(e) => backoff.wait(&e, what).await,
        }
    }
}

/// Pacing after accept errors (typically EMFILE: wait for connections to
/// close). Said once per run of failures, not once per retry.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    failing: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            delay: Backoff::FIRST,
            failing: false,
        }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    /// An accept worked: the next failure starts over.
    pub fn reset(&mut self) {
        self.delay = Backoff::FIRST;
        self.failing = false;
    }

    /// Logs `e` and sleeps before the next try, longer each time.
    pub async fn wait(&mut self, e: &std::io::Error, listener: &'static str) {
        if !self.failing {
            tracing::warn!(error = %e, listener, "accept failed, retrying");
            self.failing = true;
        } else {
            tracing::debug!(error = %e, listener, "accept failed");
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Backoff::MAX);
    }
}
