//! Keep-alives and SSE on stream holds. Timing runs on tokio's paused clock:
//! gaps are measured exactly, with no real waiting.

mod support;

use std::time::Duration;

use support::{Backend, Proxy, RawClient, Reply};
use tokio::time::Instant;

fn ka_hold(
    channel: &'static str,
    ka: &'static str,
) -> impl Fn(support::Recorded) -> std::future::Ready<Reply> + Clone {
    move |_| {
        std::future::ready(Reply::stream_hold(channel, "start\n").header("Grip-Keep-Alive", ka))
    }
}

/// Times at which each `needle` arrived (from the client's arrival log).
fn arrivals(c: &RawClient, needle: &[u8]) -> Vec<Instant> {
    c.arrivals
        .iter()
        .filter(|(_, d)| d.windows(needle.len()).any(|w| w == needle))
        .map(|(t, _)| *t)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn keep_alive_fires_at_timeout_minus_jitter() {
    let b = Backend::start().await;
    b.route("/ka", ka_hold("k1", "ping\\n; format=cstring; timeout=2"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/ka").await;
    c.read_until_contains(b"start\n").await;
    let t0 = Instant::now();
    let body = c
        .read_until(
            |b| b.ends_with(b"ping\nping\nping\nping\n"),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(body, b"start\nping\nping\nping\nping\n");
    let mut times = vec![t0];
    times.extend(arrivals(&c, b"ping\n"));
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap > Duration::from_secs(1) && gap <= Duration::from_secs(2),
            "gap {gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn raw_format_is_the_default() {
    let b = Backend::start().await;
    b.route("/ka", ka_hold("k2", "KA; timeout=1"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/ka").await;
    let body = c
        .read_until(|b| b.ends_with(b"KAKA"), Duration::from_secs(10))
        .await;
    assert_eq!(body, b"start\nKAKA");
}

#[tokio::test(start_paused = true)]
async fn idle_mode_is_suppressed_by_traffic() {
    let b = Backend::start().await;
    b.route("/ka", ka_hold("k3", "ping\\n; format=cstring; timeout=2"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/ka").await;
    c.read_until_contains(b"start\n").await;
    for i in 0..8 {
        p.publish_stream("k3", &format!("m{i}\n")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let body = c.read_until_contains(b"m7\n").await;
    let want: Vec<u8> = b"start\n"
        .iter()
        .copied()
        .chain((0..8).flat_map(|i| format!("m{i}\n").into_bytes()))
        .collect();
    assert_eq!(body, want, "no keep-alive while items flow");
    let last = Instant::now();
    let body = c
        .read_until(|b| b.ends_with(b"ping\n"), Duration::from_secs(5))
        .await;
    assert!(body.ends_with(b"m7\nping\n"));
    assert!(arrivals(&c, b"ping\n")[0] - last <= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn interval_mode_fires_despite_traffic() {
    let b = Backend::start().await;
    b.route(
        "/ka",
        ka_hold("k4", "ping\\n; format=cstring; timeout=2; mode=interval"),
    );
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/ka").await;
    c.read_until_contains(b"start\n").await;
    for i in 0..10 {
        p.publish_stream("k4", &format!("m{i}\n")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let body = c.read_until_contains(b"m9\n").await;
    let pings = body.windows(5).filter(|w| w == b"ping\n").count();
    assert!(pings >= 2, "{}", String::from_utf8_lossy(&body));
    let items: Vec<u8> = String::from_utf8(body)
        .unwrap()
        .replace("ping\n", "")
        .into_bytes();
    let want: Vec<u8> = b"start\n"
        .iter()
        .copied()
        .chain((0..10).flat_map(|i| format!("m{i}\n").into_bytes()))
        .collect();
    assert_eq!(items, want);
}

/// Splits an SSE stream into (event, id, data) triples, as EventSource does.
fn sse_events(body: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let (mut event, mut id, mut data) = (String::new(), String::new(), Vec::new());
        let mut any = false;
        for line in block.lines() {
            if line.starts_with(':') || line.is_empty() {
                continue;
            }
            any = true;
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = value.to_owned(),
                "id" => id = value.to_owned(),
                "data" => data.push(value.to_owned()),
                _ => {}
            }
        }
        if any {
            if event.is_empty() {
                event = "message".to_owned();
            }
            out.push((event, id, data.join("\n")));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn sse_events_and_comment_keep_alives() {
    let b = Backend::start().await;
    b.fixed("/events", || {
        Reply::new(200)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-cache")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "sse")
            .header("Grip-Keep-Alive", ":\\n\\n; format=cstring; timeout=20")
            .body("event: hello\ndata: start\n\n")
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::open(
        p.http,
        "GET",
        "/events",
        &[("Accept", "text/event-stream")],
        b"",
    )
    .await;
    c.read_until_contains(b"data: start\n\n").await;
    assert_eq!(c.header("content-type"), Some("text/event-stream"));
    assert_eq!(c.header("cache-control"), Some("no-cache"));
    p.publish_stream("sse", "event: update\nid: 7\ndata: {\"n\": 1}\n\n")
        .await;
    p.publish_stream("sse", "data: line one\ndata: line two\n\n")
        .await;
    let body = c.read_until_contains(b"line two\n\n").await;
    let body = c
        .read_until(|b| b.ends_with(b":\n\n"), Duration::from_secs(25))
        .await
        .max(body);
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("\n\n:\n\n"), "{text:?}");
    assert_eq!(
        sse_events(&text),
        vec![
            ("hello".into(), "".into(), "start".into()),
            ("update".into(), "7".into(), "{\"n\": 1}".into()),
            ("message".into(), "".into(), "line one\nline two".into()),
        ]
    );
}
