//! Loading pushpin.conf (plus its `include`) into a [`Config`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cli::Cli;
use super::ini::{Entry, Ini, IniError};
use super::{Config, MetricsListen, Prometheus, RoutesSource, XffRule, XfpMode};
use crate::routes::RouteTable;

/// Where a packaged install keeps `internal.conf` (`{libdir}`).
const DEFAULT_LIBDIR: &str = "/usr/lib/pushpin";
/// Where a packaged install keeps pushpin.conf.
const DEFAULT_CONFIG: &str = "/etc/pushpin/pushpin.conf";

/// Why the configuration cannot be used. `Display` is the one line printed
/// before exiting with status 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Syntax(#[from] IniError),
    #[error("{}:{line}: invalid value for '{key}': {message}", path.display())]
    Value {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}:{line}: {message}", path.display())]
    Routes {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("--{option}: {message}")]
    Cli {
        option: &'static str,
        message: String,
    },
}

/// The config file to read: `--config`, else the first of upstream's usual
/// places that exists.
pub fn find_config_file(cli: &Cli) -> Option<PathBuf> {
    if let Some(p) = &cli.config {
        return Some(p.clone());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    [
        cwd.join("config/pushpin.conf"),
        cwd.join("pushpin.conf"),
        cwd.join("examples/config/pushpin.conf"),
        PathBuf::from(DEFAULT_CONFIG),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Reads the config named by the command line (or found in the usual
/// places), applies command-line overrides and validates everything.
pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let mut config = match find_config_file(cli) {
        Some(path) => from_file(&path)?,
        None => Config::default(),
    };
    apply_cli(&mut config, cli)?;
    Ok(config)
}

fn read_ini(path: &Path) -> Result<Ini, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Ini::parse(&String::from_utf8_lossy(&text), path)?)
}

/// The main file and its optional include; lookups prefer the main file.
struct Settings {
    main: Ini,
    include: Option<Ini>,
    dir: PathBuf,
    libdir: String,
    rundir: String,
    ipc_prefix: String,
}

/// A looked-up value with where it came from.
struct Found<'a> {
    entry: &'a Entry,
    path: &'a Path,
    value: String,
}

impl Found<'_> {
    fn bad(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            path: self.path.to_owned(),
            line: self.entry.line,
            key: self.entry.key.clone(),
            message: message.into(),
        }
    }
}

impl Settings {
    fn entry(&self, section: &str, key: &str) -> Option<(&Entry, &Path)> {
        if let Some(e) = self.main.get(section, key) {
            return Some((e, &self.main.path));
        }
        let inc = self.include.as_ref()?;
        inc.get(section, key).map(|e| (e, inc.path.as_path()))
    }

    fn subst(&self, s: &str) -> String {
        s.replace("{libdir}", &self.libdir)
            .replace("{rundir}", &self.rundir)
            .replace("{ipc_prefix}", &self.ipc_prefix)
    }

    fn get(&self, section: &str, key: &str) -> Option<Found<'_>> {
        let (entry, path) = self.entry(section, key)?;
        let value = self.subst(&entry.value.as_string());
        Some(Found { entry, path, value })
    }

    fn list(&self, section: &str, key: &str) -> Option<(Found<'_>, Vec<String>)> {
        let (entry, path) = self.entry(section, key)?;
        let items = entry
            .value
            .as_list()
            .iter()
            .map(|s| self.subst(s))
            .collect();
        let found = Found {
            entry,
            path,
            value: entry.value.as_string(),
        };
        Some((found, items))
    }

    fn int(&self, section: &str, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(section, key) {
            None => Ok(None),
            Some(f) => f
                .value
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| f.bad(format!("'{}' is not a whole number", f.value))),
        }
    }

    fn uint(&self, section: &str, key: &str, default: u64) -> Result<u64, ConfigError> {
        match (self.int(section, key)?, self.get(section, key)) {
            (Some(n), Some(f)) if n < 0 => Err(f.bad(format!("{n} is negative"))),
            (Some(n), _) => Ok(n as u64),
            _ => Ok(default),
        }
    }

    /// Qt-style boolean: false iff empty, `0` or `false`.
    fn bool(&self, section: &str, key: &str, default: bool) -> bool {
        match self.get(section, key) {
            None => default,
            Some(f) => {
                let v = f.value.trim().to_ascii_lowercase();
                !(v.is_empty() || v == "0" || v == "false")
            }
        }
    }

    fn path(&self, value: &str) -> PathBuf {
        let p = Path::new(value);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.dir.join(p)
        }
    }
}

fn from_file(path: &Path) -> Result<Config, ConfigError> {
    let main = read_ini(path)?;
    let dir = path.parent().map(Path::to_owned).unwrap_or_default();
    let raw = |k: &str| main.get("global", k).map(|e| e.value.as_string());
    let libdir = raw("libdir")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_LIBDIR.to_owned());
    let rundir = raw("rundir")
        .or_else(|| main.get("runner", "rundir").map(|e| e.value.as_string()))
        .unwrap_or_else(|| "run".to_owned());
    let ipc_prefix = raw("ipc_prefix").unwrap_or_else(|| "pushpin-".to_owned());
    let mut s = Settings {
        main,
        include: None,
        dir,
        libdir,
        rundir,
        ipc_prefix,
    };
    if let Some(inc) = raw_include(&s) {
        let inc_path = s.path(&inc);
        if inc_path.is_file() {
            s.include = Some(read_ini(&inc_path)?);
        } else {
            tracing::debug!(path = %inc_path.display(), "config include not found, skipping");
        }
    }
    let mut c = Config {
        config_file: Some(path.to_owned()),
        ..Config::default()
    };
    read_runner(&s, &mut c)?;
    read_proxy(&s, &mut c)?;
    read_handler(&s, &mut c)?;
    read_metrics(&s, &mut c)?;
    Ok(c)
}

fn raw_include(s: &Settings) -> Option<String> {
    let v = s.main.get("global", "include")?.value.as_string();
    if v.is_empty() {
        return None;
    }
    let v = if v == "internal.conf" {
        "{libdir}/internal.conf".to_owned()
    } else {
        v
    };
    Some(s.subst(&v))
}

fn read_runner(s: &Settings, c: &mut Config) -> Result<(), ConfigError> {
    if let Some((f, ports)) = s.list("runner", "http_port") {
        c.listeners = ports
            .iter()
            .map(|p| parse_listen(p).map_err(|m| f.bad(m)))
            .collect::<Result<_, _>>()?;
    }
    if let Some((f, ports)) = s.list("runner", "https_ports") {
        c.https_listeners = ports
            .iter()
            .map(|p| parse_https_listen(p).map_err(|m| f.bad(m)))
            .collect::<Result<_, _>>()?;
    }
    if let Some((_, paths)) = s.list("runner", "local_ports") {
        c.local_listeners = paths
            .iter()
            .map(|p| PathBuf::from(p.trim()))
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    c.certs_dir = s.dir.join("runner").join("certs");
    if let Some((f, levels)) = s.list("runner", "log_level") {
        c.log_level = parse_log_level(&levels).map_err(|m| f.bad(m))?;
    }
    c.client_buffer_size = s.uint("runner", "client_buffer_size", 8192)?.max(1024) as usize;
    c.client_maxconn = s.uint("runner", "client_maxconn", 50_000)?.max(1) as usize;
    Ok(())
}

fn read_proxy(s: &Settings, c: &mut Config) -> Result<(), ConfigError> {
    c.routes = match s.get("proxy", "routesfile") {
        Some(f) if !f.value.is_empty() => RoutesSource::File(s.path(&f.value)),
        _ => RoutesSource::None,
    };
    if let Some(f) = s.get("proxy", "sig_iss") {
        c.sig_iss = f.value;
    }
    if let Some(f) = s.get("proxy", "sig_key") {
        c.sig_key = crate::routes::load_key(&f.value, &s.dir).map_err(|m| f.bad(m))?;
    }
    if let Some(f) = s.get("proxy", "upstream_key") {
        if !f.value.is_empty() {
            c.upstream_key = Some(crate::routes::load_key(&f.value, &s.dir).map_err(|m| f.bad(m))?);
        }
    }
    for (key, slot) in [
        ("x_forwarded_for", &mut c.xff),
        ("x_forwarded_for_trusted", &mut c.xff_trusted),
    ] {
        if let Some((f, items)) = s.list("proxy", key) {
            *slot = parse_xff(&items).map_err(|m| f.bad(m))?;
        }
    }
    c.debug = s.bool("proxy", "debug", false);
    c.auto_cross_origin = s.bool("proxy", "auto_cross_origin", false);
    c.accept_xfp = s.bool("proxy", "accept_x_forwarded_protocol", false);
    c.accept_pushpin_route = s.bool("proxy", "accept_pushpin_route", false);
    if let Some((_, names)) = s.list("proxy", "orig_headers_need_mark") {
        c.orig_headers_need_mark = names
            .into_iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
    }
    c.set_xfp = match s.get("proxy", "set_x_forwarded_protocol").map(|f| f.value) {
        Some(v) if v == "true" => XfpMode::Both,
        Some(v) if v == "proto-only" => XfpMode::ProtoOnly,
        _ => XfpMode::Off,
    };
    Ok(())
}

fn read_handler(s: &Settings, c: &mut Config) -> Result<(), ConfigError> {
    let addr: IpAddr = match s.get("handler", "push_in_http_addr") {
        Some(f) if !f.value.trim().is_empty() => f
            .value
            .trim()
            .parse()
            .map_err(|_| f.bad(format!("'{}' is not an IP address", f.value)))?,
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    c.publish_addr = match s.int("handler", "push_in_http_port")? {
        None => None,
        Some(p) if p < 0 => None,
        Some(p) => {
            let port = u16::try_from(p).map_err(|_| {
                s.get("handler", "push_in_http_port")
                    .map(|f| f.bad(format!("{p} is not a port number")))
                    .expect("key exists")
            })?;
            Some(SocketAddr::new(addr, port))
        }
    };
    for (keys, slot) in [
        (
            ["push_in_http_max_headers_size", "push_in_max_headers_size"],
            &mut c.publish_max_headers_size,
        ),
        (
            ["push_in_http_max_body_size", "push_in_max_body_size"],
            &mut c.publish_max_body_size,
        ),
    ] {
        for k in keys {
            if s.get("handler", k).is_some() {
                *slot = s.uint("handler", k, 0)? as usize;
                break;
            }
        }
    }
    c.message_wait = Duration::from_millis(s.uint("handler", "message_wait", 5000)?);
    c.id_cache_ttl = Duration::from_secs(s.uint("handler", "id_cache_ttl", 0)?);
    c.connection_subscription_max = s.uint("handler", "connection_subscription_max", 20)? as usize;
    c.subscription_linger = Duration::from_secs(s.uint("handler", "subscription_linger", 60)?);
    c.update_on_first_subscription = s.bool("handler", "update_on_first_subscription", true);
    c.session_queue_max = s.uint("handler", "session_queue_max", 1024)?.max(1) as usize;
    Ok(())
}

/// The Prometheus endpoints of both sections, and the report interval of
/// the one whose numbers we serve (the handler's, unless only the proxy
/// endpoint is on).
fn read_metrics(s: &Settings, c: &mut Config) -> Result<(), ConfigError> {
    c.handler_prometheus = read_prometheus(s, "handler")?;
    c.proxy_prometheus = read_prometheus(s, "proxy")?;
    let section = match (&c.handler_prometheus, &c.proxy_prometheus) {
        (None, None) => return Ok(()),
        (None, Some(_)) => "proxy",
        (Some(_), _) => "handler",
    };
    c.stats_report_interval = match s.int(section, "stats_report_interval")? {
        None => Duration::from_secs(10),
        Some(n) if n <= 0 => Duration::ZERO,
        Some(n) => Duration::from_secs(n as u64),
    };
    Ok(())
}

fn read_prometheus(s: &Settings, section: &str) -> Result<Option<Prometheus>, ConfigError> {
    let Some(f) = s.get(section, "prometheus_port") else {
        return Ok(None);
    };
    let Some(listen) = parse_prometheus_port(&f.value).map_err(|m| f.bad(m))? else {
        return Ok(None);
    };
    let prefix = match s.get(section, "prometheus_prefix") {
        None => String::new(),
        Some(p) => {
            check_metric_prefix(&p.value).map_err(|m| p.bad(m))?;
            p.value
        }
    };
    Ok(Some(Prometheus { listen, prefix }))
}

/// `[addr:]port` or `ipc://path`; empty means no endpoint.
pub(crate) fn parse_prometheus_port(v: &str) -> Result<Option<MetricsListen>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(path) = v.strip_prefix("ipc://") {
        if path.is_empty() {
            return Err("'ipc://' needs a socket path".to_owned());
        }
        return Ok(Some(MetricsListen::Unix(PathBuf::from(path))));
    }
    parse_listen(v)
        .map(|a| Some(MetricsListen::Tcp(a)))
        .map_err(|_| format!("'{v}' is not [addr:]port or ipc://path"))
}

/// A prefix that keeps every metric name valid for Prometheus: letters,
/// digits, `_` and `:`, not starting with a digit.
pub(crate) fn check_metric_prefix(p: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    if p.chars().all(ok_char) && !p.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "'{p}' cannot start a Prometheus metric name (letters, digits, '_' and ':'; not a digit first)"
        ))
    }
}

/// `PORT`, `ADDR:PORT` or `[V6]:PORT`. A host name listens on all addresses,
/// as upstream does.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not [addr:]port");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (Some(h), p)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (Some(h), p),
            None => (None, s),
        }
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host {
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(h) => h.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    };
    Ok(SocketAddr::new(ip, port))
}

/// An `https_ports` item: `[addr:]port` with a port of at least 1 (1.36
/// refuses 0 here, unlike `http_port`).
pub(crate) fn parse_https_listen(s: &str) -> Result<SocketAddr, String> {
    let a = parse_listen(s)?;
    if a.port() == 0 {
        return Err(format!("'{}': an https port must be 1 or more", s.trim()));
    }
    Ok(a)
}

/// `N` or `N,service:N,...`; the highest level given wins (one process).
pub(crate) fn parse_log_level(parts: &[String]) -> Result<u8, String> {
    if parts.is_empty() {
        return Err("log level cannot be empty".to_owned());
    }
    let mut level: Option<u8> = None;
    for p in parts {
        let n = p.rsplit(':').next().unwrap_or("").trim();
        let n: u8 = n
            .parse()
            .map_err(|_| format!("'{p}' is not a log level (0-4, or service:N)"))?;
        level = Some(level.map_or(n, |l| l.max(n)));
    }
    Ok(level.unwrap_or(2))
}

/// `truncate:N` and/or `append`.
pub(crate) fn parse_xff(items: &[String]) -> Result<XffRule, String> {
    let mut r = XffRule::default();
    for i in items {
        let i = i.trim();
        if i == "append" {
            r.append = true;
        } else if let Some(n) = i.strip_prefix("truncate:") {
            r.truncate = Some(
                n.trim()
                    .parse()
                    .map_err(|_| format!("'{i}': truncate needs a whole number"))?,
            );
        } else {
            return Err(format!("'{i}' is not 'truncate:N' or 'append'"));
        }
    }
    Ok(r)
}

fn apply_cli(c: &mut Config, cli: &Cli) -> Result<(), ConfigError> {
    let cli_err = |option, message: String| ConfigError::Cli { option, message };
    if let Some(p) = &cli.port {
        // 1.36: `--port` replaces every listener, TLS and Unix ones too
        c.listeners = vec![parse_listen(p).map_err(|m| cli_err("port", m))?];
        c.https_listeners.clear();
        c.local_listeners.clear();
    }
    if let Some(id) = cli.id {
        if let Some(a) = &mut c.publish_addr {
            let port = u32::from(a.port()) + id * 10;
            a.set_port(
                u16::try_from(port).map_err(|_| cli_err("id", format!("{id} is too large")))?,
            );
        }
    }
    if !cli.route.is_empty() {
        c.routes = RoutesSource::Lines(cli.route.clone());
    }
    if let Some(l) = &cli.loglevel {
        let parts: Vec<String> = l.split(',').map(str::to_owned).collect();
        c.log_level = parse_log_level(&parts).map_err(|m| cli_err("loglevel", m))?;
    }
    if cli.verbose {
        c.log_level = c.log_level.max(3);
    }
    Ok(())
}

/// Reads the routes source into a table; an unusable file or line is an
/// error naming the file and line.
pub fn load_routes(source: &RoutesSource) -> Result<RouteTable, ConfigError> {
    match source {
        RoutesSource::None => Ok(RouteTable::default()),
        RoutesSource::Lines(lines) => {
            let text = lines.join("\n");
            RouteTable::parse(&text, Path::new(".")).map_err(|(line, e)| ConfigError::Routes {
                path: PathBuf::from("--route"),
                line,
                message: e.to_string(),
            })
        }
        RoutesSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let dir = path.parent().unwrap_or(Path::new("."));
            RouteTable::parse(&text, dir).map_err(|(line, e)| ConfigError::Routes {
                path: path.clone(),
                line,
                message: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
