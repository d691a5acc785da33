//! Configuration: pushpin.conf + routes source + command line → [`Config`].
//!
//! [`ini`] reads the file format, [`file`] maps the keys Pushpin users
//! already have onto validated values (defaults live in [`Config::default`]),
//! and [`cli`] holds the command-line options, which override the file.
//! Every key of upstream's pushpin.conf is accepted; keys this proxy has no
//! use for (ZeroMQ specs, zurl/condure/mongrel2 settings...) are ignored.
//! `docs/config.md` lists them all.

pub mod cli;
mod file;
pub mod ini;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use file::{find_config_file, load, load_routes, ConfigError};

/// Where routes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesSource {
    /// A routes file (watched and reloaded).
    File(PathBuf),
    /// `--route` lines; the routes file is not used.
    Lines(Vec<String>),
    /// No routes: every request gets "No route for host".
    None,
}

/// `x_forwarded_for` / `x_forwarded_for_trusted` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XffRule {
    /// Keep only the last N addresses of the incoming header.
    pub truncate: Option<usize>,
    /// Append the client's address.
    pub append: bool,
}

/// `set_x_forwarded_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XfpMode {
    #[default]
    Off,
    /// `X-Forwarded-Proto` only.
    ProtoOnly,
    /// `X-Forwarded-Proto` and `X-Forwarded-Protocol`.
    Both,
}

/// Where a Prometheus endpoint listens (`prometheus_port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsListen {
    /// `[addr:]port`.
    Tcp(SocketAddr),
    /// `ipc://path`: a Unix socket (a relative path is taken from the
    /// working directory, as 1.36 does).
    Unix(PathBuf),
}

/// One Prometheus endpoint: `prometheus_port` and `prometheus_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prometheus {
    pub listen: MetricsListen,
    /// Put in front of every metric name (checked to keep names valid).
    pub prefix: String,
}

/// Validated settings for the whole process.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, if any.
    pub config_file: Option<PathBuf>,
    /// Client listeners (`[runner] http_port`, or `--port`).
    pub listeners: Vec<SocketAddr>,
    /// TLS client listeners (`[runner] https_ports`; none with `--port`).
    /// Each serves the certificates in `certs_dir`, with
    /// `default_<port>.crt`/`.key` for clients that name no known host.
    pub https_listeners: Vec<SocketAddr>,
    /// Unix-socket client listeners (`[runner] local_ports`; none with
    /// `--port`). A path is taken as given (relative: from the working
    /// directory, as 1.36's condure does).
    pub local_listeners: Vec<PathBuf>,
    /// Where TLS certificates live: `runner/certs` beside the config file.
    pub certs_dir: PathBuf,
    pub routes: RoutesSource,
    /// Longest request head from a client (`[runner] client_buffer_size`).
    pub client_buffer_size: usize,
    /// Most simultaneous client connections (`[runner] client_maxconn`).
    pub client_maxconn: usize,
    /// Log verbosity, Pushpin style: 0 error, 1 warn, 2 info, 3 debug, 4 trace.
    pub log_level: u8,
    pub sig_iss: String,
    pub sig_key: Vec<u8>,
    /// Key that makes a client "trusted" (its Grip-Sig verifies with it).
    pub upstream_key: Option<Vec<u8>>,
    pub xff: XffRule,
    pub xff_trusted: XffRule,
    pub debug: bool,
    /// `[proxy] auto_cross_origin`: automatic CORS and JSON-P on every
    /// route (as the route option `aco`).
    pub auto_cross_origin: bool,
    pub set_xfp: XfpMode,
    pub accept_xfp: bool,
    /// `[proxy] accept_pushpin_route`: a client's `Pushpin-Route: ID`
    /// header picks the route with that `id=`.
    pub accept_pushpin_route: bool,
    /// `[proxy] orig_headers_need_mark`: header names that routes with
    /// `orig_headers` copy only when the client already marked them.
    pub orig_headers_need_mark: Vec<String>,
    /// Publish API address (`push_in_http_addr:push_in_http_port`).
    pub publish_addr: Option<SocketAddr>,
    pub publish_max_headers_size: usize,
    pub publish_max_body_size: usize,
    /// Longest wait of an out-of-order item for its predecessor.
    pub message_wait: Duration,
    /// How long item ids are remembered for de-duplication (0: off).
    pub id_cache_ttl: Duration,
    pub connection_subscription_max: usize,
    pub subscription_linger: Duration,
    /// Re-request held sessions ~1 s after a channel's first subscription.
    pub update_on_first_subscription: bool,
    /// Deliveries a session may have queued before it counts as too slow
    /// and is disconnected (`[handler] session_queue_max`, our addition).
    pub session_queue_max: usize,
    /// `[handler] prometheus_port`: the endpoint 1.36's handler served.
    pub handler_prometheus: Option<Prometheus>,
    /// `[proxy] prometheus_port`: the endpoint 1.36's proxy served; it
    /// reports no message counts, as the proxy never saw messages.
    pub proxy_prometheus: Option<Prometheus>,
    /// `stats_report_interval`: `connection_connected` reports the peak of
    /// such a window. Zero: no window, the current count.
    pub stats_report_interval: Duration,
}

impl Default for Config {
    /// Upstream's built-in defaults, used when no config file is found.
    fn default() -> Self {
        Config {
            config_file: None,
            listeners: vec![SocketAddr::from(([0, 0, 0, 0], 7999))],
            https_listeners: Vec::new(),
            local_listeners: Vec::new(),
            certs_dir: PathBuf::from("runner/certs"),
            routes: RoutesSource::None,
            client_buffer_size: 8192,
            client_maxconn: 50_000,
            log_level: 2,
            sig_iss: "pushpin".to_owned(),
            sig_key: Vec::new(),
            upstream_key: None,
            xff: XffRule::default(),
            xff_trusted: XffRule::default(),
            debug: false,
            auto_cross_origin: false,
            set_xfp: XfpMode::Off,
            accept_xfp: false,
            accept_pushpin_route: false,
            orig_headers_need_mark: Vec::new(),
            publish_addr: Some(SocketAddr::from(([127, 0, 0, 1], 5561))),
            publish_max_headers_size: 10_000,
            publish_max_body_size: 1_000_000,
            message_wait: Duration::from_millis(5000),
            id_cache_ttl: Duration::from_secs(60),
            connection_subscription_max: 20,
            subscription_linger: Duration::from_secs(60),
            update_on_first_subscription: true,
            session_queue_max: 1024,
            handler_prometheus: None,
            proxy_prometheus: None,
            stats_report_interval: Duration::from_secs(10),
        }
    }
}
