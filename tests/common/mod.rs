//! Helpers shared by the integration tests: a watchdog so a hang fails instead of blocking CI,
//! an emulator per test, a config pointing at it, and event waiting.
#![allow(dead_code)]

pub mod scripted;

use flowai_socket::emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event};
use std::time::{Duration, Instant};

/// Runs `body` on its own thread and panics if it has not finished within `limit`.
pub fn watchdog<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => handle.join().expect("test body panicked"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: test still running after {limit:?}"),
    }
}

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
pub fn wait_event(client: &Client, limit: Duration, pred: impl Fn(&Event) -> bool) -> (Event, Vec<Event>) {
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
