//! Client connections that do not send a request are closed after 60 s, as
//! Pushpin 1.36 closes them; held requests are not affected. Runs on tokio's
//! paused clock: the 60 s pass without real waiting.

mod support;

use std::time::Duration;

use support::{Backend, Proxy, RawClient, Reply};
use tokio::time::Instant;

const IDLE: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_after_60s() {
    let b = Backend::start().await;
    let p = Proxy::to(&b.target()).await;
    let t0 = Instant::now();
    let mut c = RawClient::connect(p.http).await;
    assert!(!c.closed_within(IDLE - Duration::from_secs(1)).await);
    assert!(c.closed_within(Duration::from_secs(2)).await);
    assert!(t0.elapsed() >= IDLE);
    assert!(c.status.is_none(), "closed without an answer");
}

#[tokio::test(start_paused = true)]
async fn a_request_head_trickling_in_does_not_keep_the_connection() {
    let b = Backend::start().await;
    let p = Proxy::to(&b.target()).await;
    let t0 = Instant::now();
    let mut c = RawClient::connect(p.http).await;
    c.send_raw(b"GET / HTTP/1.1\r\n").await;
    for i in 0..5 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        c.send_raw(format!("X-Slow-{i}: 1\r\n").as_bytes()).await;
    }
    assert!(c.closed_within(Duration::from_secs(15)).await);
    let waited = t0.elapsed();
    assert!(
        waited >= IDLE && waited < IDLE + Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_60s_after_its_last_answer() {
    let b = Backend::start().await;
    b.fixed("/x", || Reply::text(200, "x"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::connect(p.http).await;
    // the first request comes late but within the limit
    tokio::time::sleep(Duration::from_secs(50)).await;
    c.send_request("GET", "/x", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"x");
    let answered = Instant::now();
    assert!(!c.closed_within(IDLE - Duration::from_secs(1)).await);
    assert!(c.closed_within(Duration::from_secs(2)).await);
    assert!(answered.elapsed() >= IDLE);
}

#[tokio::test(start_paused = true)]
async fn a_held_stream_is_not_an_idle_connection() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("idle-held", "open\n"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/s").await;
    c.read_until_contains(b"open\n").await;
    assert!(!c.closed_within(3 * IDLE).await);
    p.publish_stream("idle-held", "still here\n").await;
    assert_eq!(
        c.read_until_contains(b"still here\n").await,
        b"open\nstill here\n"
    );
}
