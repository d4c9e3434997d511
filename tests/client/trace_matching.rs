//! Many sends in flight: every traceId is acknowledged exactly once and matched; assigned
//! traceIds are unique and increasing; a caller's own traceId is kept.

use crate::common;

use flowai_socket::{Client, Event, Message, TraceId};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn many_sends_in_flight_from_several_threads_are_all_matched() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = common::emulator();
        let client = Arc::new(Client::connect(common::config_for(&emulator)).unwrap());
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let client = client.clone();
                std::thread::spawn(move || {
                    (0..250)
                        .map(|i| client.send(Message::text(format!("t{t} m{i}"))).unwrap())
                        .collect::<Vec<TraceId>>()
                })
            })
            .collect();
        let mut sent = Vec::new();
        for s in senders {
            let traces = s.join().unwrap();
            assert!(
                traces.windows(2).all(|w| w[0] < w[1]),
                "increasing within a thread"
            );
            sent.extend(traces);
        }
        let unique: HashSet<TraceId> = sent.iter().copied().collect();
        assert_eq!(unique.len(), 1000, "assigned traceIds are unique");
        for trace in &sent {
            client
                .wait_delivered(*trace, Duration::from_secs(20))
                .unwrap();
        }
        let mut acked = HashSet::new();
        while let Some(event) = client.try_recv().unwrap() {
            if let Event::Delivered(d) = event {
                assert!(
                    acked.insert(d.trace_id.expect("ack has a traceId")),
                    "acked once"
                );
            }
        }
        assert_eq!(acked, unique);
        assert_eq!(client.pending(), 0);
    });
}

#[test]
fn the_callers_own_trace_id_is_kept_and_echoed() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        let trace = client
            .send(Message::text("mine").trace(1111111111111))
            .unwrap();
        assert_eq!(trace, TraceId(1111111111111));
        let (event, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Delivered(_))
        });
        let Event::Delivered(d) = event else {
            unreachable!()
        };
        assert_eq!(d.trace_id, Some(trace));
        assert_eq!(d.payload()["speech"], "mine");
        assert_eq!(d.payload()["threadId"], "test.thread");
        assert_eq!(
            d.payload()["originator"]["name"],
            "Anonymous",
            "default originator filled in"
        );
        // The same traceId while the first is in flight is refused, not silently merged.
        emulator.faults().ack_delay(Duration::from_millis(500));
        client.send(Message::text("again").trace(5)).unwrap();
        let dup = client.send(Message::text("dup").trace(5));
        assert!(
            matches!(dup, Err(flowai_socket::Error::InvalidArgument(_))),
            "{dup:?}"
        );
        client
            .wait_delivered(TraceId(5), Duration::from_secs(5))
            .unwrap();
        client
            .send(Message::text("after ack the id is free").trace(5))
            .unwrap();
    });
}

#[test]
fn trace_ids_above_2_pow_53_are_refused_with_a_clear_error() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        let too_big = TraceId::MAX.0 + 1;
        let refused = client.send(Message::text("x").trace(too_big));
        let Err(flowai_socket::Error::InvalidArgument(why)) = refused else {
            panic!("{refused:?}");
        };
        assert!(
            why.contains("2^53") && why.contains(&too_big.to_string()),
            "{why}"
        );
        let refused = client.send_json(&format!(r#"{{"speech":"x","traceId":{too_big}}}"#));
        assert!(
            matches!(refused, Err(flowai_socket::Error::InvalidArgument(_))),
            "{refused:?}"
        );
        assert_eq!(client.pending(), 0, "nothing was queued");
        let largest = client
            .send(Message::text("x").trace(TraceId::MAX.0))
            .unwrap();
        client
            .wait_delivered(largest, Duration::from_secs(5))
            .unwrap();
    });
}

#[test]
fn automatic_trace_ids_of_clients_started_together_on_one_thread_never_collide() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = Arc::new(common::emulator());
        let start = Arc::new(std::sync::Barrier::new(8));
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (emulator, start) = (emulator.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let client = Client::connect(common::config_for(&emulator)).unwrap();
                    (0..100)
                        .map(|i| client.send(Message::text(format!("m{i}"))).unwrap())
                        .collect::<Vec<TraceId>>()
                })
            })
            .collect();
        let mut all = HashSet::new();
        for c in clients {
            for trace in c.join().unwrap() {
                assert!(trace <= TraceId::MAX, "{trace}");
                assert!(
                    all.insert(trace),
                    "traceId {trace} used twice on one thread"
                );
            }
        }
    });
}

#[test]
fn an_ack_of_the_same_trace_id_in_another_thread_is_not_taken_for_ours() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        emulator.faults().ack_delay(Duration::from_millis(500));
        let client = Client::connect(common::config_for(&emulator)).unwrap();
        let trace = client.send(Message::text("mine").trace(4242)).unwrap();
        let forged = r#"{"type":"message.delivered","payload":{"threadId":"someone.else","traceId":4242,"speech":"theirs"}}"#;
        assert_eq!(emulator.faults().push_frame("test.thread", forged), 1);
        let (event, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Delivered(_))
        });
        assert_eq!(event.thread_id(), Some("someone.else"));
        assert_eq!(
            client.pending(),
            1,
            "still waiting for our own acknowledgement"
        );
        client
            .wait_delivered(trace, Duration::from_secs(5))
            .unwrap();
        let (event, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Delivered(_))
        });
        assert_eq!(event.thread_id(), Some("test.thread"));
    });
}
