//! WebSocket-over-HTTP protocol pieces, free of I/O.
//!
//! Two vocabularies a WebSocket session speaks with its backend:
//!
//! - [`events`]: the `application/websocket-events` body codec used by
//!   `over_http` targets (`OPEN`, `TEXT`, `CLOSE`... events in request and
//!   response bodies; spec §7.2).
//! - [`control`]: GRIP control messages, the JSON a GRIP backend sends after
//!   `c:` in a text message (`subscribe`, `keep-alive`, `send-delayed`...;
//!   spec §8 and §10).
//!
//! Both are pure functions over bytes: no sockets, no tokio. The WebSocket
//! session (on the client connection's task) calls them; they are unit-,
//! property- and fuzz-tested on their own.

pub mod control;
pub mod events;

pub use control::{ControlError, ControlMessage, WsPayload};
pub use events::{DecodeError, Event, EventKind};

/// The content type of WebSocket-over-HTTP request and response bodies.
pub const CONTENT_TYPE: &str = "application/websocket-events";
