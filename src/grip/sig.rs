//! `Grip-Sig`: the HS256 JWT the proxy adds to every backend request.
//!
//! Claims are `{"exp": now + 3600, "iss": ISS}` with the header
//! `{"typ":"JWT","alg":"HS256"}`, as 1.36 sends them. A [`Signer`] caches the
//! token for the current second, so busy routes sign once a second rather
//! than once a request.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Lifetime of a token, in seconds.
pub const TOKEN_TTL: u64 = 3600;

/// Decodes a configured key: `base64:...` is base64, anything else is used
/// as its UTF-8 bytes.
pub fn parse_key(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match s.strip_prefix("base64:") {
        Some(b64) => STANDARD.decode(b64.trim()),
        None => Ok(s.as_bytes().to_vec()),
    }
}

/// Builds an HS256 JWT over the given claims JSON.
pub fn encode_hs256(claims_json: &str, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims_json.as_bytes());
    let signing_input = format!("{header}.{claims}");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Token for `iss` expiring at `exp` (seconds since the epoch).
pub fn grip_token(iss: &str, key: &[u8], exp: u64) -> String {
    let claims = serde_json::json!({ "exp": exp, "iss": iss });
    encode_hs256(&claims.to_string(), key)
}

/// Whether `token` is an HS256 JWT signed with `key` whose `exp` claim is
/// still in the future (how a client proves it is a trusted upstream).
pub fn verify_hs256(token: &str, key: &[u8]) -> bool {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let header: Option<serde_json::Value> = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if header
        .as_ref()
        .and_then(|v| v.get("alg"))
        .and_then(|a| a.as_str())
        != Some("HS256")
    {
        return false;
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(s) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{h}.{c}").as_bytes());
    if mac.verify_slice(&sig).is_err() {
        return false;
    }
    let claims: Option<serde_json::Value> = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    claims
        .as_ref()
        .and_then(|v| v.get("exp"))
        .and_then(serde_json::Value::as_f64)
        .is_some_and(|exp| exp > now)
}

/// Signs with one issuer and key, caching the token for a second.
#[derive(Debug)]
pub struct Signer {
    iss: String,
    key: Vec<u8>,
    cache: Mutex<(u64, String)>,
}

impl Signer {
    pub fn new(iss: impl Into<String>, key: Vec<u8>) -> Self {
        Signer {
            iss: iss.into(),
            key,
            cache: Mutex::new((0, String::new())),
        }
    }

    /// The `iss` claim; empty disables signing.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// A token valid for [`TOKEN_TTL`] seconds from now.
    pub fn token(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != now {
            *cache = (now, grip_token(&self.iss, &self.key, now + TOKEN_TTL));
        }
        cache.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_token() {
        // header and claims as 1.36 sends them; signature checked independently
        let t = grip_token("pushpin", b"changeme", 1795576882);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts[0], "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9");
        assert_eq!(parts[1], "eyJleHAiOjE3OTU1NzY4ODIsImlzcyI6InB1c2hwaW4ifQ");
        assert_eq!(parts[2], "aHw4CLl2LCvcB-a5pFxNo-bvNPjaTFDC3j9YvcUPN3k");
    }

    #[test]
    fn base64_keys() {
        assert_eq!(parse_key("base64:aGk=").unwrap(), b"hi");
        assert_eq!(parse_key("plain").unwrap(), b"plain");
        assert!(parse_key("base64:!!").is_err());
    }

    #[test]
    fn signer_tokens_verify_and_expire_in_an_hour() {
        let s = Signer::new("iss", b"k".to_vec());
        let t = s.token();
        assert!(verify_hs256(&t, b"k"));
        assert!(!verify_hs256(&t, b"other"));
        let claims = URL_SAFE_NO_PAD
            .decode(t.split('.').nth(1).unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let exp = v["exp"].as_u64().unwrap();
        assert!(exp >= now + TOKEN_TTL - 1 && exp <= now + TOKEN_TTL);
        assert_eq!(v["iss"], "iss");
    }

    #[test]
    fn expired_or_malformed_tokens_fail() {
        assert!(!verify_hs256(&grip_token("i", b"k", 1000), b"k"));
        assert!(!verify_hs256("a.b", b"k"));
        assert!(!verify_hs256("a.b.c.d", b"k"));
    }
}
