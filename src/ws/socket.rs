//! A WebSocket connection at the frame level over any byte stream: the
//! client's socket (server role) or a backend's (client role). Reading is
//! cancel-safe (bytes stay buffered), and the read buffer is released
//! whenever it is empty, so an idle connection holds no buffer.

use std::io;

use bytes::BytesMut;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{decode, encode, Frame, FrameError, Role};

/// Largest frame payload accepted.
pub const MAX_FRAME: u64 = 64 << 20;
/// Bytes read per call.
const READ_CHUNK: usize = 8192;

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("protocol: {0}")]
    Protocol(#[from] FrameError),
    #[error("connection closed mid-frame")]
    Truncated,
}

/// One end of a WebSocket.
#[derive(Debug)]
pub struct WsSocket<S> {
    io: S,
    rbuf: BytesMut,
    role: Role,
    wbuf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsSocket<S> {
    /// Wraps a stream whose handshake is done; `leftover` holds bytes read
    /// past the handshake.
    pub fn new(io: S, leftover: BytesMut, role: Role) -> Self {
        WsSocket {
            io,
            rbuf: leftover,
            role,
            wbuf: BytesMut::new(),
        }
    }

    /// The next frame; `Ok(None)` when the peer closed the stream cleanly.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, ReadError> {
        loop {
            if let Some(f) = decode(&mut self.rbuf, self.role, MAX_FRAME)? {
                if self.rbuf.is_empty() {
                    self.rbuf = BytesMut::new();
                }
                return Ok(Some(f));
            }
            self.rbuf.reserve(READ_CHUNK);
            if self.io.read_buf(&mut self.rbuf).await? == 0 {
                return if self.rbuf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::Truncated)
                };
            }
        }
    }

    /// Sends a frame (masked with a fresh key in the client role).
    pub async fn send(&mut self, frame: &Frame) -> io::Result<()> {
        let mask = (self.role == Role::Client).then(|| rand::rng().random::<[u8; 4]>());
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        encode(frame, mask, &mut buf);
        let r = self.send_raw(&buf).await;
        buf.clear();
        if buf.capacity() <= 4096 {
            self.wbuf = buf;
        }
        r
    }

    /// Sends bytes that already are encoded frames (server role only).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Closes the underlying stream's write side.
    pub async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }
}

/// Collects the frames of one message (for when whole messages matter:
/// WebSocket-over-HTTP events, GRIP control messages).
#[derive(Debug, Default)]
pub struct Assembler {
    first: Option<super::frame::OpCode>,
    data: BytesMut,
}

impl Assembler {
    /// Bytes held of the message in progress.
    pub fn buffered(&self) -> usize {
        self.data.len()
    }

    /// Adds a data frame; returns the message once its last frame arrived.
    pub fn push(&mut self, f: Frame) -> Option<(super::frame::OpCode, bytes::Bytes)> {
        if f.opcode != super::frame::OpCode::Continuation {
            self.first = Some(f.opcode);
            self.data.clear();
        }
        if f.fin && self.data.is_empty() {
            let op = self.first.take()?;
            return Some((op, f.payload));
        }
        self.data.extend_from_slice(&f.payload);
        if f.fin {
            let op = self.first.take()?;
            let data = std::mem::take(&mut self.data).freeze();
            return Some((op, data));
        }
        None
    }
}
