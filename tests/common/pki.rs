//! Certificates for the TLS tests, made with the `openssl` command: a test CA and leaves it
//! signs (valid, expired, for another host), plus leaves from a CA no client was told about.
//! Every certificate is an EC P-256 one; keys are PKCS#8 PEM (what the emulator and the
//! relay load).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// A certificate chain and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    /// The certificate (the leaf; no intermediates are made).
    pub cert: String,
    /// The PKCS#8 private key.
    pub key: String,
}

impl Pem {
    /// The pair as a native-tls server identity.
    pub fn identity(&self) -> native_tls::Identity {
        native_tls::Identity::from_pkcs8(self.cert.as_bytes(), self.key.as_bytes())
            .expect("the test certificate loads")
    }
}

/// What kind of server certificate [`TestCa::leaf`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// For `localhost` and 127.0.0.1, valid now, signed by the CA.
    Valid,
    /// For `localhost`, signed by the CA, but its validity ended yesterday.
    Expired,
    /// Valid and signed by the CA, but for `wrong.example` only.
    WrongHost,
    /// For `localhost` and valid, but signed by another CA (see [`TestCa::other`]).
    UnknownCa,
}

/// A private certificate authority for one test.
pub struct TestCa {
    /// The CA certificate (PEM), to hand to `Config::add_root_certificate_pem`.
    pub cert: String,
    /// Its key.
    key: String,
    /// A second CA that signs the [`Leaf::UnknownCa`] leaves, made on first use.
    other: std::sync::OnceLock<Box<TestCa>>,
}

/// A fresh directory for openssl's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flowai-pki-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write temp file");
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("openssl wrote its output")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The arguments of `openssl req` that make a new P-256 key without a passphrase.
const NEW_EC_KEY: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Runs `openssl ARGS` in `dir`, quietly; true when it succeeded.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the `openssl` command works; when it does not, says so and (under CI) fails.
pub fn have_openssl() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *OK.get_or_init(|| openssl(&std::env::temp_dir(), &["version"]));
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required for the TLS tests under CI"
        );
        eprintln!("openssl not available: skipping a TLS test");
    }
    ok
}

/// A self-signed certificate for `subject` with the extensions `addext`, and its key.
pub fn self_signed(subject: &str, addext: &[&str]) -> Pem {
    let dir = Scratch::new();
    let mut args = vec!["req", "-x509"];
    args.extend_from_slice(NEW_EC_KEY);
    args.extend(["-days", "2", "-subj", subject]);
    for ext in addext {
        args.extend(["-addext", ext]);
    }
    args.extend(["-keyout", "key.pem", "-out", "cert.pem"]);
    assert!(openssl(&dir.0, &args), "openssl req -x509 {subject} failed");
    Pem {
        cert: dir.read("cert.pem"),
        key: dir.read("key.pem"),
    }
}

impl TestCa {
    /// A new CA named `name`; `None` (after saying so) when `openssl` is missing.
    pub fn new(name: &str) -> Option<TestCa> {
        if !have_openssl() {
            return None;
        }
        let pem = self_signed(
            &format!("/CN={name}"),
            &[
                "basicConstraints=critical,CA:TRUE",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Some(TestCa {
            cert: pem.cert,
            key: pem.key,
            other: std::sync::OnceLock::new(),
        })
    }

    /// The CA that signs the [`Leaf::UnknownCa`] leaves: trust it to accept them.
    pub fn other(&self) -> &TestCa {
        self.other.get_or_init(|| {
            Box::new(TestCa::new("Flowai Unknown Test CA").expect("openssl worked a moment ago"))
        })
    }

    /// A server certificate of the given kind.
    pub fn leaf(&self, kind: Leaf) -> Pem {
        match kind {
            Leaf::Valid => self.sign("localhost", "DNS:localhost,IP:127.0.0.1", 2),
            Leaf::Expired => self.sign("localhost", "DNS:localhost,IP:127.0.0.1", -1),
            Leaf::WrongHost => self.sign("wrong.example", "DNS:wrong.example", 2),
            Leaf::UnknownCa => self.other().leaf(Leaf::Valid),
        }
    }

    /// Signs a new key for `cn` with subjectAltName `san`, valid for `days` from now (a
    /// negative count makes a certificate that expired before it was made).
    pub fn sign(&self, cn: &str, san: &str, days: i32) -> Pem {
        let days = days.to_string();
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        let dir = Scratch::new();
        dir.write("ca.pem", &self.cert);
        dir.write("ca.key", &self.key);
        dir.write("ext.cnf", &format!("subjectAltName={san}\n"));
        let subject = format!("/CN={cn}");
        let mut req = vec!["req", "-new"];
        req.extend_from_slice(NEW_EC_KEY);
        req.extend(["-subj", &subject, "-keyout", "key.pem", "-out", "leaf.csr"]);
        assert!(openssl(&dir.0, &req), "openssl req for {cn} failed");
        let serial = format!(
            "{}{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let x509 = [
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            &days,
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ];
        assert!(openssl(&dir.0, &x509), "openssl x509 -req for {cn} failed");
        Pem {
            cert: dir.read("cert.pem"),
            key: dir.read("key.pem"),
        }
    }
}

/// A self-signed certificate and PKCS#8 key for `localhost`, made with the `openssl` command.
/// Returns `None` (after saying so) when `openssl` is missing, except under CI where that fails.
pub fn localhost_certificate() -> Option<(String, String)> {
    if !have_openssl() {
        return None;
    }
    let pem = self_signed(
        "/CN=localhost",
        &["subjectAltName=DNS:localhost,IP:127.0.0.1"],
    );
    Some((pem.cert, pem.key))
}
