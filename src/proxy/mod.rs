//! Proxying one HTTP request: build the backend request, send it to the
//! first route target that accepts a connection, then either relay the
//! response (streamed both ways) or, when it carries GRIP instructions, hand
//! it to [`accept`], which answers it or turns the request into a hold
//! session. Holds are not run here: [`Outcome::Hold`] hands them back to the
//! connection task, which runs the session once the frames that led to it
//! are freed (a held connection then costs only its session), and calls
//! [`retry`] when a session asks for the request to be sent again.
//!
//! Runs inside the client connection's task.

pub mod accept;
mod body;
mod forward;
pub mod headers;
pub mod pool;
mod relay;
mod relay_jsonp;
mod tls;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

pub use body::{BodyAborted, ReqBody};
pub use forward::pool_key as forward_pool_key;
pub use forward::{fetch, send_to_target, FetchError, Outgoing};
pub use relay::backend_reason as relay_reason;

use self::forward::{RequestBody, Sent};
use crate::app::Ctx;
use crate::cors::{jsonp, CrossOrigin};
use crate::error::{rescue, ProxyError};
use crate::grip::instruct::{is_grip_response, Instruct};
use crate::http1::{BodyDecoder, RequestHead};
use crate::routes::{Route, TargetKind};
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::write_full;

/// Request bodies up to this size are read whole before the backend request
/// (so they can be sent again on retries); larger ones are streamed.
pub const MAX_BUFFERED_BODY: usize = 100_000;
/// Largest GRIP instruct response body accepted.
pub const MAX_ACCEPT_RESPONSE_BODY: usize = 100_000;
/// Most times one client request is sent again for recovery in a row.
pub const MAX_RETRIES: usize = 50;

/// A backend's answer with the body read in full (GRIP responses, the test
/// handler).
#[derive(Debug, Clone)]
pub struct BackendReply {
    pub code: u16,
    pub reason: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Facts about the client that shape forwarded requests.
#[derive(Debug, Clone, Copy)]
pub struct ClientFacts {
    /// `None`: a Unix-socket client.
    pub peer: Option<IpAddr>,
    pub secure: bool,
    /// Its `Grip-Sig` verified with `upstream_key`.
    pub trusted: bool,
}

/// Everything about the client request a hold needs later (re-requests,
/// link fetches).
#[derive(Debug)]
pub struct RequestContext {
    pub head: Arc<RequestHead>,
    pub route: Arc<Route>,
    /// `Host` of the request as forwarded (links resolve against it).
    pub forwarded_host: String,
    /// Path and query as forwarded.
    pub forwarded_path: String,
    /// The body, when it was small enough to keep.
    pub body: Option<Bytes>,
    pub debug: bool,
    pub keep_alive: bool,
    pub client: ClientFacts,
    /// Automatic CORS / JSON-P for this request (`None`: off; boxed so
    /// that held requests without it stay small).
    pub cross: Option<Box<CrossOrigin>>,
}

/// What handling a request led to.
#[derive(Debug)]
pub enum Outcome {
    /// The client got its answer (or is gone).
    Done(Next),
    /// The request is to be held: the connection task runs the session
    /// after everything that led here has been freed.
    Hold(Box<Hold>),
}

/// A request to hold, with everything its session needs.
#[derive(Debug)]
pub struct Hold {
    pub rc: RequestContext,
    pub ins: Instruct,
    /// The rest of a large initial stream body, still to be streamed.
    pub rest: Option<crate::session::stream::InitialRest>,
}

/// How a hold session ended.
#[derive(Debug)]
pub enum Flow {
    /// The client got its answer (or is gone).
    Done(Next),
    /// Send the request to the backend again, with these `Grip-Last`
    /// header values.
    Retry(RequestContext, Vec<String>),
}

/// Whether the client proved it is a trusted upstream (its `Grip-Sig`
/// verifies with `upstream_key`).
pub fn client_trusted(head: &RequestHead, ctx: &Ctx) -> bool {
    match (&ctx.config.upstream_key, head.header_str("grip-sig")) {
        (Some(key), Some(token)) if !token.is_empty() => crate::grip::sig::verify_hs256(token, key),
        _ => false,
    }
}

/// Proxies one HTTP request on `conn`.
pub async fn handle(
    conn: &mut ClientConn,
    head: Arc<RequestHead>,
    route: Arc<Route>,
    ctx: &Ctx,
    secure: bool,
    debug: bool,
) -> Outcome {
    match Box::pin(forward_request(conn, head, route, ctx, secure, debug)).await {
        Ok(o) => o,
        Err(next) => Outcome::Done(next),
    }
}

/// [`handle`]'s body; `Err` carries an early answer.
async fn forward_request(
    conn: &mut ClientConn,
    original: Arc<RequestHead>,
    route: Arc<Route>,
    ctx: &Ctx,
    secure: bool,
    debug: bool,
) -> Result<Outcome, Next> {
    let head = &original;
    let mut keep_alive = head.keep_alive();
    let (head, cross, jsonp_body) = match cross_origin(head, &route, ctx) {
        Ok(None) => (head.clone(), None, None),
        Ok(Some((cross, None))) => (head.clone(), Some(cross), None),
        Ok(Some((cross, Some(j)))) => {
            let rewritten = RequestHead {
                method: j.method,
                target: j.target,
                version: head.version,
                headers: j.headers,
            };
            (Arc::new(rewritten), Some(cross), Some(j.body))
        }
        Err(e) => {
            let err = ProxyError::Jsonp(e);
            // the body is not needed: read it (if small) so the
            // connection can go on
            let keep = keep_alive && conn.discard_body(head).await;
            let cross = Some(CrossOrigin::Cors);
            let next = reply_error_cross(conn, head, &err, debug, keep, cross.as_ref());
            return Err(next.await);
        }
    };
    let client = ClientFacts {
        peer: conn.peer_ip(),
        secure,
        trusted: client_trusted(&head, ctx),
    };
    if over_http_events_forbidden(&head, &route, client.trusted) {
        let err = ProxyError::WsEventsForbidden;
        // the events are not used: read them (if small) so the connection
        // can go on rather than taking them for the next request
        let keep = keep_alive && conn.discard_body(&original).await;
        let next = reply_error_cross(conn, &head, &err, debug, keep, cross.as_ref());
        return Err(next.await);
    }
    let outgoing = Outgoing::new(&head, &route, ctx, client);

    // the request body, framed as the client sent it (a JSON-P rewrite
    // drops the framing headers): small ones are read now, large ones
    // streamed
    let Ok(kind) = original.body_kind() else {
        return Err(Next::Close);
    };
    if original.expects_continue()
        && kind != crate::http1::BodyKind::Empty
        && conn
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
    {
        return Err(Next::Close);
    }
    let mut decoder = BodyDecoder::new(kind);
    let body = match conn
        .read_body_limited(&mut decoder, MAX_BUFFERED_BODY)
        .await
    {
        Ok(Ok(full)) => RequestBody::Full(full),
        Ok(Err(prefix)) => RequestBody::Stream {
            prefix: prefix.freeze(),
            decoder,
        },
        Err(e) => {
            tracing::debug!(error = %e, "reading request body failed");
            return Err(Next::Close);
        }
    };
    drop(original);
    let body = match jsonp_body {
        Some(b) if !b.is_empty() => body.prefixed(b),
        _ => body,
    };
    let kept_body = match &body {
        RequestBody::Full(b) => Some(b.clone()),
        RequestBody::Stream { .. } => None,
    };
    let rc = RequestContext {
        forwarded_host: outgoing.req.host.clone(),
        forwarded_path: outgoing.req.path_and_query.clone(),
        head,
        route,
        body: kept_body,
        debug,
        keep_alive,
        client,
        cross: cross.map(Box::new),
    };

    if rc
        .route
        .targets
        .first()
        .is_some_and(|t| t.kind == TargetKind::Test)
    {
        let reply = crate::testroute::respond(&rc.head, &rc.route, rc.body.as_deref());
        return Ok(Box::pin(accept::respond_or_hold(conn, rc, reply)).await);
    }

    let sent = Box::pin(forward::send(conn, &outgoing, &rc.route, body, ctx)).await;
    // the rewritten request is not kept while a hold lasts
    drop(outgoing);
    let sent = match sent {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "proxying failed");
            let keep = keep_alive && e.client_body_consumed();
            return Err(reply_rc_error(conn, &rc, &e.into_proxy_error(), keep).await);
        }
    };
    let Sent {
        response,
        backend,
        pump,
    } = sent;
    if pump.as_ref().is_some_and(|p| !p.done()) {
        // the backend answered before the request body was through
        keep_alive = false;
    }
    if grip_applies(&rc) && is_grip_response(response.headers()) {
        if rc.body.is_none() {
            let err = ProxyError::RequestTooLarge;
            return Err(reply_rc_error(conn, &rc, &err, false).await);
        }
        return Ok(Box::pin(accept::handle(conn, rc, response, backend, ctx)).await);
    }
    Ok(Outcome::Done(
        Box::pin(relay::relay(
            conn, &rc, keep_alive, response, backend, pump, ctx,
        ))
        .await,
    ))
}

/// Whether automatic cross-origin handling is on for a request, and its
/// JSON-P rewrite if it is a JSON-P request.
pub fn cross_origin(
    head: &RequestHead,
    route: &Route,
    ctx: &Ctx,
) -> Result<Option<(CrossOrigin, Option<jsonp::JsonpRequest>)>, jsonp::JsonpError> {
    if !(route.aco || ctx.config.auto_cross_origin) {
        return Ok(None);
    }
    Ok(Some(
        match jsonp::rewrite(&head.method, &head.target, &head.headers, &route.jsonp)? {
            None => (CrossOrigin::Cors, None),
            Some(j) => (CrossOrigin::Jsonp(j.wrap.clone()), Some(j)),
        },
    ))
}

/// Whether GRIP instructions from the backend are acted on for a request.
fn grip_applies(rc: &RequestContext) -> bool {
    !rc.route.no_grip && !rc.client.trusted
}

/// Sends the client's request to the backend again (a hold's recovery),
/// with `Grip-Last` headers, and handles the answer like a fresh one.
pub async fn retry(
    conn: &mut ClientConn,
    rc: RequestContext,
    grip_last: &[String],
    ctx: &Ctx,
) -> Outcome {
    if ctx.shutdown.is_cancelled() {
        return Outcome::Done(Next::Close);
    }
    if rc
        .route
        .targets
        .first()
        .is_some_and(|t| t.kind == TargetKind::Test)
    {
        let reply = crate::testroute::respond(&rc.head, &rc.route, rc.body.as_deref());
        return Box::pin(accept::respond_or_hold(conn, rc, reply)).await;
    }
    let mut out = Outgoing::new(&rc.head, &rc.route, ctx, rc.client);
    out.req.headers.remove("grip-last");
    for v in grip_last {
        if let Ok(v) = HeaderValue::from_str(v) {
            out.req.headers.append("grip-last", v);
        }
    }
    let body = rc.body.clone().unwrap_or_default();
    match fetch(&out, &rc.route, body, ctx).await {
        Ok((response, backend)) => {
            if grip_applies(&rc) && is_grip_response(response.headers()) {
                Box::pin(accept::handle(conn, rc, response, backend, ctx)).await
            } else {
                let relayed = relay::relay(conn, &rc, rc.keep_alive, response, backend, None, ctx);
                Outcome::Done(Box::pin(relayed).await)
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "re-request failed");
            let err = e.into_proxy_error();
            Outcome::Done(reply_rc_error(conn, &rc, &err, rc.keep_alive).await)
        }
    }
}

/// `over_http` targets refuse WebSocket events sent by ordinary clients.
fn over_http_events_forbidden(head: &RequestHead, route: &Route, trusted: bool) -> bool {
    !trusted
        && route.targets.iter().any(|t| t.over_http)
        && head
            .header_str("content-type")
            .is_some_and(|ct| ct.split(';').next() == Some("application/websocket-events"))
}

/// Writes the response for an error.
pub async fn reply_error(
    conn: &mut ClientConn,
    head: &RequestHead,
    err: &ProxyError,
    debug: bool,
    keep_alive: bool,
) -> Next {
    reply_error_cross(conn, head, err, debug, keep_alive, None).await
}

/// Writes the response for an error to a proxied request, with its
/// cross-origin handling.
pub async fn reply_rc_error(
    conn: &mut ClientConn,
    rc: &RequestContext,
    err: &ProxyError,
    keep_alive: bool,
) -> Next {
    reply_error_cross(
        conn,
        &rc.head,
        err,
        rc.debug,
        keep_alive,
        rc.cross.as_deref(),
    )
    .await
}

/// Writes the response for an error; with cross-origin handling on, it
/// gets CORS headers or is wrapped as JSON-P like any response.
pub async fn reply_error_cross(
    conn: &mut ClientConn,
    head: &RequestHead,
    err: &ProxyError,
    debug: bool,
    keep_alive: bool,
    cross: Option<&CrossOrigin>,
) -> Next {
    let (mut h, mut body) = rescue(err, debug);
    if let Some(cross) = cross {
        if matches!(cross, CrossOrigin::Jsonp(_)) {
            // 1.36 has the length among the headers when it wraps the error
            h.headers
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        cross.complete(&head.headers, &mut h, &mut body);
    }
    let head_request = head.method == http::Method::HEAD;
    finish(
        write_full(
            &conn.stream,
            head.version,
            h,
            &body,
            head_request,
            keep_alive,
        )
        .await,
        keep_alive,
    )
}
