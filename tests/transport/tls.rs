//! https + wss with certificate verification: an extra root certificate makes a private CA
//! trusted; without it the connection fails with a final TLS error.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Error, Event, Message};
use std::time::Duration;

fn tls_emulator() -> Option<(Emulator, String)> {
    let (cert, key) = common::pki::localhost_certificate()?;
    let emulator = Emulator::start(EmulatorConfig::default().tls(&cert, &key).unwrap()).unwrap();
    Some((emulator, cert))
}

#[test]
fn wss_with_an_extra_root_certificate_round_trips() {
    common::fail_after(Duration::from_secs(30), || {
        let Some((emulator, cert)) = tls_emulator() else {
            return;
        };
        assert!(emulator.base_url().starts_with("https://localhost:"));
        let cfg = Config::new("tls-client")
            .base_url(emulator.base_url())
            .thread_id("secure")
            .add_root_certificate_pem(cert);
        let client = Client::connect(cfg).expect("TLS connect with the extra root");
        let trace = client.send(Message::text("over TLS")).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(5))
            .unwrap();
        let (reply, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Reply(_))
        });
        assert_eq!(reply.text().as_deref(), Some("You said: over TLS"));
        // Many frames so decrypted bytes pile up in the TLS buffer between polls.
        let traces: Vec<_> = (0..500)
            .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
            .collect();
        for t in traces {
            client.wait_delivered(t, Duration::from_secs(10)).unwrap();
        }
        client.close().unwrap();
    });
}

#[test]
fn an_untrusted_certificate_is_a_final_tls_error() {
    common::fail_after(Duration::from_secs(30), || {
        let Some((emulator, _cert)) = tls_emulator() else {
            return;
        };
        let cfg = Config::new("tls-client")
            .base_url(emulator.base_url())
            .connect_timeout(Duration::from_secs(3));
        let err = Client::connect(cfg).expect_err("self-signed certificate must not be trusted");
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        assert!(err.is_final(), "a certificate problem is not retried");
        assert_eq!(emulator.stats().ws_connections, 0);
    });
}

#[test]
fn a_bad_extra_root_pem_is_a_config_error() {
    common::fail_after(Duration::from_secs(30), || {
        let Some((emulator, _cert)) = tls_emulator() else {
            return;
        };
        let cfg = Config::new("c")
            .base_url(emulator.base_url())
            .add_root_certificate_pem("not a pem");
        let err = Client::connect(cfg).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    });
}
