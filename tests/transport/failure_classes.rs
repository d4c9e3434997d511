//! Failure classes: a certificate that fails verification is a final `Error::Tls` that says
//! which check failed (expired, hostname mismatch, unknown CA), and is accepted once its CA
//! is trusted; a TLS handshake that the network breaks (EOF, reset) is retryable, and a
//! reconnect retries it until the server is back, then delivers what was queued.

use crate::common;

use common::servers::{self, Answer, Front};
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Backoff, Client, Config, Error, Event, Message};
use std::time::Duration;

fn fast_backoff() -> Backoff {
    Backoff {
        min: Duration::from_millis(5),
        max: Duration::from_millis(20),
        max_attempts: None,
    }
}

/// An emulator serving TLS with a certificate for `cn` valid `days` days, signed by a CA
/// of the test's own; with the CA's PEM.
fn tls_emulator(days: i32, cn: &str) -> Option<(Emulator, String)> {
    let (ca, cert, key) = servers::ca_signed_certificate(days, cn)?;
    let emulator = Emulator::start(EmulatorConfig::default().tls(&cert, &key).unwrap()).unwrap();
    Some((emulator, ca))
}

fn connect_error(emulator: &Emulator, ca: Option<&str>) -> Error {
    let mut cfg = Config::new("tls-classes")
        .base_url(emulator.base_url())
        .connect_timeout(Duration::from_secs(2));
    if let Some(ca) = ca {
        cfg = cfg.add_root_certificate_pem(ca);
    }
    Client::connect(cfg).expect_err("verification must fail")
}

#[test]
fn each_certificate_failure_is_final_and_named_and_the_ca_fixes_an_unknown_issuer() {
    common::fail_after(Duration::from_secs(60), || {
        let cases: Vec<_> = [
            (-1, "localhost", true, "expired"),
            (2, "other.example", true, "hostname mismatch"),
            (2, "localhost", false, "unknown issuer"),
        ]
        .into_iter()
        .map(|(days, cn, trust_ca, expect)| {
            std::thread::spawn(move || {
                let Some((emulator, ca)) = tls_emulator(days, cn) else {
                    return;
                };
                let err = connect_error(&emulator, trust_ca.then_some(ca.as_str()));
                assert!(matches!(err, Error::Tls(_)), "{expect}: {err:?}");
                assert!(err.is_final(), "{expect}: {err}");
                assert!(err.to_string().contains(expect), "{expect}: {err}");
                assert_eq!(emulator.stats().socket_info_requests, 0, "nothing sent");
                if !trust_ca {
                    // The same server is accepted once its CA is trusted.
                    let cfg = Config::new("tls-classes")
                        .base_url(emulator.base_url())
                        .add_root_certificate_pem(ca);
                    let client = Client::connect(cfg).expect("trusted now");
                    let trace = client.send(Message::text("over TLS")).unwrap();
                    client
                        .wait_delivered(trace, Duration::from_secs(5))
                        .unwrap();
                }
            })
        })
        .collect();
        for case in cases {
            case.join().unwrap();
        }
    });
}

/// A server that ends each connection during the TLS handshake: `reset` sends an RST,
/// otherwise it closes (EOF) after reading the ClientHello.
fn breaks_tls(reset: bool) -> servers::Server {
    servers::Server::start(move |stream, _| {
        let mut buf = [0u8; 512];
        let _ = std::io::Read::read(&mut &stream, &mut buf);
        if reset {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
    })
}

#[test]
fn eof_or_reset_during_the_tls_handshake_is_retryable() {
    common::fail_after(Duration::from_secs(30), || {
        let runs: Vec<_> = [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .map(|(reset, websocket)| {
                std::thread::spawn(move || {
                    let server = breaks_tls(reset);
                    let port = server.addr.port();
                    // Broken TLS on socket.info itself, or on the WebSocket it points at.
                    let front = Front::start(move |_, _| {
                        let endpoint = format!("wss://127.0.0.1:{port}/ws");
                        Answer::Bytes(servers::socket_info_ok(&endpoint))
                    });
                    let base_url = if websocket {
                        front.base_url()
                    } else {
                        format!("https://localhost:{port}")
                    };
                    let cfg = Config::new("tls-eof")
                        .base_url(base_url)
                        .connect_timeout(Duration::from_millis(500))
                        .backoff(fast_backoff());
                    let err = Client::connect(cfg).expect_err("the handshake never completes");
                    let case = format!("reset={reset} websocket={websocket}");
                    assert!(matches!(err, Error::Network(_)), "{case}: {err:?}");
                    assert!(err.is_retryable(), "{case}: {err}");
                    assert!(
                        server.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2,
                        "{case}: the first connect retried within its deadline"
                    );
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
    });
}

#[test]
fn a_reconnect_retries_broken_tls_until_the_server_is_back_and_loses_nothing() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let broken = breaks_tls(false);
        let broken_endpoint = format!("wss://127.0.0.1:{}/ws", broken.addr.port());
        // socket.info: the emulator's answer, except for requests 1 to 3, which point at a
        // server that closes every TLS handshake.
        let front = Front::before(&emulator, move |n, _| {
            (1..=3)
                .contains(&n)
                .then(|| Answer::Bytes(servers::socket_info_ok(&broken_endpoint)))
        });
        let cfg = Config::new("tls-reconnect")
            .base_url(front.base_url())
            .thread_id("tls.reconnect")
            .keepalive_interval(None)
            .backoff(fast_backoff());
        let client = Client::connect(cfg).unwrap();
        emulator.faults().drop_after_frames(1);
        let traces: Vec<_> = (0..5)
            .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
            .collect();
        common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Reconnecting { attempt: 3, .. })
        });
        emulator.faults().drop_after_frames(0);
        for t in traces {
            client
                .wait_delivered(t, Duration::from_secs(10))
                .expect("delivered after the reconnect");
        }
        assert!(broken.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 3);
        let sent = common::sent_speeches(&emulator, "tls.reconnect");
        for i in 0..5 {
            assert!(sent.contains(&format!("m{i}")), "m{i} in {sent:?}");
        }
        client.close().unwrap();
    });
}
