//! Start-up and shutdown: the binary's command line and exit codes, config
//! errors, and that shutdown ends every held connection.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::fs::{free_port, TempDir};
use support::{Backend, Proxy, RawClient, Reply};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpin"))
}

#[test]
fn version_and_help() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pushpin "));
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in ["--config", "--port", "--route", "--verbose", "--loglevel"] {
        assert!(help.contains(opt), "help lacks {opt}");
    }
    let out = bin().arg("--no-such-option").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_config_stops_startup_with_one_line() {
    let d = TempDir::new("life");
    let conf = d.write("pushpin.conf", "[runner]\nhttp_port=not-a-port\n");
    let out = bin()
        .arg(format!("--config={}", conf.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("pushpin.conf:2") && err.contains("http_port"),
        "{err}"
    );

    let routes = d.write("routes", "* 127.0.0.1:80\n*,path_beg= 127.0.0.1:81\n");
    let conf = d.write(
        "good.conf",
        &format!(
            "[runner]\nhttp_port={}\n[proxy]\nroutesfile={}\n",
            free_port(),
            routes.display()
        ),
    );
    let out = bin()
        .arg(format!("--config={}", conf.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("routes:2") && err.contains("path_beg"),
        "{err}"
    );

    let out = bin()
        .args(["--config", "/nonexistent/pushpin.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn sigterm_exits_zero_and_closes_connections() {
    let d = TempDir::new("life");
    let (http, publish) = (free_port(), free_port());
    let conf = d.write(
        "pushpin.conf",
        &format!("[runner]\nhttp_port=127.0.0.1:{http}\n[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port={publish}\n"),
    );
    let mut child = bin()
        .arg(format!("--config={}", conf.display()))
        .args(["--route", "* test"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = format!("127.0.0.1:{http}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = loop {
            if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
                drop(s);
                break RawClient::get(addr, "/stream").await;
            }
            assert!(Instant::now() < deadline, "proxy did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            c.read_until_contains(b"[stream opened]\n").await,
            b"[stream opened]\n"
        );
        let t0 = Instant::now();
        let kill = format!("kill -TERM {}", child.id());
        Command::new("sh").args(["-c", &kill]).status().unwrap();
        assert!(c.closed_within(Duration::from_secs(10)).await);
        assert!(c.complete, "the stream was ended cleanly");
        assert!(t0.elapsed() < Duration::from_secs(10));
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "did not exit within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn shutdown_ends_holds_with_their_goodbyes() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("sd", "start\n"));
    b.fixed("/lp", || {
        Reply::response_hold("sd", "timed out\n").header("Grip-Timeout", "60")
    });
    let p = Proxy::to(&b.target()).await;
    let mut stream = RawClient::get(p.http, "/s").await;
    stream.read_until_contains(b"start\n").await;
    let mut lp = RawClient::get(p.http, "/lp").await;
    b.wait_requests("/lp", 1).await;
    // let the proxy register the hold
    while p.app.context().hub.subscribers("sd") < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = tokio::spawn(async move { p.stop().await });
    assert_eq!(
        stream.read_to_end(Duration::from_secs(10)).await,
        b"start\n"
    );
    assert!(stream.complete);
    lp.read_head().await;
    assert_eq!(
        lp.read_to_end(Duration::from_secs(10)).await,
        b"timed out\n"
    );
    assert!(
        stopping.await.unwrap(),
        "every task ended before the deadline"
    );
}

/// Starts the binary with one route to a backend that reads requests and
/// never answers, and one request waiting on it. Returns the child and the
/// client socket (kept open).
fn proxy_with_request_on_hung_backend(d: &TempDir) -> (std::process::Child, std::net::TcpStream) {
    use std::io::Read;
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (got, arrived) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in backend.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 4096];
            if s.read(&mut buf).unwrap_or(0) > 0 {
                let _ = got.send(());
            }
            held.push(s);
        }
    });
    let http = free_port();
    let conf = d.write(
        "pushpin.conf",
        &format!("[runner]\nhttp_port=127.0.0.1:{http}\n"),
    );
    let child = bin()
        .arg(format!("--config={}", conf.display()))
        .args(["--route", &format!("* {backend_addr}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", http)) {
            break s;
        }
        assert!(Instant::now() < deadline, "proxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    client
        .write_all(b"GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .unwrap();
    arrived
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reached the backend");
    (child, client)
}

fn exit_within(child: &mut std::process::Child, wait: Duration) -> Option<i32> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_hung_backend_does_not_hold_shutdown_past_10s() {
    let d = TempDir::new("life");
    let (mut child, _client) = proxy_with_request_on_hung_backend(&d);
    let t0 = Instant::now();
    let kill = format!("kill -TERM {}", child.id());
    Command::new("sh").args(["-c", &kill]).status().unwrap();
    assert_eq!(exit_within(&mut child, Duration::from_secs(12)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

#[test]
fn a_second_stop_signal_exits_at_once() {
    let d = TempDir::new("life");
    let (mut child, _client) = proxy_with_request_on_hung_backend(&d);
    // two different signals, so they cannot merge into one
    let kill = format!("kill -TERM {0}; kill -INT {0}", child.id());
    let t0 = Instant::now();
    Command::new("sh").args(["-c", &kill]).status().unwrap();
    assert_eq!(exit_within(&mut child, Duration::from_secs(12)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}
