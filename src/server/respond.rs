//! Writing responses to the client: complete responses and streamed bodies
//! with the framing the request allows.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use tokio::net::TcpStream;

use super::io::{write_all, write_all_vectored};
use crate::http1::{write_response_head, ResponseHead, Version};

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` was set; write the bytes as they are.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Body ends when the connection closes (HTTP/1.0 clients).
    Close,
    /// No body at all (HEAD, 204, 304).
    NoBody,
}

pub use crate::http1::reason_for;

/// Whether a response to this request/status can carry a body.
pub fn has_body(head_request: bool, status: u16) -> bool {
    !(head_request || status == 204 || status == 304 || (100..200).contains(&status))
}

/// Sets `Connection` for the keep-alive decision and picks the framing for a
/// body of unknown length.
pub fn prepare_streaming(
    head: &mut ResponseHead,
    version: Version,
    body_allowed: bool,
    keep_alive: &mut bool,
) -> Framing {
    let framing = if !body_allowed {
        Framing::NoBody
    } else if head.headers.contains_key(http::header::CONTENT_LENGTH) {
        Framing::Length
    } else if version == Version::Http11 {
        head.headers.insert(
            http::header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        Framing::Chunked
    } else {
        *keep_alive = false;
        Framing::Close
    };
    set_connection(&mut head.headers, version, *keep_alive);
    framing
}

/// Adds `Connection: close` / `keep-alive` where the version needs it.
pub fn set_connection(headers: &mut HeaderMap, version: Version, keep_alive: bool) {
    match (version, keep_alive) {
        (Version::Http11, false) => {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        (Version::Http10, true) => {
            headers.insert(
                http::header::CONNECTION,
                HeaderValue::from_static("keep-alive"),
            );
        }
        _ => {}
    }
}

/// Writes a complete response (head and body in one write).
pub async fn write_full(
    stream: &TcpStream,
    version: Version,
    mut head: ResponseHead,
    body: &[u8],
    head_request: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let with_body = has_body(head_request, head.status);
    if with_body || head_request {
        head.headers
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    set_connection(&mut head.headers, version, keep_alive);
    let mut out = BytesMut::with_capacity(256 + body.len());
    write_response_head(&mut out, version, &head);
    if with_body {
        out.put_slice(body);
    }
    write_all(stream, &out).await
}

/// A plain-text response as the proxy generates them (`Content-Type:
/// text/plain`).
pub fn text_head(status: u16, reason: &str) -> ResponseHead {
    let mut h = ResponseHead::new(status, reason);
    h.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    h
}

/// Writes body pieces with the chosen framing.
#[derive(Debug)]
pub struct BodyWriter {
    pub framing: Framing,
}

impl BodyWriter {
    pub async fn data(&self, stream: &TcpStream, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        match self.framing {
            Framing::NoBody => Ok(()),
            Framing::Length | Framing::Close => write_all(stream, data).await,
            Framing::Chunked => {
                let mut hdr = BytesMut::with_capacity(12);
                crate::http1::chunk_header(data.len(), &mut hdr);
                write_all_vectored(stream, &[&hdr, data, b"\r\n"]).await
            }
        }
    }

    /// Appends a complete body (and its end) to an encoded head.
    pub fn append_whole(&self, data: &[u8], out: &mut BytesMut) {
        self.append(data, out);
        self.append_end(out);
    }

    /// Appends one body piece to an encoded head.
    pub fn append(&self, data: &[u8], out: &mut BytesMut) {
        match self.framing {
            Framing::NoBody => {}
            Framing::Length | Framing::Close => out.put_slice(data),
            Framing::Chunked => {
                if !data.is_empty() {
                    crate::http1::chunk_header(data.len(), out);
                    out.put_slice(data);
                    out.put_slice(b"\r\n");
                }
            }
        }
    }

    /// Appends the end of the body (the last chunk, for chunked framing).
    pub fn append_end(&self, out: &mut BytesMut) {
        if self.framing == Framing::Chunked {
            out.put_slice(b"0\r\n\r\n");
        }
    }

    /// Ends the body (the last chunk, for chunked framing).
    pub async fn finish(&self, stream: &TcpStream) -> io::Result<()> {
        if self.framing == Framing::Chunked {
            write_all(stream, b"0\r\n\r\n").await
        } else {
            Ok(())
        }
    }
}

/// A response head plus its encoded bytes, for callers that want to append
/// body bytes to the same write.
pub fn encode_head(version: Version, head: &ResponseHead) -> BytesMut {
    let mut out = BytesMut::with_capacity(256);
    write_response_head(&mut out, version, head);
    out
}

/// `Bytes` of a static text body.
pub fn text(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}
