//! A raw HTTP/1.1 client for tests: it sends bytes as given and decodes the
//! response incrementally (chunked, length or until close), so tests can
//! assert on what arrived when. Written independently of the proxy's codec.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Chunked,
    Length(usize),
    Close,
}

/// An open connection and the response read from it so far.
pub struct RawClient {
    pub stream: TcpStream,
    raw: Vec<u8>,
    pub status: Option<u16>,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    framing: Option<Framing>,
    chunk_left: Option<usize>,
    /// The body is complete (by its framing).
    pub complete: bool,
    /// The server closed the connection.
    pub eof: bool,
    /// When each piece of body arrived.
    pub arrivals: Vec<(Instant, Vec<u8>)>,
    /// This request was HEAD (no body follows).
    pub head_request: bool,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

const DEFAULT_WAIT: Duration = Duration::from_secs(5);

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.unwrap();
        RawClient {
            stream,
            raw: Vec::new(),
            status: None,
            reason: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            framing: None,
            chunk_left: None,
            complete: false,
            eof: false,
            arrivals: Vec::new(),
            head_request: false,
        }
    }

    /// Connects and sends a request with the given extra headers.
    pub async fn open(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawClient {
        let mut c = RawClient::connect(addr).await;
        c.send_request(method, path, headers, body).await;
        c
    }

    /// A GET with `Host: example.com` unless given.
    pub async fn get(addr: SocketAddr, path: &str) -> RawClient {
        RawClient::open(addr, "GET", path, &[], b"").await
    }

    /// Sends another request on this connection (resets response state).
    pub async fn send_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut req = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str("Host: example.com\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let chunked = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
        if (!body.is_empty() || method == "POST" || method == "PUT") && !chunked {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.reset();
        self.head_request = method == "HEAD";
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    fn reset(&mut self) {
        self.status = None;
        self.reason.clear();
        self.headers.clear();
        self.body.clear();
        self.framing = None;
        self.chunk_left = None;
        self.complete = false;
        self.arrivals.clear();
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    async fn recv(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let mut buf = vec![0u8; 65536];
        match timeout_at(deadline, self.stream.read(&mut buf)).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.eof = true;
                false
            }
            Ok(Ok(n)) => {
                self.raw.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    fn decode(&mut self) {
        let before = self.body.len();
        if self.status.is_none() {
            let Some(i) = find(&self.raw, b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.raw[..i]).into_owned();
            self.raw.drain(..i + 4);
            let mut lines = head.split("\r\n");
            let first = lines.next().unwrap_or("");
            let mut parts = first.splitn(3, ' ');
            let _version = parts.next();
            let status: u16 = parts.next().unwrap_or("0").parse().unwrap_or(0);
            self.reason = parts.next().unwrap_or("").to_owned();
            for l in lines {
                if let Some((k, v)) = l.split_once(':') {
                    self.headers
                        .push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            if status == 100 {
                return self.decode();
            }
            self.status = Some(status);
            let te = self
                .header("transfer-encoding")
                .unwrap_or("")
                .to_ascii_lowercase();
            self.framing = Some(if self.head_request || status == 204 || status == 304 {
                Framing::Length(0)
            } else if te.contains("chunked") {
                Framing::Chunked
            } else if let Some(cl) = self.header("content-length") {
                Framing::Length(cl.parse().unwrap())
            } else {
                Framing::Close
            });
        }
        match self.framing {
            Some(Framing::Chunked) => loop {
                if self.complete {
                    break;
                }
                match self.chunk_left {
                    None => {
                        let Some(i) = find(&self.raw, b"\r\n") else {
                            break;
                        };
                        let line = String::from_utf8_lossy(&self.raw[..i]).into_owned();
                        let size =
                            usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                                .unwrap();
                        self.raw.drain(..i + 2);
                        if size == 0 {
                            self.complete = true;
                            break;
                        }
                        self.chunk_left = Some(size);
                    }
                    Some(0) => {
                        if self.raw.len() < 2 {
                            break;
                        }
                        assert_eq!(&self.raw[..2], b"\r\n", "bad chunk end");
                        self.raw.drain(..2);
                        self.chunk_left = None;
                    }
                    Some(left) => {
                        if self.raw.is_empty() {
                            break;
                        }
                        let take = left.min(self.raw.len());
                        self.body.extend(self.raw.drain(..take));
                        self.chunk_left = Some(left - take);
                    }
                }
            },
            Some(Framing::Length(n)) => {
                let take = (n - self.body.len()).min(self.raw.len());
                self.body.extend(self.raw.drain(..take));
                if self.body.len() == n {
                    self.complete = true;
                }
            }
            Some(Framing::Close) => {
                self.body.append(&mut self.raw);
                if self.eof {
                    self.complete = true;
                }
            }
            None => {}
        }
        if self.body.len() > before {
            self.arrivals
                .push((Instant::now(), self.body[before..].to_vec()));
        }
    }

    /// Reads until the response head arrived.
    pub async fn read_head(&mut self) -> &mut Self {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            self.decode();
            if self.status.is_some() {
                return self;
            }
            if !self.recv(deadline).await {
                panic!(
                    "no response head; got {:?}",
                    String::from_utf8_lossy(&self.raw)
                );
            }
        }
    }

    /// Reads until `pred(body)` holds, the body completes, or `wait` passes.
    pub async fn read_until(&mut self, pred: impl Fn(&[u8]) -> bool, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        loop {
            self.decode();
            if self.status.is_some() && (pred(&self.body) || self.complete) {
                return self.body.clone();
            }
            if !self.recv(deadline).await {
                self.decode();
                return self.body.clone();
            }
        }
    }

    /// Reads until the body contains `needle`.
    pub async fn read_until_contains(&mut self, needle: &[u8]) -> Vec<u8> {
        let n = needle.to_vec();
        self.read_until(move |b| find(b, &n).is_some(), DEFAULT_WAIT)
            .await
    }

    /// Reads the whole response.
    pub async fn read_to_end(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        loop {
            self.decode();
            if self.complete {
                return self.body.clone();
            }
            if !self.recv(deadline).await {
                self.decode();
                return self.body.clone();
            }
        }
    }

    /// Whether the server closes the connection within `wait` (reading and
    /// discarding anything else it sends).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.recv(deadline).await {}
        self.decode();
        self.eof
    }

    pub fn response(&self) -> Response {
        Response {
            status: self.status.unwrap_or(0),
            reason: self.reason.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a new connection; returns the complete response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut c = RawClient::open(addr, method, path, headers, body).await;
    c.read_head().await;
    c.read_to_end(Duration::from_secs(30)).await;
    assert!(c.complete, "response incomplete: {:?}", c.response());
    c.response()
}
