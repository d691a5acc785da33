//! Relaying a backend response to a JSON-P request: the response becomes
//! the argument of the callback (see [`crate::cors::wrap`]).
//!
//! As in 1.36, a body that is all there when the head arrives is wrapped
//! whole and sent with `Content-Length`; so is a body of known length up to
//! [`WHOLE_MAX`] (we wait for it, where 1.36's choice depends on timing).
//! Anything else is streamed: each piece the backend sends is encoded and
//! written as it comes, together with whatever else has already arrived.

use bytes::BytesMut;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::forward::Pump;
use super::pool::Conn;
use super::relay::{next_piece, Read};
use super::RequestContext;
use crate::app::Ctx;
use crate::cors::wrap::wrapper_head;
use crate::cors::Wrap;
use crate::error::ProxyError;
use crate::http1::ResponseHead;
use crate::server::conn::{finish, Next};
use crate::server::io::{write_all, ClientConn};
use crate::server::respond::{encode_head, prepare_streaming, write_full, BodyWriter};

/// Known-length bodies up to this size are wrapped whole.
pub(super) const WHOLE_MAX: u64 = 100_000;

/// Appends every piece already received to `buf`; `Some(true)` if the body
/// ended, `Some(false)` if more is to come, `None` if the backend failed.
fn drain_ready(body: &mut Incoming, buf: &mut BytesMut) -> Option<bool> {
    loop {
        match body.frame().now_or_never() {
            None => return Some(false),
            Some(None) => return Some(true),
            Some(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
            Some(Some(Err(e))) => {
                tracing::debug!(error = %e, "backend body failed");
                return None;
            }
        }
    }
}

/// Relays `body` (whose head is `head`) as JSON-P.
#[allow(clippy::too_many_arguments)]
pub(super) async fn relay(
    conn: &mut ClientConn,
    rc: &RequestContext,
    mut keep_alive: bool,
    head: ResponseHead,
    mut body: Incoming,
    backend: Conn,
    mut pump: Option<Pump>,
    ctx: &Ctx,
    wrap: &Wrap,
) -> Next {
    let version = rc.head.version;
    let mut buf = BytesMut::new();
    let known = http_body::Body::size_hint(&body).exact();
    let ended = if known.is_some_and(|n| n <= WHOLE_MAX) {
        loop {
            match next_piece(&mut body, &mut pump, conn).await {
                None => return Next::Close,
                Some(Read::Data(d)) => buf.extend_from_slice(&d),
                Some(Read::End) => break Some(true),
                Some(Read::Failed(e)) => {
                    tracing::debug!(error = %e, "backend body failed");
                    break None;
                }
            }
        }
    } else {
        drain_ready(&mut body, &mut buf)
    };
    let Some(ended) = ended else {
        // nothing is written yet: the client gets the 502, wrapped
        let err = ProxyError::Backend("body failed".into());
        let cross = rc.cross.as_deref();
        return super::reply_error_cross(conn, &rc.head, &err, false, keep_alive, cross).await;
    };
    let mut out_head = wrapper_head(&head.headers);
    if ended {
        ctx.pool.put(backend);
        if pump.as_ref().is_some_and(|p| !p.done()) {
            keep_alive = false;
        }
        let wrapped = wrap.whole(head.status, &head.reason, &head.headers, &buf);
        let r = write_full(&conn.stream, version, out_head, &wrapped, false, keep_alive).await;
        return finish(r, keep_alive);
    }
    let framing = prepare_streaming(&mut out_head, version, true, &mut keep_alive);
    let writer = BodyWriter { framing };
    let mut enc = wrap.stream();
    let mut piece = wrap.start(head.status, &head.reason, &head.headers);
    drop(head);
    enc.piece(&buf, &mut piece);
    let mut out = encode_head(version, &out_head);
    writer.append(&piece, &mut out);
    if write_all(&conn.stream, &out).await.is_err() {
        return Next::Close;
    }
    loop {
        buf.clear();
        let ended = match next_piece(&mut body, &mut pump, conn).await {
            None => return Next::Close,
            Some(Read::Data(d)) => {
                buf.extend_from_slice(&d);
                match drain_ready(&mut body, &mut buf) {
                    Some(e) => e,
                    None => return Next::Close,
                }
            }
            Some(Read::End) => true,
            Some(Read::Failed(e)) => {
                // the client must not mistake a cut-off response for a
                // complete one
                tracing::debug!(error = %e, "backend body failed mid-response");
                return Next::Close;
            }
        };
        let mut piece = Vec::with_capacity(buf.len() + 16);
        enc.piece(&buf, &mut piece);
        if ended {
            enc.finish(wrap.end(), &mut piece);
        }
        let mut out = BytesMut::with_capacity(piece.len() + 16);
        writer.append(&piece, &mut out);
        if ended {
            writer.append_end(&mut out);
        }
        if write_all(&conn.stream, &out).await.is_err() {
            return Next::Close;
        }
        if ended {
            break;
        }
    }
    ctx.pool.put(backend);
    if pump.as_ref().is_some_and(|p| !p.done()) {
        keep_alive = false;
    }
    Next::from_keep_alive(keep_alive)
}
