//! Benchmarks parsing of `POST /publish/` bodies into validated items, the
//! per-request cost of the publish API before fan-out.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pushpin::publish::parse::parse_publish_body;

fn stream_item(channel: &str, id: usize) -> String {
    format!(
        r#"{{"channel":"{channel}","id":"{id}","prev-id":"{prev}","formats":{{"http-stream":{{"content":"event: message\ndata: {{\"n\": {id}}}\n\n"}}}}}}"#,
        prev = id.saturating_sub(1),
    )
}

fn body(items: &[String]) -> Vec<u8> {
    format!(r#"{{"items":[{}]}}"#, items.join(",")).into_bytes()
}

/// One item carrying both an `http-response` (long-poll) and a
/// `ws-message` format, as a publisher serving both kinds of client sends.
const MIXED_FORMATS: &str = r#"{"items":[{
  "channel": "updates",
  "id": "17",
  "prev-id": "16",
  "meta": {"sender": "svc-1"},
  "formats": {
    "http-response": {
      "code": 200,
      "headers": {"Content-Type": "application/json", "Cache-Control": "no-cache"},
      "body": "{\"n\": 17, \"text\": \"hello\"}\n"
    },
    "ws-message": {"content": "{\"n\": 17, \"text\": \"hello\"}"}
  }
}]}"#;

fn bench_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_parse");

    let cases = [
        ("one_http_stream", body(&[stream_item("updates", 1)]), 1),
        (
            "ten_http_stream",
            body(
                &(1..=10)
                    .map(|i| stream_item(&format!("ch-{i}"), i))
                    .collect::<Vec<_>>(),
            ),
            10,
        ),
        ("http_response_and_ws", MIXED_FORMATS.as_bytes().to_vec(), 1),
    ];
    for (name, body, items) in &cases {
        assert_eq!(parse_publish_body(body).expect("parses").len(), *items);
        group.throughput(Throughput::Elements(*items as u64));
        group.bench_function(*name, |b| {
            b.iter(|| parse_publish_body(black_box(body)).expect("parses"))
        });
    }

    group.finish();
}

criterion_group!(benches, bench_publish);
criterion_main!(benches);
