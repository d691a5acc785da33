//! WebSocket fixtures. On the backend side, a path registered with
//! [`Backend::websocket`](super::Backend::websocket) answers an upgrade with
//! `101` (plus the headers given) and hands each accepted socket to the test
//! through [`Accepted`], so the test drives the backend end itself. On the
//! client side, thin wrappers over `tokio_tungstenite::connect_async` and a
//! receive with a deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::Response;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::backend::Recorded;

/// The backend's end of a proxied WebSocket.
pub type ServerWs = WebSocketStream<TokioIo<Upgraded>>;
/// A test client's WebSocket to the proxy.
pub type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct WsRoute {
    headers: Vec<(String, String)>,
    tx: mpsc::UnboundedSender<(Recorded, ServerWs)>,
}

/// The backend's WebSocket paths.
#[derive(Default)]
pub struct WsRoutes(Mutex<HashMap<String, WsRoute>>);

/// An upgrade the backend is going to accept.
pub struct PendingUpgrade {
    route: WsRoute,
    on: OnUpgrade,
}

impl WsRoutes {
    pub fn add(&self, path: &str, headers: &[(&str, &str)]) -> Accepted {
        let (tx, rx) = mpsc::unbounded_channel();
        let headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .lock()
            .unwrap()
            .insert(path.to_owned(), WsRoute { headers, tx });
        Accepted { rx }
    }

    /// Claims an upgrade request for a registered path.
    pub fn take(&self, req: &mut Request<Incoming>) -> Option<PendingUpgrade> {
        let route = self.0.lock().unwrap().get(req.uri().path()).cloned()?;
        let upgrade = req
            .headers()
            .get(http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        upgrade.then(|| PendingUpgrade {
            route,
            on: hyper::upgrade::on(req),
        })
    }
}

impl PendingUpgrade {
    /// Headers of the `101`; the socket goes to the test once upgraded.
    pub fn accept(self, rec: Recorded) -> Vec<(String, String)> {
        let key = rec.header("sec-websocket-key").unwrap_or("").to_owned();
        let mut headers = vec![
            ("Upgrade".to_owned(), "websocket".to_owned()),
            ("Connection".to_owned(), "Upgrade".to_owned()),
            (
                "Sec-WebSocket-Accept".to_owned(),
                derive_accept_key(key.as_bytes()),
            ),
        ];
        headers.extend(self.route.headers);
        let (on, tx) = (self.on, self.route.tx);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, None).await;
                let _ = tx.send((rec, ws));
            }
        });
        headers
    }
}

/// The sockets a backend WebSocket path accepted, in order.
pub struct Accepted {
    rx: mpsc::UnboundedReceiver<(Recorded, ServerWs)>,
}

impl Accepted {
    /// The next accepted socket and its handshake request (5 s at most).
    pub async fn next(&mut self) -> (Recorded, ServerWs) {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("no WebSocket reached the backend")
            .expect("backend gone")
    }

    /// Serves every socket with [`echo`] (prefixing echoes with `prefix`).
    pub fn echo(mut self, prefix: &'static str) {
        tokio::spawn(async move {
            while let Some((_, ws)) = self.rx.recv().await {
                tokio::spawn(echo(ws, prefix));
            }
        });
    }
}

/// Echoes text and binary messages with `prefix` in front, until the
/// socket ends (pings are answered by tungstenite itself).
pub async fn echo(mut ws: ServerWs, prefix: &'static str) {
    use futures_util::{SinkExt, StreamExt};
    while let Some(Ok(m)) = ws.next().await {
        let reply = match m {
            Message::Text(t) => Message::Text(format!("{prefix}{t}").into()),
            Message::Binary(b) => Message::Binary([prefix.as_bytes(), &b].concat().into()),
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            return;
        }
    }
}

/// Opens a WebSocket to the proxy with extra request headers.
pub async fn connect_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(ClientWs, Response<Option<Vec<u8>>>), WsError> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("WebSocket handshake timed out")
}

/// Opens a WebSocket to the proxy; panics unless it is accepted.
pub async fn connect(addr: SocketAddr, path: &str) -> ClientWs {
    connect_with(addr, path, &[])
        .await
        .expect("WebSocket accepted")
        .0
}

/// The next message on a socket (5 s at most); `None` when it ended.
pub async fn recv<S>(ws: &mut S) -> Option<Result<Message, WsError>>
where
    S: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    use futures_util::StreamExt;
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("nothing arrived on the WebSocket")
}

/// The next message, which must be there.
pub async fn next_msg<S>(ws: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    match recv(ws).await {
        Some(Ok(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Messages up to and including the first one equal to `last`.
pub async fn until<S>(ws: &mut S, last: &Message) -> Vec<Message>
where
    S: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    let mut got = Vec::new();
    loop {
        let m = next_msg(ws).await;
        let done = &m == last;
        got.push(m);
        if done {
            return got;
        }
    }
}

pub fn text(s: &str) -> Message {
    Message::Text(s.to_owned().into())
}

pub fn binary(b: &[u8]) -> Message {
    Message::Binary(b.to_vec().into())
}

/// Sends a GRIP control message (`c:` + JSON) from the backend.
pub async fn control(s: &mut ServerWs, msg: serde_json::Value) {
    use futures_util::SinkExt;
    s.send(text(&format!("c:{msg}"))).await.unwrap();
}

/// Waits until the hub has `n` subscribers on `channel` (5 s at most).
pub async fn subscribed(p: &super::Proxy, channel: &str, n: usize) {
    for _ in 0..500 {
        if p.app.context().hub.subscribers(channel) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{channel} has {} subscribers, not {n}",
        p.app.context().hub.subscribers(channel)
    );
}

/// Publishes one `ws-message` format to `channel`.
pub async fn publish_ws(p: &super::Proxy, channel: &str, format: serde_json::Value) {
    p.publish(serde_json::json!([{ "channel": channel, "formats": { "ws-message": format } }]))
        .await;
}
