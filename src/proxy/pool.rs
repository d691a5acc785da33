//! Connections to backends: connect (TCP, optional TLS), HTTP/1.1 handshake
//! with hyper's client, and a keep-alive pool keyed by target.
//!
//! Owned by the app context and shared by every connection task. A
//! connection is checked out for one request and given back (by the
//! response relay) only once its response body was read to the end; one that
//! is dropped earlier is closed. Idle connections expire after
//! [`IDLE_TIMEOUT`] and at most [`MAX_IDLE_PER_KEY`] are kept per target.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::ReqBody;
use super::tls;

/// How long an idle backend connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most idle connections kept per target.
pub const MAX_IDLE_PER_KEY: usize = 128;
/// Longest time to establish a backend connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Identifies interchangeable backend connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub host: String,
    pub port: u16,
    /// TLS with this server name (None: plain TCP).
    pub tls_name: Option<String>,
    pub insecure: bool,
}

/// Why no backend connection could be made; all of these let the proxy try
/// the route's next target.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connect to {0} failed: {1}")]
    Io(String, io::Error),
    #[error("connect to {0} timed out")]
    Timeout(String),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, io::Error),
    #[error("HTTP handshake with {0} failed: {1}")]
    Handshake(String, hyper::Error),
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<ReqBody>,
    since: Instant,
}

/// A backend connection checked out of the pool.
#[derive(Debug)]
pub struct Conn {
    pub sender: SendRequest<ReqBody>,
    key: PoolKey,
    /// Whether it came from the pool (a failure before anything was sent may
    /// then be retried on a fresh connection).
    pub reused: bool,
}

/// The shared pool.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    idle: Arc<Mutex<HashMap<PoolKey, Vec<Idle>>>>,
}

impl Pool {
    pub fn new() -> Pool {
        Pool::default()
    }

    fn take_idle(&self, key: &PoolKey) -> Option<SendRequest<ReqBody>> {
        let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.get_mut(key)?;
        let now = Instant::now();
        while let Some(idle) = list.pop() {
            if now.duration_since(idle.since) < IDLE_TIMEOUT && !idle.sender.is_closed() {
                return Some(idle.sender);
            }
        }
        None
    }

    /// A ready connection to `key`: an idle one, or a new one.
    pub async fn get(&self, key: &PoolKey) -> Result<Conn, ConnectError> {
        while let Some(mut sender) = self.take_idle(key) {
            // a connection given back may need a moment to become ready
            let ready = tokio::time::timeout(Duration::from_secs(1), sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                return Ok(Conn {
                    sender,
                    key: key.clone(),
                    reused: true,
                });
            }
        }
        self.connect_new(key).await
    }

    /// A new connection to `key`, bypassing idle ones.
    pub async fn connect_new(&self, key: &PoolKey) -> Result<Conn, ConnectError> {
        let sender = connect(key).await?;
        Ok(Conn {
            sender,
            key: key.clone(),
            reused: false,
        })
    }

    /// Gives a connection back once its response was read to the end.
    pub fn put(&self, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(conn.key).or_default();
        let now = Instant::now();
        list.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT && !i.sender.is_closed());
        if list.len() < MAX_IDLE_PER_KEY {
            list.push(Idle {
                sender: conn.sender,
                since: now,
            });
        }
    }

    /// Number of idle connections (for tests).
    pub fn idle_count(&self) -> usize {
        let map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(Vec::len).sum()
    }
}

/// A connected backend socket, plain or TLS.
#[derive(Debug)]
pub enum BackendStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for BackendStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            BackendStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for BackendStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            BackendStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            BackendStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            BackendStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens a TCP (and, for `ssl` targets, TLS) connection to a backend.
pub async fn connect_stream(key: &PoolKey) -> Result<BackendStream, ConnectError> {
    let label = format!("{}:{}", key.host, key.port);
    let host = key.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, key.port)))
        .await
        .map_err(|_| ConnectError::Timeout(label.clone()))?
        .map_err(|e| ConnectError::Io(label.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    match &key.tls_name {
        None => Ok(BackendStream::Plain(tcp)),
        Some(name) => {
            let server_name = ServerName::try_from(name.clone())
                .map_err(|e| ConnectError::Tls(label.clone(), io::Error::other(e)))?;
            let tls = tokio::time::timeout(
                CONNECT_TIMEOUT,
                tls::connector(key.insecure).connect(server_name, tcp),
            )
            .await
            .map_err(|_| ConnectError::Timeout(label.clone()))?
            .map_err(|e| ConnectError::Tls(label.clone(), e))?;
            Ok(BackendStream::Tls(Box::new(tls)))
        }
    }
}

async fn connect(key: &PoolKey) -> Result<SendRequest<ReqBody>, ConnectError> {
    let label = format!("{}:{}", key.host, key.port);
    let stream = connect_stream(key).await?;
    handshake(TokioIo::new(stream), &label).await
}

async fn handshake<T>(io: TokioIo<T>, label: &str) -> Result<SendRequest<ReqBody>, ConnectError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .title_case_headers(true)
        .handshake(io)
        .await
        .map_err(|e| ConnectError::Handshake(label.to_owned(), e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "backend connection ended");
        }
    });
    Ok(sender)
}
