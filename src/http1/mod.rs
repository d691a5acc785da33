//! Sans-IO HTTP/1.x codec for the client-facing side of the proxy.
//!
//! Owns request-head parsing, body framing (`Content-Length`, chunked) and
//! response-head encoding. Nothing here touches a socket or tokio: the
//! connection task in [`crate::server`] feeds bytes in and writes bytes out.
//!
//! Why not hyper's server here: a held stream must cost as little memory as
//! possible and each published item should become one `write` of bytes that
//! were encoded once for every subscriber. hyper keeps an 8 KiB read buffer
//! and its own write queue per connection: 10.6 KB RSS per idle held stream
//! was measured with a minimal hyper server, against 1.9 KB for a plain tokio
//! task owning the socket (10,000 connections, see `BENCHMARKS.md`). The
//! backend side, where connection counts are small, uses hyper's client.

mod body;
mod encode;
mod head;
mod reason;

pub use body::{BodyDecoder, BodyError, BodyKind, Decoded};
pub use encode::{chunk_header, title_case, write_response_head, ResponseHead};
pub use head::{parse_request_head, HeadError, RequestHead, Version};
pub use reason::reason_for;
