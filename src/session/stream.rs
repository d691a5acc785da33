//! Stream holds: the initial response, then every published `http-stream`
//! item appended to the open response, with keep-alives, until `close`, the
//! client leaving, or shutdown.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::{sleep_until, Instant};

use super::common::{client_closed, jittered, subscribe_all, SessionChannel};
use crate::app::Ctx;
use crate::grip::instruct::{Instruct, KeepAlive, KeepAliveMode};
use crate::grip::item::{encode_chunk, HttpStream};
use crate::hub::{Delivery, Inbox, Recv};
use crate::proxy::accept::held_head;
use crate::proxy::pool::Conn;
use crate::proxy::RequestContext;
use crate::server::conn::Next;
use crate::server::io::{write_all_vectored, ClientConn};
use crate::server::respond::{encode_head, prepare_streaming, BodyWriter, Framing};

/// Why a stream hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A published `close`: end the body, keep the connection.
    Closed,
    /// Proxy shutdown: end the body, close the connection.
    Shutdown,
    ClientGone,
    /// The client read too slowly and its queue overflowed.
    Overflow,
    WriteFailed,
}

/// Session state while holding.
struct StreamSession<'a> {
    conn: &'a ClientConn,
    ctx: &'a Ctx,
    inbox: std::sync::Arc<Inbox>,
    channels: Vec<SessionChannel>,
    framing: Framing,
    keep_alive: Option<(KeepAlive, Bytes)>,
    ka_deadline: Option<Instant>,
}

/// The rest of an initial response too large to read before holding: it is
/// streamed through after the part already read (`ins.response.body`).
#[derive(Debug)]
pub struct InitialRest {
    pub body: Incoming,
    pub backend: Conn,
}

/// Runs a stream hold to its end.
pub async fn run(
    conn: &mut ClientConn,
    rc: RequestContext,
    ins: Instruct,
    ctx: &Ctx,
    rest: Option<InitialRest>,
) -> Next {
    let version = rc.head.version;
    let mut keep_alive = rc.keep_alive;
    let inbox = Inbox::new(ctx.config.session_queue_max);
    // subscribe first: items published while the initial response is being
    // written are queued and follow it
    let channels = subscribe_all(
        &ctx.hub,
        &inbox,
        &ins.channels,
        &rc.route.prefix,
        ctx.config.connection_subscription_max,
    );
    let mut head = held_head(&ins);
    let framing = prepare_streaming(&mut head, version, true, &mut keep_alive);
    let mut out = encode_head(version, &head);
    let initial = ins.response.body.clone();
    let writer = BodyWriter { framing };
    if !initial.is_empty() {
        match framing {
            Framing::Chunked => out.extend_from_slice(&encode_chunk(&initial)),
            _ => out.extend_from_slice(&initial),
        }
    }
    let mut s = StreamSession {
        conn,
        ctx,
        inbox,
        channels,
        framing,
        keep_alive: ins.keep_alive.map(|k| {
            let bytes = frame(framing, &k.data);
            (k, bytes)
        }),
        ka_deadline: None,
    };
    let mut end = s.write(&[&out]).await;
    if let (None, Some(rest)) = (end, rest) {
        end = s.stream_rest(rest).await;
    }
    let end = match end {
        Some(end) => end,
        None => {
            s.arm_keep_alive();
            s.hold().await
        }
    };
    drop(s.channels);
    tracing::debug!(reason = ?end, "stream hold ended");
    match end {
        End::Closed => {
            if writer.finish(&conn.stream).await.is_err() {
                return Next::Close;
            }
            Next::from_keep_alive(keep_alive && framing == Framing::Chunked)
        }
        End::Shutdown => {
            let _ = writer.finish(&conn.stream).await;
            Next::Close
        }
        End::ClientGone | End::Overflow | End::WriteFailed => Next::Close,
    }
}

/// Content as this session's framing sends it.
fn frame(framing: Framing, content: &[u8]) -> Bytes {
    match framing {
        Framing::Chunked => encode_chunk(content),
        _ => Bytes::copy_from_slice(content),
    }
}

impl StreamSession<'_> {
    /// Streams the rest of a large initial response, piece by piece.
    async fn stream_rest(&mut self, rest: InitialRest) -> Option<End> {
        let InitialRest { mut body, backend } = rest;
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        let framed = frame(self.framing, &d);
                        if let Some(end) = self.write(&[&framed]).await {
                            return Some(end);
                        }
                    }
                }
                Some(Err(_)) => return Some(End::WriteFailed),
            }
        }
        self.ctx.pool.put(backend);
        None
    }

    fn arm_keep_alive(&mut self) {
        self.ka_deadline = self
            .keep_alive
            .as_ref()
            .map(|(k, _)| Instant::now() + jittered(k.timeout));
    }

    /// The hold loop: deliveries, keep-alives, client close, shutdown.
    async fn hold(&mut self) -> End {
        let mut batch: Vec<Delivery> = Vec::new();
        loop {
            let ka_at = self.ka_deadline;
            tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return End::Shutdown,
                r = self.inbox.recv(&mut batch) => {
                    if r == Recv::Overflowed {
                        return End::Overflow;
                    }
                    if let Some(end) = self.deliver(&mut batch).await {
                        return end;
                    }
                }
                _ = sleep_until(ka_at.unwrap_or_else(Instant::now)), if ka_at.is_some() => {
                    if let Some(end) = self.send_keep_alive().await {
                        return end;
                    }
                }
                _ = client_closed(&self.conn.stream) => return End::ClientGone,
            }
        }
    }

    /// Writes a batch of deliveries in one go.
    async fn deliver(&mut self, batch: &mut Vec<Delivery>) -> Option<End> {
        let mut parts: Vec<Bytes> = Vec::with_capacity(batch.len());
        let mut closed = false;
        for d in batch.drain(..) {
            if (d.slot as usize) >= self.channels.len() {
                continue;
            }
            match &d.item.http_stream {
                Some(HttpStream::Send(s)) => {
                    let b = match self.framing {
                        Framing::Chunked => s.chunk.clone(),
                        _ => s.content.clone(),
                    };
                    if !b.is_empty() {
                        parts.push(b);
                    }
                }
                Some(HttpStream::Close) => {
                    closed = true;
                    break;
                }
                Some(HttpStream::Hint) | None => {}
            }
        }
        batch.clear();
        if !parts.is_empty() {
            let slices: Vec<&[u8]> = parts.iter().map(|b| &b[..]).collect();
            if let Some(end) = self.write(&slices).await {
                return Some(end);
            }
            if matches!(&self.keep_alive, Some((k, _)) if k.mode == KeepAliveMode::Idle) {
                self.arm_keep_alive();
            }
        }
        closed.then_some(End::Closed)
    }

    async fn send_keep_alive(&mut self) -> Option<End> {
        let data = self
            .keep_alive
            .as_ref()
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        self.arm_keep_alive();
        if data.is_empty() {
            return None;
        }
        self.write(&[&data]).await
    }

    /// Writes, giving up if the queue overflows or the proxy shuts down
    /// meanwhile (a client that stopped reading cannot block us forever).
    async fn write(&self, parts: &[&[u8]]) -> Option<End> {
        tokio::select! {
            r = write_all_vectored(&self.conn.stream, parts) => r.err().map(|_| End::WriteFailed),
            _ = self.inbox.overflowed() => Some(End::Overflow),
            _ = self.ctx.shutdown.cancelled() => Some(End::Shutdown),
        }
    }
}
