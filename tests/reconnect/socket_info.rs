//! `socket.info` refusals during reconnect: 503 three times then OK connects after three
//! backoffs; 401 gives up at once with a final error and no further attempt;
//! `max_attempts` is one limit for the first connect and for reconnects.

use crate::common;

use flowai_socket::{Client, Event};
use std::time::Duration;

#[test]
fn three_503_then_ok_reconnects_after_three_backoffs() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        emulator.faults().refuse_socket_info(503, 3);
        emulator.faults().drop_after_frames(1);
        client
            .send(flowai_socket::Message::text("trigger the drop"))
            .unwrap();
        common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Disconnected { .. })
        });
        emulator.faults().drop_after_frames(0);
        let (_, skipped) = common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Connected { .. })
        });
        let attempts: Vec<u32> = skipped
            .iter()
            .filter_map(|e| match e {
                Event::Reconnecting { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(
            attempts,
            [1, 2, 3, 4],
            "three refused attempts, the fourth connects"
        );
        assert_eq!(emulator.stats().socket_info_refused, 3);
    });
}

#[test]
fn initial_connect_retries_503_within_the_connect_timeout() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        emulator.faults().refuse_socket_info(503, 3);
        let client =
            Client::connect(common::config_for(&emulator)).expect("connects after 3 refusals");
        assert!(client.is_connected());
        assert_eq!(emulator.stats().socket_info_refused, 3);
    });
}

#[test]
fn max_attempts_is_the_same_limit_for_the_first_connect_and_for_reconnects() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let config = || {
            common::config_for(&emulator).backoff(flowai_socket::Backoff {
                min: Duration::from_millis(5),
                max: Duration::from_millis(20),
                max_attempts: Some(2),
            })
        };
        // First connect: the first try, then two more.
        emulator.faults().refuse_socket_info(503, 100);
        let err = Client::connect(config()).unwrap_err();
        assert!(!err.is_final(), "{err}");
        assert_eq!(emulator.stats().socket_info_requests, 3);
        // Reconnect: two attempts after the loss, then the client gives up.
        emulator.faults().refuse_socket_info(503, 0);
        let client = Client::connect(config()).unwrap();
        let before = emulator.stats().socket_info_requests;
        emulator.faults().refuse_socket_info(503, 100);
        emulator.faults().drop_after_frames(1);
        client
            .send(flowai_socket::Message::text("trigger the drop"))
            .unwrap();
        let (closed, skipped) = common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Closed { .. })
        });
        let attempts: Vec<u32> = skipped
            .iter()
            .filter_map(|e| match e {
                Event::Reconnecting { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(attempts, [1, 2]);
        assert!(
            matches!(&closed, Event::Closed { reason } if reason.contains("gave up after 2")),
            "{closed:?}"
        );
        assert_eq!(emulator.stats().socket_info_requests, before + 2);
    });
}

#[test]
fn unauthorized_gives_up_at_once_with_a_final_error() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        emulator.faults().refuse_socket_info(401, 100);
        emulator.faults().drop_after_frames(1);
        client
            .send(flowai_socket::Message::text("trigger the drop"))
            .unwrap();
        let (event, _) = common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Closed { .. })
        });
        let Event::Closed { reason } = event else {
            unreachable!()
        };
        assert!(reason.contains("401"), "{reason}");
        let requests = emulator.stats().socket_info_requests;
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            emulator.stats().socket_info_requests,
            requests,
            "no retry after a final error"
        );
        assert!(matches!(
            client.send(flowai_socket::Message::text("x")),
            Err(flowai_socket::Error::ConnectionClosed(_))
        ));
        assert!(client.recv_timeout(Duration::from_millis(10)).is_err());
        // 401 on the very first connect is a final error too.
        let err = Client::connect(common::config_for(&emulator)).unwrap_err();
        assert!(err.is_final(), "{err}");
    });
}

#[test]
fn a_server_that_only_answers_an_error_and_closes_keeps_the_backoff_growing() {
    common::fail_after(Duration::from_secs(30), || {
        let script = vec![
            common::scripted::Step::Text(r#"{"type":"error","message":"go away"}"#.into()),
            common::scripted::Step::Drop,
        ];
        let server = common::scripted::Scripted::start(vec![script]);
        let cfg = flowai_socket::Config::new("c")
            .base_url(&server.base_url)
            .keepalive_interval(None)
            .backoff(flowai_socket::Backoff {
                min: Duration::from_millis(5),
                max: Duration::from_millis(50),
                max_attempts: None,
            });
        let client = Client::connect(cfg).unwrap();
        let mut attempts = Vec::new();
        while attempts.len() < 4 {
            let (event, _) = common::wait_event(&client, Duration::from_secs(10), |e| {
                matches!(e, Event::Reconnecting { .. })
            });
            if let Event::Reconnecting { attempt, .. } = event {
                attempts.push(attempt);
            }
        }
        assert_eq!(
            attempts,
            [1, 2, 3, 4],
            "no reset to an immediate retry after an error-only connection"
        );
    });
}
