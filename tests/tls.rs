//! `https_ports`: TLS clients reach backends as secure requests with their
//! real address, pick certificates by SNI, upgrade to wss, get published
//! items on stream holds, and are closed with a goodbye on shutdown.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use pushpin::config::{XffRule, XfpMode};
use support::tls::{self, TempDir};
use support::ws::{next_msg, text};
use support::{Backend, Proxy, Reply};

/// A proxy with one TLS listener on an ephemeral port whose certs dir has
/// the `default` fixture as its default pair, plus `a.example.com` and
/// `_.wild.test`.
struct TlsProxy {
    proxy: Proxy,
    https: SocketAddr,
    _certs: TempDir,
}

async fn tls_proxy(routes: &[&str]) -> TlsProxy {
    let certs = TempDir::new("tls-certs");
    certs.pair("a.example.com", "a.example.com");
    certs.pair("_.wild.test", "_.wild.test");
    let dir = certs.0.clone();
    let mut b = Proxy::builder().config(|c| {
        c.https_listeners = vec!["127.0.0.1:0".parse().unwrap()];
        c.certs_dir = dir;
        c.set_xfp = XfpMode::Both;
        c.xff = XffRule {
            truncate: None,
            append: true,
        };
    });
    for r in routes {
        b = b.route(r);
    }
    let proxy = b.start().await;
    let https = proxy.app.https_addrs[0];
    // the default pair is named after the port, known only now; it is
    // read when first needed
    certs.pair("default", &format!("default_{}", https.port()));
    TlsProxy {
        proxy,
        https,
        _certs: certs,
    }
}

#[tokio::test]
async fn a_request_over_tls_reaches_the_backend_as_secure_with_the_client_address() {
    let b = Backend::start().await;
    b.fixed("/hello", || Reply::text(200, "hi\n"));
    let t = tls_proxy(&[&format!("* {}", b.target())]).await;
    // from 127.1.2.3, an address the relay never uses as its source
    let mut s = tls::connect_from([127, 1, 2, 3].into(), t.https, "127.0.0.1")
        .await
        .unwrap();
    let headers = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "http"),
    ];
    let r = tls::get(&mut s, "example.test", "/hello", &headers).await;
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, b"hi\n");
    let seen = b.wait_requests("/hello", 1).await.remove(0);
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-protocol"), Some("https"));
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.9, 127.1.2.3")
    );
    assert!(t.proxy.stop().await);
}

#[tokio::test]
async fn sni_picks_the_certificate_and_anything_else_gets_the_default() {
    let t = tls_proxy(&["* test"]).await;
    let cases = [
        ("127.0.0.1", "default"), // an IP address: no SNI
        ("a.example.com", "a.example.com"),
        ("A.Example.COM", "a.example.com"),
        ("x.wild.test", "_.wild.test"),
    ];
    for (name, want) in cases {
        let s = tls::connect(t.https, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(tls::server_leaf(&s), tls::leaf(want), "{name}");
    }
    // names it has no pair for get the default (which the client then
    // would not accept for them)
    for name in ["unknown.test", "y.x.wild.test", "wild.test"] {
        let s = tls::connect_unchecked(t.https, name).await.unwrap();
        assert_eq!(tls::server_leaf(&s), tls::leaf("default"), "{name}");
        assert!(tls::connect(t.https, name).await.is_err(), "{name}");
    }
    assert!(t.proxy.stop().await);
}

#[tokio::test]
async fn without_a_default_pair_unknown_names_are_refused() {
    let certs = TempDir::new("tls-nodefault");
    certs.pair("a.example.com", "a.example.com");
    let dir = certs.0.clone();
    let p = Proxy::builder()
        .route("* test")
        .config(|c| {
            c.https_listeners = vec!["127.0.0.1:0".parse().unwrap()];
            c.certs_dir = dir;
        })
        .start()
        .await;
    let https = p.app.https_addrs[0];
    assert!(tls::connect(https, "127.0.0.1").await.is_err());
    assert!(tls::connect(https, "b.example.com").await.is_err());
    let mut s = tls::connect(https, "a.example.com").await.unwrap();
    let r = tls::get(&mut s, "a.example.com", "/", &[]).await;
    assert_eq!(r.status, 200);
    assert!(p.stop().await);
}

#[tokio::test]
async fn ssl_yes_routes_match_tls_requests_only() {
    let b = Backend::start().await;
    b.fixed("/which", || Reply::text(200, "ok"));
    let t = tls_proxy(&[
        &format!("*,ssl=yes,header=X-Via:tls {}", b.target()),
        &format!("*,header=X-Via:plain {}", b.target()),
    ])
    .await;
    let mut s = tls::connect(t.https, "127.0.0.1").await.unwrap();
    assert_eq!(tls::get(&mut s, "h.test", "/which", &[]).await.status, 200);
    let plain = support::request(t.proxy.http, "GET", "/which", &[], b"").await;
    assert_eq!(plain.status, 200);
    let seen = b.wait_requests("/which", 2).await;
    let via: Vec<_> = seen.iter().map(|r| r.header("x-via").unwrap()).collect();
    assert_eq!(via, ["tls", "plain"]);
    assert!(t.proxy.stop().await);
}

#[tokio::test]
async fn websockets_upgrade_over_tls() {
    let b = Backend::start().await;
    let mut accepted = b.websocket("/ws", &[]);
    let t = tls_proxy(&[&format!("* {}", b.target())]).await;
    let s = tls::connect(t.https, "a.example.com").await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async("wss://a.example.com/ws", s)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    let (seen, mut server) = accepted.next().await;
    assert_eq!(seen.header("x-forwarded-proto"), Some("wss"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    ws.send(text("ping over tls")).await.unwrap();
    assert_eq!(next_msg(&mut server).await, text("ping over tls"));
    server.send(text("pong")).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, text("pong"));
    ws.close(None).await.unwrap();
    assert!(t.proxy.stop().await);
}

#[tokio::test]
async fn a_stream_hold_over_tls_gets_published_items_and_a_goodbye_on_shutdown() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("tls-ch", "welcome\n"));
    let t = tls_proxy(&[&format!("* {}", b.target())]).await;
    let mut s = tls::connect(t.https, "x.wild.test").await.unwrap();
    tls::send_get(&mut s, "x.wild.test", "/s", &[], false).await;
    let mut got = Vec::new();
    tls::read_until(&mut s, &mut got, b"welcome\n").await;
    t.proxy.subscribed("tls-ch", 1).await;
    t.proxy.publish_stream("tls-ch", "hello over tls\n").await;
    tls::read_until(&mut s, &mut got, b"hello over tls\n").await;

    let stopping = tokio::spawn(t.proxy.stop());
    // the stream's end, then a clean TLS close
    tls::read_to_end(&mut s, &mut got)
        .await
        .expect("close_notify, not a cut connection");
    assert!(
        got.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(stopping.await.unwrap());
}

#[tokio::test]
async fn a_tls_client_takes_one_connection_permit() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("permits", "welcome\n"));
    let certs = TempDir::new("tls-permits");
    let dir = certs.0.clone();
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.https_listeners = vec!["127.0.0.1:0".parse().unwrap()];
            c.certs_dir = dir;
            c.client_maxconn = 2;
        })
        .start()
        .await;
    certs.pair(
        "default",
        &format!("default_{}", p.app.https_addrs[0].port()),
    );
    let mut s = tls::connect(p.app.https_addrs[0], "127.0.0.1")
        .await
        .unwrap();
    tls::send_get(&mut s, "h", "/s", &[], false).await;
    let mut got = Vec::new();
    tls::read_until(&mut s, &mut got, b"welcome\n").await;
    // with client_maxconn=2 a plain client still gets in: the TLS client
    // and its relay count once
    let mut c = support::RawClient::get(p.http, "/s").await;
    assert_eq!(c.read_until_contains(b"welcome\n").await, b"welcome\n");
    p.subscribed("permits", 2).await;
    assert!(p.stop().await);
}

#[test]
fn a_broken_default_certificate_stops_start_up_naming_the_file() {
    let d = TempDir::new("tls-broken");
    let certs = d.path("runner/certs");
    std::fs::create_dir_all(&certs).unwrap();
    // never bound: the check comes first
    std::fs::write(certs.join("default_25999.crt"), "not a certificate\n").unwrap();
    std::fs::copy(
        tls::fixture_file("default", "key"),
        certs.join("default_25999.key"),
    )
    .unwrap();
    let conf = d.path("pushpin.conf");
    std::fs::write(
        &conf,
        "[runner]\nhttp_port=127.0.0.1:0\nhttps_ports=127.0.0.1:25999\n\
         [handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port=0\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushpin"))
        .arg(format!("--config={}", conf.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // a proxy that started anyway would never exit: give up after 10 s
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the proxy started despite the broken certificate");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let lines: Vec<_> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("default_25999.crt"), "{err}");
}

#[tokio::test]
async fn large_bodies_pass_both_ways_over_tls() {
    use tokio::io::AsyncWriteExt;
    const SIZE: usize = 3 << 20;
    let b = Backend::start().await;
    b.fixed("/big", || Reply::text(200, vec![b'd'; SIZE]));
    b.fixed("/upload", || Reply::text(200, "stored\n"));
    let t = tls_proxy(&[&format!("* {}", b.target())]).await;

    let mut s = tls::connect(t.https, "a.example.com").await.unwrap();
    let r = tls::get(&mut s, "a.example.com", "/big", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), SIZE);
    assert!(r.body.iter().all(|&c| c == b'd'));

    let mut s = tls::connect(t.https, "a.example.com").await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'u'; SIZE]).await.unwrap();
    s.flush().await.unwrap();
    let mut got = Vec::new();
    tls::read_to_end(&mut s, &mut got).await.unwrap();
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let seen = b.wait_requests("/upload", 1).await.remove(0);
    assert_eq!(seen.body.len(), SIZE);
    assert!(t.proxy.stop().await);
}
