//! Prints the sizes of the per-connection futures (run with --nocapture).
mod support;

use std::sync::Arc;

use pushpin::server::io::ClientConn;

#[tokio::test]
#[ignore = "measurement"]
async fn future_sizes() {
    let p = support::Proxy::builder()
        .route("* 127.0.0.1:1")
        .start()
        .await;
    let ctx = p.app.context().clone();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (s2, peer) = l.accept().await.unwrap();
    drop(s);
    let mut conn = ClientConn::new(s2, pushpin::server::io::Peer::plain(peer));
    let (head, _) = pushpin::http1::parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 8192)
        .unwrap()
        .unwrap();
    let head = Arc::new(head);
    let route = ctx
        .routes
        .load()
        .find("x", "/", pushpin::routes::Proto::Http, false)
        .unwrap();
    {
        let f = pushpin::proxy::handle(&mut conn, head.clone(), route.clone(), &ctx, false, false);
        println!("proxy::handle {}", std::mem::size_of_val(&f));
    }
    {
        let f = pushpin::ws::handle(&mut conn, head.clone(), route.clone(), &ctx, false);
        println!("ws::handle {}", std::mem::size_of_val(&f));
    }
    let facts = pushpin::proxy::ClientFacts {
        peer: Some(peer.ip()),
        secure: false,
        trusted: false,
    };
    let rc = pushpin::proxy::RequestContext {
        head: head.clone(),
        route: route.clone(),
        forwarded_host: "x".into(),
        forwarded_path: "/".into(),
        body: None,
        debug: false,
        keep_alive: true,
        client: facts,
        cross: None,
    };
    let mut h = http::HeaderMap::new();
    h.insert("grip-hold", "stream".parse().unwrap());
    let ins = pushpin::grip::instruct::parse(200, "OK", &h, bytes::Bytes::new()).unwrap();
    {
        let f = pushpin::session::stream::run(&mut conn, &rc, ins.clone(), &ctx, None);
        println!("stream::run {}", std::mem::size_of_val(&f));
    }
    {
        let f = pushpin::session::longpoll::run(&mut conn, &rc, ins.clone(), &ctx);
        println!("longpoll::run {}", std::mem::size_of_val(&f));
    }
    println!("RequestContext {}", std::mem::size_of_val(&rc));
    println!("Instruct {}", std::mem::size_of_val(&ins));
    println!("ClientConn {}", std::mem::size_of::<ClientConn>());
    let stop = tokio_util::sync::CancellationToken::new();
    let permit = pushpin::server::permits::ClientPermits::new(1, 1)
        .acquire(1, &stop)
        .await
        .unwrap();
    let s3 = tokio::net::TcpStream::connect(addr).await.unwrap();
    let f = pushpin::server::conn::serve(
        s3,
        pushpin::server::io::Peer::plain(peer),
        ctx.clone(),
        permit,
    );
    println!("conn::serve {}", std::mem::size_of_val(&f));
}

#[tokio::test]
#[ignore = "measurement"]
async fn component_sizes() {
    let tok = tokio_util::sync::CancellationToken::new();
    let c = tok.cancelled();
    println!("cancelled {}", std::mem::size_of_val(&c));
    let s = tokio::time::sleep(std::time::Duration::from_secs(1));
    println!("sleep {}", std::mem::size_of_val(&s));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let st = tokio::net::TcpStream::connect(l.local_addr().unwrap())
        .await
        .unwrap();
    let r = st.readable();
    println!("readable {}", std::mem::size_of_val(&r));
    let w = st.writable();
    println!("writable {}", std::mem::size_of_val(&w));
    let cc = pushpin::session::common::client_closed(&st);
    println!("client_closed {}", std::mem::size_of_val(&cc));
    let inbox = pushpin::hub::Inbox::new(4);
    let mut v = Vec::new();
    let rf = inbox.recv(&mut v);
    println!("recv {}", std::mem::size_of_val(&rf));
    let wf = pushpin::server::io::write_all_vectored(&st, &[]);
    println!("write_all_vectored {}", std::mem::size_of_val(&wf));
    println!(
        "Instruct {}",
        std::mem::size_of::<pushpin::grip::instruct::Instruct>()
    );
    println!("Url {}", std::mem::size_of::<pushpin::grip::link::Url>());
}
