//! One task per client connection: read a request, route it, hand it to the
//! proxy, a hold session or the test handler, and loop while the connection
//! is kept alive.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tracing::{debug, Instrument};

use super::io::{ClientConn, Peer, ReadError};
use super::permits::ClientPermit;
use super::respond::write_full;
use crate::app::Ctx;
use crate::error::{rescue, ProxyError};
use crate::http1::{HeadError, RequestHead, Version};
use crate::proxy::{Flow, Outcome, MAX_RETRIES};
use crate::routes::{host_without_port, Proto, RouteById};

/// How long a client connection may wait without a complete request head:
/// from when it is accepted, and after each answered request. Pushpin 1.36
/// (condure) closes such connections after 60 s, whatever trickles in
/// meanwhile, so idle and half-sent requests cannot pin file descriptors.
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the connection.
    Close,
}

impl Next {
    pub fn from_keep_alive(keep_alive: bool) -> Next {
        if keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }
}

/// Serves one client connection until it closes or the proxy shuts down.
pub async fn serve(stream: TcpStream, peer: Peer, ctx: Ctx, permit: ClientPermit) {
    let span = tracing::debug_span!("conn", client.addr = %peer);
    async move {
        let _permit = permit;
        let _ = stream.set_nodelay(true);
        let mut conn = ClientConn::new(stream, peer);
        loop {
            let head = tokio::select! {
                biased;
                _ = ctx.shutdown.cancelled() => break,
                r = tokio::time::timeout(
                    CLIENT_IDLE_TIMEOUT,
                    conn.read_head(ctx.config.client_buffer_size),
                ) => match r {
                    Ok(r) => r,
                    Err(_) => {
                        debug!("no request within the idle timeout");
                        break;
                    }
                },
            };
            let head = match head {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => {
                    reject_bad_request(&conn, &e).await;
                    break;
                }
            };
            // counted from routing to the final answer, holds included
            let mut tracked = None;
            let outcome = Box::pin(dispatch(&mut conn, head, &ctx, &mut tracked)).await;
            let next = run_outcome(&mut conn, outcome, &ctx).await;
            drop(tracked);
            if next == Next::Close {
                break;
            }
        }
        debug!("connection closed");
    }
    .instrument(span)
    .await
}

async fn reject_bad_request(conn: &ClientConn, e: &ReadError) {
    debug!(error = %e, "bad request");
    let err = match e {
        ReadError::Head(HeadError::TooLarge(_)) => ProxyError::HeadTooLarge,
        ReadError::Head(h) => ProxyError::BadRequest(h.to_string()),
        _ => return,
    };
    let (head, body) = rescue(&err, false);
    let _ = write_full(&conn.stream, Version::Http11, head, &body, false, false).await;
}

/// Runs holds (and the re-requests they ask for) until the request is
/// answered. Each step's future is boxed and freed before the next, so a
/// held connection costs its session and this small loop, nothing more.
async fn run_outcome(conn: &mut ClientConn, mut outcome: Outcome, ctx: &Ctx) -> Next {
    for _ in 0..MAX_RETRIES {
        let hold = match outcome {
            // unboxed here, so the box is freed before the session runs
            Outcome::Done(next) => return next,
            Outcome::Hold(hold) => *hold,
        };
        outcome = match crate::session::run(conn, hold, ctx).await {
            Flow::Done(next) => return next,
            Flow::Retry(rc, grip_last) => {
                Box::pin(crate::proxy::retry(conn, rc, &grip_last, ctx)).await
            }
        };
    }
    tracing::warn!("too many re-requests for one client request");
    Next::Close
}

/// Routes one request and handles it, up to a hold. A routed request is
/// counted in the metrics, and `tracked` keeps it open.
async fn dispatch<'c>(
    conn: &mut ClientConn,
    head: RequestHead,
    ctx: &'c Ctx,
    tracked: &mut Option<crate::metrics::Connection<'c>>,
) -> Outcome {
    let host_header = match head.host() {
        "" => "localhost",
        h => h,
    };
    let host = host_without_port(host_header);
    let websocket = head.is_websocket_upgrade();
    let proto = if websocket { Proto::Ws } else { Proto::Http };
    // over TLS, or said so by a trusted X-Forwarded-Proto
    let secure = conn.secure
        || (ctx.config.accept_xfp
            && head
                .header_str("x-forwarded-proto")
                .or_else(|| head.header_str("x-forwarded-protocol"))
                .is_some_and(|p| p == "https" || p == "wss"));
    let table = ctx.routes.load();
    let pushpin_route = ctx
        .config
        .accept_pushpin_route
        .then(|| head.header_str("pushpin-route"))
        .flatten()
        .filter(|id| !id.is_empty());
    // `Pushpin-Route: ID` (with accept_pushpin_route) names the route; an
    // id several routes share is ignored, an unknown one finds no route
    let route = match pushpin_route.map(|id| table.by_id(id)) {
        Some(RouteById::Found(r)) => Some(r),
        Some(RouteById::Unknown) => None,
        Some(RouteById::Shared) | None => table.find(host_header, head.path(), proto, secure),
    };
    drop(table);
    let span = tracing::debug_span!("req", method = %head.method, path = %head.path());
    let Some(route) = route else {
        tracing::warn!(host = %host, "no route for host");
        // the body is not needed: read it (if small) so the connection can
        // go on, as 1.36 does
        let keep_alive = head.keep_alive() && !websocket && conn.discard_body(&head).await;
        if ctx.config.auto_cross_origin && !websocket {
            return Outcome::Done(no_route_cross_origin(conn, &head, host, keep_alive).await);
        }
        let (h, body) = rescue(&ProxyError::NoRoute(host), false);
        return Outcome::Done(finish(
            write_full(
                &conn.stream,
                head.version,
                h,
                &body,
                head.method == http::Method::HEAD,
                keep_alive,
            )
            .await,
            keep_alive,
        ));
    };
    *tracked = ctx.metrics.request();
    let req = Arc::new(head);
    let debug = ctx.config.debug || route.debug;
    async move {
        if websocket {
            Outcome::Done(Box::pin(crate::ws::handle(conn, req, route, ctx, secure)).await)
        } else {
            Box::pin(crate::proxy::handle(conn, req, route, ctx, secure, debug)).await
        }
    }
    .instrument(span)
    .await
}

/// The "no route" error with `auto_cross_origin` on: 1.36 handles the
/// request as JSON-P (with the default options) before it looks for a
/// route, so the error gets CORS headers or is wrapped.
async fn no_route_cross_origin(
    conn: &mut ClientConn,
    head: &RequestHead,
    host: String,
    keep_alive: bool,
) -> Next {
    use crate::cors::{jsonp, CrossOrigin, JsonpConfig};
    let config = JsonpConfig::default();
    let (err, cross) = match jsonp::rewrite(&head.method, &head.target, &head.headers, &config) {
        Err(e) => (ProxyError::Jsonp(e), CrossOrigin::Cors),
        Ok(None) => (ProxyError::NoRoute(host), CrossOrigin::Cors),
        Ok(Some(j)) => (ProxyError::NoRoute(host), CrossOrigin::Jsonp(j.wrap)),
    };
    let reply = crate::proxy::reply_error_cross(conn, head, &err, false, keep_alive, Some(&cross));
    reply.await
}

/// Maps a final write's result and the keep-alive decision to [`Next`].
pub fn finish(r: std::io::Result<()>, keep_alive: bool) -> Next {
    match r {
        Ok(()) => Next::from_keep_alive(keep_alive),
        Err(e) => {
            debug!(error = %e, "write to client failed");
            Next::Close
        }
    }
}
