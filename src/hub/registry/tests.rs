//! Unit tests for the registry: RAII subscriptions, fan-out by kind,
//! overflow, lingering, recover.

use super::*;
use crate::hub::Recv;

fn publish(hub: &Hub, ch: &str, text: &str) -> usize {
    hub.publish(&Arc::new(Item::test_stream(ch, text)))
}

fn quiet() -> HubConfig {
    HubConfig {
        update_on_first_subscription: false,
        ..HubConfig::default()
    }
}

#[test]
fn subscribe_publish_unsubscribe() {
    let hub = Hub::with_config(quiet());
    let inbox = Inbox::new(8);
    let (a, first) = hub.subscribe("a", inbox.clone(), 0, SubMode::Stream);
    assert!(first);
    let (b, first) = hub.subscribe("a", Inbox::new(8), 0, SubMode::Stream);
    assert!(!first);
    assert_eq!(publish(&hub, "a", "x"), 2);
    assert_eq!(publish(&hub, "nobody", "x"), 0);
    drop(b);
    assert_eq!(hub.subscribers("a"), 1);
    drop(a);
    assert_eq!(hub.stats().channels, 0);
    let mut out = Vec::new();
    assert_eq!(inbox.try_recv(&mut out), Some(Recv::Items));
    assert_eq!(out.len(), 1);
}

#[test]
fn items_go_only_to_sessions_of_their_format() {
    let hub = Hub::with_config(quiet());
    let lp = Inbox::new(8);
    let _s = hub.subscribe("c", lp.clone(), 0, SubMode::Response);
    assert_eq!(publish(&hub, "c", "stream item"), 0);
    assert!(lp.try_recv(&mut Vec::new()).is_none());
}

#[test]
fn full_subscriber_does_not_stop_others() {
    let hub = Hub::with_config(quiet());
    let slow = Inbox::new(1);
    let fast = Inbox::new(100);
    let _s = hub.subscribe("c", slow.clone(), 0, SubMode::Stream);
    let _f = hub.subscribe("c", fast.clone(), 0, SubMode::Stream);
    for i in 0..10 {
        publish(&hub, "c", &i.to_string());
    }
    let mut out = Vec::new();
    assert_eq!(fast.try_recv(&mut out), Some(Recv::Items));
    assert_eq!(out.len(), 10);
    assert_eq!(slow.try_recv(&mut Vec::new()), Some(Recv::Overflowed));
    assert_eq!(hub.stats().overflowed, 9);
}

#[tokio::test(start_paused = true)]
async fn long_poll_channels_linger_then_go() {
    let hub = Hub::with_config(HubConfig {
        subscription_linger: Duration::from_secs(60),
        ..quiet()
    });
    let (s, _) = hub.subscribe("lp", Inbox::new(4), 0, SubMode::Response);
    let mut item = Item::test_stream("lp", "x");
    item.id = Some("1".into());
    hub.publish(&Arc::new(item));
    drop(s);
    assert_eq!(
        hub.last_id("lp").as_deref(),
        Some("1"),
        "still sequenced while lingering"
    );
    let (s, first) = hub.subscribe("lp", Inbox::new(4), 0, SubMode::Response);
    assert!(!first);
    drop(s);
    tokio::time::advance(Duration::from_secs(61)).await;
    hub.tick();
    assert_eq!(hub.stats().channels, 0);
    assert_eq!(hub.last_id("lp"), None);
}

#[tokio::test(start_paused = true)]
async fn first_subscription_and_recover_ask_sessions_to_re_request() {
    let hub = Hub::new();
    let inbox = Inbox::new(4);
    let _s = hub.subscribe("f", inbox.clone(), 0, SubMode::Response);
    let due = hub.next_first_subscription_due().unwrap();
    tokio::time::advance(Duration::from_millis(999)).await;
    hub.fire_first_subscriptions();
    assert!(inbox.try_recv(&mut Vec::new()).is_none());
    tokio::time::sleep_until(due).await;
    hub.fire_first_subscriptions();
    assert_eq!(inbox.try_recv(&mut Vec::new()), Some(Recv::Recover));
    assert!(hub.next_first_subscription_due().is_none());
    hub.recover();
    assert_eq!(inbox.try_recv(&mut Vec::new()), Some(Recv::Recover));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_tasks_deliver_everything_in_order_and_follow_subscription_changes() {
    let hub = Hub::with_config(HubConfig {
        fanout_shards: 3,
        ..quiet()
    });
    let tracker = tokio_util::task::TaskTracker::new();
    let shutdown = CancellationToken::new();
    hub.start_fanout(&tracker, &shutdown);
    let inboxes: Vec<_> = (0..50).map(|_| Inbox::new(1000)).collect();
    let subs: Vec<_> = inboxes
        .iter()
        .map(|i| hub.subscribe("c", i.clone(), 7, SubMode::Stream).0)
        .collect();
    for n in 0..100 {
        assert_eq!(publish(&hub, "c", &n.to_string()), 50);
    }
    // a subscriber that leaves gets nothing published afterwards
    drop(subs);
    let (_late, _) = hub.subscribe("c", inboxes[0].clone(), 8, SubMode::Stream);
    publish(&hub, "c", "late");
    for (i, inbox) in inboxes.iter().enumerate() {
        let want = if i == 0 { 101 } else { 100 };
        let mut got = Vec::new();
        while got.len() < want {
            let mut out = Vec::new();
            let r = tokio::time::timeout(Duration::from_secs(5), inbox.recv(&mut out))
                .await
                .expect("deliveries arrived");
            assert_eq!(r, Recv::Items);
            got.extend(out);
        }
        let texts: Vec<String> = got
            .iter()
            .map(|d| match &d.item.http_stream {
                Some(crate::grip::item::HttpStream::Send(s)) => {
                    String::from_utf8(s.content.to_vec()).unwrap()
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let mut want_texts: Vec<String> = (0..100).map(|n| n.to_string()).collect();
        if i == 0 {
            want_texts.push("late".into());
            assert_eq!(got.last().unwrap().slot, 8);
        }
        assert_eq!(texts, want_texts, "inbox {i}");
        assert!(inbox.try_recv(&mut Vec::new()).is_none(), "inbox {i}");
    }
    assert_eq!(hub.stats().delivered, 50 * 100 + 1);
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}

#[test]
fn message_counts_follow_1_36() {
    let hub = Hub::with_config(quiet());
    let _a = hub.subscribe("c", Inbox::new(1), 0, SubMode::Stream);
    let _b = hub.subscribe("c", Inbox::new(8), 0, SubMode::Stream);
    let _lp = hub.subscribe("c", Inbox::new(8), 0, SubMode::Response);
    // one item, two stream subscribers (the long-poll one wants another format)
    publish(&hub, "c", "x");
    assert_eq!(
        hub.message_counts(),
        MessageCounts {
            received: 1,
            sent: 2
        }
    );
    // nobody listening: received all the same
    publish(&hub, "nobody", "x");
    // `a` is full: the refused delivery still counts as sent
    publish(&hub, "c", "y");
    assert_eq!(hub.stats().overflowed, 1);
    // a duplicate id is dropped before it counts
    let with_id = || {
        let mut it = Item::test_stream("c", "z");
        it.id = Some("1".into());
        Arc::new(it)
    };
    hub.publish(&with_id());
    hub.publish(&with_id());
    assert_eq!(
        hub.message_counts(),
        MessageCounts {
            received: 4,
            sent: 6
        }
    );
}
