//! The one HTTP exchange of `pushpin-publish`: `POST <path>/publish/` as
//! HTTP/1.0, read to the end of the connection, 200 or not.
//!
//! The request is 1.36's byte for byte: `Host` (as typed in the URL),
//! `Content-Type: application/json`, `Content-Length` and, with `--user`,
//! `Authorization: Basic`, in that order. The answer is read as 1.36 reads
//! it: only the status code of the first line matters (200 is success,
//! anything else fails with the trimmed body as the message), and a first
//! line without two spaces is malformed. There is no timeout, as in 1.36.
//!
//! https uses the system's trust anchors (`rustls-native-certs`, which
//! honours `SSL_CERT_FILE` and `SSL_CERT_DIR`), as upstream 1.36 does
//! (Debian's build has no TLS at all), and names the URL's host without
//! its port in TLS (upstream names `host:port`, which fails).

use std::sync::Arc;

use base64::Engine as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::PublishCliError;
use super::url::GripUrl;

/// The request head and body, ready to write.
pub fn request(url: &GripUrl, user: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        url.publish_path(),
        url.authority,
        body.len()
    );
    if let Some(user) = user {
        let token = base64::engine::general_purpose::STANDARD.encode(user);
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Judges everything the server sent.
pub fn parse_response(mut data: &[u8]) -> Result<(), PublishCliError> {
    let mut status = None;
    loop {
        if data.is_empty() {
            return Err(PublishCliError::ResponseTruncated);
        }
        let end = data
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| i + 1);
        let line =
            std::str::from_utf8(&data[..end]).map_err(|_| PublishCliError::ResponseNotUtf8)?;
        data = &data[end..];
        let line = line.trim();
        if status.is_none() {
            status = Some(status_code(line)?);
        }
        if line.is_empty() {
            break;
        }
    }
    let body = std::str::from_utf8(data).map_err(|_| PublishCliError::ResponseNotUtf8)?;
    match status {
        Some(200) => Ok(()),
        _ => Err(PublishCliError::Rejected(body.trim().to_owned())),
    }
}

/// The code between the first line's first and second spaces.
fn status_code(line: &str) -> Result<u16, PublishCliError> {
    let (_, rest) = line
        .split_once(' ')
        .ok_or(PublishCliError::ResponseMalformed)?;
    let (code, _) = rest
        .split_once(' ')
        .ok_or(PublishCliError::ResponseMalformed)?;
    code.parse().map_err(|_| PublishCliError::ResponseMalformed)
}

/// Sends the publish request and judges the answer.
pub async fn send(url: &GripUrl, user: Option<&str>, body: &[u8]) -> Result<(), PublishCliError> {
    if user.is_some() && !url.tls {
        return Err(PublishCliError::AuthNeedsHttps);
    }
    let req = request(url, user, body);
    let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
    let data = if url.tls {
        let name = ServerName::try_from(url.host.clone())
            .map_err(|_| PublishCliError::Tls(format!("not a valid server name: {}", url.host)))?;
        let tls = tls_connector()?.connect(name, tcp).await?;
        exchange(tls, &req).await?
    } else {
        exchange(tcp, &req).await?
    };
    parse_response(&data)
}

/// Writes the request, then reads until the server closes. A TLS peer
/// that closes without `close_notify` (common, and harmless here: the
/// answer is judged on its content) still ends the read.
async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    req: &[u8],
) -> Result<Vec<u8>, PublishCliError> {
    stream.write_all(req).await?;
    stream.flush().await?;
    let mut data = Vec::new();
    match stream.read_to_end(&mut data).await {
        Ok(_) => Ok(data),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(data),
        Err(e) => Err(e.into()),
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, PublishCliError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(PublishCliError::Tls(format!(
            "no trusted certificates: {why}"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PublishCliError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests;
