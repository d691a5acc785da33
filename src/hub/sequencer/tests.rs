//! Unit and property tests for the sequencer.

use super::*;
use proptest::prelude::*;

fn item(ch: &str, id: Option<&str>, prev: Option<&str>) -> Arc<Item> {
    let mut i = Item::test_stream(ch, id.unwrap_or("-"));
    i.id = id.map(str::to_owned);
    i.prev_id = prev.map(str::to_owned);
    Arc::new(i)
}

fn ids(v: &[Arc<Item>]) -> Vec<String> {
    v.iter().map(|i| i.id.clone().unwrap_or_default()).collect()
}

fn seq() -> Sequencer {
    Sequencer::new(Duration::from_secs(5), Duration::from_secs(60))
}

#[test]
fn in_order_items_pass_and_gaps_wait() {
    let mut s = seq();
    let t = Instant::now();
    assert_eq!(ids(&s.add(item("c", Some("1"), None), true, t)), ["1"]);
    assert_eq!(
        ids(&s.add(item("c", Some("3"), Some("2")), true, t)),
        Vec::<String>::new()
    );
    assert_eq!(s.pending_count("c"), 1);
    assert_eq!(
        ids(&s.add(item("c", Some("2"), Some("1")), true, t)),
        ["2", "3"]
    );
    assert_eq!(s.last_id("c"), Some("3"));
    assert_eq!(s.pending_count("c"), 0);
}

#[test]
fn unsequenced_and_no_last_id_go_straight_through() {
    let mut s = seq();
    let t = Instant::now();
    // no last id known yet: any prev-id passes
    assert_eq!(ids(&s.add(item("c", Some("5"), Some("4")), true, t)), ["5"]);
    // not sequenced (no subscribers or no-seq): delivered, last id untouched
    assert_eq!(
        ids(&s.add(item("c", Some("9"), Some("8")), false, t)),
        ["9"]
    );
    assert_eq!(s.last_id("c"), Some("5"));
    // an item without id clears the last id
    assert_eq!(s.add(item("c", None, Some("5")), true, t).len(), 1);
    assert_eq!(s.last_id("c"), None);
}

#[test]
fn waiting_items_are_released_after_message_wait() {
    let mut s = seq();
    let t = Instant::now();
    s.add(item("c", Some("1"), None), true, t);
    s.add(item("c", Some("3"), Some("2")), true, t);
    s.add(item("c", Some("4"), Some("3")), true, t);
    assert!(s.tick(t + Duration::from_millis(4999)).is_empty());
    assert_eq!(ids(&s.tick(t + Duration::from_secs(5))), ["3", "4"]);
    assert_eq!(s.last_id("c"), Some("4"));
}

#[test]
fn limits_on_waiting_items() {
    let mut s = seq();
    let t = Instant::now();
    s.add(item("c", Some("0"), None), true, t);
    s.add(item("c", Some("a"), Some("x")), true, t);
    // a second item waiting on the same prev-id is dropped
    s.add(item("c", Some("b"), Some("x")), true, t);
    assert_eq!(s.pending_count("c"), 1);
    for i in 0..200 {
        s.add(
            item("c", Some(&format!("i{i}")), Some(&format!("p{i}"))),
            true,
            t,
        );
    }
    assert_eq!(s.pending_count("c"), PENDING_MAX);
    s.channel_gone("c");
    assert_eq!(s.pending_count("c"), 0);
    assert_eq!(s.last_id("c"), None);
}

#[test]
fn duplicate_ids_are_dropped_within_the_ttl_even_without_subscribers() {
    let mut s = seq();
    let t = Instant::now();
    assert_eq!(s.add(item("c", Some("1"), None), false, t).len(), 1);
    assert!(s
        .add(
            item("c", Some("1"), None),
            false,
            t + Duration::from_secs(59)
        )
        .is_empty());
    assert_eq!(s.add(item("other", Some("1"), None), false, t).len(), 1);
    assert_eq!(
        s.add(
            item("c", Some("1"), None),
            false,
            t + Duration::from_secs(60)
        )
        .len(),
        1
    );
    // items without ids are never duplicates
    assert_eq!(s.add(item("c", None, None), false, t).len(), 1);
    assert_eq!(s.add(item("c", None, None), false, t).len(), 1);
    let mut off = Sequencer::new(Duration::from_secs(5), Duration::ZERO);
    assert_eq!(off.add(item("c", Some("1"), None), false, t).len(), 1);
    assert_eq!(off.add(item("c", Some("1"), None), false, t).len(), 1);
}

proptest! {
    /// For any interleaving of a chain of items (ids 0..n, each naming its
    /// predecessor) with duplicates, the output has each id at most once
    /// and in chain order.
    #[test]
    fn any_interleaving_is_delivered_at_most_once_in_order(
        order in Just((0..12usize).collect::<Vec<_>>()).prop_shuffle(),
        dups in proptest::collection::vec(0..12usize, 0..6),
    ) {
        let mut s = seq();
        let t = Instant::now();
        let mut out = Vec::new();
        // the first item establishes the channel's last id
        out.extend(s.add(item("c", Some("start"), None), true, t));
        let mut feed: Vec<usize> = order;
        feed.extend(dups);
        for n in feed {
            let prev = if n == 0 { "start".to_owned() } else { (n - 1).to_string() };
            out.extend(s.add(item("c", Some(&n.to_string()), Some(&prev)), true, t));
        }
        out.extend(s.tick(t + Duration::from_secs(10)));
        let got: Vec<String> = ids(&out);
        let mut seen = std::collections::HashSet::new();
        for id in &got {
            prop_assert!(seen.insert(id.clone()), "duplicate {id}");
        }
        let want: Vec<String> = std::iter::once("start".to_owned())
            .chain((0..12).map(|n| n.to_string()))
            .collect();
        prop_assert_eq!(got, want);
    }
}
