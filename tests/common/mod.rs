//! Helpers shared by the integration tests: a time limit so a hang fails instead of blocking
//! CI, an emulator per test, a config pointing at it, and event waiting.
//!
//! `limit.rs` and `pki.rs` use neither the client nor the emulator, so the emulator's own tests
//! (`emulator/tests/`) include them too; the CLI's tests include this whole module.
#![allow(dead_code)]

pub mod limit;
pub mod matrix;
pub mod pki;
pub mod proxy;
pub mod relay;
pub mod scripted;
pub mod servers;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // a few test binaries have no use for it
pub use limit::fail_after;

/// An emulator with default settings on a free port.
pub fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default()).expect("emulator starts")
}

/// A config for the emulator with short, test-friendly timeouts and fast reconnects.
pub fn config_for(emulator: &Emulator) -> Config {
    Config::new("test-client")
        .base_url(emulator.base_url())
        .thread_id("test.thread")
        .connect_timeout(Duration::from_secs(5))
        .backoff(flowai_socket::Backoff {
            min: Duration::from_millis(10),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
}

/// Receives events until `pred` matches one (returned) or `limit` passes (panics), returning
/// the events skipped on the way too.
pub fn wait_event(
    client: &Client,
    limit: Duration,
    pred: impl Fn(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.recv_timeout(left).expect("recv") {
            Some(e) if pred(&e) => return (e, seen),
            Some(e) => seen.push(e),
            None => panic!("no matching event within {limit:?}; saw {seen:#?}"),
        }
    }
}

/// The speeches of the `message.send` frames the emulator recorded for a thread, in order.
pub fn sent_speeches(emulator: &Emulator, thread_id: &str) -> Vec<String> {
    emulator
        .history(thread_id)
        .iter()
        .filter(|e| e["type"] == "message.send")
        .map(|e| {
            e["payload"]["speech"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Sends `count` messages keeping at most `window` unacknowledged, waiting for each
/// acknowledgement with `wait_delivered` only (never `recv`); `after` runs after each send
/// with the number sent so far. Panics naming the message whose acknowledgement did not come.
pub fn send_windowed(client: &Client, count: usize, window: usize, mut after: impl FnMut(usize)) {
    let wait = |trace, i: usize| {
        client
            .wait_delivered(trace, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("message {i} of {count}: {e}"));
    };
    let mut in_flight = std::collections::VecDeque::new();
    for i in 0..count {
        if in_flight.len() == window {
            if let Some((n, trace)) = in_flight.pop_front() {
                wait(trace, n);
            }
        }
        let trace = client
            .send(flowai_socket::Message::text(format!("m{i}")))
            .expect("send");
        in_flight.push_back((i, trace));
        after(i + 1);
    }
    for (n, trace) in in_flight {
        wait(trace, n);
    }
}

/// This process's resident set size now and at its peak (`VmRSS`, `VmHWM`), in KiB.
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
