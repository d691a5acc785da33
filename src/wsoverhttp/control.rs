//! GRIP control messages: the JSON object a GRIP backend sends after `c:` in
//! a single-frame text message (spec §8, keep-alives §10).
//!
//! [`parse`] validates one message into a [`ControlMessage`] and applies the
//! spec's defaults (keep-alive timeout 55 s, send-delayed 1 s, message type
//! `text`, mode `idle`). Any error means the message is dropped unacknowledged;
//! in Pushpin 1.36 that tears the connection down ~8 s later (quirk §15.6),
//! which is the session's business, not this module's. Error texts follow
//! Pushpin's `grip control object contains '<field>' with wrong type` style.
//!
//! Field rules worth knowing:
//! - optional string fields reject any other JSON type, `null` included
//!   (Qt 5.15 behaviour);
//! - `content-bin` wins over `content` and is decoded leniently;
//! - `message-type` defaults to `text` even for `content-bin` (quirk §15.7);
//! - `timeout` is only looked at when content is present.
//!
//! [`ControlMessage::to_json`] writes messages back out, for test backends
//! and the built-in `test` target.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::grip::base64::decode_lenient;
use crate::grip::instruct::KeepAliveMode;
use crate::grip::item::WsKind;
use crate::publish::parse::to_int;

/// Prefix of a control message in a backend text message (GRIP mode).
pub const PREFIX: &[u8] = b"c:";
/// `keep-alive` timeout when none (or 0) is given.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(55);
/// `send-delayed` timeout when none (or 0) is given.
pub const DEFAULT_SEND_DELAYED_TIMEOUT: Duration = Duration::from_secs(1);

/// A single-frame WebSocket message the handler sends to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsPayload {
    pub kind: WsKind,
    pub content: Bytes,
}

/// One validated control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    /// Subscribe to route prefix + `channel` (non-empty), with these
    /// filters (replacing any earlier list for that channel).
    Subscribe {
        channel: String,
        filters: Vec<String>,
    },
    /// Unsubscribe route prefix + `channel` (non-empty).
    Unsubscribe { channel: String },
    /// Close the backend side; keep the client for publishing.
    Detach,
    /// Set (`Some`, never empty) or clear (`None`) the GRIP session id.
    Session { id: Option<String> },
    /// Set (`Some`) or delete (`None`) subscription meta `name` (non-empty).
    SetMeta { name: String, value: Option<String> },
    /// Configure keep-alives; `message: None` disables them (no `content`
    /// or `content-bin`). `timeout` is never zero.
    KeepAlive {
        message: Option<WsPayload>,
        timeout: Duration,
        mode: KeepAliveMode,
    },
    /// Send `message` after `timeout` (never zero). Without any content the
    /// message is empty and the timeout the default.
    SendDelayed {
        message: WsPayload,
        timeout: Duration,
    },
    /// Send a pending delayed message now.
    FlushDelayed,
}

/// Why a control message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("grip control packet is not valid JSON")]
    NotJson,
    /// Valid JSON, but not an object (e.g. an array).
    #[error("grip control packet is not an object")]
    NotObject,
    #[error("grip control object does not contain '{0}'")]
    Missing(&'static str),
    #[error("grip control object contains '{0}' with wrong type")]
    WrongType(&'static str),
    /// Present with the right type but not allowed (empty, negative).
    #[error("grip control object contains '{0}' with invalid value")]
    InvalidValue(&'static str),
    /// A string field outside its set of values (`type`, `message-type`).
    #[error("grip control object contains '{0}' with unknown value")]
    UnknownValue(&'static str),
    #[error("filters contains value with wrong type")]
    FilterType,
}

type Obj = Map<String, Value>;
type R<T> = Result<T, ControlError>;

/// Parses the JSON of one control message (the bytes after `c:`).
pub fn parse(json: &[u8]) -> R<ControlMessage> {
    let v: Value = serde_json::from_slice(json).map_err(|_| ControlError::NotJson)?;
    let Value::Object(o) = v else {
        return Err(ControlError::NotObject);
    };
    let ty = opt_string(&o, "type")?.ok_or(ControlError::Missing("type"))?;
    Ok(match ty {
        "subscribe" => ControlMessage::Subscribe {
            channel: non_empty(&o, "channel")?,
            filters: filters(&o)?,
        },
        "unsubscribe" => ControlMessage::Unsubscribe {
            channel: non_empty(&o, "channel")?,
        },
        "detach" => ControlMessage::Detach,
        "session" => ControlMessage::Session {
            id: opt_string(&o, "id")?
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        },
        "set-meta" => ControlMessage::SetMeta {
            name: non_empty(&o, "name")?,
            value: opt_string(&o, "value")?.map(str::to_owned),
        },
        "keep-alive" => keep_alive(&o)?,
        "send-delayed" => {
            let (content, kind) = content_and_kind(&o)?;
            let timeout = match &content {
                Some(_) => timeout(&o, DEFAULT_SEND_DELAYED_TIMEOUT)?,
                None => DEFAULT_SEND_DELAYED_TIMEOUT,
            };
            let content = content.unwrap_or_default();
            ControlMessage::SendDelayed {
                message: WsPayload { kind, content },
                timeout,
            }
        }
        "flush-delayed" => ControlMessage::FlushDelayed,
        _ => return Err(ControlError::UnknownValue("type")),
    })
}

fn keep_alive(o: &Obj) -> R<ControlMessage> {
    let (content, kind) = content_and_kind(o)?;
    let timeout = match &content {
        Some(_) => timeout(o, DEFAULT_KEEP_ALIVE_TIMEOUT)?,
        None => DEFAULT_KEEP_ALIVE_TIMEOUT,
    };
    let mode = match opt_string(o, "mode")? {
        Some("interval") => KeepAliveMode::Interval,
        _ => KeepAliveMode::Idle,
    };
    Ok(ControlMessage::KeepAlive {
        message: content.map(|content| WsPayload { kind, content }),
        timeout,
        mode,
    })
}

/// `content-bin` (lenient base64, preferred) or `content`, and
/// `message-type` (default `text`, whichever content field was used).
fn content_and_kind(o: &Obj) -> R<(Option<Bytes>, WsKind)> {
    let content = if let Some(v) = o.get("content-bin") {
        let s = v.as_str().ok_or(ControlError::WrongType("content-bin"))?;
        Some(Bytes::from(decode_lenient(s)))
    } else {
        opt_string(o, "content")?.map(|s| Bytes::copy_from_slice(s.as_bytes()))
    };
    let kind = match opt_string(o, "message-type")? {
        None | Some("text") => WsKind::Text,
        Some("binary") => WsKind::Binary,
        Some("ping") => WsKind::Ping,
        Some("pong") => WsKind::Pong,
        Some(_) => return Err(ControlError::UnknownValue("message-type")),
    };
    Ok((content, kind))
}

/// `timeout` in whole seconds: a JSON number, not negative; absent or 0 →
/// `default`.
fn timeout(o: &Obj, default: Duration) -> R<Duration> {
    let secs = match o.get("timeout") {
        None => return Ok(default),
        Some(v @ Value::Number(_)) => to_int(v).unwrap_or(0),
        Some(_) => return Err(ControlError::WrongType("timeout")),
    };
    match u64::try_from(secs) {
        Err(_) => Err(ControlError::InvalidValue("timeout")),
        Ok(0) => Ok(default),
        Ok(s) => Ok(Duration::from_secs(s)),
    }
}

fn opt_string<'a>(o: &'a Obj, key: &'static str) -> R<Option<&'a str>> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ControlError::WrongType(key)),
    }
}

/// A required string that must not be empty.
fn non_empty(o: &Obj, key: &'static str) -> R<String> {
    match opt_string(o, key)? {
        None => Err(ControlError::Missing(key)),
        Some("") => Err(ControlError::InvalidValue(key)),
        Some(s) => Ok(s.to_owned()),
    }
}

fn filters(o: &Obj) -> R<Vec<String>> {
    match o.get("filters") {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(ControlError::FilterType)
            })
            .collect(),
        Some(_) => Err(ControlError::WrongType("filters")),
    }
}

fn kind_name(kind: WsKind) -> &'static str {
    match kind {
        WsKind::Text => "text",
        WsKind::Binary => "binary",
        WsKind::Ping => "ping",
        WsKind::Pong => "pong",
    }
}

impl ControlMessage {
    /// The JSON object for this message, `type` first; [`parse`] reads it
    /// back to an equal value. Content that is valid UTF-8 goes in
    /// `content`, anything else in `content-bin`.
    pub fn to_json(&self) -> String {
        let mut f: Vec<(&str, Value)> = Vec::new();
        let ty = match self {
            ControlMessage::Subscribe { channel, filters } => {
                f.push(("channel", channel.as_str().into()));
                if !filters.is_empty() {
                    f.push(("filters", filters.clone().into()));
                }
                "subscribe"
            }
            ControlMessage::Unsubscribe { channel } => {
                f.push(("channel", channel.as_str().into()));
                "unsubscribe"
            }
            ControlMessage::Detach => "detach",
            ControlMessage::Session { id } => {
                if let Some(id) = id {
                    f.push(("id", id.as_str().into()));
                }
                "session"
            }
            ControlMessage::SetMeta { name, value } => {
                f.push(("name", name.as_str().into()));
                if let Some(v) = value {
                    f.push(("value", v.as_str().into()));
                }
                "set-meta"
            }
            ControlMessage::KeepAlive {
                message,
                timeout,
                mode,
            } => {
                if let Some(m) = message {
                    push_payload(&mut f, m, *timeout);
                }
                if *mode == KeepAliveMode::Interval {
                    f.push(("mode", "interval".into()));
                }
                "keep-alive"
            }
            ControlMessage::SendDelayed { message, timeout } => {
                push_payload(&mut f, message, *timeout);
                "send-delayed"
            }
            ControlMessage::FlushDelayed => "flush-delayed",
        };
        f.insert(0, ("type", ty.into()));
        let fields: Vec<String> = f
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// The whole backend text message: `c:` followed by [`Self::to_json`].
    pub fn to_text_message(&self) -> String {
        format!("c:{}", self.to_json())
    }
}

fn push_payload(f: &mut Vec<(&str, Value)>, m: &WsPayload, timeout: Duration) {
    match std::str::from_utf8(&m.content) {
        Ok(s) => f.push(("content", s.into())),
        Err(_) => f.push((
            "content-bin",
            base64::engine::general_purpose::STANDARD
                .encode(&m.content)
                .into(),
        )),
    }
    f.push(("message-type", kind_name(m.kind).into()));
    f.push(("timeout", timeout.as_secs().into()));
}

/// `c:{"type":"subscribe","channel":<channel>}`, what the `test` target
/// sends for each of its channels (spec §13).
pub fn subscribe_message(channel: &str) -> String {
    ControlMessage::Subscribe {
        channel: channel.to_owned(),
        filters: Vec::new(),
    }
    .to_text_message()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
