//! Publishing `ws-message` items to WebSocket subscribers: every kind of
//! message and the close action, fan-out in order to every socket on the
//! channel, and one hub shared with HTTP stream holds.

mod support;

use futures_util::SinkExt;
use serde_json::json;
use support::ws::{
    binary, connect, control, next_msg, publish_ws, subscribed, text, until, Accepted, ClientWs,
    ServerWs,
};
use support::{Backend, Proxy, RawClient, Reply};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// A proxy in front of a GRIP WebSocket backend on `/ws`.
async fn grip_backend() -> (Proxy, Backend, Accepted) {
    let b = Backend::start().await;
    let accepted = b.websocket("/ws", &[("Sec-WebSocket-Extensions", "grip")]);
    let p = Proxy::to(&b.target()).await;
    (p, b, accepted)
}

/// Connects a client whose backend subscribes it to `channel`; waits until
/// the hub counts `n` subscribers there.
async fn join(p: &Proxy, accepted: &mut Accepted, channel: &str, n: usize) -> (ClientWs, ServerWs) {
    let c = connect(p.http, "/ws").await;
    let (_, mut s) = accepted.next().await;
    control(&mut s, json!({"type": "subscribe", "channel": channel})).await;
    subscribed(p, channel, n).await;
    (c, s)
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

#[tokio::test]
async fn every_message_kind_reaches_the_client() {
    let (p, _b, mut accepted) = grip_backend().await;
    let (mut c, _s) = join(&p, &mut accepted, "kinds", 1).await;
    let items: Vec<_> = [
        json!({"content": "plain text"}),
        json!({"content-bin": "AAEC/w=="}),
        json!({"type": "binary", "content": "bin from text"}),
        json!({"type": "text", "content-bin": "aGk="}),
        json!({"type": "ping", "content": "pp"}),
        json!({"type": "pong", "content": "po"}),
        json!({"content": "last"}),
    ]
    .into_iter()
    .map(|f| json!({"channel": "kinds", "formats": {"ws-message": f}}))
    .collect();
    p.publish(json!(items)).await;
    assert_eq!(
        until(&mut c, &text("last")).await,
        vec![
            text("plain text"),
            binary(b"\x00\x01\x02\xff"),
            binary(b"bin from text"),
            text("hi"),
            Message::Ping(b"pp".to_vec().into()),
            Message::Pong(b"po".to_vec().into()),
            text("last"),
        ]
    );
}

#[tokio::test]
async fn close_action_with_code_and_reason() {
    let (p, _b, mut accepted) = grip_backend().await;
    let (mut c, mut s) = join(&p, &mut accepted, "cl", 1).await;
    publish_ws(&p, "cl", json!({"content": "before close"})).await;
    publish_ws(
        &p,
        "cl",
        json!({"action": "close", "code": 4010, "reason": "bye now"}),
    )
    .await;
    assert_eq!(next_msg(&mut c).await, text("before close"));
    assert_eq!(next_msg(&mut c).await, close(4010, "bye now"));
    // the backend side is closed without a code
    assert_eq!(next_msg(&mut s).await, Message::Close(None));
}

#[tokio::test]
async fn close_action_without_code() {
    let (p, _b, mut accepted) = grip_backend().await;
    let (mut c, _s) = join(&p, &mut accepted, "cl0", 1).await;
    publish_ws(&p, "cl0", json!({"action": "close"})).await;
    // 1.36's transport sends 1000 with an empty reason (spec §5.5, §11.2)
    assert_eq!(next_msg(&mut c).await, close(1000, ""));
}

#[tokio::test]
async fn every_subscriber_gets_every_item_in_order() {
    let (p, _b, mut accepted) = grip_backend().await;
    let mut clients = Vec::new();
    for n in 1..=4 {
        clients.push(join(&p, &mut accepted, "fan", n).await);
    }
    // one publish with many items, then many publishes with one each
    let batch: Vec<_> = (0..10)
        .map(|i| json!({"channel": "fan", "formats": {"ws-message": {"content": format!("b{i}")}}}))
        .collect();
    p.publish(json!(batch)).await;
    for i in 0..10 {
        publish_ws(&p, "fan", json!({"content": format!("s{i}")})).await;
    }
    let want: Vec<Message> = (0..10)
        .map(|i| text(&format!("b{i}")))
        .chain((0..10).map(|i| text(&format!("s{i}"))))
        .collect();
    for (c, _) in &mut clients {
        assert_eq!(until(c, &text("s9")).await, want);
    }
    // a socket that leaves is unsubscribed; the others carry on
    let (mut gone, _) = clients.pop().unwrap();
    gone.close(None).await.unwrap();
    drop(gone);
    subscribed(&p, "fan", 3).await;
    publish_ws(&p, "fan", json!({"content": "after leave"})).await;
    for (c, _) in &mut clients {
        assert_eq!(next_msg(c).await, text("after leave"));
    }
}

#[tokio::test]
async fn http_stream_and_websocket_subscribers_share_a_channel() {
    let (p, b, mut accepted) = grip_backend().await;
    b.fixed("/stream", || Reply::stream_hold("mixed", "open\n"));
    let mut http = RawClient::get(p.http, "/stream").await;
    http.read_until_contains(b"open\n").await;
    let (mut ws, mut s) = join(&p, &mut accepted, "mixed", 2).await;
    let both = |n: &str| {
        json!({"channel": "mixed", "formats": {
            "http-stream": {"content": format!("{n}\n")},
            "ws-message": {"content": n},
        }})
    };
    p.publish(json!([
        both("one"),
        {"channel": "mixed", "formats": {"http-stream": {"content": "http only\n"}}},
        {"channel": "mixed", "formats": {"ws-message": {"content": "ws only"}}},
        both("two"),
    ]))
    .await;
    assert_eq!(
        http.read_until_contains(b"two\n").await,
        b"open\none\nhttp only\ntwo\n"
    );
    assert_eq!(
        until(&mut ws, &text("two")).await,
        vec![text("one"), text("ws only"), text("two")]
    );
    // published messages are not sent to the backend
    ws.send(text("marker")).await.unwrap();
    assert_eq!(next_msg(&mut s).await, text("marker"));
}

#[tokio::test]
async fn publishes_and_backend_messages_interleave_in_order() {
    let (p, _b, mut accepted) = grip_backend().await;
    let (mut c, mut s) = join(&p, &mut accepted, "mix2", 1).await;
    s.send(text("m:from backend 1")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("from backend 1"));
    publish_ws(&p, "mix2", json!({"content": "published"})).await;
    assert_eq!(next_msg(&mut c).await, text("published"));
    s.send(text("m:from backend 2")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("from backend 2"));
}
