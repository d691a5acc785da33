//! Stream holds (`Grip-Hold: stream`): initial response, published items,
//! close, several channels and subscribers, instructions in headers or JSON.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{request, Backend, Proxy, RawClient, Reply};

async fn open(p: &Proxy, path: &str, initial: &[u8]) -> RawClient {
    let mut c = RawClient::get(p.http, path).await;
    assert_eq!(c.read_until_contains(initial).await, initial);
    c
}

/// Waits until the hub has `n` subscribers on `channel`.
async fn subscribed(p: &Proxy, channel: &str, n: usize) {
    for _ in 0..500 {
        if p.app.context().hub.subscribers(channel) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{channel} never reached {n} subscribers");
}

#[tokio::test]
async fn initial_response_then_items_in_order() {
    let b = Backend::start().await;
    b.fixed("/s", || {
        Reply::stream_hold("s1", "welcome\n")
            .header("X-Initial", "yes")
            .header("Content-Length", "8")
            .header("Grip-Foo", "bar")
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = open(&p, "/s", b"welcome\n").await;
    assert_eq!(c.status, Some(200));
    assert_eq!(c.header("x-initial"), Some("yes"));
    assert_eq!(c.header("transfer-encoding"), Some("chunked"));
    assert!(c.header("content-length").is_none());
    assert!(c.header("grip-hold").is_none() && c.header("grip-foo").is_none());
    assert!(!c.complete);
    p.publish_stream("s1", "one\n").await;
    let items: Vec<_> = (0..10)
        .map(|i| json!({"channel": "s1", "formats": {"http-stream": {"content": format!("part {i}\n")}}}))
        .collect();
    p.publish(json!(items)).await;
    let want: Vec<u8> = b"welcome\none\n"
        .iter()
        .copied()
        .chain((0..10).flat_map(|i| format!("part {i}\n").into_bytes()))
        .collect();
    assert_eq!(c.read_until_contains(b"part 9\n").await, want);
}

#[tokio::test]
async fn channels_from_one_or_several_headers_and_isolation() {
    let b = Backend::start().await;
    b.fixed("/one", || Reply::stream_hold("a1, b1", "w\n"));
    b.fixed("/two", || {
        Reply::text(200, "w\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "a2")
            .header("Grip-Channel", "b2")
    });
    let p = Proxy::to(&b.target()).await;
    let mut one = open(&p, "/one", b"w\n").await;
    let mut two = open(&p, "/two", b"w\n").await;
    p.publish_stream("other", "not for you\n").await;
    p.publish_stream("b1", "on b1\n").await;
    p.publish_stream("a1", "on a1\n").await;
    p.publish_stream("b2", "on b2\n").await;
    p.publish_stream("a2", "on a2\n").await;
    assert_eq!(
        one.read_until_contains(b"on a1\n").await,
        b"w\non b1\non a1\n"
    );
    assert_eq!(
        two.read_until_contains(b"on a2\n").await,
        b"w\non b2\non a2\n"
    );
}

#[tokio::test]
async fn close_action_ends_the_body_and_keeps_the_connection() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("c1", "w\n"));
    b.fixed("/after", || Reply::text(200, "after\n"));
    let p = Proxy::to(&b.target()).await;
    let mut c = open(&p, "/s", b"w\n").await;
    p.publish_stream("c1", "last\n").await;
    p.publish(json!([{"channel": "c1", "formats": {"http-stream": {"action": "close"}}}]))
        .await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"w\nlast\n");
    assert!(c.complete);
    assert_eq!(p.app.context().hub.subscribers("c1"), 0);
    c.send_request("GET", "/after", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"after\n");
}

#[tokio::test]
async fn every_subscriber_gets_every_item_and_leaving_unsubscribes() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("m1", "w\n"));
    let p = Proxy::to(&b.target()).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(open(&p, "/s", b"w\n").await);
    }
    let gone = clients.pop().unwrap();
    subscribed(&p, "m1", 4).await;
    drop(gone);
    for _ in 0..500 {
        if p.app.context().hub.subscribers("m1") == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        p.app.context().hub.subscribers("m1"),
        3,
        "the subscription left with the client"
    );
    p.publish_stream("m1", "x1\n").await;
    p.publish_stream("m1", "x2\n").await;
    for c in &mut clients {
        assert_eq!(c.read_until_contains(b"x2\n").await, b"w\nx1\nx2\n");
    }
}

#[tokio::test]
async fn content_bin_status_and_post_holds() {
    let b = Backend::start().await;
    b.fixed("/s", || {
        Reply::stream_hold("cb", "w\n").header("Grip-Status", "299 Custom Reason")
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::open(p.http, "POST", "/s", &[], b"subscribe me").await;
    c.read_until_contains(b"w\n").await;
    assert_eq!((c.status, c.reason.as_str()), (Some(299), "Custom Reason"));
    assert_eq!(b.wait_requests("/s", 1).await[0].body, "subscribe me");
    p.publish(json!([{"channel": "cb", "formats": {"http-stream": {"content-bin": "AAEC/w=="}}}]))
        .await;
    assert_eq!(
        c.read_until(|b| b.len() >= 6, Duration::from_secs(5)).await,
        b"w\n\x00\x01\x02\xff"
    );
}

#[tokio::test]
async fn grip_instruct_body() {
    let b = Backend::start().await;
    b.fixed("/gi", || {
        Reply::new(200).header("Content-Type", "application/grip-instruct").body(
            json!({"hold": {"mode": "stream", "channels": [{"name": "gi"}]},
                   "response": {"code": 200, "headers": {"Content-Type": "text/plain", "X-Instruct": "yes"},
                                "body": "instruct body\n"}})
            .to_string(),
        )
    });
    b.fixed("/bad", || {
        Reply::new(200)
            .header("Content-Type", "application/grip-instruct")
            .body("{not json")
    });
    b.fixed("/bad201", || {
        Reply::new(201)
            .header("Content-Type", "application/grip-instruct")
            .body("{}")
    });
    b.fixed("/badhold", || {
        Reply::text(200, "x").header("Grip-Hold", "bogus")
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = open(&p, "/gi", b"instruct body\n").await;
    assert_eq!(c.header("x-instruct"), Some("yes"));
    p.publish_stream("gi", "more\n").await;
    assert_eq!(
        c.read_until_contains(b"more\n").await,
        b"instruct body\nmore\n"
    );
    for path in ["/bad", "/bad201", "/badhold"] {
        let r = request(p.http, "GET", path, &[], b"").await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (502, "Error while proxying to origin.\n"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn debug_routes_explain_bad_instructions() {
    let b = Backend::start().await;
    b.fixed("/ka", || {
        Reply::stream_hold("d", "x").header("Grip-Keep-Alive", "x; mode=sometimes")
    });
    let p = Proxy::builder()
        .route(&format!("*,debug {}", b.target()))
        .start()
        .await;
    let r = request(p.http, "GET", "/ka", &[], b"").await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.text(),
        "Failed to parse accept instructions: no such Grip-Keep-Alive mode 'sometimes'\n"
    );
}

#[tokio::test]
async fn large_initial_bodies() {
    let b = Backend::start().await;
    b.fixed("/big-stream", || {
        Reply::stream_hold("big", &"s".repeat(150_000))
    });
    b.fixed("/big-response", || {
        Reply::response_hold("big", &"r".repeat(150_000))
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/big-stream").await;
    let got = c
        .read_until(|b| b.len() >= 150_000, Duration::from_secs(5))
        .await;
    assert_eq!(got.len(), 150_000);
    p.publish_stream("big", "tail\n").await;
    assert!(c.read_until_contains(b"tail\n").await.ends_with(b"stail\n"));
    let r = request(p.http, "GET", "/big-response", &[], b"").await;
    assert_eq!(r.status, 502);
    // the refusal leaves the client connection usable, as in 1.36
    let mut c = RawClient::get(p.http, "/big-response").await;
    c.read_head().await;
    assert_eq!(c.status, Some(502));
    assert!(c.header("connection").is_none());
    c.read_to_end(Duration::from_secs(5)).await;
    c.send_request("GET", "/big-response", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.status, Some(502));
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped() {
    let b = Backend::start().await;
    b.fixed("/many", || Reply::stream_hold("c0, c1, c2, c3", "w\n"));
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| c.connection_subscription_max = 2)
        .start()
        .await;
    let mut c = open(&p, "/many", b"w\n").await;
    assert_eq!(p.app.context().hub.subscribers("c1"), 1);
    assert_eq!(p.app.context().hub.subscribers("c2"), 0);
    p.publish_stream("c3", "no\n").await;
    p.publish_stream("c1", "yes\n").await;
    assert_eq!(c.read_until_contains(b"yes\n").await, b"w\nyes\n");
}

#[tokio::test]
async fn route_prefix_is_added_to_channels() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("chan", "w\n"));
    let p = Proxy::builder()
        .route(&format!("*,prefix=app1- {}", b.target()))
        .start()
        .await;
    let mut c = open(&p, "/s", b"w\n").await;
    p.publish_stream("chan", "unprefixed\n").await;
    p.publish_stream("app1-chan", "prefixed\n").await;
    assert_eq!(c.read_until_contains(b"prefixed\n").await, b"w\nprefixed\n");
}

#[tokio::test]
async fn no_content_stream_hold_sends_the_head_alone() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = Backend::start().await;
    b.fixed("/nc", || {
        Reply::new(204)
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "nc")
    });
    b.fixed("/after", || Reply::text(200, "after\n"));
    let p = Proxy::to(&b.target()).await;
    let mut s = tokio::net::TcpStream::connect(p.http).await.unwrap();
    s.write_all(b"GET /nc HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    subscribed(&p, "nc", 1).await;
    // published content has nowhere to go (1.36 drops it); close ends the
    // hold and the connection serves the next request with no stray bytes
    p.publish_stream("nc", "dropped\n").await;
    p.publish(json!([{"channel": "nc", "formats": {"http-stream": {"action": "close"}}}]))
        .await;
    p.unsubscribed("nc").await;
    s.write_all(b"GET /after HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"after\n") {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
    let (first, second) = text.split_once("\r\n\r\n").unwrap();
    assert!(!first.to_ascii_lowercase().contains("transfer-encoding"));
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
}

#[tokio::test]
async fn prev_id_without_next_link_ends_at_once_with_content_length() {
    let b = Backend::start().await;
    b.fixed("/pv", || {
        Reply::text(200, "hi\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "pv; prev-id=1")
    });
    b.fixed("/after", || Reply::text(200, "after\n"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/pv").await;
    c.read_head().await;
    assert_eq!(c.header("content-length"), Some("3"));
    assert!(c.header("transfer-encoding").is_none());
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"hi\n");
    // 1.36 keeps the connection
    c.send_request("GET", "/after", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"after\n");
}
