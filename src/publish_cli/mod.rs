//! `pushpin-publish`: publishes one item to a Pushpin publish API, the way
//! Debian's Pushpin 1.36 tool does (same flags, item, request, messages
//! and exit statuses; see `docs/publish-cli.md` for what differs).
//!
//! The binary (`src/bin/pushpin-publish.rs`) parses [`args::Args`], calls
//! [`run`] on the checked [`args::Publish`] and prints `Published` or
//! `Error: …`. [`run`] builds the item ([`item`], pure), picks the target
//! ([`url`], pure) and does the one exchange ([`client`]) on a
//! current-thread tokio runtime of its own: the tool is one short-lived
//! request, so there is nothing to share a runtime with.

pub mod args;
pub mod client;
pub mod error;
pub mod item;
pub mod url;

use std::io::Read as _;

pub use args::{Args, Publish};
pub use error::PublishCliError;

/// Publishes the item; `Ok` once the publish API answered 200.
pub fn run(p: &Publish) -> Result<(), PublishCliError> {
    let item = item::build(p, read_file)?;
    let target = url::parse(&p.spec)?;
    let body = item::body(&item);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(client::send(&target, p.user.as_deref(), &body))
}

/// `@name` content. Opening and reading fail with different messages, as
/// in 1.36 (`@dir` opens on Linux, then fails to read).
fn read_file(name: &str) -> Result<Vec<u8>, PublishCliError> {
    let mut f = std::fs::File::open(name).map_err(|source| PublishCliError::FileOpen {
        name: name.to_owned(),
        source,
    })?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(PublishCliError::FileRead)?;
    Ok(bytes)
}
