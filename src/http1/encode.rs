//! Response-head and chunk encoding.

use bytes::{BufMut, BytesMut};
use http::HeaderMap;

use super::Version;

/// Everything needed to write a response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: HeaderMap,
}

impl ResponseHead {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        ResponseHead {
            status,
            reason: reason.into(),
            headers: HeaderMap::new(),
        }
    }
}

/// Writes `Name-Like-This` for a lower-case header name.
pub fn title_case(name: &str, out: &mut BytesMut) {
    let mut upper = true;
    for &b in name.as_bytes() {
        out.put_u8(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

/// Encodes a status line and header block (ending with the blank line).
pub fn write_response_head(out: &mut BytesMut, version: Version, head: &ResponseHead) {
    out.reserve(64 + head.headers.len() * 32);
    out.put_slice(version.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.status.to_string().as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.reason.as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in &head.headers {
        title_case(name.as_str(), out);
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// The `SIZE\r\n` line that starts a chunk of `len` bytes.
pub fn chunk_header(len: usize, out: &mut BytesMut) {
    out.put_slice(format!("{len:x}\r\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn head_is_title_cased() {
        let mut h = ResponseHead::new(203, "Non-Authoritative Information");
        h.headers
            .insert("content-type", HeaderValue::from_static("text/plain"));
        h.headers.append("x-a-b", HeaderValue::from_static("1"));
        let mut out = BytesMut::new();
        write_response_head(&mut out, Version::Http11, &h);
        assert_eq!(
            &out[..],
            &b"HTTP/1.1 203 Non-Authoritative Information\r\nContent-Type: text/plain\r\nX-A-B: 1\r\n\r\n"[..]
        );
    }

    #[test]
    fn chunk_sizes_are_hex() {
        let mut out = BytesMut::new();
        chunk_header(255, &mut out);
        assert_eq!(&out[..], b"ff\r\n");
    }
}
