//! WebSocket passthrough: an upgrade on an ordinary route is relayed to a
//! WebSocket backend (messages both ways, fragments, ping/pong, subprotocol,
//! close codes, handshake headers, unreachable backend); and the `test`
//! target's `/ws` echo socket.

mod support;

use futures_util::{SinkExt, StreamExt};
use pushpin::config::XffRule;
use pushpin::grip::sig::verify_hs256;
use serde_json::json;
use std::time::Duration;
use support::ws::{
    binary, connect, connect_with, next_msg, recv, subscribed, text, until, ClientWs, ServerWs,
};
use support::{Backend, Proxy, RawClient, Reply};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A proxy in front of a backend whose `/ws` accepts WebSockets; returns
/// the proxy, the backend and one connected client with its backend end.
async fn pair(headers: &[(&str, &str)]) -> (Proxy, Backend, ClientWs, ServerWs) {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", headers);
    let p = Proxy::to(&b.target()).await;
    let c = connect(p.http, "/ws").await;
    let (_, s) = accepted.next().await;
    (p, b, c, s)
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

#[tokio::test]
async fn text_and_binary_both_ways() {
    let (_p, b, mut c, mut s) = pair(&[]).await;
    c.send(text("hello backend")).await.unwrap();
    c.send(binary(b"\x00\x01\xfe\xff")).await.unwrap();
    assert_eq!(next_msg(&mut s).await, text("hello backend"));
    assert_eq!(next_msg(&mut s).await, binary(b"\x00\x01\xfe\xff"));
    s.send(text("hello client")).await.unwrap();
    s.send(binary(b"\xff\x00")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("hello client"));
    assert_eq!(next_msg(&mut c).await, binary(b"\xff\x00"));
    let rec = &b.requests("/ws")[0];
    assert_eq!(rec.method, "GET");
    assert!(rec
        .header("upgrade")
        .unwrap()
        .eq_ignore_ascii_case("websocket"));
}

#[tokio::test]
async fn one_mebibyte_messages_both_ways() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    let big_text: String = (0..1 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let big_bin: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    c.send(text(&big_text)).await.unwrap();
    c.send(binary(&big_bin)).await.unwrap();
    assert_eq!(next_msg(&mut s).await, text(&big_text));
    assert_eq!(next_msg(&mut s).await, binary(&big_bin));
    s.send(binary(&big_bin)).await.unwrap();
    s.send(text(&big_text)).await.unwrap();
    assert_eq!(next_msg(&mut c).await, binary(&big_bin));
    assert_eq!(next_msg(&mut c).await, text(&big_text));
}

#[tokio::test]
async fn fragmented_messages_arrive_whole() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    let frag = |data: &str, op: Data, fin: bool| {
        Message::Frame(Frame::message(
            data.as_bytes().to_vec(),
            OpCode::Data(op),
            fin,
        ))
    };
    // client → backend: text in three frames, a ping between two of them
    c.send(frag("frag", Data::Text, false)).await.unwrap();
    c.send(frag("mented ", Data::Continue, false))
        .await
        .unwrap();
    c.send(Message::Ping(b"mid".to_vec().into())).await.unwrap();
    c.send(frag("text", Data::Continue, true)).await.unwrap();
    c.send(frag("bin", Data::Binary, false)).await.unwrap();
    c.send(frag("ary", Data::Continue, true)).await.unwrap();
    let got = until(&mut s, &binary(b"binary")).await;
    let data: Vec<_> = got
        .into_iter()
        .filter(|m| m.is_text() || m.is_binary())
        .collect();
    assert_eq!(data, vec![text("fragmented text"), binary(b"binary")]);
    // backend → client
    s.send(frag("from ", Data::Text, false)).await.unwrap();
    s.send(frag("backend", Data::Continue, true)).await.unwrap();
    let got = until(&mut c, &text("from backend")).await;
    // (the pong answering the client's ping may come first)
    assert!(got[..got.len() - 1].iter().all(|m| m.is_pong()), "{got:?}");
}

#[tokio::test]
async fn ping_and_pong_are_relayed_with_payloads() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    c.send(Message::Ping(b"c-ping".to_vec().into()))
        .await
        .unwrap();
    c.send(Message::Pong(b"c-pong".to_vec().into()))
        .await
        .unwrap();
    c.send(text("marker")).await.unwrap();
    let got = until(&mut s, &text("marker")).await;
    assert!(
        got.contains(&Message::Ping(b"c-ping".to_vec().into())),
        "{got:?}"
    );
    assert!(
        got.contains(&Message::Pong(b"c-pong".to_vec().into())),
        "{got:?}"
    );
    // the client's ping is answered
    let got = until(&mut c, &Message::Pong(b"c-ping".to_vec().into())).await;
    assert_eq!(got, vec![Message::Pong(b"c-ping".to_vec().into())]);
    s.send(Message::Ping(b"b-ping".to_vec().into()))
        .await
        .unwrap();
    s.send(Message::Pong(b"b-pong".to_vec().into()))
        .await
        .unwrap();
    s.send(text("marker")).await.unwrap();
    let got = until(&mut c, &text("marker")).await;
    assert!(
        got.contains(&Message::Ping(b"b-ping".to_vec().into())),
        "{got:?}"
    );
    assert!(
        got.contains(&Message::Pong(b"b-pong".to_vec().into())),
        "{got:?}"
    );
    // the client's automatic answer to the backend's ping reaches the backend
    c.send(text("flush")).await.unwrap();
    let got = until(&mut s, &text("flush")).await;
    assert!(
        got.contains(&Message::Pong(b"b-ping".to_vec().into())),
        "{got:?}"
    );
}

#[tokio::test]
async fn proxy_generates_no_pongs_of_its_own() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    c.send(Message::Ping(b"c-ping".to_vec().into()))
        .await
        .unwrap();
    c.send(text("marker")).await.unwrap();
    assert_eq!(
        until(&mut s, &text("marker")).await,
        vec![Message::Ping(b"c-ping".to_vec().into()), text("marker")]
    );
    s.send(text("marker")).await.unwrap();
    // only the backend's pong, relayed
    assert_eq!(
        until(&mut c, &text("marker")).await,
        vec![Message::Pong(b"c-ping".to_vec().into()), text("marker")]
    );
    s.send(Message::Ping(b"b-ping".to_vec().into()))
        .await
        .unwrap();
    s.send(text("marker 2")).await.unwrap();
    until(&mut c, &text("marker 2")).await;
    c.send(text("flush")).await.unwrap();
    assert_eq!(
        until(&mut s, &text("flush")).await,
        vec![Message::Pong(b"b-ping".to_vec().into()), text("flush")]
    );
}

#[tokio::test]
async fn subprotocol_is_the_backends_choice() {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", &[("Sec-WebSocket-Protocol", "chat.v1")]);
    let p = Proxy::to(&b.target()).await;
    let (mut c, resp) = connect_with(
        p.http,
        "/ws",
        &[("Sec-WebSocket-Protocol", "chat.v1, chat.v2")],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat.v1");
    let (rec, mut s) = accepted.next().await;
    assert_eq!(
        rec.header("sec-websocket-protocol"),
        Some("chat.v1, chat.v2")
    );
    c.send(text("in chat")).await.unwrap();
    assert_eq!(next_msg(&mut s).await, text("in chat"));
}

#[tokio::test]
async fn client_close_code_and_reason_reach_the_backend() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    c.send(close(4000, "client bye")).await.unwrap();
    assert_eq!(next_msg(&mut s).await, close(4000, "client bye"));
    // tungstenite sends its queued close answer only when the socket is
    // polled again, so keep the backend reading until the proxy hangs up
    let backend = tokio::spawn(async move { while let Some(Ok(_)) = s.next().await {} });
    assert_eq!(next_msg(&mut c).await, close(4000, "client bye"));
    tokio::time::timeout(Duration::from_secs(5), backend)
        .await
        .expect("proxy closed the backend connection")
        .unwrap();
}

#[tokio::test]
async fn backend_close_code_and_reason_reach_the_client() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    s.send(close(4001, "server bye")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, close(4001, "server bye"));
}

#[tokio::test]
async fn client_answer_to_backend_close_reaches_the_backend() {
    let (_p, _b, mut c, mut s) = pair(&[]).await;
    s.send(close(4001, "server bye")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, close(4001, "server bye"));
    // the client's automatic answer completes the close handshake
    assert!(matches!(
        recv(&mut c).await,
        None | Some(Err(WsError::ConnectionClosed))
    ));
    match recv(&mut s).await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 4001),
        other => panic!("backend got no close answer: {other:?}"),
    }
}

#[tokio::test]
async fn backend_gone_after_its_close_drops_a_client_that_never_answers() {
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::MaybeTlsStream;
    let (_p, _b, c, mut s) = pair(&[]).await;
    // the client reads raw bytes, so nothing answers the close for it
    let MaybeTlsStream::Plain(mut tcp) = c.into_inner() else {
        panic!("plain TCP expected");
    };
    s.send(close(4001, "bye")).await.unwrap();
    drop(s);
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the client was kept after the backend went away"
    );
    assert_eq!(got, b"\x88\x05\x0f\xa1bye");
}

#[tokio::test]
async fn unreachable_backend_is_502_before_the_upgrade() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = dead.local_addr().unwrap().to_string();
    drop(dead);
    let p = Proxy::to(&target).await;
    match connect_with(p.http, "/ws", &[]).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 502),
        other => panic!("expected 502, got {:?}", other.map(|(_, r)| r.status())),
    }
    let mut raw = RawClient::open(
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
    raw.read_head().await;
    let body = raw.read_to_end(std::time::Duration::from_secs(5)).await;
    assert_eq!(raw.status, Some(502));
    assert_eq!(body, b"Error while proxying to origin.\n");
}

#[tokio::test]
async fn backend_rejection_is_relayed() {
    let b = Backend::start().await;
    b.fixed("/ws", || {
        Reply::text(403, "go away\n").header("X-Why", "policy")
    });
    let p = Proxy::to(&b.target()).await;
    match connect_with(p.http, "/ws", &[]).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            assert_eq!(resp.headers()["x-why"], "policy");
            assert_eq!(resp.body().as_deref(), Some(&b"go away\n"[..]));
        }
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
}

#[tokio::test]
async fn handshake_carries_grip_sig_and_x_forwarded_for() {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", &[]);
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.xff = XffRule {
                truncate: None,
                append: true,
            }
        })
        .start()
        .await;
    let headers = [
        ("X-Forwarded-For", "203.0.113.7"),
        ("Grip-Sig", "forged"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Origin", "http://example.org"),
    ];
    let (_c, _) = connect_with(p.http, "/ws", &headers).await.unwrap();
    let (rec, _s) = accepted.next().await;
    let sig = rec.header_all("grip-sig");
    assert_eq!(sig.len(), 1);
    assert!(verify_hs256(&sig[0], b"changeme"), "{sig:?}");
    assert!(rec.header("grip-feature").is_some());
    assert_eq!(
        rec.header_all("x-forwarded-for"),
        vec!["203.0.113.7, 127.0.0.1"]
    );
    // the client's extensions are never forwarded; grip is offered instead
    assert_eq!(rec.header_all("sec-websocket-extensions"), vec!["grip"]);
    assert_eq!(rec.header("origin"), Some("http://example.org"));
    let (_c, _) = connect_with(p.http, "/ws", &[]).await.unwrap();
    let (rec, _s) = accepted.next().await;
    assert_eq!(rec.header_all("x-forwarded-for"), vec!["127.0.0.1"]);
}

#[tokio::test]
async fn no_grip_route_offers_no_grip_extension() {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", &[]);
    let p = Proxy::builder()
        .route(&format!("*,no_grip {}", b.target()))
        .start()
        .await;
    let _c = connect(p.http, "/ws").await;
    let (rec, _s) = accepted.next().await;
    assert!(rec.header("sec-websocket-extensions").is_none());
}

async fn test_target() -> Proxy {
    Proxy::builder().route("* test").start().await
}

#[tokio::test]
async fn test_target_echoes_text_and_binary() {
    let p = test_target().await;
    let mut c = connect(p.http, "/ws").await;
    c.send(text("echo me")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("echo me"));
    c.send(binary(b"\x01\x02")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, binary(b"\x01\x02"));
    c.send(text(&"z".repeat(1 << 20))).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text(&"z".repeat(1 << 20)));
}

#[tokio::test]
async fn test_target_echoes_close_code_and_reason() {
    let p = test_target().await;
    let mut c = connect(p.http, "/ws").await;
    c.send(text("before")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("before"));
    c.send(close(4002, "done")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, close(4002, "done"));
}

#[tokio::test]
async fn test_target_echoes_ping_as_ping() {
    let p = test_target().await;
    let mut c = connect(p.http, "/ws").await;
    c.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    c.send(text("after")).await.unwrap();
    assert_eq!(
        until(&mut c, &text("after")).await,
        vec![Message::Ping(b"p".to_vec().into()), text("after")]
    );
}

#[tokio::test]
async fn test_target_receives_publishes_on_test_or_query_channels() {
    let p = test_target().await;
    let mut dflt = connect(p.http, "/ws").await;
    let mut chosen = connect(p.http, "/ws?channel=tw1&channel=tw2").await;
    subscribed(&p, "test", 1).await;
    subscribed(&p, "tw1", 1).await;
    subscribed(&p, "tw2", 1).await;
    for (ch, content) in [("test", "to test"), ("tw1", "to tw1"), ("tw2", "to tw2")] {
        p.publish(json!([{"channel": ch, "formats": {"ws-message": {"content": content}}}]))
            .await;
    }
    assert_eq!(next_msg(&mut dflt).await, text("to test"));
    assert_eq!(next_msg(&mut chosen).await, text("to tw1"));
    assert_eq!(next_msg(&mut chosen).await, text("to tw2"));
    // echo still works alongside
    dflt.send(text("still echoing")).await.unwrap();
    assert_eq!(next_msg(&mut dflt).await, text("still echoing"));
}

#[tokio::test]
async fn test_target_unknown_path_is_404() {
    let p = test_target().await;
    match connect_with(p.http, "/nope", &[]).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 404);
            assert_eq!(
                resp.body().as_deref(),
                Some(&b"no such test resource\n"[..])
            );
        }
        other => panic!("expected 404, got {:?}", other.map(|(_, r)| r.status())),
    }
}
