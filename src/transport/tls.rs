//! TLS over an already bounded stream, and the line between a certificate problem (final)
//! and a handshake that the network broke (retryable).
//!
//! The handshake runs on an [`Io`] with a [`Limit`], which waits in `poll` itself: native-tls
//! never sees `WouldBlock`, so no half-done handshake ever reaches tungstenite (whose
//! native-tls helper panics on one), a silent or drip-feeding server ends in a timeout at the
//! deadline, and `close()` interrupts it.

use super::io::{Io, Limit};
use crate::error::{Error, Result};
use native_tls::{HandshakeError, TlsConnector, TlsStream};
use std::sync::OnceLock;

/// A connector that trusts the system roots plus `extra_roots` (PEM). Without extra roots
/// one connector is shared by the whole process (loading the system roots is slow).
pub(crate) fn connector(extra_roots: &[String]) -> Result<TlsConnector> {
    static SYSTEM: OnceLock<std::result::Result<TlsConnector, String>> = OnceLock::new();
    if extra_roots.is_empty() {
        return SYSTEM
            .get_or_init(|| build(extra_roots).map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::Config);
    }
    build(extra_roots)
}

fn build(extra_roots: &[String]) -> Result<TlsConnector> {
    let mut builder = TlsConnector::builder();
    for pem in extra_roots {
        let cert = native_tls::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| Error::Config(format!("extra root certificate is not valid PEM: {e}")))?;
        builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))
}

/// Runs the client handshake for `host` (certificate and host name verified) within the
/// stream's limit.
pub(crate) fn handshake(
    connector: &TlsConnector,
    io: Io,
    host: &str,
    authority: &str,
    limit: &Limit,
) -> Result<TlsStream<Io>> {
    match connector.connect(host, io) {
        Ok(tls) => Ok(tls),
        Err(HandshakeError::Failure(e)) => Err(limit.explain(classify(&e.to_string(), authority))),
        // Unreachable with a bounded stream (it never reports WouldBlock); still an error,
        // never a panic.
        Err(HandshakeError::WouldBlock(_)) => Err(limit.explain(Error::Network(format!(
            "TLS handshake with {authority} did not complete"
        )))),
    }
}

/// Which certificate check failed, from the TLS library's text (OpenSSL's verify result,
/// which native-tls appends in parentheses); `None` when the failure is not a verification
/// failure at all.
pub(crate) fn verification_failure(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
    if has(&["certificate has expired", "certificate expired"]) {
        Some("the certificate has expired")
    } else if has(&["certificate is not yet valid"]) {
        Some("the certificate is not valid yet")
    } else if has(&[
        "hostname mismatch",
        "ip address mismatch",
        "host name mismatch",
    ]) {
        Some("hostname mismatch: the certificate is for another host")
    } else if has(&[
        "unable to get local issuer",
        "unable to get issuer",
        "self-signed certificate",
        "self signed certificate",
        "unable to verify the first certificate",
        "untrusted",
        "unknown ca",
    ]) {
        Some("unknown issuer: the certificate's CA is not trusted")
    } else if has(&[
        "certificate verify failed",
        "certificate verification failed",
    ]) {
        Some("certificate verification failed")
    } else {
        None
    }
}

/// A failed handshake: a verification failure is a final [`Error::Tls`] that says which check
/// failed; anything else (reset, EOF, an alert) is a retryable [`Error::Network`].
fn classify(text: &str, authority: &str) -> Error {
    match verification_failure(text) {
        Some(which) => Error::Tls(format!("{authority}: {which} ({text})")),
        None => Error::Network(format!("TLS handshake with {authority} failed: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_verify_results_are_named() {
        let base = "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:ssl/statem/statem_clnt.c:1889:";
        let cases = [
            ("certificate has expired", "expired"),
            ("hostname mismatch", "hostname mismatch"),
            ("Hostname mismatch", "hostname mismatch"),
            ("self-signed certificate", "unknown issuer"),
            ("unable to get local issuer certificate", "unknown issuer"),
            ("certificate revoked", "verification failed"),
        ];
        for (result, expect) in cases {
            let err = classify(&format!("{base} ({result})"), "h:443");
            assert!(err.is_final(), "{err}");
            assert!(err.to_string().contains(expect), "{err}");
        }
        let eof = classify(
            "error:0A000126:SSL routines::unexpected eof while reading",
            "h:443",
        );
        assert!(matches!(eof, Error::Network(_)) && !eof.is_final(), "{eof}");
    }
}
