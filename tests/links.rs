//! `Grip-Link` on held sessions, black-box over real sockets: `rel=next`
//! (fetched after its timeout without publishes, at once on `hint`, on the
//! channel's first subscription, straight away when nothing is held;
//! relative URIs; `Grip-Last`) and `rel=gone` (an empty POST when a held
//! session ends), and the `Grip-Feature` header that backend and link
//! requests carry. Timing runs on tokio's paused clock.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pushpin::config::Config;
use serde_json::json;
use support::items::{stream, stream_action};
use support::{request, Backend, Proxy, RawClient, Recorded, Reply};
use tokio::time::Instant;

/// No first-subscription refresh unless a test asks: it fetches links too.
async fn proxy(b: &Backend, f: impl FnOnce(&mut Config)) -> Proxy {
    Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c| {
            c.update_on_first_subscription = false;
            c.message_wait = Duration::from_secs(60);
            f(c);
        })
        .start()
        .await
}

async fn open(p: &Proxy, path: &str) -> RawClient {
    let mut c = RawClient::get(p.http, path).await;
    assert_eq!(c.read_until_contains(b"w\n").await, b"w\n", "{path}");
    c
}

/// When each body piece containing `needle` arrived.
fn arrivals(c: &RawClient, needle: &[u8]) -> Vec<Instant> {
    c.arrivals
        .iter()
        .filter(|(_, d)| d.windows(needle.len()).any(|w| w == needle))
        .map(|(t, _)| *t)
        .collect()
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

fn paths(b: &Backend, path: &str) -> Vec<String> {
    b.requests(path)
        .into_iter()
        .map(|r| r.path_and_query)
        .collect()
}

// ------------------------------------------------------------------ rel=next

#[tokio::test(start_paused = true)]
async fn the_next_link_is_fetched_after_its_timeout_without_publishes() {
    let b = Backend::start().await;
    b.fixed("/feed/s", || {
        Reply::stream_hold("l1", "w\n").header("Grip-Link", "<next?p=1>; rel=next; timeout=10")
    });
    b.fixed("/feed/next", || {
        Reply::stream_hold("l1", "page\n").header("Grip-Link", "<next?p=2>; rel=next; timeout=10")
    });
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/feed/s").await;
    let t0 = Instant::now();
    // a publish restarts the wait
    tokio::time::sleep(Duration::from_secs(6)).await;
    p.publish_stream("l1", "m\n").await;
    let body = c
        .read_until(|b| b.ends_with(b"page\npage\n"), Duration::from_secs(40))
        .await;
    assert_eq!(text(body), "w\nm\npage\npage\n");
    let at = arrivals(&c, b"page\n");
    let first = at[0] - t0;
    assert!(
        first >= Duration::from_secs(16) && first < Duration::from_secs(17),
        "{first:?}"
    );
    let second = at[1] - at[0];
    assert!(
        second >= Duration::from_secs(10) && second < Duration::from_secs(11),
        "{second:?}"
    );
    // relative links resolve against the request, then against the last link
    assert_eq!(
        paths(&b, "/feed/next"),
        ["/feed/next?p=1", "/feed/next?p=2"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_link_timeout_defaults_to_120s() {
    let b = Backend::start().await;
    b.fixed("/s", || {
        Reply::stream_hold("l2", "w\n").header("Grip-Link", "</n>; rel=next")
    });
    b.fixed("/n", || Reply::stream_hold("l2", "page\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    let t0 = Instant::now();
    c.read_until(|b| b.ends_with(b"page\n"), Duration::from_secs(200))
        .await;
    let waited = arrivals(&c, b"page\n")[0] - t0;
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hint_fetches_the_next_link_at_once() {
    let b = Backend::start().await;
    b.fixed("/h", || {
        Reply::stream_hold("l3", "w\n").header("Grip-Link", "</h-next>; rel=next")
    });
    b.fixed("/h-next", || Reply::stream_hold("l3", "hinted\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/h").await;
    let t0 = Instant::now();
    p.publish(json!([stream_action("l3", "hint")])).await;
    c.read_until_contains(b"hinted\n").await;
    assert!(arrivals(&c, b"hinted\n")[0] - t0 < Duration::from_millis(100));
    // the link answer held again: publishing still works
    p.publish_stream("l3", "after\n").await;
    assert_eq!(
        text(c.read_until_contains(b"after\n").await),
        "w\nhinted\nafter\n"
    );
    assert_eq!(b.requests("/h-next").len(), 1);
}

#[tokio::test]
async fn hint_on_a_stream_without_a_link_changes_nothing() {
    let b = Backend::start().await;
    b.fixed("/s", || Reply::stream_hold("l4", "w\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/s").await;
    p.publish(json!([stream_action("l4", "hint")])).await;
    p.publish_stream("l4", "still here\n").await;
    assert_eq!(
        text(c.read_until_contains(b"here\n").await),
        "w\nstill here\n"
    );
}

#[tokio::test(start_paused = true)]
async fn a_channels_first_subscription_fetches_the_next_link() {
    let b = Backend::start().await;
    b.fixed("/fs", || {
        Reply::stream_hold("l5", "w\n").header("Grip-Link", "</fs-next>; rel=next")
    });
    b.fixed("/fs-next", || Reply::stream_hold("l5", "refreshed\n"));
    let p = proxy(&b, |c| c.update_on_first_subscription = true).await;
    let mut c = open(&p, "/fs").await;
    let t0 = Instant::now();
    c.read_until_contains(b"refreshed\n").await;
    let after = arrivals(&c, b"refreshed\n")[0] - t0;
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_millis(1500),
        "{after:?}"
    );
    assert_eq!(b.requests("/fs-next").len(), 1);
}

#[tokio::test]
async fn links_without_a_hold_are_followed_page_by_page() {
    let b = Backend::start().await;
    b.fixed("/feed/start", || {
        Reply::text(200, "page1\n").header("Grip-Link", "<page2>; rel=next")
    });
    b.fixed("/feed/page2", || {
        Reply::text(200, "page2\n").header("Grip-Link", "<../other/page3>; rel=next")
    });
    b.fixed("/other/page3", || Reply::text(200, "page3\n"));
    let p = proxy(&b, |_| {}).await;
    let r = request(p.http, "GET", "/feed/start?x=1", &[], b"").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "page1\npage2\npage3\n")
    );
    assert_eq!(paths(&b, "/feed/page2"), ["/feed/page2"]);
    assert_eq!(paths(&b, "/other/page3"), ["/other/page3"]);
    assert!(b.requests("/other/page3")[0].method == "GET");
}

#[tokio::test]
async fn link_requests_carry_grip_last_for_channels_with_an_id() {
    let b = Backend::start().await;
    b.fixed("/g", || {
        Reply::stream_hold("g1; prev-id=a, g2", "w\n").header("Grip-Link", "</g-next>; rel=next")
    });
    b.fixed("/g-next", || Reply::text(200, "next\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/g").await;
    p.publish(json!([stream("g1", Some("b"), Some("a"), "b\n")]))
        .await;
    c.read_until_contains(b"b\n").await;
    p.publish(json!([stream_action("g2", "hint")])).await;
    // the link answer holds nothing and links nowhere: the response ends
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "w\nb\nnext\n"
    );
    assert!(c.complete);
    let reqs = b.requests("/g-next");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header_all("grip-last"), ["g1; last-id=b"]);
}

#[tokio::test]
async fn a_gap_in_a_streams_ids_fetches_the_next_link() {
    let b = Backend::start().await;
    b.fixed("/g", || {
        Reply::stream_hold("g3; prev-id=a", "w\n").header("Grip-Link", "</g3-next>; rel=next")
    });
    b.fixed("/g3-next", || Reply::stream_hold("g3", "recovered\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/g").await;
    p.publish(json!([stream("g3", Some("c"), Some("b"), "skipped\n")]))
        .await;
    assert_eq!(
        text(c.read_until_contains(b"recovered\n").await),
        "w\nrecovered\n"
    );
    let reqs = b.requests("/g3-next");
    assert_eq!(reqs[0].header_all("grip-last"), ["g3; last-id=a"]);
}

#[tokio::test]
async fn a_stream_behind_the_channel_fetches_its_link_at_once() {
    let b = Backend::start().await;
    b.fixed("/watch", || Reply::stream_hold("g4", "w\n"));
    b.fixed("/g4", || {
        Reply::stream_hold("g4; prev-id=old", "start\n").header("Grip-Link", "</g4-next>; rel=next")
    });
    b.fixed("/g4-next", || Reply::stream_hold("g4", "fresh\n"));
    let p = proxy(&b, |_| {}).await;
    let _watcher = open(&p, "/watch").await;
    p.publish(json!([stream("g4", Some("new"), None, "new\n")]))
        .await;
    let mut c = RawClient::get(p.http, "/g4").await;
    assert_eq!(
        text(c.read_until_contains(b"fresh\n").await),
        "start\nfresh\n"
    );
    let reqs = b.requests("/g4-next");
    assert_eq!(reqs[0].header_all("grip-last"), ["g4; last-id=old"]);
}

#[tokio::test]
async fn a_prev_id_without_a_next_link_ends_the_stream() {
    let b = Backend::start().await;
    b.fixed("/np", || Reply::stream_hold("np; prev-id=1", "w\n"));
    let p = Proxy::builder()
        .route(&format!("*,debug {}", b.target()))
        .start()
        .await;
    let mut c = RawClient::get(p.http, "/np").await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "w\n\n\nchannel 'np' specifies prev-id, but no next link found\n"
    );
    assert!(c.complete);
}

#[tokio::test(start_paused = true)]
async fn failed_link_fetches_are_retried_five_times() {
    let b = Backend::start().await;
    b.fixed("/r", || {
        Reply::stream_hold("l8", "w\n").header("Grip-Link", "</r-next>; rel=next")
    });
    b.fixed("/dead", || {
        Reply::stream_hold("l9", "w\n").header("Grip-Link", "</dead-next>; rel=next")
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    b.route("/r-next", move |_| {
        let busy = n.fetch_add(1, Ordering::SeqCst) < 2;
        async move {
            if busy {
                Reply::text(503, "busy\n")
            } else {
                Reply::stream_hold("l8", "ok\n")
            }
        }
    });
    b.fixed("/dead-next", || Reply::text(500, "down\n"));
    let p = Proxy::builder()
        .route(&format!("*,debug {}", b.target()))
        .config(|c| c.update_on_first_subscription = false)
        .start()
        .await;

    // two failures, then the third try works; failed bodies are not shown
    let mut c = open(&p, "/r").await;
    let t0 = Instant::now();
    p.publish(json!([stream_action("l8", "hint")])).await;
    c.read_until(|b| b.ends_with(b"ok\n"), Duration::from_secs(20))
        .await;
    assert_eq!(text(c.body.clone()), "w\nok\n");
    let waited = arrivals(&c, b"ok\n")[0] - t0;
    // retries after 1 s + <1 s, then 2 s + <1 s
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(b.requests("/r-next").len(), 3);

    // a link that never works ends the stream after five retries
    let mut c = open(&p, "/dead").await;
    let t0 = Instant::now();
    p.publish(json!([stream_action("l9", "hint")])).await;
    let body = c.read_to_end(Duration::from_secs(60)).await;
    assert_eq!(text(body), "w\n\n\nFailed to retrieve next link.\n");
    let waited = t0.elapsed();
    // 1 + 2 + 4 + 8 + 16 s, each plus under a second
    assert!(
        waited >= Duration::from_secs(31) && waited < Duration::from_secs(36),
        "{waited:?}"
    );
    assert_eq!(b.requests("/dead-next").len(), 6);
}

#[tokio::test(start_paused = true)]
async fn close_ends_the_stream_without_following_the_link() {
    let b = Backend::start().await;
    b.fixed("/c", || {
        Reply::stream_hold("l6", "w\n").header("Grip-Link", "</c-next>; rel=next; timeout=10")
    });
    b.fixed("/c-next", || Reply::stream_hold("l6", "never\n"));
    let p = proxy(&b, |_| {}).await;
    let mut c = open(&p, "/c").await;
    p.publish_stream("l6", "x\n").await;
    p.publish(json!([stream_action("l6", "close")])).await;
    assert_eq!(text(c.read_to_end(Duration::from_secs(5)).await), "w\nx\n");
    assert!(c.complete);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(b.requests("/c-next").is_empty());
}

// ------------------------------------------------------------------ rel=gone

fn assert_gone_post(r: &Recorded) {
    assert_eq!(r.method, "POST");
    assert!(r.body.is_empty(), "{:?}", r.body);
}

#[tokio::test(start_paused = true)]
async fn a_gone_link_is_posted_when_a_held_session_ends() {
    let b = Backend::start().await;
    b.fixed("/gone/", || Reply::new(204));
    b.fixed("/client", || {
        Reply::stream_hold("gn1", "w\n").header("Grip-Link", "</gone/client>; rel=gone")
    });
    b.fixed("/close", || {
        Reply::stream_hold("gn2", "w\n").header("Grip-Link", "<gone/close>; rel=gone")
    });
    b.fixed("/lp", || {
        Reply::response_hold("gn3", "held\n")
            .header("Grip-Timeout", "5")
            .header("Grip-Link", "</gone/timeout>; rel=gone")
    });
    let p = proxy(&b, |_| {}).await;

    // the client goes away
    let c = open(&p, "/client").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(b.requests("/gone/client").is_empty(), "not while held");
    drop(c);
    assert_gone_post(&b.wait_requests("/gone/client", 1).await[0]);

    // a published close
    let mut c = open(&p, "/close").await;
    p.publish(json!([stream_action("gn2", "close")])).await;
    c.read_to_end(Duration::from_secs(5)).await;
    assert_gone_post(&b.wait_requests("/gone/close", 1).await[0]);

    // a long-poll times out
    let mut c = RawClient::get(p.http, "/lp").await;
    assert_eq!(text(c.read_to_end(Duration::from_secs(10)).await), "held\n");
    assert_gone_post(&b.wait_requests("/gone/timeout", 1).await[0]);
}

// ------------------------------------------------------------- Grip-Feature

/// What 1.36 announces; this proxy implements all of it but `session`.
const FEATURES: [&str; 7] = [
    "status",
    "link:next",
    "filter:skip-self",
    "filter:skip-users",
    "filter:require-sub",
    "filter:build-id",
    "filter:var-subst",
];

fn features(r: &Recorded) -> Vec<String> {
    r.header("grip-feature")
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn grip_feature_goes_with_backend_and_link_requests() {
    let b = Backend::start().await;
    b.fixed("/page1", || {
        Reply::text(200, "one\n").header("Grip-Link", "</page2>; rel=next")
    });
    b.fixed("/page2", || Reply::text(200, "two\n"));
    let p = proxy(&b, |_| {}).await;
    let r = request(p.http, "GET", "/page1", &[("Grip-Feature", "forged")], b"").await;
    assert_eq!(r.text(), "one\ntwo\n");
    let first = &b.requests("/page1")[0];
    let link = &b.requests("/page2")[0];
    assert!(features(first).contains(&"status".to_owned()));
    assert_eq!(features(first), features(link));
}

#[tokio::test]
async fn grip_feature_lists_links_and_filters() {
    let b = Backend::start().await;
    b.fixed("/", || Reply::text(200, "ok\n"));
    let p = proxy(&b, |_| {}).await;
    request(p.http, "GET", "/", &[], b"").await;
    let got = features(&b.requests("/")[0]);
    for f in FEATURES {
        assert!(got.iter().any(|g| g == f), "{f} missing from {got:?}");
    }
}
