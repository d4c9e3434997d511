//! No panic reaches a user and no client thread dies silently: a TLS server that never
//! answers (which made tungstenite panic mid-handshake) is a retryable timeout on the first
//! connect and on every reconnect; a panic inside the I/O, keepalive or dispatcher thread
//! ends the client like a final error (`Event::Closed` naming the panic, blocked calls
//! released, `send` refused).

use crate::common;

use common::servers::{self, Answer, Front};
use flowai_socket::{Backoff, Client, Config, Dispatcher, Error, Event, Message};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fast_backoff() -> Backoff {
    Backoff {
        min: Duration::from_millis(5),
        max: Duration::from_millis(20),
        max_attempts: None,
    }
}

#[test]
fn a_tls_server_that_never_answers_is_a_retryable_timeout_on_first_connect() {
    common::fail_after(Duration::from_secs(30), || {
        let silent = servers::silent();
        let endpoint = format!("wss://127.0.0.1:{}/ws", silent.addr.port());
        let front = Front::start(move |_, _| Answer::Bytes(servers::socket_info_ok(&endpoint)));
        let cfg = Config::new("no-panic")
            .base_url(front.base_url())
            .connect_timeout(Duration::from_millis(800))
            .backoff(fast_backoff());
        let started = Instant::now();
        let err = Client::connect(cfg).expect_err("nothing answers the TLS handshake");
        let took = started.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(err.is_retryable());
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_millis(1800),
            "{took:?}"
        );
        assert!(silent.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    });
}

#[test]
fn the_same_server_on_reconnect_keeps_the_client_retrying_not_a_zombie() {
    common::fail_after(Duration::from_secs(30), || {
        let ws = servers::ws_then_drop(Duration::from_millis(100));
        let silent = servers::silent();
        let good = format!("ws://127.0.0.1:{}/ws", ws.addr.port());
        let stuck = format!("wss://127.0.0.1:{}/ws", silent.addr.port());
        let front = Front::start(move |n, _| {
            let endpoint = if n == 0 { &good } else { &stuck };
            Answer::Bytes(servers::socket_info_ok(endpoint))
        });
        let cfg = Config::new("no-zombie")
            .base_url(front.base_url())
            .connect_timeout(Duration::from_millis(300))
            .keepalive_interval(None)
            .backoff(fast_backoff());
        let client = Client::connect(cfg).unwrap();
        common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Disconnected { .. })
        });
        for attempt in 1..=3 {
            common::wait_event(
                &client,
                Duration::from_secs(5),
                |e| matches!(e, Event::Reconnecting { attempt: a, .. } if *a == attempt),
            );
        }
        assert!(silent.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2);
        client
            .send(Message::text("queued"))
            .expect("send queues while reconnecting");
        assert_eq!(client.pending(), 1);
        let started = Instant::now();
        client.close().unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
    });
}

/// Waits for `Event::Closed` and checks that every call is released with an error.
fn assert_ended_by_panic(client: &Client, thread: &str) {
    let (closed, _) = common::wait_event(client, Duration::from_secs(5), |e| {
        matches!(e, Event::Closed { .. })
    });
    let Event::Closed { reason } = closed else {
        unreachable!()
    };
    assert!(
        reason.contains("panicked") && reason.contains(thread) && reason.contains("test hook"),
        "{reason}"
    );
    assert!(matches!(client.recv(), Err(Error::ConnectionClosed(_))));
    assert!(matches!(
        client.send(Message::text("after")),
        Err(Error::ConnectionClosed(_))
    ));
    assert!(matches!(
        client.flush(Duration::from_secs(5)),
        Err(Error::ConnectionClosed(_)) | Ok(())
    ));
    assert!(!client.is_connected());
}

#[test]
fn a_panic_in_the_io_thread_ends_the_client_with_closed() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        emulator.faults().black_hole(true);
        let cfg = Config::new("panic-io")
            .base_url(emulator.base_url())
            .keepalive_interval(None);
        let client = Arc::new(Client::connect(cfg).unwrap());
        let trace = client.send(Message::text("never acked")).unwrap();
        // A waiter blocked before the panic is released by it.
        let waiter = {
            let c = client.clone();
            std::thread::spawn(move || c.wait_delivered(trace, Duration::from_secs(20)))
        };
        std::thread::sleep(Duration::from_millis(50));
        flowai_socket::test_hooks::panic_in("panic-io", "io");
        client.send(Message::text("wakes the I/O thread")).unwrap();
        assert_ended_by_panic(&client, "I/O");
        let released = waiter.join().unwrap();
        assert!(
            matches!(released, Err(Error::ConnectionClosed(_))),
            "{released:?}"
        );
        assert!(
            emulator.wait_for(|s| s.open_connections == 0, Duration::from_secs(5)),
            "the socket is closed"
        );
        client.close().unwrap();
    });
}

#[test]
fn a_panic_in_the_keepalive_thread_ends_the_client_and_the_connection() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = Config::new("panic-keepalive")
            .base_url(emulator.base_url())
            .keepalive_interval(Some(Duration::from_millis(30)));
        let client = Client::connect(cfg).unwrap();
        flowai_socket::test_hooks::panic_in("panic-keepalive", "keepalive");
        assert_ended_by_panic(&client, "keepalive");
        assert!(
            emulator.wait_for(|s| s.open_connections == 0, Duration::from_secs(5)),
            "the I/O thread left too"
        );
        let started = Instant::now();
        client.close().unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
    });
}

#[test]
fn a_panicking_event_handler_ends_the_client_with_closed() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Arc::new(Client::connect(common::config_for(&emulator)).unwrap());
        let dispatcher = Dispatcher::start(client.clone(), |event| {
            if matches!(event, Event::Reply(_)) {
                panic!("handler bug");
            }
        });
        client.send(Message::text("make it reply")).unwrap();
        // The dispatcher owns the queue while it runs: watch `send` instead of receiving.
        let deadline = Instant::now() + Duration::from_secs(5);
        let refused = loop {
            match client.send_json(r#"{"speech":"probe"}"#) {
                Err(e) => break e,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Ok(_) => panic!("the client still accepts messages after the handler panicked"),
            }
        };
        assert!(matches!(refused, Error::ConnectionClosed(_)), "{refused:?}");
        dispatcher.stop();
        let (closed, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Closed { .. })
        });
        let Event::Closed { reason } = closed else {
            unreachable!()
        };
        assert!(
            reason.contains("event handler") && reason.contains("handler bug"),
            "{reason}"
        );
        client.close().unwrap();
    });
}
