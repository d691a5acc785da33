//! WebSocket requests (passthrough and WebSocket-over-HTTP).

use std::sync::Arc;

use crate::app::Ctx;
use crate::error::ProxyError;
use crate::http1::RequestHead;
use crate::routes::Route;
use crate::server::conn::Next;
use crate::server::io::ClientConn;

/// Serves a WebSocket opening handshake.
pub async fn handle(
    conn: &mut ClientConn,
    head: Arc<RequestHead>,
    route: Arc<Route>,
    ctx: &Ctx,
    _secure: bool,
) -> Next {
    let debug = ctx.config.debug || route.debug;
    crate::proxy::reply_error(
        conn,
        &head,
        &ProxyError::Backend("websockets".into()),
        debug,
        false,
    )
    .await
}
