//! Bad frames from the server give a clear event and lose nothing: non-JSON, truncated JSON,
//! no `type`, wrong field types, binary frames, a frame over the size limit, and a server that
//! closes in the middle of a frame.

use crate::common;

use common::scripted::{Scripted, Step};
use flowai_socket::{Client, Config, Event};
use std::time::Duration;

fn client(server: &Scripted, max_message_size: usize) -> Client {
    let cfg = Config::new("c")
        .base_url(&server.base_url)
        .thread_id("t")
        .reconnect(false)
        .keepalive_interval(None)
        .max_message_size(max_message_size);
    Client::connect(cfg).expect("connects to the scripted server")
}

fn next(client: &Client) -> Event {
    client
        .recv_timeout(Duration::from_secs(5))
        .expect("recv")
        .expect("an event within 5 s")
}

#[test]
fn malformed_frames_become_protocol_errors_and_the_connection_stays() {
    common::fail_after(Duration::from_secs(30), || {
        let bad = [
            "not json",
            "{\"type\":\"message.rec",
            "{\"payload\":{}}",
            "[1,2,3]",
            r#"{"type":"message.received","payload":{"messages":"oops"}}"#,
        ];
        let mut script: Vec<Step> = bad.iter().map(|b| Step::Text(b.to_string())).collect();
        script.push(Step::Binary(vec![0, 159, 146, 150]));
        script.push(Step::Text(r#"{"type":"message.received","payload":{"threadId":"t","messages":[{"fallback":"still here"}]}}"#.into()));
        let server = Scripted::start(vec![script]);
        let client = client(&server, 1 << 20);
        assert!(matches!(next(&client), Event::Connected { .. }));
        for raw in bad {
            match next(&client) {
                Event::ProtocolError { error, raw: kept } => {
                    assert!(!error.is_empty());
                    assert_eq!(kept, raw, "the bad frame is handed over whole");
                }
                other => panic!("expected a protocol error for {raw:?}, got {other:?}"),
            }
        }
        match next(&client) {
            Event::ProtocolError { error, .. } => assert!(error.contains("binary"), "{error}"),
            other => panic!("binary frame: {other:?}"),
        }
        match next(&client) {
            Event::Reply(r) => assert_eq!(r.text(), "still here"),
            other => panic!("the connection should still work: {other:?}"),
        }
        assert!(client.is_connected());
    });
}

#[test]
fn a_frame_over_the_size_limit_is_reported_then_the_connection_drops() {
    common::fail_after(Duration::from_secs(30), || {
        let big = format!(
            r#"{{"type":"unknown.big","payload":"{}"}}"#,
            "x".repeat(8 * 1024)
        );
        let server = Scripted::start(vec![vec![Step::Text(big)]]);
        let client = client(&server, 4096);
        assert!(matches!(next(&client), Event::Connected { .. }));
        match next(&client) {
            Event::ProtocolError { error, .. } => assert!(error.contains("size limit"), "{error}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(next(&client), Event::Disconnected { .. }));
        assert!(
            matches!(next(&client), Event::Closed { .. }),
            "reconnect is off in this test"
        );
    });
}

#[test]
fn a_server_closing_mid_frame_is_a_disconnect_with_a_reason() {
    common::fail_after(Duration::from_secs(30), || {
        // A text frame header announcing 100 bytes, then 10 bytes, then the TCP close.
        let mut partial = vec![0x81, 100];
        partial.extend_from_slice(b"{\"type\":\"p");
        let server = Scripted::start(vec![vec![Step::Raw(partial), Step::Drop]]);
        let client = client(&server, 1 << 20);
        assert!(matches!(next(&client), Event::Connected { .. }));
        match next(&client) {
            Event::Disconnected { reason } => assert!(!reason.is_empty()),
            other => panic!("{other:?}"),
        }
        match next(&client) {
            Event::Closed { reason } => assert!(reason.contains("reconnect is off"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(
            client.recv_timeout(Duration::from_millis(100)).is_err(),
            "stopped client: recv errors"
        );
    });
}
