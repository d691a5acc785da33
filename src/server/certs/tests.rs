//! Certificate selection and reloading, on copies of `tests/certs`.

use super::*;
use std::time::Duration;

/// A certs dir in the temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!(
            "pp-certs-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    /// Copies the fixture pair `fixture` in as `name`.
    fn pair(&self, fixture: &str, name: &str) {
        for ext in ["crt", "key"] {
            std::fs::copy(
                fixture_path(fixture, ext),
                self.0.join(format!("{name}.{ext}")),
            )
            .unwrap();
        }
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.0.join(file), text).unwrap();
    }

    /// Moves a file's modification time `secs` into the future, so a
    /// rewrite within the same clock tick still counts as newer.
    fn touch_later(&self, file: &str, secs: u64) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.0.join(file))
            .unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(secs))
            .unwrap();
    }

    fn store(&self) -> CertStore {
        CertStore::new(
            self.0.clone(),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture_path(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(format!("{name}.{ext}"))
}

/// The leaf certificate of a fixture, to compare with what was picked.
fn leaf(fixture: &str) -> CertificateDer<'static> {
    read_chain(&fixture_path(fixture, "crt")).unwrap().remove(0)
}

fn picked(store: &CertStore, sni: Option<&str>) -> Option<CertificateDer<'static>> {
    store
        .for_handshake(sni, "default_443")
        .map(|k| k.cert[0].clone())
}

fn full_dir() -> Dir {
    let d = Dir::new();
    d.pair("default", "default_443");
    d.pair("a.example.com", "a.example.com");
    d.pair("_.wild.test", "_.wild.test");
    d
}

#[test]
fn no_server_name_gets_the_default() {
    let d = full_dir();
    assert_eq!(picked(&d.store(), None), Some(leaf("default")));
}

#[test]
fn a_server_name_gets_its_own_pair_whatever_its_case() {
    let d = full_dir();
    let s = d.store();
    assert_eq!(
        picked(&s, Some("a.example.com")),
        Some(leaf("a.example.com"))
    );
    assert_eq!(
        picked(&s, Some("A.Example.COM")),
        Some(leaf("a.example.com"))
    );
}

#[test]
fn wildcards_cover_one_level_only() {
    let d = full_dir();
    let s = d.store();
    assert_eq!(picked(&s, Some("x.wild.test")), Some(leaf("_.wild.test")));
    assert_eq!(picked(&s, Some("y.x.wild.test")), Some(leaf("default")));
    assert_eq!(picked(&s, Some("wild.test")), Some(leaf("default")));
}

#[test]
fn unknown_names_fall_back_to_the_default_or_nothing() {
    let d = full_dir();
    assert_eq!(
        picked(&d.store(), Some("unknown.test")),
        Some(leaf("default"))
    );
    let bare = Dir::new();
    bare.pair("a.example.com", "a.example.com");
    let s = bare.store();
    assert_eq!(picked(&s, Some("unknown.test")), None);
    assert_eq!(picked(&s, None), None);
    assert_eq!(
        picked(&s, Some("a.example.com")),
        Some(leaf("a.example.com"))
    );
}

#[test]
fn names_that_are_not_file_names_are_not_looked_up() {
    let d = full_dir();
    let s = d.store();
    assert!(s.by_name("../default_443").is_none());
    assert!(s.by_name("a\u{1}b").is_none());
    assert!(s.by_name(&"a".repeat(254)).is_none());
    // and such a server name still gets the default
    assert_eq!(picked(&s, Some("x/y")), Some(leaf("default")));
}

#[test]
fn a_pair_added_later_is_found() {
    let d = Dir::new();
    let s = d.store();
    assert_eq!(picked(&s, Some("a.example.com")), None);
    d.pair("a.example.com", "a.example.com");
    assert_eq!(
        picked(&s, Some("a.example.com")),
        Some(leaf("a.example.com"))
    );
}

#[test]
fn a_renewed_pair_is_read_again() {
    let d = full_dir();
    let s = d.store();
    assert_eq!(picked(&s, None), Some(leaf("default")));
    d.pair("a.example.com", "default_443");
    d.touch_later("default_443.crt", 5);
    assert_eq!(picked(&s, None), Some(leaf("a.example.com")));
}

#[test]
fn a_broken_renewal_keeps_the_pair_that_worked() {
    let d = full_dir();
    let s = d.store();
    assert_eq!(picked(&s, None), Some(leaf("default")));
    d.write("default_443.crt", "not a certificate\n");
    d.touch_later("default_443.crt", 5);
    assert_eq!(picked(&s, None), Some(leaf("default")));
}

#[test]
fn a_broken_pair_is_skipped_for_the_next_choice() {
    let d = full_dir();
    d.write("a.example.com.key", "garbage\n");
    assert_eq!(
        picked(&d.store(), Some("a.example.com")),
        Some(leaf("default"))
    );
}

#[test]
fn the_start_up_check_names_the_bad_file() {
    let d = Dir::new();
    let s = d.store();
    assert!(!s.check_default("default_443").unwrap());

    d.write("default_443.crt", "nothing here\n");
    d.pair("default", "x");
    std::fs::copy(d.0.join("x.key"), d.0.join("default_443.key")).unwrap();
    let e = s.check_default("default_443").unwrap_err().to_string();
    assert!(e.contains("default_443.crt"), "{e}");

    // a key that is not the certificate's
    d.pair("default", "default_443");
    std::fs::copy(
        fixture_path("a.example.com", "key"),
        d.0.join("default_443.key"),
    )
    .unwrap();
    let e = s.check_default("default_443").unwrap_err().to_string();
    assert!(e.contains("default_443.key"), "{e}");

    // only one of the two files
    std::fs::remove_file(d.0.join("default_443.key")).unwrap();
    let e = s.check_default("default_443").unwrap_err().to_string();
    assert!(e.contains("default_443.key"), "{e}");

    d.pair("default", "default_443");
    assert!(s.check_default("default_443").unwrap());
}
