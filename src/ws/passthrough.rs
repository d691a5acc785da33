//! WebSocket passthrough: frames are relayed between the client and a
//! WebSocket backend as they come, both ways (fragments, pings, pongs and
//! closes included: the proxy adds no pongs or close replies of its own).
//! When the backend accepts the `grip` extension, its text messages
//! starting `c:` are control messages, its other messages must carry the
//! message prefix (stripped; unprefixed ones are dropped), and published
//! `ws-message` items reach the client.

use http::HeaderValue;

use super::backend::{self, BackendWs, OpenError};
use super::frame::{Frame, OpCode};
use super::grip::{close_frame, Action, WsGrip};
use super::handshake::{relayable_headers, upgrade, ClientWs};
use super::socket::ReadError;
use super::{grip_extension, Session};
use crate::error::ProxyError;
use crate::http1::ResponseHead;
use crate::proxy::{reply_error, Outgoing};
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::write_full;
use crate::wsoverhttp::control::PREFIX as CONTROL_PREFIX;

/// Proxies a WebSocket to a backend WebSocket.
pub async fn run(conn: &mut ClientConn, s: &Session<'_>, out: Outgoing) -> Next {
    let (backend, answer) = match backend::open(&out, s.route, s.grip).await {
        Ok(x) => x,
        Err(e) => return reject(conn, s, e).await,
    };
    let prefix = if s.grip {
        grip_extension(&answer.headers)
    } else {
        None
    };
    let mut extra = relayable_headers(&answer.headers);
    if prefix.is_some() && s.client.trusted {
        // a trusted client (another Pushpin) speaks GRIP itself
        extra.append("sec-websocket-extensions", HeaderValue::from_static("grip"));
    }
    let prefix = prefix.filter(|_| s.acts_on_grip());
    let implicit = s.implicit_channels();
    let grip = (prefix.is_some() || !implicit.is_empty())
        .then(|| WsGrip::new(s.ctx, &s.route.prefix, implicit));
    let Ok(client) = upgrade(conn, s.accept, extra).await else {
        return Next::Close;
    };
    let mut relay = Relay {
        client,
        backend: Some(backend),
        grip,
        prefix,
        backend_msg: MsgState::Between,
        client_closed: false,
        backend_closed: false,
    };
    relay.run(s).await;
    Next::Close
}

/// Answers a failed backend handshake.
async fn reject(conn: &mut ClientConn, s: &Session<'_>, e: OpenError) -> Next {
    tracing::debug!(error = %e, "websocket backend handshake failed");
    match e {
        OpenError::Connect(tried) => {
            reply_error(
                conn,
                s.head,
                &ProxyError::ConnectFailed(tried),
                s.debug,
                false,
            )
            .await
        }
        OpenError::Protocol(msg) => {
            reply_error(conn, s.head, &ProxyError::Backend(msg), s.debug, false).await
        }
        OpenError::Rejected(answer, body) => {
            let mut head = ResponseHead::new(answer.status, answer.reason);
            head.headers = relayable_headers(&answer.headers);
            if let Some(ct) = answer.headers.get(http::header::CONTENT_TYPE) {
                head.headers.insert(http::header::CONTENT_TYPE, ct.clone());
            }
            finish(
                write_full(&conn.stream, s.head.version, head, &body, false, false).await,
                false,
            )
        }
    }
}

/// Where the backend's current message stands (GRIP mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgState {
    /// No message in progress.
    Between,
    /// Relaying its frames.
    Relay,
    /// Dropping its frames (no prefix, or a fragmented control message).
    Drop,
}

struct Relay<'c> {
    client: ClientWs<'c>,
    /// `None` once detached.
    backend: Option<BackendWs>,
    grip: Option<WsGrip>,
    /// GRIP message prefix when the backend speaks GRIP.
    prefix: Option<String>,
    backend_msg: MsgState,
    /// A close frame came from the client / from the backend.
    client_closed: bool,
    backend_closed: bool,
}

/// What ended the relay loop's current step.
enum Step {
    Continue,
    Stop,
}

type Read = Result<Option<Frame>, ReadError>;

impl Relay<'_> {
    async fn run(&mut self, s: &Session<'_>) {
        loop {
            let step = tokio::select! {
                biased;
                _ = s.ctx.shutdown.cancelled() => {
                    let _ = self.client.send(&Frame::close(Some(1001), "shutting down")).await;
                    Step::Stop
                }
                // both sides are read even after their close frame: the
                // connection ending then ends the relay (as in 1.36), rather
                // than waiting for the other side's answer forever
                f = self.client.read_frame() => self.on_client(f).await,
                f = next_backend(&mut self.backend) => self.on_backend(f).await,
                actions = next_grip(&mut self.grip) => self.apply(actions).await,
            };
            if let Step::Stop = step {
                return;
            }
        }
    }

    async fn on_client(&mut self, f: Read) -> Step {
        let Ok(Some(frame)) = f else {
            // the client is gone (or broke the protocol): drop the backend
            return Step::Stop;
        };
        if self.client_closed {
            // nothing may follow a close frame
            return Step::Continue;
        }
        let closing = frame.opcode == OpCode::Close;
        match &mut self.backend {
            Some(b) => {
                let sent = b.send(&frame).await;
                if sent.is_err() {
                    return Step::Stop;
                }
            }
            None if closing => {
                // detached: answer the close ourselves
                let _ = self.client.send(&Frame::close(None, "")).await;
                return Step::Stop;
            }
            None => {}
        }
        if closing {
            self.client_closed = true;
            if self.backend_closed {
                return Step::Stop;
            }
        }
        Step::Continue
    }

    async fn on_backend(&mut self, f: Read) -> Step {
        let Ok(Some(frame)) = f else {
            // the backend is gone (with or without a close): drop the
            // client too
            return Step::Stop;
        };
        if self.backend_closed {
            return Step::Continue;
        }
        let frame = match self.grip_filter(frame).await {
            Ok(Some(f)) => f,
            Ok(None) => return Step::Continue,
            Err(()) => return Step::Stop,
        };
        let closing = frame.opcode == OpCode::Close;
        if self.client.send(&frame).await.is_err() {
            return Step::Stop;
        }
        if let Some(g) = &mut self.grip {
            g.wrote();
        }
        if closing {
            self.backend_closed = true;
            if self.client_closed {
                return Step::Stop;
            }
        }
        Step::Continue
    }

    /// GRIP's rules for backend frames: control messages, the message
    /// prefix. `Ok(None)`: nothing for the client; `Err`: drop everything.
    async fn grip_filter(&mut self, frame: Frame) -> Result<Option<Frame>, ()> {
        let Some(prefix) = &self.prefix else {
            return Ok(Some(frame));
        };
        match frame.opcode {
            OpCode::Continuation => {
                let keep = self.backend_msg == MsgState::Relay;
                if frame.fin {
                    self.backend_msg = MsgState::Between;
                }
                Ok(keep.then_some(frame))
            }
            OpCode::Text | OpCode::Binary => {
                if frame.opcode == OpCode::Text && frame.payload.starts_with(CONTROL_PREFIX) {
                    if !frame.fin {
                        self.backend_msg = MsgState::Drop;
                        return Ok(None);
                    }
                    let json = frame.payload.slice(CONTROL_PREFIX.len()..);
                    let g = self.grip.as_mut().expect("GRIP mode has GRIP state");
                    return match g.control(&json) {
                        Ok(actions) => match self.apply(actions).await {
                            Step::Continue => Ok(None),
                            Step::Stop => Err(()),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "invalid GRIP control message, closing");
                            Err(())
                        }
                    };
                }
                let n = prefix.len();
                if !frame.payload.starts_with(prefix.as_bytes()) {
                    self.backend_msg = if frame.fin {
                        MsgState::Between
                    } else {
                        MsgState::Drop
                    };
                    return Ok(None);
                }
                self.backend_msg = if frame.fin {
                    MsgState::Between
                } else {
                    MsgState::Relay
                };
                Ok(Some(Frame {
                    payload: frame.payload.slice(n..),
                    ..frame
                }))
            }
            _ => Ok(Some(frame)),
        }
    }

    async fn apply(&mut self, actions: Vec<Action>) -> Step {
        for a in actions {
            match a {
                Action::Send(bytes) => {
                    if self.client.send_raw(&bytes).await.is_err() {
                        return Step::Stop;
                    }
                    if let Some(g) = &mut self.grip {
                        g.wrote();
                    }
                }
                Action::Close(code, reason) => {
                    if self.client.send(&close_frame(code, &reason)).await.is_err() {
                        return Step::Stop;
                    }
                    self.backend_closed = true;
                    if let Some(mut b) = self.backend.take() {
                        let _ = b.send(&Frame::close(None, "")).await;
                    }
                }
                Action::Detach => {
                    if let Some(mut b) = self.backend.take() {
                        let _ = b.send(&Frame::close(None, "")).await;
                    }
                }
                Action::Refresh => {}
            }
        }
        Step::Continue
    }
}

async fn next_backend(b: &mut Option<BackendWs>) -> Read {
    match b {
        Some(b) => b.read_frame().await,
        None => std::future::pending().await,
    }
}

async fn next_grip(g: &mut Option<WsGrip>) -> Vec<Action> {
    match g {
        Some(g) => g.next().await,
        None => std::future::pending().await,
    }
}
