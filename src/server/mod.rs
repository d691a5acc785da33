//! The client-facing server: accept loops, per-connection tasks and the
//! response writers they share.

pub mod certs;
pub mod conn;
pub mod io;
pub mod listener;
pub mod respond;
