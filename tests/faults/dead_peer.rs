//! A black-holed server (connection open, nothing answered) is detected within the pong
//! timeout plus a second, and a reconnect follows.

use crate::common;

use flowai_socket::{Client, Event};
use std::time::{Duration, Instant};

#[test]
fn black_hole_is_detected_within_pong_timeout_and_reconnects() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let pong_timeout = Duration::from_millis(500);
        let keepalive = Duration::from_millis(200);
        let cfg = common::config_for(&emulator)
            .keepalive_interval(Some(keepalive))
            .pong_timeout(pong_timeout);
        let client = Client::connect(cfg).unwrap();
        common::wait_event(&client, Duration::from_secs(2), |e| {
            matches!(e, Event::Connected { .. })
        });
        let holed_at = Instant::now();
        emulator.faults().black_hole(true);
        let (event, _) = common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Disconnected { .. })
        });
        let detected = holed_at.elapsed();
        let Event::Disconnected { reason } = event else {
            unreachable!()
        };
        assert!(reason.contains("ping"), "{reason}");
        // The next ping goes out within one interval, then the pong timeout runs.
        assert!(
            detected <= keepalive + pong_timeout + Duration::from_secs(1),
            "took {detected:?}"
        );
        emulator.faults().black_hole(false);
        common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Connected { .. })
        });
        assert!(client.is_connected());
    });
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out_the_connect() {
    common::fail_after(Duration::from_secs(30), || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
        let cfg = flowai_socket::Config::new("c")
            .base_url(base)
            .connect_timeout(Duration::from_millis(400));
        let started = Instant::now();
        let err = Client::connect(cfg).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, flowai_socket::Error::Timeout(_)), "{err:?}");
        assert!(err.is_retryable());
        assert!(
            took < Duration::from_secs(3),
            "bounded by the connect timeout: {took:?}"
        );
        drop(held);
    });
}
