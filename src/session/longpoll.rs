//! Response holds (long-polling): wait for the first published
//! `http-response` item on a subscribed channel and answer with it, or with
//! the held response when the timeout passes. Channels given with a
//! `prev-id` are checked: a gap (or a recover request) makes the request go
//! to the backend again, with `Grip-Last`, through [`End::Retry`].

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use tokio::time::Instant;

use super::common::{grip_last, subscribe_all, wait, SessionChannel, Wake};
use super::filters::{for_delivery, Filtered};
use super::link::notify_gone;
use crate::app::Ctx;
use crate::error::{rescue, ProxyError};
use crate::grip::instruct::Instruct;
use crate::grip::item::{HttpResponse, Item, ResponseBody, ResponseSend};
use crate::http1::ResponseHead;
use crate::hub::{Delivery, Inbox, Recv, SubMode};
use crate::proxy::accept::held_head;
use crate::proxy::{reply_error, RequestContext};
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::{reason_for, write_full};

/// A response hold needs only the first matching delivery.
const QUEUE_MAX: usize = 64;

/// How a response hold ends.
enum Outcome {
    /// Answer with the held response.
    Timeout,
    /// Answer with a published response.
    Published(ResponseHead, Bytes),
    /// A filter failed.
    Failed(String),
    /// Send the request to the backend again.
    Retry,
    ClientGone,
}

/// How a response hold ended.
#[derive(Debug)]
pub enum End {
    Done(Next),
    /// Send the request again with these `Grip-Last` values.
    Retry(Vec<String>),
}

/// Runs a response hold to its end.
pub async fn run(conn: &mut ClientConn, rc: &RequestContext, ins: Instruct, ctx: &Ctx) -> End {
    let prefix = rc.route.prefix.as_str();
    let max = ctx.config.connection_subscription_max;
    let specs = &ins.channels[..ins.channels.len().min(max)];
    // the backend's prev-ids must match what was last published
    let mut conflict = false;
    for c in specs {
        if let Some(prev) = &c.prev_id {
            let full = format!("{prefix}{}", c.name);
            if ctx.hub.last_id(&full).is_some_and(|last| &last != prev) {
                ctx.hub.forget_last_id(&full);
                conflict = true;
            }
        }
    }
    if conflict {
        return End::Retry(grip_last(
            specs.iter().map(|c| (&c.name, c.prev_id.as_deref())),
        ));
    }
    let inbox = Inbox::new(QUEUE_MAX);
    let mut channels = subscribe_all(&ctx.hub, &inbox, specs, prefix, max, SubMode::Response);
    let deadline = Instant::now() + ins.timeout;
    let mut batch: Vec<Delivery> = Vec::new();
    let shutdown = ctx.shutdown.cancelled();
    tokio::pin!(shutdown);
    let timer = tokio::time::sleep_until(deadline);
    tokio::pin!(timer);
    let outcome = loop {
        let wake = wait(
            shutdown.as_mut(),
            &inbox,
            &mut batch,
            Some(timer.as_mut()),
            &conn.stream,
        );
        match wake.await {
            Wake::Shutdown | Wake::Timer | Wake::Inbox(Recv::Overflowed) => break Outcome::Timeout,
            Wake::ClientClosed => break Outcome::ClientGone,
            Wake::Inbox(Recv::Recover) => break Outcome::Retry,
            Wake::Inbox(Recv::Items) => {
                if let Some(o) = take_first(&mut batch, &mut channels, &ins, ctx) {
                    break o;
                }
            }
        }
    };
    let last = grip_last(
        channels
            .iter()
            .map(|c| (&c.spec.name, c.spec.prev_id.as_deref())),
    );
    drop(channels);
    if let Some(gone) = &ins.gone_link {
        if !matches!(outcome, Outcome::Retry) {
            notify_gone(ctx, rc, gone);
        }
    }
    let (head, body) = match outcome {
        Outcome::Retry => return End::Retry(last),
        Outcome::ClientGone => return End::Done(Next::Close),
        Outcome::Failed(msg) if rc.cross.is_none() => {
            tracing::debug!(error = %msg, "filter failed on a response hold");
            let err = ProxyError::BadInstruct(msg);
            let keep = rc.keep_alive;
            return End::Done(reply_error(conn, &rc.head, &err, rc.debug, keep).await);
        }
        Outcome::Failed(msg) => {
            tracing::debug!(error = %msg, "filter failed on a response hold");
            let (mut h, body) = rescue(&ProxyError::BadInstruct(msg), rc.debug);
            h.headers.remove(http::header::CONTENT_LENGTH);
            (h, body)
        }
        Outcome::Published(head, body) => (head, body),
        Outcome::Timeout => (held_head(&ins), ins.response.body.clone()),
    };
    let (head, body) = match rc.cross.as_deref() {
        None => (head, body),
        Some(cross) => {
            let (mut head, mut body) = (head, body);
            cross.hold_complete(&rc.head.headers, &mut head, &mut body);
            (head, body)
        }
    };
    let keep_alive = rc.keep_alive && !ctx.shutdown.is_cancelled();
    let head_request = rc.head.method == http::Method::HEAD;
    End::Done(finish(
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
    ))
}

/// Looks through a batch for the first response this session answers with.
fn take_first(
    batch: &mut Vec<Delivery>,
    channels: &mut [SessionChannel],
    ins: &Instruct,
    ctx: &Ctx,
) -> Option<Outcome> {
    for d in batch.drain(..) {
        let send = match &d.item.http_response {
            Some(HttpResponse::Send(send)) => send,
            // a hint asks the session to re-request its backend now
            Some(HttpResponse::Hint) if (d.slot as usize) < channels.len() => {
                return Some(Outcome::Retry)
            }
            _ => continue,
        };
        let Some(ch) = channels.get_mut(d.slot as usize) else {
            continue;
        };
        if let Some(prev) = &ch.spec.prev_id {
            if d.item.prev_id.as_ref() != Some(prev) {
                ctx.hub.forget_last_id(ch.sub.channel());
                return Some(Outcome::Retry);
            }
            ch.spec.prev_id = d.item.id.clone();
        }
        let ch = &channels[d.slot as usize];
        let prev_ids: BTreeMap<String, Option<String>> = if ch.spec.filters.is_empty() {
            BTreeMap::new()
        } else {
            channels
                .iter()
                .map(|c| (c.spec.name.clone(), c.spec.prev_id.clone()))
                .collect()
        };
        let body = match &send.body {
            ResponseBody::Bytes(b) => b.clone(),
            ResponseBody::Patch(ops) => {
                match crate::grip::jsonpatch::apply_to_body(&ins.response.body, ops) {
                    Ok(b) => Bytes::from(b),
                    Err(e) => {
                        tracing::debug!(error = %e, "body-patch failed");
                        return Some(Outcome::Failed("filter error: ".to_owned()));
                    }
                }
            }
        };
        let cf = Some(&send.content_filters);
        return match for_delivery(&ch.spec.filters, &ins.meta, &prev_ids, &d.item, &body, cf) {
            Filtered::Drop => continue,
            Filtered::Error(e) => Some(Outcome::Failed(e)),
            Filtered::Same => {
                let head = published_head(ins, send, &d.item);
                Some(Outcome::Published(head, body))
            }
            Filtered::Send(body) => {
                let head = published_head(ins, send, &d.item);
                Some(Outcome::Published(head, body))
            }
        };
    }
    None
}

/// The held response's head with the published one laid over it: status
/// and reason from the item, its headers replacing same-named held ones.
/// As in 1.36, the item's `Grip-*` headers are dropped, except that the
/// names its `Grip-Expose-Headers` lists are *removed* from the result, and
/// its `Connection`/`Transfer-Encoding` never reach the client (the
/// response is framed by `Content-Length`).
fn published_head(ins: &Instruct, send: &ResponseSend, _item: &Item) -> ResponseHead {
    let mut head = held_head(ins);
    head.status = send.code;
    head.reason = if send.reason.is_empty() {
        reason_for(send.code).to_owned()
    } else {
        send.reason.clone()
    };
    let removed: Vec<String> = send
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("grip-expose-headers"))
        .flat_map(|(_, v)| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let item_headers: Vec<(HeaderName, HeaderValue)> = send
        .headers
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            !n.starts_with("grip-") && n != "connection" && n != "transfer-encoding"
        })
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
    for name in removed {
        head.headers.remove(name.as_str());
    }
    head
}
