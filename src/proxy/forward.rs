//! Sending a request to a route's backend: target failover, pooled
//! connections, and streaming a large request body from the client while the
//! backend works.

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::body::{BodyAborted, ReqBody};
use super::headers::{prepare, BackendRequest, ClientInfo};
use super::pool::{Conn, PoolKey};
use super::ClientFacts;
use crate::app::Ctx;
use crate::error::ProxyError;
use crate::http1::{BodyDecoder, RequestHead};
use crate::routes::{host_without_port, Route, Target, TargetKind};
use crate::server::io::{read_body_piece, ClientConn, ReadError};

/// The request as it goes to the backend, target-independent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub req: BackendRequest,
}

impl Outgoing {
    /// Rewrites a client request for a route.
    pub fn new(head: &RequestHead, route: &Route, ctx: &Ctx, facts: ClientFacts) -> Outgoing {
        let host = match head.host() {
            "" => "localhost",
            h => h,
        };
        let client = ClientInfo {
            peer: facts.peer,
            trusted: facts.trusted,
            secure: facts.secure,
            websocket: head.is_websocket_upgrade(),
            host,
        };
        Outgoing {
            req: prepare(
                &head.method,
                &head.target,
                &head.headers,
                client,
                route,
                &ctx.config,
                &ctx.signer,
            ),
        }
    }

    /// A hyper request for one target.
    pub fn build(&self, target: &Target, body: ReqBody) -> Result<Request<ReqBody>, ProxyError> {
        let uri: http::Uri = self
            .req
            .path_and_query
            .parse()
            .map_err(|_| ProxyError::BadRequest("request target".into()))?;
        let empty = http_body::Body::is_end_stream(&body);
        let mut req = Request::new(body);
        *req.method_mut() = self.req.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = self.req.headers.clone();
        if empty && states_empty_length(&self.req.method) {
            req.headers_mut()
                .entry(http::header::CONTENT_LENGTH)
                .or_insert(HeaderValue::from_static("0"));
        }
        let host = self.req.host_for(target);
        let host = if host.is_empty() {
            target.label()
        } else {
            host
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            req.headers_mut().insert(http::header::HOST, v);
        }
        Ok(req)
    }
}

/// Whether a request of this method without a body is sent with
/// `Content-Length: 0`, as 1.36 (zurl) sends every method but these four:
/// backends that answer `411 Length Required` to a bodiless `POST` rely on it.
fn states_empty_length(method: &http::Method) -> bool {
    !matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE | http::Method::OPTIONS
    )
}

/// How the request body reaches the backend.
#[derive(Debug)]
pub(super) enum RequestBody {
    /// Read in full already.
    Full(Bytes),
    /// Too large to buffer: `prefix` was read, the rest follows from the
    /// client connection.
    Stream { prefix: Bytes, decoder: BodyDecoder },
}

impl RequestBody {
    /// The body with `front` before it (a JSON-P request's body parameter).
    pub(super) fn prefixed(self, front: Bytes) -> RequestBody {
        let join = |rest: Bytes| {
            let mut b = Vec::with_capacity(front.len() + rest.len());
            b.extend_from_slice(&front);
            b.extend_from_slice(&rest);
            Bytes::from(b)
        };
        match self {
            RequestBody::Full(b) if b.is_empty() => RequestBody::Full(front),
            RequestBody::Full(b) => RequestBody::Full(join(b)),
            RequestBody::Stream { prefix, decoder } => RequestBody::Stream {
                prefix: join(prefix),
                decoder,
            },
        }
    }
}

/// Moves the rest of a streamed request body from the client to the backend
/// request, one piece per [`Pump::step`], with back-pressure.
#[derive(Debug)]
pub(super) struct Pump {
    decoder: BodyDecoder,
    tx: Option<mpsc::Sender<Result<Bytes, BodyAborted>>>,
    done: bool,
}

impl Pump {
    /// The client's body was read to the end (or abandoned).
    pub(super) fn done(&self) -> bool {
        self.done
    }

    /// Reads one piece from the client and passes it on.
    pub(super) async fn step(&mut self, conn: &mut ClientConn) -> Result<(), ReadError> {
        let piece = read_body_piece(
            &conn.stream,
            &mut conn.rbuf,
            &mut conn.eof,
            &mut self.decoder,
        )
        .await;
        match piece {
            Ok(Some(data)) => {
                let sent = match &self.tx {
                    Some(tx) => tx.send(Ok(data)).await.is_ok(),
                    None => false,
                };
                if !sent {
                    // the backend stopped reading: stop here
                    self.tx = None;
                    self.done = true;
                }
                Ok(())
            }
            Ok(None) => {
                self.tx = None;
                self.done = true;
                Ok(())
            }
            Err(e) => {
                if let Some(tx) = self.tx.take() {
                    let _ = tx.try_send(Err(BodyAborted));
                }
                self.done = true;
                Err(e)
            }
        }
    }
}

/// A sent request with its response head.
#[derive(Debug)]
pub(super) struct Sent {
    pub response: Response<Incoming>,
    pub backend: Conn,
    /// Still moving the request body, if it was streamed.
    pub pump: Option<Pump>,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Connect(ProxyError),
    #[error("backend: {0}")]
    Backend(#[from] hyper::Error),
    #[error("client: {0}")]
    Client(#[from] ReadError),
    #[error("{0}")]
    Request(ProxyError),
}

impl FetchError {
    /// Whether the client's request body was read in full (so the client
    /// connection can be kept).
    pub fn client_body_consumed(&self) -> bool {
        !matches!(self, FetchError::Client(_))
    }

    pub fn into_proxy_error(self) -> ProxyError {
        match self {
            FetchError::Connect(e) | FetchError::Request(e) => e,
            FetchError::Backend(e) => ProxyError::Backend(e.to_string()),
            FetchError::Client(e) => ProxyError::BadRequest(e.to_string()),
        }
    }
}

pub fn pool_key(target: &Target, host: &str, port: u16, out: &Outgoing) -> PoolKey {
    let tls_name = target.ssl.then(|| {
        if target.trust_connect_host {
            host.to_owned()
        } else {
            let h = host_without_port(&out.req.host_for(target));
            if h.is_empty() {
                host.to_owned()
            } else {
                h
            }
        }
    });
    PoolKey {
        host: host.to_owned(),
        port,
        tls_name,
        insecure: target.insecure,
    }
}

/// Connects to the first target that accepts, in route order.
async fn connect_any<'r>(
    route: &'r Route,
    out: &Outgoing,
    ctx: &Ctx,
) -> Result<(&'r Target, Conn), FetchError> {
    let mut tried = Vec::new();
    for t in &route.targets {
        let TargetKind::Http { host, port } = &t.kind else {
            continue;
        };
        match ctx.pool.get(&pool_key(t, host, *port, out)).await {
            Ok(c) => return Ok((t, c)),
            Err(e) => {
                tracing::debug!(error = %e, "target failed, trying the next");
                tried.push(t.label());
            }
        }
    }
    Err(FetchError::Connect(ProxyError::ConnectFailed(tried)))
}

/// Sends a request; a pooled connection that turns out to be closed before
/// the request went out is replaced by a fresh one.
async fn send_on(
    backend: &mut Conn,
    req: Request<ReqBody>,
    target: &Target,
    out: &Outgoing,
    ctx: &Ctx,
) -> Result<Response<Incoming>, FetchError> {
    match backend.sender.try_send_request(req).await {
        Ok(r) => Ok(r),
        Err(mut e) => match e.take_message() {
            Some(req) if backend.reused => {
                let TargetKind::Http { host, port } = &target.kind else {
                    return Err(FetchError::Backend(e.into_error()));
                };
                let key = pool_key(target, host, *port, out);
                *backend = ctx.pool.connect_new(&key).await.map_err(|err| {
                    FetchError::Connect(ProxyError::ConnectFailed(vec![format!("{err}")]))
                })?;
                Ok(backend.sender.send_request(req).await?)
            }
            _ => Err(FetchError::Backend(e.into_error())),
        },
    }
}

/// Sends the client's request to the route's backend and waits for the
/// response head, streaming the request body meanwhile.
pub(super) async fn send(
    conn: &mut ClientConn,
    out: &Outgoing,
    route: &Route,
    body: RequestBody,
    ctx: &Ctx,
) -> Result<Sent, FetchError> {
    let (target, mut backend) = connect_any(route, out, ctx).await?;
    let (req_body, mut pump) = match body {
        RequestBody::Full(b) => (ReqBody::full(b), None),
        RequestBody::Stream { prefix, decoder } => {
            let (tx, rx) = mpsc::channel(2);
            let _ = tx.try_send(Ok(prefix));
            let pump = Pump {
                decoder,
                tx: Some(tx),
                done: false,
            };
            (ReqBody::Stream(rx), Some(pump))
        }
    };
    let req = out.build(target, req_body).map_err(FetchError::Request)?;
    let response = {
        let fut = send_on(&mut backend, req, target, out, ctx);
        tokio::pin!(fut);
        loop {
            let pumping = pump.as_ref().is_some_and(|p| !p.done);
            tokio::select! {
                r = &mut fut => break r?,
                r = async { pump.as_mut().expect("guarded").step(conn).await }, if pumping => r?,
            }
        }
    };
    Ok(Sent {
        response,
        backend,
        pump,
    })
}

/// Sends a request with a body we already have to one given target (links
/// to other origins, gone links).
pub async fn send_to_target(
    out: &Outgoing,
    target: &Target,
    body: Bytes,
    ctx: &Ctx,
) -> Result<(Response<Incoming>, Conn), FetchError> {
    let TargetKind::Http { host, port } = &target.kind else {
        return Err(FetchError::Request(ProxyError::Backend(
            "not an HTTP target".into(),
        )));
    };
    let mut backend = ctx
        .pool
        .get(&pool_key(target, host, *port, out))
        .await
        .map_err(|e| FetchError::Connect(ProxyError::ConnectFailed(vec![e.to_string()])))?;
    let req = out
        .build(target, ReqBody::full(body))
        .map_err(FetchError::Request)?;
    let response = send_on(&mut backend, req, target, out, ctx).await?;
    Ok((response, backend))
}

/// Sends a request the proxy makes itself (recovery, links, WebSocket over
/// HTTP) with a body it already has.
pub async fn fetch(
    out: &Outgoing,
    route: &Route,
    body: Bytes,
    ctx: &Ctx,
) -> Result<(Response<Incoming>, Conn), FetchError> {
    let (target, mut backend) = connect_any(route, out, ctx).await?;
    let req = out
        .build(target, ReqBody::full(body))
        .map_err(FetchError::Request)?;
    let response = send_on(&mut backend, req, target, out, ctx).await?;
    Ok((response, backend))
}
