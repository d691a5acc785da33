//! The client side of one connection: the socket plus its read buffer.
//!
//! Reading waits for readability before allocating, and the buffer is
//! released whenever it is empty, so an idle or held connection keeps no
//! read buffer at all.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use crate::http1::{
    parse_request_head, BodyDecoder, BodyError, BodyKind, Decoded, HeadError, RequestHead,
};

/// Bytes read per `read` call when a head or body is expected.
const READ_CHUNK: usize = 8192;

/// Why reading from the client stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed mid-message")]
    Closed,
    #[error("{0}")]
    Head(#[from] HeadError),
    #[error("{0}")]
    Body(#[from] BodyError),
}

/// Where a client connection really comes from. For TLS and Unix-socket
/// clients the socket the server code reads is the internal relay
/// connection ([`super::relay`]), so these facts travel separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    pub secure: bool,
}

impl Peer {
    /// A client of a plain `http_port` listener.
    pub fn plain(addr: SocketAddr) -> Peer {
        Peer {
            addr: Some(addr),
            secure: false,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.addr, self.secure) {
            (Some(a), false) => write!(f, "{a}"),
            (Some(a), true) => write!(f, "{a} (tls)"),
            (None, _) => f.write_str("unix"),
        }
    }
}

/// Most bytes of an unneeded request body read and dropped to keep the
/// connection (as much as a GRIP request body may be).
pub const DISCARD_MAX: usize = 100_000;

/// How long an unneeded request body may take to arrive.
pub const DISCARD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One accepted client connection.
#[derive(Debug)]
pub struct ClientConn {
    /// Shared only while a stream hold lets the hub write published chunks
    /// to it directly (see [`crate::hub::DirectSink`]); otherwise unique.
    pub stream: Arc<TcpStream>,
    pub rbuf: BytesMut,
    /// The client's address; `None` for a Unix-socket client (1.36 has
    /// none for those either).
    pub peer: Option<SocketAddr>,
    /// The client came over TLS (an `https_ports` listener).
    pub secure: bool,
    /// The peer closed its side (EOF seen).
    pub eof: bool,
}

impl ClientConn {
    pub fn new(stream: TcpStream, peer: Peer) -> Self {
        ClientConn {
            stream: Arc::new(stream),
            rbuf: BytesMut::new(),
            peer: peer.addr,
            secure: peer.secure,
            eof: false,
        }
    }

    /// The client's IP address, if it has one.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.peer.map(|a| a.ip())
    }

    /// Reads more bytes into the buffer; returns how many (0 at EOF).
    pub async fn fill(&mut self) -> io::Result<usize> {
        read_some(&self.stream, &mut self.rbuf, &mut self.eof).await
    }

    /// Reads the next request head. `Ok(None)` when the client closed the
    /// connection cleanly between requests.
    pub async fn read_head(&mut self, max: usize) -> Result<Option<RequestHead>, ReadError> {
        loop {
            if !self.rbuf.is_empty() {
                if let Some((head, len)) = parse_request_head(&self.rbuf, max)? {
                    let _ = self.rbuf.split_to(len);
                    self.release_if_empty();
                    return Ok(Some(head));
                }
            }
            if self.fill().await? == 0 {
                return if self.rbuf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::Closed)
                };
            }
        }
    }

    /// The next piece of a request body; `None` once it is complete.
    pub async fn read_body(&mut self, dec: &mut BodyDecoder) -> Result<Option<Bytes>, ReadError> {
        let r = read_body_piece(&self.stream, &mut self.rbuf, &mut self.eof, dec).await;
        self.release_if_empty();
        r
    }

    /// Reads and drops the body of `head`, a request answered without it
    /// (no route, a refusal), so that the connection can serve the next
    /// request as 1.36's does. Whether it can: `false` when the body is
    /// longer than [`DISCARD_MAX`], malformed, waits for `100 Continue`,
    /// or does not arrive within [`DISCARD_WAIT`] (close instead).
    pub async fn discard_body(&mut self, head: &RequestHead) -> bool {
        let kind = match head.body_kind() {
            Ok(BodyKind::Empty) => return true,
            Ok(BodyKind::Length(n)) if n > DISCARD_MAX as u64 => return false,
            Ok(k) => k,
            Err(_) => return false,
        };
        if head.expects_continue() {
            return false;
        }
        let mut dec = BodyDecoder::new(kind);
        let drain = async {
            let mut seen = 0;
            while let Some(b) = self.read_body(&mut dec).await? {
                seen += b.len();
                if seen > DISCARD_MAX {
                    return Ok(false);
                }
            }
            Ok::<_, ReadError>(true)
        };
        matches!(
            tokio::time::timeout(DISCARD_WAIT, drain).await,
            Ok(Ok(true))
        )
    }

    /// Reads a whole body of at most `limit` bytes. `Ok(Err(prefix))` when it
    /// is longer: the bytes read so far, with the rest still unread.
    pub async fn read_body_limited(
        &mut self,
        dec: &mut BodyDecoder,
        limit: usize,
    ) -> Result<Result<Bytes, BytesMut>, ReadError> {
        let mut out = BytesMut::new();
        while let Some(b) = self.read_body(dec).await? {
            out.extend_from_slice(&b);
            if out.len() > limit {
                return Ok(Err(out));
            }
        }
        Ok(Ok(out.freeze()))
    }

    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        write_all(&self.stream, data).await
    }

    /// The socket for code that needs it exclusively (WebSockets). Only a
    /// stream hold ever shares it, and it takes its share back when it
    /// ends, so this fails only on a bug.
    pub fn exclusive(&mut self) -> io::Result<&mut TcpStream> {
        Arc::get_mut(&mut self.stream)
            .ok_or_else(|| io::Error::other("client socket unexpectedly shared"))
    }

    /// Drops the read buffer's memory when it holds nothing.
    pub fn release_if_empty(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            self.rbuf = BytesMut::new();
        }
    }
}

/// The next piece of a body from a connection's parts (so the caller can
/// keep writing to the same socket meanwhile); `None` once it is complete.
pub async fn read_body_piece(
    stream: &TcpStream,
    rbuf: &mut BytesMut,
    eof: &mut bool,
    dec: &mut BodyDecoder,
) -> Result<Option<Bytes>, ReadError> {
    loop {
        match dec.decode(rbuf)? {
            Decoded::Data(b) => return Ok(Some(b)),
            Decoded::Done => return Ok(None),
            Decoded::NeedMore => {
                if read_some(stream, rbuf, eof).await? == 0 {
                    return if dec.eof() {
                        Ok(None)
                    } else {
                        Err(ReadError::Closed)
                    };
                }
            }
        }
    }
}

/// Waits for readability, then reads what is there into `buf`.
pub async fn read_some(
    stream: &TcpStream,
    buf: &mut BytesMut,
    eof: &mut bool,
) -> io::Result<usize> {
    if *eof {
        return Ok(0);
    }
    loop {
        stream.readable().await?;
        buf.reserve(READ_CHUNK);
        match stream.try_read_buf(buf) {
            Ok(0) => {
                *eof = true;
                return Ok(0);
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data` through a shared reference (so a task can write
/// while another branch of its `select!` waits to read).
pub async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes every buffer in order with as few system calls as possible.
pub async fn write_all_vectored(stream: &TcpStream, bufs: &[&[u8]]) -> io::Result<()> {
    let mut idx = 0;
    let mut off = 0;
    while idx < bufs.len() {
        if bufs[idx].len() == off {
            idx += 1;
            off = 0;
            continue;
        }
        let mut slices: Vec<io::IoSlice<'_>> = Vec::with_capacity((bufs.len() - idx).min(64));
        slices.push(io::IoSlice::new(&bufs[idx][off..]));
        for b in bufs[idx + 1..].iter().take(63) {
            slices.push(io::IoSlice::new(b));
        }
        stream.writable().await?;
        let mut n = match stream.try_write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        while n > 0 && idx < bufs.len() {
            let left = bufs[idx].len() - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// Fills `iov` with the parts of `bufs` that follow their first `skip`
/// bytes (as many as fit); returns how many slots it used.
pub fn iov_after<'a>(bufs: &[&'a [u8]], mut skip: usize, iov: &mut [io::IoSlice<'a>]) -> usize {
    let mut n = 0;
    for b in bufs {
        if n == iov.len() {
            break;
        }
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        iov[n] = io::IoSlice::new(&b[skip..]);
        n += 1;
        skip = 0;
    }
    n
}

/// Writes as much of `bufs` as the socket takes without waiting; returns
/// how many bytes went out (all of them in the common case). No allocation.
pub fn try_write_vectored_now(stream: &TcpStream, bufs: &[&[u8]]) -> io::Result<usize> {
    const MAX_IOV: usize = 32;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut done = 0;
    while done < total {
        let mut iov = [io::IoSlice::new(&[]); MAX_IOV];
        let n = iov_after(bufs, done, &mut iov);
        let r = if n == 1 {
            stream.try_write(&iov[0])
        } else {
            stream.try_write_vectored(&iov[..n])
        };
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => done += w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// [`try_write_vectored_now`] for shared buffers (up to 32 per call).
pub fn try_write_bytes_now(stream: &TcpStream, parts: &[bytes::Bytes]) -> io::Result<usize> {
    let mut done = 0;
    for group in parts.chunks(32) {
        let mut refs: [&[u8]; 32] = [&[]; 32];
        for (r, p) in refs.iter_mut().zip(group) {
            *r = p;
        }
        let want: usize = group.iter().map(bytes::Bytes::len).sum();
        let n = try_write_vectored_now(stream, &refs[..group.len()])?;
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// The parts of `bufs` after the first `skip` bytes.
pub fn remaining<'a>(bufs: &[&'a [u8]], mut skip: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        out.push(&b[skip..]);
        skip = 0;
    }
    out
}
