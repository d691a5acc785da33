//! Fixtures for the integration tests: a programmable backend, a proxy
//! started in-process on ephemeral ports, and a raw HTTP client that reads
//! streamed responses incrementally.

#![allow(dead_code, unreachable_pub)]

pub mod backend;
pub mod client;
pub mod fs;
pub mod items;
pub mod proxy;
pub mod tls;
pub mod ws;

#[allow(unused_imports)]
pub use backend::{Backend, Recorded, Reply};
#[allow(unused_imports)]
pub use client::{request, RawClient};
#[allow(unused_imports)]
pub use proxy::Proxy;
