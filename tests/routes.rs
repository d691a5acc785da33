//! Routing over real sockets: domains, path prefixes, rewriting options.

mod support;

use support::{request, Backend, Proxy, Reply};

fn who(name: &'static str) -> impl Fn(support::Recorded) -> std::future::Ready<Reply> + Clone {
    move |r: support::Recorded| {
        std::future::ready(Reply::text(
            200,
            format!(
                "{name} {} host={}\n",
                r.path_and_query,
                r.header("host").unwrap_or("")
            ),
        ))
    }
}

#[tokio::test]
async fn path_prefix_and_domain_routes() {
    let b1 = Backend::start().await;
    let b2 = Backend::start().await;
    b1.route("/", who("b1"));
    b2.route("/", who("b2"));
    let p = Proxy::builder()
        .route(&format!("alpha.example {}", b2.target()))
        .route(&format!("*,path_beg=/b2/ {}", b2.target()))
        .route(&format!("* {}", b1.target()))
        .start()
        .await;
    let host = |h| [("Host", h)];
    assert_eq!(
        request(p.http, "GET", "/x", &host("z.example"), b"")
            .await
            .text(),
        "b1 /x host=z.example\n"
    );
    assert_eq!(
        request(p.http, "GET", "/b2/x", &host("z.example"), b"")
            .await
            .text(),
        "b2 /b2/x host=z.example\n"
    );
    assert_eq!(
        request(p.http, "GET", "/d", &host("alpha.example"), b"")
            .await
            .text(),
        "b2 /d host=alpha.example\n"
    );
    // a domain matches with or without the port
    assert_eq!(
        request(p.http, "GET", "/d", &host("ALPHA.example:7999"), b"")
            .await
            .text(),
        "b2 /d host=alpha.example:7999\n"
    );
}

#[tokio::test]
async fn longest_prefix_wins_whatever_the_order() {
    let short = Backend::start().await;
    let long = Backend::start().await;
    short.route("/", who("short"));
    long.route("/", who("long"));
    let p = Proxy::builder()
        .route(&format!("*,path_beg=/api/ {}", short.target()))
        .route(&format!("*,path_beg=/api/v2/ {}", long.target()))
        .start()
        .await;
    assert!(request(p.http, "GET", "/api/v1/a", &[], b"")
        .await
        .text()
        .starts_with("short"));
    assert!(request(p.http, "GET", "/api/v2/a", &[], b"")
        .await
        .text()
        .starts_with("long"));
    assert_eq!(request(p.http, "GET", "/other", &[], b"").await.status, 502);
}

#[tokio::test]
async fn as_host_replace_beg_and_target_host() {
    let b = Backend::start().await;
    b.route("/", who("b"));
    let p = Proxy::builder()
        .route(&format!(
            "*,path_beg=/ashost/,as_host=Rewritten.example:8080 {}",
            b.target()
        ))
        .route(&format!(
            "*,path_beg=/old/,replace_beg=/new/ {}",
            b.target()
        ))
        .route(&format!(
            "*,path_beg=/th/ {},host=target.example",
            b.target()
        ))
        .start()
        .await;
    let h = [("Host", "client.example")];
    assert_eq!(
        request(p.http, "GET", "/ashost/a", &h, b"").await.text(),
        "b /ashost/a host=rewritten.example:8080\n"
    );
    assert_eq!(
        request(p.http, "GET", "/old/a?q=1", &h, b"").await.text(),
        "b /new/a?q=1 host=client.example\n"
    );
    assert_eq!(
        request(p.http, "GET", "/th/a", &h, b"").await.text(),
        "b /th/a host=target.example\n"
    );
}

#[tokio::test]
async fn route_headers_are_set() {
    let b = Backend::start().await;
    b.route("/", |r| async move {
        Reply::text(200, r.header("x-route").unwrap_or("none").to_owned())
    });
    let p = Proxy::builder()
        .route(&format!("*,header=\"X-Route: yes\" {}", b.target()))
        .start()
        .await;
    assert_eq!(
        request(p.http, "GET", "/", &[("X-Route", "client")], b"")
            .await
            .text(),
        "yes"
    );
}

/// 1.36 looks routes up by the request's host without its port, so a
/// routes line whose domain has a port is dead and `*` answers instead.
#[tokio::test]
async fn domain_with_a_port_never_matches() {
    let star = Backend::start().await;
    let ported = Backend::start().await;
    star.route("/", who("star"));
    ported.route("/", who("ported"));
    let p = Proxy::builder()
        .route(&format!("alpha.example:8080 {}", ported.target()))
        .route(&format!("* {}", star.target()))
        .start()
        .await;
    for host in ["alpha.example:8080", "alpha.example"] {
        let r = request(p.http, "GET", "/d", &[("Host", host)], b"").await;
        assert_eq!(r.text(), format!("star /d host={host}\n"));
    }
    assert!(ported.requests("/").is_empty());
}
