//! WebSocket requests: passthrough to WebSocket backends (optionally
//! speaking GRIP through the `grip` extension), WebSocket-over-HTTP for
//! `over_http` targets, and the `test` target's echo socket. Each runs on
//! the client connection's task until the socket closes.

pub mod backend;
pub mod frame;
pub mod grip;
pub mod handshake;
pub mod overhttp;
mod overhttp_io;
pub mod passthrough;
pub mod socket;
pub mod testws;

use std::sync::Arc;

use crate::app::Ctx;
use crate::error::ProxyError;
use crate::http1::RequestHead;
use crate::proxy::{client_trusted, reply_error, ClientFacts, Outgoing};
use crate::routes::{Route, TargetKind};
use crate::server::conn::Next;
use crate::server::io::ClientConn;

/// Serves a WebSocket opening handshake.
pub async fn handle(
    conn: &mut ClientConn,
    head: Arc<RequestHead>,
    route: Arc<Route>,
    ctx: &Ctx,
    secure: bool,
) -> Next {
    let debug = ctx.config.debug || route.debug;
    let Some(accept) = handshake::accept_key(&head) else {
        let err = ProxyError::BadRequest("bad WebSocket handshake".into());
        return reply_error(conn, &head, &err, debug, false).await;
    };
    let client = ClientFacts {
        peer: conn.peer_ip(),
        secure,
        trusted: client_trusted(&head, ctx),
    };
    let Some(first) = route.targets.first() else {
        return Next::Close;
    };
    if first.kind == TargetKind::Test {
        return testws::run(conn, &head, &route, ctx, &accept).await;
    }
    let mut out = Outgoing::new(&head, &route, ctx, client);
    // never forward the client's extensions; offer grip when it applies
    out.req.headers.remove("sec-websocket-extensions");
    let grip = !route.no_grip;
    let session = Session {
        head: &head,
        route: &route,
        route_arc: &route,
        ctx,
        accept: &accept,
        debug,
        client,
        grip,
    };
    if first.over_http {
        overhttp::run(conn, &session, out).await
    } else {
        passthrough::run(conn, &session, out).await
    }
}

/// What every kind of WebSocket session needs about its request.
#[derive(Debug)]
pub struct Session<'a> {
    pub head: &'a RequestHead,
    pub route: &'a Route,
    pub route_arc: &'a Arc<Route>,
    pub ctx: &'a Ctx,
    /// `Sec-WebSocket-Accept` for the client.
    pub accept: &'a str,
    pub debug: bool,
    pub client: ClientFacts,
    /// GRIP applies (route not `no_grip`); with a trusted client the grip
    /// extension is passed to it instead of being acted on.
    pub grip: bool,
}

impl Session<'_> {
    /// Implicit `sub=` channels of the route's first target.
    pub fn implicit_channels(&self) -> &[String] {
        self.route
            .targets
            .first()
            .map_or(&[], |t| t.subs.as_slice())
    }

    /// Whether the proxy itself acts on GRIP (not passing it to a trusted
    /// client).
    pub fn acts_on_grip(&self) -> bool {
        self.grip && !self.client.trusted
    }
}

/// The `grip` extension in a `Sec-WebSocket-Extensions` answer: its
/// `message-prefix` (default `m:`), or `None` when absent.
pub fn grip_extension(headers: &http::HeaderMap) -> Option<String> {
    for v in headers.get_all("sec-websocket-extensions") {
        for ext in crate::grip::params::split_list(v.to_str().unwrap_or("")) {
            let Ok((name, params)) = crate::grip::params::value_and_params(&ext) else {
                continue;
            };
            if name == "grip" {
                let prefix = crate::grip::params::find(&params, "message-prefix")
                    .map(|p| p.value.clone().unwrap_or_default());
                return Some(prefix.unwrap_or_else(|| "m:".to_owned()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grip_extension_params() {
        let mut h = http::HeaderMap::new();
        assert_eq!(grip_extension(&h), None);
        h.insert(
            "sec-websocket-extensions",
            "permessage-deflate, grip".parse().unwrap(),
        );
        assert_eq!(grip_extension(&h).as_deref(), Some("m:"));
        h.insert(
            "sec-websocket-extensions",
            "grip; message-prefix=\"x>\"".parse().unwrap(),
        );
        assert_eq!(grip_extension(&h).as_deref(), Some("x>"));
        h.insert(
            "sec-websocket-extensions",
            "grip; message-prefix=".parse().unwrap(),
        );
        assert_eq!(grip_extension(&h).as_deref(), Some(""));
    }
}
