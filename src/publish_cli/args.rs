//! The command line of `pushpin-publish`, parsed with clap and then checked
//! the way 1.36's tool checks it, in the same order (so that the same bad
//! command line names the same fault): the code first, then the content,
//! the patch, the headers and the meta variables.
//!
//! clap 4 is not clap 2 (which 1.36 uses), so a few things are done by hand
//! to keep 1.36's rules: `-H` and `-M` take every following word up to the
//! next option (`-H "A: b" ch text` leaves no channel, as in 1.36; end the
//! list with `--`), also after an attached value (`-HA:b`, see
//! [`clap2_argv`]), `--code` is parsed after clap so that a bad one gets
//! 1.36's message, and the `--spec` default comes from `GRIP_URL` when it is
//! set, empty or not.

use std::ffi::OsString;

use clap::{ArgAction, Parser};
use serde_json::Value;

use super::error::PublishCliError;

/// Where publishing goes when neither `--spec` nor `GRIP_URL` says.
pub const DEFAULT_SPEC: &str = "http://localhost:5561";

/// Publish messages to Pushpin
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "pushpin-publish",
    version = concat!(env!("CARGO_PKG_VERSION"), " (Pushpin 1.36 compatible)")
)]
pub struct Args {
    /// Channel to send to
    #[arg(value_name = "channel")]
    pub channel: String,
    /// Content to use for HTTP body and WebSocket message
    #[arg(value_name = "content")]
    pub content: Option<String>,
    /// Payload ID
    #[arg(long, value_name = "id")]
    pub id: Option<String>,
    /// Previous payload ID
    #[arg(long = "prev-id", value_name = "id")]
    pub prev_id: Option<String>,
    /// Sender meta value
    #[arg(long, value_name = "sender")]
    pub sender: Option<String>,
    /// HTTP response code to use
    #[arg(long, value_name = "code", default_value = "200")]
    pub code: String,
    /// Add HTTP response header
    #[arg(short = 'H', long = "header", value_name = "\"K: V\"", num_args = 1.., action = ArgAction::Append)]
    pub headers: Vec<String>,
    /// Add meta variable
    #[arg(short = 'M', long = "meta", value_name = "\"K=V\"", num_args = 1.., action = ArgAction::Append)]
    pub meta: Vec<String>,
    /// Send hint instead of content
    #[arg(long)]
    pub hint: bool,
    /// Close streaming and WebSocket connections
    #[arg(long)]
    pub close: bool,
    /// Content is JSON patch
    #[arg(long)]
    pub patch: bool,
    /// Bypass sequencing buffer
    #[arg(long = "no-seq")]
    pub no_seq: bool,
    /// Don't add newline to HTTP payloads
    #[arg(long = "no-eol")]
    pub no_eol: bool,
    /// GRIP URL (ZeroMQ PUSH specs are refused) [default: $GRIP_URL, else http://localhost:5561]
    #[arg(long, value_name = "spec")]
    pub spec: Option<String>,
    /// Authenticate using basic auth
    #[arg(short = 'u', long, value_name = "user:pass")]
    pub user: Option<String>,
}

/// One publish, checked and ready to build an item from.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// GRIP URL (or a ZeroMQ spec, which is refused when sending).
    pub spec: String,
    /// `user:pass` for basic auth, exactly as given.
    pub user: Option<String>,
    pub channel: String,
    /// `None` when not given or empty (1.36 leaves empty ones out).
    pub id: Option<String>,
    /// `None` when not given or empty.
    pub prev_id: Option<String>,
    /// `None` when not given or empty.
    pub sender: Option<String>,
    pub action: Action,
    /// Response headers in order; repeats are kept.
    pub headers: Vec<(String, String)>,
    /// Meta variables in order; a later one of the same name wins.
    pub meta: Vec<(String, String)>,
    pub no_seq: bool,
    /// Append `\n` to typed (not `@file`) HTTP content.
    pub eol: bool,
}

/// What the item does. `--hint` wins over `--close`, which wins over content.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send { code: u16, content: Content },
    Hint,
    Close,
}

/// The content of a [`Action::Send`].
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Typed on the command line.
    Text(String),
    /// `@name`: the file's bytes, read when the item is built.
    File(String),
    /// `--patch`: JSON patch operations (`body-patch`).
    Patch(Vec<Value>),
}

impl Args {
    /// Checks the arguments as 1.36 does. `default_spec` is what `--spec`
    /// means when absent (see [`default_spec`]).
    pub fn into_publish(self, default_spec: String) -> Result<Publish, PublishCliError> {
        // parsed even when --hint or --close makes it unused, as in 1.36
        let code: u16 = self.code.parse().map_err(PublishCliError::CodeSyntax)?;
        let action = if self.hint {
            Action::Hint
        } else if self.close {
            Action::Close
        } else {
            if code > 999 {
                return Err(PublishCliError::CodeRange);
            }
            let text = self.content.ok_or(PublishCliError::MissingContent)?;
            let content = if self.patch {
                match serde_json::from_str(&text).map_err(PublishCliError::PatchSyntax)? {
                    Value::Array(ops) => Content::Patch(ops),
                    _ => return Err(PublishCliError::PatchNotArray),
                }
            } else if let Some(name) = text.strip_prefix('@') {
                Content::File(name.to_owned())
            } else {
                Content::Text(text)
            };
            Action::Send { code, content }
        };
        let headers = pairs(&self.headers, ':').ok_or(PublishCliError::Header)?;
        let meta = pairs(&self.meta, '=').ok_or(PublishCliError::Meta)?;
        Ok(Publish {
            spec: self.spec.unwrap_or(default_spec),
            user: self.user,
            channel: self.channel,
            id: non_empty(self.id),
            prev_id: non_empty(self.prev_id),
            sender: non_empty(self.sender),
            action,
            headers,
            meta,
            no_seq: self.no_seq,
            eol: !self.no_eol,
        })
    }
}

/// The `--spec` default: `GRIP_URL` when set (even empty, as in 1.36),
/// else [`DEFAULT_SPEC`].
pub fn default_spec(grip_url: Option<String>) -> String {
    grip_url.unwrap_or_else(|| DEFAULT_SPEC.to_owned())
}

/// Rewrites the command line so that clap 4 reads it as 1.36's clap 2 did:
/// `-HA:b` and `-Ma=b` become `-H A:b` and `-M a=b`, whose lists then take
/// the following words too (clap 4 ends a list at an attached value).
/// `-H=v`, which clap 2 also ends there, and everything after `--` are left
/// alone.
pub fn clap2_argv(argv: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut positional_only = false;
    for (i, arg) in argv.into_iter().enumerate() {
        let split = match arg.to_str() {
            _ if i == 0 || positional_only => None,
            Some("--") => {
                positional_only = true;
                None
            }
            Some(s) => ["-H", "-M"].into_iter().find_map(|flag| {
                let value = s.strip_prefix(flag)?;
                (!value.is_empty() && !value.starts_with('=')).then(|| (flag, value.to_owned()))
            }),
            None => None,
        };
        match split {
            Some((flag, value)) => out.extend([flag.into(), value.into()]),
            None => out.push(arg),
        }
    }
    out
}

/// Splits each `name<sep>value` at the first `sep`: the name is kept as
/// typed, the value is trimmed. `None` if one has no `sep`.
fn pairs(items: &[String], sep: char) -> Option<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| {
            let (name, value) = s.split_once(sep)?;
            Some((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests;
