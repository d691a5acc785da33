//! The `pushpin-publish` binary over real sockets: published into a stream
//! held by the in-process proxy (`* test` route), `GRIP_URL`, the publish
//! API's refusals, https with basic auth against a TLS server with a test
//! CA, and the refusal of ZeroMQ specs.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{request, Proxy, RawClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What one run of the binary printed and returned.
#[derive(Debug, PartialEq)]
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary (off the runtime, which keeps serving the proxy).
/// `GRIP_URL`, `SSL_CERT_FILE` and `SSL_CERT_DIR` are unset unless in `env`.
async fn publish_cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushpin-publish"));
    cmd.args(args);
    for var in ["GRIP_URL", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .unwrap();
    Run {
        status: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn published() -> Run {
    Run {
        status: Some(0),
        stdout: "Published\n".into(),
        stderr: String::new(),
    }
}

/// A stream held on `channel` by the `test` target, subscribed.
async fn held_stream(p: &Proxy, channel: &str) -> RawClient {
    let mut c = RawClient::get(p.http, &format!("/stream?channel={channel}")).await;
    assert_eq!(
        c.read_until_contains(b"[stream opened]\n").await,
        b"[stream opened]\n"
    );
    p.subscribed(channel, 1).await;
    c
}

fn spec(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

#[tokio::test]
async fn content_reaches_a_held_stream_then_close_ends_it() {
    let p = Proxy::to("test").await;
    let mut c = held_stream(&p, "cli").await;
    let spec = spec(p.publish);
    assert_eq!(
        publish_cli(&["--spec", &spec, "cli", "hello"], &[]).await,
        published()
    );
    assert_eq!(
        c.read_until_contains(b"hello\n").await,
        b"[stream opened]\nhello\n"
    );
    assert_eq!(
        publish_cli(&["--spec", &spec, "--no-eol", "cli", "world"], &[]).await,
        published()
    );
    assert_eq!(
        c.read_until_contains(b"world").await,
        b"[stream opened]\nhello\nworld"
    );
    assert_eq!(
        publish_cli(&["--spec", &spec, "--close", "cli"], &[]).await,
        published()
    );
    assert_eq!(
        c.read_to_end(Duration::from_secs(5)).await,
        b"[stream opened]\nhello\nworld"
    );
    assert!(c.complete, "the stream's body ended");
    p.unsubscribed("cli").await;
}

#[tokio::test]
async fn file_content_and_other_channels() {
    let p = Proxy::to("test").await;
    let mut other = held_stream(&p, "other").await;
    let mut c = held_stream(&p, "files").await;
    let dir = std::env::temp_dir().join(format!("pushpin-publish-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("content.txt");
    std::fs::write(&file, b"from a file\n").unwrap();
    let at = format!("@{}", file.display());
    let r = publish_cli(&["--spec", &spec(p.publish), "files", &at], &[]).await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(r, published());
    assert_eq!(
        c.read_until_contains(b"file\n").await,
        b"[stream opened]\nfrom a file\n"
    );
    // a stream on another channel got nothing
    assert_eq!(
        publish_cli(&["--spec", &spec(p.publish), "other", "mine"], &[]).await,
        published()
    );
    assert_eq!(
        other.read_until_contains(b"mine\n").await,
        b"[stream opened]\nmine\n"
    );
}

#[tokio::test]
async fn grip_url_is_the_default_spec() {
    let p = Proxy::to("test").await;
    let mut c = held_stream(&p, "env").await;
    let url = spec(p.publish);
    let r = publish_cli(&["env", "via GRIP_URL"], &[("GRIP_URL", &url)]).await;
    assert_eq!(r, published());
    assert_eq!(
        c.read_until_contains(b"GRIP_URL\n").await,
        b"[stream opened]\nvia GRIP_URL\n"
    );
}

#[tokio::test]
async fn a_refusal_prints_the_api_body() {
    let p = Proxy::to("test").await;
    // the URL's path goes before /publish/, where this API has nothing
    let direct = request(p.publish, "POST", "/nope/publish/", &[], b"{}").await;
    assert_ne!(direct.status, 200);
    let r = publish_cli(
        &["--spec", &format!("{}/nope", spec(p.publish)), "c", "x"],
        &[],
    )
    .await;
    assert_eq!(
        r,
        Run {
            status: Some(1),
            stdout: String::new(),
            stderr: format!("Error: {}\n", direct.text().trim()),
        }
    );
}

#[tokio::test]
async fn zeromq_specs_are_refused_in_one_line() {
    for zmq in ["tcp://127.0.0.1:5560", "ipc:///tmp/pushpin-in"] {
        let r = publish_cli(&["--spec", zmq, "c", "x"], &[]).await;
        assert_eq!((r.status, r.stdout.as_str()), (Some(1), ""), "{zmq}");
        assert!(
            r.stderr.starts_with("Error: ZeroMQ is not supported"),
            "{r:?}"
        );
        assert!(r.stderr.contains(zmq), "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
}

#[tokio::test]
async fn usage_errors_exit_1_help_exits_0() {
    let r = publish_cli(&[], &[]).await;
    assert_eq!((r.status, r.stdout.as_str()), (Some(1), ""));
    assert!(r.stderr.starts_with("error:"), "{r:?}");
    let r = publish_cli(&["--help"], &[]).await;
    assert_eq!((r.status, r.stderr.as_str()), (Some(0), ""));
    assert!(r.stdout.contains("Usage: pushpin-publish"), "{r:?}");
    // a check of 1.36's, after the command line parsed
    let r = publish_cli(
        &["--spec", "http://127.0.0.1:9", "-u", "a:b", "c", "x"],
        &[],
    )
    .await;
    assert_eq!(
        r,
        Run {
            status: Some(1),
            stdout: String::new(),
            stderr: "Error: Authentication requires https\n".into(),
        }
    );
}

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

/// A TLS server (test CA) that answers one request with `200` and returns
/// the request it read.
async fn tls_server() -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_file("localhost.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_file("localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(mut tls) = acceptor.accept(tcp).await else {
            return Vec::new();
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !request_complete(&got) {
            let n = tls.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        tls.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nPublished\n")
            .await
            .unwrap();
        tls.shutdown().await.unwrap();
        got
    });
    (addr, task)
}

fn request_complete(got: &[u8]) -> bool {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&got[..end]);
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + len
}

#[tokio::test]
async fn https_with_basic_auth_and_the_system_trust_store() {
    let (addr, server) = tls_server().await;
    let url = format!("https://localhost:{}/grip", addr.port());
    let ca = tls_file("ca.pem");
    let r = publish_cli(
        &["--spec", &url, "-u", "user:pass", "c", "x"],
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    )
    .await;
    assert_eq!(r, published());
    let got = String::from_utf8(server.await.unwrap()).unwrap();
    let (head, body) = got.split_once("\r\n\r\n").unwrap();
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "POST /grip/publish/ HTTP/1.0".to_owned(),
            format!("Host: localhost:{}", addr.port()),
            "Content-Type: application/json".into(),
            format!("Content-Length: {}", body.len()),
            "Authorization: Basic dXNlcjpwYXNz".into(),
        ]
    );
    let item: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(item["items"][0]["channel"], "c");
}

#[tokio::test]
async fn https_to_an_untrusted_server_fails() {
    let (addr, server) = tls_server().await;
    // trust only the server's own certificate, not the CA that signed it
    let leaf = tls_file("localhost.pem");
    let r = publish_cli(
        &[
            "--spec",
            &format!("https://127.0.0.1:{}", addr.port()),
            "c",
            "x",
        ],
        &[("SSL_CERT_FILE", leaf.to_str().unwrap())],
    )
    .await;
    assert_eq!((r.status, r.stdout.as_str()), (Some(1), ""), "{r:?}");
    assert!(
        r.stderr.starts_with("Error: invalid peer certificate"),
        "{r:?}"
    );
    assert_eq!(server.await.unwrap(), b"");
}
