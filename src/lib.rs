//! Pushpin in Rust.

pub mod config;
pub mod grip;
pub mod http1;
pub mod hub;
pub mod publish;
pub mod routes;
