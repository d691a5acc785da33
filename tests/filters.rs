//! Subscription filters and meta, black-box over real sockets: delivery
//! filters (`skip-self`, `skip-users`, `require-sub`) against item meta,
//! content filters (`var-subst`, `build-id`) with subscription meta from
//! `Grip-Set-Meta` or the JSON instruct, the publisher's `content-filters`
//! assertion, and `body-patch` on held JSON responses.

mod support;

use std::time::Duration;

use pushpin::config::Config;
use serde_json::json;
use support::items::{stream, with_meta};
use support::{Backend, Proxy, RawClient, Reply};

async fn proxy(b: &Backend) -> Proxy {
    Proxy::builder()
        .route(&format!("* {}", b.target()))
        .config(|c: &mut Config| {
            c.update_on_first_subscription = false;
            c.message_wait = Duration::from_secs(60);
        })
        .start()
        .await
}

/// Opens a stream hold whose initial body is `w\n` (subscribed on return).
async fn open(p: &Proxy, path: &str) -> RawClient {
    let mut c = RawClient::get(p.http, path).await;
    assert_eq!(c.read_until_contains(b"w\n").await, b"w\n", "{path}");
    c
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn delivery_filters_use_subscription_and_item_meta() {
    let b = Backend::start().await;
    const FILTERS: &str = "f1; filter=skip-self; filter=skip-users; filter=require-sub";
    b.fixed("/alice", || {
        Reply::stream_hold(FILTERS, "w\n").header("Grip-Set-Meta", "user=alice")
    });
    b.fixed("/bob", || {
        Reply::stream_hold(FILTERS, "w\n")
            .header("Grip-Channel", "f1-extra")
            .header("Grip-Set-Meta", "user=bob")
    });
    b.fixed("/unfiltered", || {
        Reply::stream_hold("f1", "w\n").header("Grip-Set-Meta", "user=alice")
    });
    let p = proxy(&b).await;
    let mut alice = open(&p, "/alice").await;
    let mut bob = open(&p, "/bob").await;
    let mut unfiltered = open(&p, "/unfiltered").await;
    p.publish(json!([
        with_meta(
            stream("f1", None, None, "from alice\n"),
            &[("sender", "alice")]
        ),
        with_meta(
            stream("f1", None, None, "skip bob\n"),
            &[("skip_users", "carol, bob ,dave")]
        ),
        with_meta(
            stream("f1", None, None, "extra only\n"),
            &[("require_sub", "f1-extra")]
        ),
        stream("f1", None, None, "end\n"),
    ]))
    .await;
    assert_eq!(
        text(alice.read_until_contains(b"end\n").await),
        "w\nskip bob\nend\n"
    );
    assert_eq!(
        text(bob.read_until_contains(b"end\n").await),
        "w\nfrom alice\nextra only\nend\n"
    );
    assert_eq!(
        text(unfiltered.read_until_contains(b"end\n").await),
        "w\nfrom alice\nskip bob\nextra only\nend\n"
    );
}

#[tokio::test]
async fn require_sub_names_channels_without_the_route_prefix() {
    let b = Backend::start().await;
    b.fixed("/rs", || {
        Reply::stream_hold("f9; filter=require-sub, extra", "w\n")
    });
    let p = Proxy::builder()
        .route(&format!("*,prefix=app- {}", b.target()))
        .config(|c| c.update_on_first_subscription = false)
        .start()
        .await;
    let mut c = open(&p, "/rs").await;
    p.publish(json!([
        with_meta(
            stream("app-f9", None, None, "prefixed\n"),
            &[("require_sub", "app-extra")]
        ),
        with_meta(
            stream("app-f9", None, None, "as given\n"),
            &[("require_sub", "extra")]
        ),
        stream("app-f9", None, None, "end\n"),
    ]))
    .await;
    assert_eq!(
        text(c.read_until_contains(b"end\n").await),
        "w\nas given\nend\n"
    );
}

#[tokio::test]
async fn a_long_poll_keeps_holding_when_a_filter_drops_an_item() {
    let b = Backend::start().await;
    b.fixed("/lp", || {
        Reply::response_hold("lf; filter=skip-self", "held\n").header("Grip-Set-Meta", "user=al")
    });
    let p = proxy(&b).await;
    let mut c = RawClient::get(p.http, "/lp").await;
    p.subscribed("lf", 1).await;
    let item = |body: &str| json!({"channel": "lf", "formats": {"http-response": {"body": body}}});
    p.publish(json!([
        with_meta(item("mine\n"), &[("sender", "al")]),
        item("theirs\n"),
    ]))
    .await;
    c.read_head().await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "theirs\n"
    );
}

#[tokio::test]
async fn a_dropped_item_still_advances_the_prev_id() {
    let b = Backend::start().await;
    b.fixed("/adv", || {
        Reply::stream_hold("adv; prev-id=0; filter=skip-self", "w\n")
            .header("Grip-Set-Meta", "user=al")
            .header("Grip-Link", "</adv-next>; rel=next; timeout=3600")
    });
    b.fixed("/adv-next", || Reply::text(200, "refetched\n"));
    let p = proxy(&b).await;
    let mut c = open(&p, "/adv").await;
    p.publish(json!([
        with_meta(
            stream("adv", Some("1"), Some("0"), "mine\n"),
            &[("sender", "al")]
        ),
        stream("adv", Some("2"), Some("1"), "two\n"),
    ]))
    .await;
    assert_eq!(text(c.read_until_contains(b"two\n").await), "w\ntwo\n");
    assert!(b.requests("/adv-next").is_empty(), "no gap was seen");
}

#[tokio::test]
async fn build_id_applies_to_initial_and_link_bodies() {
    let b = Backend::start().await;
    b.fixed("/bi", || {
        Reply::stream_hold("bi; filter=build-id", "start %(s1)I\n")
            .header("Grip-Set-Meta", "id_format=x")
            .header("Grip-Link", "</bi-next>; rel=next")
    });
    b.fixed("/bi-next", || Reply::text(200, "next %(s2)I 100%%\n"));
    let p = proxy(&b).await;
    let mut c = RawClient::get(p.http, "/bi").await;
    c.read_until_contains(b"start s1\n").await;
    p.publish(json!([{"channel": "bi", "formats": {"http-stream": {"action": "hint"}}}]))
        .await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "start s1\nnext s2 100%\n"
    );
}

#[tokio::test]
async fn var_subst_and_build_id_rewrite_content() {
    let b = Backend::start().await;
    b.fixed("/vs", || {
        Reply::stream_hold("v1; filter=var-subst", "w\n")
            .header("Grip-Set-Meta", "user=alice, greeting=\"hi there\"")
    });
    b.fixed("/bid", || {
        Reply::stream_hold("b1; prev-id=0; filter=build-id", "w\n")
            .header("Grip-Set-Meta", "id_format=ev-%(b1)s")
            .header("Grip-Link", "</b1-next>; rel=next; timeout=3600")
    });
    let p = proxy(&b).await;
    let mut vs = open(&p, "/vs").await;
    let mut bid = open(&p, "/bid").await;
    p.publish(json!([stream(
        "v1",
        None,
        None,
        "%(greeting)s %(user)s: 100%%\n"
    )]))
    .await;
    assert_eq!(
        text(vs.read_until_contains(b"100%\n").await),
        "w\nhi there alice: 100%\n"
    );
    p.publish(json!([
        stream("b1", Some("1"), Some("0"), "id %I\n"),
        stream("b1", Some("2"), Some("1"), "id %I, explicit %(x7)I\n"),
    ]))
    .await;
    assert_eq!(
        text(bid.read_until_contains(b"x7\n").await),
        "w\nid ev-1\nid ev-2, explicit x7\n"
    );
}

#[tokio::test]
async fn instruct_json_filters_and_meta() {
    let b = Backend::start().await;
    b.fixed("/ji", || {
        let instruct = json!({
            "hold": {
                "mode": "stream",
                "channels": [{"name": "j1", "filters": ["skip-self", "var-subst"]}],
                "meta": {"user": "carol"}
            },
            "response": {"body": "w\n"}
        });
        Reply::new(200)
            .header("Content-Type", "application/grip-instruct")
            .header("Grip-Set-Meta", "user=dave, role=admin")
            .body(instruct.to_string())
    });
    let p = proxy(&b).await;
    let mut c = open(&p, "/ji").await;
    p.publish(json!([
        with_meta(stream("j1", None, None, "self\n"), &[("sender", "carol")]),
        stream("j1", None, None, "to %(user)s/%(role)s\n"),
    ]))
    .await;
    assert_eq!(
        text(c.read_until_contains(b"admin\n").await),
        "w\nto carol/admin\n"
    );
}

#[tokio::test]
async fn content_filters_must_match_the_subscriptions() {
    let b = Backend::start().await;
    b.fixed("/cf", || {
        Reply::stream_hold("cf1; filter=var-subst; filter=skip-self", "w\n")
            .header("Grip-Set-Meta", "user=al")
    });
    b.fixed("/cflp", || Reply::response_hold("cf2", "held\n"));
    let p = proxy(&b).await;
    let debug = Proxy::builder()
        .route(&format!("*,debug {}", b.target()))
        .config(|c| c.update_on_first_subscription = false)
        .start()
        .await;
    let mut c = open(&p, "/cf").await;
    let mut d = open(&debug, "/cf").await;
    let declared = |content: &str, filters: serde_json::Value| {
        json!({"channel": "cf1", "formats": {"http-stream": {
            "content": content, "content-filters": filters}}})
    };
    p.publish(json!([declared("ok %(user)s\n", json!(["var-subst"]))]))
        .await;
    assert_eq!(text(c.read_until_contains(b"ok al\n").await), "w\nok al\n");
    p.publish(json!([declared("never\n", json!([]))])).await;
    assert_eq!(
        text(c.read_to_end(Duration::from_secs(5)).await),
        "w\nok al\n"
    );
    assert!(c.complete, "a mismatch ends the stream");
    debug.publish(json!([declared("never\n", json!([]))])).await;
    assert_eq!(
        text(d.read_to_end(Duration::from_secs(5)).await),
        "w\n\n\ncontent filter mismatch: subscription=var-subst message=\n"
    );

    let mut lp = RawClient::get(p.http, "/cflp").await;
    p.subscribed("cf2", 1).await;
    p.publish(json!([{"channel": "cf2", "formats": {"http-response": {
        "body": "x\n", "content-filters": ["build-id"]}}}]))
        .await;
    lp.read_head().await;
    let body = lp.read_to_end(Duration::from_secs(5)).await;
    assert_eq!(
        (lp.status, text(body).as_str()),
        (Some(502), "Error while proxying to origin.\n")
    );
}

#[tokio::test]
async fn body_patch_edits_the_held_json_body() {
    let b = Backend::start().await;
    b.fixed("/jp", || {
        Reply::new(200)
            .header("Content-Type", "application/json")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "bp1")
            .body("{\"list\":[1,2],\"a\":1}\n")
    });
    let p = proxy(&b).await;
    let patch = |ops: serde_json::Value| json!([{"channel": "bp1", "formats": {"http-response": {"body-patch": ops}}}]);
    let mut c = RawClient::get(p.http, "/jp").await;
    p.subscribed("bp1", 1).await;
    p.publish(patch(json!([
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "add", "path": "/b", "value": "x"},
    ])))
    .await;
    c.read_head().await;
    let body = c.read_to_end(Duration::from_secs(5)).await;
    assert_eq!(c.status, Some(200));
    assert_eq!(c.header("content-type"), Some("application/json"));
    assert_eq!(text(body), "{\"a\":2,\"b\":\"x\",\"list\":[1,2,3]}\n");

    let mut c = RawClient::get(p.http, "/jp").await;
    p.subscribed("bp1", 1).await;
    p.publish(patch(json!([{"op": "test", "path": "/a", "value": 5}])))
        .await;
    c.read_head().await;
    c.read_to_end(Duration::from_secs(5)).await;
    assert_eq!(c.status, Some(502), "a failed patch is a filter error");
}
