//! Helpers shared by the integration tests: a watchdog so a hang fails instead of blocking CI,
//! an emulator per test, a config pointing at it, and event waiting.
#![allow(dead_code)]

pub mod matrix;
pub mod pki;
pub mod proxy;
pub mod relay;
pub mod scripted;
pub mod servers;

use flowai_socket::emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event};
use std::time::{Duration, Instant};

/// Runs `body` on its own thread and panics if it has not finished within `limit`.
pub fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
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
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: test still running after {limit:?}")
        }
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

/// A self-signed certificate and PKCS#8 key for `localhost`, made with the `openssl` command.
/// Returns `None` (after saying so) when `openssl` is missing, except under CI where that fails.
pub fn localhost_certificate() -> Option<(String, String)> {
    if !pki::have_openssl() {
        return None;
    }
    let pem = pki::self_signed(
        "/CN=localhost",
        &["subjectAltName=DNS:localhost,IP:127.0.0.1"],
    );
    Some((pem.cert, pem.key))
}

/// The `flowai` command-line binary (feature `cli`), built once per test process.
///
/// Under `cargo test --features cli` cargo has built it; under plain `cargo test` it is built
/// here with `cargo build --features cli --bin flowai` (same target directory) and found from
/// cargo's JSON messages. `CARGO_BIN_EXE_flowai` is set even when the bin was not built
/// (its required feature is off), so it is trusted only with the feature on.
pub fn flowai_binary() -> &'static std::path::Path {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        if let (true, Some(path)) = (cfg!(feature = "cli"), option_env!("CARGO_BIN_EXE_flowai")) {
            return path.into();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--features",
                "cli",
                "--bin",
                "flowai",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo to build the flowai binary");
        assert!(output.status.success(), "building flowai failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "flowai")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no flowai executable")
    })
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
