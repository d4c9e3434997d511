//! No secret leaves for another address or in clear: `socket.info` and REST calls do not
//! follow redirects (a final error naming the `Location`, and the other server hears
//! nothing); a `ws://` endpoint from an `https://` `socket.info`, or on another host, is
//! refused; an `http://` base URL is accepted only for this machine. `allow_insecure(true)`
//! lifts the last two.

use crate::common;

use common::servers::{self, Answer, Front};
use flowai_socket::{Client, Config, Error, Event};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[test]
fn socket_info_and_rest_redirects_are_refused_and_name_where_they_pointed() {
    common::fail_after(Duration::from_secs(30), || {
        let elsewhere = Front::start(|_, _| Answer::Bytes(servers::http_json(200, "", "{}")));
        let to = format!("{}/socket.info", elsewhere.base_url());
        for status in [301, 302, 307, 308] {
            let location = format!("Location: {to}\r\n");
            let front = Front::start(move |_, _| {
                Answer::Bytes(servers::http_json(status, &location, "{}"))
            });
            let cfg = Config::new("redirects")
                .base_url(front.base_url())
                .secret("s3cret")
                .connect_timeout(Duration::from_millis(500));
            let err = Client::connect(cfg).expect_err("a redirect is not followed");
            assert!(
                matches!(err, Error::Rejected { status: s, .. } if s == status),
                "{err:?}"
            );
            assert!(err.is_final());
            assert!(err.to_string().contains(&to), "names the Location: {err}");
        }
        assert_eq!(elsewhere.server.accepted.load(Ordering::SeqCst), 0);

        // REST: the same for thread.history.
        let emulator = common::emulator();
        let location = format!("Location: {}/thread.history\r\n", elsewhere.base_url());
        let front = Front::before(&emulator, move |_, head| {
            head.starts_with("GET /thread.history")
                .then(|| Answer::Bytes(servers::http_json(302, &location, "")))
        });
        let client =
            Client::connect(common::config_for(&emulator).base_url(front.base_url())).unwrap();
        let err = client.history("").expect_err("not followed");
        assert!(
            matches!(err, Error::Rejected { status: 302, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("/thread.history"), "{err}");
        assert_eq!(elsewhere.server.accepted.load(Ordering::SeqCst), 0);
        client.close().unwrap();
    });
}

/// An https `socket.info` (with a CA of the test's own) that hands out `endpoint`.
fn https_front(endpoint: String) -> Option<(servers::Server, String)> {
    let (ca, cert, key) = servers::ca_signed_certificate(2, "localhost")?;
    let server = servers::tls_server(&cert, &key, move |mut tls| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match std::io::Read::read(&mut tls, &mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let _ = std::io::Write::write_all(&mut tls, &servers::socket_info_ok(&endpoint));
    });
    Some((server, ca))
}

#[test]
fn a_ws_endpoint_from_an_https_socket_info_is_refused_unless_insecure_is_allowed() {
    common::fail_after(Duration::from_secs(30), || {
        let ws = servers::ws_then_drop(Duration::from_secs(5));
        let endpoint = format!("ws://127.0.0.1:{}/ws", ws.addr.port());
        let Some((front, ca)) = https_front(endpoint) else {
            return;
        };
        let cfg = Config::new("downgrade")
            .base_url(format!("https://localhost:{}", front.addr.port()))
            .add_root_certificate_pem(ca)
            .keepalive_interval(None)
            .connect_timeout(Duration::from_secs(2));
        let err = Client::connect(cfg.clone()).expect_err("the downgrade is refused");
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.is_final());
        assert!(err.to_string().contains("unencrypted"), "{err}");
        assert_eq!(
            ws.accepted.load(Ordering::SeqCst),
            0,
            "nothing sent in clear"
        );

        let client = Client::connect(cfg.allow_insecure(true)).expect("allowed when asked");
        assert!(matches!(
            client.recv_timeout(Duration::from_secs(2)).unwrap(),
            Some(Event::Connected { .. })
        ));
        client.close().unwrap();
    });
}

#[test]
fn http_and_ws_to_another_machine_need_allow_insecure() {
    common::fail_after(Duration::from_secs(30), || {
        // A documentation address (RFC 5737): never reached in this test.
        let remote = Config::new("insecure")
            .base_url("http://192.0.2.1:9")
            .connect_timeout(Duration::from_millis(300));
        let err = Client::connect(remote.clone()).expect_err("http:// to another machine");
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("allow_insecure"), "{err}");
        let err = Client::connect(remote.allow_insecure(true)).expect_err("unreachable");
        assert!(
            !matches!(err, Error::Config(_)),
            "accepted, then failed: {err:?}"
        );
        assert!(err.is_retryable(), "{err}");

        // Loopback by name works over http://.
        let emulator = common::emulator();
        let port = emulator.base_url().rsplit(':').next().unwrap().to_string();
        let local = common::config_for(&emulator).base_url(format!("http://localhost:{port}"));
        Client::connect(local).expect("localhost").close().unwrap();

        // A loopback socket.info that hands out ws:// to another machine.
        let front =
            Front::start(|_, _| Answer::Bytes(servers::socket_info_ok("ws://192.0.2.1:9/ws")));
        let cfg = Config::new("insecure")
            .base_url(front.base_url())
            .connect_timeout(Duration::from_millis(300));
        let err = Client::connect(cfg).expect_err("ws:// to another machine");
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    });
}
