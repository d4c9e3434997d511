//! What the client sends to `socket.info` (query and `x-flowai-*` headers) and that the
//! WebSocket URL it gets is single use.

use crate::common;

use flowai_socket::handshake::{connect_websocket, fetch_socket_info, RequestIds, Transport};
use flowai_socket::{Client, Error, Event};
use std::time::Duration;

#[test]
fn socket_info_gets_ids_as_query_and_headers_and_first_event_is_connected() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator)
            .session_id("sess-1")
            .origin("https://shop.example")
            .ott("one-time");
        let client = Client::connect(cfg).unwrap();
        let seen = emulator.last_socket_info().unwrap();
        assert_eq!(seen.query_param("clientId"), Some("test-client"));
        assert_eq!(seen.query_param("sessionId"), Some("sess-1"));
        assert_eq!(seen.header("x-flowai-clientid"), Some("test-client"));
        assert_eq!(seen.header("x-flowai-sessionid"), Some("sess-1"));
        assert_eq!(seen.header("x-flowai-threadid"), Some("test.thread"));
        assert_eq!(seen.header("x-flowai-ott"), Some("one-time"));
        assert_eq!(
            emulator.last_origin().as_deref(),
            Some("https://shop.example")
        );
        match client.recv_timeout(Duration::from_secs(5)).unwrap() {
            Some(Event::Connected { session_id }) => assert_eq!(session_id, "sess-1"),
            other => panic!("first event: {other:?}"),
        }
        assert!(client.is_connected());
    });
}

#[test]
fn websocket_url_is_single_use() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let config = common::config_for(&emulator);
        let cfg = config.settings();
        let transport = Transport::new(cfg).unwrap();
        let ids = RequestIds {
            client_id: "c",
            session_id: "s",
            thread_id: "t",
            secret: None,
            ott: None,
        };
        let info = fetch_socket_info(&transport, cfg, ids, Duration::from_secs(5)).unwrap();
        assert!(info.endpoint.starts_with("ws://"));
        let first = connect_websocket(&transport, cfg, &info.endpoint, Duration::from_secs(5))
            .expect("first use works");
        let again = connect_websocket(&transport, cfg, &info.endpoint, Duration::from_secs(5))
            .expect_err("reuse is refused");
        assert!(
            matches!(again, Error::Unavailable { status: 403, .. }),
            "{again}"
        );
        assert!(again.is_retryable(), "a fresh socket.info fixes it");
        drop(first);
        assert_eq!(emulator.stats().ws_rejected, 1);
    });
}
