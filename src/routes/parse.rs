//! One routes-file line → [`Route`].

use std::path::Path;
use std::sync::Arc;

use super::tokenize::{tokenize, Section, TokenError};
use crate::cors::{JsonpConfig, JsonpMode};
use crate::grip::sig::{parse_key, Signer};

/// Which hosts a route applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// `*`: any host.
    Any,
    /// One host name, lower-cased; may carry a `:port`.
    Exact(String),
    /// No domain (only reachable by `id`).
    None,
}

/// `proto=` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Ws,
}

/// Where a target sends requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A backend at `host:port`.
    Http { host: String, port: u16 },
    /// The built-in test handler.
    Test,
}

/// One target of a route, with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    /// https/wss to the backend.
    pub ssl: bool,
    /// Skip certificate verification.
    pub insecure: bool,
    /// WebSocket-over-HTTP.
    pub over_http: bool,
    /// WebSocket-over-HTTP: one event per request.
    pub one_event: bool,
    /// Implicit subscriptions.
    pub subs: Vec<String>,
    /// Outgoing host (and port) override.
    pub host: Option<String>,
    /// Verify TLS against the connect host rather than the URI host.
    pub trust_connect_host: bool,
    pub untrusted: bool,
}

impl Target {
    /// `host:port` or `test`, as logs and debug messages show it.
    pub fn label(&self) -> String {
        match &self.kind {
            TargetKind::Http { host, port } => format!("{host}:{port}"),
            TargetKind::Test => "test".to_owned(),
        }
    }
}

/// One parsed route.
#[derive(Debug)]
pub struct Route {
    /// 1-based line in the routes file (0 for `--route`).
    pub line: usize,
    pub domain: Domain,
    pub proto: Option<Proto>,
    pub ssl: Option<bool>,
    pub path_beg: Option<String>,
    pub id: Option<String>,
    /// Route-level signer, when both `sig_iss` and `sig_key` are set.
    pub signer: Option<Arc<Signer>>,
    pub as_host: Option<String>,
    /// Bytes removed from the front of the path.
    pub path_rem: usize,
    /// Prepended after `path_rem` bytes were removed.
    pub replace_beg: Option<String>,
    /// Channel prefix.
    pub prefix: String,
    pub debug: bool,
    /// Automatic CORS and JSON-P.
    pub aco: bool,
    /// JSON-P options (used when automatic cross-origin handling is on).
    pub jsonp: JsonpConfig,
    pub session: bool,
    pub no_grip: bool,
    pub orig_headers: bool,
    /// `header=name:value` entries in line order (empty value removes).
    pub headers: Vec<(String, String)>,
    pub targets: Vec<Target>,
}

/// A routes line that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{0}")]
    Syntax(#[from] TokenError),
    #[error("must specify a condition and at least one target")]
    NoTarget,
    #[error("invalid value for '{key}': {why}")]
    BadValue { key: &'static str, why: String },
    #[error("target '{target}': {why}")]
    BadTarget { target: String, why: &'static str },
}

fn bad(key: &'static str, why: impl Into<String>) -> RouteError {
    RouteError::BadValue {
        key,
        why: why.into(),
    }
}

/// Parses a line; `Ok(None)` for blank and comment lines. `base_dir` is the
/// routes file's folder (for `sig_key=file:`).
pub fn parse_line(
    line: &str,
    line_no: usize,
    base_dir: &Path,
) -> Result<Option<Route>, RouteError> {
    let sections = tokenize(line)?;
    if sections.is_empty() {
        return Ok(None);
    }
    if sections.len() < 2 {
        return Err(RouteError::NoTarget);
    }
    let cond = &sections[0];
    let mut route = parse_condition(cond, line_no, base_dir)?;
    for t in &sections[1..] {
        route.targets.push(parse_target(t)?);
    }
    Ok(Some(route))
}

fn parse_condition(c: &Section, line: usize, base_dir: &Path) -> Result<Route, RouteError> {
    let domain = match c.value.as_str() {
        "" => Domain::None,
        "*" => Domain::Any,
        d => Domain::Exact(d.to_ascii_lowercase()),
    };
    let proto = match c.prop("proto") {
        None => None,
        Some("http") => Some(Proto::Http),
        Some("ws") => Some(Proto::Ws),
        Some(v) => return Err(bad("proto", format!("'{v}' is not 'http' or 'ws'"))),
    };
    let ssl = match c.prop("ssl") {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(v) => return Err(bad("ssl", format!("'{v}' is not 'yes' or 'no'"))),
    };
    let path_beg = match c.prop("path_beg") {
        Some("") => return Err(bad("path_beg", "cannot be empty")),
        p => p.map(str::to_owned),
    };
    let jsonp = parse_jsonp(c)?;
    let mut headers = Vec::new();
    for h in c.all("header") {
        match h.split_once(':') {
            Some((name, value)) if !name.is_empty() => {
                headers.push((name.to_owned(), value.trim_start().to_owned()));
            }
            _ => return Err(bad("header", format!("'{h}' is not 'name:value'"))),
        }
    }
    let signer = match (c.prop("sig_iss"), c.prop("sig_key")) {
        (Some(iss), Some(key)) if !iss.is_empty() => {
            let key = load_key(key, base_dir).map_err(|why| bad("sig_key", why))?;
            Some(Arc::new(Signer::new(iss, key)))
        }
        _ => None,
    };
    let replace_beg = c.prop("replace_beg").map(str::to_owned);
    let path_rem = if replace_beg.is_some() {
        path_beg.as_ref().map_or(0, String::len)
    } else {
        match c.prop("path_rem") {
            None => 0,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| bad("path_rem", format!("'{v}' is not a number")))?
                .max(0) as usize,
        }
    };
    Ok(Route {
        line,
        domain,
        proto,
        ssl,
        path_beg,
        id: c.prop("id").map(str::to_owned),
        signer,
        as_host: c.prop("as_host").map(str::to_owned),
        path_rem,
        replace_beg,
        prefix: c.prop("prefix").unwrap_or("").to_owned(),
        debug: c.has("debug"),
        aco: c.has("aco"),
        jsonp,
        session: c.has("session"),
        no_grip: c.has("no_grip"),
        orig_headers: c.has("orig_headers"),
        headers,
        targets: Vec::new(),
    })
}

/// The `jsonp_*` options. Empty values count as unset, as in 1.36.
fn parse_jsonp(c: &Section) -> Result<JsonpConfig, RouteError> {
    let mode = match c.prop("jsonp_mode") {
        None | Some("extended") => JsonpMode::Extended,
        Some("basic") => JsonpMode::Basic,
        Some(m) => {
            return Err(bad(
                "jsonp_mode",
                format!("'{m}' is not 'basic' or 'extended'"),
            ))
        }
    };
    let mut config = JsonpConfig::new(mode);
    let set = |key| c.prop(key).filter(|v| !v.is_empty()).map(str::to_owned);
    config.callback_param = set("jsonp_cb");
    config.body_param = set("jsonp_body");
    config.default_callback = set("jsonp_defcb");
    if let Some(m) = c.prop("jsonp_defmethod") {
        // 1.36 takes any text and sends it as the method; a line that
        // would make broken requests is refused here
        config.default_method = http::Method::from_bytes(m.as_bytes())
            .map_err(|_| bad("jsonp_defmethod", format!("'{m}' is not a method")))?;
    }
    Ok(config)
}

/// Loads a signing key: `file:PATH` (read as bytes), `base64:...`, or text.
pub(crate) fn load_key(spec: &str, base_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(path) = spec.strip_prefix("file:") {
        let p = base_dir.join(path);
        return std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    }
    parse_key(spec).map_err(|e| format!("bad base64: {e}"))
}

fn parse_target(t: &Section) -> Result<Target, RouteError> {
    let kind = if t.value == "test" {
        TargetKind::Test
    } else {
        let bad_target = |why| RouteError::BadTarget {
            target: t.value.clone(),
            why,
        };
        if t.value.starts_with("zhttp/") || t.value.starts_with("zhttpreq/") {
            return Err(bad_target("ZeroMQ (zhttp) targets are not supported"));
        }
        let (host, port) =
            split_host_port(&t.value).ok_or_else(|| bad_target("expected host:port"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad_target("invalid port"))?;
        TargetKind::Http {
            host: host.to_owned(),
            port,
        }
    };
    Ok(Target {
        kind,
        ssl: t.has("ssl"),
        insecure: t.has("insecure"),
        over_http: t.has("over_http"),
        one_event: t.has("one_event"),
        subs: t
            .all("sub")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        host: t.prop("host").map(str::to_owned),
        trust_connect_host: t.has("trust_connect_host"),
        untrusted: t.has("untrusted"),
    })
}

/// Splits `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.is_empty() || host.contains(':') {
        return None;
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Route>, RouteError> {
        parse_line(line, 1, Path::new("."))
    }

    #[test]
    fn full_route() {
        let r = parse(
            "example.COM,path_beg=/api/,replace_beg=/v1/,as_host=b.example:81,sig_iss=i,sig_key=k,header=\"X-A: 1\",debug \
             10.0.0.1:8080,ssl,over_http,sub=a,sub=b test",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.domain, Domain::Exact("example.com".into()));
        assert_eq!(r.path_beg.as_deref(), Some("/api/"));
        assert_eq!(r.path_rem, 5);
        assert_eq!(r.replace_beg.as_deref(), Some("/v1/"));
        assert_eq!(r.as_host.as_deref(), Some("b.example:81"));
        assert!(r.signer.is_some());
        assert!(r.debug);
        assert_eq!(r.headers, vec![("X-A".to_owned(), "1".to_owned())]);
        assert_eq!(r.targets.len(), 2);
        let t = &r.targets[0];
        assert_eq!(
            t.kind,
            TargetKind::Http {
                host: "10.0.0.1".into(),
                port: 8080
            }
        );
        assert!(t.ssl && t.over_http);
        assert_eq!(t.subs, vec!["a", "b"]);
        assert_eq!(r.targets[1].kind, TargetKind::Test);
    }

    #[test]
    fn route_sig_needs_both_parts() {
        let r = parse("*,sig_key=k t:1").unwrap().unwrap();
        assert!(r.signer.is_none());
    }

    #[test]
    fn ipv6_target() {
        let r = parse("* [::1]:80").unwrap().unwrap();
        assert_eq!(
            r.targets[0].kind,
            TargetKind::Http {
                host: "::1".into(),
                port: 80
            }
        );
    }

    #[test]
    fn every_error() {
        let cases = [
            ("a,", "expecting property"),
            ("a,=v t:1", "empty property name"),
            ("a,x=\"v t:1", "unterminated quote"),
            ("a,x=\"\\n\" t:1", "invalid escape"),
            ("*", "at least one target"),
            ("*,proto=udp t:1", "'proto'"),
            ("*,ssl=maybe t:1", "'ssl'"),
            ("*,path_beg= t:1", "'path_beg'"),
            ("*,jsonp_mode=x t:1", "'jsonp_mode'"),
            ("*,jsonp_defmethod=(x) t:1", "'jsonp_defmethod'"),
            ("*,jsonp_defmethod= t:1", "'jsonp_defmethod'"),
            ("*,header=nocolon t:1", "'header'"),
            ("*,path_rem=x t:1", "'path_rem'"),
            ("*,sig_iss=i,sig_key=base64:!! t:1", "'sig_key'"),
            ("*,sig_iss=i,sig_key=file:/nonexistent/key t:1", "'sig_key'"),
            ("* nohostport", "expected host:port"),
            ("* host:0", "invalid port"),
            ("* host:99999", "invalid port"),
            ("* host:x", "invalid port"),
            ("* zhttp/tcp://1.2.3.4:5", "not supported"),
        ];
        for (line, want) in cases {
            let e = parse(line).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn jsonp_options() {
        let r = parse("*,aco t:1").unwrap().unwrap();
        assert!(r.aco);
        assert_eq!(r.jsonp, JsonpConfig::default());
        assert_eq!(r.jsonp.default_method, http::Method::GET);
        let r = parse("*,jsonp_mode=basic,jsonp_cb=cb,jsonp_body=b,jsonp_defcb=d t:1")
            .unwrap()
            .unwrap();
        assert!(!r.aco);
        assert_eq!(r.jsonp.mode, JsonpMode::Basic);
        assert_eq!(r.jsonp.default_method, http::Method::POST);
        assert_eq!(r.jsonp.callback_param.as_deref(), Some("cb"));
        assert_eq!(r.jsonp.body_param.as_deref(), Some("b"));
        assert_eq!(r.jsonp.default_callback.as_deref(), Some("d"));
        let r = parse("*,jsonp_mode=basic,jsonp_defmethod=PUT,jsonp_cb= t:1")
            .unwrap()
            .unwrap();
        assert_eq!(r.jsonp.default_method, http::Method::PUT);
        assert_eq!(r.jsonp.callback_param, None);
    }

    #[test]
    fn blank_lines() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("  # just a comment").unwrap().is_none());
    }
}
