//! `local_ports`: HTTP over a Unix socket reaches backends as 1.36 sends
//! it (not secure, an empty X-Forwarded-For entry for the client), stream
//! holds get published items, and shutdown closes the connections and
//! removes the socket file.

mod support;

use std::path::PathBuf;

use pushpin::config::{XffRule, XfpMode};
use support::tls::{self, TempDir};
use support::{Backend, Proxy, Reply};
use tokio::net::UnixStream;

async fn local_proxy(routes: &[String]) -> (Proxy, PathBuf, TempDir) {
    let dir = TempDir::new("local");
    let path = dir.path("client.sock");
    // a stale file where the socket goes is replaced
    std::fs::write(&path, "stale").unwrap();
    let p2 = path.clone();
    let mut b = Proxy::builder().config(move |c| {
        c.local_listeners = vec![p2];
        c.set_xfp = XfpMode::ProtoOnly;
        c.xff = XffRule {
            truncate: None,
            append: true,
        };
    });
    for r in routes {
        b = b.route(r);
    }
    let p = b.start().await;
    assert_eq!(p.app.local_paths, vec![path.clone()]);
    (p, path, dir)
}

#[tokio::test]
async fn a_request_over_a_unix_socket_reaches_the_backend() {
    let b = Backend::start().await;
    b.fixed("/hello", || Reply::text(200, "hi\n"));
    let (p, path, _dir) = local_proxy(&[
        format!("*,ssl=yes,header=X-Via:tls {}", b.target()),
        format!("*,header=X-Via:plain {}", b.target()),
    ])
    .await;
    let mut s = UnixStream::connect(&path).await.unwrap();
    let r = tls::get(&mut s, "local.test", "/hello", &[]).await;
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, b"hi\n");
    let mut s = UnixStream::connect(&path).await.unwrap();
    let r = tls::get(
        &mut s,
        "local.test",
        "/hello",
        &[("X-Forwarded-For", "9.9.9.9")],
    )
    .await;
    assert_eq!(r.status, 200);

    let seen = b.wait_requests("/hello", 2).await;
    // not secure: the plain route, no X-Forwarded-Proto
    assert_eq!(seen[0].header("x-via"), Some("plain"));
    assert!(seen[0].header("x-forwarded-proto").is_none());
    // no address: nothing of its own, and an empty entry after others
    assert!(seen[0].header("x-forwarded-for").is_none());
    // sent as "9.9.9.9, "; the backend's parser drops the trailing space
    assert_eq!(seen[1].header("x-forwarded-for"), Some("9.9.9.9,"));
    assert!(p.stop().await);
}

#[tokio::test]
async fn a_stream_hold_over_a_unix_socket_gets_items_then_shutdown_ends_it() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("local-ch", "welcome\n"));
    let (p, path, _dir) = local_proxy(&[format!("* {}", b.target())]).await;
    let mut s = UnixStream::connect(&path).await.unwrap();
    tls::send_get(&mut s, "local.test", "/s", &[], false).await;
    let mut got = Vec::new();
    tls::read_until(&mut s, &mut got, b"welcome\n").await;
    p.subscribed("local-ch", 1).await;
    p.publish_stream("local-ch", "hello over unix\n").await;
    tls::read_until(&mut s, &mut got, b"hello over unix\n").await;

    assert!(p.stop().await);
    tls::read_to_end(&mut s, &mut got).await.unwrap();
    assert!(
        got.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(!path.exists(), "the socket file is removed on shutdown");
}

#[tokio::test]
async fn a_client_half_close_still_gets_its_answer() {
    use tokio::io::AsyncWriteExt;
    let b = Backend::start().await;
    b.fixed("/hc", || Reply::text(200, "after half close\n"));
    let (p, path, _dir) = local_proxy(&[format!("* {}", b.target())]).await;
    let mut s = UnixStream::connect(&path).await.unwrap();
    tls::send_get(&mut s, "local.test", "/hc", &[], false).await;
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    tls::read_to_end(&mut s, &mut got).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("after half close\n"), "{text}");
    assert!(p.stop().await);
}
