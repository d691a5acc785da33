//! Opening a WebSocket to a backend (passthrough targets): connect with
//! target failover, write the opening handshake ourselves (so every header
//! passes through as given), and check the answer. A non-`101` answer is
//! returned whole so it can be relayed to the client.

use super::handshake::{derive_accept_key, generate_key};
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::Role;
use super::socket::WsSocket;
use crate::http1::title_case;
use crate::proxy::pool::{connect_stream, BackendStream};
use crate::proxy::Outgoing;
use crate::routes::{Route, TargetKind};

/// Largest handshake response (head) or rejection body we read.
const MAX_RESPONSE: usize = 100_000;

/// The backend's WebSocket.
pub type BackendWs = WsSocket<BackendStream>;

/// A backend's answer to the opening handshake.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub reason: String,
    pub headers: HeaderMap,
}

/// Why no WebSocket to the backend was opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("Unable to connect to any targets. Tried: {}", .0.join(", "))]
    Connect(Vec<String>),
    #[error("backend rejected the handshake with {}", .0.status)]
    Rejected(Answer, Bytes),
    #[error("backend: {0}")]
    Protocol(String),
}

/// Headers the handshake writes itself.
const OWN: [&str; 6] = [
    "host",
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// Connects to the first target that accepts and performs the handshake.
pub async fn open(
    out: &Outgoing,
    route: &Route,
    grip: bool,
) -> Result<(BackendWs, Answer), OpenError> {
    let mut tried = Vec::new();
    for t in &route.targets {
        let TargetKind::Http { host, port } = &t.kind else {
            continue;
        };
        let key = crate::proxy::forward_pool_key(t, host, *port, out);
        let stream = match connect_stream(&key).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "websocket target failed, trying the next");
                tried.push(t.label());
                continue;
            }
        };
        let host_header = {
            let h = out.req.host_for(t);
            if h.is_empty() {
                t.label()
            } else {
                h
            }
        };
        return handshake(stream, out, &host_header, grip).await;
    }
    Err(OpenError::Connect(tried))
}

async fn handshake(
    mut stream: BackendStream,
    out: &Outgoing,
    host: &str,
    grip: bool,
) -> Result<(BackendWs, Answer), OpenError> {
    let key = generate_key();
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
        out.req.path_and_query
    )
    .into_bytes();
    let mut buf = BytesMut::new();
    for (n, v) in &out.req.headers {
        if OWN.contains(&n.as_str()) {
            continue;
        }
        title_case(n.as_str(), &mut buf);
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(v.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(&buf);
    if grip {
        req.extend_from_slice(b"Sec-WebSocket-Extensions: grip\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let io = |e: std::io::Error| OpenError::Protocol(e.to_string());
    stream.write_all(&req).await.map_err(io)?;
    let mut data = BytesMut::new();
    let (answer, head_len) = loop {
        let mut slots = [httparse::EMPTY_HEADER; 100];
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(&data) {
            Ok(httparse::Status::Complete(n)) => {
                let mut headers = HeaderMap::new();
                for h in resp.headers.iter() {
                    if let (Ok(n), Ok(v)) = (
                        http::HeaderName::from_bytes(h.name.as_bytes()),
                        http::HeaderValue::from_bytes(h.value),
                    ) {
                        headers.append(n, v);
                    }
                }
                let answer = Answer {
                    status: resp.code.unwrap_or(0),
                    reason: resp.reason.unwrap_or("").to_owned(),
                    headers,
                };
                break (answer, n);
            }
            Ok(httparse::Status::Partial) if data.len() < MAX_RESPONSE => {}
            _ => return Err(OpenError::Protocol("bad handshake response".into())),
        }
        if stream.read_buf(&mut data).await.map_err(io)? == 0 {
            return Err(OpenError::Protocol("closed during handshake".into()));
        }
    };
    let rest = data.split_off(head_len);
    if answer.status != 101 {
        let body = read_body(&mut stream, &answer.headers, rest).await;
        return Err(OpenError::Rejected(answer, body));
    }
    let accept = answer
        .headers
        .get("sec-websocket-accept")
        .map(|v| v.as_bytes().to_vec());
    if accept.as_deref() != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err(OpenError::Protocol("bad Sec-WebSocket-Accept".into()));
    }
    Ok((WsSocket::new(stream, rest, Role::Client), answer))
}

/// The body of a rejection (by `Content-Length`, else until close), capped.
async fn read_body(stream: &mut BackendStream, headers: &HeaderMap, mut have: BytesMut) -> Bytes {
    let len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let want = len.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE);
    while have.len() < want {
        match tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_buf(&mut have),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    have.truncate(want);
    have.freeze()
}
