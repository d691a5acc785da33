//! Message-body framing: `Content-Length`, chunked, or read-until-close.

use bytes::{Buf, Bytes, BytesMut};

/// How a message body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Length(u64),
    Chunked,
    /// Until the peer closes (responses only).
    UntilClose,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("missing CRLF after chunk data")]
    ChunkEnd,
    #[error("trailer section too large")]
    Trailer,
}

/// One step of decoding.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes, in order.
    Data(Bytes),
    /// More input is needed.
    NeedMore,
    /// The body is complete; bytes after it are left in the buffer.
    Done,
}

/// Longest chunk-size line (with extensions) or trailer section accepted.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data; this many bytes remain.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer fields after the last chunk.
    Trailer,
}

/// Incremental body decoder. Feed it the connection's read buffer: it takes
/// body bytes from the front and leaves whatever follows the body.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    kind: BodyKind,
    remaining: u64,
    chunked: Chunked,
    done: bool,
}

impl BodyDecoder {
    pub fn new(kind: BodyKind) -> Self {
        let remaining = match kind {
            BodyKind::Length(n) => n,
            _ => 0,
        };
        BodyDecoder {
            kind,
            remaining,
            chunked: Chunked::Size,
            done: matches!(kind, BodyKind::Empty | BodyKind::Length(0)),
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Marks end of input (peer closed). Returns whether that ends the body
    /// cleanly.
    pub fn eof(&mut self) -> bool {
        if self.kind == BodyKind::UntilClose {
            self.done = true;
        }
        self.done
    }

    /// Takes the next piece of body from the front of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, BodyError> {
        if self.done {
            return Ok(Decoded::Done);
        }
        match self.kind {
            BodyKind::Empty => {
                self.done = true;
                Ok(Decoded::Done)
            }
            BodyKind::UntilClose => {
                if buf.is_empty() {
                    Ok(Decoded::NeedMore)
                } else {
                    Ok(Decoded::Data(buf.split().freeze()))
                }
            }
            BodyKind::Length(_) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let take = (buf.len() as u64).min(self.remaining) as usize;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.done = true;
                }
                Ok(Decoded::Data(buf.split_to(take).freeze()))
            }
            BodyKind::Chunked => self.decode_chunked(buf),
        }
    }

    fn decode_chunked(&mut self, buf: &mut BytesMut) -> Result<Decoded, BodyError> {
        loop {
            match self.chunked {
                Chunked::Size => {
                    let Some(line_end) = find_crlf(buf) else {
                        return if buf.len() > MAX_LINE {
                            Err(BodyError::ChunkSize)
                        } else {
                            Ok(Decoded::NeedMore)
                        };
                    };
                    let size = parse_chunk_size(&buf[..line_end])?;
                    buf.advance(line_end + 2);
                    self.chunked = if size == 0 {
                        Chunked::Trailer
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = (buf.len() as u64).min(left) as usize;
                    let rest = left - take as u64;
                    self.chunked = if rest == 0 {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(rest)
                    };
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
                }
                Chunked::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(BodyError::ChunkEnd);
                    }
                    buf.advance(2);
                    self.chunked = Chunked::Size;
                }
                Chunked::Trailer => {
                    let Some(line_end) = find_crlf(buf) else {
                        return if buf.len() > MAX_LINE {
                            Err(BodyError::Trailer)
                        } else {
                            Ok(Decoded::NeedMore)
                        };
                    };
                    buf.advance(line_end + 2);
                    if line_end == 0 {
                        self.done = true;
                        return Ok(Decoded::Done);
                    }
                }
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or(b"")
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(BodyError::ChunkSize);
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = (d as char).to_digit(16).ok_or(BodyError::ChunkSize)?;
        n = n * 16 + u64::from(v);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(dec: &mut BodyDecoder, buf: &mut BytesMut) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        loop {
            match dec.decode(buf).unwrap() {
                Decoded::Data(b) => out.extend_from_slice(&b),
                Decoded::NeedMore => return (out, false),
                Decoded::Done => return (out, true),
            }
        }
    }

    #[test]
    fn length_body_leaves_rest() {
        let mut d = BodyDecoder::new(BodyKind::Length(5));
        let mut buf = BytesMut::from(&b"helloGET /"[..]);
        let (out, _) = drain(&mut d, &mut buf);
        assert_eq!(out, b"hello");
        assert!(d.is_done());
        assert_eq!(&buf[..], b"GET /");
    }

    #[test]
    fn chunked_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut d = BodyDecoder::new(BodyKind::Chunked);
            let mut buf = BytesMut::from(&wire[..split]);
            let (mut out, mut done) = drain(&mut d, &mut buf);
            buf.extend_from_slice(&wire[split..]);
            if !done {
                let (more, d2) = drain(&mut d, &mut buf);
                out.extend(more);
                done = d2;
            }
            assert!(done, "split {split}");
            assert_eq!(out, b"hello world", "split {split}");
            assert_eq!(&buf[..], b"NEXT");
        }
    }

    #[test]
    fn chunked_errors() {
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        assert_eq!(
            d.decode(&mut BytesMut::from(&b"zz\r\n"[..])),
            Err(BodyError::ChunkSize)
        );
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        let mut buf = BytesMut::from(&b"1\r\naXY"[..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"a")))
        );
        assert_eq!(d.decode(&mut buf), Err(BodyError::ChunkEnd));
    }

    #[test]
    fn until_close() {
        let mut d = BodyDecoder::new(BodyKind::UntilClose);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"abc")))
        );
        assert!(d.eof());
    }
}
