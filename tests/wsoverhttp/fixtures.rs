//! Fixtures for the WebSocket-over-HTTP tests: an over-HTTP backend on
//! the [`Backend`] fixture that logs and decodes every request and answers
//! from a script, and WebSocket client helpers (tokio-tungstenite).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue};
use pushpin::wsoverhttp::events::{decode, encode, Event};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{Backend, Proxy, RawClient, Recorded, Reply};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) const EVENTS: &str = "application/websocket-events";
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// One request the over-HTTP backend received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) req: Recorded,
    pub(crate) events: Vec<Event>,
}

/// Every request the over-HTTP backend received, in order.
#[derive(Clone, Default)]
pub(crate) struct Log {
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
}

impl Log {
    /// Records a request; returns its index (0 = the opening one).
    pub(crate) fn push(&self, req: Recorded) -> (usize, Vec<Event>) {
        let events = decode(&req.body).expect("the proxy sends valid websocket-events");
        let mut seen = self.seen.lock().unwrap();
        seen.push(Seen {
            at: Instant::now(),
            req,
            events: events.clone(),
        });
        self.arrived.notify_waiters();
        (seen.len() - 1, events)
    }

    pub(crate) fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived.
    pub(crate) async fn wait(&self, n: usize, within: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} request(s), got {}: {all:#?}", all.len());
            }
        }
    }

    /// Asserts that no request beyond the first `n` arrives within `d`.
    pub(crate) async fn quiet(&self, n: usize, d: Duration) {
        tokio::time::sleep(d).await;
        let all = self.all();
        assert_eq!(
            all.len(),
            n,
            "unexpected request(s): {:#?}",
            &all[n.min(all.len())..]
        );
    }
}

/// What the backend answers to one request.
pub(crate) struct Answer {
    pub(crate) reply: Reply,
    pub(crate) delay: Duration,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            reply,
            delay: Duration::ZERO,
        }
    }
}

impl Answer {
    /// Answer after `delay` (the request stays in flight meanwhile).
    pub(crate) fn after(reply: Reply, delay: Duration) -> Answer {
        Answer { reply, delay }
    }
}

/// Serves `/ws` on `b` as an over-HTTP backend: `script(n, events)` answers
/// the `n`-th request (0 = the opening one).
pub(crate) fn over_http<F, A>(b: &Backend, script: F) -> Log
where
    F: Fn(usize, &[Event]) -> A + Send + Sync + 'static,
    A: Into<Answer>,
{
    let log = Log::default();
    let l = log.clone();
    let script = Arc::new(script);
    b.route("/ws", move |req| {
        let (n, events) = l.push(req);
        let answer: Answer = script(n, &events).into();
        async move {
            if !answer.delay.is_zero() {
                tokio::time::sleep(answer.delay).await;
            }
            answer.reply
        }
    });
    log
}

/// A 200 `application/websocket-events` answer.
pub(crate) fn events(evs: &[Event]) -> Reply {
    Reply::new(200)
        .header("Content-Type", EVENTS)
        .body(encode(evs))
}

/// An opening answer (`OPEN` then `more`) that enables GRIP.
pub(crate) fn grip_open(more: &[Event]) -> Reply {
    let mut evs = vec![Event::open()];
    evs.extend_from_slice(more);
    events(&evs).header("Sec-WebSocket-Extensions", "grip")
}

pub(crate) async fn proxy_for(b: &Backend) -> Proxy {
    Proxy::to(&format!("{},over_http", b.target())).await
}

/// Opens a WebSocket to the proxy with extra request headers.
pub(crate) async fn connect_with(p: &Proxy, path: &str, headers: &[(&str, &str)]) -> Ws {
    let mut req = format!("ws://{}{path}", p.http)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (ws, resp) = timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake in time")
        .expect("handshake succeeds");
    assert_eq!(resp.status(), 101);
    ws
}

pub(crate) async fn connect(p: &Proxy) -> Ws {
    connect_with(p, "/ws", &[]).await
}

/// The next message (pings and pongs included); `None` when the socket
/// ended or failed.
pub(crate) async fn next_any(ws: &mut Ws, within: Duration) -> Option<Message> {
    match timeout(within, ws.next()).await {
        Err(_) => panic!("no message within {within:?}"),
        Ok(Some(Ok(m))) => Some(m),
        Ok(_) => None,
    }
}

/// The next text, binary or close message.
pub(crate) async fn next_msg(ws: &mut Ws) -> Message {
    loop {
        match next_any(ws, WAIT).await {
            Some(Message::Ping(_) | Message::Pong(_)) => continue,
            Some(m) => return m,
            None => panic!("the socket ended"),
        }
    }
}

pub(crate) async fn next_text(ws: &mut Ws) -> String {
    match next_msg(ws).await {
        Message::Text(t) => t.to_string(),
        m => panic!("expected text, got {m:?}"),
    }
}

/// Reads to the end of the socket; returns every message seen.
pub(crate) async fn drain(ws: &mut Ws, within: Duration) -> Vec<Message> {
    let mut got = Vec::new();
    while let Some(m) = next_any(ws, within).await {
        got.push(m);
    }
    got
}

pub(crate) async fn send_text(ws: &mut Ws, s: &str) {
    ws.send(Message::Text(s.into())).await.unwrap();
}

pub(crate) fn close_msg(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

/// The `exp` claim of a `Grip-Sig` token.
pub(crate) fn token_exp(token: &str) -> u64 {
    let claims = token.split('.').nth(1).expect("a JWT");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    claims["exp"].as_u64().expect("exp claim")
}

/// Waits until the hub has `n` subscribers on `channel`.
pub(crate) async fn subscribed(p: &Proxy, channel: &str, n: usize) {
    for _ in 0..500 {
        if p.app.context().hub.subscribers(channel) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{channel} never reached {n} subscribers");
}

/// A raw WebSocket opening request, so the whole answer can be read.
pub(crate) async fn raw_handshake(p: &Proxy) -> RawClient {
    let mut c = RawClient::open(
        p.http,
        "GET",
        "/ws",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
        b"",
    )
    .await;
    c.read_head().await;
    c.read_to_end(WAIT).await;
    c
}
