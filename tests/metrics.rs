//! The Prometheus endpoint (`prometheus_port`): its values after real
//! traffic (the same steps as the comparison with Pushpin 1.36 in
//! docs/behaviour.md), the report window, the proxy endpoint, Unix sockets,
//! how it answers, and start-up failures of the binary.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use pushpin::config::{MetricsListen, Prometheus};
use serde_json::json;
use support::client::Response;
use support::ws::{connect, next_msg, text};
use support::{request, Backend, Proxy, RawClient, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn endpoint(prefix: &str) -> Option<Prometheus> {
    Some(Prometheus {
        listen: MetricsListen::Tcp("127.0.0.1:0".parse().unwrap()),
        prefix: prefix.to_owned(),
    })
}

/// request_received, connection_connected, connection_minute,
/// message_received, message_sent.
type Values = (u64, u64, u64, u64, u64);

fn parse(body: &str, prefix: &str) -> Values {
    let map: HashMap<&str, u64> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let get = |name: &str| map[format!("{prefix}{name}").as_str()];
    (
        get("request_received"),
        get("connection_connected"),
        get("connection_minute"),
        get("message_received"),
        get("message_sent"),
    )
}

async fn scrape(addr: SocketAddr, prefix: &str) -> Values {
    let r = request(addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    parse(&r.text(), prefix)
}

/// Scrapes until `check` holds (the server finishing a request is not
/// visible to the client otherwise); panics after 5 s.
async fn scrape_until(addr: SocketAddr, check: impl Fn(Values) -> bool) -> Values {
    let mut last = (0, 0, 0, 0, 0);
    for _ in 0..500 {
        last = scrape(addr, "").await;
        if check(last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("metrics never got there; last {last:?}");
}

/// A backend with `/plain`, `/stream` and `/poll` (channel `test`).
async fn backend() -> Backend {
    let b = Backend::start().await;
    b.fixed("/plain", || Reply::text(200, "hello\n"));
    b.fixed("/stream", || Reply::stream_hold("test", "welcome\n"));
    b.fixed("/poll", || Reply::response_hold("test", "timeout\n"));
    b
}

#[tokio::test]
async fn values_follow_traffic_as_in_1_36() {
    let b = backend().await;
    // no window: connection_connected is the live count
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.handler_prometheus = endpoint("");
            c.stats_report_interval = Duration::ZERO;
        })
        .start()
        .await;
    let m = p.app.metrics_addrs.handler.unwrap();
    assert_eq!(scrape(m, "").await, (0, 0, 0, 0, 0));

    let r = request(p.http, "GET", "/plain", &[], b"").await;
    assert_eq!(r.text(), "hello\n");
    scrape_until(m, |v| v == (1, 0, 1, 0, 0)).await;

    let mut s1 = RawClient::get(p.http, "/stream").await;
    let mut s2 = RawClient::get(p.http, "/stream").await;
    s1.read_until_contains(b"welcome\n").await;
    s2.read_until_contains(b"welcome\n").await;
    assert_eq!(scrape(m, "").await, (3, 2, 3, 0, 0));

    p.subscribed("test", 2).await;
    p.publish_stream("test", "hello\n").await;
    s1.read_until_contains(b"hello\n").await;
    s2.read_until_contains(b"hello\n").await;
    assert_eq!(scrape(m, "").await, (3, 2, 3, 1, 2));

    let mut lp = RawClient::get(p.http, "/poll").await;
    p.subscribed("test", 3).await;
    assert_eq!(scrape(m, "").await, (4, 3, 4, 1, 2));
    let item = json!([{"channel": "test", "formats": {"http-response": {"body": "got it\n"}}}]);
    p.publish(item).await;
    assert_eq!(lp.read_to_end(Duration::from_secs(5)).await, b"got it\n");
    // the publish reached three subscribers, two of them streams (which
    // take no http-response): one more delivery
    scrape_until(m, |v| v == (4, 2, 4, 2, 3)).await;

    drop((s1, s2));
    scrape_until(m, |v| v == (4, 0, 4, 2, 3)).await;
}

#[tokio::test]
async fn the_window_keeps_the_peak_and_the_proxy_endpoint_has_no_messages() {
    let b = backend().await;
    let p = Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.handler_prometheus = endpoint("pushpin_");
            c.proxy_prometheus = endpoint("proxy_");
            c.stats_report_interval = Duration::from_secs(3600);
        })
        .start()
        .await;
    let (hm, pm) = (
        p.app.metrics_addrs.handler.unwrap(),
        p.app.metrics_addrs.proxy.unwrap(),
    );
    let mut s1 = RawClient::get(p.http, "/stream").await;
    let mut s2 = RawClient::get(p.http, "/stream").await;
    s1.read_until_contains(b"welcome\n").await;
    s2.read_until_contains(b"welcome\n").await;
    p.subscribed("test", 2).await;
    p.publish_stream("test", "hello\n").await;
    s1.read_until_contains(b"hello\n").await;
    s2.read_until_contains(b"hello\n").await;
    drop((s1, s2));
    p.unsubscribed("test").await;
    // both gone, but this window's peak was 2
    assert_eq!(scrape(hm, "pushpin_").await, (2, 2, 2, 1, 2));
    assert_eq!(scrape(pm, "proxy_").await, (2, 2, 2, 0, 0));
}

#[tokio::test]
async fn unrouted_requests_do_not_count_and_a_websocket_does() {
    let b = Backend::start().await;
    b.websocket("/ws", &[]).echo("echo: ");
    let p = Proxy::builder()
        .route(&format!("127.0.0.1 {}", b.target()))
        .config(|c| {
            c.handler_prometheus = endpoint("");
            c.stats_report_interval = Duration::ZERO;
        })
        .start()
        .await;
    let m = p.app.metrics_addrs.handler.unwrap();
    let r = request(p.http, "GET", "/", &[("Host", "elsewhere.example")], b"").await;
    assert_eq!(r.status, 502);
    assert_eq!(scrape(m, "").await, (0, 0, 0, 0, 0));
    let mut ws = connect(p.http, "/ws").await;
    ws.send(text("hi")).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, text("echo: hi"));
    assert_eq!(scrape(m, "").await, (1, 1, 1, 0, 0));
    ws.close(None).await.unwrap();
    drop(ws);
    scrape_until(m, |v| v == (1, 0, 1, 0, 0)).await;
}

/// What 1.36 (prefix `pp_`) answers before any traffic, byte for byte.
const ZERO_PAGE: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\
    Content-Length: 610\r\n\r\n\
    # HELP pp_request_received Number of requests received\n\
    # TYPE pp_request_received counter\n\
    pp_request_received 0\n\
    # HELP pp_connection_connected Number of concurrent connections\n\
    # TYPE pp_connection_connected gauge\n\
    pp_connection_connected 0\n\
    # HELP pp_connection_minute Number of minutes clients have been connected\n\
    # TYPE pp_connection_minute counter\n\
    pp_connection_minute 0\n\
    # HELP pp_message_received Number of messages received by the publish API\n\
    # TYPE pp_message_received counter\n\
    pp_message_received 0\n\
    # HELP pp_message_sent Number of messages sent to clients\n\
    # TYPE pp_message_sent counter\n\
    pp_message_sent 0\n";

async fn exchange_unix(path: &std::path::Path, raw: &[u8]) -> String {
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the endpoint closes after answering")
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_unix_socket_endpoint_answers_any_request_like_1_36() {
    let dir = std::env::temp_dir().join(format!("pp-metrics-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prom.sock");
    // a socket left over from an earlier run is replaced
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let sock = path.clone();
    let p = Proxy::builder()
        .config(move |c| {
            c.handler_prometheus = Some(Prometheus {
                listen: MetricsListen::Unix(sock),
                prefix: "pp_".into(),
            })
        })
        .start()
        .await;
    assert_eq!(p.app.metrics_addrs.handler, None);
    let page = exchange_unix(&path, b"GET /any/path?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(page, ZERO_PAGE);
    let posted = exchange_unix(&path, b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi").await;
    assert_eq!(posted, ZERO_PAGE);
    let http10 = exchange_unix(&path, b"DELETE /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(http10, ZERO_PAGE.replacen("HTTP/1.1", "HTTP/1.0", 1));
    let head = exchange_unix(&path, b"HEAD / HTTP/1.1\r\n\r\n").await;
    assert_eq!(head, ZERO_PAGE[..ZERO_PAGE.find("\r\n\r\n").unwrap() + 4]);
    let refused = exchange_unix(&path, b"POST / HTTP/1.1\r\n\r\n").await;
    assert!(
        refused.starts_with("HTTP/1.1 411 Length Required\r\n"),
        "{refused}"
    );
    assert!(p.stop().await);
    assert!(!path.exists(), "the socket file is removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tcp_answers_carry_1_36s_headers() {
    let p = Proxy::builder()
        .config(|c| c.handler_prometheus = endpoint("pp_"))
        .start()
        .await;
    let r: Response = request(p.app.metrics_addrs.handler.unwrap(), "GET", "/", &[], b"").await;
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        headers,
        [
            ("Content-Type", "text/plain"),
            ("Connection", "close"),
            ("Content-Length", "610")
        ]
    );
    assert!(p.stop().await);
}

fn temp_conf(text: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("pp-metrics-bin-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("pushpin.conf");
    std::fs::File::create(&conf)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, conf)
}

fn run_bin(conf: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pushpin"))
        .arg(format!("--config={}", conf.display()))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_or_busy_prometheus_port_stops_startup_with_one_line() {
    let (dir, conf) =
        temp_conf("[runner]\nhttp_port=127.0.0.1:0\n[handler]\n\nprometheus_port=nine\n");
    let (code, err) = run_bin(&conf);
    assert_eq!(code, Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("pushpin.conf:5: invalid value for 'prometheus_port'"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (dir, conf) = temp_conf(&format!(
        "[runner]\nhttp_port=127.0.0.1:0\n[proxy]\nprometheus_port=127.0.0.1:{port}\n"
    ));
    let (code, err) = run_bin(&conf);
    assert_eq!(code, Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (prometheus_port)"
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
