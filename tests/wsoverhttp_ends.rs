//! WebSocket-over-HTTP: how the backend side ends when the proxy, not the
//! client or the backend, ends it (a GRIP `detach`, an invalid control
//! message, a client message too big to relay). Each case was compared
//! with Pushpin 1.36.

mod support;

// shared with tests/wsoverhttp.rs, which uses all of it
#[allow(dead_code)]
#[path = "wsoverhttp/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use fixtures::*;
use futures_util::SinkExt;
use pushpin::wsoverhttp::events::Event;
use serde_json::json;
use support::Backend;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn detach_sends_close_to_the_backend_and_keeps_the_client() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => grip_open(&[
            Event::text(r#"c:{"type":"subscribe","channel":"d"}"#),
            Event::text(r#"c:{"type":"detach"}"#),
        ]),
        // the backend's answer to the CLOSE is not relayed
        _ => events(&[Event::text("m:ignored"), Event::close(Some(4000), "")]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    let all = log.wait(2, WAIT).await;
    assert_eq!(&all[1].req.body[..], b"CLOSE\r\n");
    subscribed(&p, "d", 1).await;
    p.publish(json!([{"channel": "d", "formats": {"ws-message": {"content": "still here"}}}]))
        .await;
    assert_eq!(next_text(&mut ws).await, "still here");
    // client messages go nowhere once detached
    send_text(&mut ws, "anyone?").await;
    log.quiet(2, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_invalid_control_message_drops_the_client_and_disconnects_the_backend() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => grip_open(&[Event::text(r#"c:{"type":"nope"}"#)]),
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    let got = drain(&mut ws, WAIT).await;
    assert!(got.is_empty(), "dropped without a close: {got:?}");
    let all = log.wait(2, WAIT).await;
    assert_eq!(&all[1].req.body[..], b"DISCONNECT\r\n");
    assert_eq!(
        all[1].req.header("connection-id"),
        all[0].req.header("connection-id")
    );
    log.quiet(2, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_client_message_of_200000_bytes_is_relayed() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, &"y".repeat(200_000)).await;
    let all = log.wait(2, WAIT).await;
    assert!(all[1].req.body.starts_with(b"TEXT 30d40\r\nyyy"));
}

#[tokio::test]
async fn a_client_message_over_200000_bytes_drops_the_client() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    // in fragments, so the limit is on the message, not the frame
    let part = vec![7u8; 100_001];
    ws.send(Message::Frame(frame(false, true, &part)))
        .await
        .unwrap();
    let _ = ws.send(Message::Frame(frame(true, false, &part))).await;
    let got = drain(&mut ws, WAIT).await;
    assert!(got.is_empty(), "dropped without a close: {got:?}");
    // 1.36 tells the backend nothing in this case
    log.quiet(1, Duration::from_millis(300)).await;
}

/// A binary data frame: the first of a message or a continuation.
fn frame(
    fin: bool,
    first: bool,
    data: &[u8],
) -> tokio_tungstenite::tungstenite::protocol::frame::Frame {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let op = if first { Data::Binary } else { Data::Continue };
    Frame::message(data.to_vec(), OpCode::Data(op), fin)
}
