//! Which way a `--spec` goes, and the parts of a GRIP URL (pure).
//!
//! A spec starting `http:` or `https:` (case matters) is a GRIP URL;
//! anything else is what 1.36 hands to ZeroMQ, refused here. URLs are cut
//! up as 1.36 does, without a general URL parser: the host is everything up
//! to the first `/` after `//` (it is also the `Host` header, as typed),
//! the path is the rest (so a trailing `/` gives `//publish/`, a query
//! string is kept where it stands), and a port follows the host's first
//! `:`. The one addition: a bracketed IPv6 literal (`http://[::1]:5561`),
//! which 1.36 rejects as an invalid URL.

use super::error::PublishCliError;

/// A GRIP URL's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GripUrl {
    pub tls: bool,
    /// `host[:port]` as typed: the `Host` header.
    pub authority: String,
    /// The path before `/publish/`, possibly empty.
    pub path: String,
    /// The host to resolve and to name in TLS (no brackets, no port).
    pub host: String,
    pub port: u16,
}

impl GripUrl {
    /// The publish endpoint: the URL's path plus `/publish/`.
    pub fn publish_path(&self) -> String {
        format!("{}/publish/", self.path)
    }
}

/// Classifies and parses a spec.
pub fn parse(spec: &str) -> Result<GripUrl, PublishCliError> {
    if !(spec.starts_with("http:") || spec.starts_with("https:")) {
        return Err(PublishCliError::ZmqUnsupported(spec.to_owned()));
    }
    let (scheme, rest) = spec.split_once(':').ok_or(PublishCliError::Url)?;
    let tls = scheme == "https";
    let rest = rest.strip_prefix("//").ok_or(PublishCliError::Url)?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = split_authority(authority)?;
    Ok(GripUrl {
        tls,
        authority: authority.to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        port: port.unwrap_or(if tls { 443 } else { 80 }),
    })
}

fn split_authority(authority: &str) -> Result<(&str, Option<u16>), PublishCliError> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or(PublishCliError::Url)?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or(PublishCliError::Url)?),
                ),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| PublishCliError::Url))
        .transpose()?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> GripUrl {
        parse(s).unwrap()
    }

    #[test]
    fn plain_url_with_port() {
        let u = url("http://localhost:5561");
        assert_eq!(
            u,
            GripUrl {
                tls: false,
                authority: "localhost:5561".into(),
                path: String::new(),
                host: "localhost".into(),
                port: 5561,
            }
        );
        assert_eq!(u.publish_path(), "/publish/");
    }

    #[test]
    fn default_ports() {
        assert_eq!(url("http://example.com").port, 80);
        let u = url("https://example.com/prefix");
        assert_eq!(
            (u.tls, u.port, u.publish_path().as_str()),
            (true, 443, "/prefix/publish/")
        );
    }

    #[test]
    fn path_is_kept_as_typed() {
        assert_eq!(url("http://h:1/").publish_path(), "//publish/");
        assert_eq!(url("http://h:1/a?b=c").publish_path(), "/a?b=c/publish/");
    }

    #[test]
    fn port_is_what_u16_parses() {
        // Rust's integer parsing takes a leading '+', so 1.36 does too
        assert_eq!(url("http://h:+80").port, 80);
        for bad in ["http://h:", "http://h:x", "http://h:70000", "http://h:1:2"] {
            assert!(matches!(parse(bad), Err(PublishCliError::Url)), "{bad}");
        }
    }

    #[test]
    fn needs_double_slash() {
        for bad in ["http:", "http:foo", "https:/h"] {
            assert!(matches!(parse(bad), Err(PublishCliError::Url)), "{bad}");
        }
    }

    #[test]
    fn ipv6_literals() {
        let u = url("http://[::1]:5561/x");
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str()),
            ("::1", 5561, "[::1]:5561")
        );
        assert_eq!(url("https://[::1]").port, 443);
        for bad in ["http://[::1", "http://[::1]x", "http://[::1]:"] {
            assert!(matches!(parse(bad), Err(PublishCliError::Url)), "{bad}");
        }
    }

    #[test]
    fn other_specs_are_zeromq() {
        for spec in [
            "tcp://127.0.0.1:5560",
            "ipc:///tmp/x",
            "",
            "HTTP://h",
            "ftp://h",
        ] {
            match parse(spec) {
                Err(PublishCliError::ZmqUnsupported(s)) => assert_eq!(s, spec),
                other => panic!("{spec}: {other:?}"),
            }
        }
    }

    #[test]
    fn empty_host_is_left_to_the_resolver() {
        let u = url("http:///p");
        assert_eq!((u.host.as_str(), u.path.as_str()), ("", "/p"));
    }
}
