//! The built-in `test` target.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{request, Proxy, RawClient};

async fn proxy() -> Proxy {
    Proxy::builder()
        .route("*,path_beg=/testroute/ test")
        .start()
        .await
}

#[tokio::test]
async fn root_and_unknown_resources() {
    let p = proxy().await;
    let r = request(p.http, "GET", "/testroute/", &[], b"").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Hello from the Pushpin test handler!\n")
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let r = request(p.http, "GET", "/testroute/nope", &[], b"").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "no such test resource\n")
    );
}

#[tokio::test]
async fn stream_demo_on_a_channel() {
    let p = proxy().await;
    let mut c = RawClient::get(p.http, "/testroute/stream?channel=tr1").await;
    assert_eq!(
        c.read_until_contains(b"[stream opened]\n").await,
        b"[stream opened]\n"
    );
    p.publish_stream("tr1", "hello test route\n").await;
    assert_eq!(
        c.read_until_contains(b"route\n").await,
        b"[stream opened]\nhello test route\n"
    );
}

#[tokio::test(start_paused = true)]
async fn response_demo_defaults_to_channel_test() {
    let p = proxy().await;
    let mut c = RawClient::get(p.http, "/testroute/response").await;
    for _ in 0..100 {
        if p.app.context().hub.subscribers("test") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    p.publish(
        json!([{"channel": "test", "formats": {"http-response": {"body": "long-polled\n"}}}]),
    )
    .await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"long-polled\n"
    );
    // and without a publish, the demo's own body after the default 55 s
    let mut c = RawClient::get(p.http, "/testroute/response").await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(60)).await,
        b"nothing for now\n"
    );
}
