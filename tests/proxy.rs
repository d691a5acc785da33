//! Plain proxying over real sockets: bodies both ways, headers, errors,
//! keep-alive and pooling, failover.

mod support;

use std::time::Duration;

use pushpin::config::XffRule;
use pushpin::grip::sig::verify_hs256;
use support::{request, Backend, Proxy, RawClient, Reply};

fn echo(status: u16) -> impl Fn(support::Recorded) -> std::future::Ready<Reply> + Clone {
    move |r: support::Recorded| {
        let reply = Reply::text(
            status,
            format!("{} {} len={}\n", r.method, r.path_and_query, r.body.len()),
        );
        let reply = if status == 203 {
            reply.reason("Non-Authoritative Information")
        } else {
            reply
        };
        std::future::ready(
            reply
                .header("X-Backend", "yes")
                .header("Set-Cookie", "a=b; Path=/"),
        )
    }
}

#[tokio::test]
async fn passes_status_reason_headers_and_body() {
    let b = Backend::start().await;
    b.route("/x", echo(203));
    let p = Proxy::to(&b.target()).await;
    let r = request(p.http, "GET", "/x?q=%2F1", &[("X-Client", "c")], b"").await;
    assert_eq!(r.status, 203);
    assert_eq!(r.reason, "Non-Authoritative Information");
    assert_eq!(r.text(), "GET /x?q=%2F1 len=0\n");
    assert_eq!(r.header("x-backend"), Some("yes"));
    assert_eq!(r.header("set-cookie"), Some("a=b; Path=/"));
    assert_eq!(r.header("content-length"), Some("20"));
    let rec = b.wait_requests("/x", 1).await;
    assert_eq!(rec[0].header("x-client"), Some("c"));
}

#[tokio::test]
async fn forwards_any_method_with_body() {
    let b = Backend::start().await;
    b.route("/m", echo(200));
    let p = Proxy::to(&b.target()).await;
    for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = request(p.http, m, "/m", &[], format!("data-{m}").as_bytes()).await;
        assert_eq!(r.text(), format!("{m} /m len={}\n", 5 + m.len()));
    }
    let recs = b.wait_requests("/m", 5).await;
    assert_eq!(recs[0].body, "data-POST");
}

#[tokio::test]
async fn backend_errors_pass_through() {
    let b = Backend::start().await;
    b.route("/e", echo(503));
    let p = Proxy::to(&b.target()).await;
    let r = request(p.http, "GET", "/e", &[], b"").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Service Unavailable"));
    assert_eq!(r.header("x-backend"), Some("yes"));
}

#[tokio::test]
async fn large_response_streams_before_backend_finishes() {
    let b = Backend::start().await;
    let (tx_ctl, rx_ctl) =
        tokio::sync::oneshot::channel::<tokio::sync::mpsc::Sender<bytes::Bytes>>();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(tx_ctl)));
    b.route("/big", move |_| {
        let slot = slot.clone();
        async move {
            let (reply, tx) = Reply::new(200)
                .header("Content-Type", "application/octet-stream")
                .streamed();
            slot.lock().unwrap().take().unwrap().send(tx).unwrap();
            reply
        }
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/big").await;
    let tx = rx_ctl.await.unwrap();
    let piece = vec![7u8; 64 * 1024];
    tx.send(piece.clone().into()).await.unwrap();
    // the first piece reaches the client while the backend is still sending
    let got = c
        .read_until(|b| b.len() >= piece.len(), Duration::from_secs(5))
        .await;
    assert_eq!(got.len(), piece.len());
    assert_eq!(c.header("transfer-encoding"), Some("chunked"));
    let mut expected = piece.clone();
    for i in 0..79u8 {
        let chunk = vec![i; 64 * 1024];
        expected.extend_from_slice(&chunk);
        tx.send(chunk.into()).await.unwrap();
    }
    drop(tx);
    let body = c.read_to_end(Duration::from_secs(30)).await;
    assert!(c.complete);
    assert_eq!(body.len(), 5 * 1024 * 1024);
    assert!(body == expected, "5 MB body differs");
}

#[tokio::test]
async fn large_response_with_content_length() {
    let b = Backend::start().await;
    b.fixed("/cl", || Reply::new(200).body(vec![42u8; 5 * 1024 * 1024]));
    let p = Proxy::to(&b.target()).await;
    let r = request(p.http, "GET", "/cl", &[], b"").await;
    assert_eq!(r.header("content-length"), Some("5242880"));
    assert!(r.body.iter().all(|&x| x == 42) && r.body.len() == 5 * 1024 * 1024);
}

#[tokio::test]
async fn large_upload_is_forwarded() {
    let b = Backend::start().await;
    b.route("/up", |r| async move {
        Reply::text(200, format!("{}", r.body.len()))
    });
    let p = Proxy::to(&b.target()).await;
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let r = request(p.http, "POST", "/up", &[], &data).await;
    assert_eq!(r.text(), "1048576");
    let rec = b.wait_requests("/up", 1).await;
    assert!(rec[0].body == data);
}

#[tokio::test]
async fn chunked_upload_and_expect_continue() {
    let b = Backend::start().await;
    b.route("/c", |r| async move { Reply::text(200, r.body) });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::connect(p.http).await;
    c.send_raw(b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        .await;
    c.send_raw(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").await;
    c.read_head().await;
    assert_eq!(c.read_to_end(Duration::from_secs(5)).await, b"hello world");
    let rec = b.wait_requests("/c", 1).await;
    assert!(rec[0].header("transfer-encoding").is_none() || rec[0].body == "hello world");
    assert!(rec[0].header("expect").is_none());
}

#[tokio::test]
async fn backend_down_is_502() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = Proxy::to(&dead.to_string()).await;
    let r = request(p.http, "GET", "/x", &[], b"").await;
    assert_eq!((r.status, r.reason.as_str()), (502, "Bad Gateway"));
    assert_eq!(r.text(), "Error while proxying to origin.\n");
    assert_eq!(r.header("content-type"), Some("text/plain"));
}

#[tokio::test]
async fn debug_mode_names_the_targets_tried() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = Proxy::builder()
        .route(&format!("*,debug {dead}"))
        .start()
        .await;
    let r = request(p.http, "GET", "/x", &[], b"").await;
    assert_eq!(
        r.text(),
        format!("Unable to connect to any targets. Tried: {dead}\n")
    );
}

#[tokio::test]
async fn next_target_is_tried_when_one_refuses() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = Backend::start().await;
    b.route("/f", echo(200));
    let p = Proxy::builder()
        .route(&format!("* {dead} {}", b.target()))
        .start()
        .await;
    let r = request(p.http, "GET", "/f", &[], b"").await;
    assert_eq!(r.text(), "GET /f len=0\n");
}

#[tokio::test]
async fn x_forwarded_for_rules() {
    let b = Backend::start().await;
    b.route("/xff", echo(200));
    let append = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.xff = XffRule {
                truncate: None,
                append: true,
            }
        })
        .start()
        .await;
    request(append.http, "GET", "/xff", &[], b"").await;
    request(
        append.http,
        "GET",
        "/xff",
        &[("X-Forwarded-For", "203.0.113.7")],
        b"",
    )
    .await;
    let trunc = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.xff = XffRule {
                truncate: Some(0),
                append: true,
            }
        })
        .start()
        .await;
    request(
        trunc.http,
        "GET",
        "/xff",
        &[("X-Forwarded-For", "203.0.113.7, 1.2.3.4")],
        b"",
    )
    .await;
    let recs = b.wait_requests("/xff", 3).await;
    assert_eq!(recs[0].header_all("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(
        recs[1].header_all("x-forwarded-for"),
        vec!["203.0.113.7, 127.0.0.1"]
    );
    assert_eq!(recs[2].header_all("x-forwarded-for"), vec!["127.0.0.1"]);
}

#[tokio::test]
async fn host_grip_headers_and_signature() {
    let b = Backend::start().await;
    b.route("/h", echo(200));
    b.route("/rsig/h", echo(200));
    let p = Proxy::builder()
        .route(&format!(
            "*,path_beg=/rsig/,sig_iss=ri,sig_key=rk {}",
            b.target()
        ))
        .route(&format!("* {}", b.target()))
        .start()
        .await;
    request(
        p.http,
        "GET",
        "/h",
        &[
            ("Host", "WWW.Example.com:8080"),
            ("Grip-Hold", "stream"),
            ("Grip-Sig", "forged"),
        ],
        b"",
    )
    .await;
    request(p.http, "GET", "/rsig/h", &[], b"").await;
    let rec = &b.wait_requests("/h", 1).await[0];
    assert_eq!(rec.header_all("host"), vec!["www.example.com:8080"]);
    assert!(rec.header("grip-hold").is_none());
    let sig = rec.header_all("grip-sig");
    assert_eq!(sig.len(), 1);
    assert!(verify_hs256(&sig[0], b"changeme"));
    assert!(rec.header("grip-feature").is_some());
    let rsig = &b.wait_requests("/rsig/h", 1).await[0];
    let token = rsig.header("grip-sig").unwrap();
    assert!(verify_hs256(token, b"rk") && !verify_hs256(token, b"changeme"));
}

#[tokio::test]
async fn response_grip_headers_are_stripped_without_hold() {
    let b = Backend::start().await;
    b.fixed("/g", || {
        Reply::text(200, "plain\n")
            .header("Grip-Channel", "c")
            .header("X-Keep", "1")
    });
    let p = Proxy::to(&b.target()).await;
    let r = request(p.http, "GET", "/g", &[], b"").await;
    assert_eq!(r.text(), "plain\n");
    assert!(r.header("grip-channel").is_none());
    assert_eq!(r.header("x-keep"), Some("1"));
}

#[tokio::test]
async fn keep_alive_to_client_and_pooled_backend_connections() {
    let b = Backend::start().await;
    b.route("/k", echo(200));
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/k").await;
    c.read_head().await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"GET /k len=0\n"
    );
    // same client connection, second request
    c.send_request("GET", "/k", &[], b"").await;
    c.read_head().await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"GET /k len=0\n"
    );
    let recs = b.wait_requests("/k", 2).await;
    assert_eq!(
        recs[0].peer, recs[1].peer,
        "second request reused the backend connection"
    );
}

#[tokio::test]
async fn head_requests_and_http10_clients() {
    let b = Backend::start().await;
    b.route("/hd", echo(200));
    let p = Proxy::to(&b.target()).await;
    let r = request(p.http, "HEAD", "/hd", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let mut c = RawClient::connect(p.http).await;
    c.send_raw(b"GET /hd HTTP/1.0\r\nHost: h\r\n\r\n").await;
    c.read_head().await;
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"GET /hd len=0\n"
    );
    assert!(c.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn no_route_for_host() {
    let b = Backend::start().await;
    b.route("/x", echo(200));
    let p = Proxy::builder()
        .route(&format!("only.example {}", b.target()))
        .start()
        .await;
    let ok = request(p.http, "GET", "/x", &[("Host", "only.example")], b"").await;
    assert_eq!(ok.status, 200);
    let r = request(p.http, "GET", "/x", &[("Host", "Nomatch.Example:99")], b"").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.text(), "No route for host: nomatch.example\n");
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let b = Backend::start().await;
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::connect(p.http).await;
    c.send_raw(b"GARBAGE\r\n\r\n").await;
    c.read_head().await;
    assert_eq!(c.status, Some(400));
    let mut c = RawClient::connect(p.http).await;
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    c.send_raw(big.as_bytes()).await;
    c.read_head().await;
    assert_eq!(c.status, Some(431));
}

/// 1.36 (through zurl) sends `Content-Length: 0` with a bodiless request of
/// any method but GET, HEAD, DELETE and OPTIONS; backends that answer
/// `411 Length Required` to a bare `POST` depend on it.
#[tokio::test]
async fn bodiless_requests_state_an_empty_length_as_1_36() {
    let b = Backend::start().await;
    b.route("/", echo(200));
    let p = Proxy::to(&b.target()).await;
    let chunked = [("Transfer-Encoding", "chunked")];
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [u8],
        Option<&'a str>,
    );
    let cases: [Case<'_>; 5] = [
        ("PATCH", "/patch", &[], b"", Some("0")),
        ("FOO", "/foo", &[], b"", Some("0")),
        ("POST", "/chunked", &chunked, b"0\r\n\r\n", Some("0")),
        ("DELETE", "/delete", &[], b"", None),
        ("GET", "/get", &[], b"", None),
    ];
    for (method, path, headers, body, _) in cases {
        assert_eq!(
            request(p.http, method, path, headers, body).await.status,
            200
        );
    }
    for (method, path, _, _, want) in cases {
        let rec = &b.wait_requests(path, 1).await[0];
        assert_eq!(rec.method, method);
        assert_eq!(rec.header("content-length"), want, "{method} {path}");
        assert!(rec.header("transfer-encoding").is_none());
    }
}

/// A small body of known length is not held back until it is complete: the
/// head and what the backend has sent reach the client at once, as from 1.36
/// (a backend that stalls mid-body used to leave the client with nothing).
#[tokio::test]
async fn small_known_length_body_is_not_held_back() {
    let b = Backend::start().await;
    let (tx_ctl, rx_ctl) =
        tokio::sync::oneshot::channel::<tokio::sync::mpsc::Sender<bytes::Bytes>>();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(tx_ctl)));
    b.route("/slow", move |_| {
        let slot = slot.clone();
        async move {
            let (reply, tx) = Reply::new(200).header("Content-Length", "10").streamed();
            slot.lock().unwrap().take().unwrap().send(tx).unwrap();
            reply
        }
    });
    let p = Proxy::to(&b.target()).await;
    let mut c = RawClient::get(p.http, "/slow").await;
    let tx = rx_ctl.await.unwrap();
    tx.send("abc".into()).await.unwrap();
    let got = c.read_until(|b| b.len() >= 3, Duration::from_secs(5)).await;
    assert_eq!(got, b"abc");
    assert_eq!(c.header("content-length"), Some("10"));
    tx.send("defghij".into()).await.unwrap();
    drop(tx);
    let body = c.read_to_end(Duration::from_secs(5)).await;
    assert!(c.complete);
    assert_eq!(body, b"abcdefghij");
}

/// A backend's `Content-Length` on a 204 or 304 is not relayed, as from
/// 1.36; the connection stays usable.
#[tokio::test]
async fn no_length_is_relayed_on_204_and_304() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let answers: [&[u8]; 2] = [
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"e\"\r\n\r\n",
        ];
        let mut buf = Vec::new();
        for answer in answers {
            while support::client::find(&buf, b"\r\n\r\n").is_none() {
                let mut piece = [0u8; 4096];
                let n = s.read(&mut piece).await.unwrap();
                assert!(n > 0, "proxy closed the backend connection");
                buf.extend_from_slice(&piece[..n]);
            }
            let end = support::client::find(&buf, b"\r\n\r\n").unwrap() + 4;
            buf.drain(..end);
            s.write_all(answer).await.unwrap();
        }
    });
    let p = Proxy::to(&addr.to_string()).await;
    let mut c = RawClient::get(p.http, "/a").await;
    c.read_head().await;
    assert_eq!(c.response().status, 204);
    assert_eq!(c.header("x-a"), Some("1"));
    assert_eq!(c.header("content-length"), None);
    c.send_request("GET", "/b", &[], b"").await;
    c.read_head().await;
    assert_eq!(c.response().status, 304);
    assert_eq!(c.header("etag"), Some("\"e\""));
    assert_eq!(c.header("content-length"), None);
}
