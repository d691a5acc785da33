//! GRIP responses: read the instructions, then answer the client directly or
//! turn the request into a hold session.

use bytes::BytesMut;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::pool::Conn;
use super::relay::backend_reason;
use super::{
    reply_rc_error, BackendReply, Hold, Outcome, RequestContext, MAX_ACCEPT_RESPONSE_BODY,
};
use crate::app::Ctx;
use crate::error::ProxyError;
use crate::grip::instruct::{self, is_grip_response, Instruct};
use crate::http1::ResponseHead;
use crate::server::conn::finish;
use crate::server::io::ClientConn;
use crate::server::respond::write_full;
use crate::session;

/// Reads a GRIP response from a backend and acts on it.
pub async fn handle(
    conn: &mut ClientConn,
    rc: RequestContext,
    response: Response<Incoming>,
    backend: Conn,
    ctx: &Ctx,
) -> Outcome {
    let code = response.status().as_u16();
    let reason = backend_reason(&response);
    let headers = response.headers().clone();
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    buf.extend_from_slice(&d);
                    if buf.len() > MAX_ACCEPT_RESPONSE_BODY {
                        let rest = session::stream::InitialRest { body, backend };
                        let reply = BackendReply {
                            code,
                            reason,
                            headers,
                            body: buf.freeze(),
                        };
                        return too_large(conn, rc, reply, rest).await;
                    }
                }
            }
            Some(Err(e)) => {
                let err = ProxyError::Backend(e.to_string());
                return Outcome::Done(reply_rc_error(conn, &rc, &err, rc.keep_alive).await);
            }
        }
    }
    ctx.pool.put(backend);
    let reply = BackendReply {
        code,
        reason,
        headers,
        body: buf.freeze(),
    };
    respond_or_hold(conn, rc, reply).await
}

fn backend_label(rc: &RequestContext) -> String {
    rc.route
        .targets
        .first()
        .map(|t| t.label())
        .unwrap_or_default()
}

/// A GRIP response body over the limit. As in 1.36, a stream hold (or a
/// response that only has a next link) is streamed through before holding,
/// unless a channel uses the `build-id` filter; anything else is refused.
async fn too_large(
    conn: &mut ClientConn,
    rc: RequestContext,
    reply: BackendReply,
    rest: session::stream::InitialRest,
) -> Outcome {
    let streamable = match reply.headers.get("grip-hold").map(|v| v.as_bytes()) {
        Some(b"stream") => true,
        None => reply.headers.contains_key("grip-link"),
        Some(_) => false,
    };
    let instruct = instruct::parse(reply.code, &reply.reason, &reply.headers, reply.body);
    match instruct {
        Ok(ins)
            if streamable
                && !ins
                    .channels
                    .iter()
                    .any(|c| c.filters.iter().any(|f| f == "build-id")) =>
        {
            Outcome::Hold(Box::new(Hold {
                rc,
                ins,
                rest: Some(rest),
            }))
        }
        _ => {
            // the request was sent whole, so the client connection lives on
            let err = ProxyError::InstructTooLarge(backend_label(&rc));
            Outcome::Done(reply_rc_error(conn, &rc, &err, rc.keep_alive).await)
        }
    }
}

/// Answers a complete backend reply: relayed as it is when it has no GRIP
/// instructions (or GRIP is off), otherwise per its instructions.
pub async fn respond_or_hold(
    conn: &mut ClientConn,
    rc: RequestContext,
    reply: BackendReply,
) -> Outcome {
    if rc.client.trusted || rc.route.no_grip || !is_grip_response(&reply.headers) {
        let mut head = ResponseHead::new(reply.code, reply.reason);
        head.headers = reply.headers;
        head.headers.remove(http::header::CONTENT_LENGTH);
        return Outcome::Done(write_complete(conn, &rc, head, &reply.body).await);
    }
    let parsed = instruct::parse(reply.code, &reply.reason, &reply.headers, reply.body);
    // only the instructions live on while holding
    drop(reply.headers);
    drop(reply.reason);
    let ins = match parsed {
        Ok(i) => i,
        Err(msg) => {
            tracing::debug!(error = %msg, "invalid GRIP instructions");
            let err = ProxyError::BadInstruct(msg);
            return Outcome::Done(reply_rc_error(conn, &rc, &err, rc.keep_alive).await);
        }
    };
    if let Some(msg) = unfollowable_prev_id(&ins) {
        return Outcome::Done(refuse_stream(conn, &rc, &ins, &msg).await);
    }
    if ins.hold.is_some() || ins.next_link.is_some() {
        return Outcome::Hold(Box::new(Hold {
            rc,
            ins,
            rest: None,
        }));
    }
    let head = held_head(&ins);
    let body = match session::filters::proxy_content(&ins, &ins.response.body) {
        Ok(b) => b,
        Err(msg) => {
            let err = ProxyError::BadInstruct(msg);
            return Outcome::Done(reply_rc_error(conn, &rc, &err, rc.keep_alive).await);
        }
    };
    Outcome::Done(write_complete(conn, &rc, head, &body).await)
}

/// A stream hold whose channel has a `prev-id` but which gave no next link
/// to recover from: the session fails as soon as it starts.
pub fn unfollowable_prev_id(ins: &Instruct) -> Option<String> {
    if ins.hold != Some(instruct::HoldMode::Stream) || ins.next_link.is_some() {
        return None;
    }
    let c = ins.channels.iter().find(|c| c.prev_id.is_some())?;
    Some(format!(
        "channel '{}' specifies prev-id, but no next link found",
        c.name
    ))
}

/// Ends a stream hold that failed before holding. 1.36 has the initial
/// response and its end in hand at once, so the client gets it complete,
/// with `Content-Length`, and the connection stays open.
async fn refuse_stream(
    conn: &mut ClientConn,
    rc: &RequestContext,
    ins: &Instruct,
    msg: &str,
) -> crate::server::conn::Next {
    tracing::debug!(error = %msg, "stream hold failed");
    let mut body = match session::filters::proxy_content(ins, &ins.response.body) {
        Ok(b) => b.to_vec(),
        Err(_) => Vec::new(),
    };
    if rc.debug {
        body.extend_from_slice(format!("\n\n{msg}\n").as_bytes());
    }
    // a stream hold's initial response: CORS headers, never JSON-P
    let mut head = held_head(ins);
    if rc.cross.is_some() {
        crate::cors::apply_cors(&rc.head.headers, &mut head.headers);
    }
    write_raw(conn, rc, head, &body).await
}

/// The response head of an instruct's response (no `Content-Length`).
pub fn held_head(ins: &Instruct) -> ResponseHead {
    let mut head = ResponseHead::new(ins.response.code, ins.response.reason.clone());
    head.headers = ins.response.headers.clone();
    head.headers.remove(http::header::CONTENT_LENGTH);
    head
}

/// Writes a complete response, finished for cross-origin handling.
async fn write_complete(
    conn: &mut ClientConn,
    rc: &RequestContext,
    mut head: ResponseHead,
    body: &[u8],
) -> crate::server::conn::Next {
    match rc.cross.as_deref() {
        None => write_raw(conn, rc, head, body).await,
        Some(cross) => {
            let mut body = bytes::Bytes::copy_from_slice(body);
            cross.complete(&rc.head.headers, &mut head, &mut body);
            write_raw(conn, rc, head, &body).await
        }
    }
}

async fn write_raw(
    conn: &mut ClientConn,
    rc: &RequestContext,
    head: ResponseHead,
    body: &[u8],
) -> crate::server::conn::Next {
    let head_request = rc.head.method == http::Method::HEAD;
    finish(
        write_full(
            &conn.stream,
            rc.head.version,
            head,
            body,
            head_request,
            rc.keep_alive,
        )
        .await,
        rc.keep_alive,
    )
}
