//! WebSocket-over-HTTP (`over_http` targets, spec §7 and §14.1): the proxy
//! terminates the client's WebSocket and talks to the backend in `POST`s of
//! `application/websocket-events`. The client is tokio-tungstenite; the
//! backend is the [`Backend`] fixture decoding each request's events and
//! answering with scripted ones (or, for connection failures, a bare TCP
//! origin, `wsoverhttp/raw_origin.rs`). Timing cases run on tokio's paused
//! clock.

mod support;

#[path = "wsoverhttp/fixtures.rs"]
mod fixtures;
#[path = "wsoverhttp/raw_origin.rs"]
mod raw_origin;

use std::time::Duration;

use bytes::Bytes;
use fixtures::*;
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use pushpin::config::XffRule;
use pushpin::grip::sig::verify_hs256;
use pushpin::wsoverhttp::events::{encode, Event, EventKind};
use raw_origin::RawOrigin;
use serde_json::json;
use support::{Backend, Proxy, Reply};
use tokio::net::TcpListener;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

// ------------------------------------------------------- requests and events

#[tokio::test]
async fn client_messages_are_posted_as_events_with_forwarded_headers() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, evs| {
        if n == 0 {
            return events(&[Event::open()]);
        }
        match evs.iter().find(|e| e.kind == EventKind::Close) {
            Some(c) => events(std::slice::from_ref(c)),
            None => events(&[]),
        }
    });
    let p = Proxy::builder()
        .route(&format!("* {},over_http", b.target()))
        .config(|c| {
            c.xff = XffRule {
                truncate: None,
                append: true,
            }
        })
        .start()
        .await;
    let mut ws = connect_with(
        &p,
        "/ws?room=1",
        &[
            ("X-Custom", "yes"),
            ("Cookie", "a=b"),
            ("Origin", "http://example.com"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("Meta-User", "mallory"),
            ("Connection-Id", "forged"),
        ],
    )
    .await;
    // Grip-Sig tokens are made per second: wait for a later one
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let alphabet: Vec<u8> = (b'a'..=b'z').collect();
    send_text(&mut ws, "hello").await;
    ws.send(Message::Binary(alphabet.clone().into()))
        .await
        .unwrap();
    ws.send(Message::Ping(Bytes::from_static(b"ping")))
        .await
        .unwrap();
    ws.send(Message::Pong(Bytes::from_static(b"pong")))
        .await
        .unwrap();
    ws.send(close_msg(4000, "bye")).await.unwrap();
    // the socket ends (whether with a close frame: see
    // a_client_close_is_answered_with_a_close)
    drain(&mut ws, WAIT).await;

    let all = log.all();
    assert!(all.len() >= 2, "{all:#?}");
    assert_eq!(&all[0].req.body[..], b"OPEN\r\n");
    let rest: Vec<u8> = all[1..]
        .iter()
        .flat_map(|s| s.req.body.iter().copied())
        .collect();
    let mut want = b"TEXT 5\r\nhello\r\nBINARY 1a\r\n".to_vec();
    want.extend_from_slice(&alphabet);
    want.extend_from_slice(b"\r\nPING 4\r\nping\r\nPONG 4\r\npong\r\nCLOSE 5\r\n\x0f\xa0bye\r\n");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        String::from_utf8_lossy(&want)
    );

    let cid = all[0].req.header("connection-id").unwrap().to_owned();
    assert!(!cid.is_empty() && cid != "forged");
    // a hyphenated version 4 UUID, as 1.36 sends
    let groups: Vec<usize> = cid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{cid}");
    assert_eq!(&cid[14..15], "4", "{cid}");
    for s in &all {
        let r = &s.req;
        assert_eq!(r.method, "POST");
        assert_eq!(r.path_and_query, "/ws?room=1");
        assert_eq!(r.header_all("content-type"), vec![EVENTS]);
        assert_eq!(r.header_all("accept"), vec![EVENTS]);
        assert_eq!(r.header_all("connection-id"), vec![cid.clone()]);
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        let sig = r.header("grip-sig").expect("Grip-Sig on every request");
        assert!(verify_hs256(sig, b"changeme"), "invalid Grip-Sig {sig}");
        assert_eq!(
            r.header_all("x-forwarded-for"),
            vec!["203.0.113.7, 127.0.0.1"],
            "client address appended exactly once"
        );
        assert_eq!(r.header("x-custom"), Some("yes"));
        assert_eq!(r.header("cookie"), Some("a=b"));
        assert_eq!(r.header("origin"), Some("http://example.com"));
        assert_eq!(r.header("sec-websocket-version"), Some("13"));
        assert!(r.header("sec-websocket-key").is_some());
        assert_eq!(r.header("sec-websocket-extensions"), Some("grip"));
        assert!(r.header("upgrade").is_none());
        assert!(r.header("meta-user").is_none(), "clients cannot set meta");
    }
    // a fresh token for later requests, not the opening one's
    let first = token_exp(all[0].req.header("grip-sig").unwrap());
    let last = token_exp(all.last().unwrap().req.header("grip-sig").unwrap());
    assert!(last > first, "Grip-Sig not regenerated ({first} vs {last})");
    // a clean close sends no DISCONNECT
    log.quiet(all.len(), Duration::from_millis(300)).await;
}

#[tokio::test]
async fn backend_events_reach_the_client() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, evs| match n {
        0 => events(&[Event::open(), Event::text("welcome")]),
        _ if evs.first().is_some_and(|e| e.payload() == b"go") => events(&[
            Event::text("one"),
            Event::binary(vec![0u8, 1, 2, 255]),
            Event::pong("pg"),
            Event::ping("hb"),
            Event::text("two"),
        ]),
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    assert_eq!(next_text(&mut ws).await, "welcome");
    send_text(&mut ws, "go").await;
    assert_eq!(next_text(&mut ws).await, "one");
    let want = [
        Message::Binary(vec![0u8, 1, 2, 255].into()),
        Message::Pong(Bytes::from_static(b"pg")),
        Message::Ping(Bytes::from_static(b"hb")),
        Message::Text("two".into()),
    ];
    for w in want {
        assert_eq!(next_any(&mut ws, WAIT).await, Some(w));
    }
    // the client's automatic answer to the ping goes back as PONG
    let deadline = Instant::now() + WAIT;
    loop {
        let pongs = log
            .all()
            .iter()
            .flat_map(|s| s.events.clone())
            .any(|e| e.kind == EventKind::Pong && e.payload() == b"hb");
        if pongs {
            break;
        }
        assert!(Instant::now() < deadline, "no PONG event: {:#?}", log.all());
        let _ = timeout(Duration::from_millis(20), ws.next()).await;
    }
}

// ------------------------------------------------------------ the handshake

#[tokio::test]
async fn a_refusal_is_relayed_as_the_handshake_answer() {
    let b = Backend::start().await;
    over_http(&b, |_, _| {
        Reply::text(403, "go away\n")
            .reason("Not Today")
            .header("X-Why", "nope")
    });
    let p = proxy_for(&b).await;
    let c = raw_handshake(&p).await;
    let r = c.response();
    assert_eq!(r.status, 403);
    assert_eq!(r.reason, "Not Today");
    assert_eq!(r.header("x-why"), Some("nope"));
    assert_eq!(r.text(), "go away\n");

    // a tungstenite client sees the same status
    let err = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.http))
        .await
        .expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        e => panic!("unexpected error {e:?}"),
    }
}

#[tokio::test]
async fn events_with_a_content_type_parameter_are_a_refusal() {
    let b = Backend::start().await;
    over_http(&b, |_, _| {
        Reply::new(200)
            .header(
                "Content-Type",
                "application/websocket-events; charset=utf-8",
            )
            .body(encode(&[Event::open()]))
    });
    let p = proxy_for(&b).await;
    let r = raw_handshake(&p).await.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "OPEN\r\n");
}

#[tokio::test]
async fn a_first_reply_without_open_fails_the_handshake() {
    let b = Backend::start().await;
    let log = over_http(&b, |_, _| events(&[Event::text("not open")]));
    let p = proxy_for(&b).await;
    assert_eq!(raw_handshake(&p).await.status, Some(502));

    let b2 = Backend::start().await;
    over_http(&b2, |_, _| events(&[]));
    let p2 = proxy_for(&b2).await;
    assert_eq!(raw_handshake(&p2).await.status, Some(502));
    // the opening request is not retried
    log.quiet(1, Duration::from_millis(200)).await;
}

#[tokio::test(start_paused = true)]
async fn an_empty_first_reply_with_keep_alive_waits_and_asks_again() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[]).header("Keep-Alive-Interval", "1"),
        _ => events(&[Event::open(), Event::text("ready")]),
    });
    let p = proxy_for(&b).await;
    let url = format!("ws://{}/ws", p.http);
    let (mut ws, _) = timeout(
        Duration::from_secs(60),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(next_text(&mut ws).await, "ready");
    let all = log.all();
    assert_eq!(all.len(), 2);
    assert_eq!(&all[1].req.body[..], b"OPEN\r\n");
    let gap = all[1].at - all[0].at;
    // intervals below 20 s are raised to 20 s
    assert!(
        gap >= Duration::from_secs(20) && gap < Duration::from_secs(21),
        "gap {gap:?}"
    );
}

// ----------------------------------------------------------- meta, keep-alive

#[tokio::test]
async fn set_meta_comes_back_as_meta() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()])
            .header("Set-Meta-User", "alice")
            .header("Set-Meta-Room", "r1")
            .header("X-Open", "yes"),
        1 => events(&[Event::text("ack")])
            .header("Set-Meta-Room", "")
            .header("Set-Meta-Mood", "happy"),
        _ => events(&[Event::text("ack")]),
    });
    let p = proxy_for(&b).await;
    let mut req = format!("ws://{}/ws", p.http).into_client_request().unwrap();
    req.headers_mut()
        .insert("meta-user", HeaderValue::from_static("mallory"));
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("x-open").map(|v| v.as_bytes()),
        Some(&b"yes"[..])
    );
    assert!(
        !resp
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("set-meta-")),
        "Set-Meta-* is not shown to the client: {:?}",
        resp.headers()
    );
    send_text(&mut ws, "a").await;
    assert_eq!(next_text(&mut ws).await, "ack");
    send_text(&mut ws, "b").await;
    assert_eq!(next_text(&mut ws).await, "ack");
    let all = log.wait(3, WAIT).await;
    assert!(all[0].req.header("meta-user").is_none());
    let r1 = &all[1].req;
    assert_eq!(r1.header_all("meta-user"), vec!["alice"]);
    assert_eq!(r1.header_all("meta-room"), vec!["r1"]);
    let r2 = &all[2].req;
    assert_eq!(r2.header_all("meta-user"), vec!["alice"]);
    assert_eq!(r2.header_all("meta-mood"), vec!["happy"]);
    assert!(r2.header("meta-room").is_none(), "empty Set-Meta deletes");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_interval_makes_the_proxy_poll() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]).header("Keep-Alive-Interval", "5"),
        1 => events(&[Event::text("poll 1")]).header("Keep-Alive-Interval", "30"),
        2 => events(&[Event::text("poll 2")]),
        _ => events(&[Event::text("poll 3")]).header("Keep-Alive-Interval", "0"),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    let all = log.wait(4, Duration::from_secs(200)).await;
    for s in &all[1..] {
        assert!(s.req.body.is_empty(), "a poll has no events: {s:?}");
    }
    let gaps: Vec<Duration> = all.windows(2).map(|w| w[1].at - w[0].at).collect();
    let within =
        |g: Duration, s: u64| g >= Duration::from_secs(s) && g < Duration::from_secs(s + 1);
    // 5 s is raised to 20 s; 30 s is used as is; an absent header keeps it
    assert!(within(gaps[0], 20), "{gaps:?}");
    assert!(within(gaps[1], 30), "{gaps:?}");
    assert!(within(gaps[2], 30), "{gaps:?}");
    for want in ["poll 1", "poll 2", "poll 3"] {
        let m = timeout(Duration::from_secs(200), next_msg(&mut ws))
            .await
            .unwrap();
        assert_eq!(m, Message::Text(want.into()));
    }
    // 0 turns polling off
    log.quiet(4, Duration::from_secs(300)).await;
}

// ------------------------------------------------------- partial acceptance

#[tokio::test]
async fn partially_accepted_content_is_replayed() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        1 => events(&[Event::text("ack 1")]).header("Content-Bytes-Accepted", "6"),
        _ => events(&[Event::text("ack")]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "[hello world]").await;
    assert_eq!(next_text(&mut ws).await, "ack 1");
    // replay data alone does not trigger a request
    log.quiet(2, Duration::from_millis(300)).await;
    send_text(&mut ws, "!").await;
    assert_eq!(next_text(&mut ws).await, "ack");
    send_text(&mut ws, "x").await;
    assert_eq!(next_text(&mut ws).await, "ack");
    let all = log.wait(4, WAIT).await;
    assert_eq!(&all[1].req.body[..], b"TEXT d\r\n[hello world]\r\n");
    assert!(all[1].req.header("content-bytes-replayed").is_none());
    assert_eq!(
        &all[2].req.body[..],
        b"TEXT 7\r\n world]\r\nTEXT 1\r\n!\r\n"
    );
    assert_eq!(all[2].req.header("content-bytes-replayed"), Some("7"));
    assert_eq!(&all[3].req.body[..], b"TEXT 1\r\nx\r\n");
    assert!(all[3].req.header("content-bytes-replayed").is_none());
}

#[tokio::test]
async fn accepting_more_than_offered_drops_the_client() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        _ => events(&[Event::text("never")]).header("Content-Bytes-Accepted", "99"),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "abc").await;
    let got = drain(&mut ws, WAIT).await;
    assert!(got.is_empty(), "dropped without messages or close: {got:?}");
    log.quiet(2, Duration::from_millis(300)).await;
}

// ------------------------------------------------------------------ failures

#[tokio::test]
async fn a_non_200_answer_after_opening_drops_the_client_without_retry() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        _ => Reply::text(500, "oops\n"),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "x").await;
    let got = drain(&mut ws, WAIT).await;
    assert!(got.is_empty(), "dropped without a close: {got:?}");
    // an error is not retried and sends no DISCONNECT
    log.quiet(2, Duration::from_millis(500)).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_with_back_off() {
    let origin = RawOrigin::new(|n| {
        Some(match n {
            0 => vec![Event::open()],
            _ => vec![Event::text("got it")],
        })
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = origin.serve(listener);
    let p = Proxy::to(&format!("{addr},over_http")).await;
    let mut ws = connect(&p).await;
    origin.log.wait(1, WAIT).await;
    // the origin goes away: connections are refused
    task.abort();
    let _ = task.await;
    let t0 = Instant::now();
    send_text(&mut ws, "x").await;
    // attempts: t0 (refused), t0+[1,2) s (refused), t0+[3,5) s
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(origin.log.all().len(), 1);
    let _task = origin.serve(TcpListener::bind(addr).await.unwrap());
    let m = timeout(Duration::from_secs(30), next_msg(&mut ws))
        .await
        .unwrap();
    assert_eq!(m, Message::Text("got it".into()));
    let all = origin.log.all();
    assert_eq!(all.len(), 2);
    assert_eq!(&all[1].req.body[..], b"TEXT 1\r\nx\r\n");
    let waited = all[1].at - t0;
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(5),
        "retried after {waited:?}"
    );
    assert_eq!(
        all[0].req.header("connection-id"),
        all[1].req.header("connection-id")
    );
    assert!(verify_hs256(
        all[1].req.header("grip-sig").unwrap(),
        b"changeme"
    ));
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_without_answer_is_retried_five_times_then_dropped() {
    let origin = RawOrigin::new(|n| (n == 0).then(|| vec![Event::open()]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _task = origin.serve(listener);
    let p = Proxy::to(&format!("{addr},over_http")).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "x").await;
    let got = drain(&mut ws, Duration::from_secs(120)).await;
    assert!(got.is_empty(), "dropped without a close: {got:?}");
    let all = origin.log.all();
    assert_eq!(all.len(), 7, "one request and five retries: {all:#?}");
    for s in &all[1..] {
        assert_eq!(&s.req.body[..], b"TEXT 1\r\nx\r\n");
    }
    // back-off: 1 s, 2 s, 4 s, 8 s, 16 s, each plus up to 1 s of jitter
    for (i, w) in all[1..].windows(2).enumerate() {
        let gap = w[1].at - w[0].at;
        let base = Duration::from_secs(1 << i);
        assert!(
            gap >= base && gap < base + Duration::from_secs(1),
            "retry {i} after {gap:?}"
        );
    }
    // and no DISCONNECT after giving up
    origin.log.quiet(7, Duration::from_secs(60)).await;
}

// ------------------------------------------------------------------- closing

#[tokio::test]
async fn a_backend_close_closes_the_client_with_its_code_and_reason() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, evs| match n {
        0 => events(&[Event::open()]),
        _ if evs.iter().any(|e| e.kind == EventKind::Text) => {
            events(&[Event::close(Some(4001), "done"), Event::text("ignored")])
        }
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "please close").await;
    let m = next_msg(&mut ws).await;
    assert_eq!(m, close_msg(4001, "done"));
    // the client's answering close is forwarded, then the socket ends
    let rest = drain(&mut ws, WAIT).await;
    assert!(rest.is_empty(), "{rest:?}");
    let all = log.wait(3, WAIT).await;
    let close = all[2]
        .events
        .iter()
        .find(|e| e.kind == EventKind::Close)
        .expect("CLOSE forwarded");
    assert_eq!(close.close_code(), (Some(4001), "done".to_owned()));
    log.quiet(3, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_client_close_is_forwarded_with_its_code() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, evs| match n {
        0 => events(&[Event::open()]),
        _ => events(evs),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    ws.send(close_msg(4321, "going")).await.unwrap();
    drain(&mut ws, WAIT).await;
    let all = log.wait(2, WAIT).await;
    assert_eq!(all[1].events, vec![Event::close(Some(4321), "going")]);
    assert_eq!(&all[1].req.body[..], b"CLOSE 7\r\n\x10\xe1going\r\n");
    log.quiet(2, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close() {
    let b = Backend::start().await;
    over_http(&b, |n, evs| match n {
        0 => events(&[Event::open()]),
        _ => events(evs),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    ws.send(close_msg(4321, "going")).await.unwrap();
    // RFC 6455 §5.5.1: the proxy must answer the client's close (spec §7.5:
    // the backend's CLOSE goes to the client)
    let got = drain(&mut ws, WAIT).await;
    assert_eq!(got, vec![close_msg(4321, "going")]);
}

#[tokio::test]
async fn a_client_that_goes_away_produces_disconnect() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => events(&[Event::open()]),
        1 => events(&[Event::text("ack")]),
        _ => events(&[]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "hi").await;
    assert_eq!(next_text(&mut ws).await, "ack");
    drop(ws);
    let all = log.wait(3, WAIT).await;
    assert_eq!(&all[2].req.body[..], b"DISCONNECT\r\n");
    assert_eq!(
        all[2].req.header("connection-id"),
        all[0].req.header("connection-id")
    );
    log.quiet(3, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn disconnect_waits_for_the_request_in_flight() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => Answer::from(events(&[Event::open()])),
        1 => Answer::after(events(&[]), Duration::from_millis(300)),
        _ => Answer::from(events(&[])),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "hi").await;
    log.wait(2, WAIT).await;
    drop(ws);
    let all = log.wait(3, WAIT).await;
    assert_eq!(&all[2].req.body[..], b"DISCONNECT\r\n");
    assert!(all[2].at - all[1].at >= Duration::from_millis(300));
    log.quiet(3, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn disconnect_is_sent_when_the_reply_in_flight_has_messages() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => Answer::from(events(&[Event::open()])),
        1 => Answer::after(events(&[Event::text("late")]), Duration::from_millis(300)),
        _ => Answer::from(events(&[])),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    send_text(&mut ws, "hi").await;
    log.wait(2, WAIT).await;
    drop(ws);
    // spec §7.8: DISCONNECT after the request in flight completes
    let all = log.wait(3, WAIT).await;
    assert_eq!(&all[2].req.body[..], b"DISCONNECT\r\n");
}

// ---------------------------------------------------------------------- GRIP

#[tokio::test]
async fn control_messages_subscribe_and_published_messages_arrive() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, evs| match n {
        0 => grip_open(&[
            Event::text(r#"c:{"type":"subscribe","channel":"room"}"#),
            Event::text("m:welcome"),
            Event::text("without the prefix"),
        ]),
        _ => {
            let echo: Vec<Event> = evs
                .iter()
                .filter(|e| e.kind == EventKind::Text)
                .map(|e| {
                    let mut t = b"m:echo ".to_vec();
                    t.extend_from_slice(e.payload());
                    Event::text(t)
                })
                .collect();
            events(&echo)
        }
    });
    let p = proxy_for(&b).await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.http))
        .await
        .unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    assert_eq!(next_text(&mut ws).await, "welcome");
    subscribed(&p, "room", 1).await;
    p.publish(json!([{"channel": "room", "formats": {"ws-message": {"content": "hi all"}}}]))
        .await;
    // the unprefixed message was dropped: the publish comes next
    assert_eq!(next_text(&mut ws).await, "hi all");
    p.publish(json!([{"channel": "room", "formats": {"ws-message": {"content-bin": "AAEC"}}}]))
        .await;
    assert_eq!(
        next_msg(&mut ws).await,
        Message::Binary(vec![0u8, 1, 2].into())
    );
    send_text(&mut ws, "me").await;
    assert_eq!(next_text(&mut ws).await, "echo me");
    let all = log.wait(2, WAIT).await;
    assert_eq!(&all[1].req.body[..], b"TEXT 2\r\nme\r\n");
}

#[tokio::test(start_paused = true)]
async fn publishing_refresh_makes_a_request_at_once() {
    let b = Backend::start().await;
    let log = over_http(&b, |n, _| match n {
        0 => grip_open(&[Event::text(r#"c:{"type":"subscribe","channel":"r"}"#)])
            .header("Keep-Alive-Interval", "60"),
        _ => events(&[Event::text("m:refreshed")]),
    });
    let p = proxy_for(&b).await;
    let mut ws = connect(&p).await;
    subscribed(&p, "r", 1).await;
    let t0 = Instant::now();
    p.publish(json!([{"channel": "r", "formats": {"ws-message": {"action": "refresh"}}}]))
        .await;
    assert_eq!(next_text(&mut ws).await, "refreshed");
    let all = log.wait(2, WAIT).await;
    assert!(all[1].req.body.is_empty());
    assert!(
        all[1].at - t0 < Duration::from_secs(1),
        "a refresh does not wait for the 60 s keep-alive"
    );
    assert_eq!(
        all[1].req.header("connection-id"),
        all[0].req.header("connection-id")
    );
}

/// A client posting WebSocket events itself to an `over_http` route is
/// refused with 403. The events are read and dropped, not taken for the
/// next request, and the connection goes on, as in 1.36.
#[tokio::test]
async fn client_posted_events_are_forbidden_and_their_body_is_not_taken_for_a_request() {
    let b = Backend::start().await;
    over_http(&b, |_, _| Reply::new(200));
    b.fixed("/after", || Reply::text(200, "after"));
    let p = proxy_for(&b).await;
    let mut s = tokio::net::TcpStream::connect(p.http).await.unwrap();
    // the body holds what would be a request of its own
    let events = "GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let req = format!(
        "POST /ws HTTP/1.1\r\nHost: example.com\r\n\
         Content-Type: application/websocket-events\r\nContent-Length: {}\r\n\r\n{events}\
         GET /after HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        events.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut s, req.as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut got),
    )
    .await
    .expect("the proxy closes after the second answer")
    .unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 403 "), "{got}");
    assert_eq!(got.matches("HTTP/1.1 ").count(), 2, "two answers: {got}");
    assert!(got.ends_with("after"), "{got}");
    assert!(b.requests("/smuggled").is_empty());
    assert!(
        b.requests("/ws").is_empty(),
        "nothing reached the over_http backend"
    );
}
