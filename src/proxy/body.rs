//! The body type of requests sent to backends.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Why a streamed request body stopped early.
#[derive(Debug, thiserror::Error)]
#[error("client request body aborted")]
pub struct BodyAborted;

/// A backend request body: nothing, bytes we already have, or a stream fed
/// by the client connection's task (bounded, so the client is read no faster
/// than the backend accepts).
#[derive(Debug)]
pub enum ReqBody {
    Empty,
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Result<Bytes, BodyAborted>>),
}

impl ReqBody {
    pub fn full(b: Bytes) -> ReqBody {
        if b.is_empty() {
            ReqBody::Empty
        } else {
            ReqBody::Full(Some(b))
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ReqBody::Full(None) => SizeHint::with_exact(0),
            ReqBody::Stream(_) => SizeHint::default(),
        }
    }
}
