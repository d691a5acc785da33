//! A bare HTTP/1.1 origin for connection failures (refused connections,
//! connections closed without an answer), which the [`Backend`] fixture
//! cannot produce.
//!
//! [`Backend`]: crate::support::Backend

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use pushpin::wsoverhttp::events::{encode, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::fixtures::{Log, EVENTS};
use crate::support::Recorded;

/// A bare HTTP/1.1 origin for connection failures: one request per
/// connection; `answer(n)` gives the events to answer the `n`-th request
/// with, or `None` to close the connection without answering.
#[derive(Clone)]
pub(crate) struct RawOrigin {
    pub(crate) log: Log,
    answer: fn(usize) -> Option<Vec<Event>>,
}

impl RawOrigin {
    pub(crate) fn new(answer: fn(usize) -> Option<Vec<Event>>) -> RawOrigin {
        RawOrigin {
            log: Log::default(),
            answer,
        }
    }

    /// Serves on `listener` until the returned task is aborted.
    pub(crate) fn serve(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((s, peer)) = listener.accept().await {
                me.one(s, peer).await;
            }
        })
    }

    pub(crate) async fn one(&self, mut s: TcpStream, peer: SocketAddr) {
        let Some(req) = read_request(&mut s, peer).await else {
            return;
        };
        let (n, _) = self.log.push(req);
        let Some(evs) = (self.answer)(n) else {
            return; // dropped: closed without an answer
        };
        let body = encode(&evs);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {EVENTS}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(&body).await;
        let _ = s.shutdown().await;
    }
}

/// Reads one request (with a `Content-Length` body).
pub(crate) async fn read_request(s: &mut TcpStream, peer: SocketAddr) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut hs);
        let httparse::Status::Complete(head_len) = req.parse(&buf).ok()? else {
            continue;
        };
        let mut headers = HeaderMap::new();
        for h in req.headers.iter() {
            headers.append(
                HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                HeaderValue::from_bytes(h.value).ok()?,
            );
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        if buf.len() < head_len + len {
            continue;
        }
        return Some(Recorded {
            peer,
            method: req.method?.to_owned(),
            path_and_query: req.path?.to_owned(),
            headers,
            body: Bytes::copy_from_slice(&buf[head_len..head_len + len]),
        });
    }
}
