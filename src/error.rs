//! Errors that reach the client connection's edge, and the one place where
//! they become responses ([`rescue`]). Status code literals for proxy
//! errors appear nowhere else.

use bytes::Bytes;

use crate::http1::ResponseHead;
use crate::server::respond::text_head;

/// Who is to blame, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client sent something we cannot serve.
    Client,
    /// The backend failed or misbehaved.
    Backend,
    /// The routes have nothing for this request.
    Config,
}

/// Errors answered with a generated response.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("No route for host: {0}")]
    NoRoute(String),
    #[error("Unable to connect to any targets. Tried: {}", .0.join(", "))]
    ConnectFailed(Vec<String>),
    #[error("backend request failed: {0}")]
    Backend(String),
    #[error("Failed to parse accept instructions: {0}")]
    BadInstruct(String),
    #[error("GRIP instruct response too large from {0}")]
    InstructTooLarge(String),
    #[error("Request too large to accept GRIP instruct.")]
    RequestTooLarge,
    #[error("Client not allowed to send WebSocket events directly.")]
    WsEventsForbidden,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request head too large")]
    HeadTooLarge,
    /// A JSON-P request with an unusable parameter.
    #[error("{0}")]
    Jsonp(#[from] crate::cors::JsonpError),
}

impl ProxyError {
    pub fn blame(&self) -> Blame {
        match self {
            ProxyError::NoRoute(_) => Blame::Config,
            ProxyError::ConnectFailed(_)
            | ProxyError::Backend(_)
            | ProxyError::BadInstruct(_)
            | ProxyError::InstructTooLarge(_) => Blame::Backend,
            ProxyError::RequestTooLarge
            | ProxyError::WsEventsForbidden
            | ProxyError::BadRequest(_)
            | ProxyError::HeadTooLarge
            | ProxyError::Jsonp(_) => Blame::Client,
        }
    }
}

/// The response for an error. `debug` (route or global) selects the
/// informative bodies 1.36 gives in debug mode.
pub fn rescue(err: &ProxyError, debug: bool) -> (ResponseHead, Bytes) {
    let (status, reason, body) = match err {
        ProxyError::NoRoute(host) => (502, "Bad Gateway", format!("No route for host: {host}\n")),
        ProxyError::ConnectFailed(_)
        | ProxyError::Backend(_)
        | ProxyError::BadInstruct(_)
        | ProxyError::InstructTooLarge(_) => {
            let body = if debug {
                format!("{err}\n")
            } else {
                "Error while proxying to origin.\n".to_owned()
            };
            (502, "Bad Gateway", body)
        }
        ProxyError::RequestTooLarge | ProxyError::Jsonp(_) => {
            (400, "Bad Request", format!("{err}\n"))
        }
        ProxyError::WsEventsForbidden => (403, "Forbidden", format!("{err}\n")),
        ProxyError::BadRequest(_) => (400, "Bad Request", "Bad Request\n".to_owned()),
        ProxyError::HeadTooLarge => (
            431,
            "Request Header Fields Too Large",
            "Request Header Fields Too Large\n".to_owned(),
        ),
    };
    (text_head(status, reason), Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let (h, b) = rescue(&ProxyError::NoRoute("x.example".into()), false);
        assert_eq!(
            (h.status, &b[..]),
            (502, &b"No route for host: x.example\n"[..])
        );
        let e = ProxyError::ConnectFailed(vec!["a:1".into(), "b:2".into()]);
        assert_eq!(
            &rescue(&e, false).1[..],
            b"Error while proxying to origin.\n"
        );
        assert_eq!(
            &rescue(&e, true).1[..],
            b"Unable to connect to any targets. Tried: a:1, b:2\n"
        );
        assert_eq!(rescue(&ProxyError::RequestTooLarge, false).0.status, 400);
        let (h, b) = rescue(&crate::cors::JsonpError::Callback.into(), false);
        assert_eq!(
            (h.status, &b[..]),
            (400, &b"Invalid callback parameter.\n"[..])
        );
        assert_eq!(
            rescue(&ProxyError::HeadTooLarge, false).0.headers["content-type"],
            "text/plain"
        );
    }
}
