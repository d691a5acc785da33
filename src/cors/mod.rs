//! Automatic cross-origin support (the route option `aco`, or `[proxy]
//! auto_cross_origin`): CORS headers on every response, and JSON-P for
//! `GET` requests that carry a callback parameter.
//!
//! Pure (no I/O). The proxy decides per request whether cross-origin
//! handling is on and, if the request is JSON-P, rewrites it with
//! [`jsonp::rewrite`]; the result is a [`CrossOrigin`] kept in the request's
//! context. Every place that writes a response to such a request asks this
//! module to finish it: [`apply_cors`] adds the CORS headers, [`wrap`] turns
//! a response into JSON-P. Preflight (`OPTIONS`) requests are not answered
//! here: as in 1.36 they go to the backend like any request, and its answer
//! gets the CORS headers.
//!
//! When cross-origin handling is off, a request carries `None` and nothing
//! here runs.

pub mod jsonp;
pub mod wrap;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::http1::ResponseHead;

pub use jsonp::{JsonpConfig, JsonpError, JsonpMode};
pub use wrap::Wrap;

/// What cross-origin handling does to one request's responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossOrigin {
    /// Add CORS headers (computed from the request's headers).
    Cors,
    /// Answer with JSON-P instead (no CORS headers then, as in 1.36, except
    /// on a stream hold's initial response).
    Jsonp(Wrap),
}

impl CrossOrigin {
    /// Finishes a complete response the proxy writes (relayed whole,
    /// generated, or answered from GRIP instructions without a hold), as
    /// 1.36's request session does: CORS headers, or the JSON-P wrapper
    /// (whose extended object lists `head`'s headers as they are).
    pub fn complete(&self, req: &HeaderMap, head: &mut ResponseHead, body: &mut Bytes) {
        match self {
            CrossOrigin::Cors => apply_cors(req, &mut head.headers),
            CrossOrigin::Jsonp(w) => {
                let wrapped = w.whole(head.status, &head.reason, &head.headers, body);
                *head = wrap::wrapper_head(&head.headers);
                *body = Bytes::from(wrapped);
            }
        }
    }

    /// Finishes a long-poll hold's response (published, timed out, or
    /// failed), as 1.36's handler does.
    pub fn hold_complete(&self, req: &HeaderMap, head: &mut ResponseHead, body: &mut Bytes) {
        match self {
            CrossOrigin::Cors => apply_cors(req, &mut head.headers),
            CrossOrigin::Jsonp(w) => {
                let old = std::mem::replace(head, ResponseHead::new(200, "OK"));
                let (h, b) = w.hold_response(old, body);
                *head = h;
                *body = Bytes::from(b);
            }
        }
    }
}

/// Response headers a browser exposes without being told; never listed in
/// `Access-Control-Expose-Headers`.
const SIMPLE: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

const ALLOW_METHODS: HeaderName = HeaderName::from_static("access-control-allow-methods");
const ALLOW_HEADERS: HeaderName = HeaderName::from_static("access-control-allow-headers");
const EXPOSE_HEADERS: HeaderName = HeaderName::from_static("access-control-expose-headers");
const ALLOW_CREDENTIALS: HeaderName = HeaderName::from_static("access-control-allow-credentials");
const ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");
const MAX_AGE: HeaderName = HeaderName::from_static("access-control-max-age");

/// Adds the CORS headers 1.36 adds, each only when the response does not
/// already have it, appended in 1.36's order:
///
/// - `Allow-Methods`: the request's `Access-Control-Request-Method`, or a
///   fixed list;
/// - `Allow-Headers`: the request's `Access-Control-Request-Headers` (all
///   of them, split on commas, empties dropped), if any;
/// - `Expose-Headers`: every response header that is not simple, not
///   `Access-Control-*` and not `Grip-*`, if any;
/// - `Allow-Credentials: true`;
/// - `Allow-Origin`: the request's `Origin`, or `*`;
/// - `Max-Age: 3600`.
///
/// Call it before framing headers (`Connection`, `Transfer-Encoding`) are
/// added, or they would be listed as exposed.
pub fn apply_cors(req: &HeaderMap, resp: &mut HeaderMap) {
    if !resp.contains_key(&ALLOW_METHODS) {
        let v = match req.get("access-control-request-method") {
            Some(m) if !m.is_empty() => m.clone(),
            _ => HeaderValue::from_static("OPTIONS, HEAD, GET, POST, PUT, DELETE"),
        };
        resp.append(ALLOW_METHODS, v);
    }
    if !resp.contains_key(&ALLOW_HEADERS) {
        let names: Vec<&[u8]> = req
            .get_all("access-control-request-headers")
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(v) = joined(&names) {
            resp.append(ALLOW_HEADERS, v);
        }
    }
    if !resp.contains_key(&EXPOSE_HEADERS) {
        let names: Vec<String> = resp
            .keys()
            .map(HeaderName::as_str)
            .filter(|n| {
                !SIMPLE.contains(n) && !n.starts_with("access-control-") && !n.starts_with("grip-")
            })
            .map(title_cased)
            .collect();
        let names: Vec<&[u8]> = names.iter().map(String::as_bytes).collect();
        if let Some(v) = joined(&names) {
            resp.append(EXPOSE_HEADERS, v);
        }
    }
    if !resp.contains_key(&ALLOW_CREDENTIALS) {
        resp.append(ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    if !resp.contains_key(&ALLOW_ORIGIN) {
        let v = match req.get(http::header::ORIGIN) {
            Some(o) if !o.is_empty() => o.clone(),
            _ => HeaderValue::from_static("*"),
        };
        resp.append(ALLOW_ORIGIN, v);
    }
    if !resp.contains_key(&MAX_AGE) {
        resp.append(MAX_AGE, HeaderValue::from_static("3600"));
    }
}

/// `a, b, c` as a header value; `None` for an empty list.
fn joined(parts: &[&[u8]]) -> Option<HeaderValue> {
    if parts.is_empty() {
        return None;
    }
    let v = parts.join(&b", "[..]);
    HeaderValue::from_bytes(&v).ok()
}

/// A header name as our responses spell it (`x-foo` → `X-Foo`): header
/// names are kept lower-cased and written title-cased, so lists of names
/// in values use the same spelling.
pub(crate) fn title_cased(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// Removes every `name` header and keeps the others in their order
/// (`HeaderMap::remove` may move the last header into the gap).
pub(crate) fn remove_in_order(headers: &mut HeaderMap, name: &HeaderName) {
    if !headers.contains_key(name) {
        return;
    }
    let old = std::mem::take(headers);
    let mut last: Option<HeaderName> = None;
    for (n, v) in old {
        if let Some(n) = n {
            last = Some(n);
        }
        let n = last.as_ref().expect("first item has a name");
        if n != name {
            headers.append(n.clone(), v);
        }
    }
}
