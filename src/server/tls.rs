//! `https_ports` listeners: accept, TLS handshake, then relay.
//!
//! One accept loop per port, a task per client. The handshake (rustls,
//! TLS 1.2 and 1.3, no ALPN so clients speak HTTP/1.1) picks its
//! certificate through [`PortCerts`]; a client that does not finish it
//! within the idle timeout, or that none of the certificates suits, is
//! dropped. After the handshake the plaintext goes through
//! [`super::relay::pump`] to the ordinary connection code, with the client's
//! address and `secure` set.

use std::sync::Arc;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::certs::{CertStore, PortCerts};
use super::conn::CLIENT_IDLE_TIMEOUT;
use super::front::DESCRIPTORS_PER_CLIENT;
use super::io::Peer;
use super::listener::accept_loop;
use super::permits::{ClientPermit, ClientPermits};
use super::relay::{pump, Relays};
use crate::app::Ctx;

/// The TLS settings of one listener.
pub fn server_config(store: &Arc<CertStore>, port: u16) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(PortCerts::new(store.clone(), port)));
    Arc::new(config)
}

/// Accepts TLS clients on `listener` until shutdown.
pub async fn run(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    relays: Arc<Relays>,
    ctx: Ctx,
    permits: ClientPermits,
) {
    let acceptor = TlsAcceptor::from(config);
    let serve = |stream, peer, permit| {
        let client = Client {
            acceptor: acceptor.clone(),
            relays: relays.clone(),
            ctx: ctx.clone(),
            permit,
        };
        ctx.tracker.spawn(client.serve(stream, peer));
    };
    accept_loop(
        &listener,
        &ctx,
        &permits,
        DESCRIPTORS_PER_CLIENT,
        "tls",
        serve,
    )
    .await;
}

/// What one TLS client's task needs.
struct Client {
    acceptor: TlsAcceptor,
    relays: Arc<Relays>,
    ctx: Ctx,
    permit: ClientPermit,
}

impl Client {
    async fn serve(self, stream: TcpStream, addr: std::net::SocketAddr) {
        let _ = stream.set_nodelay(true);
        let handshake = tokio::time::timeout(CLIENT_IDLE_TIMEOUT, self.acceptor.accept(stream));
        let tls = tokio::select! {
            biased;
            _ = self.ctx.shutdown.cancelled() => return,
            r = handshake => match r {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(client.addr = %addr, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client.addr = %addr, "tls handshake timed out");
                    return;
                }
            },
        };
        let peer = Peer {
            addr: Some(addr),
            secure: true,
        };
        match self.relays.connect(peer, self.permit).await {
            Ok((server, _registration)) => pump(tls, server, &self.ctx.shutdown).await,
            Err(e) => tracing::warn!(error = %e, "cannot reach the relay listener"),
        }
    }
}
