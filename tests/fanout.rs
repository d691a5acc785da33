//! Fan-out at scale: 1,000 stream subscribers each get every item in order;
//! a subscriber that stops reading is disconnected and counted without
//! holding anyone else up.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Backend, Proxy, RawClient, Reply};

async fn subscribers(p: &Proxy, channel: &str, n: usize) {
    for _ in 0..2000 {
        if p.app.context().hub.subscribers(channel) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{channel}: expected {n} subscribers, have {}",
        p.app.context().hub.subscribers(channel)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_get_every_item_in_order() {
    const SUBS: usize = 1000;
    const ROUNDS: usize = 10;
    const PER_PUBLISH: usize = 5;
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("fan", "ready\n"));
    let p = Proxy::to(&b.target()).await;
    let mut opening = Vec::new();
    for _ in 0..SUBS {
        let addr = p.http;
        opening.push(tokio::spawn(async move {
            let mut c = RawClient::get(addr, "/s").await;
            assert_eq!(c.read_until_contains(b"ready\n").await, b"ready\n");
            c
        }));
    }
    let mut clients = Vec::new();
    for o in opening {
        clients.push(o.await.unwrap());
    }
    subscribers(&p, "fan", SUBS).await;
    let mut want = b"ready\n".to_vec();
    for r in 0..ROUNDS {
        let items: Vec<_> = (0..PER_PUBLISH)
            .map(|i| {
                let text = format!("item {}\n", r * PER_PUBLISH + i);
                want.extend_from_slice(text.as_bytes());
                json!({"channel": "fan", "formats": {"http-stream": {"content": text}}})
            })
            .collect();
        p.publish(json!(items)).await;
    }
    let last = format!("item {}\n", ROUNDS * PER_PUBLISH - 1).into_bytes();
    for (i, c) in clients.iter_mut().enumerate() {
        let got = c.read_until_contains(&last).await;
        assert!(
            got == want,
            "subscriber {i} got {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    let stats = p.app.context().hub.stats();
    assert_eq!(stats.delivered, (SUBS * ROUNDS * PER_PUBLISH) as u64);
    assert_eq!(stats.overflowed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_others_keep_up() {
    const ITEMS: usize = 400;
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("slow", "ready\n"));
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| c.session_queue_max = 100)
        .start()
        .await;
    let mut slow = RawClient::get(p.http, "/s").await;
    slow.read_until_contains(b"ready\n").await;
    let mut fast = RawClient::get(p.http, "/s").await;
    fast.read_until_contains(b"ready\n").await;
    subscribers(&p, "slow", 2).await;
    let payload = "x".repeat(64 * 1024);
    // publish in rounds, each once the reading client has the previous one:
    // the stalled client never holds the reading one back
    for round in 0..ITEMS / 10 {
        let items: Vec<_> = (0..10)
            .map(|i| {
                let content = format!("{payload}#{}\n", round * 10 + i);
                json!({"channel": "slow", "formats": {"http-stream": {"content": content}}})
            })
            .collect();
        p.publish(json!(items)).await;
        let last = format!("#{}\n", round * 10 + 9);
        let body = fast
            .read_until(|b| b.ends_with(last.as_bytes()), Duration::from_secs(10))
            .await;
        assert!(
            body.ends_with(last.as_bytes()),
            "round {round} did not arrive"
        );
    }
    let text = String::from_utf8(fast.body.clone()).unwrap();
    let numbers: Vec<usize> = text
        .split('#')
        .skip(1)
        .map(|s| s.trim_end_matches(|c| c != '\n').trim().parse().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..ITEMS).collect::<Vec<_>>(),
        "the reading client got everything in order"
    );
    subscribers(&p, "slow", 1).await;
    assert!(p.app.context().hub.stats().overflowed >= 1);
    // the stalled client finds its connection closed once it reads again
    assert!(slow.closed_within(Duration::from_secs(10)).await);
}
