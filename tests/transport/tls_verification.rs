//! Certificate verification failures are final and say which check failed (issue 9, item 7):
//! an expired certificate, one for another host, and one from a CA the client was not told
//! about, each against a TLS emulator with a certificate from a test CA. The last is accepted
//! once its CA is added with `Config::add_root_certificate_pem`.

use crate::common;

use common::pki::{Leaf, Pem, TestCa};
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Error, Message};
use std::time::Duration;

/// A TLS emulator serving `leaf`.
fn serve(leaf: &Pem) -> Emulator {
    Emulator::start(
        EmulatorConfig::default()
            .tls(&leaf.cert, &leaf.key)
            .unwrap(),
    )
    .unwrap()
}

/// A config for `emulator` trusting `roots` (besides the system's).
fn config(emulator: &Emulator, roots: &[&str]) -> Config {
    roots.iter().fold(
        Config::new("tls-client")
            .base_url(emulator.base_url())
            .thread_id("tls")
            .connect_timeout(Duration::from_secs(3)),
        |cfg, pem| cfg.add_root_certificate_pem(*pem),
    )
}

/// Connects, expecting a final error whose text names the failed check by one of `words`;
/// returns that text.
fn refused(leaf: Leaf, roots: &[&str], ca: &TestCa, words: &[&str]) -> String {
    let emulator = serve(&ca.leaf(leaf));
    let err = Client::connect(config(&emulator, roots)).expect_err("must not be trusted");
    assert!(err.is_final(), "{leaf:?}: a failed check is final: {err:?}");
    assert!(matches!(err, Error::Tls(_)), "{leaf:?}: {err:?}");
    let text = err.to_string().to_lowercase();
    assert!(
        words.iter().any(|w| text.contains(w)),
        "{leaf:?}: the error should say which check failed (one of {words:?}): {err}"
    );
    assert_eq!(emulator.stats().socket_info_requests, 0, "{leaf:?}");
    text
}

#[test]
fn each_failed_certificate_check_is_final_and_named() {
    let Some(ca) = TestCa::new("Flowai TLS Test CA") else {
        return;
    };
    common::fail_after(Duration::from_secs(60), move || {
        let ca = &ca;
        let trusted = [ca.cert.as_str()];
        let texts = std::thread::scope(|s| {
            let expired = s.spawn(|| refused(Leaf::Expired, &trusted, ca, &["expired"]));
            let host = s.spawn(|| {
                refused(
                    Leaf::WrongHost,
                    &trusted,
                    ca,
                    &["hostname", "host name", "mismatch"],
                )
            });
            let unknown = s.spawn(|| {
                refused(
                    Leaf::UnknownCa,
                    &trusted,
                    ca,
                    &[
                        "issuer",
                        "unknown",
                        "untrusted",
                        "not trusted",
                        "self-signed",
                    ],
                )
            });
            [expired, host, unknown].map(|h| h.join().expect("scenario"))
        });
        println!("the three errors: {texts:#?}");
        let [expired, host, unknown] = &texts;
        assert!(
            expired != host && host != unknown && expired != unknown,
            "three different failures, three different texts: {texts:#?}"
        );
    });
}

#[test]
fn a_leaf_from_an_unknown_ca_is_accepted_once_that_ca_is_added() {
    let Some(ca) = TestCa::new("Flowai TLS Test CA") else {
        return;
    };
    common::fail_after(Duration::from_secs(60), move || {
        let emulator = serve(&ca.leaf(Leaf::UnknownCa));
        let err = Client::connect(config(&emulator, &[&ca.cert])).expect_err("unknown CA");
        assert!(err.is_final(), "{err:?}");
        let client = Client::connect(config(&emulator, &[&ca.cert, &ca.other().cert]))
            .expect("trusted once its CA is added");
        let trace = client.send(Message::text("over TLS")).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(5))
            .unwrap();
        client.close().unwrap();
    });
}
