//! Builders for published items with ids, prev-ids, meta and actions, so
//! sequencing and filter tests read like the publish API documentation.

use serde_json::{json, Map, Value};

/// An `http-stream` item: `content` on `channel`, with optional `id` and
/// `prev-id`.
pub fn stream(channel: &str, id: Option<&str>, prev: Option<&str>, content: &str) -> Value {
    with_ids(
        json!({ "channel": channel, "formats": { "http-stream": { "content": content } } }),
        id,
        prev,
    )
}

/// An `http-response` item whose body is `body`.
pub fn response(channel: &str, id: Option<&str>, prev: Option<&str>, body: &str) -> Value {
    with_ids(
        json!({ "channel": channel, "formats": { "http-response": { "body": body } } }),
        id,
        prev,
    )
}

/// An `http-stream` item with `action` (`hint`, `close`).
pub fn stream_action(channel: &str, action: &str) -> Value {
    json!({ "channel": channel, "formats": { "http-stream": { "action": action } } })
}

/// Sets `id` and `prev-id` on an item (absent when `None`).
pub fn with_ids(mut item: Value, id: Option<&str>, prev: Option<&str>) -> Value {
    let o = item.as_object_mut().expect("item is an object");
    if let Some(id) = id {
        o.insert("id".into(), json!(id));
    }
    if let Some(prev) = prev {
        o.insert("prev-id".into(), json!(prev));
    }
    item
}

/// Sets publish `meta` on an item.
pub fn with_meta(mut item: Value, meta: &[(&str, &str)]) -> Value {
    let m: Map<String, Value> = meta
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    item["meta"] = Value::Object(m);
    item
}

/// Sets a top-level field of an item (`no-seq`...).
pub fn with(mut item: Value, key: &str, value: Value) -> Value {
    item[key] = value;
    item
}
