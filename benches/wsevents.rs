//! Benchmarks the `application/websocket-events` codec used by
//! WebSocket-over-HTTP: encoding client events for the backend request, and
//! decoding the backend's response body.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pushpin::wsoverhttp::events::{self, Event};

/// A typical batch: a JSON text message, a small binary frame, a ping and
/// a close.
fn batch() -> Vec<Event> {
    vec![
        Event::text(&br#"{"type":"chat","room":"lobby","text":"hello there"}"#[..]),
        Event::binary(Bytes::from_static(&[0u8; 12])),
        Event::ping(&b"keepalive"[..]),
        Event::close(Some(1000), "bye"),
    ]
}

fn bench_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("wsevents");
    let events = batch();
    let wire = Bytes::from(events::encode(&events));
    group.throughput(Throughput::Elements(events.len() as u64));

    let mut buf = BytesMut::with_capacity(wire.len());
    group.bench_function("encode_4_events", |b| {
        b.iter(|| {
            buf.clear();
            events::encode_into(&mut buf, black_box(&events));
            buf.len()
        })
    });

    assert_eq!(events::decode_bytes(&wire).expect("decodes"), events);
    group.bench_function("decode_4_events", |b| {
        b.iter(|| events::decode_bytes(black_box(&wire)).expect("decodes"))
    });

    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
