//! Next-link following for stream sessions: fetch the `Grip-Link rel=next`
//! URL (with `Grip-Last` for channels with a known id), append its body, and
//! take the instructions in its headers (hold again, follow the next link,
//! or end). Failed fetches are retried five times with growing delays.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rand::Rng;

use super::common::{client_closed, grip_last};
use super::link::{request, request_url, resolve_link};
use super::stream::{frame, End, StreamSession};
use crate::grip::filter::{proxy_content_filters, ContentStream};
use crate::grip::instruct::{self, HoldMode};
use crate::grip::link::Url;
use crate::proxy::pool::Conn;
use crate::proxy::relay_reason;

/// Retries after a failed link fetch.
const LINK_RETRIES: u32 = 5;

impl StreamSession<'_> {
    /// Fetches the next link, and any that follow without a hold, appending
    /// their bodies. `None`: holding again (under new instructions if the
    /// link gave some); `Some(end)`: the session is over.
    pub(super) async fn follow_link(&mut self) -> Option<End> {
        loop {
            let link = self.ins.next_link.clone()?;
            let base = self.base.get_or_insert_with(|| request_url(self.rc));
            let Some(url) = resolve_link(base, &link.uri) else {
                return Some(End::Error("Grip-Link contains invalid link".to_owned()));
            };
            let last = grip_last(
                self.channels
                    .iter()
                    .map(|c| (&c.spec.name, c.spec.prev_id.as_deref())),
            );
            let (resp, backend) = match self.fetch_with_retries(&url, &last).await {
                Ok(r) => r,
                Err(end) => return Some(end),
            };
            let code = resp.status().as_u16();
            let reason = relay_reason(&resp);
            let headers = resp.headers().clone();
            if let Some(end) = self.append_body(resp.into_body(), backend).await {
                return Some(end);
            }
            let new = match instruct::parse(code, &reason, &headers, Bytes::new()) {
                Ok(i) => i,
                Err(msg) => return Some(End::Error(msg)),
            };
            self.base = Some(url);
            match new.hold {
                Some(HoldMode::Response) => {
                    return Some(End::Error("Next link returned non-stream hold.".to_owned()))
                }
                Some(HoldMode::Stream) => {
                    self.ins = new;
                    self.apply_channels();
                    return None;
                }
                None if new.next_link.is_some() => {
                    self.ins = new;
                    self.apply_channels();
                }
                None => return Some(End::Closed),
            }
        }
    }

    /// Writes a link response's body, through the `build-id` filters.
    async fn append_body(&mut self, mut body: Incoming, backend: Conn) -> Option<End> {
        let lists: Vec<&[String]> = self
            .ins
            .channels
            .iter()
            .map(|c| c.filters.as_slice())
            .collect();
        let filters = proxy_content_filters(&lists);
        let mut filter =
            (!filters.is_empty()).then(|| ContentStream::new(&filters, &self.ins.meta));
        loop {
            let data = match body.frame().await {
                None => break,
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                Some(Err(e)) => return Some(End::Error(format!("next link body: {e}"))),
            };
            let data = match &mut filter {
                None => data,
                Some(f) => match f.update(&data) {
                    Ok(b) => Bytes::from(b),
                    Err(e) => return Some(End::Error(e)),
                },
            };
            if !data.is_empty() {
                if let Some(end) = self.write(&[&frame(self.framing, &data)]).await {
                    return Some(end);
                }
            }
        }
        if let Some(f) = &mut filter {
            match f.finalize() {
                Ok(rest) if !rest.is_empty() => {
                    if let Some(end) = self.write(&[&frame(self.framing, &rest)]).await {
                        return Some(end);
                    }
                }
                Ok(_) => {}
                Err(e) => return Some(End::Error(e)),
            }
        }
        self.ctx.pool.put(backend);
        None
    }

    /// GETs the link; connection failures and non-2xx answers are retried
    /// after 1 s, 2 s, 4 s... (plus up to 1 s of jitter), five times.
    async fn fetch_with_retries(
        &self,
        url: &Url,
        last: &[String],
    ) -> Result<(hyper::Response<Incoming>, Conn), End> {
        let mut attempt = 0;
        loop {
            let r = tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return Err(End::Shutdown),
                _ = client_closed(&self.conn.stream) => return Err(End::ClientGone),
                r = request(self.ctx, self.rc, Method::GET, url, last) => r,
            };
            match r {
                Ok((resp, conn)) if resp.status().is_success() => return Ok((resp, conn)),
                Ok((resp, _)) => tracing::debug!(status = %resp.status(), "next link failed"),
                Err(e) => tracing::debug!(error = %e, "next link failed"),
            }
            if attempt >= LINK_RETRIES {
                return Err(End::Error("Failed to retrieve next link.".to_owned()));
            }
            let delay =
                Duration::from_millis(1000 * (1 << attempt) + rand::rng().random_range(0..1000));
            attempt += 1;
            tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return Err(End::Shutdown),
                _ = client_closed(&self.conn.stream) => return Err(End::ClientGone),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}
