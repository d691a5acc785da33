//! Accept loops for the client listeners.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::conn;
use crate::app::Ctx;

/// Accepts connections until shutdown; each gets its own task. At most
/// `client_maxconn` connections are served at once (the permit is taken
/// before `accept`).
pub async fn run(listener: TcpListener, ctx: Ctx) {
    let permits = Arc::new(Semaphore::new(ctx.config.client_maxconn));
    let mut backoff = Duration::from_millis(5);
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
                ctx.tracker
                    .spawn(conn::serve(stream, peer, ctx.clone(), permit));
            }
            Err(e) => {
                // typically EMFILE: wait for connections to close
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
