//! `close()` during a reconnect backoff and during a blocked `wait_delivered` returns within
//! 50 ms.

use crate::common;

use flowai_socket::{Backoff, Client, Event, Message};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn close_during_backoff_is_prompt() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator).backoff(Backoff {
            min: Duration::from_secs(30),
            max: Duration::from_secs(60),
            max_attempts: None,
        });
        let client = Client::connect(cfg).unwrap();
        emulator.stop();
        let (event, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Reconnecting { .. })
        });
        let Event::Reconnecting { delay, .. } = event else {
            unreachable!()
        };
        if delay < Duration::from_millis(500) {
            return; // full jitter picked a tiny delay; nothing to measure this time
        }
        let started = Instant::now();
        client.close().unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(50),
            "close took {took:?} during a {delay:?} backoff"
        );
    });
}

#[test]
fn close_during_a_blocked_wait_delivered_is_prompt() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Arc::new(Client::connect(common::config_for(&emulator)).unwrap());
        emulator.faults().black_hole(true);
        let trace = client.send(Message::text("held")).unwrap();
        let waiter = {
            let c = client.clone();
            std::thread::spawn(move || c.wait_delivered(trace, Duration::from_secs(20)).is_err())
        };
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        client.close().unwrap();
        assert!(waiter.join().unwrap(), "wait_delivered fails after close");
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(50),
            "close + wake took {took:?}"
        );
    });
}
