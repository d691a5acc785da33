//! A programmable origin server on an ephemeral port (hyper server). Tests
//! register a handler per path (exact, or prefix ending in `/`) and read
//! back every request it received.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use super::ws::{Accepted, WsRoutes};

/// A request as the backend saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The proxy's end of the connection (same port: same pooled connection).
    pub peer: SocketAddr,
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect()
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// What a handler answers.
pub struct Reply {
    pub status: u16,
    /// A non-standard reason phrase.
    pub reason: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

/// A complete body, or one streamed through a channel.
pub enum ReplyBody {
    Full(Bytes),
    Stream(mpsc::Receiver<Bytes>),
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            reason: None,
            headers: Vec::new(),
            body: ReplyBody::Full(Bytes::new()),
        }
    }
    pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::new(status)
            .header("Content-Type", "text/plain")
            .body(body)
    }
    pub fn reason(mut self, r: &str) -> Reply {
        self.reason = Some(r.to_owned());
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn body(mut self, b: impl Into<Bytes>) -> Reply {
        self.body = ReplyBody::Full(b.into());
        self
    }
    /// A streamed body; returns the sender feeding it.
    pub fn streamed(mut self) -> (Reply, mpsc::Sender<Bytes>) {
        let (tx, rx) = mpsc::channel(16);
        self.body = ReplyBody::Stream(rx);
        (self, tx)
    }
    /// A stream hold on `channel` with `initial` body.
    pub fn stream_hold(channel: &str, initial: &str) -> Reply {
        Reply::text(200, initial.to_owned())
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", channel)
    }
    /// A response hold on `channel`.
    pub fn response_hold(channel: &str, body: &str) -> Reply {
        Reply::text(200, body.to_owned())
            .header("Grip-Hold", "response")
            .header("Grip-Channel", channel)
    }
}

type Handler = Arc<dyn Fn(Recorded) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

struct State {
    handlers: Mutex<HashMap<String, Handler>>,
    requests: Mutex<Vec<Recorded>>,
    arrived: Notify,
    ws: WsRoutes,
}

/// A running backend.
#[derive(Clone)]
pub struct Backend {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Backend {
    pub async fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            handlers: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            ws: WsRoutes::default(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((s, peer)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| serve(st.clone(), peer, req));
                    // no Date header: responses are the same bytes every run
                    let _ = http1::Builder::new()
                        .auto_date_header(false)
                        .serve_connection(TokioIo::new(s), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Backend { addr, state }
    }

    /// `host:port` for a routes line.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Registers an async handler for a path.
    pub fn route<F, Fut>(&self, path: &str, f: F)
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let h: Handler = Arc::new(move |r| Box::pin(f(r)));
        self.state
            .handlers
            .lock()
            .unwrap()
            .insert(path.to_owned(), h);
    }

    /// Makes `path` accept WebSocket upgrades with `101` and these extra
    /// headers; the accepted sockets are handed out in order.
    pub fn websocket(&self, path: &str, headers: &[(&str, &str)]) -> Accepted {
        self.state.ws.add(path, headers)
    }

    /// Registers a handler that always gives the same reply.
    pub fn fixed(&self, path: &str, make: fn() -> Reply) {
        self.route(path, move |_| async move { make() });
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path() == path)
            .cloned()
            .collect()
    }

    /// Waits until `count` requests for `path` arrived (5 s at most).
    pub async fn wait_requests(&self, path: &str, count: usize) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let notified = self.state.arrived.notified();
            let got = self.requests(path);
            if got.len() >= count {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {count} request(s) for {path}, got {}", got.len());
            }
        }
    }
}

async fn serve(
    st: Arc<State>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let upgrade = st.ws.take(&mut req);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let rec = Recorded {
        peer,
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    st.requests.lock().unwrap().push(rec.clone());
    st.arrived.notify_waiters();
    if let Some(up) = upgrade {
        let mut resp = Response::new(Full::new(Bytes::new()).boxed());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for (k, v) in up.accept(rec) {
            resp.headers_mut().append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(&v).unwrap(),
            );
        }
        return Ok(resp);
    }
    let handler = {
        let hs = st.handlers.lock().unwrap();
        let path = rec.path().to_owned();
        hs.get(&path).cloned().or_else(|| {
            hs.iter()
                .filter(|(p, _)| p.ends_with('/') && path.starts_with(p.as_str()))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, h)| h.clone())
        })
    };
    let reply = match handler {
        Some(h) => h(rec).await,
        None => Reply::text(404, "no handler\n"),
    };
    let mut resp = Response::new(match reply.body {
        ReplyBody::Full(b) => Full::new(b).boxed(),
        ReplyBody::Stream(rx) => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            StreamBody::new(stream).boxed()
        }
    });
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    if let Some(r) = reply.reason {
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::try_from(r.into_bytes()).unwrap());
    }
    for (k, v) in reply.headers {
        resp.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    Ok(resp)
}
