use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::publish_cli::url;

fn rejected(resp: &[u8]) -> String {
    match parse_response(resp) {
        Err(PublishCliError::Rejected(body)) => body,
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_bytes() {
    let u = url::parse("http://Example.com:5561/prefix").unwrap();
    assert_eq!(
        request(&u, None, b"{}"),
        b"POST /prefix/publish/ HTTP/1.0\r\nHost: Example.com:5561\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    );
}

#[test]
fn request_with_basic_auth() {
    let u = url::parse("https://h").unwrap();
    let req = String::from_utf8(request(&u, Some("user:pass"), b"")).unwrap();
    assert_eq!(
        req,
        "POST /publish/ HTTP/1.0\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 0\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n"
    );
    // the value is encoded as given, colon or not
    let req = String::from_utf8(request(&u, Some(""), b"")).unwrap();
    assert!(req.contains("\r\nAuthorization: Basic \r\n"), "{req}");
}

#[test]
fn status_200_is_success_whatever_the_body() {
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nPublished\n").is_ok());
    assert!(parse_response(b"HTTP/1.0 200 OK\r\n\r\n").is_ok());
    assert!(parse_response(b"HTTP/1.0 +200 OK\n\n").is_ok());
    assert!(parse_response(b"X 200 whatever\r\n   \r\nignored").is_ok());
}

#[test]
fn other_statuses_fail_with_the_trimmed_body() {
    assert_eq!(
        rejected(b"HTTP/1.0 400 Bad Request\r\nA: b\r\n\r\n  Invalid JSON.\n\n"),
        "Invalid JSON."
    );
    assert_eq!(rejected(b"HTTP/1.0 201 Created\r\n\r\n"), "");
    assert_eq!(
        rejected(b"HTTP/1.0 500 X\r\n\r\nline1\r\nline2\r\n"),
        "line1\r\nline2"
    );
}

#[test]
fn malformed_status_lines() {
    for resp in [
        &b"HTTP/1.0 200\r\n\r\n"[..],
        b"HTTP/1.0 200 \r\n\r\n", // trimmed first, so no second space
        b"HTTP/1.0 abc OK\r\n\r\n",
        b"\r\n\r\n",
        b"garbage",
    ] {
        let e = parse_response(resp).unwrap_err();
        assert_eq!(e.to_string(), "invalid data", "{resp:?}");
    }
}

#[test]
fn truncated_and_non_utf8_responses() {
    for resp in [&b""[..], b"HTTP/1.0 200 OK\r\n", b"HTTP/1.0 200 OK\r\nA: b"] {
        let e = parse_response(resp).unwrap_err();
        assert_eq!(e.to_string(), "unexpected end of file", "{resp:?}");
    }
    for resp in [
        &b"HTTP/1.0 200 OK\r\nA: \xff\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\n\r\n\xff",
    ] {
        let e = parse_response(resp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stream did not contain valid UTF-8",
            "{resp:?}"
        );
    }
}

/// A one-shot server: reads the request (to its declared length), answers
/// `reply`, closes; returns what it read.
async fn one_shot(reply: &'static [u8]) -> (GripUrl, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            if n == 0 || request_complete(&got) {
                break;
            }
        }
        s.write_all(reply).await.unwrap();
        got
    });
    (url::parse(&format!("http://{addr}")).unwrap(), task)
}

fn request_complete(got: &[u8]) -> bool {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = std::str::from_utf8(&got[..end]).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    got.len() >= end + 4 + len
}

#[tokio::test]
async fn send_posts_and_reads_to_close() {
    let (u, server) = one_shot(b"HTTP/1.0 200 OK\r\n\r\nPublished\n").await;
    send(&u, None, b"{\"items\":[]}").await.unwrap();
    let got = server.await.unwrap();
    assert_eq!(got, request(&u, None, b"{\"items\":[]}"));
}

#[tokio::test]
async fn send_reports_a_refusal() {
    let (u, server) = one_shot(b"HTTP/1.0 400 Bad Request\r\n\r\nInvalid request.\n").await;
    let e = send(&u, None, b"{}").await.unwrap_err();
    assert_eq!(e.to_string(), "Invalid request.");
    server.await.unwrap();
}

#[tokio::test]
async fn basic_auth_needs_https_before_connecting() {
    // nothing listens there: the check comes first
    let u = url::parse("http://127.0.0.1:9").unwrap();
    let e = send(&u, Some("a:b"), b"{}").await.unwrap_err();
    assert_eq!(e.to_string(), "Authentication requires https");
}

#[tokio::test]
async fn connection_refused_is_the_os_message() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let u = url::parse(&format!("http://{addr}")).unwrap();
    let e = send(&u, None, b"{}").await.unwrap_err();
    assert!(
        matches!(&e, PublishCliError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("Connection refused"), "{e}");
}
