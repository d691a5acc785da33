//! WebSocket passthrough: the client's socket is relayed to a WebSocket
//! backend message by message, both ways. When the backend accepts the
//! `grip` extension, its text messages starting `c:` are control messages,
//! its other messages must carry the message prefix (stripped; unprefixed
//! ones are dropped), and published `ws-message` items reach the client.

use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::backend::{self, BackendWs, OpenError};
use super::grip::{close_frame, Action, WsGrip};
use super::handshake::{relayable_headers, upgrade, ClientWs};
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

struct Relay<'c> {
    client: ClientWs<'c>,
    /// `None` once detached or closed.
    backend: Option<BackendWs>,
    grip: Option<WsGrip>,
    /// GRIP message prefix when the backend speaks GRIP.
    prefix: Option<String>,
}

/// What ended the relay loop's current step.
enum Step {
    Continue,
    Stop,
}

impl Relay<'_> {
    async fn run(&mut self, s: &Session<'_>) {
        loop {
            let step = tokio::select! {
                biased;
                _ = s.ctx.shutdown.cancelled() => {
                    let _ = self.client.send(Message::Close(close_frame(Some(1001), "shutting down"))).await;
                    if let Some(b) = &mut self.backend {
                        let _ = b.close(None).await;
                    }
                    Step::Stop
                }
                m = self.client.next() => self.on_client(m).await,
                m = next_backend(&mut self.backend) => self.on_backend(m).await,
                actions = next_grip(&mut self.grip) => self.apply(actions).await,
            };
            if let Step::Stop = step {
                return;
            }
        }
    }

    async fn on_client(&mut self, m: Option<Result<Message, WsError>>) -> Step {
        match m {
            Some(Ok(msg)) => {
                let closing = matches!(msg, Message::Close(_));
                if let Some(b) = &mut self.backend {
                    if b.send(msg).await.is_err() && !closing {
                        return Step::Stop;
                    }
                }
                if closing && self.backend.is_none() {
                    // detached: nobody else will answer the close
                    return Step::Stop;
                }
                Step::Continue
            }
            // client gone: drop the backend connection
            _ => Step::Stop,
        }
    }

    async fn on_backend(&mut self, m: Option<Result<Message, WsError>>) -> Step {
        let Some(Ok(msg)) = m else {
            // backend gone without a close: drop the client too
            return Step::Stop;
        };
        let msg = match (&self.prefix, msg) {
            (Some(prefix), Message::Text(t)) => {
                if let Some(json) = t.as_bytes().strip_prefix(CONTROL_PREFIX) {
                    let Some(g) = &mut self.grip else {
                        return Step::Continue;
                    };
                    return match g.control(json) {
                        Ok(actions) => self.apply(actions).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "invalid GRIP control message, closing");
                            Step::Stop
                        }
                    };
                }
                match t.as_str().strip_prefix(prefix.as_str()) {
                    Some(rest) => Message::Text(rest.to_owned().into()),
                    None => return Step::Continue,
                }
            }
            (Some(prefix), Message::Binary(b)) => match b.strip_prefix(prefix.as_bytes()) {
                Some(rest) => Message::Binary(bytes::Bytes::copy_from_slice(rest)),
                None => return Step::Continue,
            },
            (_, msg) => msg,
        };
        let closing = matches!(msg, Message::Close(_));
        if self.client.send(msg).await.is_err() {
            return Step::Stop;
        }
        if let Some(g) = &mut self.grip {
            g.wrote();
        }
        if closing {
            // the close handshake completes when the client answers
            self.backend = None;
        }
        Step::Continue
    }

    async fn apply(&mut self, actions: Vec<Action>) -> Step {
        for a in actions {
            match a {
                Action::Send(m) => {
                    if self.client.send(m).await.is_err() {
                        return Step::Stop;
                    }
                    if let Some(g) = &mut self.grip {
                        g.wrote();
                    }
                }
                Action::Close(code, reason) => {
                    let _ = self
                        .client
                        .send(Message::Close(close_frame(code, &reason)))
                        .await;
                    if let Some(mut b) = self.backend.take() {
                        let _ = b.close(None).await;
                    }
                }
                Action::Detach => {
                    if let Some(mut b) = self.backend.take() {
                        let _ = b.close(None).await;
                    }
                }
                Action::Refresh => {}
            }
        }
        Step::Continue
    }
}

async fn next_backend(b: &mut Option<BackendWs>) -> Option<Result<Message, WsError>> {
    match b {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}

async fn next_grip(g: &mut Option<WsGrip>) -> Vec<Action> {
    match g {
        Some(g) => g.next().await,
        None => std::future::pending().await,
    }
}
