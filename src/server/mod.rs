//! The client-facing server: accept loops, per-connection tasks and the
//! response writers they share.
//!
//! Plain listeners ([`listener`]) hand their sockets straight to
//! [`conn`]. TLS ([`tls`], certificates in [`certs`]) and Unix-socket
//! ([`local`]) clients are relayed over loopback to the same code
//! ([`relay`]); [`front`] binds and starts those.

pub mod certs;
pub mod conn;
pub mod front;
pub mod io;
pub mod listener;
pub mod local;
pub mod permits;
pub mod relay;
pub mod respond;
pub mod tls;
