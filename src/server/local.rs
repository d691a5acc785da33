//! `local_ports` listeners: HTTP over Unix sockets, relayed to the
//! ordinary connection code.
//!
//! As 1.36's condure: whatever is at the path is removed before binding,
//! the socket file gets the process's umask (typically `srwxr-xr-x`, owned
//! by the user running the proxy), and its clients are not `secure` and
//! have no address (so `X-Forwarded-For` gets an empty entry). Unlike
//! condure, the file is removed again on shutdown, if it still is the one
//! this process made.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixListener;

use super::front::DESCRIPTORS_PER_CLIENT;
use super::io::Peer;
use super::listener::Backoff;
use super::permits::ClientPermits;
use super::relay::{pump, Relays};
use crate::app::Ctx;

/// A bound Unix-socket listener and the identity of its file.
#[derive(Debug)]
pub struct LocalListener {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file made by `bind`.
    file: Option<(u64, u64)>,
}

impl LocalListener {
    /// Removes a stale file at `path` and binds there.
    pub fn bind(path: &Path) -> std::io::Result<LocalListener> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        let file = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        Ok(LocalListener {
            listener,
            path: path.to_owned(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file unless something else has replaced it.
    fn remove_file(&self) {
        let now = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == self.file {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Accepts Unix-socket clients until shutdown, then removes the file.
pub async fn run(local: LocalListener, relays: Arc<Relays>, ctx: Ctx, permits: ClientPermits) {
    let mut backoff = Backoff::default();
    loop {
        let Some(permit) = permits.acquire(DESCRIPTORS_PER_CLIENT, &ctx.shutdown).await else {
            break;
        };
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => break,
            r = local.listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                let relays = relays.clone();
                let ctx2 = ctx.clone();
                let peer = Peer {
                    addr: None,
                    secure: false,
                };
                ctx.tracker.spawn(async move {
                    match relays.connect(peer, permit).await {
                        Ok((server, _registration)) => pump(stream, server, &ctx2.shutdown).await,
                        Err(e) => tracing::warn!(error = %e, "cannot reach the relay listener"),
                    }
                });
            }
            Err(e) => backoff.wait(&e, "local").await,
        }
    }
    local.remove_file();
}
