//! Hold sessions: a request the backend asked to hold, served on the client
//! connection's own task until it ends. One file per kind; shared pieces in
//! [`common`].

pub mod common;
pub mod filters;
pub mod link;
pub mod longpoll;
pub mod stream;
mod stream_link;
