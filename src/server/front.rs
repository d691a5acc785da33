//! Start-up of the relayed client listeners: `https_ports` ([`super::tls`])
//! and `local_ports` ([`super::local`]), plus the internal listener they
//! relay to ([`super::relay`]). Everything is bound, and every default
//! certificate checked, before the proxy reports itself started; called
//! by [`crate::app::App::start`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::certs::CertStore;
use super::local::LocalListener;
use super::permits::ClientPermits;
use super::relay::{self, Relays};
use crate::app::{Ctx, StartError};
use crate::config::Config;

/// Descriptors a relayed client may hold: its own socket and both ends of
/// the loopback connection.
pub const DESCRIPTORS_PER_CLIENT: u32 = 3;

/// Bound, not yet serving.
#[derive(Debug, Default)]
pub struct Relayed {
    tls: Vec<(TcpListener, Arc<rustls::ServerConfig>, SocketAddr)>,
    local: Vec<LocalListener>,
    relay: Option<(Arc<Relays>, TcpListener)>,
}

/// Binds the TLS and Unix-socket listeners of `config` (none: nothing to
/// do) and checks each TLS port's default certificate.
pub async fn bind(config: &Config) -> Result<Relayed, StartError> {
    let mut r = Relayed::default();
    if config.https_listeners.is_empty() && config.local_listeners.is_empty() {
        return Ok(r);
    }
    let store = Arc::new(CertStore::new(
        config.certs_dir.clone(),
        Arc::new(rustls::crypto::ring::default_provider()),
    ));
    for &addr in &config.https_listeners {
        // named after the configured port (1.36), and checked before
        // anything is bound; port 0 only comes from code (tests), where
        // the port actually bound stands in
        if addr.port() != 0 {
            check_default(&store, addr.port())?;
        }
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let bound = l
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let port = if addr.port() == 0 {
            check_default(&store, bound.port())?;
            bound.port()
        } else {
            addr.port()
        };
        r.tls
            .push((l, super::tls::server_config(&store, port), bound));
    }
    for path in &config.local_listeners {
        let l = LocalListener::bind(path).map_err(|source| StartError::BindLocal {
            path: path.clone(),
            source,
        })?;
        r.local.push(l);
    }
    r.relay = Some(Relays::bind().await.map_err(StartError::Relay)?);
    Ok(r)
}

fn check_default(store: &CertStore, port: u16) -> Result<(), StartError> {
    let name = CertStore::default_name(port);
    if store.check_default(&name)? {
        tracing::debug!(cert = %name, "default certificate loaded");
    } else {
        tracing::warn!(
            dir = %store.dir().display(),
            cert = %name,
            "no default certificate: TLS clients naming no known host will be refused"
        );
    }
    Ok(())
}

impl Relayed {
    pub fn is_empty(&self) -> bool {
        self.relay.is_none()
    }

    /// Starts every accept loop in the app's tracker; returns the TLS
    /// addresses and the socket paths.
    pub fn start(self, ctx: &Ctx, permits: &ClientPermits) -> (Vec<SocketAddr>, Vec<PathBuf>) {
        let Some((relays, internal)) = self.relay else {
            return (Vec::new(), Vec::new());
        };
        ctx.tracker
            .spawn(relay::run_internal(internal, relays.clone(), ctx.clone()));
        let mut addrs = Vec::new();
        for (l, tls, addr) in self.tls {
            addrs.push(addr);
            ctx.tracker.spawn(super::tls::run(
                l,
                tls,
                relays.clone(),
                ctx.clone(),
                permits.clone(),
            ));
        }
        let mut paths = Vec::new();
        for l in self.local {
            paths.push(l.path().to_owned());
            ctx.tracker.spawn(super::local::run(
                l,
                relays.clone(),
                ctx.clone(),
                permits.clone(),
            ));
        }
        (addrs, paths)
    }
}
