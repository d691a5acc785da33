//! Requests sessions make on their own: `Grip-Link` next-link fetches and
//! `rel=gone` notifications. Same-origin links go through the session's
//! route (its targets, signing and headers); others go straight to the
//! link's host.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};
use hyper::body::Incoming;

use crate::app::Ctx;
use crate::grip::link::{resolve, Url};
use crate::proxy::headers::{prepare, ClientInfo};
use crate::proxy::pool::Conn;
use crate::proxy::{fetch, send_to_target, FetchError, Outgoing, RequestContext};
use crate::routes::{Target, TargetKind};

/// The URL of the request as it was forwarded (the base for relative links).
pub fn request_url(rc: &RequestContext) -> Url {
    let scheme = if rc.client.secure { "https" } else { "http" };
    let host = if rc.forwarded_host.is_empty() {
        "localhost"
    } else {
        rc.forwarded_host.as_str()
    };
    Url::parse(&format!("{scheme}://{host}{}", rc.forwarded_path)).unwrap_or(Url {
        https: rc.client.secure,
        host: "localhost".to_owned(),
        port: 80,
        explicit_port: false,
        path_and_query: rc.forwarded_path.clone(),
    })
}

/// Resolves a link relative to `base`.
pub fn resolve_link(base: &Url, link: &str) -> Option<Url> {
    resolve(base, link)
}

/// Sends `method url` (no body) with `Grip-Last` headers, as the proxy's
/// own request for a session.
pub async fn request(
    ctx: &Ctx,
    rc: &RequestContext,
    method: Method,
    url: &Url,
    grip_last: &[String],
) -> Result<(Response<Incoming>, Conn), FetchError> {
    let same_origin = url.same_origin(&request_url(rc));
    let client = ClientInfo {
        peer: rc.client.peer,
        trusted: false,
        secure: rc.client.secure,
        websocket: false,
        host: &url.authority(),
    };
    let mut req = prepare(
        &method,
        &url.path_and_query,
        &HeaderMap::new(),
        client,
        &rc.route,
        &ctx.config,
        &ctx.signer,
    );
    req.path_and_query = url.path_and_query.clone();
    for v in grip_last {
        if let Ok(v) = HeaderValue::from_str(v) {
            req.headers.append("grip-last", v);
        }
    }
    if same_origin {
        fetch(&Outgoing { req }, &rc.route, Bytes::new(), ctx).await
    } else {
        req.host = url.authority();
        let target = Target {
            kind: TargetKind::Http {
                host: url.host.clone(),
                port: url.port,
            },
            ssl: url.https,
            insecure: false,
            over_http: false,
            one_event: false,
            subs: Vec::new(),
            host: None,
            trust_connect_host: false,
            untrusted: true,
        };
        send_to_target(&Outgoing { req }, &target, Bytes::new(), ctx).await
    }
}

/// Tells a backend that a held session ended: an empty `POST` to its
/// `rel=gone` link, sent from its own task so the session is not delayed.
pub fn notify_gone(ctx: &Ctx, rc: &RequestContext, link: &str) {
    let Some(url) = resolve_link(&request_url(rc), link) else {
        tracing::debug!(link, "unusable gone link");
        return;
    };
    let ctx2 = ctx.clone();
    let rc2 = RequestContext {
        head: rc.head.clone(),
        route: rc.route.clone(),
        forwarded_host: rc.forwarded_host.clone(),
        forwarded_path: rc.forwarded_path.clone(),
        body: None,
        debug: rc.debug,
        keep_alive: false,
        client: rc.client,
        cross: None,
    };
    ctx.tracker.spawn(async move {
        match request(&ctx2, &rc2, Method::POST, &url, &[]).await {
            Ok((resp, conn)) => {
                use http_body_util::BodyExt;
                if resp.into_body().collect().await.is_ok() {
                    ctx2.pool.put(conn);
                }
            }
            Err(e) => tracing::debug!(error = %e, "gone link request failed"),
        }
    });
}
