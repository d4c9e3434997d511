//! Limits: a full outbox refuses `send` with a clear error (nothing dropped); a full event
//! queue never stops reading, counts the events it cannot hold and reports the count where
//! they were (`Event::Overflow`); the outbox can be turned off for at-most-once delivery,
//! which reports lost messages.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Error, Event, Message};
use std::time::Duration;

#[test]
fn a_full_outbox_refuses_send_and_drops_nothing() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        emulator.faults().black_hole(true);
        let client = Client::connect(common::config_for(&emulator).max_outbox(50)).unwrap();
        let traces: Vec<_> = (0..50)
            .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
            .collect();
        let full = client.send(Message::text("one too many"));
        assert!(matches!(full, Err(Error::OutboxFull(50))), "{full:?}");
        assert!(full.unwrap_err().is_retryable());
        // Every message has reached the black hole before it closes (on a busy machine the
        // I/O thread may still be writing; a message written later would be acknowledged).
        assert!(emulator.wait_for(|s| s.frames_received >= 50, Duration::from_secs(10)));
        emulator.faults().black_hole(false);
        // The black hole swallowed the first writes: drop the connection at the next frame
        // (a control frame: the outbox is still full) so they are re-sent.
        emulator.faults().drop_after_frames(1);
        client.send(Message::text("x")).unwrap_err();
        client.noticed("", true).unwrap();
        assert!(emulator.wait_for(|s| s.dropped_by_fault >= 1, Duration::from_secs(10)));
        emulator.faults().drop_after_frames(0);
        for t in traces {
            client.wait_delivered(t, Duration::from_secs(20)).unwrap();
        }
        client.send(Message::text("room again")).unwrap();
    });
}

/// Waits until every frame the emulator was given before this call has reached the client:
/// an acknowledgement written after them has come back.
fn settle(client: &Client) {
    for step in ["settle 1", "settle 2"] {
        let trace = client.send(Message::text(step)).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(10))
            .unwrap();
    }
}

fn typing(n: u64) -> String {
    format!(r#"{{"type":"agent.typing","payload":{{"threadId":"test.thread","n":{n}}}}}"#)
}

#[test]
fn a_full_event_queue_counts_what_it_drops_in_place_and_holds_back_nothing() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = Emulator::start(EmulatorConfig::default().reply(false)).unwrap();
        let cfg = common::config_for(&emulator)
            .keepalive_interval(None)
            .max_queued_events(5);
        let client = Client::connect(cfg).unwrap();
        for n in 0..10 {
            assert_eq!(emulator.faults().push_frame("test.thread", &typing(n)), 1);
        }
        // Acknowledgements still arrive with the queue full: reading never stops.
        settle(&client);
        assert_eq!(client.queued_events(), 5);
        let mut seen = Vec::new();
        let mut later = 0;
        while let Some(e) = client.recv_timeout(Duration::from_millis(200)).unwrap() {
            match e {
                Event::Connected { .. } => seen.push("connected".to_string()),
                Event::AgentTyping(p) => seen.push(format!("typing {}", p["n"])),
                Event::Overflow { dropped } => later += dropped,
                // The last acknowledgement may be queued after the taker emptied the queue.
                Event::Delivered(_) => later += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            seen,
            ["connected", "typing 0", "typing 1", "typing 2", "typing 3"]
        );
        // typing 4–9 and the two acknowledgements did not fit (or came after the drain).
        assert_eq!(later, 8);
        // With room again, events are queued again, after the report.
        emulator.faults().push_frame("test.thread", &typing(10));
        let (event, skipped) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::AgentTyping(_))
        });
        assert!(skipped.is_empty(), "{skipped:?}");
        assert!(matches!(event, Event::AgentTyping(p) if p["n"] == 10));
        assert!(
            client.is_connected(),
            "a full queue is not a dead connection"
        );
    });
}

#[test]
fn with_the_outbox_off_lost_messages_are_reported_not_resent() {
    common::fail_after(Duration::from_secs(30), || {
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
