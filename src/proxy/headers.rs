//! Rewriting a client request into the request a backend receives, as 1.36
//! does: hop-by-hop and client `Grip-*` headers removed, `Grip-Sig` and
//! `Grip-Feature` added, `X-Forwarded-For`/`-Proto` per config, route
//! `header=` entries, path rewriting and the `Host` header.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;

use crate::config::{Config, XffRule, XfpMode};
use crate::grip::sig::Signer;
use crate::routes::{Route, Target};

/// What this proxy supports, sent on every backend request.
pub const GRIP_FEATURE: &str = "status, link:next, link:gone, filter:skip-self, filter:skip-users, filter:require-sub, filter:build-id, filter:var-subst";

/// Request headers never forwarded (1.36's list).
const REMOVED: [&str; 6] = [
    "connection",
    "keep-alive",
    "accept-encoding",
    "content-encoding",
    "transfer-encoding",
    "expect",
];

/// A request ready to be sent to any of a route's targets.
#[derive(Debug, Clone)]
pub struct BackendRequest {
    pub method: Method,
    /// Origin-form target: path (rewritten) and query.
    pub path_and_query: String,
    /// Headers without `Host` (set per target by [`BackendRequest::host_for`]).
    pub headers: HeaderMap,
    /// `Host` sent unless a target overrides it.
    pub host: String,
}

impl BackendRequest {
    /// The `Host` header value for a target.
    pub fn host_for(&self, target: &Target) -> String {
        target.host.clone().unwrap_or_else(|| self.host.clone())
    }
}

/// Splits a request-target into (path, query-with-`?`), turning an
/// absolute-form target into origin form.
pub fn split_target(target: &str) -> (&str, &str) {
    let t = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let rest = &target[i + 3..];
            rest.find(['/', '?']).map_or("/", |j| &rest[j..])
        }
        _ => target,
    };
    match t.find('?') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    }
}

/// The path after `path_rem` / `replace_beg`.
pub fn rewrite_path(path: &str, route: &Route) -> String {
    let rest = path.get(route.path_rem.min(path.len())..).unwrap_or("");
    let mut p = String::with_capacity(path.len() + 8);
    if let Some(b) = &route.replace_beg {
        p.push_str(b);
    }
    p.push_str(rest);
    if p.is_empty() {
        p.push('/');
    }
    p
}

/// Everything about the client that shapes the forwarded headers.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo<'a> {
    /// `None`: a Unix-socket client.
    pub peer: Option<IpAddr>,
    /// The client's Grip-Sig verified with `upstream_key`.
    pub trusted: bool,
    /// https/wss (TLS, or a trusted `X-Forwarded-Proto`).
    pub secure: bool,
    pub websocket: bool,
    pub host: &'a str,
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Builds the backend request from a client request.
pub fn prepare(
    method: &Method,
    target: &str,
    client_headers: &HeaderMap,
    client: ClientInfo<'_>,
    route: &Route,
    config: &Config,
    global_signer: &Signer,
) -> BackendRequest {
    let (path, query) = split_target(target);
    let path_and_query = format!("{}{}", rewrite_path(path, route), query);
    let mut h = client_headers.clone();
    mark_original_headers(
        &mut h,
        route.orig_headers && !client.trusted,
        route.orig_headers,
        config,
    );
    if config.accept_pushpin_route {
        h.remove("pushpin-route");
    }
    h.remove(http::header::HOST);
    for (name, value) in route.headers.iter().rev() {
        if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
            h.remove(&n);
            if !value.is_empty() {
                h.append(n, hv(value));
            }
        }
    }
    for name in REMOVED {
        h.remove(name);
    }
    if !client.trusted {
        remove_grip_headers(&mut h);
        if !route.no_grip {
            let signer = route.signer.as_deref().unwrap_or(global_signer);
            if !signer.issuer().is_empty() {
                h.insert("grip-sig", hv(&signer.token()));
            }
            h.insert("grip-feature", HeaderValue::from_static(GRIP_FEATURE));
        }
    }
    if config.accept_xfp || config.set_xfp != XfpMode::Off {
        h.remove("x-forwarded-proto");
        h.remove("x-forwarded-protocol");
    }
    if config.set_xfp != XfpMode::Off && client.secure {
        let scheme = if client.websocket { "wss" } else { "https" };
        h.append("x-forwarded-proto", HeaderValue::from_static(scheme));
        if config.set_xfp == XfpMode::Both {
            h.append("x-forwarded-protocol", HeaderValue::from_static(scheme));
        }
    }
    let rule = if client.trusted {
        config.xff_trusted
    } else {
        config.xff
    };
    apply_xff(&mut h, rule, client.peer);
    let host = match &route.as_host {
        Some(a) => a.to_ascii_lowercase(),
        None => client.host.to_ascii_lowercase(),
    };
    BackendRequest {
        method: method.clone(),
        path_and_query,
        headers: h,
        host,
    }
}

/// The prefix of copies of the client's original headers (1.36's mark).
const ORIG_MARK: &str = "eb9bf0f5-";

/// The route option `orig_headers`, as 1.36 applies it before anything
/// else touches the headers. `copy`: every client header is also sent as
/// `eb9bf0f5-NAME` (except names in `orig_headers_need_mark`, which go only
/// if the client marked them itself), so the backend can see what the
/// client sent; marked ones the client sent are kept. Without the option,
/// marked headers from the client are dropped. A trusted client's are kept
/// as they are when the option is on (`keep`): it marked them already.
fn mark_original_headers(h: &mut HeaderMap, copy: bool, keep: bool, config: &Config) {
    let marked: Vec<HeaderName> = h
        .keys()
        .filter(|n| n.as_str().starts_with(ORIG_MARK))
        .cloned()
        .collect();
    if !copy {
        if !keep {
            for n in marked {
                h.remove(n);
            }
        }
        return;
    }
    let mut copies: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(h.len());
    for (name, value) in h.iter() {
        let n = name.as_str();
        if n.starts_with(ORIG_MARK) {
            copies.push((name.clone(), value.clone()));
        } else if !config.orig_headers_need_mark.iter().any(|m| m == n) {
            if let Ok(m) = HeaderName::from_bytes(format!("{ORIG_MARK}{n}").as_bytes()) {
                copies.push((m, value.clone()));
            }
        }
    }
    for n in marked {
        h.remove(n);
    }
    for (n, v) in copies {
        h.append(n, v);
    }
}

/// Removes every header whose name starts with `Grip-`.
pub fn remove_grip_headers(h: &mut HeaderMap) {
    let names: Vec<HeaderName> = h
        .keys()
        .filter(|n| n.as_str().starts_with("grip-"))
        .cloned()
        .collect();
    for n in names {
        h.remove(n);
    }
}

/// Text form of a peer address (IPv4-mapped IPv6 shown as IPv4).
pub fn peer_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Applies an `x_forwarded_for` rule. A client without an address (Unix
/// socket) appends an empty entry, as 1.36 does: `a` becomes `a, `, and a
/// header that would be empty is left out.
pub fn apply_xff(h: &mut HeaderMap, rule: XffRule, peer: Option<IpAddr>) {
    let mut list: Vec<String> = h
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(n) = rule.truncate {
        let drop = list.len().saturating_sub(n);
        list.drain(..drop);
    }
    if rule.append {
        list.push(peer.map(peer_text).unwrap_or_default());
    }
    h.remove("x-forwarded-for");
    let joined = list.join(", ");
    if !joined.is_empty() {
        h.insert("x-forwarded-for", hv(&joined));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::parse_line;
    use std::path::Path;

    fn route(line: &str) -> Route {
        parse_line(line, 1, Path::new(".")).unwrap().unwrap()
    }

    fn client<'a>(host: &'a str) -> ClientInfo<'a> {
        ClientInfo {
            peer: Some("127.0.0.1".parse().unwrap()),
            trusted: false,
            secure: false,
            websocket: false,
            host,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), hv(v));
        }
        h
    }

    #[test]
    fn targets_and_paths() {
        assert_eq!(split_target("/a/b?x=1"), ("/a/b", "?x=1"));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", "?q"));
        assert_eq!(split_target("http://h:1"), ("/", ""));
        let r = route("*,path_beg=/old/,replace_beg=/new/ a:1");
        assert_eq!(rewrite_path("/old/x", &r), "/new/x");
        let r = route("*,path_beg=/p/,path_rem=2 a:1");
        assert_eq!(rewrite_path("/p/x", &r), "/x");
        assert_eq!(rewrite_path("/", &r), "/");
    }

    #[test]
    fn forwarded_headers() {
        let config = Config {
            xff: XffRule {
                truncate: None,
                append: true,
            },
            ..Config::default()
        };
        let signer = Signer::new("pushpin", b"k".to_vec());
        let h = headers(&[
            ("Host", "WWW.Example.com:8080"),
            ("Grip-Foo", "x"),
            ("Grip-Sig", "forged"),
            ("Connection", "keep-alive"),
            ("Accept-Encoding", "gzip"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Other", "y"),
        ]);
        let r = route("* a:1");
        let b = prepare(
            &Method::GET,
            "/p?q=1",
            &h,
            client("WWW.Example.com:8080"),
            &r,
            &config,
            &signer,
        );
        assert_eq!(b.path_and_query, "/p?q=1");
        assert_eq!(b.host, "www.example.com:8080");
        assert!(b.headers.get("grip-foo").is_none());
        assert_ne!(b.headers.get("grip-sig").unwrap(), "forged");
        assert_eq!(b.headers.get_all("grip-sig").iter().count(), 1);
        assert_eq!(b.headers.get("grip-feature").unwrap(), GRIP_FEATURE);
        assert!(b.headers.get("connection").is_none());
        assert!(b.headers.get("accept-encoding").is_none());
        assert_eq!(
            b.headers.get("x-forwarded-for").unwrap(),
            "203.0.113.7, 127.0.0.1"
        );
        assert_eq!(b.headers.get("x-other").unwrap(), "y");
        assert!(b.headers.get("host").is_none());
    }

    #[test]
    fn xff_rules() {
        let peer: Option<IpAddr> = Some("::ffff:10.0.0.9".parse().unwrap());
        let mut h = headers(&[("X-Forwarded-For", "a, b"), ("X-Forwarded-For", "c")]);
        apply_xff(
            &mut h,
            XffRule {
                truncate: Some(0),
                append: true,
            },
            peer,
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "10.0.0.9");
        let mut h = headers(&[("X-Forwarded-For", "a, b, c")]);
        apply_xff(
            &mut h,
            XffRule {
                truncate: Some(2),
                append: false,
            },
            peer,
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "b, c");
        let mut h = HeaderMap::new();
        apply_xff(&mut h, XffRule::default(), peer);
        assert!(h.get("x-forwarded-for").is_none());
    }

    #[test]
    fn xff_for_a_client_without_an_address() {
        let append = XffRule {
            truncate: None,
            append: true,
        };
        let mut h = headers(&[("X-Forwarded-For", "9.9.9.9")]);
        apply_xff(&mut h, append, None);
        assert_eq!(h.get("x-forwarded-for").unwrap(), "9.9.9.9, ");
        let mut h = HeaderMap::new();
        apply_xff(&mut h, append, None);
        assert!(h.get("x-forwarded-for").is_none());
    }

    #[test]
    fn route_headers_sig_and_hosts() {
        let signer = Signer::new("pushpin", b"k".to_vec());
        let r = route("*,as_host=Other.example:81,header=X-A:1,header=X-A:2,header=X-Gone:,sig_iss=ri,sig_key=rk,no_grip a:1,host=t.example");
        let h = headers(&[("X-Gone", "bye")]);
        let b = prepare(
            &Method::GET,
            "/",
            &h,
            client("c.example"),
            &r,
            &Config::default(),
            &signer,
        );
        assert_eq!(
            b.headers.get_all("x-a").iter().collect::<Vec<_>>(),
            vec!["1"]
        );
        assert!(b.headers.get("x-gone").is_none());
        assert!(
            b.headers.get("grip-sig").is_none(),
            "no_grip routes are not signed"
        );
        assert_eq!(b.host, "other.example:81");
        assert_eq!(b.host_for(&r.targets[0]), "t.example");
    }
}
