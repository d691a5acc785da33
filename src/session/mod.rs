//! Hold sessions: a request the backend asked to hold, served on the client
//! connection's own task until it ends. One file per kind; shared pieces in
//! [`common`].

pub mod common;
pub mod filters;
pub mod link;
pub mod longpoll;
pub mod pacer;
pub mod stream;
mod stream_link;

use crate::app::Ctx;
use crate::grip::instruct::HoldMode;
use crate::proxy::{Flow, Hold};
use crate::server::io::ClientConn;

/// Runs a hold to its end.
pub async fn run(conn: &mut ClientConn, hold: Hold, ctx: &Ctx) -> Flow {
    let Hold { rc, ins, rest } = hold;
    if ins.hold == Some(HoldMode::Response) {
        match Box::pin(longpoll::run(conn, &rc, ins, ctx)).await {
            longpoll::End::Done(next) => Flow::Done(next),
            longpoll::End::Retry(grip_last) => {
                ctx.pacer.wait(&ctx.shutdown).await;
                Flow::Retry(rc, grip_last)
            }
        }
    } else {
        Flow::Done(Box::pin(stream::run(conn, &rc, ins, ctx, rest)).await)
    }
}
