//! JSON-P responses: a response turned into a call of the request's
//! callback, `/**/CALLBACK(...);` served as `200 OK`
//! `application/javascript`.
//!
//! 1.36 wraps in two places, with two spellings of the extended object:
//!
//! - responses relayed from the backend (and the proxy's own errors):
//!   `{"code": C, "reason": R, "headers": H, "body": B}`, where `H` has the
//!   first value of each header, and the wrapper response carries only the
//!   backend's `Cache-Control`. The body may be streamed ([`JsonpStream`]).
//! - hold responses (long-poll publish, timeout): the compact object
//!   `{"body":B,"code":C,"headers":H,"reason":R}`, where `H` joins repeated
//!   headers with `, `; the wrapper keeps the other response headers.
//!
//! Basic mode passes the body as it is, less one trailing newline. Header
//! names are title-cased, as our responses spell them.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};

use super::jsonp::JsonpMode;
use crate::http1::ResponseHead;

/// How one request's responses are wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrap {
    /// The callback, decoded.
    pub callback: Bytes,
    pub mode: JsonpMode,
}

impl Wrap {
    fn extended(&self) -> bool {
        self.mode == JsonpMode::Extended
    }

    fn call_start(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.callback.len() + 64);
        out.extend_from_slice(b"/**/");
        out.extend_from_slice(&self.callback);
        out.push(b'(');
        out
    }

    /// What goes before a relayed body.
    pub fn start(&self, code: u16, reason: &str, headers: &HeaderMap) -> Vec<u8> {
        let mut out = self.call_start();
        if self.extended() {
            let mut first: BTreeMap<String, String> = BTreeMap::new();
            for (n, v) in headers {
                first
                    .entry(super::title_cased(n.as_str()))
                    .or_insert_with(|| String::from_utf8_lossy(v.as_bytes()).into_owned());
            }
            out.extend_from_slice(b"{\"code\": ");
            out.extend_from_slice(code.to_string().as_bytes());
            out.extend_from_slice(b", \"reason\": ");
            out.extend_from_slice(json_string(reason).as_bytes());
            out.extend_from_slice(b", \"headers\": ");
            out.extend_from_slice(json_map(&first).as_bytes());
            out.extend_from_slice(b", \"body\": \"");
        }
        out
    }

    /// What goes after a relayed body.
    pub fn end(&self) -> &'static [u8] {
        if self.extended() {
            b"\"});\n"
        } else {
            b");\n"
        }
    }

    /// A relayed response whose body is all there: the wrapper's body.
    pub fn whole(&self, code: u16, reason: &str, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
        let mut out = self.start(code, reason, headers);
        if self.extended() {
            let s = json_string(&String::from_utf8_lossy(body));
            out.extend_from_slice(&s.as_bytes()[1..s.len() - 1]);
        } else {
            out.extend_from_slice(trim_newline(body));
        }
        out.extend_from_slice(self.end());
        out
    }

    /// An encoder for a relayed body that arrives in pieces.
    pub fn stream(&self) -> JsonpStream {
        JsonpStream {
            extended: self.extended(),
            carry: Vec::new(),
        }
    }

    /// A hold's response (long-poll publish or timeout, or its error),
    /// wrapped the way 1.36's handler does it.
    pub fn hold_response(&self, head: ResponseHead, body: &[u8]) -> (ResponseHead, Vec<u8>) {
        let mut out = self.call_start();
        if self.extended() {
            let mut merged: BTreeMap<String, String> = BTreeMap::new();
            for (n, v) in &head.headers {
                let v = String::from_utf8_lossy(v.as_bytes());
                merged
                    .entry(super::title_cased(n.as_str()))
                    .and_modify(|m| {
                        m.push_str(", ");
                        m.push_str(&v);
                    })
                    .or_insert_with(|| v.into_owned());
            }
            out.extend_from_slice(b"{\"body\":");
            out.extend_from_slice(json_string(&String::from_utf8_lossy(body)).as_bytes());
            out.extend_from_slice(b",\"code\":");
            out.extend_from_slice(head.status.to_string().as_bytes());
            out.extend_from_slice(b",\"headers\":");
            out.extend_from_slice(json_map(&merged).as_bytes());
            out.extend_from_slice(b",\"reason\":");
            out.extend_from_slice(json_string(&head.reason).as_bytes());
            out.push(b'}');
        } else {
            out.extend_from_slice(trim_newline(body));
        }
        out.extend_from_slice(b");\n");
        let mut headers = head.headers;
        super::remove_in_order(&mut headers, &http::header::CONTENT_TYPE);
        headers.append(http::header::CONTENT_TYPE, javascript());
        let mut head = ResponseHead::new(200, "OK");
        head.headers = headers;
        (head, out)
    }
}

/// The head of a relayed response's wrapper: `200 OK`, JavaScript, and the
/// backend's `Cache-Control`.
pub fn wrapper_head(backend: &HeaderMap) -> ResponseHead {
    let mut head = ResponseHead::new(200, "OK");
    head.headers
        .append(http::header::CONTENT_TYPE, javascript());
    for v in backend.get_all(http::header::CACHE_CONTROL) {
        head.headers.append(http::header::CACHE_CONTROL, v.clone());
    }
    head
}

fn javascript() -> HeaderValue {
    HeaderValue::from_static("application/javascript")
}

/// Encodes a relayed body piece by piece.
#[derive(Debug)]
pub struct JsonpStream {
    extended: bool,
    /// Extended: the start of a UTF-8 character cut by the piece's end.
    /// Basic: a newline held back (dropped if the body ends after it).
    carry: Vec<u8>,
}

impl JsonpStream {
    /// Appends the encoding of one body piece to `out`.
    pub fn piece(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if self.extended {
            let mut buf = std::mem::take(&mut self.carry);
            buf.extend_from_slice(data);
            let cut = buf.len() - incomplete_tail(&buf);
            self.carry = buf.split_off(cut);
            let s = json_string(&String::from_utf8_lossy(&buf));
            out.extend_from_slice(&s.as_bytes()[1..s.len() - 1]);
        } else {
            out.append(&mut self.carry);
            let kept = trim_newline(data);
            out.extend_from_slice(kept);
            self.carry.extend_from_slice(&data[kept.len()..]);
        }
    }

    /// Appends what is left and the end of the call.
    pub fn finish(&mut self, end: &[u8], out: &mut Vec<u8>) {
        if self.extended && !self.carry.is_empty() {
            let s = json_string(&String::from_utf8_lossy(&self.carry));
            out.extend_from_slice(&s.as_bytes()[1..s.len() - 1]);
        }
        self.carry.clear();
        out.extend_from_slice(end);
    }
}

/// Length of an unfinished UTF-8 sequence at the end of `b` (0 if none).
fn incomplete_tail(b: &[u8]) -> usize {
    for k in 1..=3.min(b.len()) {
        let c = b[b.len() - k];
        if c & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let need = match c {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if need > k { k } else { 0 };
    }
    0
}

/// `body` less one trailing `\r\n` or `\n`.
fn trim_newline(body: &[u8]) -> &[u8] {
    body.strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
        .unwrap_or(body)
}

/// A JSON string literal, escaped as Qt's JSON writer does (which is also
/// serde_json's way: `"` `\` and control characters only).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn json_map(m: &BTreeMap<String, String>) -> String {
    serde_json::to_string(m).expect("maps of strings serialize")
}
