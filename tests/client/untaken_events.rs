//! Events nobody takes never hold the client back: a program that only sends and waits for
//! acknowledgements runs to the end at the smallest event queue, every event it did not take
//! is accounted for by `Event::Overflow`, and the dead-peer check keeps working while the
//! queue is full.

use crate::common;

use flowai_socket::{Client, Event, Message};
use std::time::Duration;

#[test]
fn a_send_only_program_runs_to_the_end_at_max_queued_events_10() {
    common::fail_after(Duration::from_secs(120), || {
        const MESSAGES: usize = 30_000;
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator).max_queued_events(10);
        let client = Client::connect(cfg).unwrap();
        common::send_windowed(&client, MESSAGES, 500, |_| {
            assert!(client.queued_events() <= 11, "{}", client.queued_events());
        });
        // Every event is accounted for: taken, or counted by an overflow report.
        let replies = emulator.wait_for(
            |s| s.replies_sent >= MESSAGES as u64,
            Duration::from_secs(10),
        );
        assert!(replies, "the emulator replied to every message");
        let mut taken = 0u64;
        let mut dropped = 0u64;
        while let Some(event) = client.recv_timeout(Duration::from_millis(300)).unwrap() {
            match event {
                Event::Overflow { dropped: n } => dropped += n,
                _ => taken += 1,
            }
        }
        // Connected, then one acknowledgement and one reply per message.
        assert_eq!(
            taken + dropped,
            1 + 2 * MESSAGES as u64,
            "taken {taken}, dropped {dropped}"
        );
        assert_eq!(client.queued_bytes(), 0);
    });
}

#[test]
fn the_dead_peer_check_runs_while_nobody_takes_events() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator)
            .max_queued_events(5)
            .keepalive_interval(Some(Duration::from_millis(100)))
            .pong_timeout(Duration::from_millis(300));
        let client = Client::connect(cfg).unwrap();
        // Fill the queue well past its size, and take nothing.
        for i in 0..10 {
            client.send(Message::text(format!("m{i}"))).unwrap();
        }
        client.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(client.queued_events(), 5);
        emulator.faults().black_hole(true);
        let before = emulator.stats().ws_connections;
        let reconnected = emulator.wait_for(|s| s.ws_connections > before, Duration::from_secs(10));
        assert!(
            reconnected,
            "the silent server was detected and the client reconnected"
        );
        emulator.faults().black_hole(false);
    });
}
