//! `socket.info` answers that are not a usable endpoint: each a clear, classified error.

use crate::common;

use flowai_socket::{Client, Error};
use std::time::Duration;

fn connect_with_answer(status: u16, body: &str, content_type: &str) -> Error {
    let emulator = common::emulator();
    emulator
        .faults()
        .socket_info_body(Some((status, body.to_string(), content_type)));
    let cfg = common::config_for(&emulator).connect_timeout(Duration::from_millis(500));
    Client::connect(cfg).expect_err("must not connect")
}

#[test]
fn http_errors_are_classified_final_or_retryable() {
    common::fail_after(Duration::from_secs(30), || {
        for (status, is_final) in [
            (400, true),
            (401, true),
            (402, true),
            (403, true),
            (500, false), // every 5xx is retryable (the official SDK treats 500 as final)
            (502, false),
            (503, false),
            (429, false),
        ] {
            let body = r#"{"status":"error","payload":{"message":"nope"}}"#;
            let err = connect_with_answer(status, body, "application/json");
            assert_eq!(err.is_final(), is_final, "HTTP {status}: {err}");
            assert!(err.to_string().contains(&status.to_string()), "{err}");
            assert!(err.to_string().contains("nope"), "server words kept: {err}");
        }
    });
}

#[test]
fn html_json_without_endpoint_and_non_ws_endpoints_are_protocol_errors() {
    common::fail_after(Duration::from_secs(30), || {
        let cases = [
            (
                200,
                "<html><body>Welcome</body></html>",
                "text/html",
                "not JSON",
            ),
            (
                200,
                r#"{"status":"ok","payload":{}}"#,
                "application/json",
                "no payload.endpoint",
            ),
            (
                200,
                r#"{"status":"ok","payload":{"endpoint":"http://x/y"}}"#,
                "application/json",
                "not a ws://",
            ),
            (
                200,
                r#"{"status":"error","payload":{"message":"Unknown channel"}}"#,
                "application/json",
                "Unknown channel",
            ),
        ];
        for (status, body, ct, expect) in cases {
            let err = connect_with_answer(status, body, ct);
            assert!(err.to_string().contains(expect), "{body}: {err}");
        }
    });
}

#[test]
fn upper_case_ok_status_is_accepted() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let endpoint = emulator.mint_ws_url(None);
        let body = format!(r#"{{"status":"Ok","payload":{{"endpoint":"{endpoint}"}}}}"#);
        emulator
            .faults()
            .socket_info_body(Some((200, body, "application/json")));
        Client::connect(common::config_for(&emulator)).expect("older servers answer \"Ok\"");
    });
}

#[test]
fn refused_connection_is_a_retryable_network_error() {
    common::fail_after(Duration::from_secs(30), || {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = flowai_socket::Config::new("c")
            .base_url(format!("http://127.0.0.1:{port}"))
            .connect_timeout(Duration::from_millis(300));
        let err = Client::connect(cfg).unwrap_err();
        assert!(matches!(err, Error::Network(_)), "{err:?}");
        assert!(err.is_retryable());
    });
}
