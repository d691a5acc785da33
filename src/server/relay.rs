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
//! Each direction reads only when the last piece was written, so a slow
//! reader on either side stops the other (beyond what the loopback
//! socket's kernel buffers hold). Client bytes go through a 4 KiB buffer;
//! server bytes through an 8 KiB one taken only while they flow, so an
//! idle held connection costs its TLS state and the small one. End of input
//! on one side becomes a write shutdown on the other (TLS: `close_notify`
//! then FIN). When the server side is done, client bytes are still passed
//! on for [`LINGER`] (for a server that half-closed, such as a WebSocket
//! close) and then everything is closed; an error on either side closes
//! both. Front-end tasks run in the app's tracker, and after shutdown is
//! signalled they end once the server side has sent its goodbye.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use super::conn;
use super::io::Peer;
use super::listener::Backoff;
use super::permits::ClientPermit;
use crate::app::Ctx;

/// How long client bytes still pass after the server side finished.
pub const LINGER: Duration = Duration::from_secs(5);

/// A registered relay not yet accepted by the internal listener.
#[derive(Debug)]
struct Pending {
    peer: Peer,
    permit: ClientPermit,
}

/// The internal listener's address and the relays on their way to it.
#[derive(Debug)]
pub struct Relays {
    internal: SocketAddr,
    pending: Mutex<HashMap<SocketAddr, Pending>>,
    /// Picks the next relay's source address.
    next_source: AtomicU32,
    /// Source addresses other than 127.0.0.1 work here.
    spread: AtomicBool,
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
            next_source: AtomicU32::new(0),
            spread: AtomicBool::new(true),
        });
        Ok((relays, listener))
    }

    fn take(&self, local: SocketAddr) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&local)
    }

    /// A socket bound for the next relay. The source address cycles
    /// through 127.0.0.1–127.0.0.254: every relay goes to the same
    /// internal address, and one source address alone would allow only as
    /// many relays as there are ephemeral ports (about 28,000). Where the
    /// rest of 127/8 is not usable, 127.0.0.1 it is.
    fn bound_socket(&self) -> io::Result<TcpSocket> {
        let n = self.next_source.fetch_add(1, Ordering::Relaxed);
        let spread = self.spread.load(Ordering::Relaxed);
        let last = if spread { (n % 254) as u8 + 1 } else { 1 };
        let socket = TcpSocket::new_v4()?;
        match socket.bind((Ipv4Addr::new(127, 0, 0, last), 0).into()) {
            Ok(()) => Ok(socket),
            Err(e) if last == 1 || e.kind() != io::ErrorKind::AddrNotAvailable => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "relays from 127.0.0.1 only");
                self.spread.store(false, Ordering::Relaxed);
                let socket = TcpSocket::new_v4()?;
                socket.bind((Ipv4Addr::LOCALHOST, 0).into())?;
                Ok(socket)
            }
        }
    }

    /// Opens the loopback connection for a client, registering what the
    /// server must know about it first.
    pub async fn connect(
        self: &Arc<Self>,
        peer: Peer,
        permit: ClientPermit,
    ) -> io::Result<(TcpStream, Registration)> {
        let socket = self.bound_socket()?;
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

/// Bytes read from the client at a time (its buffer lives as long as the
/// relay).
const UP_BUFFER: usize = 4096;
/// Bytes read from the server side at a time; allocated only while bytes
/// are flowing, so an idle held connection keeps none.
const DOWN_BUFFER: usize = 8192;

/// Relays one client's bytes to the server side and back until both are
/// done (see the module docs for the rules).
pub async fn pump<S>(client: S, server: TcpStream, shutdown: &CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (client_r, mut client_w) = tokio::io::split(client);
    let (server_r, mut server_w) = server.into_split();
    let mut client_r = tokio::io::BufReader::with_capacity(UP_BUFFER, client_r);
    let up = async {
        tokio::io::copy_buf(&mut client_r, &mut server_w).await?;
        server_w.shutdown().await
    };
    let down = async {
        copy_when_ready(&server_r, &mut client_w).await?;
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

/// Copies from the server side to `w` until end of input, taking a buffer
/// only once there is something to read and flushing before waiting again.
async fn copy_when_ready<W>(r: &OwnedReadHalf, w: &mut W) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    loop {
        r.readable().await?;
        let mut buf = vec![0u8; DOWN_BUFFER];
        loop {
            match r.try_read(&mut buf) {
                Ok(0) => return w.flush().await,
                Ok(n) => w.write_all(&buf[..n]).await?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        w.flush().await?;
    }
}
