//! The HTTP side of WebSocket-over-HTTP: building each `POST` of
//! `application/websocket-events` (fresh `Grip-Sig`, `Connection-Id`,
//! `Meta-*`), sending it with retries, and reading the answer's headers
//! (`Keep-Alive-Interval`, `Set-Meta-*`, `Content-Bytes-Accepted`).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use rand::Rng;

use crate::app::Ctx;
use crate::proxy::{fetch, FetchError, Outgoing};
use crate::routes::Route;
use crate::wsoverhttp::CONTENT_TYPE;

/// Largest response body accepted from the backend.
const MAX_RESPONSE_BODY: usize = 1_000_000;
/// Largest rejection body relayed to the client.
pub(super) const MAX_REJECT_BODY: usize = 100_000;
/// Retries of a failed request (after the opening one).
const RETRIES: u32 = 5;
/// Shortest keep-alive polling interval.
const MIN_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// A backend answer, read in full.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: u16,
    pub reason: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A 200 with the events content type.
    pub(super) fn is_events(&self) -> bool {
        self.status == 200
            && self
                .headers
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == CONTENT_TYPE.as_bytes())
    }

    /// `Content-Bytes-Accepted`, when given and usable.
    pub(super) fn bytes_accepted(&self) -> Option<usize> {
        self.headers
            .get("content-bytes-accepted")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(|n| n as usize)
    }
}

/// Request state that lives as long as the connection.
#[derive(Debug)]
pub(super) struct Channel<'a> {
    pub ctx: &'a Ctx,
    pub route: &'a Route,
    /// The client's request as forwarded (headers rewritten once).
    pub base: Outgoing,
    pub cid: String,
    /// Meta set with `Set-Meta-*`, sent back as `Meta-*`.
    pub meta: Vec<(String, String)>,
    /// Poll the backend this often (`Keep-Alive-Interval`).
    pub keep_alive: Option<Duration>,
}

impl<'a> Channel<'a> {
    pub(super) fn new(ctx: &'a Ctx, route: &'a Route, mut base: Outgoing, cid: String) -> Self {
        let h = &mut base.req.headers;
        let meta: Vec<HeaderName> = h
            .keys()
            .filter(|n| n.as_str().starts_with("meta-"))
            .cloned()
            .collect();
        for n in meta {
            h.remove(n);
        }
        for n in [
            "upgrade",
            "accept",
            "connection-id",
            "content-length",
            "content-type",
        ] {
            h.remove(n);
        }
        base.req.method = http::Method::POST;
        Channel {
            ctx,
            route,
            base,
            cid,
            meta: Vec::new(),
            keep_alive: None,
        }
    }

    /// The outgoing request for one body, with a fresh signature.
    pub(super) fn outgoing(&self, replayed: usize) -> Outgoing {
        let mut out = self.base.clone();
        let h = &mut out.req.headers;
        if h.contains_key("grip-sig") {
            let signer = self.route.signer.as_deref().unwrap_or(&self.ctx.signer);
            if let Ok(v) = HeaderValue::from_str(&signer.token()) {
                h.insert("grip-sig", v);
            }
        }
        h.insert(http::header::ACCEPT, HeaderValue::from_static(CONTENT_TYPE));
        if let Ok(v) = HeaderValue::from_str(&self.cid) {
            h.insert("connection-id", v);
        }
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        for (name, value) in &self.meta {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(format!("meta-{name}").as_bytes()),
                HeaderValue::from_str(value),
            ) {
                h.append(n, v);
            }
        }
        if replayed > 0 {
            h.insert("content-bytes-replayed", HeaderValue::from(replayed));
        }
        out
    }

    /// Sends one request; no retries (the opening request).
    pub(super) async fn send_once(
        &self,
        body: Bytes,
        replayed: usize,
    ) -> Result<Reply, FetchError> {
        send_once(self.ctx, self.route, self.outgoing(replayed), body).await
    }

    /// Takes `Keep-Alive-Interval` and `Set-Meta-*` from an accepted answer.
    pub(super) fn absorb(&mut self, headers: &HeaderMap) {
        if let Some(v) = headers.get("keep-alive-interval") {
            self.keep_alive = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n > 0)
                .map(|n| Duration::from_secs(n as u64).max(MIN_KEEP_ALIVE));
        }
        for (n, v) in headers {
            let Some(name) = n.as_str().strip_prefix("set-meta-") else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            self.meta.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            let value = v.to_str().unwrap_or("");
            if !value.is_empty() {
                self.meta.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

/// Sends one request and reads the whole answer.
pub(super) async fn send_once(
    ctx: &Ctx,
    route: &Route,
    out: Outgoing,
    body: Bytes,
) -> Result<Reply, FetchError> {
    let (resp, conn) = fetch(&out, route, body, ctx).await?;
    let status = resp.status().as_u16();
    let reason = crate::proxy::relay_reason(&resp);
    let headers = resp.headers().clone();
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(d) = frame.into_data() {
            buf.extend_from_slice(&d);
            if buf.len() > MAX_RESPONSE_BODY {
                return Err(FetchError::Request(crate::error::ProxyError::Backend(
                    "websocket-events response too large".into(),
                )));
            }
        }
    }
    ctx.pool.put(conn);
    Ok(Reply {
        status,
        reason,
        headers,
        body: buf.freeze(),
    })
}

/// Sends one request, retrying failures after 1 s, 2 s, 4 s... (plus up to
/// 1 s of jitter), five times.
pub(super) async fn send_with_retries(
    ctx: &Ctx,
    route: &Route,
    out: Outgoing,
    body: Bytes,
) -> Result<Reply, FetchError> {
    let mut attempt = 0;
    loop {
        match send_once(ctx, route, out.clone(), body.clone()).await {
            Ok(r) => return Ok(r),
            Err(e) if attempt < RETRIES && !matches!(e, FetchError::Request(_)) => {
                tracing::debug!(error = %e, attempt, "websocket-over-HTTP request failed, retrying");
                let ms = 1000 * (1u64 << attempt) + rand::rng().random_range(0..1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Headers of the opening answer the client's `101` relays.
pub(super) fn open_headers_for_client(headers: &HeaderMap) -> HeaderMap {
    let mut h = super::handshake::relayable_headers(headers);
    let drop: Vec<HeaderName> = h
        .keys()
        .filter(|n| n.as_str() == "keep-alive-interval" || n.as_str().starts_with("set-meta-"))
        .cloned()
        .collect();
    for n in drop {
        h.remove(n);
    }
    h
}

/// A random connection id, shaped like 1.36's: a version 4 UUID in its
/// hyphenated form (backends may store or parse it as a UUID).
pub(super) fn connection_id() -> String {
    uuid_v4(rand::rng().random())
}

/// Formats 128 random bits as a version 4, variant 1 UUID.
fn uuid_v4(random: u128) -> String {
    let n = (random & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::uuid_v4;

    #[test]
    fn connection_ids_are_version_4_uuids() {
        assert_eq!(uuid_v4(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4(u128::MAX), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
