//! Benchmarks GRIP instruction parsing, which runs once per GRIP response from
//! a backend, in the connection task. Two cases: a realistic set of `Grip-*`
//! response headers, and an `application/grip-instruct` JSON body.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue};
use pushpin::grip::instruct;

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    h
}

/// A stream hold as a typical backend sends it, with ordinary response
/// headers that are relayed to the client.
fn stream_hold_headers() -> HeaderMap {
    header_map(&[
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Connection", "keep-alive"),
        ("Grip-Hold", "stream"),
        ("Grip-Channel", "a, b; prev-id=3"),
        ("Grip-Channel", "user-42; filter=skip-self"),
        ("Grip-Keep-Alive", ":\\n\\n; format=cstring; timeout=20"),
        ("Grip-Timeout", "60"),
        ("Grip-Set-Meta", "user=alice"),
        (
            "Grip-Link",
            "</stream?after=3>; rel=next; timeout=30, </gone>; rel=gone",
        ),
    ])
}

const INSTRUCT_JSON: &str = r#"{
  "hold": {
    "mode": "stream",
    "channels": [
      {"name": "a", "prev-id": "3", "filters": ["skip-self"]},
      {"name": "b"}
    ],
    "timeout": 60,
    "keep-alive": {"content": ":\n\n", "timeout": 20},
    "meta": {"user": "alice"}
  },
  "response": {
    "code": 200,
    "headers": {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
    "body": "retry: 1000\n\n"
  }
}"#;

fn bench_instruct(c: &mut Criterion) {
    let mut group = c.benchmark_group("grip_instruct");

    let headers = stream_hold_headers();
    let body = Bytes::from_static(b"");
    group.bench_function("headers_stream_hold", |b| {
        b.iter(|| instruct::parse(200, "OK", black_box(&headers), body.clone()).expect("parses"))
    });

    let headers = header_map(&[("Content-Type", "application/grip-instruct")]);
    let body = Bytes::from_static(INSTRUCT_JSON.as_bytes());
    group.bench_function("json_body_stream_hold", |b| {
        b.iter(|| instruct::parse(200, "OK", black_box(&headers), body.clone()).expect("parses"))
    });

    group.finish();
}

criterion_group!(benches, bench_instruct);
criterion_main!(benches);
