//! The publish API: statuses, bodies and limits as 1.36 answers, and that
//! nothing is published from a bad request.

mod support;

use std::time::Duration;

use support::{request, Backend, Proxy, RawClient, Reply};

async fn publish_raw(p: &Proxy, body: &str, headers: &[(&str, &str)]) -> support::client::Response {
    request(p.publish, "POST", "/publish/", headers, body.as_bytes()).await
}

#[tokio::test]
async fn root_and_success_bodies() {
    let p = Proxy::builder().start().await;
    let r = request(p.publish, "GET", "/", &[], b"").await;
    assert_eq!((r.status, r.text().as_str()), (200, "Pushpin API\n"));
    assert_eq!(r.header("connection"), Some("close"));
    let item = r#"{"items":[{"channel":"nobody","formats":{"http-stream":{"content":"x"}}}]}"#;
    let r = publish_raw(&p, item, &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "Published\n"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let r = publish_raw(&p, item, &[("Accept", "application/json")]).await;
    assert_eq!(r.text(), "{\"message\":\"Published\"}\n");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = request(p.publish, "POST", "/publish", &[], b"{\"items\":[]}").await;
    assert_eq!(r.text(), "Published\n");
}

#[tokio::test]
async fn errors_match_1_36() {
    let p = Proxy::builder().start().await;
    let cases = [
        ("{not json", "Body is not valid JSON.\n"),
        ("[1, 2]", "Invalid format.\n"),
        ("{}", "Invalid format: object does not contain 'items'\n"),
        (
            r#"{"items": [{"channel": "c"}]}"#,
            "Invalid format: no formats specified\n",
        ),
    ];
    for (body, want) in cases {
        let r = publish_raw(&p, body, &[("Accept", "application/json")]).await;
        assert_eq!(
            (r.status, r.reason.as_str()),
            (400, "Bad Request"),
            "{body}"
        );
        assert_eq!(r.text(), want);
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    for m in ["GET", "PUT", "DELETE"] {
        let r = request(p.publish, m, "/publish/", &[], b"").await;
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(r.text(), format!("Method not allowed: {m}.\n"));
    }
    let r = request(p.publish, "GET", "/no/such", &[], b"").await;
    assert_eq!((r.status, r.text().as_str()), (404, "Not Found\n"));
    let r = publish_raw(&p, "{\"items\":[]}", &[("Accept", "image/png")]).await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.text(),
        "Not Acceptable. Supported formats are text/plain and application/json.\n"
    );
}

#[tokio::test]
async fn size_limits() {
    let p = Proxy::builder()
        .config(|c| {
            c.publish_max_body_size = 100;
            c.publish_max_headers_size = 300;
        })
        .start()
        .await;
    let body = format!(
        r#"{{"items":[{{"channel":"c","formats":{{"http-stream":{{"content":"{}"}}}}}}]}}"#,
        "a".repeat(200)
    );
    let mut c = RawClient::connect(p.publish).await;
    c.send_raw(
        format!(
            "POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    c.read_head().await;
    assert_eq!(c.status, Some(400));
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"Request body too large.\n"
    );
    let mut c = RawClient::connect(p.publish).await;
    c.send_raw(
        format!(
            "POST /publish/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "h".repeat(400)
        )
        .as_bytes(),
    )
    .await;
    c.read_head().await;
    assert_eq!(c.status, Some(400));
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"Request header too large.\n"
    );
    let mut c = RawClient::connect(p.publish).await;
    c.send_raw(
        b"POST /publish/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    c.read_head().await;
    assert_eq!(c.status, Some(411));
}

#[tokio::test]
async fn a_bad_item_publishes_nothing() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("pa", "start\n"));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/s").await;
    assert_eq!(c.read_until_contains(b"start\n").await, b"start\n");
    let bad = r#"{"items":[{"channel":"pa","formats":{"http-stream":{"content":"should not appear\n"}}},{"formats":{}}]}"#;
    assert_eq!(publish_raw(&p, bad, &[]).await.status, 400);
    assert_eq!(
        publish_raw(
            &p,
            "\u{0}\u{ff}",
            &[("Content-Type", "application/octet-stream")]
        )
        .await
        .status,
        400
    );
    p.publish_stream("pa", "marker\n").await;
    assert_eq!(c.read_until_contains(b"marker\n").await, b"start\nmarker\n");
}
