//! 10,000 messages pipelined while the emulator drops the connection every 1,000 frames:
//! every traceId is acknowledged, in send order per thread, none lost; duplicates counted.

use crate::common;

use flowai_socket::{Client, Event, Message, TraceId};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[test]
fn ten_thousand_messages_survive_a_drop_every_thousand_frames() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = common::emulator();
        emulator.faults().drop_after_frames(1000);
        let cfg = common::config_for(&emulator).max_queued_events(100_000);
        let client = Client::connect(cfg).unwrap();
        let threads = ["alpha", "beta"];
        let mut sent: HashMap<&str, Vec<TraceId>> = HashMap::new();
        for i in 0..10_000 {
            let thread = threads[i % 2];
            let trace = client
                .send(Message::text(format!("m{i}")).thread(thread))
                .unwrap();
            sent.entry(thread).or_default().push(trace);
        }
        client
            .flush(Duration::from_secs(90))
            .expect("everything acknowledged");
        let mut acked = HashSet::new();
        let mut duplicates = 0;
        let mut disconnects = 0;
        let mut first_ack_order: HashMap<String, Vec<TraceId>> = HashMap::new();
        while let Some(event) = client.try_recv().unwrap() {
            match event {
                Event::Delivered(d) => {
                    let trace = d.trace_id.unwrap();
                    if acked.insert(trace) {
                        first_ack_order
                            .entry(d.thread_id.unwrap())
                            .or_default()
                            .push(trace);
                    } else {
                        duplicates += 1;
                    }
                }
                Event::Disconnected { .. } => disconnects += 1,
                Event::NotDelivered { .. } | Event::Closed { .. } => panic!("{event:?}"),
                _ => {}
            }
        }
        println!(
            "acknowledged {} distinct, {duplicates} duplicates, {disconnects} reconnects",
            acked.len()
        );
        assert_eq!(acked.len(), 10_000, "every traceId acknowledged");
        assert!(
            disconnects >= 9,
            "the emulator dropped the connection {disconnects} times"
        );
        for thread in threads {
            assert_eq!(
                first_ack_order[thread], sent[thread],
                "acknowledged in send order in {thread}"
            );
        }
        // Acks lost with a dropped connection make the client re-send messages the server
        // already had: at-least-once means the server sees those twice.
        let server_duplicates = emulator.stats().messages - 10_000;
        println!("the server received {server_duplicates} re-sent duplicates");
        assert!(emulator.stats().messages >= 10_000);
    });
}
