//! Published items and their per-transport formats.
//!
//! Built by the publish parser ([`crate::publish::parse`]); shared read-only
//! by every subscriber through an `Arc`. Transport encodings that do not
//! depend on the subscriber (an HTTP chunk, a WebSocket frame) are built once
//! here, at parse time.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

/// One validated item from a publish request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    pub channel: String,
    pub id: Option<String>,
    pub prev_id: Option<String>,
    /// Publish meta, for filters (`sender`, `skip_users`, `require_sub`...).
    pub meta: BTreeMap<String, String>,
    /// `size` as given (stats only).
    pub size: Option<i64>,
    /// Bypass the sequencer.
    pub no_seq: bool,
    pub http_response: Option<HttpResponse>,
    pub http_stream: Option<HttpStream>,
    pub ws_message: Option<WsMessage>,
}

/// `content-filters` of a format: `None` when the key was absent.
pub type ContentFilters = Option<Vec<String>>;

/// An `http-response` format.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpResponse {
    Send(ResponseSend),
    Hint,
    Close,
}

/// The response an `http-response` send delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSend {
    pub code: u16,
    /// Empty means the standard reason for `code`.
    pub reason: String,
    /// In publish order (objects come sorted by name).
    pub headers: Vec<(String, String)>,
    pub body: ResponseBody,
    pub content_filters: ContentFilters,
}

/// Body of an `http-response` send.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    Bytes(Bytes),
    /// JSON Patch operations to apply to the held response's body.
    Patch(serde_json::Value),
}

/// An `http-stream` format.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpStream {
    Send(StreamSend),
    Hint,
    Close,
}

/// Content appended to stream holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSend {
    pub content: Bytes,
    /// `content` framed as one HTTP/1.1 chunk, shared by every subscriber.
    pub chunk: Bytes,
    pub content_filters: ContentFilters,
}

impl StreamSend {
    pub fn new(content: Bytes, content_filters: ContentFilters) -> Self {
        StreamSend {
            chunk: encode_chunk(&content),
            content,
            content_filters,
        }
    }
}

/// WebSocket message types a publish may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsKind {
    Text,
    Binary,
    Ping,
    Pong,
}

/// A `ws-message` format.
#[derive(Debug, Clone, PartialEq)]
pub enum WsMessage {
    Send {
        kind: WsKind,
        content: Bytes,
        content_filters: ContentFilters,
        /// `content` encoded as one server-to-client WebSocket frame,
        /// shared by every subscriber.
        frame: Bytes,
    },
    Close {
        code: Option<u16>,
        reason: String,
    },
    /// WebSocket-over-HTTP: make a request to the backend now.
    Refresh,
    Hint,
}

/// Frames `content` as one HTTP/1.1 chunk (`SIZE\r\nDATA\r\n`); empty
/// content gives no bytes, since an empty chunk would end the body.
pub fn encode_chunk(content: &[u8]) -> Bytes {
    if content.is_empty() {
        return Bytes::new();
    }
    let mut b = BytesMut::with_capacity(content.len() + 12);
    b.put_slice(format!("{:x}\r\n", content.len()).as_bytes());
    b.put_slice(content);
    b.put_slice(b"\r\n");
    b.freeze()
}

impl Item {
    /// A text `http-stream` item, for tests and benchmarks.
    pub fn test_stream(channel: &str, text: &str) -> Item {
        Item {
            channel: channel.to_owned(),
            http_stream: Some(HttpStream::Send(StreamSend::new(
                Bytes::copy_from_slice(text.as_bytes()),
                None,
            ))),
            ..Item::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks() {
        assert_eq!(
            &encode_chunk(b"hello there\n")[..],
            b"c\r\nhello there\n\r\n"
        );
        assert!(encode_chunk(b"").is_empty());
    }
}
