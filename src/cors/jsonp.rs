//! JSON-P requests: which `GET` requests are JSON-P, and how they are
//! rewritten before they go to the backend (method, target, headers and
//! body from query parameters), following 1.36's rules:
//!
//! - JSON-P applies to a `GET` with the callback parameter (`jsonp_cb`,
//!   default `callback`), or, when the route has both `jsonp_defcb` and
//!   `jsonp_body`, with the body parameter alone (the default callback is
//!   used then).
//! - `_method` sets the method (else `jsonp_defmethod`: `POST` for basic
//!   mode, `GET` for extended); `_headers` (a JSON object of strings) adds
//!   request headers, except `Host` and `Accept`.
//! - The body comes from the `jsonp_body` parameter (the request then gets
//!   `Content-Type: application/json`), or from `_body` when the route has
//!   no `jsonp_body`.
//! - The parameters used are removed from the query; the others stay as the
//!   client sent them. The request gets `Accept: */*`.
//!
//! Values are percent-decoded leniently, like 1.36 (whose URL parser keeps a
//! `%` that starts no valid escape as a literal `%`); `+` stays `+`.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;

use super::wrap::Wrap;

/// `jsonp_mode`: what the JSON-P response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonpMode {
    /// Only the backend's body, as the callback's argument.
    Basic,
    /// An object with the backend's code, reason, headers and body.
    Extended,
}

/// A route's JSON-P options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonpConfig {
    pub mode: JsonpMode,
    /// `jsonp_cb`; `None` means `callback`.
    pub callback_param: Option<String>,
    /// `jsonp_body`.
    pub body_param: Option<String>,
    /// `jsonp_defcb`.
    pub default_callback: Option<String>,
    /// `jsonp_defmethod`, or the mode's default.
    pub default_method: Method,
}

impl Default for JsonpConfig {
    /// A route without JSON-P options (extended mode).
    fn default() -> Self {
        JsonpConfig::new(JsonpMode::Extended)
    }
}

impl JsonpConfig {
    /// The options of a route that sets only `jsonp_mode`.
    pub fn new(mode: JsonpMode) -> Self {
        JsonpConfig {
            mode,
            callback_param: None,
            body_param: None,
            default_callback: None,
            default_method: match mode {
                JsonpMode::Basic => Method::POST,
                JsonpMode::Extended => Method::GET,
            },
        }
    }
}

/// A JSON-P request that cannot be served (answered `400`, with the
/// message as the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonpError {
    #[error("Invalid callback parameter.")]
    Callback,
    #[error("Invalid _method parameter.")]
    Method,
    #[error("Invalid _headers parameter.")]
    Headers,
    #[error("Invalid body parameter.")]
    Body,
    #[error("Invalid _body parameter.")]
    UnderscoreBody,
}

/// A JSON-P request as it goes to the backend.
#[derive(Debug, Clone)]
pub struct JsonpRequest {
    pub method: Method,
    /// Path and the query that is left.
    pub target: String,
    pub headers: HeaderMap,
    /// Goes in front of whatever body the client sent.
    pub body: Bytes,
    /// How the responses are wrapped.
    pub wrap: Wrap,
}

/// One `key[=value]` item of a query, as sent.
struct Item<'a> {
    key: &'a str,
    /// `None` for an item without `=`.
    value: Option<&'a str>,
    used: bool,
}

/// The request's query items (empty ones dropped, as 1.36 does).
struct Query<'a> {
    items: Vec<Item<'a>>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Self {
        let items = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (key, value) = match s.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (s, None),
                };
                Item {
                    key,
                    value,
                    used: false,
                }
            })
            .collect();
        Query { items }
    }

    fn has(&self, key: &str) -> bool {
        self.items.iter().any(|i| i.key == key)
    }

    /// The first value of `key`, decoded, and marks every `key` item used.
    /// `None` when absent.
    fn take(&mut self, key: &str) -> Option<Vec<u8>> {
        let mut first = None;
        for i in self.items.iter_mut().filter(|i| i.key == key) {
            if first.is_none() {
                first = Some(percent_decode(i.value.unwrap_or("")));
            }
            i.used = true;
        }
        first
    }

    /// The items not used, joined as they were sent.
    fn rest(&self) -> String {
        let mut out = String::new();
        for i in self.items.iter().filter(|i| !i.used) {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(i.key);
            if let Some(v) = i.value {
                out.push('=');
                out.push_str(v);
            }
        }
        out
    }
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it
/// is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Rewrites a request for JSON-P, if it is one. `target` is the raw
/// request-target; `headers` the client's.
pub fn rewrite(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    config: &JsonpConfig,
) -> Result<Option<JsonpRequest>, JsonpError> {
    if method != Method::GET {
        return Ok(None);
    }
    let Some((path, query)) = target.split_once('?') else {
        return Ok(None);
    };
    let mut q = Query::parse(query);
    let cb_param = config.callback_param.as_deref().unwrap_or("callback");
    let body_param = config.body_param.as_deref();
    let by_default = config.default_callback.is_some() && body_param.is_some_and(|b| q.has(b));
    if !q.has(cb_param) && !by_default {
        return Ok(None);
    }
    let callback = match q.take(cb_param) {
        Some(cb) if cb.is_empty() => return Err(JsonpError::Callback),
        Some(cb) => cb,
        None => config
            .default_callback
            .clone()
            .unwrap_or_default()
            .into_bytes(),
    };
    let method = match q.take("_method") {
        Some(m) => valid_method(&m).ok_or(JsonpError::Method)?,
        None => config.default_method.clone(),
    };
    let mut out = HeaderMap::new();
    if let Some(h) = q.take("_headers") {
        extra_headers(&h, &mut out)?;
    }
    let body = match body_param {
        Some(bp) => match q.take(bp) {
            Some(b) if b.is_empty() => return Err(JsonpError::Body),
            Some(b) => {
                super::remove_in_order(&mut out, &http::header::CONTENT_TYPE);
                out.append(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                b
            }
            None => Vec::new(),
        },
        None => match q.take("_body") {
            Some(b) if b.is_empty() => return Err(JsonpError::UnderscoreBody),
            Some(b) => b,
            None => Vec::new(),
        },
    };
    let rest = q.rest();
    let target = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{rest}")
    };
    if let Some(h) = headers.get(http::header::HOST) {
        out.append(http::header::HOST, h.clone());
    }
    out.append(http::header::ACCEPT, HeaderValue::from_static("*/*"));
    // the body is no longer the client's: its framing headers go (1.36
    // keeps a client's `Content-Length` and so sends a wrong one)
    let replaced = [
        http::header::HOST,
        http::header::ACCEPT,
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
    ];
    for (n, v) in headers {
        if !replaced.contains(n) {
            out.append(n.clone(), v.clone());
        }
    }
    super::remove_in_order(&mut out, &http::header::CONTENT_LENGTH);
    super::remove_in_order(&mut out, &http::header::TRANSFER_ENCODING);
    Ok(Some(JsonpRequest {
        method,
        target,
        headers: out,
        body: Bytes::from(body),
        wrap: Wrap {
            callback: Bytes::from(callback),
            mode: config.mode,
        },
    }))
}

/// A `_method` value: printable, and (unlike 1.36, which would send a
/// broken request line) a valid method token.
fn valid_method(m: &[u8]) -> Option<Method> {
    if m.is_empty() || m.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return None;
    }
    Method::from_bytes(m).ok()
}

/// Adds the `_headers` object's entries (in key order, as 1.36 does),
/// skipping `Host` and `Accept`.
fn extra_headers(json: &[u8], out: &mut HeaderMap) -> Result<(), JsonpError> {
    // a BTreeMap whatever serde_json's features: keys sorted, the last of
    // a repeated key wins (as with Qt's JSON object)
    let obj: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|_| JsonpError::Headers)?;
    for (k, v) in &obj {
        let serde_json::Value::String(v) = v else {
            return Err(JsonpError::Headers);
        };
        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("accept") {
            continue;
        }
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| JsonpError::Headers)?;
        let value = HeaderValue::from_bytes(v.as_bytes()).map_err(|_| JsonpError::Headers)?;
        out.append(name, value);
    }
    Ok(())
}
