//! The client side of WebSocket handshakes: validating the opening request,
//! writing the `101`, and wrapping the client socket.

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue};
use tokio::net::TcpStream;

use super::frame::Role;
use super::socket::WsSocket;

use crate::http1::{write_response_head, RequestHead, ResponseHead, Version};
use crate::server::io::{write_all, ClientConn};

/// The client's WebSocket, over the connection's socket.
pub type ClientWs<'a> = WsSocket<&'a mut TcpStream>;

/// The `Sec-WebSocket-Accept` value for a valid opening request.
pub fn accept_key(head: &RequestHead) -> Option<String> {
    let key = head.header_str("sec-websocket-key")?;
    (head.header_str("sec-websocket-version") == Some("13"))
        .then(|| derive_accept_key(key.trim().as_bytes()))
}

/// RFC 6455's GUID that both sides hash with the client's key.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` answer to a `Sec-WebSocket-Key`.
pub fn derive_accept_key(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key);
    h.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A fresh random `Sec-WebSocket-Key` for a backend handshake.
pub fn generate_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>())
}

/// Headers a `101` relays from the backend's answer: everything but
/// hop-by-hop, handshake and extension headers.
pub fn relayable_headers(backend: &HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in backend {
        match n.as_str() {
            "connection"
            | "upgrade"
            | "sec-websocket-accept"
            | "sec-websocket-extensions"
            | "content-length"
            | "content-type"
            | "transfer-encoding"
            | "keep-alive" => {}
            _ => {
                h.append(n.clone(), v.clone());
            }
        }
    }
    h
}

/// Writes `101 Switching Protocols` and turns the connection into a
/// WebSocket. `extra` carries headers relayed from the backend.
pub async fn upgrade<'a>(
    conn: &'a mut ClientConn,
    accept: &str,
    extra: HeaderMap,
) -> std::io::Result<ClientWs<'a>> {
    let mut head = ResponseHead::new(101, "Switching Protocols");
    head.headers = extra;
    head.headers
        .insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    head.headers.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = HeaderValue::from_str(accept) {
        head.headers.insert("sec-websocket-accept", v);
    }
    let mut out = BytesMut::new();
    write_response_head(&mut out, Version::Http11, &head);
    write_all(&conn.stream, &out).await?;
    let leftover = std::mem::take(&mut conn.rbuf);
    Ok(WsSocket::new(conn.exclusive()?, leftover, Role::Server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn generated_keys_are_16_random_bytes() {
        use base64::Engine as _;
        let a = generate_key();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .unwrap();
        assert_eq!(raw.len(), 16);
        assert_ne!(a, generate_key());
    }
}
