//! The publish item `pushpin-publish` sends, built from a checked
//! [`Publish`] (pure: the one file read, for `@name` content, goes through
//! the reader the caller passes).
//!
//! The item is 1.36's, field for field:
//! - content: `http-response` (`code`, `body`, `headers`), `http-stream`
//!   (`content`) and `ws-message` (`content`, never with the newline that
//!   typed HTTP content gets); bytes that are not UTF-8 go as `body-bin` /
//!   `content-bin` (base64);
//! - `--patch`: only `http-response`, with `code`, `body-patch`, `headers`;
//! - `--hint`: `{"action": "hint"}` in all three formats;
//! - `--close`: `{"action": "close"}` in `http-stream` and `ws-message`;
//! - `id`, `prev-id` and `meta` (`sender` first, `-M` pairs after it) only
//!   when non-empty, `no-seq` only when true.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::args::{Action, Content, Publish};
use super::error::PublishCliError;

/// Builds the item. `read_file` reads `@name` content.
pub fn build(
    p: &Publish,
    read_file: impl FnOnce(&str) -> Result<Vec<u8>, PublishCliError>,
) -> Result<Value, PublishCliError> {
    let formats = match &p.action {
        Action::Send { code, content } => send_formats(p, *code, content, read_file)?,
        Action::Hint => {
            let hint = json!({ "action": "hint" });
            let mut f = Map::new();
            for name in ["http-response", "http-stream", "ws-message"] {
                f.insert(name.into(), hint.clone());
            }
            f
        }
        Action::Close => {
            let close = json!({ "action": "close" });
            let mut f = Map::new();
            f.insert("http-stream".into(), close.clone());
            f.insert("ws-message".into(), close);
            f
        }
    };
    let mut item = Map::new();
    item.insert("channel".into(), p.channel.clone().into());
    if let Some(id) = &p.id {
        item.insert("id".into(), id.clone().into());
    }
    if let Some(prev) = &p.prev_id {
        item.insert("prev-id".into(), prev.clone().into());
    }
    item.insert("formats".into(), formats.into());
    let mut meta = Map::new();
    if let Some(sender) = &p.sender {
        meta.insert("sender".into(), sender.clone().into());
    }
    for (name, value) in &p.meta {
        meta.insert(name.clone(), value.clone().into());
    }
    if !meta.is_empty() {
        item.insert("meta".into(), meta.into());
    }
    if p.no_seq {
        item.insert("no-seq".into(), true.into());
    }
    Ok(item.into())
}

/// The publish request body: `{"items": [item]}`, compact.
pub fn body(item: &Value) -> Vec<u8> {
    format!("{{\"items\":[{item}]}}").into_bytes()
}

fn send_formats(
    p: &Publish,
    code: u16,
    content: &Content,
    read_file: impl FnOnce(&str) -> Result<Vec<u8>, PublishCliError>,
) -> Result<Map<String, Value>, PublishCliError> {
    let mut formats = Map::new();
    let mut response = Map::new();
    response.insert("code".into(), code.into());
    let bodies = match content {
        Content::Text(s) => {
            let http = if p.eol { format!("{s}\n") } else { s.clone() };
            Some((http.into_bytes(), s.clone().into_bytes()))
        }
        // a file goes as it is, newline or not
        Content::File(name) => {
            let bytes = read_file(name)?;
            Some((bytes.clone(), bytes))
        }
        Content::Patch(ops) => {
            ops.iter().try_for_each(check_numbers)?;
            response.insert("body-patch".into(), Value::Array(ops.clone()));
            None
        }
    };
    if let Some((http, ws)) = bodies {
        let (key, value) = bytes_field("body", http.clone());
        response.insert(key, value);
        formats.insert("http-stream".into(), object(bytes_field("content", http)));
        formats.insert("ws-message".into(), object(bytes_field("content", ws)));
    }
    if !p.headers.is_empty() {
        let headers = p
            .headers
            .iter()
            .map(|(n, v)| json!([n, v]))
            .collect::<Vec<_>>();
        response.insert("headers".into(), headers.into());
    }
    formats.insert("http-response".into(), response.into());
    Ok(formats)
}

/// `name` with the bytes as a string, or `name-bin` with them in base64
/// when they are not UTF-8.
fn bytes_field(name: &str, bytes: Vec<u8>) -> (String, Value) {
    match String::from_utf8(bytes) {
        Ok(s) => (name.to_owned(), s.into()),
        Err(e) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.into_bytes());
            (format!("{name}-bin"), b64.into())
        }
    }
}

fn object((key, value): (String, Value)) -> Value {
    let mut m = Map::new();
    m.insert(key, value);
    m.into()
}

/// 1.36 carries patch values through a signed 64-bit integer or a double;
/// an integer above `i64::MAX` (parsed as `u64`) fails there.
fn check_numbers(v: &Value) -> Result<(), PublishCliError> {
    match v {
        Value::Number(n) if n.is_u64() && !n.is_i64() => Err(PublishCliError::PatchNumber),
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(o) => o.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
