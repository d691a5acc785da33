//! The proxy under test, started in-process (the same `App::start` the
//! binary uses) on ephemeral ports.

use std::net::SocketAddr;
use std::time::Duration;

use pushpin::app::App;
use pushpin::config::{Config, RoutesSource};
use serde_json::{json, Value};

use super::client::{request, Response};

/// Builds a proxy config.
pub struct ProxyBuilder {
    config: Config,
    routes: Vec<String>,
}

impl ProxyBuilder {
    pub fn route(mut self, line: &str) -> Self {
        self.routes.push(line.to_owned());
        self
    }

    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    pub async fn start(mut self) -> Proxy {
        self.config.routes = RoutesSource::Lines(self.routes);
        let app = App::start(self.config).await.expect("proxy starts");
        Proxy {
            http: app.http_addrs[0],
            publish: app.publish_addr.expect("publish API"),
            app,
        }
    }
}

/// A running proxy.
pub struct Proxy {
    pub app: App,
    pub http: SocketAddr,
    pub publish: SocketAddr,
}

impl Proxy {
    pub fn builder() -> ProxyBuilder {
        let config = Config {
            listeners: vec!["127.0.0.1:0".parse().unwrap()],
            publish_addr: Some("127.0.0.1:0".parse().unwrap()),
            sig_key: b"changeme".to_vec(),
            ..Config::default()
        };
        ProxyBuilder {
            config,
            routes: Vec::new(),
        }
    }

    /// A proxy routing everything to `target`.
    pub async fn to(target: &str) -> Proxy {
        Proxy::builder().route(&format!("* {target}")).start().await
    }

    /// Publishes items; panics unless the API says 200.
    pub async fn publish(&self, items: Value) -> Response {
        let body = json!({ "items": items }).to_string();
        let r = request(
            self.publish,
            "POST",
            "/publish/",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "publish failed: {}", r.text());
        r
    }

    pub async fn publish_stream(&self, channel: &str, content: &str) {
        self.publish(
            json!([{ "channel": channel, "formats": { "http-stream": { "content": content } } }]),
        )
        .await;
    }

    /// `POST /recover` on the publish port.
    pub async fn recover(&self) -> Response {
        request(self.publish, "POST", "/recover", &[], b"").await
    }

    /// Waits until the hub has at least `n` subscribers on `channel`
    /// (polls; panics after 5 s of tokio time).
    pub async fn subscribed(&self, channel: &str, n: usize) {
        for _ in 0..500 {
            if self.app.context().hub.subscribers(channel) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{channel} never reached {n} subscribers");
    }

    /// Waits until `channel` has no subscribers left.
    pub async fn unsubscribed(&self, channel: &str) {
        for _ in 0..500 {
            if self.app.context().hub.subscribers(channel) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{channel} still has subscribers");
    }

    pub async fn stop(self) -> bool {
        self.app.shutdown(Duration::from_secs(10)).await
    }
}
