//! The GRIP side of a WebSocket connection: channel subscriptions and
//! subscription meta set by control messages, published `ws-message`
//! deliveries, keep-alives and delayed messages. Shared by passthrough,
//! WebSocket-over-HTTP and the test target; runs on the connection's task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{sleep_until, Instant};

use super::frame::{encode_server, Frame, OpCode};

use crate::app::Ctx;
use crate::grip::filter::{
    check_content_filters, has_content_filters, process_content, should_drop, FilterContext,
};
use crate::grip::instruct::KeepAliveMode;
use crate::grip::item::{WsKind, WsMessage};
use crate::hub::{Delivery, Inbox, Recv, SubMode, Subscription};
use crate::session::common::jittered;
use crate::wsoverhttp::control::{self, ControlMessage, WsPayload};

/// What the connection should do, as decided by the GRIP side.
#[derive(Debug)]
pub enum Action {
    /// Send this encoded frame to the client.
    Send(Bytes),
    /// Close the client with this code and reason (publish `close`).
    Close(Option<u16>, String),
    /// WebSocket-over-HTTP: make a request to the backend now.
    Refresh,
    /// Stop relaying to the backend; keep the client for publishing.
    Detach,
}

#[derive(Debug)]
struct WsChannel {
    /// As the backend named it (without route prefix).
    name: String,
    filters: Vec<String>,
    /// From the target's `sub=`: cannot be unsubscribed.
    implicit: bool,
    slot: u32,
    _sub: Subscription,
}

#[derive(Debug)]
struct KeepAlive {
    message: Bytes,
    timeout: Duration,
    mode: KeepAliveMode,
}

/// Per-connection GRIP state.
#[derive(Debug)]
pub struct WsGrip {
    ctx: Ctx,
    prefix: String,
    inbox: Arc<Inbox>,
    channels: Vec<WsChannel>,
    next_slot: u32,
    meta: BTreeMap<String, Option<String>>,
    keep_alive: Option<KeepAlive>,
    ka_deadline: Option<Instant>,
    delayed: Option<(Bytes, Instant)>,
    batch: Vec<Delivery>,
}

/// A frame for the client carrying `content` as a `kind` message (control
/// frames are cut to the 125 bytes they may carry).
pub fn to_frame(kind: WsKind, content: Bytes) -> Bytes {
    let op = OpCode::from_kind(kind);
    let content = if op.is_control() && content.len() > 125 {
        content.slice(..125)
    } else {
        content
    };
    encode_server(&Frame::new(op, content))
}

/// A close frame for the client: `code` and `reason`, or 1000 without a
/// code (as 1.36's clients see it).
pub fn close_frame(code: Option<u16>, reason: &str) -> Frame {
    match code {
        Some(c) => Frame::close(Some(c), reason),
        None => Frame::close(Some(1000), ""),
    }
}

fn payload_message(p: &WsPayload) -> Bytes {
    to_frame(p.kind, p.content.clone())
}

impl WsGrip {
    /// GRIP state with the route's channel prefix and the target's implicit
    /// `sub=` channels already subscribed.
    pub fn new(ctx: &Ctx, prefix: &str, implicit: &[String]) -> WsGrip {
        let mut g = WsGrip {
            ctx: ctx.clone(),
            prefix: prefix.to_owned(),
            inbox: Inbox::new(ctx.config.session_queue_max),
            channels: Vec::new(),
            next_slot: 0,
            meta: BTreeMap::new(),
            keep_alive: None,
            ka_deadline: None,
            delayed: None,
            batch: Vec::new(),
        };
        for ch in implicit {
            g.subscribe_full(ch.clone(), ch, Vec::new(), true);
        }
        g
    }

    fn subscribe_full(&mut self, name: String, full: &str, filters: Vec<String>, implicit: bool) {
        if let Some(c) = self.channels.iter_mut().find(|c| c.name == name) {
            c.filters = filters;
            return;
        }
        if !implicit && self.channels.len() >= self.ctx.config.connection_subscription_max {
            tracing::debug!(channel = %name, "subscription limit reached, ignored");
            return;
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        let (sub, _) = self
            .ctx
            .hub
            .subscribe(full, self.inbox.clone(), slot, SubMode::WebSocket);
        self.channels.push(WsChannel {
            name,
            filters,
            implicit,
            slot,
            _sub: sub,
        });
    }

    /// Applies a control message (the JSON after `c:`).
    pub fn control(&mut self, json: &[u8]) -> Result<Vec<Action>, control::ControlError> {
        let mut out = Vec::new();
        match control::parse(json)? {
            ControlMessage::Subscribe { channel, filters } => {
                let full = format!("{}{channel}", self.prefix);
                self.subscribe_full(channel, &full, filters, false);
            }
            ControlMessage::Unsubscribe { channel } => {
                self.channels.retain(|c| c.implicit || c.name != channel);
            }
            ControlMessage::Detach => out.push(Action::Detach),
            ControlMessage::Session { .. } => {}
            ControlMessage::SetMeta { name, value } => match value {
                Some(v) => {
                    self.meta.insert(name, Some(v));
                }
                None => {
                    self.meta.remove(&name);
                }
            },
            ControlMessage::KeepAlive {
                message,
                timeout,
                mode,
            } => {
                self.keep_alive = message.map(|m| KeepAlive {
                    message: payload_message(&m),
                    timeout,
                    mode,
                });
                self.arm_keep_alive();
            }
            ControlMessage::SendDelayed { message, timeout } => {
                if let Some((m, _)) = self.delayed.take() {
                    out.push(Action::Send(m));
                }
                self.delayed = Some((payload_message(&message), Instant::now() + timeout));
            }
            ControlMessage::FlushDelayed => {
                if let Some((m, _)) = self.delayed.take() {
                    out.push(Action::Send(m));
                }
            }
        }
        Ok(out)
    }

    fn arm_keep_alive(&mut self) {
        self.ka_deadline = self
            .keep_alive
            .as_ref()
            .map(|k| Instant::now() + jittered(k.timeout));
    }

    /// Something was written to the client: an idle keep-alive restarts.
    pub fn wrote(&mut self) {
        if self
            .keep_alive
            .as_ref()
            .is_some_and(|k| k.mode == KeepAliveMode::Idle)
        {
            self.arm_keep_alive();
        }
    }

    /// Waits for the next thing the GRIP side wants done: published
    /// messages, a keep-alive, a delayed message.
    pub async fn next(&mut self) -> Vec<Action> {
        let ka = self.ka_deadline;
        let delayed = self.delayed.as_ref().map(|(_, t)| *t);
        tokio::select! {
            r = self.inbox.recv(&mut self.batch) => match r {
                // a connection that cannot keep up is closed, as HTTP ones are
                Recv::Overflowed => vec![Action::Close(Some(1008), "too slow".to_owned())],
                Recv::Recover => Vec::new(),
                Recv::Items => self.deliveries(),
            },
            _ = sleep_until(ka.unwrap_or_else(Instant::now)), if ka.is_some() => {
                self.arm_keep_alive();
                self.keep_alive.as_ref().map(|k| vec![Action::Send(k.message.clone())]).unwrap_or_default()
            }
            _ = sleep_until(delayed.unwrap_or_else(Instant::now)), if delayed.is_some() => {
                self.delayed.take().map(|(m, _)| vec![Action::Send(m)]).unwrap_or_default()
            }
        }
    }

    fn deliveries(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        let no_prev_ids = BTreeMap::new();
        for d in std::mem::take(&mut self.batch) {
            let Some(ch) = self.channels.iter().find(|c| c.slot == d.slot) else {
                continue;
            };
            match &d.item.ws_message {
                Some(WsMessage::Send {
                    kind,
                    content,
                    content_filters,
                    frame,
                }) => {
                    if check_content_filters(&ch.filters, content_filters.as_deref()).is_err() {
                        continue;
                    }
                    let fctx = FilterContext {
                        sub_meta: &self.meta,
                        pub_meta: &d.item.meta,
                        prev_ids: &no_prev_ids,
                    };
                    if !ch.filters.is_empty() && should_drop(&ch.filters, &fctx) {
                        continue;
                    }
                    if has_content_filters(&ch.filters) {
                        match process_content(&ch.filters, &fctx, content) {
                            Ok(c) => out.push(Action::Send(to_frame(*kind, Bytes::from(c)))),
                            Err(e) => tracing::debug!(error = %e, "ws delivery filter failed"),
                        }
                    } else {
                        // the frame encoded once at publish time, shared
                        out.push(Action::Send(frame.clone()));
                    }
                }
                Some(WsMessage::Close { code, reason }) => {
                    out.push(Action::Close(*code, reason.clone()))
                }
                Some(WsMessage::Refresh) => out.push(Action::Refresh),
                Some(WsMessage::Hint) | None => {}
            }
        }
        out
    }
}
