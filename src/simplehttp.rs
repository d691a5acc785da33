//! The small HTTP servers beside the proxy: the publish API
//! ([`crate::publish::http`]) and the Prometheus endpoint
//! ([`crate::metrics::http`]). Pushpin 1.36 serves both with one class
//! (`SimpleHttpServer`), so both answer alike here too:
//!
//! - one request per connection, answered with `Connection: close` and a
//!   `Content-Length`;
//! - a method that normally has a body (anything but `GET`, `HEAD`,
//!   `DELETE`, `OPTIONS`) must say `Content-Length` (else `411`), chunked
//!   bodies are refused the same way;
//! - head and body limits answer `400` with 1.36's plain-text messages.
//!
//! [`run`] is the accept loop (one task per connection, in the app's
//! tracker, all ended by the shutdown token); [`read_request`] reads one
//! request from any byte stream, TCP or Unix.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::app::Ctx;
use crate::server::listener::Backoff;

/// Bytes asked for per read.
const READ_CHUNK: usize = 8192;

/// How much of a request a server reads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_body: usize,
}

/// A request read whole: head and body.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub http10: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Every value of the header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One complete answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    /// An `Allow` header (405 answers).
    pub allow: Option<&'static str>,
    pub body: String,
    /// Send the head only (`Content-Length` still gives the body's size).
    pub head_only: bool,
}

impl Response {
    /// A `text/plain` answer.
    pub fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Self {
        Response {
            status,
            reason,
            content_type: "text/plain",
            allow: None,
            body: body.into(),
            head_only: false,
        }
    }

    /// `400 Bad Request` with `message` and a newline.
    pub fn bad_request(message: &str) -> Self {
        Response::text(400, "Bad Request", format!("{message}\n"))
    }

    /// Encodes the response with 1.36's header order.
    pub fn encode(&self, http10: bool) -> Vec<u8> {
        let mut out = format!(
            "{} {} {}\r\n",
            if http10 { "HTTP/1.0" } else { "HTTP/1.1" },
            self.status,
            self.reason
        );
        if let Some(allow) = self.allow {
            out.push_str(&format!("Allow: {allow}\r\n"));
        }
        out.push_str(&format!("Content-Type: {}\r\n", self.content_type));
        out.push_str("Connection: close\r\n");
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut v = out.into_bytes();
        if !self.head_only {
            v.extend_from_slice(self.body.as_bytes());
        }
        v
    }
}

/// A request refused while reading it, and whether to answer in HTTP/1.0.
pub type Rejected = (Response, bool);

/// Reads one request. `Ok(Err(..))` is an answer to send instead (bad
/// head, limits); `Err` means the connection failed or closed early.
pub async fn read_request<S>(
    stream: &mut S,
    limits: Limits,
) -> io::Result<Result<Request, Rejected>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::new();
    let (head_len, mut req) = loop {
        match parse_head(&buf, limits.max_head) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => {}
            Err(refused) => return Ok(Err((refused, false))),
        }
        buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    let length = match body_length(&req, limits.max_body) {
        Ok(n) => n,
        Err(refused) => return Ok(Err((refused, req.http10))),
    };
    if req.header("expect") == Some("100-continue") {
        let line: &[u8] = if req.http10 {
            b"HTTP/1.0 100 Continue\r\n\r\n"
        } else {
            b"HTTP/1.1 100 Continue\r\n\r\n"
        };
        stream.write_all(line).await?;
    }
    let _ = buf.split_to(head_len);
    while buf.len() < length {
        buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    if buf.len() > length {
        let refused = Response::bad_request("Request body exceeded Content-Length.");
        return Ok(Err((refused, req.http10)));
    }
    req.body = buf.to_vec();
    Ok(Ok(req))
}

/// The head, once complete: its length and the request (body still empty).
fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<(usize, Request)>, Response> {
    let too_large = || Response::bad_request("Request header too large.");
    let mut slots = [httparse::EMPTY_HEADER; 100];
    let mut r = httparse::Request::new(&mut slots);
    match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= max_head => {
            let headers = r
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).into_owned();
                    (h.name.to_owned(), value)
                })
                .collect();
            let req = Request {
                method: r.method.unwrap_or("").to_owned(),
                target: r.path.unwrap_or("").to_owned(),
                http10: r.version == Some(0),
                headers,
                body: Vec::new(),
            };
            Ok(Some((n, req)))
        }
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            Err(too_large())
        }
        Ok(httparse::Status::Partial) if buf.len() >= max_head => Err(too_large()),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(Response::bad_request("Failed to parse request header.")),
    }
}

/// The body's length by 1.36's rules, or the answer refusing it.
fn body_length(req: &Request, max_body: usize) -> Result<usize, Response> {
    let assumes_body = !matches!(req.method.as_str(), "HEAD" | "GET" | "DELETE" | "OPTIONS");
    let length = match req.header("content-length") {
        None if req.header("transfer-encoding").is_some() || assumes_body => {
            return Err(Response::text(
                411,
                "Length Required",
                "Request requires Content-Length.\n",
            ));
        }
        None => 0,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n < 0 => {
                return Err(Response::bad_request(
                    "Request body exceeded Content-Length.",
                ))
            }
            Ok(n) => n as usize,
            Err(_) => return Err(Response::bad_request("Bad Content-Length.")),
        },
    };
    if length > max_body {
        return Err(Response::bad_request("Request body too large."));
    }
    Ok(length)
}

/// Reads one request, answers it with `handle` and closes.
pub async fn serve<S, H>(mut stream: S, limits: Limits, handle: H) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: FnOnce(&Request) -> Response,
{
    let out = match read_request(&mut stream, limits).await? {
        Ok(req) => handle(&req).encode(req.http10),
        Err((refused, http10)) => refused.encode(http10),
    };
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// A bound listening socket of a small server.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    /// A Unix socket; its file is removed when the listener is dropped.
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

impl Listener {
    async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix { listener, .. } => {
                listener.accept().await.map(|(s, _)| Stream::Unix(s))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An accepted connection of a [`Listener`].
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Accepts connections until shutdown; each is read and answered by
/// `handle` in its own task. `what` names the server in logs.
pub async fn run<H>(listener: Listener, ctx: Ctx, what: &'static str, limits: Limits, handle: H)
where
    H: Fn(&Request, &Ctx) -> Response + Clone + Send + Sync + 'static,
{
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok(stream) => {
                backoff.reset();
                let ctx2 = ctx.clone();
                let handle = handle.clone();
                ctx.tracker.spawn(async move {
                    let answer = serve(stream, limits, |req| handle(req, &ctx2));
                    tokio::select! {
                        _ = ctx2.shutdown.cancelled() => {}
                        r = answer => {
                            if let Err(e) = r {
                                tracing::debug!(error = %e, server = what, "connection failed");
                            }
                        }
                    }
                });
            }
            Err(e) => backoff.wait(&e, what).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_head: 200,
        max_body: 10,
    };

    /// Sends `input` (then EOF) and returns what the server answered.
    async fn exchange(input: &[u8]) -> String {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(serve(server, LIMITS, |req| {
            Response::text(
                200,
                "OK",
                format!("{} {} {:?}", req.method, req.target, req.body),
            )
        }));
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        let _ = task.await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn answers_one_request_with_1_36_framing() {
        let out = exchange(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n").await;
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\
             Content-Length: 9\r\n\r\nGET /x []"
        );
        let out = exchange(b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab").await;
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
        assert!(out.ends_with("POST / [97, 98]"), "{out}");
    }

    #[tokio::test]
    async fn refusals() {
        let cases: [(&[u8], &str); 6] = [
            (b"garbage\r\n\r\n", "400 Bad Request"),
            (b"POST / HTTP/1.1\r\n\r\n", "411 Length Required"),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "411 Length Required",
            ),
            (
                b"PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                "400 Bad Request",
            ),
            (
                b"PUT / HTTP/1.1\r\nContent-Length: 11\r\n\r\n",
                "400 Bad Request",
            ),
            (&[b'a'; 300], "400 Bad Request"),
        ];
        for (input, status) in cases {
            let out = exchange(input).await;
            assert!(
                out.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{input:?}: {out}"
            );
        }
    }

    #[test]
    fn head_only_keeps_the_length() {
        let r = Response {
            head_only: true,
            ..Response::text(200, "OK", "12345")
        };
        assert!(String::from_utf8(r.encode(false))
            .unwrap()
            .ends_with("Content-Length: 5\r\n\r\n"));
    }
}
