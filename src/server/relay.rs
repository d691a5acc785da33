//! The bridge that lets TLS and Unix-socket clients use the plain-TCP
//! server code unchanged.
//!
//! The connection code (and the hub's direct writes to waiting streams)
//! works on `tokio::net::TcpStream`. A TLS or Unix-socket client is
//! therefore served through an in-process loopback connection: its
//! front-end task ([`super::tls`], [`super::local`]) connects to the
//! internal listener (`127.0.0.1`, an ephemeral port) and [`pump`]s the
//! plaintext both ways, while the internal listener's side runs the
//! ordinary [`conn::serve`].
//!
//! What the server must know about the real client (its address, whether
//! it came over TLS) travels in [`Relays`], keyed by the loopback
//! address of the front-end's end: the front-end binds that socket and
//! registers before it connects, so the entry is there when the internal
//! listener accepts. A connection to the internal port that nobody
//! registered (another local process) is closed at once. The client's
//! connection permit travels the same way, so `client_maxconn` counts each
//! client once.
//!
//! Each direction copies through one 8 KiB buffer and only reads when the
//! last piece was written, so a slow reader on either side stops the other
//! (beyond what the loopback socket's kernel buffers hold). End of input
//! on one side becomes a write shutdown on the other (TLS: `close_notify`
//! then FIN). When the server side is done, client bytes are still passed
//! on for [`LINGER`] (for a server that half-closed, such as a WebSocket
//! close) and then everything is closed; an error on either side closes
//! both. Front-end tasks run in the app's tracker, and after shutdown is
//! signalled they end once the server side has sent its goodbye.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::conn;
use super::io::Peer;
use super::listener::Backoff;
use crate::app::Ctx;

/// How long client bytes still pass after the server side finished.
pub const LINGER: Duration = Duration::from_secs(5);

/// A registered relay not yet accepted by the internal listener.
#[derive(Debug)]
struct Pending {
    peer: Peer,
    permit: OwnedSemaphorePermit,
}

/// The internal listener's address and the relays on their way to it.
#[derive(Debug)]
pub struct Relays {
    internal: SocketAddr,
    pending: Mutex<HashMap<SocketAddr, Pending>>,
}

/// Removes a relay's registration when the front-end is done with it, in
/// case the internal listener never took it (shutdown, failed connect).
#[derive(Debug)]
pub struct Registration {
    relays: Arc<Relays>,
    local: SocketAddr,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.relays.take(self.local);
    }
}

impl Relays {
    /// Binds the internal listener.
    pub async fn bind() -> io::Result<(Arc<Relays>, TcpListener)> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let relays = Arc::new(Relays {
            internal: listener.local_addr()?,
            pending: Mutex::new(HashMap::new()),
        });
        Ok((relays, listener))
    }

    fn take(&self, local: SocketAddr) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&local)
    }

    /// Opens the loopback connection for a client, registering what the
    /// server must know about it first.
    pub async fn connect(
        self: &Arc<Self>,
        peer: Peer,
        permit: OwnedSemaphorePermit,
    ) -> io::Result<(TcpStream, Registration)> {
        let socket = TcpSocket::new_v4()?;
        socket.bind((Ipv4Addr::LOCALHOST, 0).into())?;
        let local = socket.local_addr()?;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(local, Pending { peer, permit });
        let reg = Registration {
            relays: self.clone(),
            local,
        };
        let stream = socket.connect(self.internal).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, reg))
    }
}

/// The internal listener's accept loop: each registered connection is
/// served as a client connection with its real facts.
pub async fn run_internal(listener: TcpListener, relays: Arc<Relays>, ctx: Ctx) {
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, from)) => {
                backoff.reset();
                let Some(p) = relays.take(from) else {
                    tracing::debug!(from = %from, "unregistered connection to the relay port closed");
                    continue;
                };
                ctx.tracker
                    .spawn(conn::serve(stream, p.peer, ctx.clone(), p.permit));
            }
            Err(e) => backoff.wait(&e, "relay").await,
        }
    }
}

/// Relays one client's bytes to the server side and back until both are
/// done (see the module docs for the rules).
pub async fn pump<S>(client: S, server: TcpStream, shutdown: &CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_r, mut client_w) = tokio::io::split(client);
    let (mut server_r, mut server_w) = server.into_split();
    let up = async {
        tokio::io::copy(&mut client_r, &mut server_w).await?;
        server_w.shutdown().await
    };
    let down = async {
        tokio::io::copy(&mut server_r, &mut client_w).await?;
        client_w.shutdown().await
    };
    tokio::pin!(up, down);
    tokio::select! {
        r = &mut down => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "relay to client ended");
                return;
            }
            tokio::select! {
                _ = tokio::time::timeout(LINGER, &mut up) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        r = &mut up => match r {
            Ok(()) => {
                if let Err(e) = down.await {
                    tracing::debug!(error = %e, "relay to client ended");
                }
            }
            Err(e) => tracing::debug!(error = %e, "relay from client ended"),
        },
    }
}
