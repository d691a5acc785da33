//! Response holds (long-polling): wait for the first published
//! `http-response` item on a subscribed channel and answer with it, or answer
//! with the held response when the timeout passes.

use http::{HeaderName, HeaderValue};
use tokio::time::{sleep_until, Instant};

use super::common::{client_closed, subscribe_all};
use crate::app::Ctx;
use crate::grip::instruct::Instruct;
use crate::grip::item::{HttpResponse, ResponseBody, ResponseSend};
use crate::http1::ResponseHead;
use crate::hub::{Delivery, Inbox, Recv};
use crate::proxy::accept::held_head;
use crate::proxy::RequestContext;
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::{reason_for, write_full};

/// A response hold needs only the first matching delivery.
const QUEUE_MAX: usize = 64;

/// Runs a response hold to its end.
pub async fn run(conn: &mut ClientConn, rc: RequestContext, ins: Instruct, ctx: &Ctx) -> Next {
    let inbox = Inbox::new(QUEUE_MAX);
    let channels = subscribe_all(
        &ctx.hub,
        &inbox,
        &ins.channels,
        &rc.route.prefix,
        ctx.config.connection_subscription_max,
    );
    let deadline = Instant::now() + ins.timeout;
    let mut batch: Vec<Delivery> = Vec::new();
    let answer = loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => break None,
            r = inbox.recv(&mut batch) => {
                if r == Recv::Overflowed {
                    break None;
                }
                if let Some(send) = first_response(&mut batch, channels.len()) {
                    break Some(send);
                }
            }
            _ = sleep_until(deadline) => break None,
            _ = client_closed(&conn.stream) => return Next::Close,
        }
    };
    drop(channels);
    let (head, body) = match answer {
        Some(send) => published_response(&ins, &send),
        None => (held_head(&ins), ins.response.body.clone()),
    };
    let keep_alive = rc.keep_alive && !ctx.shutdown.is_cancelled();
    let head_request = rc.head.method == http::Method::HEAD;
    finish(
        write_full(
            &conn.stream,
            rc.head.version,
            head,
            &body,
            head_request,
            keep_alive,
        )
        .await,
        keep_alive,
    )
}

fn first_response(batch: &mut Vec<Delivery>, channels: usize) -> Option<ResponseSend> {
    let found = batch.iter().find_map(|d| match &d.item.http_response {
        Some(HttpResponse::Send(s)) if (d.slot as usize) < channels => Some(s.clone()),
        _ => None,
    });
    batch.clear();
    found
}

/// The held response with the published one laid over it: status and
/// reason from the item, its headers replacing same-named held ones, its body.
fn published_response(ins: &Instruct, send: &ResponseSend) -> (ResponseHead, bytes::Bytes) {
    let mut head = held_head(ins);
    head.status = send.code;
    head.reason = if send.reason.is_empty() {
        reason_for(send.code).to_owned()
    } else {
        send.reason.clone()
    };
    let item_headers: Vec<(HeaderName, HeaderValue)> = send
        .headers
        .iter()
        .filter(|(n, _)| !n.to_ascii_lowercase().starts_with("grip-"))
        .filter_map(|(n, v)| {
            Some((
                HeaderName::from_bytes(n.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            ))
        })
        .collect();
    for (n, _) in &item_headers {
        head.headers.remove(n);
    }
    for (n, v) in item_headers {
        head.headers.append(n, v);
    }
    head.headers.remove(http::header::CONTENT_LENGTH);
    let body = match &send.body {
        ResponseBody::Bytes(b) => b.clone(),
        ResponseBody::Patch(_) => ins.response.body.clone(),
    };
    (head, body)
}
