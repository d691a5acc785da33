//! Everything that makes `pushpin-publish` fail. The tool prints
//! `Error: <message>` and exits with status 1 for each of them; the
//! messages are 1.36's wherever 1.36 has the same fault (several are the
//! text of the Rust standard library error 1.36 passes through).

use std::io;
use std::num::ParseIntError;

/// A failed publish, from the command line to the publish API's answer.
#[derive(Debug, thiserror::Error)]
pub enum PublishCliError {
    #[error("failed to parse code: {0}")]
    CodeSyntax(#[source] ParseIntError),
    #[error("code must be an integer between 0 and 999")]
    CodeRange,
    #[error("must specify content")]
    MissingContent,
    /// `--patch` content that is not JSON.
    #[error("{0}")]
    PatchSyntax(#[source] serde_json::Error),
    #[error("patch content must be a JSON array")]
    PatchNotArray,
    /// A patch integer above `i64::MAX`, which 1.36's item encoding cannot
    /// carry (its message, too).
    #[error("invalid data")]
    PatchNumber,
    #[error("header must be in the form \"name: value\"")]
    Header,
    #[error("meta must be in the form \"name=value\"")]
    Meta,
    /// `@name` content whose file cannot be opened.
    #[error("can't read file {name}: {source}")]
    FileOpen {
        name: String,
        #[source]
        source: io::Error,
    },
    /// `@name` opened but not readable (a directory, say).
    #[error("{0}")]
    FileRead(#[source] io::Error),
    /// An `http:`/`https:` spec not of the form `scheme://host[:port][/path]`.
    #[error("invalid URL")]
    Url,
    /// `--user` with an `http://` spec: 1.36 never sends credentials in clear.
    #[error("Authentication requires https")]
    AuthNeedsHttps,
    /// A spec that is not `http:`/`https:`: 1.36 takes it as a ZeroMQ PUSH
    /// endpoint; this implementation has no ZeroMQ.
    #[error(
        "ZeroMQ is not supported, cannot publish to {0:?}: use the publish API's \
         HTTP URL (e.g. --spec http://localhost:5561)"
    )]
    ZmqUnsupported(String),
    /// TLS set-up: no usable trust anchors, or a host that cannot be a TLS
    /// server name.
    #[error("TLS: {0}")]
    Tls(String),
    /// Resolving, connecting, the TLS handshake, writing or reading.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A response whose status line cannot be read.
    #[error("invalid data")]
    ResponseMalformed,
    /// The connection ended before the end of the response head.
    #[error("unexpected end of file")]
    ResponseTruncated,
    #[error("stream did not contain valid UTF-8")]
    ResponseNotUtf8,
    /// Any status but 200: the response body, trimmed.
    #[error("{0}")]
    Rejected(String),
}
