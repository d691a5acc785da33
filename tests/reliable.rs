//! Reliable delivery, black-box over real sockets: per-channel sequencing by
//! `prev-id`, de-duplication by `id`, recovery (`Grip-Last` re-requests,
//! the first-subscription refresh, `POST /recover`), and a property test
//! of shuffled publishing. Next and gone links and the `Grip-Feature`
//! request header are in `links.rs`, filters and meta in `filters.rs`. Timing runs on tokio's paused clock; an absence ("nothing
//! arrived") is checked by letting the paused clock run while every task is
//! idle, so it is exact rather than a guess.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use pushpin::config::Config;
use serde_json::json;
use support::items::{response, stream, with};
use support::{request, Backend, Proxy, RawClient, Recorded, Reply};
use tokio::time::Instant;

/// What every test here starts from: no first-subscription refreshes (they
/// add backend requests), an explicit dedup window, and a sequencer wait
/// long enough that a held item is never mistaken for a delivered one.
fn base(c: &mut Config) {
    c.update_on_first_subscription = false;
    c.id_cache_ttl = Duration::from_secs(60);
    c.message_wait = Duration::from_secs(60);
}

async fn proxy(b: &Backend, f: impl FnOnce(&mut Config)) -> Proxy {
    Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            base(c);
            f(c);
        })
        .start()
        .await
}

/// Opens a stream hold whose initial body is `w\n`. Stream holds subscribe
/// before writing it, so the subscription is in place on return.
async fn open(p: &Proxy, path: &str) -> RawClient {
    let mut c = RawClient::get(p.http, path).await;
    assert_eq!(c.read_until_contains(b"w\n").await, b"w\n", "{path}");
    c
}

/// Reads for `wait` and asserts that nothing more arrived.
async fn nothing_more(c: &mut RawClient, wait: Duration) {
    let before = c.body.clone();
    let after = c.read_until(|_| false, wait).await;
    assert_eq!(
        String::from_utf8_lossy(&after),
        String::from_utf8_lossy(&before)
    );
}

/// When the first body piece containing `needle` arrived.
fn arrival(c: &RawClient, needle: &[u8]) -> Instant {
    c.arrivals
        .iter()
        .find(|(_, d)| d.windows(needle.len()).any(|w| w == needle))
        .map(|(t, _)| *t)
        .expect("needle arrived")
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

// ---------------------------------------------------------------- sequencing

#[tokio::test(start_paused = true)]
async fn an_item_waits_for_its_predecessor_then_both_go_out_in_order() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q1", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q1", Some("1"), None, "one\n")]))
        .await;
    c.read_until_contains(b"one\n").await;
    p.publish(json!([stream("q1", Some("3"), Some("2"), "three\n")]))
        .await;
    nothing_more(&mut c, Duration::from_secs(2)).await;
    p.publish(json!([stream("q1", Some("2"), Some("1"), "two\n")]))
        .await;
    let body = c.read_until_contains(b"three\n").await;
    assert_eq!(text(body), "w\none\ntwo\nthree\n");
}

#[tokio::test(start_paused = true)]
async fn a_missing_predecessor_is_given_up_after_message_wait() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q2", "w\n"));
    let p = proxy(&b, |c| c.message_wait = Duration::from_millis(3000)).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q2", Some("1"), None, "one\n")]))
        .await;
    c.read_until_contains(b"one\n").await;
    let t0 = Instant::now();
    p.publish(json!([stream("q2", Some("3"), Some("2"), "three\n")]))
        .await;
    c.read_until(|b| b.ends_with(b"three\n"), Duration::from_secs(10))
        .await;
    // the wait is checked on a 1 s tick
    let waited = arrival(&c, b"three\n") - t0;
    assert!(
        waited >= Duration::from_secs(3) && waited <= Duration::from_secs(4),
        "{waited:?}"
    );
    // the released item is the channel's last id now: its successor flows
    let t1 = Instant::now();
    p.publish(json!([stream("q2", Some("4"), Some("3"), "four\n")]))
        .await;
    let body = c.read_until_contains(b"four\n").await;
    assert_eq!(text(body), "w\none\nthree\nfour\n");
    assert!(arrival(&c, b"four\n") - t1 < Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_second_item_for_the_same_gap_is_dropped() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q3", "w\n"));
    let p = proxy(&b, |c| c.message_wait = Duration::from_secs(2)).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([
        stream("q3", Some("a"), None, "a\n"),
        stream("q3", Some("c1"), Some("b"), "first\n"),
        stream("q3", Some("c2"), Some("b"), "second\n"),
        stream("q3", Some("b"), Some("a"), "b\n"),
    ]))
    .await;
    c.read_until_contains(b"first\n").await;
    nothing_more(&mut c, Duration::from_secs(5)).await;
    assert_eq!(text(c.body.clone()), "w\na\nb\nfirst\n");
}

#[tokio::test(start_paused = true)]
async fn at_most_100_items_wait_per_channel() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q4", "w\n"));
    let p = proxy(&b, |c| c.message_wait = Duration::from_secs(2)).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q4", Some("a"), None, "a\n")]))
        .await;
    c.read_until_contains(b"a\n").await;
    // 101 items, each waiting for a different predecessor that never comes
    let waiting: Vec<_> = (0..=100)
        .map(|i| {
            let content = if i == 100 {
                "overflow\n".to_owned()
            } else {
                format!("p{i}\n")
            };
            stream(
                "q4",
                Some(&format!("p{i}")),
                Some(&format!("m{i}")),
                &content,
            )
        })
        .collect();
    p.publish(json!(waiting)).await;
    nothing_more(&mut c, Duration::from_secs(1)).await;
    let body = c
        .read_until(
            |b| {
                b.split(|&x| x == b'\n')
                    .filter(|l| l.starts_with(b"p"))
                    .count()
                    == 100
            },
            Duration::from_secs(10),
        )
        .await;
    nothing_more(&mut c, Duration::from_secs(5)).await;
    let mut lines: Vec<String> = text(body).lines().skip(2).map(str::to_owned).collect();
    lines.sort();
    let mut want: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(lines, want, "the 101st item was dropped, the rest released");
}

#[tokio::test(start_paused = true)]
async fn no_seq_items_skip_sequencing_and_leave_the_last_id_alone() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q5", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q5", Some("a"), None, "a\n")]))
        .await;
    let unordered = with(
        stream("q5", Some("c"), Some("b"), "c\n"),
        "no-seq",
        json!(true),
    );
    p.publish(json!([unordered])).await;
    let body = c
        .read_until(|b| b.ends_with(b"c\n"), Duration::from_secs(1))
        .await;
    assert_eq!(text(body), "w\na\nc\n", "the no-seq item went out at once");
    // the last id is still `a`, so `b` (prev-id a) is in order
    p.publish(json!([stream("q5", Some("b"), Some("a"), "b\n")]))
        .await;
    let body = c
        .read_until(|b| b.ends_with(b"b\n"), Duration::from_secs(1))
        .await;
    assert_eq!(text(body), "w\na\nc\nb\n");
}

#[tokio::test(start_paused = true)]
async fn only_channels_with_subscribers_are_sequenced() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("q6", "w\n"));
    let p = proxy(&b, |c| c.message_wait = Duration::from_secs(2)).await;
    // published to nobody: no last id is recorded
    p.publish(json!([stream("q6", Some("a"), None, "lost\n")]))
        .await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q6", Some("c"), Some("b"), "c\n")]))
        .await;
    let body = c
        .read_until(|b| b.ends_with(b"c\n"), Duration::from_secs(1))
        .await;
    assert_eq!(text(body), "w\nc\n");
    // the last subscriber leaving forgets the last id and waiting items
    p.publish(json!([stream("q6", Some("e"), Some("d"), "stale\n")]))
        .await;
    drop(c);
    p.unsubscribed("q6").await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("q6", Some("g"), Some("f"), "g\n")]))
        .await;
    let body = c
        .read_until(|b| b.ends_with(b"g\n"), Duration::from_secs(1))
        .await;
    assert_eq!(text(body), "w\ng\n");
    nothing_more(&mut c, Duration::from_secs(5)).await;
}

// ------------------------------------------------------------ de-duplication

#[tokio::test]
async fn repeated_ids_are_dropped_per_channel_and_items_without_ids_never_are() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("d1, d2", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([
        stream("d1", Some("x"), None, "one\n"),
        stream("d1", Some("x"), None, "dup\n"),
        with(
            stream("d1", Some("x"), None, "dup no-seq\n"),
            "no-seq",
            json!(true)
        ),
        stream("d2", Some("x"), None, "other channel\n"),
        stream("d1", None, None, "plain\n"),
        stream("d1", None, None, "plain\n"),
        stream("d1", Some("y"), None, "end\n"),
    ]))
    .await;
    let body = c.read_until_contains(b"end\n").await;
    assert_eq!(text(body), "w\none\nother channel\nplain\nplain\nend\n");
}

#[tokio::test]
async fn ids_are_remembered_even_when_nobody_was_subscribed() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("d3", "w\n"));
    let p = proxy(&b, |_| {}).await;
    p.publish(json!([stream("d3", Some("x"), None, "early\n")]))
        .await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([
        stream("d3", Some("x"), None, "again\n"),
        stream("d3", Some("y"), None, "fresh\n"),
    ]))
    .await;
    assert_eq!(text(c.read_until_contains(b"fresh\n").await), "w\nfresh\n");
}

#[tokio::test(start_paused = true)]
async fn ids_are_forgotten_id_cache_ttl_after_first_seen() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("d4", "w\n"));
    let p = proxy(&b, |c| c.id_cache_ttl = Duration::from_secs(10)).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("d4", Some("x"), None, "one\n")]))
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // dropped, and a duplicate does not extend the window
    p.publish(json!([stream("d4", Some("x"), None, "dup\n")]))
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    p.publish(json!([stream("d4", Some("x"), None, "two\n")]))
        .await;
    assert_eq!(text(c.read_until_contains(b"two\n").await), "w\none\ntwo\n");

    // a zero TTL turns de-duplication off
    let p = proxy(&b, |c| c.id_cache_ttl = Duration::ZERO).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([
        stream("d4", Some("x"), None, "one\n"),
        stream("d4", Some("x"), None, "two\n"),
    ]))
    .await;
    assert_eq!(text(c.read_until_contains(b"two\n").await), "w\none\ntwo\n");
}

// ------------------------------------------------------------------ recovery

fn grip_last(r: &Recorded) -> Vec<String> {
    r.header_all("grip-last")
}

#[tokio::test]
async fn a_long_poll_behind_the_channel_re_requests_with_grip_last() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("r1", "w\n"));
    b.route("/lp", |r: Recorded| async move {
        if r.header("grip-last").is_some() {
            Reply::response_hold("r1; prev-id=Y", "held\n")
        } else {
            Reply::response_hold("r1; prev-id=X", "held\n")
        }
    });
    let p = proxy(&b, |_| {}).await;
    let _watcher = open(&p, "/s").await;
    p.publish(json!([stream("r1", Some("Y"), None, "y\n")]))
        .await;
    let mut c = RawClient::get(p.http, "/lp").await;
    let reqs = b.wait_requests("/lp", 2).await;
    assert!(grip_last(&reqs[0]).is_empty());
    assert_eq!(grip_last(&reqs[1]), ["r1; last-id=X"]);
    // the second answer is held, and in step with the channel
    p.subscribed("r1", 2).await;
    p.publish(json!([response("r1", Some("Z"), Some("Y"), "news\n")]))
        .await;
    c.read_head().await;
    assert_eq!(text(c.read_to_end(Duration::from_secs(5)).await), "news\n");
    assert_eq!(b.requests("/lp").len(), 2);
}

#[tokio::test]
async fn a_gap_seen_by_a_long_poll_re_requests_with_grip_last() {
    let b = Backend::start().await;
    b.route("/lp", |r: Recorded| async move {
        if r.header("grip-last").is_some() {
            Reply::text(200, "caught up\n")
        } else {
            Reply::response_hold("r2; prev-id=A", "held\n")
        }
    });
    // Grip-Last names the channel as the backend did, without the prefix
    let p = Proxy::builder()
        .route(&format!("*,prefix=app- {}", b.target()))
        .config(base)
        .start()
        .await;
    let mut c = RawClient::get(p.http, "/lp").await;
    p.subscribed("app-r2", 1).await;
    p.publish(json!([response(
        "app-r2",
        Some("C"),
        Some("B"),
        "skipped\n"
    )]))
    .await;
    c.read_head().await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "caught up\n"
    );
    let reqs = b.requests("/lp");
    assert_eq!(reqs.len(), 2);
    assert_eq!(grip_last(&reqs[1]), ["r2; last-id=A"]);
}

#[tokio::test]
async fn a_hint_makes_a_long_poll_re_request_at_once() {
    let b = Backend::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    let n = seen.clone();
    b.route("/lp", move |_| {
        let first = n.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                Reply::response_hold("hn; prev-id=p", "held\n")
            } else {
                Reply::text(200, "re-requested\n")
            }
        }
    });
    let p = proxy(&b, |_| {}).await;
    let mut c = RawClient::get(p.http, "/lp").await;
    p.subscribed("hn", 1).await;
    p.publish(json!([{"channel": "hn", "formats": {"http-response": {"action": "hint"}}}]))
        .await;
    c.read_head().await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "re-requested\n"
    );
    assert_eq!(grip_last(&b.requests("/lp")[1]), ["hn; last-id=p"]);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_channel_keeps_its_last_id_while_it_lingers() {
    let b = Backend::start().await;
    b.fixed("/lp", || Reply::response_hold("lg", "held\n"));
    let p = proxy(&b, |c| c.subscription_linger = Duration::from_secs(60)).await;
    let answer = |item: serde_json::Value| {
        let p = &p;
        async move {
            let mut c = RawClient::get(p.http, "/lp").await;
            p.subscribed("lg", 1).await;
            p.publish(item).await;
            c.read_head().await;
            text(c.read_to_end(Duration::from_secs(5)).await)
        }
    };
    let got = answer(json!([response("lg", Some("a"), None, "a\n")])).await;
    assert_eq!(got, "a\n");
    // the next poll comes while the channel lingers: `c` waits for `b`
    let got = answer(json!([
        response("lg", Some("c"), Some("b"), "c\n"),
        response("lg", Some("b"), Some("a"), "b\n"),
    ]))
    .await;
    assert_eq!(got, "b\n");
    // after the linger the channel, and its last id, are gone
    tokio::time::sleep(Duration::from_secs(62)).await;
    let got = answer(json!([response("lg", Some("e"), Some("d"), "e\n")])).await;
    assert_eq!(got, "e\n");
}

#[tokio::test(start_paused = true)]
async fn a_channels_first_subscriber_re_requests_about_a_second_later() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("fs; prev-id=7", "held\n").header("Grip-Timeout", "60")
    });
    let p = proxy(&b, |c| c.update_on_first_subscription = true).await;
    let _c = RawClient::get(p.http, "/lp").await;
    b.wait_requests("/lp", 1).await;
    let t0 = Instant::now();
    let reqs = b.wait_requests("/lp", 2).await;
    let after = t0.elapsed();
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_millis(1500),
        "{after:?}"
    );
    assert_eq!(grip_last(&reqs[1]), ["fs; last-id=7"]);
    // once: neither the re-held session nor a later subscriber is first
    let _d = RawClient::get(p.http, "/lp").await;
    b.wait_requests("/lp", 3).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(b.requests("/lp").len(), 3);
}

#[tokio::test]
async fn recover_makes_every_held_session_recover() {
    let b = Backend::start().await;
    b.route("/lp", |r: Recorded| async move {
        if r.header("grip-last").is_some() {
            Reply::text(200, "recovered\n")
        } else {
            Reply::response_hold("rc1; prev-id=X", "held\n")
        }
    });
    b.fixed("/linked", || {
        Reply::stream_hold("rc2", "w\n").header("Grip-Link", "</rc2-next>; rel=next")
    });
    b.fixed("/rc2-next", || Reply::stream_hold("rc2", "fetched\n"));
    b.fixed("/plain", || Reply::stream_hold("rc3", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut linked = open(&p, "/linked").await;
    let mut plain = open(&p, "/plain").await;
    let mut lp = RawClient::get(p.http, "/lp").await;
    p.subscribed("rc1", 1).await;
    p.publish(json!([stream("rc3", Some("a"), None, "a\n")]))
        .await;
    plain.read_until_contains(b"a\n").await;

    let r = p.recover().await;
    assert_eq!((r.status, r.text().as_str()), (200, "Updated\n"));
    let json_accept = [("Accept", "application/json")];
    let r = request(p.publish, "POST", "/recover", &json_accept, b"").await;
    assert_eq!(r.text(), "{\"message\":\"Updated\"}\n");
    let r = request(p.publish, "GET", "/recover", &[], b"").await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));

    lp.read_head().await;
    assert_eq!(
        text(lp.read_to_end(Duration::from_secs(5)).await),
        "recovered\n"
    );
    assert_eq!(grip_last(&b.requests("/lp")[1]), ["rc1; last-id=X"]);
    assert_eq!(
        text(linked.read_until_contains(b"fetched\n").await),
        "w\nfetched\n"
    );
    assert_eq!(b.requests("/rc2-next").len(), 1);
    // last ids were cleared: an item after a gap goes straight out, and the
    // stream without a link just keeps holding
    p.publish(json!([stream("rc3", Some("c"), Some("b"), "c\n")]))
        .await;
    assert_eq!(text(plain.read_until_contains(b"c\n").await), "w\na\nc\n");
}

// ------------------------------------------------------------------ property

/// Publishes `0`, then items `1..=n` (each naming the one before as its
/// prev-id, some published twice) in `order`, one request each, to a
/// stream subscriber.
async fn shuffled_case(order: Vec<u32>, n: u32) {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("prop", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream("prop", Some("0"), None, "0\n")]))
        .await;
    for i in &order {
        let (id, prev) = (i.to_string(), (i - 1).to_string());
        let content = format!("{i}\n");
        p.publish(json!([stream("prop", Some(&id), Some(&prev), &content)]))
            .await;
    }
    let end = stream("prop", Some("end"), Some(&n.to_string()), "end\n");
    p.publish(json!([end])).await;
    let body = text(c.read_until_contains(b"end\n").await);
    let want: String = std::iter::once("w".to_owned())
        .chain((0..=n).map(|i| i.to_string()))
        .chain(std::iter::once("end".to_owned()))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(body, want, "published in order {order:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_items_arrive_once_each_in_prev_id_order(
        order in proptest::collection::vec(1..=12u32, 0..4).prop_flat_map(|dups| {
            let mut all: Vec<u32> = (1..=12).collect();
            all.extend(dups);
            Just(all).prop_shuffle()
        })
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(shuffled_case(order, 12));
    }
}
