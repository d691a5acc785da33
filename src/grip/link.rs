//! URLs of `Grip-Link`s: resolving a relative link against the request's
//! URL (RFC 3986 §5.2) and splitting an absolute one into its parts.

/// An absolute `http`/`https` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Host as written (IPv6 without brackets), lower-cased.
    pub host: String,
    pub port: u16,
    /// Whether the port was written (so `Host` shows it).
    pub explicit_port: bool,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

impl Url {
    /// Parses `http://host[:port]/path?query`.
    pub fn parse(s: &str) -> Option<Url> {
        let (https, rest) = if let Some(r) = strip_prefix_ci(s, "https://") {
            (true, r)
        } else {
            (false, strip_prefix_ci(s, "http://")?)
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let default = if https { 443 } else { 80 };
        let (port, explicit_port) = match port {
            Some(p) if !p.is_empty() => (p.parse().ok()?, true),
            _ => (default, false),
        };
        let tail = tail.split('#').next().unwrap_or("");
        let path_and_query = if tail.starts_with('/') {
            tail.to_owned()
        } else {
            format!("/{tail}")
        };
        Some(Url {
            https,
            host: host.to_ascii_lowercase(),
            port,
            explicit_port,
            path_and_query,
        })
    }

    /// `host[:port]` as a `Host` header shows it.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.explicit_port {
            format!("{host}:{}", self.port)
        } else {
            host
        }
    }

    /// Same scheme, host and port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.https == other.https && self.host == other.host && self.port == other.port
    }

    pub fn to_string_full(&self) -> String {
        format!(
            "{}://{}{}",
            if self.https { "https" } else { "http" },
            self.authority(),
            self.path_and_query
        )
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// Resolves `reference` against the absolute URL `base`.
pub fn resolve(base: &Url, reference: &str) -> Option<Url> {
    let r = reference.trim();
    if r.contains("://") {
        return Url::parse(r);
    }
    let scheme = if base.https { "https" } else { "http" };
    if let Some(rest) = r.strip_prefix("//") {
        return Url::parse(&format!("{scheme}://{rest}"));
    }
    let (base_path, base_query) = match base.path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base.path_and_query.as_str(), None),
    };
    let r = r.split('#').next().unwrap_or("");
    let path_and_query = if r.is_empty() {
        match base_query {
            Some(q) => format!("{base_path}?{q}"),
            None => base_path.to_owned(),
        }
    } else if r.starts_with('?') {
        format!("{base_path}{r}")
    } else {
        let (rpath, rquery) = match r.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (r, None),
        };
        let merged = if rpath.starts_with('/') {
            rpath.to_owned()
        } else {
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{rpath}")
        };
        let path = remove_dot_segments(&merged);
        match rquery {
            Some(q) => format!("{path}?{q}"),
            None => path,
        }
    };
    Some(Url {
        path_and_query,
        ..base.clone()
    })
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://Example.com:8080/a/b/c?x=1").unwrap()
    }

    #[test]
    fn parses() {
        let u = base();
        assert_eq!(
            (u.host.as_str(), u.port, u.explicit_port),
            ("example.com", 8080, true)
        );
        assert_eq!(u.path_and_query, "/a/b/c?x=1");
        assert_eq!(u.authority(), "example.com:8080");
        let u = Url::parse("https://[::1]/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority()),
            ("::1", 443, "[::1]".to_owned())
        );
        assert_eq!(Url::parse("http://h").unwrap().path_and_query, "/");
        assert!(Url::parse("ftp://h/").is_none());
        assert!(Url::parse("http:///x").is_none());
    }

    #[test]
    fn resolves_like_rfc_3986() {
        let r = |s: &str| resolve(&base(), s).unwrap().to_string_full();
        assert_eq!(r("/next"), "http://example.com:8080/next");
        assert_eq!(r("next?p=2"), "http://example.com:8080/a/b/next?p=2");
        assert_eq!(r("../up"), "http://example.com:8080/a/up");
        assert_eq!(r("./"), "http://example.com:8080/a/b/");
        assert_eq!(r("?y=2"), "http://example.com:8080/a/b/c?y=2");
        assert_eq!(r("//other.example/p"), "http://other.example/p");
        assert_eq!(r("https://other.example:9/p"), "https://other.example:9/p");
        assert_eq!(r("../../../../z"), "http://example.com:8080/z");
        assert!(resolve(&base(), "/x").unwrap().same_origin(&base()));
        assert!(!resolve(&base(), "http://example.com/x")
            .unwrap()
            .same_origin(&base()));
    }
}
