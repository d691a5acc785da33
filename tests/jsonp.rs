//! JSON-P (with automatic cross-origin handling on): `GET` requests with
//! the callback parameter are rewritten for the backend (method, body,
//! headers from parameters) and answered as a call of the callback, in
//! basic or extended mode; unusable parameters get `400`. Expected values
//! are what Debian's Pushpin 1.36 sends for the same exchanges.

mod support;

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use support::{request, Backend, Proxy, RawClient, Recorded, Reply};

/// A backend reply describing the request it got.
fn echo(r: &Recorded) -> std::future::Ready<Reply> {
    let body = format!(
        "{} {} ct={} body={}\n",
        r.method,
        r.path_and_query,
        r.header("content-type").unwrap_or("-"),
        String::from_utf8_lossy(&r.body)
    );
    std::future::ready(
        Reply::text(200, body)
            .header("X-Echo", "1")
            .header("Cache-Control", "max-age=5"),
    )
}

async fn setup(options: &str) -> (Backend, Proxy) {
    let b = Backend::start().await;
    b.route("/e", |r| echo(&r));
    let p = Proxy::builder()
        .route(&format!("*,aco{options} {}", b.target()))
        .start()
        .await;
    (b, p)
}

/// The extended object's headers part for an echo reply of `len` bytes.
fn echo_headers(len: usize) -> String {
    format!(
        r#"{{"Cache-Control":"max-age=5","Content-Length":"{len}","Content-Type":"text/plain","X-Echo":"1"}}"#
    )
}

#[tokio::test]
async fn extended_mode_wraps_the_relayed_response() {
    let (b, p) = setup("").await;
    let r = request(
        p.http,
        "GET",
        "/e?callback=f&x=1",
        &[("Accept", "text/html")],
        b"",
    )
    .await;
    let seen = &b.requests("/e")[0];
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("GET", "/e?x=1")
    );
    assert_eq!(seen.header("accept"), Some("*/*"));
    let inner = "GET /e?x=1 ct=- body=\n";
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(
        r.text(),
        format!(
            "/**/f({{\"code\": 200, \"reason\": \"OK\", \"headers\": {}, \"body\": {}}});\n",
            echo_headers(inner.len()),
            serde_json::to_string(inner).unwrap()
        )
    );
    // the wrapper keeps only Cache-Control, and no CORS headers
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["Content-Type", "Cache-Control", "Content-Length"]);
    assert_eq!(r.header("content-type"), Some("application/javascript"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn extended_mode_carries_status_and_escapes_the_body() {
    let b = Backend::start().await;
    b.fixed("/nf", || {
        Reply::text(404, Bytes::from_static(b"a\"b\\c\x01\t\xc3\xa9\x00\n")).reason("Not Here")
    });
    let p = Proxy::builder()
        .route(&format!("*,aco {}", b.target()))
        .start()
        .await;
    let r = request(p.http, "GET", "/nf?callback=f", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "/**/f({\"code\": 404, \"reason\": \"Not Here\", \"headers\": {\"Content-Length\":\"11\",\"Content-Type\":\"text/plain\"}, \"body\": \"a\\\"b\\\\c\\u0001\\té\\u0000\\n\"});\n"
    );
}

#[tokio::test]
async fn basic_mode_with_body_parameter_posts_json() {
    let (b, p) = setup(",jsonp_mode=basic,jsonp_body=b").await;
    let r = request(
        p.http,
        "GET",
        "/e?callback=cb&b=%7B%22a%22%3A1%7D&keep",
        &[],
        b"",
    )
    .await;
    let seen = &b.requests("/e")[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path_and_query, "/e?keep");
    assert_eq!(seen.body, &b"{\"a\":1}"[..]);
    assert_eq!(seen.header("content-length"), Some("7"));
    // the backend's trailing newline is dropped inside the call
    assert_eq!(
        r.text(),
        "/**/cb(POST /e?keep ct=application/json body={\"a\":1});\n"
    );
}

#[tokio::test]
async fn method_headers_and_body_from_parameters() {
    let (b, p) = setup("").await;
    // _headers = {"X-H":"v","Host":"h"}
    let target = "/e?callback=f&_method=PUT&_body=hi%20there&_headers=%7B%22X-H%22%3A%22v%22%2C%22Host%22%3A%22h%22%7D";
    let r = request(p.http, "GET", target, &[], b"").await;
    assert_eq!(r.status, 200);
    let seen = &b.requests("/e")[0];
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.path_and_query, "/e");
    assert_eq!(seen.body, &b"hi there"[..]);
    assert_eq!(seen.header("x-h"), Some("v"));
    assert_eq!(seen.header("host"), Some("example.com"));
}

#[tokio::test]
async fn default_callback_and_method() {
    let (b, p) = setup(
        ",jsonp_mode=basic,jsonp_cb=cb,jsonp_body=body,jsonp_defcb=dcb,jsonp_defmethod=PATCH",
    )
    .await;
    // the body parameter alone is enough with a default callback
    let r = request(p.http, "GET", "/e?body=x", &[], b"").await;
    assert_eq!(r.text(), "/**/dcb(PATCH /e ct=application/json body=x);\n");
    // `callback` is not this route's callback parameter
    let r = request(p.http, "GET", "/e?callback=f", &[], b"").await;
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(b.requests("/e")[1].path_and_query, "/e?callback=f");
}

#[tokio::test]
async fn only_get_requests_are_jsonp() {
    let (b, p) = setup("").await;
    let r = request(p.http, "POST", "/e?callback=f", &[], b"zz").await;
    assert_eq!(r.text(), "POST /e?callback=f ct=- body=zz\n");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(b.requests("/e").len(), 1);
}

#[tokio::test]
async fn unusable_parameters_get_400_with_cors_headers() {
    let (b, p) = setup(",jsonp_body=b").await;
    let cases = [
        ("/e?callback=", "Invalid callback parameter.\n"),
        ("/e?callback", "Invalid callback parameter.\n"),
        ("/e?callback=f&_method=", "Invalid _method parameter.\n"),
        ("/e?callback=f&_method=%01", "Invalid _method parameter.\n"),
        (
            "/e?callback=f&_headers=%5B1%5D",
            "Invalid _headers parameter.\n",
        ),
        (
            "/e?callback=f&_headers=%7B%22a%22%3A1%7D",
            "Invalid _headers parameter.\n",
        ),
        ("/e?callback=f&b=", "Invalid body parameter.\n"),
    ];
    for (target, message) in cases {
        let r = request(
            p.http,
            "GET",
            target,
            &[("Origin", "https://o.example")],
            b"",
        )
        .await;
        assert_eq!((r.status, r.text().as_str()), (400, message), "{target}");
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://o.example"),
            "{target}"
        );
    }
    // without a body parameter on the route, `_body` is the one checked
    let (_b2, p2) = setup("").await;
    let r = request(p2.http, "GET", "/e?callback=f&_body=", &[], b"").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Invalid _body parameter.\n")
    );
    assert!(b.requests("/e").is_empty());
}

#[tokio::test]
async fn backend_errors_are_wrapped() {
    let p = Proxy::builder().route("*,aco 127.0.0.1:1").start().await;
    let r = request(p.http, "GET", "/x?callback=f", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "/**/f({\"code\": 502, \"reason\": \"Bad Gateway\", \"headers\": {\"Content-Length\":\"32\",\"Content-Type\":\"text/plain\"}, \"body\": \"Error while proxying to origin.\\n\"});\n"
    );
}

#[tokio::test]
async fn a_streamed_body_is_wrapped_as_it_arrives() {
    for (mode, want) in [
        (
            "extended",
            "/**/f({\"code\": 200, \"reason\": \"OK\", \"headers\": {\"Content-Type\":\"text/plain\"}, \"body\": \"part1\\npart2\\n\"});\n",
        ),
        ("basic", "/**/f(part1\npart2);\n"),
    ] {
        let b = Backend::start().await;
        let (tx_in, mut rx_in) = tokio::sync::mpsc::channel(1);
        b.route("/s", move |_| {
            let (reply, tx) = Reply::text(200, "").streamed();
            tx_in.try_send(tx).unwrap();
            std::future::ready(reply)
        });
        let p = Proxy::builder()
            .route(&format!("*,aco,jsonp_mode={mode} {}", b.target()))
            .start()
            .await;
        let mut c = RawClient::get(p.http, "/s?callback=f").await;
        let tx = rx_in.recv().await.unwrap();
        tx.send(Bytes::from_static(b"part1\n")).await.unwrap();
        c.read_head().await;
        assert_eq!(c.header("transfer-encoding"), Some("chunked"), "{mode}");
        // the first piece is out before the backend finishes
        c.read_until_contains(b"part1").await;
        tx.send(Bytes::from_static(b"part2\n")).await.unwrap();
        drop(tx);
        let body = c.read_to_end(Duration::from_secs(5)).await;
        assert_eq!(String::from_utf8_lossy(&body), want, "{mode}");
        assert!(c.complete, "{mode}");
    }
}

#[tokio::test]
async fn long_poll_publish_is_wrapped_like_1_36_handler() {
    for (mode, want) in [
        (
            "extended",
            "/**/f({\"body\":\"pub body\\n\",\"code\":201,\"headers\":{\"Content-Type\":\"text/x\",\"X-Pub\":\"p\",\"X-Timeout-H\":\"1\"},\"reason\":\"Made\"});\n",
        ),
        ("basic", "/**/f(pub body);\n"),
    ] {
        let b = Backend::start().await;
        b.fixed("/lp", || {
            Reply::response_hold("j1", "timeout\n").header("X-Timeout-H", "1")
        });
        let p = Proxy::builder()
            .route(&format!("*,aco,jsonp_mode={mode} {}", b.target()))
            .start()
            .await;
        let mut c = RawClient::get(p.http, "/lp?callback=f").await;
        p.subscribed("j1", 1).await;
        p.publish(json!([{"channel": "j1", "formats": {"http-response": {
            "code": 201, "reason": "Made", "headers": {"X-Pub": "p", "Content-Type": "text/x"},
            "body": "pub body\n"}}}]))
            .await;
        c.read_head().await;
        let body = c.read_to_end(Duration::from_secs(5)).await;
        assert_eq!(String::from_utf8_lossy(&body), want, "{mode}");
        assert_eq!((c.status, c.reason.as_str()), (Some(200), "OK"), "{mode}");
        let names: Vec<&str> = c.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["X-Timeout-H", "X-Pub", "Content-Type", "Content-Length"],
            "{mode}"
        );
        assert_eq!(c.header("content-type"), Some("application/javascript"));
    }
}

#[tokio::test(start_paused = true)]
async fn long_poll_timeout_is_wrapped() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("j2", "timeout\n").header("Grip-Timeout", "5")
    });
    let p = Proxy::builder()
        .route(&format!("*,aco {}", b.target()))
        .start()
        .await;
    let mut c = RawClient::get(p.http, "/lp?callback=f").await;
    let body = c.read_to_end(Duration::from_secs(60)).await;
    assert_eq!(
        String::from_utf8_lossy(&body),
        "/**/f({\"body\":\"timeout\\n\",\"code\":200,\"headers\":{\"Content-Type\":\"text/plain\"},\"reason\":\"OK\"});\n"
    );
}
