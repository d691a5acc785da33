//! TLS certificates for the `https_ports` listeners, picked per handshake
//! the way 1.36's connection manager (condure) picks them.
//!
//! Certificates live in one directory (`Config::certs_dir`,
//! `<config dir>/runner/certs`) as PEM pairs `<name>.crt` (the chain,
//! leaf first) and `<name>.key`. For a handshake naming a server (SNI):
//!
//! 1. `<name>` itself, lower-cased;
//! 2. a wildcard one level up: `a.example.com` tries `_.example.com`
//!    (`_` stands for `*`; no other level is tried);
//! 3. the listener's default, `default_<port>`.
//!
//! A handshake without SNI goes straight to the default. Nothing found:
//! the handshake is refused with a fatal alert.
//!
//! Files are read when first needed and kept; before each use the pair's
//! modification times are looked at, and a newer file is read again, so
//! certificates can be added or renewed without a restart. A pair that
//! cannot be used is skipped (logged at debug, as 1.36 does), and one that
//! was good keeps serving if its replacement is broken. Unlike 1.36, a
//! broken default pair stops start-up ([`CertStore::check_default`]).
//!
//! [`CertStore`] is shared by every TLS listener; each listener has a
//! [`PortCerts`] naming its default. Lookups run inside the rustls
//! handshake (synchronously, in the connection's task); the lock is never
//! held while files are read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Longest server name looked up (a DNS name's limit).
const NAME_MAX: usize = 253;

/// Why a certificate pair cannot be used. `Display` names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read certificate {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no certificate in {}", path.display())]
    NoCert { path: PathBuf },
    #[error("bad certificate file {}: {message}", path.display())]
    BadCert { path: PathBuf, message: String },
    #[error("bad private key file {}: {message}", path.display())]
    BadKey { path: PathBuf, message: String },
}

/// One loaded pair and what its files looked like when read.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The later of the two files' modification times (`None`: unknown,
    /// so never reloaded, as 1.36).
    modified: Option<SystemTime>,
}

/// Every certificate pair read so far, by name.
#[derive(Debug)]
pub struct CertStore {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    cache: Mutex<HashMap<String, Loaded>>,
}

impl CertStore {
    pub fn new(dir: PathBuf, provider: Arc<CryptoProvider>) -> CertStore {
        CertStore {
            dir,
            provider,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name of a listener's default pair.
    pub fn default_name(port: u16) -> String {
        format!("default_{port}")
    }

    fn files(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.crt")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// Start-up check of a default pair: `Ok(true)` if it loads,
    /// `Ok(false)` if neither file exists (1.36 starts then too; clients
    /// without a known server name are refused), an error if it is there
    /// but unusable.
    pub fn check_default(&self, name: &str) -> Result<bool, CertError> {
        let (crt, key) = self.files(name);
        if !crt.exists() && !key.exists() {
            return Ok(false);
        }
        let loaded = self.load(name)?;
        lock(&self.cache).insert(name.to_owned(), loaded);
        Ok(true)
    }

    /// The pair called `name`, read or re-read as needed.
    pub fn by_name(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        if !valid_name(name) {
            return None;
        }
        let cached = lock(&self.cache)
            .get(name)
            .map(|l| (l.key.clone(), l.modified));
        if let Some((key, modified)) = cached {
            let Some(modified) = modified else {
                return Some(key);
            };
            if !self.changed_since(name, modified) {
                return Some(key);
            }
        }
        match self.load(name) {
            Ok(loaded) => {
                tracing::debug!(cert = name, "certificate loaded");
                let key = loaded.key.clone();
                lock(&self.cache).insert(name.to_owned(), loaded);
                Some(key)
            }
            Err(e) => {
                tracing::debug!(cert = name, error = %e, "certificate not loaded");
                // a pair that was good keeps serving
                lock(&self.cache).get(name).map(|l| l.key.clone())
            }
        }
    }

    /// The pair for a handshake: the SNI name, its one-level wildcard,
    /// then `default`.
    pub fn for_handshake(
        &self,
        server_name: Option<&str>,
        default: &str,
    ) -> Option<Arc<CertifiedKey>> {
        if let Some(sni) = server_name {
            tracing::debug!(server_name = sni, "tls server name");
            let name = sni.to_ascii_lowercase();
            if let Some(k) = self.by_name(&name) {
                return Some(k);
            }
            if let Some(dot) = name.find('.') {
                if let Some(k) = self.by_name(&format!("_{}", &name[dot..])) {
                    return Some(k);
                }
            }
        }
        self.by_name(default)
    }

    /// Whether either file of `name` is newer than `t` (or gone: then it
    /// is read again, fails, and the cached pair stays).
    fn changed_since(&self, name: &str, t: SystemTime) -> bool {
        let (crt, key) = self.files(name);
        [crt, key].iter().any(|p| match std::fs::metadata(p) {
            Ok(m) => m.modified().is_ok_and(|m| m > t),
            Err(_) => true,
        })
    }

    fn load(&self, name: &str) -> Result<Loaded, CertError> {
        let (crt, key) = self.files(name);
        let modified = match (mtime(&crt)?, mtime(&key)?) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        let chain = read_chain(&crt)?;
        let der = read_key(&key)?;
        let certified =
            CertifiedKey::from_der(chain, der, &self.provider).map_err(|e| CertError::BadKey {
                path: key.clone(),
                message: e.to_string(),
            })?;
        Ok(Loaded {
            key: Arc::new(certified),
            modified,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names safe to turn into file names: not too long, no control
/// characters, no path separator.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.chars().any(|c| (c as u32) < 0x20 || c == '/')
}

fn mtime(path: &Path) -> Result<Option<SystemTime>, CertError> {
    let m = std::fs::metadata(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(m.modified().ok())
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let text = std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::BadCert {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(CertError::NoCert {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    let text = std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| CertError::BadKey {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// One TLS listener's view of the store: which default it falls back to.
#[derive(Debug)]
pub struct PortCerts {
    store: Arc<CertStore>,
    default: String,
}

impl PortCerts {
    pub fn new(store: Arc<CertStore>, port: u16) -> PortCerts {
        PortCerts {
            store,
            default: CertStore::default_name(port),
        }
    }
}

impl ResolvesServerCert for PortCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let found = self.store.for_handshake(hello.server_name(), &self.default);
        if found.is_none() {
            tracing::debug!(
                server_name = hello.server_name().unwrap_or(""),
                "no certificate for the handshake"
            );
        }
        found
    }
}

#[cfg(test)]
#[path = "certs/tests.rs"]
mod tests;
