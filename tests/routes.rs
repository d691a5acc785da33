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

/// The headers a backend saw, as `name: value` lines (sorted by name).
fn seen(r: &support::Recorded) -> Vec<String> {
    let mut v: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?")))
        .collect();
    v.sort();
    v
}

/// `orig_headers` sends a marked copy of each client header (1.36's
/// `eb9bf0f5-` prefix) unless `orig_headers_need_mark` names it; marked
/// headers a client sends are kept there and dropped on other routes.
#[tokio::test]
async fn orig_headers_copies_what_the_client_sent() {
    let b = Backend::start().await;
    b.route("/", who("b"));
    let p = Proxy::builder()
        .config(|c| c.orig_headers_need_mark = vec!["cookie".into()])
        .route(&format!("*,path_beg=/o/,orig_headers {}", b.target()))
        .route(&format!("* {}", b.target()))
        .start()
        .await;
    let sent = [
        ("Host", "h.example"),
        ("X-Mine", "1"),
        ("Grip-Sig", "client-made"),
        ("Cookie", "c=1"),
        ("Eb9bf0f5-Cookie", "was=0"),
        ("Eb9bf0f5-Extra", "e"),
    ];
    request(p.http, "GET", "/o/x", &sent, b"").await;
    request(p.http, "GET", "/plain", &sent, b"").await;
    let with = seen(&b.requests("/o/x")[0]);
    for h in [
        "eb9bf0f5-host: h.example",
        "eb9bf0f5-x-mine: 1",
        "eb9bf0f5-grip-sig: client-made",
        "eb9bf0f5-cookie: was=0",
        "eb9bf0f5-extra: e",
        "x-mine: 1",
        "cookie: c=1",
    ] {
        assert!(with.iter().any(|s| s == h), "{h} missing from {with:?}");
    }
    assert!(
        !with.iter().any(|s| s == "eb9bf0f5-cookie: c=1"),
        "{with:?}"
    );
    assert!(!with
        .iter()
        .any(|s| s.ends_with("client-made") && s.starts_with("grip-sig")));
    let without = seen(&b.requests("/plain")[0]);
    assert!(
        !without.iter().any(|s| s.starts_with("eb9bf0f5-")),
        "{without:?}"
    );
}

/// With `accept_pushpin_route`, `Pushpin-Route: ID` picks the route with
/// that id whatever the host and path; an id two routes share is ignored;
/// an unknown one finds no route. The header is not forwarded.
#[tokio::test]
async fn pushpin_route_header_picks_a_route_by_id() {
    let (b1, b2) = (Backend::start().await, Backend::start().await);
    b1.route("/", who("b1"));
    b2.route("/", who("b2"));
    let routes = |p: support::proxy::ProxyBuilder| {
        p.route(&format!("*,id=main {}", b1.target()))
            .route(&format!("other.example,id=side {}", b2.target()))
            .route(&format!("*,path_beg=/s1/,id=twice {}", b2.target()))
            .route(&format!("*,path_beg=/s2/,id=twice {}", b2.target()))
    };
    let p = routes(Proxy::builder().config(|c| c.accept_pushpin_route = true))
        .start()
        .await;
    let get = |id: &'static str| {
        let addr = p.http;
        async move {
            request(
                addr,
                "GET",
                "/x",
                &[("Host", "h.example"), ("Pushpin-Route", id)],
                b"",
            )
            .await
        }
    };
    assert_eq!(get("side").await.text(), "b2 /x host=h.example\n");
    assert_eq!(get("twice").await.text(), "b1 /x host=h.example\n");
    let r = get("nope").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (502, "No route for host: h.example\n")
    );
    assert!(b2
        .requests("/x")
        .iter()
        .all(|r| r.header("pushpin-route").is_none()));

    // off (the default): the header is an ordinary one
    let p = routes(Proxy::builder()).start().await;
    let r = request(
        p.http,
        "GET",
        "/y",
        &[("Host", "h.example"), ("Pushpin-Route", "side")],
        b"",
    )
    .await;
    assert_eq!(r.text(), "b1 /y host=h.example\n");
    assert_eq!(b1.requests("/y")[0].header("pushpin-route"), Some("side"));
}

/// A request with a body for a host without a route gets its 502; the body
/// is read and dropped (never taken for a request of its own) and the
/// connection goes on, as in 1.36.
#[tokio::test]
async fn an_unrouted_requests_body_is_dropped_and_the_connection_kept() {
    let b = Backend::start().await;
    b.route("/", who("b"));
    let p = Proxy::builder()
        .route(&format!("known.example {}", b.target()))
        .start()
        .await;
    let mut s = tokio::net::TcpStream::connect(p.http).await.unwrap();
    let inner = "GET /smuggled HTTP/1.1\r\nHost: known.example\r\n\r\n";
    let req = format!(
        "POST /x HTTP/1.1\r\nHost: nowhere.example\r\nContent-Length: {}\r\n\r\n{inner}\
         GET /next HTTP/1.1\r\nHost: known.example\r\nConnection: close\r\n\r\n",
        inner.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut s, req.as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut got),
    )
    .await
    .expect("closed after the second answer")
    .unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 502 "), "{got}");
    assert_eq!(got.matches("HTTP/1.1 ").count(), 2, "{got}");
    assert!(got.ends_with("b /next host=known.example\n"), "{got}");
    assert!(b.requests("/smuggled").is_empty());
}

/// An unrouted request whose body is too long to read for nothing (over
/// 100,000 bytes), or that waits for `100 Continue`, is answered and its
/// connection closed.
#[tokio::test]
async fn an_unrouted_request_with_a_long_or_awaited_body_closes() {
    let p = Proxy::builder()
        .route("known.example 127.0.0.1:9")
        .start()
        .await;
    for extra in [
        vec![("Content-Length", "200000")],
        vec![("Content-Length", "10"), ("Expect", "100-continue")],
    ] {
        let mut headers = vec![("Host", "nowhere.example")];
        headers.extend(extra);
        let mut c = support::RawClient::connect(p.http).await;
        let mut req = "POST /x HTTP/1.1\r\n".to_owned();
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        c.send_raw(req.as_bytes()).await;
        c.read_head().await;
        assert_eq!(c.status, Some(502), "{headers:?}");
        assert!(
            c.closed_within(std::time::Duration::from_secs(5)).await,
            "{headers:?}"
        );
    }
}
