//! A flood of client connections up to the open-file limit: the proxy keeps
//! descriptors back for everything else, so publishing still works, the
//! clients it serves get their items, and the ones over the limit wait in
//! the listen queue until others leave.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fs::{free_port, TempDir};
use support::{request, RawClient};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Streams answered by the proxy's `test` target, opened until `n`.
async fn open_streams(http: SocketAddr, n: usize) -> Vec<RawClient> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = RawClient::connect(http).await;
        c.send_request("GET", "/stream", &[], b"").await;
        out.push(c);
    }
    out
}

/// Starts the binary under `ulimit -n 256` with `runner` lines added to
/// its `[runner]` section; returns it with its client and publish ports.
async fn start_limited(name: &str, runner: &str) -> (Killed, SocketAddr, SocketAddr, TempDir) {
    let (http, publish) = (free_port(), free_port());
    let dir = TempDir::new(&format!("flood-{name}"));
    let conf = dir.path("pushpin.conf");
    std::fs::write(
        &conf,
        format!(
            "[runner]\nhttp_port=127.0.0.1:{http}\n{runner}[handler]\n\
             push_in_http_addr=127.0.0.1\npush_in_http_port={publish}\n"
        ),
    )
    .unwrap();
    let script = format!(
        "ulimit -n 256 && exec {} --config={} --route='* test'",
        env!("CARGO_BIN_EXE_pushpin"),
        conf.display()
    );
    let proxy = Killed(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let publish: SocketAddr = format!("127.0.0.1:{publish}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(publish).await.is_err() {
        assert!(Instant::now() < deadline, "proxy did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (proxy, http, publish, dir)
}

#[tokio::test]
async fn clients_over_the_open_file_limit_wait_and_publishing_goes_on() {
    // 256 open files: 192 client connections are served (a tenth, at
    // least 64, is kept back)
    const SERVED: usize = 192;
    let (_proxy, http, publish, _dir) = start_limited("plain", "").await;

    let mut served = open_streams(http, SERVED).await;
    for c in &mut served {
        c.read_until_contains(b"[stream opened]\n").await;
        assert_eq!(c.status, Some(200));
    }
    // these wait in the listen queue: no descriptor is spent on them
    let mut waiting = open_streams(http, 8).await;

    let item = serde_json::json!({"items": [{"channel": "test",
        "formats": {"http-stream": {"content": "still publishing\n"}}}]});
    let r = request(
        publish,
        "POST",
        "/publish/",
        &[("Content-Type", "application/json")],
        item.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for c in &mut served {
        assert!(c
            .read_until_contains(b"still publishing\n")
            .await
            .ends_with(b"still publishing\n"));
    }
    for c in &mut waiting {
        c.read_until(|_| false, Duration::from_millis(100)).await;
        assert_eq!(c.status, None, "nothing is answered over the limit");
    }

    // as served clients leave, the waiting ones are taken
    served.truncate(SERVED - 8);
    for c in &mut waiting {
        c.read_until_contains(b"[stream opened]\n").await;
        assert_eq!(c.status, Some(200));
    }
}

/// A TLS listener beside the plain one does not shrink what plain clients
/// get: they count one descriptor each, TLS clients three.
#[tokio::test]
async fn plain_clients_keep_their_share_when_tls_is_configured() {
    let https = free_port();
    let (_proxy, http, _publish, _dir) =
        start_limited("tls", &format!("https_ports=127.0.0.1:{https}\n")).await;
    // more than a third of the 192 descriptors: all served
    let mut served = open_streams(http, 150).await;
    for c in &mut served {
        c.read_until_contains(b"[stream opened]\n").await;
        assert_eq!(c.status, Some(200));
    }
}
