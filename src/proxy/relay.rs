//! Relaying a plain (non-GRIP) backend response to the client, streamed
//! with back-pressure: each piece is written before the next is read.

use bytes::Bytes;
use futures_util::FutureExt;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::forward::Pump;
use super::pool::Conn;
use super::RequestContext;
use crate::app::Ctx;
use crate::cors::{apply_cors, CrossOrigin};
use crate::http1::ResponseHead;
use crate::server::conn::{finish, Next};
use crate::server::io::{write_all, ClientConn};
use crate::server::respond::{encode_head, has_body, prepare_streaming, reason_for, BodyWriter};

/// Response headers never relayed.
const HOP_BY_HOP: [&str; 4] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
];

/// Bodies up to this size with a known length go out in the same write as
/// the head.
const SMALL_BODY: u64 = 16 * 1024;

/// The reason phrase the backend sent (hyper keeps it only when it differs
/// from the standard one).
pub fn backend_reason<B>(resp: &Response<B>) -> String {
    resp.extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .unwrap_or_else(|| reason_for(resp.status().as_u16()).to_owned())
}

/// The response head for the client: status, reason and end-to-end headers.
pub(super) fn client_head<B>(resp: &Response<B>) -> ResponseHead {
    let mut head = ResponseHead::new(resp.status().as_u16(), backend_reason(resp));
    head.headers = resp.headers().clone();
    let listed: Vec<String> = head
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    for n in HOP_BY_HOP
        .iter()
        .copied()
        .chain(listed.iter().map(String::as_str))
    {
        head.headers.remove(n);
    }
    if matches!(head.status, 204 | 304) {
        // 1.36 never relays a length for these bodiless statuses (a 204 must
        // not carry one at all)
        head.headers.remove(http::header::CONTENT_LENGTH);
    }
    head
}

/// Streams `response` to the client. The backend connection goes back to
/// the pool only when its body was read to the end.
pub(super) async fn relay(
    conn: &mut ClientConn,
    rc: &RequestContext,
    mut keep_alive: bool,
    response: Response<Incoming>,
    backend: Conn,
    mut pump: Option<Pump>,
    ctx: &Ctx,
) -> Next {
    let version = rc.head.version;
    let head_request = rc.head.method == http::Method::HEAD;
    let mut head = client_head(&response);
    match rc.cross.as_deref() {
        None => {}
        Some(CrossOrigin::Cors) => apply_cors(&rc.head.headers, &mut head.headers),
        Some(CrossOrigin::Jsonp(w)) => {
            let body = response.into_body();
            let relayed =
                super::relay_jsonp::relay(conn, rc, keep_alive, head, body, backend, pump, ctx, w);
            return Box::pin(relayed).await;
        }
    }
    let body_allowed = has_body(head_request, head.status);
    let mut body = response.into_body();
    let known = http_body::Body::size_hint(&body).exact();

    let framing = prepare_streaming(&mut head, version, body_allowed, &mut keep_alive);
    let writer = BodyWriter { framing };
    let mut out = encode_head(version, &head);
    // Small bodies of known length: what the backend has already sent goes
    // out in the same write as the head. The head is never held back for
    // more (1.36 relays it at once, even if the body then stalls).
    if body_allowed && known.is_some_and(|n| n <= SMALL_BODY) && pump.is_none() {
        loop {
            match body.frame().now_or_never() {
                Some(Some(Ok(f))) => {
                    if let Ok(data) = f.into_data() {
                        writer.append(&data, &mut out);
                    }
                }
                Some(None) => {
                    ctx.pool.put(backend);
                    writer.append_end(&mut out);
                    return finish(write_all(&conn.stream, &out).await, keep_alive);
                }
                Some(Some(Err(e))) => {
                    // nothing is written yet: the client can still get a 502
                    tracing::debug!(error = %e, "backend body failed");
                    let err = crate::error::ProxyError::Backend(e.to_string());
                    let cross = rc.cross.as_deref();
                    let r =
                        super::reply_error_cross(conn, &rc.head, &err, false, keep_alive, cross);
                    return r.await;
                }
                None => break,
            }
        }
    }
    if write_all(&conn.stream, &out).await.is_err() {
        return Next::Close;
    }
    if !body_allowed {
        // HEAD: the backend sends no body either
        if http_body::Body::is_end_stream(&body) {
            ctx.pool.put(backend);
        }
        return Next::from_keep_alive(keep_alive);
    }
    loop {
        match next_piece(&mut body, &mut pump, conn).await {
            // the client's request body failed
            None => return Next::Close,
            Some(Read::End) => break,
            Some(Read::Data(data)) => {
                if writer.data(&conn.stream, &data).await.is_err() {
                    return Next::Close;
                }
            }
            Some(Read::Failed(e)) => {
                // the backend failed mid-body: the client must not mistake
                // a cut-off response for a complete one
                tracing::debug!(error = %e, "backend body failed mid-response");
                return Next::Close;
            }
        }
    }
    ctx.pool.put(backend);
    if writer.finish(&conn.stream).await.is_err() {
        return Next::Close;
    }
    if pump.as_ref().is_some_and(|p| !p.done()) {
        keep_alive = false;
    }
    Next::from_keep_alive(keep_alive)
}

/// What reading the backend's body gave.
pub(super) enum Read {
    Data(Bytes),
    End,
    Failed(hyper::Error),
}

/// The next body piece, moving a streamed request body meanwhile.
pub(super) async fn next_piece(
    body: &mut Incoming,
    pump: &mut Option<Pump>,
    conn: &mut ClientConn,
) -> Option<Read> {
    loop {
        let pumping = pump.as_ref().is_some_and(|p| !p.done());
        let frame = tokio::select! {
            f = body.frame() => f,
            r = async { pump.as_mut().expect("guarded").step(conn).await }, if pumping => {
                if r.is_err() {
                    return None;
                }
                continue;
            }
        };
        return Some(match frame {
            None => Read::End,
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => Read::Data(d),
                Err(_) => continue,
            },
            Some(Err(e)) => Read::Failed(e),
        });
    }
}
