//! A connection reset while the event queue is full and the user does not take events must
//! not spin: the I/O thread reads on (counting what the queue cannot hold), sees the reset at
//! once, and the user finds the events in order, the count of the rest, and the end.

use crate::common;

use common::scripted::{Scripted, Step};
use flowai_socket::{Client, Config, Event};
use std::time::Duration;

fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
fn a_reset_while_the_queue_is_full_costs_no_cpu_and_is_reported_in_order() {
    common::fail_after(Duration::from_secs(30), || {
        let frames: Vec<Step> = (0..20)
            .map(|i| {
                Step::Text(format!(
                    r#"{{"type":"agent.typing","payload":{{"n":{i}}}}}"#
                ))
            })
            .chain([Step::Reset])
            .collect();
        let server = Scripted::start(vec![frames]);
        let cfg = Config::new("c")
            .base_url(&server.base_url)
            .thread_id("t")
            .keepalive_interval(None)
            .reconnect(false)
            .max_queued_events(5);
        let client = Client::connect(cfg).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let before = process_cpu();
        std::thread::sleep(Duration::from_secs(1));
        let used = process_cpu() - before;
        assert!(
            used < Duration::from_millis(200),
            "the client used {used:?} of CPU in 1 s with nobody taking events"
        );
        // The reset makes the kernel discard what the client had not read yet; what was read
        // is handed over in order, then the count of what did not fit, then the end.
        let mut typing = Vec::new();
        let mut dropped = 0;
        let mut last = None;
        while let Some(event) = client.recv_timeout(Duration::from_secs(2)).unwrap() {
            match &event {
                Event::AgentTyping(p) => {
                    assert_eq!(dropped, 0, "no event after the overflow report but the end");
                    typing.push(p["n"].as_u64().unwrap());
                }
                Event::Overflow { dropped: n } => dropped += n,
                _ => {}
            }
            if let Event::Closed { .. } = event {
                last = Some(event);
                break;
            }
        }
        assert!(
            matches!(last, Some(Event::Closed { .. })),
            "the end is reported"
        );
        assert!(!typing.is_empty() && typing.len() <= 5, "{typing:?}");
        assert_eq!(
            typing,
            (0..typing.len() as u64).collect::<Vec<_>>(),
            "in order"
        );
        assert!(client.recv_timeout(Duration::from_millis(10)).is_err());
    });
}
