//! The client side of WebSocket handshakes: validating the opening request,
//! writing the `101`, and wrapping the client socket.

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::http1::{write_response_head, RequestHead, ResponseHead, Version};
use crate::server::io::{write_all, ClientConn};

/// The client's WebSocket, over the connection's socket.
pub type ClientWs<'a> = WebSocketStream<&'a mut TcpStream>;

/// Buffers kept small: many connections mostly wait.
pub fn ws_config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = 4096;
    c.write_buffer_size = 0;
    c.max_message_size = Some(64 << 20);
    c.max_frame_size = Some(16 << 20);
    c
}

/// The `Sec-WebSocket-Accept` value for a valid opening request.
pub fn accept_key(head: &RequestHead) -> Option<String> {
    let key = head.header_str("sec-websocket-key")?;
    (head.header_str("sec-websocket-version") == Some("13"))
        .then(|| derive_accept_key(key.trim().as_bytes()))
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
    let leftover = std::mem::take(&mut conn.rbuf).to_vec();
    Ok(WebSocketStream::from_partially_read(
        &mut conn.stream,
        leftover,
        Role::Server,
        Some(ws_config()),
    )
    .await)
}
