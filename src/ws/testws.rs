//! The `test` target's `/ws`: an echo WebSocket (every frame sent back as
//! it came, pings and closes included) subscribed to channel `test` (or the
//! `?channel=` values), so published `ws-message` items reach it.

use http::HeaderMap;

use super::frame::{Frame, OpCode};
use super::grip::{close_frame, Action, WsGrip};
use super::handshake::upgrade;
use crate::app::Ctx;
use crate::http1::RequestHead;
use crate::routes::Route;
use crate::server::conn::{finish, Next};
use crate::server::io::ClientConn;
use crate::server::respond::{text_head, write_full};
use crate::testroute::{resolve, Resource};

/// Serves the test WebSocket.
pub async fn run(
    conn: &mut ClientConn,
    head: &RequestHead,
    route: &Route,
    ctx: &Ctx,
    accept: &str,
) -> Next {
    let (resource, channels) = resolve(head, route);
    if resource != Resource::Ws {
        let h = text_head(404, "Not Found");
        return finish(
            write_full(
                &conn.stream,
                head.version,
                h,
                b"no such test resource\n",
                false,
                false,
            )
            .await,
            false,
        );
    }
    let mut grip = (!route.no_grip).then(|| {
        let full: Vec<String> = channels
            .iter()
            .map(|c| format!("{}{c}", route.prefix))
            .collect();
        WsGrip::new(ctx, "", &full)
    });
    let Ok(mut ws) = upgrade(conn, accept, HeaderMap::new()).await else {
        return Next::Close;
    };
    loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => {
                let _ = ws.send(&Frame::close(Some(1001), "shutting down")).await;
                return Next::Close;
            }
            f = ws.read_frame() => match f {
                Ok(Some(frame)) => {
                    let closing = frame.opcode == OpCode::Close;
                    if ws.send(&frame).await.is_err() || closing {
                        return Next::Close;
                    }
                }
                _ => return Next::Close,
            },
            actions = async { match &mut grip { Some(g) => g.next().await, None => std::future::pending().await } } => {
                for a in actions {
                    let sent = match a {
                        Action::Send(bytes) => ws.send_raw(&bytes).await,
                        Action::Close(code, reason) => ws.send(&close_frame(code, &reason)).await,
                        Action::Refresh | Action::Detach => Ok(()),
                    };
                    if sent.is_err() {
                        return Next::Close;
                    }
                }
            }
        }
    }
}
