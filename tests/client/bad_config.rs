//! Empty clientId or threadId, in the config or in a message, and invalid JSON messages are
//! refused with a clear error before anything is sent.

use crate::common;

use flowai_socket::{Client, Config, Error, Message};
use std::time::Duration;

#[test]
fn empty_ids_and_bad_urls_in_the_config_are_config_errors() {
    for cfg in [
        Config::new(""),
        Config::new("   "),
        Config::new("c").thread_id(""),
        Config::new("c").session_id(""),
        Config::new("c").base_url("ftp://example.com"),
        Config::new("c").keepalive_interval(Some(Duration::ZERO)),
        Config::new("c").max_message_size(10),
    ] {
        let err = Client::connect(cfg).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.is_final());
    }
}

#[test]
fn bad_messages_are_refused_and_nothing_is_sent() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        let whitespace_thread = client.send(Message::text("hi").thread("  "));
        assert!(
            matches!(whitespace_thread, Err(Error::InvalidArgument(_))),
            "{whitespace_thread:?}"
        );
        let empty = client.send(Message::text(""));
        assert!(matches!(empty, Err(Error::InvalidArgument(_))), "{empty:?}");
        for json in [
            "",
            "{",
            "[1]",
            r#"{"type":"ping"}"#,
            r#"{"threadId":"t","speech":5}"#,
            r#"{"threadId":"","speech":"x"}"#,
        ] {
            let err = client.send_json(json).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{json}: {err:?}");
        }
        let ok = client
            .send_json(r#"{"type":"message.send","payload":{"speech":"fine","custom":1}}"#)
            .unwrap();
        client.wait_delivered(ok, Duration::from_secs(5)).unwrap();
        assert_eq!(
            emulator.stats().messages,
            1,
            "only the valid message reached the server"
        );
        assert_eq!(
            emulator.history("test.thread")[0]["payload"]["custom"],
            1,
            "unknown fields are sent"
        );
    });
}
