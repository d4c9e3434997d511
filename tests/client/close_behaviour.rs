//! `close()` is prompt whatever the keepalive interval, idempotent, and wakes callers blocked
//! in `recv` or `wait_delivered`; calls after it fail with `AlreadyClosed`.

use crate::common;

use flowai_socket::{Client, Error, Message};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn close_with_a_send_queued_on_a_silent_server_is_prompt() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator).keepalive_interval(Some(Duration::from_secs(3600)));
        let client = Client::connect(cfg).unwrap();
        emulator.faults().black_hole(true);
        let trace = client.send(Message::text("never acked")).unwrap();
        assert_eq!(client.pending(), 1);
        let started = Instant::now();
        client.close().unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(50), "close took {took:?}");
        client.close().expect("idempotent");
        assert!(matches!(
            client.send(Message::text("late")),
            Err(Error::AlreadyClosed)
        ));
        assert!(matches!(
            client.wait_delivered(trace, Duration::from_secs(1)),
            Err(Error::AlreadyClosed)
        ));
    });
}

#[test]
fn close_wakes_a_thread_blocked_in_recv_and_one_in_wait_delivered() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Arc::new(Client::connect(common::config_for(&emulator)).unwrap());
        while client.try_recv().unwrap().is_some() {}
        emulator.faults().black_hole(true);
        let trace = client.send(Message::text("held")).unwrap();
        let receiver = {
            let c = client.clone();
            std::thread::spawn(move || {
                let r = c.recv();
                (r.is_err(), Instant::now())
            })
        };
        let waiter = {
            let c = client.clone();
            std::thread::spawn(move || {
                let r = c.wait_delivered(trace, Duration::from_secs(20));
                (matches!(r, Err(Error::AlreadyClosed)), Instant::now())
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let closed_at = Instant::now();
        client.close().unwrap();
        for (label, t) in [("recv", receiver), ("wait_delivered", waiter)] {
            let (errored, woke_at) = t.join().unwrap();
            assert!(errored, "{label} returns an error after close");
            let after = woke_at.saturating_duration_since(closed_at);
            assert!(
                after < Duration::from_millis(50),
                "{label} woke {after:?} after close"
            );
        }
    });
}

#[test]
fn drop_closes_and_joins() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        assert!(emulator.wait_for(|s| s.open_connections == 1, Duration::from_secs(5)));
        drop(client);
        assert!(
            emulator.wait_for(|s| s.open_connections == 0, Duration::from_secs(5)),
            "{:?}",
            emulator.stats()
        );
    });
}
