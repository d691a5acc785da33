//! Stream holds: the initial response, then every published `http-stream`
//! item appended to the open response, with keep-alives, until `close`, the
//! client leaving, or shutdown. With a `Grip-Link rel=next` the session also
//! fetches that link (after `timeout` without publishes, on `hint`, on a gap
//! in a channel's ids, on recover) and appends its body; see
//! `stream_link.rs`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::common::{earliest, jittered, never, set_timer, wait, SessionChannel, Wake};
use super::filters::{for_delivery, proxy_content, Filtered};
use super::link::notify_gone;
use crate::app::Ctx;
use crate::grip::instruct::{Instruct, KeepAliveMode};
use crate::grip::item::{encode_chunk, HttpStream};
use crate::grip::link::Url;
use crate::hub::{Delivery, DirectSink, Inbox, Recv, SubMode};
use crate::proxy::accept::held_head;
use crate::proxy::pool::Conn;
use crate::proxy::RequestContext;
use crate::server::conn::Next;
use crate::server::io::{
    remaining, try_write_bytes_now, try_write_vectored_now, write_all_vectored, ClientConn,
};
use crate::server::respond::{encode_head, has_body, prepare_streaming, BodyWriter, Framing};

/// Why a stream hold ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// A published `close`, or a link response without further
    /// instructions: end the body, keep the connection.
    Closed,
    /// Proxy shutdown: end the body, close the connection.
    Shutdown,
    ClientGone,
    /// The client read too slowly and its queue overflowed.
    Overflow,
    WriteFailed,
    /// A filter or link error: end the body (with the message in debug
    /// mode).
    Error(String),
}

/// The rest of an initial response too large to read before holding: it is
/// streamed through after the part already read (`ins.response.body`).
#[derive(Debug)]
pub struct InitialRest {
    pub body: Incoming,
    pub backend: Conn,
}

/// A stream session's state.
pub(super) struct StreamSession<'a> {
    pub(super) conn: &'a ClientConn,
    pub(super) rc: &'a RequestContext,
    pub(super) ctx: &'a Ctx,
    pub(super) inbox: Arc<Inbox>,
    /// Subscribed channels; deliveries name them by `slot`.
    pub(super) channels: Vec<SessionChannel>,
    pub(super) next_slot: u32,
    /// The instructions in force (from the backend or the last link).
    pub(super) ins: Instruct,
    pub(super) framing: Framing,
    pub(super) ka_data: Bytes,
    pub(super) ka_deadline: Option<Instant>,
    pub(super) link_deadline: Option<Instant>,
    /// URL relative links resolve against (the request's, until a link
    /// was followed).
    pub(super) base: Option<Url>,
    /// Reused buffer of what one wake-up writes.
    pub(super) parts: Vec<Bytes>,
}

/// Runs a stream hold (or a link-following response) to its end.
pub async fn run(
    conn: &mut ClientConn,
    rc: &RequestContext,
    ins: Instruct,
    ctx: &Ctx,
    rest: Option<InitialRest>,
) -> Next {
    let mut keep_alive = rc.keep_alive;
    let (head, framing) = {
        let mut head = held_head(&ins);
        if rc.cross.is_some() {
            // CORS headers even for a JSON-P request: 1.36 does not wrap
            // streams
            crate::cors::apply_cors(&rc.head.headers, &mut head.headers);
        }
        // a 204 or 304 has no body: 1.36 sends the head alone and drops
        // whatever is published (a HEAD request still gets chunks, as there)
        let body_allowed = has_body(false, head.status);
        let framing = prepare_streaming(&mut head, rc.head.version, body_allowed, &mut keep_alive);
        (encode_head(rc.head.version, &head), framing)
    };
    let mut s = StreamSession {
        conn,
        rc,
        ctx,
        inbox: Inbox::new(ctx.config.session_queue_max),
        channels: Vec::new(),
        next_slot: 0,
        ins,
        framing,
        ka_data: Bytes::new(),
        ka_deadline: None,
        link_deadline: None,
        base: None,
        parts: Vec::new(),
    };
    // subscribe first: items published while the initial response is being
    // written are queued and follow it
    s.apply_channels();
    let end = s.start(head, rest).await;
    let gone = s.ins.gone_link.clone();
    s.channels.clear();
    tracing::debug!(reason = ?end, "stream hold ended");
    if let Some(g) = gone {
        notify_gone(ctx, rc, &g);
    }
    let writer = BodyWriter { framing };
    match end {
        End::Closed => {
            if writer.finish(&conn.stream).await.is_err() {
                return Next::Close;
            }
            Next::from_keep_alive(
                keep_alive && matches!(framing, Framing::Chunked | Framing::NoBody),
            )
        }
        End::Error(msg) => {
            tracing::debug!(error = %msg, "stream hold failed");
            if rc.debug {
                let text = format!("\n\n{msg}\n");
                let _ = write_all_vectored(&conn.stream, &[&frame(framing, text.as_bytes())]).await;
            }
            let _ = writer.finish(&conn.stream).await;
            Next::Close
        }
        End::Shutdown => {
            let _ = writer.finish(&conn.stream).await;
            Next::Close
        }
        End::ClientGone | End::Overflow | End::WriteFailed => Next::Close,
    }
}

/// A sink the fan-out may write to; dropping it disarms the inbox, so the
/// session always gets its socket back before it writes or ends.
struct Armed(Option<Arc<Inbox>>);

impl Armed {
    /// Takes the socket back; when the fan-out last wrote, if it did.
    fn disarm(mut self) -> Option<Instant> {
        self.0.take().and_then(|inbox| inbox.disarm())
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(inbox) = self.0.take() {
            inbox.disarm();
        }
    }
}

/// Content as a session with this framing sends it.
pub(super) fn frame(framing: Framing, content: &[u8]) -> Bytes {
    match framing {
        Framing::Chunked => encode_chunk(content),
        Framing::NoBody => Bytes::new(),
        Framing::Length | Framing::Close => Bytes::copy_from_slice(content),
    }
}

impl StreamSession<'_> {
    /// Initial response, then holding (or following links).
    async fn start(&mut self, mut out: bytes::BytesMut, rest: Option<InitialRest>) -> End {
        let initial = match proxy_content(&self.ins, &self.ins.response.body) {
            Ok(b) => b,
            Err(e) => return End::Error(e),
        };
        out.extend_from_slice(&frame(self.framing, &initial));
        drop(initial);
        let written = self.write(&[&out]).await;
        drop(out);
        // the initial response is out: keep no copy of it while holding
        self.ins.response.headers = http::HeaderMap::new();
        self.ins.response.body = Bytes::new();
        if let Some(end) = written {
            return end;
        }
        if let Some(rest) = rest {
            if let Some(end) = Box::pin(self.stream_rest(rest)).await {
                return end;
            }
        }
        if self.ins.hold.is_none() {
            // a response with only a next link: follow it straight away
            if let Some(end) = Box::pin(self.follow_link()).await {
                return end;
            }
        } else {
            if let Some(c) = self.ins.channels.iter().find(|c| c.prev_id.is_some()) {
                if self.ins.next_link.is_none() {
                    return End::Error(format!(
                        "channel '{}' specifies prev-id, but no next link found",
                        c.name
                    ));
                }
            }
            if self.first_hold_conflicts() {
                if let Some(end) = Box::pin(self.follow_link()).await {
                    return end;
                }
            }
        }
        self.arm_timers();
        self.hold().await
    }

    /// Brings the subscriptions in line with the instructions in force.
    pub(super) fn apply_channels(&mut self) {
        if self.ins.hold.is_none() {
            self.channels.clear();
            return;
        }
        let prefix = self.rc.route.prefix.clone();
        let max = self.ctx.config.connection_subscription_max;
        let wanted: Vec<_> = self.ins.channels.iter().take(max).cloned().collect();
        self.channels
            .retain(|c| wanted.iter().any(|w| w.name == c.spec.name));
        let new = wanted.len().saturating_sub(self.channels.len());
        self.channels.reserve_exact(new);
        for spec in wanted {
            if let Some(c) = self.channels.iter_mut().find(|c| c.spec.name == spec.name) {
                c.spec = spec;
                continue;
            }
            let full = format!("{prefix}{}", spec.name);
            let slot = self.next_slot;
            self.next_slot += 1;
            let (sub, _) = self
                .ctx
                .hub
                .subscribe(&full, self.inbox.clone(), slot, SubMode::Stream);
            self.channels.push(SessionChannel { spec, sub, slot });
        }
        self.ka_data = self
            .ins
            .keep_alive
            .as_ref()
            .map(|k| frame(self.framing, &k.data))
            .unwrap_or_default();
    }

    /// The backend's prev-ids must match what was last published; on the
    /// first hold a mismatch makes the session fetch its next link.
    fn first_hold_conflicts(&self) -> bool {
        let mut conflict = false;
        for c in &self.channels {
            if let Some(prev) = &c.spec.prev_id {
                if self
                    .ctx
                    .hub
                    .last_id(c.sub.channel())
                    .is_some_and(|l| &l != prev)
                {
                    self.ctx.hub.forget_last_id(c.sub.channel());
                    conflict = true;
                }
            }
        }
        conflict
    }

    pub(super) fn arm_timers(&mut self) {
        self.arm_keep_alive();
        self.arm_link();
    }

    fn arm_keep_alive(&mut self) {
        self.ka_deadline = self
            .ins
            .keep_alive
            .as_ref()
            .map(|k| Instant::now() + jittered(k.timeout));
    }

    fn arm_link(&mut self) {
        self.link_deadline = self
            .ins
            .next_link
            .as_ref()
            .map(|l| Instant::now() + l.timeout);
    }

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
                Some(Err(e)) => return Some(End::Error(format!("backend: {e}"))),
            }
        }
        self.ctx.pool.put(backend);
        None
    }

    /// The hold loop: deliveries, keep-alives, link refresh, client close,
    /// shutdown.
    async fn hold(&mut self) -> End {
        let ctx = self.ctx;
        let conn = self.conn;
        let shutdown = ctx.shutdown.cancelled();
        tokio::pin!(shutdown);
        let timer = tokio::time::sleep_until(never());
        tokio::pin!(timer);
        let mut batch: Vec<Delivery> = Vec::new();
        loop {
            let deadline = earliest(self.ka_deadline, self.link_deadline);
            let timer = set_timer(timer.as_mut(), deadline);
            let armed = self.arm_direct();
            let woke = wait(
                shutdown.as_mut(),
                &self.inbox,
                &mut batch,
                timer,
                &conn.stream,
            )
            .await;
            if let Some(wrote_at) = armed.and_then(Armed::disarm) {
                self.wrote_directly(wrote_at);
            }
            let update = match woke {
                Wake::Shutdown => return End::Shutdown,
                Wake::ClientClosed => return End::ClientGone,
                Wake::Inbox(Recv::Overflowed) => return End::Overflow,
                Wake::Inbox(Recv::Recover) => {
                    let update = self.ins.next_link.is_some();
                    if update {
                        // low priority: take a turn with everyone else
                        ctx.pacer.wait(&ctx.shutdown).await;
                    }
                    update
                }
                Wake::Inbox(Recv::Items) => match self.deliver(&mut batch).await {
                    Ok(update) => update,
                    Err(end) => return end,
                },
                Wake::Timer => {
                    let now = Instant::now();
                    if self.ka_deadline.is_some_and(|d| d <= now) {
                        if let Some(end) = self.send_keep_alive().await {
                            return end;
                        }
                    }
                    self.link_deadline.is_some_and(|d| d <= now)
                }
            };
            if update {
                if let Some(end) = Box::pin(self.follow_link()).await {
                    return end;
                }
                self.arm_timers();
            }
        }
    }

    /// Lets the fan-out write deliveries straight to the client while the
    /// session sleeps, when nothing about them is per-session: no filters,
    /// no ids to track, no link to refresh.
    fn arm_direct(&self) -> Option<Armed> {
        let plain = self.framing != Framing::NoBody
            && self.ins.next_link.is_none()
            && self
                .channels
                .iter()
                .all(|c| c.spec.filters.is_empty() && c.spec.prev_id.is_none());
        if !plain {
            return None;
        }
        let track_writes = self
            .ins
            .keep_alive
            .as_ref()
            .is_some_and(|k| k.mode == KeepAliveMode::Idle);
        let sink = DirectSink {
            stream: self.conn.stream.clone(),
            chunked: self.framing == Framing::Chunked,
            track_writes,
        };
        self.inbox
            .arm(sink)
            .then(|| Armed(Some(self.inbox.clone())))
    }

    /// The fan-out wrote to the client at `at`: an idle-mode keep-alive
    /// counts from there.
    fn wrote_directly(&mut self, at: Instant) {
        if let Some(k) = &self.ins.keep_alive {
            if k.mode == KeepAliveMode::Idle {
                self.ka_deadline = Some(at + jittered(k.timeout));
            }
        }
    }

    /// Writes a batch of deliveries in one go. `Ok(true)`: fetch the next
    /// link now (hint, or a gap in ids).
    async fn deliver(&mut self, batch: &mut Vec<Delivery>) -> Result<bool, End> {
        let mut parts = std::mem::take(&mut self.parts);
        let mut result = Ok(false);
        for d in batch.drain(..) {
            let Some(i) = self.channels.iter().position(|c| c.slot == d.slot) else {
                continue;
            };
            let ch = &mut self.channels[i];
            if let Some(prev) = &ch.spec.prev_id {
                if d.item.prev_id.as_ref() != Some(prev) {
                    self.ctx.hub.forget_last_id(ch.sub.channel());
                    result = Ok(self.ins.next_link.is_some());
                    break;
                }
                ch.spec.prev_id = d.item.id.clone();
            }
            match &d.item.http_stream {
                Some(HttpStream::Send(s)) => {
                    let ch = &self.channels[i];
                    let prev_ids = self.prev_ids(&ch.spec.filters);
                    let cf = Some(&s.content_filters);
                    match for_delivery(
                        &ch.spec.filters,
                        &self.ins.meta,
                        &prev_ids,
                        &d.item,
                        &s.content,
                        cf,
                    ) {
                        // the chunk encoded once at publish time, shared
                        Filtered::Same => {
                            // encoded once at publish time and shared; the
                            // fan-out may have written the start already
                            let whole = match self.framing {
                                Framing::Chunked => &s.chunk,
                                _ => &s.content,
                            };
                            let rest = whole.slice((d.skip as usize).min(whole.len())..);
                            if !rest.is_empty() && self.framing != Framing::NoBody {
                                parts.push(rest);
                            }
                        }
                        Filtered::Send(b) if !b.is_empty() => parts.push(frame(self.framing, &b)),
                        Filtered::Send(_) | Filtered::Drop => {}
                        Filtered::Error(e) => {
                            result = Err(End::Error(e));
                            break;
                        }
                    }
                }
                Some(HttpStream::Hint) => {
                    result = Ok(self.ins.next_link.is_some());
                    break;
                }
                Some(HttpStream::Close) => {
                    result = Err(End::Closed);
                    break;
                }
                None => {}
            }
        }
        batch.clear();
        if !parts.is_empty() {
            let written = self.write_parts(&parts).await;
            parts.clear();
            self.parts = parts;
            if let Some(end) = written {
                return Err(end);
            }
            if self
                .ins
                .keep_alive
                .as_ref()
                .is_some_and(|k| k.mode == KeepAliveMode::Idle)
            {
                self.arm_keep_alive();
            }
            self.arm_link();
        }
        result
    }

    /// Channel name → prev-id, for filters that need it (empty otherwise).
    fn prev_ids(&self, filters: &[String]) -> std::collections::BTreeMap<String, Option<String>> {
        if filters.is_empty() {
            return Default::default();
        }
        self.channels
            .iter()
            .map(|c| (c.spec.name.clone(), c.spec.prev_id.clone()))
            .collect()
    }

    async fn send_keep_alive(&mut self) -> Option<End> {
        self.arm_keep_alive();
        if self.ka_data.is_empty() {
            return None;
        }
        let data = self.ka_data.clone();
        self.write(&[&data]).await
    }

    /// Writes shared buffers: at once when the socket takes them (the
    /// usual case, no allocation), else waiting in a boxed slow path.
    async fn write_parts(&self, parts: &[Bytes]) -> Option<End> {
        let total: usize = parts.iter().map(Bytes::len).sum();
        let Ok(done) = try_write_bytes_now(&self.conn.stream, parts) else {
            return Some(End::WriteFailed);
        };
        if done == total {
            return None;
        }
        let all: Vec<&[u8]> = parts.iter().map(|b| &b[..]).collect();
        Box::pin(self.write_slow(remaining(&all, done))).await
    }

    /// Writes, giving up if the queue overflows or the proxy shuts down
    /// meanwhile (a client that stopped reading cannot block us forever).
    pub(super) async fn write(&self, parts: &[&[u8]]) -> Option<End> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(done) = try_write_vectored_now(&self.conn.stream, parts) else {
            return Some(End::WriteFailed);
        };
        if done == total {
            return None;
        }
        Box::pin(self.write_slow(remaining(parts, done))).await
    }

    /// The rest of a write once the socket was full.
    async fn write_slow(&self, rest: Vec<&[u8]>) -> Option<End> {
        tokio::select! {
            r = write_all_vectored(&self.conn.stream, &rest) => r.err().map(|_| End::WriteFailed),
            _ = self.inbox.overflowed() => Some(End::Overflow),
            _ = self.ctx.shutdown.cancelled() => Some(End::Shutdown),
        }
    }
}
