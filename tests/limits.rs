//! Limits: a full outbox refuses `send` with a clear error (nothing dropped); an undrained
//! event queue pauses reading (TCP backpressure) and loses nothing once drained; the outbox can
//! be turned off for at-most-once delivery, which reports lost messages.

mod common;

use flowai_socket::{Client, Error, Event, Message};
use std::collections::HashSet;
use std::time::Duration;

#[test]
fn a_full_outbox_refuses_send_and_drops_nothing() {
    common::watchdog(Duration::from_secs(30), || {
        let emulator = common::emulator();
        emulator.faults().black_hole(true);
        let client = Client::connect(common::config_for(&emulator).max_outbox(50)).unwrap();
        let traces: Vec<_> = (0..50)
            .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
            .collect();
        let full = client.send(Message::text("one too many"));
        assert!(matches!(full, Err(Error::OutboxFull(50))), "{full:?}");
        assert!(full.unwrap_err().is_retryable());
        emulator.faults().black_hole(false);
        // The black hole swallowed the first writes: drop the connection so they are re-sent.
        emulator.faults().drop_after_frames(1);
        client.send(Message::text("x")).unwrap_err();
        std::thread::sleep(Duration::from_millis(100));
        emulator.faults().drop_after_frames(0);
        for t in traces {
            client.wait_delivered(t, Duration::from_secs(20)).unwrap();
        }
        client.send(Message::text("room again")).unwrap();
    });
}

#[test]
fn an_undrained_event_queue_pauses_reading_and_loses_nothing() {
    common::watchdog(Duration::from_secs(60), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator).max_queued_events(100);
        let client = Client::connect(cfg).unwrap();
        let traces: HashSet<_> = (0..2000)
            .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
            .collect();
        // Each message brings two events (ack + reply); only ~100 fit until they are taken.
        std::thread::sleep(Duration::from_millis(500));
        let queued = client.queued_events();
        assert!(
            (100..=101).contains(&queued),
            "queue bounded while paused: {queued}"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(client.queued_events(), queued, "nothing read while paused");
        let mut events = Vec::new();
        while let Some(e) = client.try_recv().unwrap() {
            events.push(e);
        }
        let mut acked = HashSet::new();
        let mut replies = 0;
        let mut tally = |e: Event| match e {
            Event::Delivered(d) => {
                acked.insert(d.trace_id.unwrap());
            }
            Event::Reply(_) => replies += 1,
            _ => {}
        };
        events.into_iter().for_each(&mut tally);
        while let Some(e) = client.recv_timeout(Duration::from_millis(500)).unwrap() {
            tally(e);
        }
        assert_eq!(acked.len(), traces.len(), "every ack arrives once drained");
        assert_eq!(acked, traces);
        assert_eq!(replies, 2000);
        assert!(
            client.is_connected(),
            "backpressure is not a dead connection"
        );
    });
}

#[test]
fn with_the_outbox_off_lost_messages_are_reported_not_resent() {
    common::watchdog(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator).outbox(false)).unwrap();
        emulator.faults().black_hole(true);
        let trace = client.send(Message::text("into the void")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        emulator.faults().black_hole(false);
        emulator.faults().drop_after_frames(1);
        let _ = client.send(Message::text("trigger drop"));
        let (event, _) = common::wait_event(
            &client,
            Duration::from_secs(10),
            |e| matches!(e, Event::NotDelivered { trace_id } if *trace_id == trace),
        );
        assert!(matches!(event, Event::NotDelivered { .. }));
        emulator.faults().drop_after_frames(0);
        let r = client.wait_delivered(trace, Duration::from_secs(1));
        assert!(
            matches!(r, Err(Error::NotDelivered(t)) if t == trace.0),
            "{r:?}"
        );
    });
}
