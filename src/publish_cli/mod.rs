//! `pushpin-publish`: publishes one item to a Pushpin publish API, the way
//! Debian's Pushpin 1.36 tool does (same flags, item, request, messages
//! and exit statuses; see `docs/publish-cli.md` for what differs).
//!
//! [`args`] checks the command line, [`item`] builds the item and [`url`]
//! reads the GRIP URL (all pure).

pub mod args;
pub mod error;
pub mod item;
pub mod url;

pub use args::{Args, Publish};
pub use error::PublishCliError;
