//! Automatic CORS (`aco` on a route, or `[proxy] auto_cross_origin`):
//! headers on relayed responses, preflights forwarded, headers the backend
//! set are kept, generated errors and GRIP holds (long-poll publish and
//! timeout, stream initial response) get them too. Expected values are
//! what Debian's Pushpin 1.36 sends for the same exchanges.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{request, Backend, Proxy, RawClient, Reply};

/// The response headers in order, `Name: value`.
fn header_lines(headers: &[(String, String)]) -> Vec<String> {
    headers.iter().map(|(k, v)| format!("{k}: {v}")).collect()
}

const ORIGIN: (&str, &str) = ("Origin", "https://o.example");

async fn proxy_with(b: &Backend, options: &str) -> Proxy {
    Proxy::builder()
        .route(&format!("*{options} {}", b.target()))
        .start()
        .await
}

#[tokio::test]
async fn relayed_response_gets_cors_headers() {
    let b = Backend::start().await;
    b.fixed("/plain", || {
        Reply::text(200, "hello\n")
            .header("X-Foo", "1")
            .header("Cache-Control", "no-cache")
            .header("Set-Cookie", "a=b")
    });
    let p = proxy_with(&b, ",aco").await;
    let r = request(p.http, "GET", "/plain", &[ORIGIN], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello\n");
    assert_eq!(
        header_lines(&r.headers),
        [
            "Content-Type: text/plain",
            "X-Foo: 1",
            "Cache-Control: no-cache",
            "Set-Cookie: a=b",
            "Content-Length: 6",
            "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
            "Access-Control-Expose-Headers: X-Foo, Set-Cookie",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: https://o.example",
            "Access-Control-Max-Age: 3600",
        ]
    );
    // without an Origin the answer allows any
    let r = request(p.http, "GET", "/plain", &[], b"").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn without_aco_nothing_is_added() {
    let b = Backend::start().await;
    b.fixed("/plain", || Reply::text(200, "hello\n"));
    let p = proxy_with(&b, "").await;
    let r = request(p.http, "GET", "/plain?callback=f", &[ORIGIN], b"").await;
    assert_eq!(r.body, b"hello\n");
    assert!(r
        .headers
        .iter()
        .all(|(k, _)| !k.to_ascii_lowercase().starts_with("access-control-")));
    assert_eq!(b.requests("/plain")[0].path_and_query, "/plain?callback=f");
}

#[tokio::test]
async fn preflight_goes_to_the_backend_and_its_answer_gets_cors() {
    let b = Backend::start().await;
    b.fixed("/res", || Reply::new(204).header("Allow", "GET, POST"));
    let p = proxy_with(&b, ",aco").await;
    let r = request(
        p.http,
        "OPTIONS",
        "/res",
        &[
            ORIGIN,
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "X-A, x-b"),
            ("Access-Control-Request-Headers", "X-C,,"),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        header_lines(&r.headers),
        [
            "Allow: GET, POST",
            "Access-Control-Allow-Methods: PUT",
            "Access-Control-Allow-Headers: X-A, x-b, X-C",
            "Access-Control-Expose-Headers: Allow",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: https://o.example",
            "Access-Control-Max-Age: 3600",
        ]
    );
    let seen = b.requests("/res");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "OPTIONS");
    assert_eq!(seen[0].header("access-control-request-method"), Some("PUT"));
}

#[tokio::test]
async fn cors_headers_the_backend_set_are_kept() {
    let b = Backend::start().await;
    b.fixed("/own", || {
        Reply::text(200, "x")
            .header("Access-Control-Allow-Origin", "https://fixed.example")
            .header("Access-Control-Allow-Methods", "GET")
            .header("Access-Control-Expose-Headers", "X-Only")
            .header("X-Other", "y")
    });
    let p = proxy_with(&b, ",aco").await;
    let r = request(p.http, "GET", "/own", &[ORIGIN], b"").await;
    assert_eq!(
        header_lines(&r.headers),
        [
            "Content-Type: text/plain",
            "Access-Control-Allow-Origin: https://fixed.example",
            "Access-Control-Allow-Methods: GET",
            "Access-Control-Expose-Headers: X-Only",
            "X-Other: y",
            "Content-Length: 1",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Max-Age: 3600",
        ]
    );
}

#[tokio::test]
async fn global_auto_cross_origin_applies_to_every_route() {
    let b = Backend::start().await;
    b.fixed("/plain", || Reply::text(200, "hello\n"));
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| c.auto_cross_origin = true)
        .start()
        .await;
    let r = request(p.http, "GET", "/plain", &[ORIGIN], b"").await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://o.example")
    );
    // and so does JSON-P, with the default (extended) options
    let r = request(p.http, "GET", "/plain?callback=cb", &[], b"").await;
    assert!(
        r.text().starts_with("/**/cb({\"code\": 200, "),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn generated_errors_get_cors_headers() {
    let p = Proxy::builder().route("*,aco 127.0.0.1:1").start().await;
    let r = request(p.http, "GET", "/x", &[ORIGIN], b"").await;
    assert_eq!(r.status, 502);
    assert_eq!(
        header_lines(&r.headers),
        [
            "Content-Type: text/plain",
            "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: https://o.example",
            "Access-Control-Max-Age: 3600",
            "Content-Length: 32",
        ]
    );
    assert_eq!(r.body, b"Error while proxying to origin.\n");
}

#[tokio::test]
async fn no_route_with_global_aco_gets_cors_headers() {
    let p = Proxy::builder()
        .route("only.example 127.0.0.1:1")
        .config(|c| c.auto_cross_origin = true)
        .start()
        .await;
    let r = request(p.http, "GET", "/x", &[ORIGIN], b"").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.text(), "No route for host: example.com\n");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://o.example")
    );
}

async fn held(p: &Proxy, channel: &str) {
    p.subscribed(channel, 1).await;
}

#[tokio::test]
async fn long_poll_published_response_gets_cors_headers() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("c1", "timeout\n").header("X-Timeout-H", "1")
    });
    let p = proxy_with(&b, ",aco").await;
    let mut c = RawClient::open(p.http, "GET", "/lp", &[ORIGIN], b"").await;
    held(&p, "c1").await;
    p.publish(json!([{"channel": "c1", "formats": {"http-response": {
        "code": 201, "reason": "Made", "headers": {"X-Pub": "p", "Content-Type": "text/x"},
        "body": "pub body\n"}}}]))
        .await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"pub body\n");
    assert_eq!((c.status, c.reason.as_str()), (Some(201), "Made"));
    assert_eq!(
        header_lines(&c.headers),
        [
            "X-Timeout-H: 1",
            "Content-Type: text/x",
            "X-Pub: p",
            "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
            "Access-Control-Expose-Headers: X-Timeout-H, X-Pub",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: https://o.example",
            "Access-Control-Max-Age: 3600",
            "Content-Length: 9",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn long_poll_timeout_response_gets_cors_headers() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("c2", "timeout\n")
            .header("X-Timeout-H", "1")
            .header("Grip-Timeout", "5")
    });
    let p = proxy_with(&b, ",aco").await;
    let mut c = RawClient::open(p.http, "GET", "/lp", &[ORIGIN], b"").await;
    assert_eq!(c.read_to_end(Duration::from_secs(60)).await, b"timeout\n");
    assert_eq!(c.status, Some(200));
    assert_eq!(
        header_lines(&c.headers),
        [
            "Content-Type: text/plain",
            "X-Timeout-H: 1",
            "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
            "Access-Control-Expose-Headers: X-Timeout-H",
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: https://o.example",
            "Access-Control-Max-Age: 3600",
            "Content-Length: 8",
        ]
    );
}

#[tokio::test]
async fn stream_hold_initial_response_gets_cors_headers_even_for_jsonp() {
    let b = Backend::start().await;
    b.fixed("/s", || {
        Reply::stream_hold("c3", "start\n").header("X-S", "1")
    });
    let p = proxy_with(&b, ",aco").await;
    for path in ["/s", "/s?callback=f"] {
        let mut c = RawClient::open(p.http, "GET", path, &[ORIGIN], b"").await;
        assert_eq!(c.read_until_contains(b"start\n").await, b"start\n");
        assert_eq!(
            header_lines(&c.headers),
            [
                "Content-Type: text/plain",
                "X-S: 1",
                "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
                "Access-Control-Expose-Headers: X-S",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: https://o.example",
                "Access-Control-Max-Age: 3600",
                "Transfer-Encoding: chunked",
            ],
            "{path}"
        );
        // published content is sent as it is, not wrapped
        held(&p, "c3").await;
        p.publish_stream("c3", "item\n").await;
        assert_eq!(
            c.read_until_contains(b"item\n").await,
            b"start\nitem\n",
            "{path}"
        );
        drop(c);
        p.unsubscribed("c3").await;
    }
}
