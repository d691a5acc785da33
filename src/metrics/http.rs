//! The Prometheus endpoint: bound at start-up (a failure stops it, as in
//! 1.36), then served by [`crate::simplehttp`] like the publish API, which
//! is how 1.36 serves it: any method and any path get the page, one
//! request per connection, `Content-Type: text/plain`,
//! `Connection: close`. Unlike 1.36, a `HEAD` gets the head only.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};

use super::View;
use crate::app::Ctx;
use crate::config::{Config, MetricsListen};
use crate::simplehttp::{self, Limits, Listener, Request, Response};

/// 1.36's limits for this server.
const LIMITS: Limits = Limits {
    max_head: 8192,
    max_body: 8192,
};

/// Why an endpoint could not listen.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {addr} (prometheus_port): {source}")]
    Tcp {
        addr: std::net::SocketAddr,
        source: io::Error,
    },
    #[error("cannot listen on {} (prometheus_port): {source}", path.display())]
    Unix {
        path: std::path::PathBuf,
        source: io::Error,
    },
}

/// A bound endpoint, not serving yet.
#[derive(Debug)]
pub struct Endpoint {
    listener: Listener,
    prefix: String,
    view: View,
}

/// The endpoints' actual TCP addresses (port 0 resolved).
#[derive(Debug, Default, Clone, Copy)]
pub struct Addrs {
    pub handler: Option<SocketAddr>,
    pub proxy: Option<SocketAddr>,
}

/// Binds the configured endpoints (before anything is served, so a
/// failure stops start-up).
pub async fn bind_all(config: &Config) -> Result<Vec<Endpoint>, BindError> {
    let mut out = Vec::new();
    for (p, view) in [
        (&config.handler_prometheus, View::Handler),
        (&config.proxy_prometheus, View::Proxy),
    ] {
        if let Some(p) = p {
            out.push(Endpoint {
                listener: bind(&p.listen).await?,
                prefix: p.prefix.clone(),
                view,
            });
        }
    }
    Ok(out)
}

/// Serves the endpoints and ticks the report window until shutdown.
pub fn start(ctx: &Ctx, endpoints: Vec<Endpoint>) -> Addrs {
    let mut addrs = Addrs::default();
    let interval = ctx.config.stats_report_interval;
    if !endpoints.is_empty() && !interval.is_zero() {
        let ctx2 = ctx.clone();
        ctx.tracker.spawn(async move {
            super::run_reports(&ctx2.metrics, interval, ctx2.shutdown.clone()).await;
        });
    }
    for e in endpoints {
        match &e.listener {
            Listener::Tcp(l) => {
                let a = l.local_addr().ok();
                match e.view {
                    View::Handler => addrs.handler = a,
                    View::Proxy => addrs.proxy = a,
                }
                tracing::info!(view = ?e.view, addr = ?a, "prometheus endpoint");
            }
            Listener::Unix { path, .. } => {
                tracing::info!(view = ?e.view, path = %path.display(), "prometheus endpoint");
            }
        }
        ctx.tracker
            .spawn(run(e.listener, ctx.clone(), e.prefix, e.view));
    }
    addrs
}

/// Binds an endpoint. A Unix socket left by an earlier run is replaced;
/// any other file at that path is an error (1.36 deletes it).
async fn bind(listen: &MetricsListen) -> Result<Listener, BindError> {
    match listen {
        MetricsListen::Tcp(addr) => {
            TcpListener::bind(addr)
                .await
                .map(Listener::Tcp)
                .map_err(|source| BindError::Tcp {
                    addr: *addr,
                    source,
                })
        }
        MetricsListen::Unix(path) => bind_unix(path).map_err(|source| BindError::Unix {
            path: path.clone(),
            source,
        }),
    }
}

fn bind_unix(path: &Path) -> io::Result<Listener> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    Ok(Listener::Unix {
        listener,
        path: path.to_owned(),
    })
}

/// Serves one endpoint until shutdown.
async fn run(listener: Listener, ctx: Ctx, prefix: String, view: View) {
    let prefix: Arc<str> = prefix.into();
    let page = move |req: &Request, ctx: &Ctx| respond(req, ctx, &prefix, view);
    simplehttp::run(listener, ctx, "metrics", LIMITS, page).await;
}

fn respond(req: &Request, ctx: &Ctx, prefix: &str, view: View) -> Response {
    let snapshot = ctx.metrics.snapshot(ctx.hub.message_counts(), view);
    Response {
        head_only: req.method == "HEAD",
        ..Response::text(200, "OK", snapshot.to_text(prefix))
    }
}
