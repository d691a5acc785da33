//! Publish request bodies (`{"items": [...]}`) → validated [`Item`]s.
//!
//! Pure. Checks run in Pushpin 1.36's order and fail with its exact messages,
//! so publishers see the same `400` bodies. The whole body is validated
//! before anything is published: one bad item rejects the request.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::grip::base64::decode_lenient;
use crate::grip::item::{
    ContentFilters, HttpResponse, HttpStream, Item, ResponseBody, ResponseSend, StreamSend, WsKind,
    WsMessage,
};

/// Why a publish body was refused; `Display` is the response body line
/// (without the trailing newline).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("Body is not valid JSON.")]
    NotJson,
    #[error("Invalid format.")]
    NotObject,
    #[error("Invalid format: object does not contain 'items'")]
    NoItems,
    #[error("Invalid format: object contains 'items' with wrong type")]
    ItemsType,
    #[error("Invalid format: {0}")]
    Item(String),
}

type R<T> = Result<T, String>;

/// Parses a whole publish body.
pub fn parse_publish_body(body: &[u8]) -> Result<Vec<Item>, PublishError> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let v: Value = serde_json::from_slice(body).map_err(|_| PublishError::NotJson)?;
    let obj = match v {
        Value::Object(o) => o,
        Value::Array(_) => return Err(PublishError::NotObject),
        _ => return Err(PublishError::NotJson),
    };
    let items = match obj.get("items") {
        None => return Err(PublishError::NoItems),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(PublishError::ItemsType),
    };
    items
        .iter()
        .map(|i| parse_item(i).map_err(PublishError::Item))
        .collect()
}

fn parse_item(v: &Value) -> R<Item> {
    const P: &str = "publish item object";
    let Value::Object(o) = v else {
        return Err(format!("{P} is not an object"));
    };
    let channel = match o.get("channel") {
        None => return Err(format!("{P} does not contain 'channel'")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(format!("{P} contains 'channel' with wrong type")),
    };
    let id = opt_string(o, "id").map_err(|k| format!("{P} contains '{k}' with wrong type"))?;
    let prev_id =
        opt_string(o, "prev-id").map_err(|k| format!("{P} contains '{k}' with wrong type"))?;
    let formats: Map<String, Value> = match o.get("formats") {
        Some(Value::Object(f)) => f.clone(),
        Some(_) => return Err(format!("{P} contains 'formats' with wrong type")),
        None => ["http-response", "http-stream", "ws-message"]
            .iter()
            .filter_map(|k| o.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    };
    if formats.is_empty() {
        return Err("no formats specified".to_owned());
    }
    let http_response = formats
        .get("http-response")
        .map(parse_http_response)
        .transpose()?;
    let http_stream = formats
        .get("http-stream")
        .map(parse_http_stream)
        .transpose()?;
    let ws_message = formats
        .get("ws-message")
        .map(parse_ws_message)
        .transpose()?;
    let meta = match o.get("meta") {
        None => BTreeMap::new(),
        Some(Value::Object(m)) => string_map(m, "'meta'")?,
        Some(_) => return Err(format!("{P} contains 'meta' with wrong type")),
    };
    let size = match o.get("size") {
        None => None,
        Some(v) => {
            let n = to_int(v).ok_or_else(|| format!("{P} contains 'size' with wrong type"))?;
            if n < 0 {
                return Err(format!("{P} contains 'size' with invalid value"));
            }
            Some(i64::from(n))
        }
    };
    let no_seq = match o.get("no-seq") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(format!("{P} contains 'no-seq' with wrong type")),
    };
    Ok(Item {
        channel,
        id,
        prev_id,
        meta,
        size,
        no_seq,
        http_response,
        http_stream,
        ws_message,
    })
}

/// An optional string field; `Err(key)` when present with another type.
fn opt_string<'a>(o: &Map<String, Value>, key: &'a str) -> Result<Option<String>, &'a str> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(key),
    }
}

/// An object whose values must all be strings; keys are checked in sorted
/// order so the error names the same key as 1.36.
fn string_map(m: &Map<String, Value>, what: &str) -> R<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            _ => return Err(format!("{what} contains '{k}' with wrong type")),
        }
    }
    Ok(out)
}

/// Pushpin's integer coercion: numbers (rounded half up, low 32 bits),
/// numeric strings (anything else reads as 0) and booleans.
pub(crate) fn to_int(v: &Value) -> Option<i32> {
    match v {
        Value::Bool(b) => Some(i32::from(*b)),
        Value::Number(n) => {
            let wide = if let Some(i) = n.as_i64() {
                i
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                let r = (f + 0.5).floor();
                if r.is_finite() && r.abs() < 9.2e18 {
                    r as i64
                } else {
                    0
                }
            };
            Some(wide as i32)
        }
        Value::String(s) => Some(s.trim().parse::<i64>().unwrap_or(0) as i32),
        _ => None,
    }
}

enum Action {
    Send,
    Hint,
    Close,
    /// `ws-message` only (as in Pushpin 1.38+).
    Refresh,
}

fn action(o: &Map<String, Value>, p: &str) -> R<Action> {
    match o.get("action") {
        None => Ok(Action::Send),
        Some(Value::String(s)) => match s.as_str() {
            "send" => Ok(Action::Send),
            "hint" => Ok(Action::Hint),
            "close" => Ok(Action::Close),
            "refresh" if p == "'ws-message'" => Ok(Action::Refresh),
            // 1.36 reports an unknown action with an empty message
            _ => Err(String::new()),
        },
        Some(_) => Err(format!("{p} contains 'action' with wrong type")),
    }
}

fn content_filters(o: &Map<String, Value>, p: &str) -> R<ContentFilters> {
    match o.get("content-filters") {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|e| match e {
                Value::String(s) => Ok(s.clone()),
                _ => Err("content-filters contains element with wrong type".to_owned()),
            })
            .collect::<R<Vec<_>>>()
            .map(Some),
        Some(_) => Err(format!("{p} contains 'content-filters' with wrong type")),
    }
}

/// `*-bin` (base64) wins over the text field; `Ok(None)` when neither exists.
fn bin_or_text(o: &Map<String, Value>, p: &str, text: &str) -> R<Option<Bytes>> {
    let bin = format!("{text}-bin");
    if let Some(v) = o.get(&bin) {
        return match v {
            Value::String(s) => Ok(Some(Bytes::from(decode_lenient(s)))),
            _ => Err(format!("{p} contains '{bin}' with wrong type")),
        };
    }
    match o.get(text) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Bytes::from(s.clone().into_bytes()))),
        Some(_) => Err(format!("{p} contains '{text}' with wrong type")),
    }
}

fn format_object<'a>(v: &'a Value, p: &str) -> R<&'a Map<String, Value>> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(format!("{p} is not an object")),
    }
}

fn parse_http_response(v: &Value) -> R<HttpResponse> {
    const P: &str = "'http-response'";
    let o = format_object(v, P)?;
    match action(o, P)? {
        Action::Hint => return Ok(HttpResponse::Hint),
        Action::Close => return Ok(HttpResponse::Close),
        Action::Send | Action::Refresh => {}
    }
    let code = match o.get("code") {
        None => 200,
        Some(v) => {
            let n = to_int(v).ok_or_else(|| format!("{P} contains 'code' with wrong type"))?;
            if !(0..=999).contains(&n) {
                return Err(format!("{P} contains 'code' with invalid value"));
            }
            n as u16
        }
    };
    let reason = match o.get("reason") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(format!("{P} contains 'reason' with wrong type")),
    };
    let headers = match o.get("headers") {
        None => Vec::new(),
        Some(v) => parse_headers(v)
            .map_err(|e| e.unwrap_or_else(|| format!("{P} contains 'headers' with wrong type")))?,
    };
    let content_filters = content_filters(o, P)?;
    let body = if let Some(b) = bin_or_text(o, P, "body")? {
        ResponseBody::Bytes(b)
    } else {
        match o.get("body-patch") {
            Some(p @ Value::Array(_)) => ResponseBody::Patch(p.clone()),
            Some(_) => return Err(format!("{P} contains 'body-patch' with wrong type")),
            None => {
                return Err(format!(
                    "{P} does not contain 'body', 'body-bin', or 'body-patch'"
                ))
            }
        }
    };
    Ok(HttpResponse::Send(ResponseSend {
        code,
        reason,
        headers,
        body,
        content_filters,
    }))
}

/// Headers as a list of `[name, value]` pairs or an object. `Err(None)`
/// means "wrong type" for the caller to word.
pub(crate) fn parse_headers(v: &Value) -> Result<Vec<(String, String)>, Option<String>> {
    match v {
        Value::Array(list) => list
            .iter()
            .map(|e| {
                let Value::Array(pair) = e else {
                    return Err(Some("headers contains element with wrong type".to_owned()));
                };
                if pair.len() != 2 {
                    return Err(Some(
                        "headers contains list with wrong number of elements".to_owned(),
                    ));
                }
                let Value::String(name) = &pair[0] else {
                    return Err(Some(
                        "header contains name element with wrong type".to_owned(),
                    ));
                };
                let Value::String(value) = &pair[1] else {
                    return Err(Some(
                        "header contains value element with wrong type".to_owned(),
                    ));
                };
                Ok((name.clone(), value.clone()))
            })
            .collect(),
        Value::Object(m) => string_map(m, "headers")
            .map(|m| m.into_iter().collect())
            .map_err(Some),
        _ => Err(None),
    }
}

fn parse_http_stream(v: &Value) -> R<HttpStream> {
    const P: &str = "'http-stream'";
    let o = format_object(v, P)?;
    match action(o, P)? {
        Action::Hint => return Ok(HttpStream::Hint),
        Action::Close => return Ok(HttpStream::Close),
        Action::Send | Action::Refresh => {}
    }
    let filters = content_filters(o, P)?;
    let content = bin_or_text(o, P, "content")?
        .ok_or_else(|| format!("{P} does not contain 'content' or 'content-bin'"))?;
    Ok(HttpStream::Send(StreamSend::new(content, filters)))
}

fn parse_ws_message(v: &Value) -> R<WsMessage> {
    const P: &str = "'ws-message'";
    let o = format_object(v, P)?;
    match action(o, P)? {
        Action::Hint => return Ok(WsMessage::Hint),
        Action::Refresh => return Ok(WsMessage::Refresh),
        Action::Close => {
            let code = match o.get("code") {
                None => None,
                Some(v) => {
                    let n =
                        to_int(v).ok_or_else(|| format!("{P} contains 'code' with wrong type"))?;
                    if n < 0 {
                        return Err(format!("{P} contains 'code' with invalid value"));
                    }
                    Some(n as u16)
                }
            };
            let reason = match o.get("reason") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(format!("{P} contains 'reason' with wrong type")),
            };
            return Ok(WsMessage::Close { code, reason });
        }
        Action::Send => {}
    }
    let explicit = match o.get("type") {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "text" => WsKind::Text,
            "binary" => WsKind::Binary,
            "ping" => WsKind::Ping,
            "pong" => WsKind::Pong,
            _ => return Err(format!("{P} contains 'type' with unknown value")),
        }),
        Some(_) => return Err(format!("{P} contains 'type' with wrong type")),
    };
    let content_filters = content_filters(o, P)?;
    let is_bin = o.contains_key("content-bin");
    let content = bin_or_text(o, P, "content")?;
    let kind = explicit.unwrap_or(if is_bin { WsKind::Binary } else { WsKind::Text });
    let content = match content {
        Some(c) => c,
        None if matches!(kind, WsKind::Ping | WsKind::Pong) => Bytes::new(),
        None => return Err(format!("{P} does not contain 'content' or 'content-bin'")),
    };
    let frame = crate::ws::frame::encode_server(&crate::ws::frame::Frame::new(
        crate::ws::frame::OpCode::from_kind(kind),
        content.clone(),
    ));
    Ok(WsMessage::Send {
        kind,
        content,
        content_filters,
        frame,
    })
}

#[cfg(test)]
mod tests;
