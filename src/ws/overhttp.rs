//! WebSocket-over-HTTP (`over_http` targets): the proxy terminates the
//! client's WebSocket and talks to the backend in `POST`s of
//! `application/websocket-events`, one at a time. Client messages are
//! queued as events and sent in batches; the backend's reply events go to
//! the client (with GRIP's prefix and control-message rules when the
//! opening reply enabled the `grip` extension). A client that goes away
//! without a close produces a background `DISCONNECT` request.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use tokio::time::{sleep_until, Instant};

use super::frame::{Frame, OpCode};
use super::grip::{close_frame, Action, WsGrip};
use super::handshake::{upgrade, ClientWs};
use super::overhttp_io::{
    connection_id, open_headers_for_client, send_once, send_with_retries, Channel, Reply,
    MAX_REJECT_BODY,
};
use super::socket::{Assembler, ReadError};
use super::{grip_extension, Session};
use crate::error::ProxyError;
use crate::http1::ResponseHead;
use crate::proxy::{reply_error, FetchError, Outgoing};
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::write_full;
use crate::wsoverhttp::control::PREFIX as CONTROL_PREFIX;
use crate::wsoverhttp::events::{decode_bytes, encode_into, Event, EventKind};

/// Most content bytes put in one request.
const MAX_REQUEST_CONTENT: usize = 200_000;

/// Largest client message relayed: 1.36 cannot fit a bigger one in its
/// request buffer and drops the client, telling the backend nothing.
const MAX_CLIENT_MESSAGE: usize = 200_000;

type InFlight<'a> = Pin<Box<dyn Future<Output = Result<Reply, FetchError>> + Send + 'a>>;

/// Runs a WebSocket-over-HTTP connection.
pub async fn run(conn: &mut ClientConn, s: &Session<'_>, out: Outgoing) -> Next {
    let mut ch = Channel::new(s.ctx, s.route, out, connection_id());
    if s.grip {
        ch.base.req.headers.insert(
            "sec-websocket-extensions",
            http::HeaderValue::from_static("grip"),
        );
    }
    let (open, first_events) = match open(&mut ch, conn, s).await {
        Ok(x) => x,
        Err(next) => return next,
    };
    let prefix = if s.grip {
        grip_extension(&open.headers)
    } else {
        None
    }
    .filter(|_| s.acts_on_grip());
    let implicit = s.implicit_channels();
    let grip = (prefix.is_some() || !implicit.is_empty())
        .then(|| WsGrip::new(s.ctx, &s.route.prefix, implicit));
    let Ok(client) = upgrade(conn, s.accept, open_headers_for_client(&open.headers)).await else {
        disconnect(s, &ch);
        return Next::Close;
    };
    let mut w = OverHttp {
        s,
        ch,
        client,
        grip,
        prefix,
        pending: VecDeque::new(),
        unsent: 0,
        resent_bytes: 0,
        in_flight: None,
        offered: 0,
        force: false,
        close_sent: false,
        peer_closed: false,
        detached: false,
        client_open: true,
        assembler: Assembler::default(),
        abandoned: false,
        ka_deadline: None,
    };
    if w.events(first_events).await == Flow::Stop {
        return Next::Close;
    }
    w.arm_keep_alive();
    w.run().await;
    Next::Close
}

/// The opening exchange: `OPEN` until the backend opens (or refuses).
async fn open(
    ch: &mut Channel<'_>,
    conn: &mut ClientConn,
    s: &Session<'_>,
) -> Result<(Reply, Vec<Event>), Next> {
    let mut body = BytesMut::new();
    encode_into(&mut body, &[Event::open()]);
    let body = body.freeze();
    loop {
        let reply = match ch.send_once(body.clone(), 0).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "websocket-over-HTTP open failed");
                return Err(reply_error(conn, s.head, &e.into_proxy_error(), s.debug, false).await);
            }
        };
        if !reply.is_events() {
            let mut head = ResponseHead::new(reply.status, reply.reason);
            head.headers = reply.headers;
            head.headers.remove(http::header::CONTENT_LENGTH);
            head.headers.remove(http::header::TRANSFER_ENCODING);
            let b = &reply.body[..reply.body.len().min(MAX_REJECT_BODY)];
            return Err(finish(
                write_full(&conn.stream, s.head.version, head, b, false, false).await,
                false,
            ));
        }
        ch.absorb(&reply.headers);
        let bad = |why: &str| ProxyError::Backend(why.to_owned());
        let mut events = match decode_bytes(&reply.body) {
            Ok(e) => e,
            Err(e) => {
                return Err(reply_error(conn, s.head, &bad(&e.to_string()), s.debug, false).await);
            }
        };
        if events.is_empty() {
            let Some(interval) = ch.keep_alive else {
                let err = bad("no OPEN in the opening reply");
                return Err(reply_error(conn, s.head, &err, s.debug, false).await);
            };
            // the backend is not ready yet: ask again later
            tokio::select! {
                _ = s.ctx.shutdown.cancelled() => return Err(Next::Close),
                _ = tokio::time::sleep(interval) => continue,
            }
        }
        if events[0].kind != EventKind::Open {
            let err = bad("the opening reply does not start with OPEN");
            return Err(reply_error(conn, s.head, &err, s.debug, false).await);
        }
        events.remove(0);
        return Ok((reply, events));
    }
}

/// Tells the backend, from a task of its own, that the client went away.
fn disconnect(s: &Session<'_>, ch: &Channel<'_>) {
    let ctx = s.ctx.clone();
    let route = s.route_arc.clone();
    let out = ch.outgoing(0);
    let mut body = BytesMut::new();
    encode_into(&mut body, &[Event::disconnect()]);
    s.ctx.tracker.spawn(async move {
        if let Err(e) = send_once(&ctx, &route, out, body.freeze()).await {
            tracing::debug!(error = %e, "DISCONNECT request failed");
        }
    });
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// A backend message, sorted by GRIP's rules.
enum Incoming {
    Message(Frame),
    /// A control message's JSON.
    Control(Bytes),
    /// Without the message prefix: dropped.
    Skip,
}

/// A ping or pong for the client (at most 125 bytes of payload).
fn control(op: OpCode, data: Bytes) -> Frame {
    let data = if data.len() > 125 {
        data.slice(..125)
    } else {
        data
    };
    Frame::new(op, data)
}

fn to_client(text: bool, data: Bytes) -> Frame {
    Frame::new(if text { OpCode::Text } else { OpCode::Binary }, data)
}

struct OverHttp<'a, 'c> {
    s: &'a Session<'a>,
    ch: Channel<'a>,
    client: ClientWs<'c>,
    grip: Option<WsGrip>,
    prefix: Option<String>,
    /// Events not yet accepted by the backend, oldest first.
    pending: VecDeque<Event>,
    /// How many events at the back of `pending` were never sent.
    unsent: usize,
    /// Content bytes at the front of `pending` that were sent before and
    /// not accepted (replayed in the next request).
    resent_bytes: usize,
    in_flight: Option<InFlight<'a>>,
    /// Events (count) the request in flight carries.
    offered: usize,
    /// Make a request even without new messages (keep-alive, refresh).
    force: bool,
    close_sent: bool,
    /// The backend sent `CLOSE`.
    peer_closed: bool,
    detached: bool,
    /// Still reading the client (not closed, not gone).
    client_open: bool,
    /// The client's message in progress (fragments).
    assembler: Assembler,
    /// The client vanished without a close: tell the backend once the
    /// request in flight is done.
    abandoned: bool,
    ka_deadline: Option<Instant>,
}

impl<'a> OverHttp<'a, '_> {
    async fn run(&mut self) {
        loop {
            if self.abandoned && self.in_flight.is_none() {
                disconnect(self.s, &self.ch);
                return;
            }
            if self.in_flight.is_none() && self.wants_request() {
                self.start_request();
            }
            if self.in_flight.is_none() && !self.client_open {
                return;
            }
            let ka = self.ka_deadline.filter(|_| self.in_flight.is_none());
            let flow = tokio::select! {
                biased;
                _ = self.s.ctx.shutdown.cancelled() => {
                    let _ = self.client.send(&close_frame(Some(1001), "shutting down")).await;
                    disconnect(self.s, &self.ch);
                    Flow::Stop
                }
                r = async { self.in_flight.as_mut().expect("guarded").await }, if self.in_flight.is_some() => {
                    self.in_flight = None;
                    self.on_reply(r).await
                }
                f = self.client.read_frame(), if self.client_open => self.on_client(f),
                _ = sleep_until(ka.unwrap_or_else(Instant::now)), if ka.is_some() => {
                    self.force = true;
                    Flow::Continue
                }
                actions = async { match &mut self.grip { Some(g) => g.next().await, None => std::future::pending().await } } => {
                    self.apply(actions).await
                }
            };
            if flow == Flow::Stop {
                return;
            }
        }
    }

    /// Whether to make a request now. A detached session owes the backend
    /// only what is queued (its `CLOSE`): no keep-alives, no refreshes.
    fn wants_request(&self) -> bool {
        if self.detached {
            return self.unsent > 0;
        }
        self.force || self.unsent > 0
    }

    fn arm_keep_alive(&mut self) {
        self.ka_deadline = self.ch.keep_alive.map(|i| Instant::now() + i);
    }

    /// Starts a request with the pending events (up to the size limit).
    fn start_request(&mut self) {
        let mut body = BytesMut::new();
        let mut content = 0;
        let mut count = 0;
        for ev in &self.pending {
            if count > 0 && content >= MAX_REQUEST_CONTENT {
                break;
            }
            if count > 0 && self.s.route.targets.first().is_some_and(|t| t.one_event) {
                break;
            }
            content += ev.content_len();
            count += 1;
            crate::wsoverhttp::events::encode_event_into(&mut body, ev);
        }
        self.offered = count;
        // included events are all sent now; unsent ones sit at the back
        self.unsent = self.unsent.min(self.pending.len() - count);
        self.force = false;
        self.ka_deadline = None;
        let out = self.ch.outgoing(self.resent_bytes.min(content));
        let (ctx, route) = (self.s.ctx, self.s.route);
        self.in_flight = Some(Box::pin(send_with_retries(ctx, route, out, body.freeze())));
    }

    /// Drops what the backend accepted from the front of `pending`.
    fn acknowledge(&mut self, reply: &Reply) -> Result<(), String> {
        let offered_bytes: usize = self
            .pending
            .iter()
            .take(self.offered)
            .map(Event::content_len)
            .sum();
        let accepted = reply.bytes_accepted().unwrap_or(offered_bytes);
        if accepted > offered_bytes {
            return Err("backend accepted more content than was offered".into());
        }
        let mut left = accepted;
        let mut done = 0;
        while done < self.offered {
            let len = self.pending[0].content_len();
            if left >= len && !(len == 0 && left == 0 && accepted < offered_bytes) {
                left -= len;
                let ev = self
                    .pending
                    .pop_front()
                    .expect("offered events are pending");
                if ev.kind == EventKind::Close {
                    self.close_sent = true;
                }
                done += 1;
            } else {
                if left > 0 {
                    let ev = &mut self.pending[0];
                    if let Some(c) = &mut ev.content {
                        let rest = c.slice(left..);
                        *c = rest;
                    }
                }
                break;
            }
        }
        self.resent_bytes = offered_bytes - accepted;
        Ok(())
    }

    async fn on_reply(&mut self, r: Result<Reply, FetchError>) -> Flow {
        if self.detached {
            // the backend side is finished: whatever it answers, the
            // client stays; only events never sent (the CLOSE) remain
            self.pending.drain(..self.offered);
            self.resent_bytes = 0;
            return Flow::Continue;
        }
        let reply = match r {
            Ok(r) if r.is_events() => r,
            Ok(r) => {
                tracing::debug!(status = r.status, "websocket-over-HTTP request refused");
                return Flow::Stop;
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket-over-HTTP request failed");
                return Flow::Stop;
            }
        };
        self.ch.absorb(&reply.headers);
        if let Err(e) = self.acknowledge(&reply) {
            tracing::debug!(error = %e, "websocket-over-HTTP accounting failed");
            return Flow::Stop;
        }
        let events = match decode_bytes(&reply.body) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable websocket-events reply");
                return Flow::Stop;
            }
        };
        if self.events(events).await == Flow::Stop {
            return Flow::Stop;
        }
        if self.close_sent && (self.peer_closed || self.ch.keep_alive.is_none()) {
            return Flow::Stop;
        }
        self.arm_keep_alive();
        Flow::Continue
    }

    /// Acts on events from the backend.
    async fn events(&mut self, events: Vec<Event>) -> Flow {
        for ev in events {
            let msg = match ev.kind {
                EventKind::Open | EventKind::Disconnect => return Flow::Stop,
                EventKind::Close => {
                    let (code, reason) = ev.close_code();
                    self.peer_closed = true;
                    let _ = self.client.send(&close_frame(code, &reason)).await;
                    if self.close_sent {
                        return Flow::Stop;
                    }
                    return Flow::Continue;
                }
                EventKind::Ping => control(OpCode::Ping, ev.content.unwrap_or_default()),
                EventKind::Pong => control(OpCode::Pong, ev.content.unwrap_or_default()),
                EventKind::Text | EventKind::Binary => {
                    let text = ev.kind == EventKind::Text;
                    match self.prefixed(text, ev.content.unwrap_or_default()) {
                        Incoming::Message(m) => m,
                        Incoming::Skip => continue,
                        Incoming::Control(json) => {
                            let g = self.grip.as_mut().expect("GRIP mode has GRIP state");
                            match g.control(&json) {
                                Ok(actions) => {
                                    if self.apply(actions).await == Flow::Stop {
                                        return Flow::Stop;
                                    }
                                    continue;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "invalid GRIP control message, closing");
                                    // the client is dropped, so the backend
                                    // hears of it as a disconnect (as in 1.36)
                                    disconnect(self.s, &self.ch);
                                    return Flow::Stop;
                                }
                            }
                        }
                    }
                }
            };
            if self.detached {
                continue;
            }
            if self.abandoned {
                continue;
            }
            if self.client.send(&msg).await.is_err() {
                return Flow::Stop;
            }
            if let Some(g) = &mut self.grip {
                g.wrote();
            }
        }
        Flow::Continue
    }

    /// Applies GRIP's message rules: `c:` control messages, the message
    /// prefix.
    fn prefixed(&self, text: bool, data: Bytes) -> Incoming {
        let Some(prefix) = &self.prefix else {
            return Incoming::Message(to_client(text, data));
        };
        if text && data.starts_with(CONTROL_PREFIX) {
            return Incoming::Control(data.slice(CONTROL_PREFIX.len()..));
        }
        if !data.starts_with(prefix.as_bytes()) {
            return Incoming::Skip;
        }
        Incoming::Message(to_client(text, data.slice(prefix.len()..)))
    }

    /// Ends the backend side with a `CLOSE` (no code), as 1.36 does; the
    /// client stays connected for published messages.
    fn detach(&mut self) {
        if !self.detached {
            self.queue(Event::close(None, ""));
            self.detached = true;
            self.ka_deadline = None;
        }
    }

    fn queue(&mut self, ev: Event) {
        self.pending.push_back(ev);
        self.unsent += 1;
    }

    fn on_client(&mut self, f: Result<Option<Frame>, ReadError>) -> Flow {
        let Ok(Some(frame)) = f else {
            self.client_open = false;
            if !self.close_sent && !self.detached {
                self.abandoned = true;
                return Flow::Continue;
            }
            return Flow::Stop;
        };
        let ev = match frame.opcode {
            OpCode::Ping => Event::ping(frame.payload),
            OpCode::Pong => Event::pong(frame.payload),
            OpCode::Close => {
                self.client_open = false;
                let (code, reason) = frame.close_code();
                Event::close(code, &reason)
            }
            _ if !self.detached
                && self.assembler.buffered() + frame.payload.len() > MAX_CLIENT_MESSAGE =>
            {
                tracing::debug!(
                    "client message over {MAX_CLIENT_MESSAGE} bytes, dropping the client"
                );
                return Flow::Stop;
            }
            _ => match self.assembler.push(frame) {
                Some((OpCode::Text, data)) => Event::text(data),
                Some((_, data)) => Event::binary(data),
                None => return Flow::Continue,
            },
        };
        if self.detached {
            return if ev.kind == EventKind::Close {
                Flow::Stop
            } else {
                Flow::Continue
            };
        }
        self.queue(ev);
        Flow::Continue
    }

    async fn apply(&mut self, actions: Vec<Action>) -> Flow {
        for a in actions {
            match a {
                Action::Send(m) => {
                    if self.client.send_raw(&m).await.is_err() {
                        return Flow::Stop;
                    }
                    if let Some(g) = &mut self.grip {
                        g.wrote();
                    }
                }
                Action::Close(code, reason) => {
                    let _ = self.client.send(&close_frame(code, &reason)).await;
                    self.queue(Event::close(None, ""));
                }
                Action::Refresh => self.force = true,
                Action::Detach => self.detach(),
            }
        }
        Flow::Continue
    }
}
