//! WebSocket framing (RFC 6455 §5), sans-IO: decode frames from a buffer,
//! encode frames into one. The proxy relays frames as they are (no
//! automatic pongs or close replies: those are the peers' business), so it
//! works at this level rather than with whole messages.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Frame opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_u8(b: u8) -> Option<OpCode> {
        Some(match b {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            8 => OpCode::Close,
            9 => OpCode::Ping,
            10 => OpCode::Pong,
            _ => return None,
        })
    }

    fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0,
            OpCode::Text => 1,
            OpCode::Binary => 2,
            OpCode::Close => 8,
            OpCode::Ping => 9,
            OpCode::Pong => 10,
        }
    }

    /// The opcode that carries a published message of this kind.
    pub fn from_kind(kind: crate::grip::item::WsKind) -> OpCode {
        use crate::grip::item::WsKind;
        match kind {
            WsKind::Text => OpCode::Text,
            WsKind::Binary => OpCode::Binary,
            WsKind::Ping => OpCode::Ping,
            WsKind::Pong => OpCode::Pong,
        }
    }

    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// One frame, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: OpCode,
    pub payload: Bytes,
}

impl Frame {
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Frame {
        Frame {
            fin: true,
            opcode,
            payload: payload.into(),
        }
    }

    /// A close frame; without a code it carries no payload.
    pub fn close(code: Option<u16>, reason: &str) -> Frame {
        let payload = match code {
            Some(c) => {
                let mut b = BytesMut::with_capacity(2 + reason.len());
                b.put_u16(c);
                b.put_slice(reason.as_bytes());
                b.freeze()
            }
            None => Bytes::new(),
        };
        Frame::new(OpCode::Close, payload)
    }

    /// Code and reason of a close frame.
    pub fn close_code(&self) -> (Option<u16>, String) {
        if self.payload.len() >= 2 {
            let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
            (
                Some(code),
                String::from_utf8_lossy(&self.payload[2..]).into_owned(),
            )
        } else {
            (None, String::new())
        }
    }
}

/// A frame the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown opcode {0}")]
    OpCode(u8),
    #[error("reserved bits set")]
    Reserved,
    #[error("control frame fragmented or longer than 125 bytes")]
    Control,
    #[error("frame masking does not match the peer's role")]
    Masking,
    #[error("frame of {0} bytes is too large")]
    TooLarge(u64),
}

/// Which end of the connection we decode for: a server expects masked
/// frames, a client unmasked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

/// Takes one frame from the front of `buf`, or `Ok(None)` if more bytes are
/// needed.
pub fn decode(
    buf: &mut BytesMut,
    role: Role,
    max_payload: u64,
) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    if b0 & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(FrameError::OpCode(b0 & 0x0f))?;
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    if masked != (role == Role::Server) {
        return Err(FrameError::Masking);
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(n), 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::Control);
    }
    if len > max_payload {
        return Err(FrameError::TooLarge(len));
    }
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    let len = len as usize;
    if buf.len() < at + len {
        return Ok(None);
    }
    buf.advance(at);
    let mut payload = buf.split_to(len);
    if let Some(m) = mask {
        apply_mask(&mut payload, m);
    }
    Ok(Some(Frame {
        fin,
        opcode,
        payload: payload.freeze(),
    }))
}

fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// Appends one frame; `mask` is given by clients (a fresh random key).
pub fn encode(frame: &Frame, mask: Option<[u8; 4]>, out: &mut BytesMut) {
    let len = frame.payload.len();
    out.reserve(len + 14);
    out.put_u8((if frame.fin { 0x80 } else { 0 }) | frame.opcode.as_u8());
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.put_u8(mbit | len as u8);
    } else if len <= 0xffff {
        out.put_u8(mbit | 126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(mbit | 127);
        out.put_u64(len as u64);
    }
    match mask {
        None => out.put_slice(&frame.payload),
        Some(m) => {
            out.put_slice(&m);
            let start = out.len();
            out.put_slice(&frame.payload);
            apply_mask(&mut out[start..], m);
        }
    }
}

/// A frame encoded for sending from a server (unmasked), e.g. once for
/// every subscriber of a published message.
pub fn encode_server(frame: &Frame) -> Bytes {
    let mut out = BytesMut::new();
    encode(frame, None, &mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(f: &Frame, mask: Option<[u8; 4]>, role: Role) -> Frame {
        let mut b = BytesMut::new();
        encode(f, mask, &mut b);
        let got = decode(&mut b, role, u64::MAX).unwrap().unwrap();
        assert!(b.is_empty());
        got
    }

    #[test]
    fn lengths_and_masks() {
        for len in [0usize, 1, 125, 126, 65535, 65536, 200_000] {
            let f = Frame::new(OpCode::Binary, vec![7u8; len]);
            assert_eq!(roundtrip(&f, Some([1, 2, 3, 4]), Role::Server), f);
            assert_eq!(roundtrip(&f, None, Role::Client), f);
        }
    }

    #[test]
    fn partial_input_waits() {
        let f = Frame::new(OpCode::Text, "hello there");
        let mut full = BytesMut::new();
        encode(&f, Some([9, 8, 7, 6]), &mut full);
        for cut in 0..full.len() {
            let mut b = BytesMut::from(&full[..cut]);
            assert_eq!(decode(&mut b, Role::Server, 1 << 20), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn protocol_errors() {
        let mut b = BytesMut::from(&[0x81u8, 0x00][..]);
        assert_eq!(decode(&mut b, Role::Server, 100), Err(FrameError::Masking));
        let mut b = BytesMut::from(&[0xc1u8, 0x80, 0, 0, 0, 0][..]);
        assert_eq!(decode(&mut b, Role::Server, 100), Err(FrameError::Reserved));
        let mut b = BytesMut::from(&[0x83u8, 0x80, 0, 0, 0, 0][..]);
        assert_eq!(
            decode(&mut b, Role::Server, 100),
            Err(FrameError::OpCode(3))
        );
        let mut b = BytesMut::from(&[0x09u8, 0x80, 0, 0, 0, 0][..]);
        assert_eq!(decode(&mut b, Role::Server, 100), Err(FrameError::Control));
        let mut b = BytesMut::from(&[0x82u8, 0x7e, 0x01, 0x00][..]);
        assert_eq!(
            decode(&mut b, Role::Client, 100),
            Err(FrameError::TooLarge(256))
        );
    }

    #[test]
    fn close_frames() {
        let f = Frame::close(Some(4001), "bye");
        assert_eq!(f.close_code(), (Some(4001), "bye".to_owned()));
        assert_eq!(Frame::close(None, "x").payload.len(), 0);
        assert_eq!(Frame::close(None, "").close_code(), (None, String::new()));
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut b = BytesMut::from(&data[..]);
            let _ = decode(&mut b, Role::Server, 1 << 16);
            let mut b = BytesMut::from(&data[..]);
            let _ = decode(&mut b, Role::Client, 1 << 16);
        }

        #[test]
        fn encode_decode_is_identity(payload in proptest::collection::vec(any::<u8>(), 0..300), fin in any::<bool>(), op in 0usize..3, mask in any::<[u8; 4]>()) {
            let opcode = [OpCode::Text, OpCode::Binary, OpCode::Continuation][op];
            let f = Frame { fin, opcode, payload: Bytes::from(payload) };
            prop_assert_eq!(&roundtrip(&f, Some(mask), Role::Server), &f);
            prop_assert_eq!(&roundtrip(&f, None, Role::Client), &f);
        }
    }
}
