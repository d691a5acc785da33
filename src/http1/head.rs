//! Request-head parsing (request line and header fields) with `httparse`.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::body::BodyKind;

/// Most header fields a request may carry.
const MAX_HEADERS: usize = 128;

/// HTTP version of a request; only 1.0 and 1.1 exist on the wire here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A parsed request head. `target` is the raw request-target, byte for byte.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: Method,
    pub target: String,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Why a request head could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
}

/// Parses a request head from the front of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete and still within
/// `max_size`, or the head and the number of bytes it used.
pub fn parse_request_head(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let status = match req.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge(max_size)),
        Err(_) => return Err(HeadError::Malformed("syntax")),
    };
    let len = match status {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => {
            return if buf.len() >= max_size {
                Err(HeadError::TooLarge(max_size))
            } else {
                Ok(None)
            };
        }
    };
    if len > max_size {
        return Err(HeadError::TooLarge(max_size));
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Malformed("method"))?;
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let target = req.path.unwrap_or("/").to_owned();
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::Malformed("name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HeadError::Malformed("value"))?;
        headers.append(name, value);
    }
    let head = RequestHead {
        method,
        target,
        version,
        headers,
    };
    head.body_kind()?;
    Ok(Some((head, len)))
}

impl RequestHead {
    /// The value of a header as a string, when present and visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the header (comma-separated tokens) contains `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    }

    /// Whether the connection may be kept open after this request.
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.has_token("connection", "close"),
            Version::Http10 => self.has_token("connection", "keep-alive"),
        }
    }

    /// The path part of the target (before `?`).
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        t.split_once('?').map_or(t, |(p, _)| p)
    }

    /// The `Host` header, or an empty string.
    pub fn host(&self) -> &str {
        self.header_str("host").unwrap_or("")
    }

    /// Whether this is a WebSocket opening handshake.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == Method::GET
            && self.has_token("upgrade", "websocket")
            && self.has_token("connection", "upgrade")
    }

    /// Whether the client asked for `100 Continue` before sending its body.
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11
            && self
                .header_str("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }

    /// How the request body is framed.
    pub fn body_kind(&self) -> Result<BodyKind, HeadError> {
        if let Some(te) = self.headers.get_all("transfer-encoding").iter().next_back() {
            let te = te
                .to_str()
                .map_err(|_| HeadError::Malformed("transfer-encoding"))?;
            let last = te.rsplit(',').next().unwrap_or("").trim();
            if last.eq_ignore_ascii_case("chunked") {
                return Ok(BodyKind::Chunked);
            }
            return Err(HeadError::Malformed("transfer-encoding"));
        }
        let mut length: Option<u64> = None;
        for v in self.headers.get_all("content-length") {
            for part in v.to_str().unwrap_or("x").split(',') {
                let n: u64 = part
                    .trim()
                    .parse()
                    .map_err(|_| HeadError::Malformed("content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::Malformed("content-length"));
                }
                length = Some(n);
            }
        }
        Ok(match length {
            Some(0) | None => BodyKind::Empty,
            Some(n) => BodyKind::Length(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(RequestHead, usize)>, HeadError> {
        parse_request_head(s.as_bytes(), 8192)
    }

    #[test]
    fn complete_head() {
        let (h, n) =
            parse("GET /a%20b?x=1 HTTP/1.1\r\nHost: Example.com\r\nX-A: 1\r\nX-A: 2\r\n\r\nrest")
                .unwrap()
                .unwrap();
        assert_eq!(n, 62);
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.target, "/a%20b?x=1");
        assert_eq!(h.path(), "/a%20b");
        assert_eq!(h.host(), "Example.com");
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert!(h.keep_alive());
        assert_eq!(h.body_kind().unwrap(), BodyKind::Empty);
    }

    #[test]
    fn partial_then_too_large() {
        assert!(parse("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(100));
        assert_eq!(
            parse_request_head(big.as_bytes(), 64).unwrap_err(),
            HeadError::TooLarge(64)
        );
    }

    #[test]
    fn malformed() {
        assert!(parse("GET\r\n\r\n").is_err());
        assert!(parse("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").is_err());
        assert!(parse("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").is_err());
    }

    #[test]
    fn framing_and_connection() {
        let (h, _) = parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body_kind().unwrap(), BodyKind::Chunked);
        let (h, _) = parse("POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body_kind().unwrap(), BodyKind::Length(5));
        assert!(!h.keep_alive());
        let (h, _) = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive());
        let (h, _) = parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive());
    }

    #[test]
    fn websocket_and_continue() {
        let (h, _) = parse(
            "GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(h.is_websocket_upgrade());
        assert!(h.expects_continue());
    }
}
