//! TLS and Unix-socket clients for tests, and a certs dir filled from the
//! test-only pairs in `tests/certs`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::client::find;

pub use super::fs::TempDir;

impl TempDir {
    /// Copies the fixture pair `fixture` (e.g. `default`) in as `name`.
    pub fn pair(&self, fixture: &str, name: &str) {
        for ext in ["crt", "key"] {
            std::fs::copy(
                fixture_file(fixture, ext),
                self.0.join(format!("{name}.{ext}")),
            )
            .unwrap();
        }
    }
}

pub fn fixture_file(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(format!("{name}.{ext}"))
}

/// The leaf certificate of a fixture pair.
pub fn leaf(fixture: &str) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(fixture_file(fixture, "crt"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// Trusts only the test CA.
pub fn connector() -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(fixture_file("ca", "crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Takes whatever certificate the server shows (to see which one it
/// picked for a name it has none for).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens a TLS connection that sends `name` as SNI but checks nothing.
pub async fn connect_unchecked(
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// Opens a TLS connection from `from` (an address of this host) to
/// `addr`. A DNS `name` is sent as SNI; an IP address sends none.
pub async fn connect_from(
    from: IpAddr,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    let tcp = socket.connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    connector().connect(name, tcp).await
}

/// `connect_from` 127.0.0.1.
pub async fn connect(addr: SocketAddr, name: &str) -> std::io::Result<TlsStream<TcpStream>> {
    connect_from([127, 0, 0, 1].into(), addr, name).await
}

/// The leaf certificate the server presented.
pub fn server_leaf(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// A response read to the end of the connection.
#[derive(Debug)]
pub struct Plain {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends `GET path` with `Connection: close` and reads the whole answer.
pub async fn get<S>(s: &mut S, host: &str, path: &str, extra: &[(&str, &str)]) -> Plain
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send_get(s, host, path, extra, true).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .expect("response within 5 s")
        .expect("read response");
    let at = find(&raw, b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..at]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    Plain {
        status,
        head,
        body: raw[at + 4..].to_vec(),
    }
}

/// Writes a GET request.
pub async fn send_get<S>(s: &mut S, host: &str, path: &str, extra: &[(&str, &str)], close: bool)
where
    S: AsyncWrite + Unpin,
{
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
}

/// Reads until `needle` has arrived (5 s at most); returns all read.
pub async fn read_until<S>(s: &mut S, buf: &mut Vec<u8>, needle: &[u8])
where
    S: AsyncRead + Unpin,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while find(buf, needle).is_none() {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{:?} never arrived; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(buf)
                )
            })
            .unwrap();
        assert!(n > 0, "closed before {:?}", String::from_utf8_lossy(needle));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads to the end (5 s at most); `Ok` means a clean end.
pub async fn read_to_end<S>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<usize>
where
    S: AsyncRead + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(buf))
        .await
        .expect("closed within 5 s")
}
