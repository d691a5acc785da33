//! Direct writes: while a stream session waits with nothing else to do, the
//! fan-out writes published chunks to its socket itself, so a delivery
//! costs one system call and no task wake-up.
//!
//! The session arms its [`Inbox`](super::Inbox) with a [`DirectSink`] just
//! before it sleeps and disarms it as soon as it wakes, before it touches
//! the socket again. Arming, disarming and every direct write happen under
//! the inbox lock, so the session's own writes and the fan-out's never
//! interleave. Anything the fan-out cannot finish at once (a full socket, a
//! `close`, an item with content filters) disarms the sink and goes through
//! the queue, which the session drains in order.

use std::io::{self, IoSlice};
use std::sync::Arc;

use bytes::Bytes;
use socket2::SockRef;
use tokio::net::TcpStream;

use crate::grip::item::{HttpStream, Item};
use crate::server::io::iov_after;

/// Items written per system call at most.
const MAX_PARTS: usize = 32;

/// Where a stream session lets the fan-out write its deliveries.
#[derive(Debug)]
pub struct DirectSink {
    pub stream: Arc<TcpStream>,
    /// The response is chunked: send each item's pre-encoded chunk.
    pub chunked: bool,
    /// Record when a write happened (for idle-mode keep-alives).
    pub track_writes: bool,
}

/// How much of a run of items a direct write took.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    All,
    /// The first `items` went out whole and `skip` bytes of the next one.
    Part {
        items: usize,
        skip: usize,
    },
    /// Not attempted: an item needs the session, or the socket failed
    /// (which the session will find out itself).
    Not,
}

/// The bytes a direct write sends for `item`, or `None` when only the
/// session can handle it.
fn wire(item: &Item, chunked: bool) -> Option<&Bytes> {
    match &item.http_stream {
        Some(HttpStream::Send(s)) if s.content_filters.is_none() => {
            Some(if chunked { &s.chunk } else { &s.content })
        }
        _ => None,
    }
}

impl DirectSink {
    /// Writes `items` in order, as far as the socket takes them now.
    pub(super) fn write(&self, items: &[&Arc<Item>]) -> Written {
        if items.iter().any(|i| wire(i, self.chunked).is_none()) {
            return Written::Not;
        }
        let mut done_items = 0;
        for group in items.chunks(MAX_PARTS) {
            let mut parts: [&[u8]; MAX_PARTS] = [&[]; MAX_PARTS];
            let mut total = 0;
            for (p, item) in parts.iter_mut().zip(group) {
                *p = wire(item, self.chunked).map_or(&[][..], |b| &b[..]);
                total += p.len();
            }
            let parts = &parts[..group.len()];
            let Ok(n) = send_now(&self.stream, parts) else {
                return if done_items == 0 {
                    Written::Not
                } else {
                    Written::Part {
                        items: done_items,
                        skip: 0,
                    }
                };
            };
            if n < total {
                let (whole, skip) = split_at(parts, n);
                return Written::Part {
                    items: done_items + whole,
                    skip,
                };
            }
            done_items += group.len();
        }
        Written::All
    }
}

/// Writes as much of `parts` as the socket takes without waiting, straight
/// through the system call: tokio's readiness state stays as it was, which
/// is safe (the session's next write finds out for itself if the socket is
/// full) and spares a delivery the bookkeeping.
fn send_now(stream: &TcpStream, parts: &[&[u8]]) -> io::Result<usize> {
    let sock = SockRef::from(stream);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut done = 0;
    while done < total {
        let mut iov = [IoSlice::new(&[]); MAX_PARTS];
        let n = iov_after(parts, done, &mut iov);
        let sent = if n == 1 {
            sock.send(&iov[0])
        } else {
            sock.send_vectored(&iov[..n])
        };
        match sent {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => done += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// After `n` bytes of `parts`: how many parts went out whole, and how many
/// bytes of the next one.
fn split_at(parts: &[&[u8]], mut n: usize) -> (usize, usize) {
    for (i, p) in parts.iter().enumerate() {
        if n < p.len() {
            return (i, n);
        }
        n -= p.len();
    }
    (parts.len(), 0)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn split_points() {
        let parts: [&[u8]; 3] = [b"abc", b"", b"defg"];
        assert_eq!(split_at(&parts, 0), (0, 0));
        assert_eq!(split_at(&parts, 2), (0, 2));
        // the empty part counts as written along with the one before it
        assert_eq!(split_at(&parts, 3), (2, 0));
        assert_eq!(split_at(&parts, 5), (2, 2));
        assert_eq!(split_at(&parts, 7), (3, 0));
    }

    #[test]
    fn only_plain_stream_sends_qualify() {
        let plain = Item::test_stream("c", "x");
        assert_eq!(&wire(&plain, true).unwrap()[..], b"1\r\nx\r\n");
        assert_eq!(&wire(&plain, false).unwrap()[..], b"x");
        let mut close = Item::test_stream("c", "x");
        close.http_stream = Some(HttpStream::Close);
        assert!(wire(&close, true).is_none());
        let mut filtered = Item::test_stream("c", "x");
        if let Some(HttpStream::Send(s)) = &mut filtered.http_stream {
            s.content_filters = Some(vec!["build-id".into()]);
        }
        assert!(wire(&filtered, true).is_none());
        assert!(wire(&Item::default(), true).is_none());
    }
}
