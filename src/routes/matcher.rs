//! The route table and the 1.36 matching rules.
//!
//! A request's host is lower-cased and its port dropped. If the table has
//! routes for that host, only those are candidates; otherwise the `*` routes
//! are. A route whose domain has a port (`example.com:8080`) therefore never
//! matches, as in 1.36, where such a line is dead. Among matching candidates, a `proto=`
//! route beats one without, then the longer `path_beg` wins, then one with
//! an `ssl=` condition; on a tie the earlier line wins.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::parse::{parse_line, Domain, Proto, Route, RouteError};

/// An immutable set of routes, indexed by domain.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_host: HashMap<String, Vec<Arc<Route>>>,
    any: Vec<Arc<Route>>,
    /// Routes by `id=`; `None` for an id that several routes share, which
    /// then names no route (as in 1.36).
    by_id: HashMap<String, Option<Arc<Route>>>,
    len: usize,
}

/// What a route id (`Pushpin-Route: ID`) names.
#[derive(Debug, Clone)]
pub enum RouteById {
    Found(Arc<Route>),
    /// Several routes have this id: the request is routed as usual.
    Shared,
    /// No route has this id.
    Unknown,
}

/// The host part of a `Host` header value (lower-case, no port, no brackets).
pub fn host_without_port(host: &str) -> String {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    h.to_ascii_lowercase()
}

fn same_condition(a: &Route, b: &Route) -> bool {
    a.domain == b.domain && a.proto == b.proto && a.ssl == b.ssl && a.path_beg == b.path_beg
}

impl RouteTable {
    /// Parses a whole routes file. The error carries the 1-based line.
    pub fn parse(text: &str, base_dir: &Path) -> Result<RouteTable, (usize, RouteError)> {
        let mut routes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(r) = parse_line(line, i + 1, base_dir).map_err(|e| (i + 1, e))? {
                routes.push(r);
            }
        }
        Ok(RouteTable::from_routes(routes))
    }

    /// Builds a table; a later route with the same condition as an earlier
    /// one is skipped (as 1.36 does), with a warning.
    pub fn from_routes(routes: Vec<Route>) -> RouteTable {
        let mut t = RouteTable::default();
        let mut all: Vec<Arc<Route>> = Vec::new();
        for r in routes {
            if all.iter().any(|o| same_condition(o, &r)) {
                tracing::warn!(line = r.line, "routes: skipping duplicate condition");
                continue;
            }
            let r = Arc::new(r);
            match &r.domain {
                Domain::Any => t.any.push(r.clone()),
                Domain::Exact(d) if host_without_port(d) != *d => {
                    tracing::warn!(line = r.line, domain = %d, "routes: a domain with a port never matches (the request's port is ignored)");
                }
                Domain::Exact(d) => t.by_host.entry(d.clone()).or_default().push(r.clone()),
                Domain::None => {}
            }
            if let Some(id) = &r.id {
                t.by_id
                    .entry(id.clone())
                    .and_modify(|slot| *slot = None)
                    .or_insert_with(|| Some(r.clone()));
            }
            all.push(r);
        }
        t.len = all.len();
        t
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A route by its `id=`.
    pub fn by_id(&self, id: &str) -> RouteById {
        match self.by_id.get(id) {
            Some(Some(r)) => RouteById::Found(r.clone()),
            Some(None) => RouteById::Shared,
            None => RouteById::Unknown,
        }
    }

    /// The route for a request, if any.
    pub fn find(&self, host: &str, path: &str, proto: Proto, secure: bool) -> Option<Arc<Route>> {
        let bare = host_without_port(host);
        let candidates = self.by_host.get(&bare).unwrap_or(&self.any);
        let mut best: Option<&Arc<Route>> = None;
        for r in candidates {
            let matches = r.proto.is_none_or(|p| p == proto)
                && r.ssl.is_none_or(|s| s == secure)
                && r.path_beg.as_deref().is_none_or(|p| path.starts_with(p));
            if !matches {
                continue;
            }
            best = match best {
                None => Some(r),
                Some(b) if better(r, b) => Some(r),
                keep => keep,
            };
        }
        best.cloned()
    }
}

fn better(r: &Route, b: &Route) -> bool {
    match (b.proto.is_some(), r.proto.is_some()) {
        (false, true) => return true,
        (true, false) => return false,
        _ => {}
    }
    let len = |x: &Route| x.path_beg.as_ref().map_or(0, String::len);
    if len(r) > len(b) {
        return true;
    }
    b.ssl.is_none() && r.ssl.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> RouteTable {
        RouteTable::parse(text, Path::new(".")).unwrap()
    }

    fn line_of(t: &RouteTable, host: &str, path: &str) -> Option<usize> {
        t.find(host, path, Proto::Http, false).map(|r| r.line)
    }

    #[test]
    fn longest_prefix_wins_regardless_of_order() {
        let t = table("*,path_beg=/api/v2/ b:2\n*,path_beg=/api/ a:1\n* c:3\n");
        assert_eq!(line_of(&t, "x", "/api/v2/z"), Some(1));
        assert_eq!(line_of(&t, "x", "/api/v1/z"), Some(2));
        assert_eq!(line_of(&t, "x", "/other"), Some(3));
    }

    #[test]
    fn ids_name_one_route_unless_shared() {
        let t = table("a.example,id=one a:1\n*,id=two b:2\n*,path_beg=/x,id=two c:3\n");
        let line = |id| match t.by_id(id) {
            RouteById::Found(r) => Some(r.line),
            _ => None,
        };
        assert_eq!(line("one"), Some(1));
        assert!(matches!(t.by_id("two"), RouteById::Shared));
        assert!(matches!(t.by_id("three"), RouteById::Unknown));
    }

    #[test]
    fn domain_matching() {
        let t = table("Alpha.Example a:1\n* b:2\n");
        assert_eq!(line_of(&t, "alpha.example", "/"), Some(1));
        assert_eq!(line_of(&t, "ALPHA.example:7999", "/"), Some(1));
        assert_eq!(line_of(&t, "beta.example", "/"), Some(2));
    }

    #[test]
    fn domain_routes_do_not_fall_back_to_any() {
        let t = table("a.example,path_beg=/x/ a:1\n* b:2\n");
        assert_eq!(line_of(&t, "a.example", "/y"), None);
    }

    #[test]
    fn domain_with_port_never_matches() {
        let t = table("a.example:8080 a:1\n* b:2\n");
        assert_eq!(line_of(&t, "a.example:8080", "/"), Some(2));
        assert_eq!(line_of(&t, "a.example", "/"), Some(2));
    }

    #[test]
    fn proto_and_ssl() {
        let t = table("* a:1\n*,proto=ws b:2\n*,ssl=yes c:3\n");
        assert_eq!(t.find("h", "/", Proto::Ws, false).unwrap().line, 2);
        assert_eq!(t.find("h", "/", Proto::Http, true).unwrap().line, 3);
        assert_eq!(t.find("h", "/", Proto::Http, false).unwrap().line, 1);
    }

    #[test]
    fn no_route_and_duplicates() {
        let t = table("only.example a:1\nonly.example b:2\n");
        assert_eq!(t.len(), 1);
        assert_eq!(line_of(&t, "only.example", "/"), Some(1));
        assert_eq!(line_of(&t, "other", "/"), None);
    }

    #[test]
    fn error_line_numbers() {
        let (line, _) = RouteTable::parse("# c\n\n* ok:1\n* bad\n", Path::new(".")).unwrap_err();
        assert_eq!(line, 4);
    }

    #[test]
    fn hosts() {
        assert_eq!(host_without_port("Example.COM:7999"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "::1");
        assert_eq!(host_without_port("plain"), "plain");
    }
}
