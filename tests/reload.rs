//! Reloading the routes file while the proxy runs: a changed file is picked
//! up on its own, SIGHUP reloads at once, a broken file keeps the routes in
//! use, and connections held through the old routes carry on.

mod support;

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fs::{free_port, TempDir};
use support::{request, Backend, RawClient, Reply};

/// The proxy binary, started on a config whose routes file is `routes`.
struct Running {
    child: Child,
    http: SocketAddr,
    publish: SocketAddr,
    log: PathBuf,
    routes: PathBuf,
    _dir: TempDir,
}

impl Running {
    async fn start(routes: &str) -> Running {
        let dir = TempDir::new("reload");
        let routes_path = dir.0.join("routes");
        std::fs::write(&routes_path, routes).unwrap();
        let (http, publish) = (free_port(), free_port());
        let conf = dir.0.join("pushpin.conf");
        std::fs::write(
            &conf,
            format!(
                "[runner]\nhttp_port=127.0.0.1:{http}\n[proxy]\nroutesfile=routes\n\
                 [handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port={publish}\n"
            ),
        )
        .unwrap();
        let log = dir.0.join("out.log");
        let child = Command::new(env!("CARGO_BIN_EXE_pushpin"))
            .arg(format!("--config={}", conf.display()))
            .stdout(File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Running {
            child,
            http: format!("127.0.0.1:{http}").parse().unwrap(),
            publish: format!("127.0.0.1:{publish}").parse().unwrap(),
            log,
            routes: routes_path,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(r.publish).await.is_err() {
            assert!(Instant::now() < deadline, "proxy did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        r
    }

    async fn body(&self, path: &str) -> String {
        request(self.http, "GET", path, &[], b"").await.text()
    }

    /// Polls until `GET path` answers `want` (the reload is not an event a
    /// client can wait on, only its effect is).
    async fn wait_body(&self, path: &str, want: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.body(path).await;
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {got:?} instead of {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the proxy's log has `n` lines containing `needle`.
    async fn wait_log(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.matches(needle).count() >= n {
                return;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in log:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One routes line padded with a comment to a fixed length, so that files
/// made of such lines differ in their text only.
fn padded(line: &str) -> String {
    format!("{line} #{}\n", "x".repeat(60 - line.len()))
}

/// Replaces the file's text (of the same length) but keeps its modification
/// time, so only a SIGHUP can make the proxy notice.
fn rewrite_keeping_mtime(path: &Path, text: &str) {
    let meta = std::fs::metadata(path).unwrap();
    assert_eq!(meta.len(), text.len() as u64);
    let mtime = meta.modified().unwrap();
    std::fs::write(path, text).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

async fn named_backend(name: &'static str) -> Backend {
    let b = Backend::start().await;
    b.route("/who", move |_| async move { Reply::text(200, name) });
    b
}

#[tokio::test]
async fn a_changed_routes_file_is_picked_up_and_a_broken_one_keeps_the_routes() {
    let (a, b) = (named_backend("a").await, named_backend("b").await);
    let p = Running::start(&format!("* {}\n", a.target())).await;
    assert_eq!(p.body("/who").await, "a");

    let mut f = File::create(&p.routes).unwrap();
    writeln!(f, "# moved\n* {}", b.target()).unwrap();
    drop(f);
    p.wait_body("/who", "b", Duration::from_secs(10)).await;
    p.wait_log("routes reloaded", 1).await;

    std::fs::write(
        &p.routes,
        format!("* {}\n* 127.0.0.1:notaport\n", a.target()),
    )
    .unwrap();
    p.wait_log("routes not reloaded", 1).await;
    assert_eq!(p.body("/who").await, "b", "the last good routes stay");

    // a file that is fixed again is taken
    std::fs::write(&p.routes, format!("* {}\n", a.target())).unwrap();
    p.wait_body("/who", "a", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn sighup_reloads_the_routes_file() {
    let (a, b) = (named_backend("a").await, named_backend("b").await);
    let p = Running::start(&padded(&format!("* {}", a.target()))).await;
    assert_eq!(p.body("/who").await, "a");

    // the watcher sees no change: only the signal reloads
    rewrite_keeping_mtime(&p.routes, &padded(&format!("* {}", b.target())));
    p.signal("HUP");
    p.wait_log("routes reloaded", 1).await;
    assert_eq!(p.body("/who").await, "b");

    // a broken file on SIGHUP keeps the current routes and the proxy runs on
    rewrite_keeping_mtime(&p.routes, &padded("* 127.0.0.1:notaport"));
    p.signal("HUP");
    p.wait_log("routes not reloaded", 1).await;
    assert_eq!(p.body("/who").await, "b");
}

#[tokio::test]
async fn a_stream_held_through_the_old_routes_keeps_receiving() {
    let a = Backend::start().await;
    a.fixed("/s", || Reply::stream_hold("reload-ch", "open\n"));
    let b = named_backend("b").await;
    let p = Running::start(&format!("* {}\n", a.target())).await;
    let mut held = RawClient::get(p.http, "/s").await;
    held.read_until_contains(b"open\n").await;

    std::fs::write(&p.routes, format!("* {}\n", b.target())).unwrap();
    p.wait_body("/who", "b", Duration::from_secs(10)).await;

    let item = serde_json::json!({"items": [{"channel": "reload-ch",
        "formats": {"http-stream": {"content": "after reload\n"}}}]});
    let r = request(
        p.publish,
        "POST",
        "/publish/",
        &[("Content-Type", "application/json")],
        item.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        held.read_until_contains(b"after reload\n").await,
        b"open\nafter reload\n"
    );
}
