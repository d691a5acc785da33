//! Benchmarks hub fan-out: one published item delivered to 10,000 stream
//! subscribers, each with its own inbox. Every iteration drains the inboxes
//! too, so queues never fill; the figure is publish + drain per item.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pushpin::grip::item::Item;
use pushpin::hub::{Hub, Inbox, SubMode};
use pushpin::publish::parse::parse_publish_body;

const SUBSCRIBERS: usize = 10_000;

fn bench_fanout(c: &mut Criterion) {
    let hub = Hub::new();
    let inboxes: Vec<Arc<Inbox>> = (0..SUBSCRIBERS).map(|_| Inbox::new(16)).collect();
    // the guards keep the subscriptions alive for the whole benchmark
    let _subs: Vec<_> = inboxes
        .iter()
        .map(|inbox| hub.subscribe("news", inbox.clone(), 0, SubMode::Stream).0)
        .collect();

    let body =
        br#"{"items":[{"channel":"news","formats":{"http-stream":{"content":"data: hi\n\n"}}}]}"#;
    let item: Arc<Item> = Arc::new(parse_publish_body(body).expect("parses").remove(0));

    let mut group = c.benchmark_group("hub");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let mut out = Vec::with_capacity(1);
    group.bench_function("publish_to_10k_stream_subscribers", |b| {
        b.iter(|| {
            let delivered = hub.publish(black_box(&item));
            assert_eq!(delivered, SUBSCRIBERS);
            for inbox in &inboxes {
                inbox.try_recv(&mut out);
                out.clear();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_fanout);
criterion_main!(benches);
