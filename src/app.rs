//! Wiring: the shared context, listeners, the publish API, the Prometheus
//! endpoints and the routes watcher, and the start/shutdown sequence.
//! Production (`main.rs`) and the integration tests start the proxy
//! through the same [`App::start`].

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{load_routes, Config, ConfigError, RoutesSource};
use crate::grip::item::Item;
use crate::grip::sig::Signer;
use crate::hub::Hub;
use crate::metrics::{self, Metrics};
use crate::proxy::pool::Pool;
use crate::routes::RouteTable;

/// Everything a connection task needs; cheap to clone through [`Ctx`].
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub routes: RoutesHandle,
    pub hub: Hub,
    pub pool: Pool,
    /// Signs backend requests of routes without their own key.
    pub signer: Signer,
    /// Cancelled when the proxy shuts down; every session watches it.
    pub shutdown: CancellationToken,
    /// Every connection and session task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Spaces out re-requests after recover, first subscriptions, id gaps.
    pub pacer: crate::session::pacer::Pacer,
    /// Request and connection counts for the Prometheus endpoints.
    pub metrics: Metrics,
}

/// Shared handle to the context.
pub type Ctx = Arc<Context>;

impl Context {
    /// Hands validated items to the hub, in order.
    pub fn publish(&self, items: Vec<Item>) {
        for item in items {
            self.hub.publish(&Arc::new(item));
        }
    }

    /// `POST /recover`: forget sequencing state; held sessions re-request.
    pub fn recover(&self) {
        self.hub.recover();
    }
}

/// The live route table, swapped whole on reload.
#[derive(Debug, Default)]
pub struct RoutesHandle(RwLock<Arc<RouteTable>>);

impl RoutesHandle {
    pub fn new(t: RouteTable) -> Self {
        RoutesHandle(RwLock::new(Arc::new(t)))
    }

    pub fn load(&self) -> Arc<RouteTable> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, t: RouteTable) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(t);
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("{0}")]
    Metrics(#[from] metrics::http::BindError),
    #[error("cannot listen on {}: {source}", path.display())]
    BindLocal {
        path: std::path::PathBuf,
        source: io::Error,
    },
    #[error("{0}")]
    Cert(#[from] crate::server::certs::CertError),
    #[error("cannot open the internal relay listener: {0}")]
    Relay(io::Error),
}

/// A running proxy.
#[derive(Debug)]
pub struct App {
    ctx: Ctx,
    /// The client listeners' actual addresses (port 0 resolved).
    pub http_addrs: Vec<SocketAddr>,
    /// The TLS client listeners' actual addresses.
    pub https_addrs: Vec<SocketAddr>,
    /// The Unix-socket client listeners' paths.
    pub local_paths: Vec<std::path::PathBuf>,
    /// The publish API's actual address.
    pub publish_addr: Option<SocketAddr>,
    /// The Prometheus endpoints' actual addresses (TCP ones).
    pub metrics_addrs: metrics::http::Addrs,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

impl App {
    /// Loads the routes, binds every listener and starts serving.
    pub async fn start(config: Config) -> Result<App, StartError> {
        let routes = load_routes(&config.routes)?;
        tracing::info!(entries = routes.len(), "routes loaded");
        let mut listeners = Vec::new();
        for addr in &config.listeners {
            listeners.push(bind(*addr).await?);
        }
        let relayed = crate::server::front::bind(&config).await?;
        let publish = match config.publish_addr {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let endpoints = metrics::http::bind_all(&config).await?;
        let metrics = Metrics::new(!endpoints.is_empty(), config.stats_report_interval);
        let signer = Signer::new(config.sig_iss.clone(), config.sig_key.clone());
        let hub = Hub::with_config(crate::hub::HubConfig::from(&config));
        let ctx = Arc::new(Context {
            config,
            routes: RoutesHandle::new(routes),
            hub,
            pool: Pool::new(),
            signer,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            pacer: Default::default(),
            metrics,
        });
        let mut http_addrs = Vec::new();
        let permits = client_permits(ctx.config.client_maxconn);
        for l in listeners {
            http_addrs.push(l.local_addr().map_err(|source| StartError::Bind {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                source,
            })?);
            ctx.tracker.spawn(crate::server::listener::run(
                l,
                ctx.clone(),
                permits.clone(),
            ));
        }
        let (https_addrs, local_paths) = relayed.start(&ctx, &permits);
        let publish_addr = match publish {
            Some(l) => {
                let a = l.local_addr().ok();
                ctx.tracker.spawn(crate::publish::http::run(l, ctx.clone()));
                a
            }
            None => None,
        };
        let metrics_addrs = metrics::http::start(&ctx, endpoints);
        ctx.hub.start_fanout(&ctx.tracker, &ctx.shutdown);
        ctx.tracker.spawn(crate::hub::run_timers(
            ctx.hub.clone(),
            ctx.shutdown.clone(),
        ));
        if let RoutesSource::File(path) = &ctx.config.routes {
            ctx.tracker.spawn(watch_routes(ctx.clone(), path.clone()));
        }
        tracing::info!(http = ?http_addrs, https = ?https_addrs, local = ?local_paths, publish = ?publish_addr, "started");
        Ok(App {
            ctx,
            http_addrs,
            https_addrs,
            local_paths,
            publish_addr,
            metrics_addrs,
        })
    }

    pub fn context(&self) -> &Ctx {
        &self.ctx
    }

    /// Re-reads the routes file; on error the current routes stay.
    pub fn reload_routes(&self) {
        reload(&self.ctx);
    }

    /// Stops accepting, ends every session (each sends its goodbye) and
    /// waits up to `deadline` for the tasks. Returns whether all finished.
    pub async fn shutdown(self, deadline: Duration) -> bool {
        self.ctx.shutdown.cancel();
        self.ctx.tracker.close();
        let done = tokio::time::timeout(deadline, self.ctx.tracker.wait())
            .await
            .is_ok();
        if !done {
            tracing::warn!("shutdown deadline passed with tasks still running");
        }
        done
    }
}

/// The bounds on client connections: `client_maxconn` of them, using at
/// most the descriptors the open-file limit (raised to its hard value
/// first) leaves after a reserve, so that a flood of clients leaves
/// descriptors for publishing and backends. A plain client counts one
/// descriptor, a TLS or Unix-socket one three (its relay's two ends).
fn client_permits(client_maxconn: usize) -> crate::server::permits::ClientPermits {
    let open_files = crate::fdlimit::raise_nofile();
    let descriptors = crate::fdlimit::client_cap(open_files);
    if descriptors < client_maxconn {
        tracing::info!(
            client_maxconn,
            open_files,
            descriptors,
            "client connections bounded by the open-file limit too"
        );
    }
    crate::server::permits::ClientPermits::new(client_maxconn, descriptors)
}

fn reload(ctx: &Ctx) {
    match load_routes(&ctx.config.routes) {
        Ok(t) => {
            tracing::info!(entries = t.len(), "routes reloaded");
            ctx.routes.store(t);
        }
        Err(e) => tracing::error!(error = %e, "routes not reloaded, keeping the current ones"),
    }
}

/// What a reload compares: the file's modification time and length.
fn signature(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// How often the routes file is looked at.
const ROUTES_POLL: Duration = Duration::from_millis(500);

/// Reloads the routes file when it changes. The file is checked every
/// `ROUTES_POLL` (so editors that replace the file are handled too) and read
/// once it has stayed the same for a whole interval, so a file caught half
/// written is not loaded (1.36 waits a second after the last change).
async fn watch_routes(ctx: Ctx, path: std::path::PathBuf) {
    let mut loaded = signature(&path);
    let mut seen = loaded;
    let mut tick = tokio::time::interval(ROUTES_POLL);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = signature(&path);
        if now != seen {
            // still changing (or just changed): look again next time
            seen = now;
            continue;
        }
        if now != loaded && now.is_some() {
            loaded = now;
            tracing::info!("routes file changed, reloading");
            reload(&ctx);
        }
    }
}
