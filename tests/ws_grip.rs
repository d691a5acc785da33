//! GRIP over WebSocket passthrough: a backend that answers the handshake
//! with `Sec-WebSocket-Extensions: grip` sends control messages (`c:` +
//! JSON) and prefixed messages; the route option `sub=` subscribes
//! implicitly. Timing (keep-alive, send-delayed) runs on tokio's paused
//! clock.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::ws::{
    binary, connect_with, control, next_msg, publish_ws, recv, subscribed, text, until, ClientWs,
    ServerWs,
};
use support::{Backend, Proxy};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const GRIP: (&str, &str) = ("Sec-WebSocket-Extensions", "grip");

/// A proxy routed by `route` (`{}` stands for the backend) to a backend
/// whose `/ws` answers with `headers`; one client connected.
async fn grip_pair(route: &str, headers: &[(&str, &str)]) -> (Proxy, ClientWs, ServerWs) {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", headers);
    let p = Proxy::builder()
        .route(&route.replace("{}", &b.target()))
        .start()
        .await;
    let (c, resp) = connect_with(p.http, "/ws", &[]).await.unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    let (_, s) = accepted.next().await;
    (p, c, s)
}

async fn grip_default() -> (Proxy, ClientWs, ServerWs) {
    grip_pair("* {}", &[GRIP]).await
}

#[tokio::test]
async fn prefixed_messages_are_stripped_and_others_dropped() {
    let (_p, mut c, mut s) = grip_default().await;
    for m in [
        text("m:hello"),
        text("no prefix"),
        binary(b"m:\x00\x01"),
        binary(b"\x02raw"),
        text("M:wrong case"),
        text("m:"),
        text("m:last"),
    ] {
        s.send(m).await.unwrap();
    }
    assert_eq!(
        until(&mut c, &text("last")).await,
        vec![text("hello"), binary(b"\x00\x01"), text(""), text("last")]
    );
    // nothing is added in the other direction
    c.send(text("up")).await.unwrap();
    c.send(text("m:up")).await.unwrap();
    assert_eq!(next_msg(&mut s).await, text("up"));
    assert_eq!(next_msg(&mut s).await, text("m:up"));
}

#[tokio::test]
async fn message_prefix_parameter() {
    let (_p, mut c, mut s) = grip_pair(
        "* {}",
        &[("Sec-WebSocket-Extensions", "grip; message-prefix=\"x>\"")],
    )
    .await;
    for m in ["x>one", "m:two", "x>three"] {
        s.send(text(m)).await.unwrap();
    }
    assert_eq!(
        until(&mut c, &text("three")).await,
        vec![text("one"), text("three")]
    );
}

#[tokio::test]
async fn empty_prefix_relays_everything_but_control_messages() {
    let (p, mut c, mut s) = grip_pair(
        "* {}",
        &[("Sec-WebSocket-Extensions", "grip; message-prefix=\"\"")],
    )
    .await;
    s.send(text("plain")).await.unwrap();
    control(&mut s, json!({"type": "subscribe", "channel": "ep"})).await;
    s.send(text("m:kept")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("plain"));
    assert_eq!(next_msg(&mut c).await, text("m:kept"));
    subscribed(&p, "ep", 1).await;
}

#[tokio::test]
async fn without_the_extension_nothing_is_interpreted() {
    let (p, mut c, mut s) = grip_pair("* {}", &[]).await;
    control(&mut s, json!({"type": "subscribe", "channel": "ng"})).await;
    s.send(text("m:as is")).await.unwrap();
    assert_eq!(
        next_msg(&mut c).await,
        text(r#"c:{"channel":"ng","type":"subscribe"}"#)
    );
    assert_eq!(next_msg(&mut c).await, text("m:as is"));
    assert_eq!(p.app.context().hub.subscribers("ng"), 0);
}

#[tokio::test]
async fn subscribe_and_unsubscribe() {
    let (p, mut c, mut s) = grip_default().await;
    control(&mut s, json!({"type": "subscribe", "channel": "ga"})).await;
    control(&mut s, json!({"type": "subscribe", "channel": "gb"})).await;
    subscribed(&p, "ga", 1).await;
    subscribed(&p, "gb", 1).await;
    publish_ws(&p, "ga", json!({"content": "on ga"})).await;
    publish_ws(&p, "gb", json!({"content": "on gb"})).await;
    assert_eq!(next_msg(&mut c).await, text("on ga"));
    assert_eq!(next_msg(&mut c).await, text("on gb"));
    control(&mut s, json!({"type": "unsubscribe", "channel": "ga"})).await;
    subscribed(&p, "ga", 0).await;
    publish_ws(&p, "ga", json!({"content": "not any more"})).await;
    publish_ws(&p, "gb", json!({"content": "still gb"})).await;
    assert_eq!(next_msg(&mut c).await, text("still gb"));
}

#[tokio::test]
async fn route_prefix_applies_to_subscriptions() {
    let (p, mut c, mut s) = grip_pair("*,prefix=pre- {}", &[GRIP]).await;
    control(&mut s, json!({"type": "subscribe", "channel": "rp"})).await;
    subscribed(&p, "pre-rp", 1).await;
    assert_eq!(p.app.context().hub.subscribers("rp"), 0);
    publish_ws(&p, "pre-rp", json!({"content": "prefixed"})).await;
    assert_eq!(next_msg(&mut c).await, text("prefixed"));
}

#[tokio::test]
async fn set_meta_with_skip_self_filter() {
    let (p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "set-meta", "name": "user", "value": "alice"}),
    )
    .await;
    control(
        &mut s,
        json!({"type": "subscribe", "channel": "chat", "filters": ["skip-self"]}),
    )
    .await;
    subscribed(&p, "chat", 1).await;
    for sender in ["alice", "bob"] {
        p.publish(json!([{
            "channel": "chat",
            "meta": {"sender": sender},
            "formats": {"ws-message": {"content": format!("from {sender}")}},
        }]))
        .await;
    }
    assert_eq!(next_msg(&mut c).await, text("from bob"));
    // deleting the meta: alice's own messages come through again
    control(&mut s, json!({"type": "set-meta", "name": "user"})).await;
    control(&mut s, json!({"type": "subscribe", "channel": "sync1"})).await;
    subscribed(&p, "sync1", 1).await;
    p.publish(json!([{
        "channel": "chat",
        "meta": {"sender": "alice"},
        "formats": {"ws-message": {"content": "alice again"}},
    }]))
    .await;
    assert_eq!(next_msg(&mut c).await, text("alice again"));
}

#[tokio::test]
async fn set_meta_with_var_subst_filter() {
    let (p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "set-meta", "name": "name", "value": "Ann"}),
    )
    .await;
    control(
        &mut s,
        json!({"type": "subscribe", "channel": "greet", "filters": ["var-subst"]}),
    )
    .await;
    subscribed(&p, "greet", 1).await;
    publish_ws(&p, "greet", json!({"content": "hello %(name)s!"})).await;
    assert_eq!(next_msg(&mut c).await, text("hello Ann!"));
}

#[tokio::test]
async fn session_is_accepted_and_changes_nothing_visible() {
    let (p, mut c, mut s) = grip_default().await;
    control(&mut s, json!({"type": "session", "id": "sess-1"})).await;
    control(&mut s, json!({"type": "session"})).await;
    control(&mut s, json!({"type": "subscribe", "channel": "ss"})).await;
    s.send(text("m:after session")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("after session"));
    subscribed(&p, "ss", 1).await;
    publish_ws(&p, "ss", json!({"content": "published"})).await;
    assert_eq!(next_msg(&mut c).await, text("published"));
}

#[tokio::test]
async fn invalid_control_message_drops_the_client() {
    let (_p, mut c, mut s) = grip_default().await;
    s.send(text("c:[\"not an object\"]")).await.unwrap();
    // dropped without a close frame (1.36 does so after its 8 s ack timeout)
    match recv(&mut c).await {
        None | Some(Err(_)) => {}
        Some(Ok(m)) => panic!("expected the connection to drop, got {m:?}"),
    }
}

#[tokio::test]
async fn detach_closes_the_backend_and_keeps_the_client() {
    let (p, mut c, mut s) = grip_default().await;
    control(&mut s, json!({"type": "subscribe", "channel": "dt"})).await;
    control(&mut s, json!({"type": "detach"})).await;
    // the backend side is closed without a code
    assert_eq!(next_msg(&mut s).await, Message::Close(None));
    subscribed(&p, "dt", 1).await;
    c.send(text("to nobody")).await.unwrap();
    publish_ws(&p, "dt", json!({"content": "after detach"})).await;
    assert_eq!(next_msg(&mut c).await, text("after detach"));
}

#[tokio::test]
async fn detached_client_close_is_answered() {
    let (p, mut c, mut s) = grip_default().await;
    control(&mut s, json!({"type": "subscribe", "channel": "dtc"})).await;
    control(&mut s, json!({"type": "detach"})).await;
    assert_eq!(next_msg(&mut s).await, Message::Close(None));
    subscribed(&p, "dtc", 1).await;
    c.send(Message::Close(None)).await.unwrap();
    assert!(matches!(next_msg(&mut c).await, Message::Close(_)));
}

#[tokio::test]
async fn implicit_sub_channel_without_grip() {
    let (p, mut c, mut s) = grip_pair("* {},sub=imp1,sub=imp2", &[]).await;
    subscribed(&p, "imp1", 1).await;
    subscribed(&p, "imp2", 1).await;
    publish_ws(&p, "imp1", json!({"content": "implicit 1"})).await;
    publish_ws(&p, "imp2", json!({"content": "implicit 2"})).await;
    assert_eq!(next_msg(&mut c).await, text("implicit 1"));
    assert_eq!(next_msg(&mut c).await, text("implicit 2"));
    // relaying goes on as usual
    s.send(text("relayed")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("relayed"));
}

#[tokio::test]
async fn implicit_sub_channel_ignores_route_prefix_and_unsubscribe() {
    let (p, mut c, mut s) = grip_pair("*,prefix=pre- {},sub=imp", &[GRIP]).await;
    subscribed(&p, "imp", 1).await;
    control(&mut s, json!({"type": "unsubscribe", "channel": "imp"})).await;
    control(&mut s, json!({"type": "subscribe", "channel": "sync"})).await;
    subscribed(&p, "pre-sync", 1).await;
    assert_eq!(p.app.context().hub.subscribers("imp"), 1);
    publish_ws(&p, "imp", json!({"content": "still implicit"})).await;
    assert_eq!(next_msg(&mut c).await, text("still implicit"));
}

/// The next message and how long after `since` it arrived.
async fn timed(c: &mut ClientWs, since: Instant) -> (Message, Duration) {
    let m = tokio::time::timeout(Duration::from_secs(120), c.next())
        .await
        .expect("a message")
        .expect("open")
        .expect("no error");
    (m, since.elapsed())
}

#[tokio::test(start_paused = true)]
async fn keep_alive_idle_mode() {
    let (_p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "keep-alive", "content": "ka", "timeout": 3}),
    )
    .await;
    let mut t = Instant::now();
    for _ in 0..3 {
        let (m, gap) = timed(&mut c, t).await;
        assert_eq!(m, text("ka"));
        assert!(
            gap > Duration::from_secs(2) && gap <= Duration::from_secs(3),
            "{gap:?}"
        );
        t = Instant::now();
    }
    // traffic to the client restarts the timer
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.send(text("m:traffic")).await.unwrap();
    let (m, _) = timed(&mut c, t).await;
    assert_eq!(m, text("traffic"));
    let t = Instant::now();
    let (m, gap) = timed(&mut c, t).await;
    assert_eq!(m, text("ka"));
    assert!(
        gap > Duration::from_secs(2) && gap <= Duration::from_secs(3),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn keep_alive_interval_mode_binary_and_disabling() {
    let (_p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "keep-alive", "content-bin": "AAE=", "message-type": "binary",
               "timeout": 2, "mode": "interval"}),
    )
    .await;
    let t = Instant::now();
    // traffic every 500 ms does not hold the interval keep-alive back (in
    // idle mode none would be sent); two fire by 4 s
    for i in 0..10 {
        s.send(text(&format!("m:{i}"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let got = until(&mut c, &text("9")).await;
    let kas = got.iter().filter(|m| **m == binary(b"\x00\x01")).count();
    assert!(kas >= 2, "{got:?} after {:?}", t.elapsed());
    control(&mut s, json!({"type": "keep-alive"})).await;
    s.send(text("m:disabled")).await.unwrap();
    let got = until(&mut c, &text("disabled")).await;
    assert!(got.iter().all(|m| m.is_binary() || *m == text("disabled")));
    assert!(
        tokio::time::timeout(Duration::from_secs(60), c.next())
            .await
            .is_err(),
        "no keep-alive once disabled"
    );
}

#[tokio::test(start_paused = true)]
async fn send_delayed_after_its_timeout() {
    let (_p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "send-delayed", "content": "later", "timeout": 2}),
    )
    .await;
    let t = Instant::now();
    let (m, gap) = timed(&mut c, t).await;
    assert_eq!(m, text("later"));
    assert!(
        gap >= Duration::from_secs(2) && gap < Duration::from_millis(2100),
        "{gap:?}"
    );
    // a second one replaces the first, which goes out at once
    control(
        &mut s,
        json!({"type": "send-delayed", "content": "first", "timeout": 10}),
    )
    .await;
    control(
        &mut s,
        json!({"type": "send-delayed", "content-bin": "/w==", "message-type": "binary", "timeout": 3}),
    )
    .await;
    let t = Instant::now();
    let (m, gap) = timed(&mut c, t).await;
    assert_eq!(m, text("first"));
    assert!(gap < Duration::from_millis(100), "{gap:?}");
    let (m, gap) = timed(&mut c, t).await;
    assert_eq!(m, binary(b"\xff"));
    assert!(
        gap >= Duration::from_secs(3) && gap < Duration::from_millis(3100),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn flush_delayed_sends_now() {
    let (_p, mut c, mut s) = grip_default().await;
    control(
        &mut s,
        json!({"type": "send-delayed", "content": "soon", "timeout": 30}),
    )
    .await;
    control(&mut s, json!({"type": "flush-delayed"})).await;
    let t = Instant::now();
    let (m, gap) = timed(&mut c, t).await;
    assert_eq!(m, text("soon"));
    assert!(gap < Duration::from_millis(100), "{gap:?}");
    // flushed means gone: nothing at the original deadline
    control(&mut s, json!({"type": "flush-delayed"})).await;
    assert!(tokio::time::timeout(Duration::from_secs(60), c.next())
        .await
        .is_err());
}

#[tokio::test]
async fn grip_extension_on_the_101_is_hidden_but_other_headers_pass() {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", &[GRIP, ("Set-Cookie", "a=b"), ("X-Backend", "yes")]);
    let p = Proxy::to(&b.target()).await;
    let (mut c, resp) = connect_with(p.http, "/ws", &[]).await.unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    assert_eq!(resp.headers()["set-cookie"], "a=b");
    assert_eq!(resp.headers()["x-backend"], "yes");
    let (_, mut s) = accepted.next().await;
    s.send(text("m:ok")).await.unwrap();
    assert_eq!(next_msg(&mut c).await, text("ok"));
}
