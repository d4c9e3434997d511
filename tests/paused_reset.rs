//! A connection reset while reading is paused (the event queue is full and the user does not
//! take events) must not spin: the I/O thread sleeps until events are taken, then reports
//! what it had read and the lost connection.

mod common;

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
fn a_reset_while_paused_costs_no_cpu_and_loses_no_event() {
    common::watchdog(Duration::from_secs(30), || {
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
            "paused I/O thread used {used:?} of CPU in 1 s"
        );
        // The reset makes the kernel discard what the client had not read yet; what was read
        // is handed over in order, then the loss of the connection.
        let mut typing = Vec::new();
        let mut disconnected = false;
        while let Some(event) = client.recv_timeout(Duration::from_secs(2)).unwrap() {
            match event {
                Event::AgentTyping(p) => typing.push(p["n"].as_u64().unwrap()),
                Event::Disconnected { .. } => disconnected = true,
                Event::Closed { .. } => break,
                _ => {}
            }
        }
        assert!(typing.len() >= 5, "the queued events are kept: {typing:?}");
        assert_eq!(
            typing,
            (0..typing.len() as u64).collect::<Vec<_>>(),
            "in order"
        );
        assert!(disconnected, "the reset is reported once reading resumes");
    });
}
