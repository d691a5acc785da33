//! The built-in `test` route target: a tiny origin inside the proxy that
//! answers `/` with a greeting, `/response` and `/stream` with GRIP holds on
//! channel `test` (or `?channel=` values), `/ws` with an echo WebSocket, and
//! anything else with 404. Its answers go through the same GRIP handling as
//! a real backend's.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::http1::RequestHead;
use crate::proxy::headers::{rewrite_path, split_target};
use crate::proxy::BackendReply;
use crate::routes::Route;

/// Largest request body the test handler takes.
const MAX_BODY: usize = 100_000;

/// What the test handler serves for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Root,
    Response,
    Stream,
    Ws,
    Unknown,
}

/// The path the test handler sees and the channels it uses.
pub fn resolve(head: &RequestHead, route: &Route) -> (Resource, Vec<String>) {
    let (path, query) = split_target(&head.target);
    let mut p = rewrite_path(path, route);
    if let Some(beg) = &route.path_beg {
        let n = if beg.ends_with('/') {
            beg.len() - 1
        } else {
            beg.len()
        };
        if n > 0 && p.len() >= n {
            p = p[n..].to_owned();
        }
    }
    let mut p = percent_decode(&p);
    if p.len() >= 2 && p.ends_with('/') {
        p.pop();
    }
    let resource = match p.as_str() {
        "" | "/" => Resource::Root,
        "/response" => Resource::Response,
        "/stream" => Resource::Stream,
        "/ws" => Resource::Ws,
        _ => Resource::Unknown,
    };
    let mut channels: Vec<String> = Vec::new();
    for pair in query.trim_start_matches('?').split('&') {
        if let Some(v) = pair.strip_prefix("channel=") {
            let v = percent_decode(&v.replace('+', " "));
            if !channels.contains(&v) {
                channels.push(v);
            }
        }
    }
    if channels.is_empty() {
        channels.push("test".to_owned());
    }
    (resource, channels)
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reply(
    code: u16,
    reason: &str,
    body: &'static str,
    grip: Option<(&'static str, &[String])>,
) -> BackendReply {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    if let Some((hold, channels)) = grip {
        headers.insert("grip-hold", HeaderValue::from_static(hold));
        if let Ok(v) = HeaderValue::from_str(&channels.join(", ")) {
            headers.insert("grip-channel", v);
        }
    }
    BackendReply {
        code,
        reason: reason.to_owned(),
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// The test handler's answer to an HTTP request.
pub fn respond(head: &RequestHead, route: &Route, body: Option<&[u8]>) -> BackendReply {
    if body.is_none_or(|b| b.len() > MAX_BODY) {
        return reply(400, "Bad Request", "request too large\n", None);
    }
    let (resource, channels) = resolve(head, route);
    match resource {
        Resource::Root => reply(200, "OK", "Hello from the Pushpin test handler!\n", None),
        Resource::Response => reply(
            200,
            "OK",
            "nothing for now\n",
            Some(("response", &channels)),
        ),
        Resource::Stream => reply(200, "OK", "[stream opened]\n", Some(("stream", &channels))),
        Resource::Ws | Resource::Unknown => {
            reply(404, "Not Found", "no such test resource\n", None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::parse_line;
    use std::path::Path;

    fn head(target: &str) -> RequestHead {
        RequestHead {
            method: http::Method::GET,
            target: target.to_owned(),
            version: crate::http1::Version::Http11,
            headers: HeaderMap::new(),
        }
    }

    #[test]
    fn resources_and_channels() {
        let r = parse_line("*,path_beg=/testroute/ test", 1, Path::new("."))
            .unwrap()
            .unwrap();
        assert_eq!(resolve(&head("/testroute/"), &r).0, Resource::Root);
        assert_eq!(resolve(&head("/testroute/stream/"), &r).0, Resource::Stream);
        let (res, ch) = resolve(
            &head("/testroute/response?channel=a%20b&channel=c&channel=c"),
            &r,
        );
        assert_eq!(res, Resource::Response);
        assert_eq!(ch, vec!["a b", "c"]);
        assert_eq!(resolve(&head("/testroute/nope"), &r).0, Resource::Unknown);
        let r = parse_line("* test", 1, Path::new(".")).unwrap().unwrap();
        assert_eq!(
            resolve(&head("/ws"), &r),
            (Resource::Ws, vec!["test".to_owned()])
        );
    }

    #[test]
    fn replies() {
        let r = parse_line("* test", 1, Path::new(".")).unwrap().unwrap();
        let root = respond(&head("/"), &r, Some(b""));
        assert_eq!(
            (root.code, &root.body[..]),
            (200, &b"Hello from the Pushpin test handler!\n"[..])
        );
        let s = respond(&head("/stream"), &r, Some(b""));
        assert_eq!(s.headers["grip-hold"], "stream");
        assert_eq!(s.headers["grip-channel"], "test");
        let big = vec![0u8; MAX_BODY + 1];
        assert_eq!(respond(&head("/"), &r, Some(&big)).code, 400);
        assert_eq!(respond(&head("/x"), &r, Some(b"")).code, 404);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/str%65am"), "/stream");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
