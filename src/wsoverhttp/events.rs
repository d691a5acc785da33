//! The `application/websocket-events` codec (spec §7.2).
//!
//! A body is a concatenation of events, each either `TYPE\r\n` (no content)
//! or `TYPE <len>\r\n<content>\r\n` with `<len>` in lowercase hex. The
//! session builds request bodies with [`encode`] / [`encode_into`] and reads
//! backend responses with [`decode`].
//!
//! Decoding is as lenient as Pushpin's: content shorter than its declared
//! length is taken as is, the CRLF after content is skipped unchecked, and
//! unknown event types are dropped. Only a missing line end or an unreadable
//! length makes the whole body invalid. The decoder never panics and never
//! allocates more than the input size, whatever length a body declares.
//!
//! "No content" and "empty content" are distinct values ([`Event::content`]
//! is `None` or `Some("")`) so that `decode(encode(x)) == x`. The
//! constructors ([`Event::text`] etc.) follow the spec's encoding table and
//! turn empty payloads into "no content" (`TEXT\r\n`).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// Event types, as written on the wire (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Open,
    Text,
    Binary,
    Ping,
    Pong,
    Close,
    Disconnect,
}

impl EventKind {
    /// Every kind, in spec order.
    pub const ALL: [EventKind; 7] = [
        EventKind::Open,
        EventKind::Text,
        EventKind::Binary,
        EventKind::Ping,
        EventKind::Pong,
        EventKind::Close,
        EventKind::Disconnect,
    ];

    /// The wire name (`OPEN`, `TEXT`...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Open => "OPEN",
            EventKind::Text => "TEXT",
            EventKind::Binary => "BINARY",
            EventKind::Ping => "PING",
            EventKind::Pong => "PONG",
            EventKind::Close => "CLOSE",
            EventKind::Disconnect => "DISCONNECT",
        }
    }

    /// Parses a wire name; `None` for unknown (or differently cased) names.
    pub fn from_wire(name: &[u8]) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str().as_bytes() == name)
    }

    /// Whether this kind carries a WebSocket message (text, binary, ping,
    /// pong) rather than connection state.
    pub fn is_message(self) -> bool {
        matches!(
            self,
            EventKind::Text | EventKind::Binary | EventKind::Ping | EventKind::Pong
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// `None`: written as `TYPE\r\n`. `Some` (even empty): written with a
    /// length line.
    pub content: Option<Bytes>,
}

impl Event {
    /// An event with exactly the given content (`Some("")` is kept).
    pub fn new(kind: EventKind, content: Option<Bytes>) -> Event {
        Event { kind, content }
    }

    /// An event without content.
    pub fn bare(kind: EventKind) -> Event {
        Event::new(kind, None)
    }

    /// `OPEN\r\n`.
    pub fn open() -> Event {
        Event::bare(EventKind::Open)
    }

    /// `DISCONNECT\r\n`.
    pub fn disconnect() -> Event {
        Event::bare(EventKind::Disconnect)
    }

    /// A message event; an empty payload gets no content (`TEXT\r\n`).
    pub fn message(kind: EventKind, payload: impl Into<Bytes>) -> Event {
        let payload = payload.into();
        Event::new(kind, (!payload.is_empty()).then_some(payload))
    }

    /// A `TEXT` event (empty → `TEXT\r\n`).
    pub fn text(payload: impl Into<Bytes>) -> Event {
        Event::message(EventKind::Text, payload)
    }

    /// A `BINARY` event (empty → `BINARY\r\n`).
    pub fn binary(payload: impl Into<Bytes>) -> Event {
        Event::message(EventKind::Binary, payload)
    }

    /// A `PING` event (empty → `PING\r\n`).
    pub fn ping(payload: impl Into<Bytes>) -> Event {
        Event::message(EventKind::Ping, payload)
    }

    /// A `PONG` event (empty → `PONG\r\n`).
    pub fn pong(payload: impl Into<Bytes>) -> Event {
        Event::message(EventKind::Pong, payload)
    }

    /// A `CLOSE` event: code and reason when a code is known, else no
    /// content (`CLOSE\r\n`, a close "without code").
    pub fn close(code: Option<u16>, reason: &str) -> Event {
        Event::new(EventKind::Close, code.map(|c| close_payload(c, reason)))
    }

    /// The content, empty when absent.
    pub fn payload(&self) -> &[u8] {
        self.content.as_deref().unwrap_or_default()
    }

    /// Content bytes (what `Content-Bytes-Accepted` counts, spec §14.1).
    pub fn content_len(&self) -> usize {
        self.payload().len()
    }

    /// Code and reason of a `CLOSE` event (see [`parse_close`]).
    pub fn close_code(&self) -> (Option<u16>, String) {
        parse_close(self.payload())
    }
}

/// Why a body could not be decoded. Offsets are byte positions in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An event line has no terminating `\r\n`.
    #[error("event at byte {offset} has no line end")]
    MissingLineEnd { offset: usize },
    /// The text after the type is not a hexadecimal length (or is too big).
    #[error("event at byte {offset} has an invalid content length")]
    InvalidLength { offset: usize },
}

/// Largest accepted content length: Pushpin reads lengths into a signed
/// 32-bit int, so anything bigger is an invalid body there too.
const MAX_LEN: u64 = i32::MAX as u64;

/// Appends one event's encoding to `buf`.
pub fn encode_event_into(buf: &mut BytesMut, ev: &Event) {
    buf.put_slice(ev.kind.as_str().as_bytes());
    if let Some(c) = &ev.content {
        buf.put_slice(format!(" {:x}\r\n", c.len()).as_bytes());
        buf.put_slice(c);
    }
    buf.put_slice(b"\r\n");
}

/// Appends the encoding of `events` to `buf`.
pub fn encode_into(buf: &mut BytesMut, events: &[Event]) {
    buf.reserve(encoded_len(events));
    for ev in events {
        encode_event_into(buf, ev);
    }
}

/// Encodes `events` as one body.
pub fn encode(events: &[Event]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_into(&mut buf, events);
    buf.to_vec()
}

/// Exact size of the encoding of `events`.
pub fn encoded_len(events: &[Event]) -> usize {
    events
        .iter()
        .map(|ev| {
            let head = ev.kind.as_str().len() + 2;
            match &ev.content {
                None => head,
                // " " + hex digits + "\r\n" + content
                Some(c) => head + 1 + hex_digits(c.len()) + 2 + c.len(),
            }
        })
        .sum()
}

fn hex_digits(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits as usize).div_ceil(4).max(1)
}

/// Decodes a body (empty body: no events). See the module docs for the
/// leniency rules.
pub fn decode(data: &[u8]) -> Result<Vec<Event>, DecodeError> {
    decode_bytes(&Bytes::copy_from_slice(data))
}

/// Like [`decode`], but event contents share `data`'s buffer.
pub fn decode_bytes(data: &Bytes) -> Result<Vec<Event>, DecodeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let offset = pos;
        let rest = &data[pos..];
        let line_len = find_crlf(rest).ok_or(DecodeError::MissingLineEnd { offset })?;
        let line = &rest[..line_len];
        pos += line_len + 2;
        let (name, content) = match line.iter().position(|&b| b == b' ') {
            None => (line, None),
            Some(sp) => {
                let len =
                    parse_hex(&line[sp + 1..]).ok_or(DecodeError::InvalidLength { offset })?;
                // Both bounded by data.len(), so no overflow and no huge slice.
                let end = pos.saturating_add(len).min(data.len());
                let content = data.slice(pos..end);
                // Skip the content and the CRLF after it without checking it.
                pos = pos.saturating_add(len).saturating_add(2);
                (&line[..sp], Some(content))
            }
        };
        if let Some(kind) = EventKind::from_wire(name) {
            out.push(Event::new(kind, content));
        }
    }
    Ok(out)
}

fn find_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

/// A hex length (either case, surrounding blanks allowed); `None` if empty,
/// not hex, or above [`MAX_LEN`].
fn parse_hex(s: &[u8]) -> Option<usize> {
    let s = s.trim_ascii();
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = (b as char).to_digit(16)?;
        n = n * 16 + u64::from(d);
        if n > MAX_LEN {
            return None;
        }
    }
    usize::try_from(n).ok()
}

/// `CLOSE` content: the code (big-endian) followed by the UTF-8 reason.
pub fn close_payload(code: u16, reason: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(2 + reason.len());
    b.put_u16(code);
    b.put_slice(reason.as_bytes());
    b.freeze()
}

/// Reads `CLOSE` content: with at least 2 bytes, the code and the rest as
/// the reason (invalid UTF-8 replaced); otherwise no code and no reason.
pub fn parse_close(content: &[u8]) -> (Option<u16>, String) {
    match content {
        [hi, lo, reason @ ..] => (
            Some(u16::from_be_bytes([*hi, *lo])),
            String::from_utf8_lossy(reason).into_owned(),
        ),
        _ => (None, String::new()),
    }
}

#[cfg(test)]
mod tests;
