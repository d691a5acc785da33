//! What a client connection must hold to be served: a place under
//! `client_maxconn`, and the open-file descriptors it may use out of the
//! budget the open-file limit leaves ([`crate::fdlimit`]). A plain client
//! uses one descriptor; a TLS or Unix-socket client up to three (its own
//! socket and both ends of its loopback relay). The permits are taken
//! before `accept`, so clients over either bound wait in the listen queue,
//! and they travel with the connection (through a relay too) until it ends.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Both bounds, shared by every client listener.
#[derive(Debug, Clone)]
pub struct ClientPermits {
    conns: Arc<Semaphore>,
    descriptors: Arc<Semaphore>,
}

/// One served client's share; released when dropped.
#[derive(Debug)]
pub struct ClientPermit {
    _conn: OwnedSemaphorePermit,
    _descriptors: OwnedSemaphorePermit,
}

impl ClientPermits {
    /// At most `conns` clients, using at most `descriptors` descriptors.
    pub fn new(conns: usize, descriptors: usize) -> Self {
        let clamp = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
        ClientPermits {
            conns: Arc::new(Semaphore::new(clamp(conns))),
            descriptors: Arc::new(Semaphore::new(clamp(descriptors))),
        }
    }

    /// Waits until a client that uses `descriptors` descriptors may be
    /// served; `None` once `shutdown` is cancelled.
    pub async fn acquire(
        &self,
        descriptors: u32,
        shutdown: &CancellationToken,
    ) -> Option<ClientPermit> {
        let both = async {
            let conn = self.conns.clone().acquire_owned().await.ok()?;
            let d = self
                .descriptors
                .clone()
                .acquire_many_owned(descriptors)
                .await
                .ok()?;
            Some(ClientPermit {
                _conn: conn,
                _descriptors: d,
            })
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => None,
            p = both => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn both_bounds_hold() {
        let stop = CancellationToken::new();
        let p = ClientPermits::new(3, 4);
        let a = p.acquire(3, &stop).await.unwrap();
        let b = p.acquire(1, &stop).await.unwrap();
        // the descriptor budget is spent: a third client waits
        assert!(p.acquire(1, &stop).now_or_never().is_none());
        drop(a);
        let c = p.acquire(1, &stop).await.unwrap();
        let d = p.acquire(1, &stop).await.unwrap();
        // three clients: the connection bound holds though descriptors remain
        assert!(p.acquire(1, &stop).now_or_never().is_none());
        stop.cancel();
        assert!(p.acquire(1, &stop).await.is_none());
        drop((b, c, d));
    }
}
