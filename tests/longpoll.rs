//! Response holds (long-polling): the first published `http-response`
//! answers; otherwise the held response is sent at the timeout. Timing tests
//! run on tokio's paused clock, so they take no real time.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Backend, Proxy, RawClient, Reply};
use tokio::time::Instant;

async fn held(p: &Proxy, channel: &str, n: usize) {
    for _ in 0..1000 {
        if p.app.context().hub.subscribers(channel) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{channel} never had {n} subscribers");
}

fn lp(channel: &'static str) -> impl Fn(support::Recorded) -> std::future::Ready<Reply> + Clone {
    move |_| {
        std::future::ready(
            Reply::response_hold(channel, "original body\n")
                .header("X-Original", "orig")
                .header("X-Override", "from-backend"),
        )
    }
}

#[tokio::test]
async fn published_response_overlays_the_held_one() {
    let b = Backend::start().await;
    b.route("/lp", lp("lp1"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/lp").await;
    held(&p, "lp1", 1).await;
    p.publish(json!([{"channel": "lp1", "formats": {"http-response": {
        "code": 202, "reason": "Accepted Here", "headers": {"X-Override": "from-publish", "Grip-Foo": "x"},
        "body": "pushed body\n"}}}]))
        .await;
    c.read_head().await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"pushed body\n"
    );
    assert_eq!((c.status, c.reason.as_str()), (Some(202), "Accepted Here"));
    assert_eq!(c.header("x-original"), Some("orig"));
    assert_eq!(c.header("content-type"), Some("text/plain"));
    assert_eq!(c.header("x-override"), Some("from-publish"));
    assert_eq!(c.header("content-length"), Some("12"));
    assert!(c.header("grip-foo").is_none() && c.header("grip-hold").is_none());
    assert_eq!(p.app.context().hub.subscribers("lp1"), 0);
}

#[tokio::test]
async fn published_framing_headers_are_dropped_and_expose_headers_removes() {
    let b = Backend::start().await;
    b.route("/lp", lp("lp1x"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/lp").await;
    held(&p, "lp1x", 1).await;
    // 1.36: the item's Connection and Transfer-Encoding never reach the
    // client, and Grip-Expose-Headers names headers to take out
    p.publish(json!([{"channel": "lp1x", "formats": {"http-response": {
        "headers": [["Transfer-Encoding", "chunked"], ["Connection", "close"],
                    ["Grip-Expose-Headers", "X-Original, x-gone"], ["X-Gone", "1"], ["X-Kept", "2"]],
        "body": "pushed\n"}}}]))
        .await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"pushed\n");
    assert_eq!(c.header("content-length"), Some("7"));
    assert_eq!(c.header("x-kept"), Some("2"));
    assert_eq!(c.header("x-override"), Some("from-backend"));
    for gone in ["transfer-encoding", "connection", "x-original", "x-gone"] {
        assert!(c.header(gone).is_none(), "{gone} was sent");
    }
}

#[tokio::test]
async fn every_subscriber_answers_and_stream_items_are_ignored() {
    let b = Backend::start().await;
    b.route("/lp", lp("lp2"));
    let p = Proxy::to(&b.target()).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(RawClient::get(p.http, "/lp").await);
    }
    held(&p, "lp2", 3).await;
    p.publish_stream("lp2", "stream content\n").await;
    p.publish(json!([{"channel": "lp2", "formats": {"http-response": {"body-bin": "AAEC/w=="}}}]))
        .await;
    for c in &mut clients {
        c.read_head().await;
        assert_eq!(
            c.read_to_end(Duration::from_secs(5)).await,
            b"\x00\x01\x02\xff"
        );
        assert_eq!(c.status, Some(200));
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_sends_the_held_response_and_is_at_least_5s() {
    let b = Backend::start().await;
    b.fixed("/t30", || {
        Reply::response_hold("t1", "nothing yet\n").header("Grip-Timeout", "30")
    });
    b.fixed("/t1", || {
        Reply::response_hold("t2", "timed out\n").header("Grip-Timeout", "1")
    });
    b.fixed("/tdef", || Reply::response_hold("t3", "default\n"));
    let p = Proxy::to(&b.target()).await;
    for (path, secs, body) in [
        ("/t30", 30, "nothing yet\n"),
        ("/t1", 5, "timed out\n"),
        ("/tdef", 55, "default\n"),
    ] {
        let t0 = Instant::now();
        let mut c = RawClient::get(p.http, path).await;
        assert_eq!(
            c.read_to_end(Duration::from_secs(120)).await,
            body.as_bytes()
        );
        // like 1.36, the channel's first subscription re-requests the hold
        // after a second, which restarts its timeout
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_secs(secs + 1) && elapsed < Duration::from_secs(secs + 2),
            "{path}: {elapsed:?}"
        );
        assert_eq!(b.requests(path).len(), 2);
        assert!(c.header("grip-timeout").is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn without_first_subscription_updates_the_timeout_is_exact() {
    let b = Backend::start().await;
    b.fixed("/t", || {
        Reply::response_hold("t4", "timed out\n").header("Grip-Timeout", "7")
    });
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| c.update_on_first_subscription = false)
        .start()
        .await;
    let t0 = Instant::now();
    let mut c = RawClient::get(p.http, "/t").await;
    assert_eq!(c.read_to_end(Duration::from_secs(20)).await, b"timed out\n");
    let elapsed = t0.elapsed();
    assert!(
        elapsed >= Duration::from_secs(7) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    assert_eq!(b.requests("/t").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn items_published_before_the_hold_are_not_delivered() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("early", "no news\n").header("Grip-Timeout", "5")
    });
    let p = Proxy::to(&b.target()).await;
    p.publish(json!([{"channel": "early", "formats": {"http-response": {"body": "too early\n"}}}]))
        .await;
    let mut c = RawClient::get(p.http, "/lp").await;
    assert_eq!(c.read_to_end(Duration::from_secs(10)).await, b"no news\n");
}

#[tokio::test]
async fn the_connection_is_kept_alive_after_the_answer() {
    let b = Backend::start().await;
    b.route("/lp", lp("lp4"));
    b.fixed("/next", || Reply::text(200, "next\n"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/lp").await;
    held(&p, "lp4", 1).await;
    p.publish(json!([{"channel": "lp4", "formats": {"http-response": {"body": "one\n"}}}]))
        .await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"one\n");
    c.send_request("GET", "/next", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"next\n");
}

#[tokio::test]
async fn a_client_that_leaves_unsubscribes() {
    let b = Backend::start().await;
    b.route("/lp", lp("lp5"));
    let p = Proxy::to(&b.target()).await;
    let c = RawClient::get(p.http, "/lp").await;
    held(&p, "lp5", 1).await;
    drop(c);
    for _ in 0..500 {
        if p.app.context().hub.subscribers("lp5") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("subscription outlived the client");
}
