//! Pushpin in Rust: a GRIP realtime push proxy, drop-in for Pushpin 1.36.
//!
//! # Layout
//!
//! - [`app`]: wiring, shared [`app::Context`], start and shutdown.
//! - [`config`]: pushpin.conf + command line → [`config::Config`].
//! - [`routes`]: routes file parsing and matching (pure).
//! - [`server`]: client listeners and one task per connection; TLS
//!   (`https_ports`) and Unix-socket (`local_ports`) clients are relayed
//!   to the same connection code over loopback ([`server::relay`]).
//! - [`http1`]: the client-side HTTP/1.x codec (pure).
//! - [`proxy`]: forwarding to backends (hyper client, pooled), relaying,
//!   and GRIP response handling ([`proxy::accept`]).
//! - [`cors`]: automatic CORS headers and JSON-P (pure).
//! - [`grip`]: GRIP instructions, published items, signing (pure).
//! - [`session`]: hold sessions (stream, long-poll) on the connection task.
//! - [`hub`]: channel registry and fan-out of published items.
//! - [`publish`]: the publish API (`POST /publish/`).
//! - [`publish_cli`]: the `pushpin-publish` command (a client of that API).
//! - [`metrics`]: the Prometheus endpoint and the counts it reports.
//! - [`simplehttp`]: the one-request-per-connection HTTP server of the publish
//!   API and the metrics endpoint (1.36's `SimpleHttpServer` behaviour).
//! - [`ws`]: WebSocket passthrough and WebSocket-over-HTTP.
//! - [`wsoverhttp`]: the `application/websocket-events` codec and GRIP
//!   control messages (pure).
//! - [`testroute`]: the built-in `test` target.
//! - [`error`]: proxy errors and their single mapping to responses.
//! - [`fdlimit`]: the open-file limit and the client connections it allows.
//!
//! # Request flow
//!
//! ```text
//!  client ──► server::listener ──► server::conn (task per connection)
//!  TLS / Unix client ──► server::tls / server::local ──► server::relay ──┘
//!                                        │ route lookup
//!                                        ▼
//!                                  proxy::handle ──► backend (hyper, pooled)
//!                                        │ response
//!                  plain ◄───────────────┴──────────────► GRIP instructions
//!           proxy::relay (streamed)                proxy::accept
//!                                                        │
//!                                    session::stream / session::longpoll
//!                                                        ▲ Inbox
//!  publisher ──► publish::http ──► publish::parse ──► hub (fan-out)
//! ```

pub mod app;
pub mod config;
pub mod cors;
pub mod error;
pub mod fdlimit;
pub mod grip;
pub mod http1;
pub mod hub;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod publish;
pub mod publish_cli;
pub mod routes;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod simplehttp;
pub mod testroute;
pub mod ws;
pub mod wsoverhttp;
