//! `close()` during every phase of a reconnect (issue 9, items 4 and 7): a connected client
//! whose connection is dropped reconnects into a phase the relay stalls, resets, closes or
//! drip-feeds (see `common/relay.rs`); `close()` called while it is there must return within
//! 50 ms with every thread the client started joined.
//!
//! Threads are told apart by name (`flowai-*`, not the emulator's `flowai-emu-*`) in
//! `/proc/self/task`, so the cells run one after another in this binary of their own, and each
//! compares against the client threads that existed before it connected: no other client can
//! add threads meanwhile, and a thread left behind by an earlier cell is not blamed on a later
//! one.

mod common;

use common::matrix::{self, deliver, error_name, Fixture, Outcome};
use common::relay::{Fault, Phase};
use common::servers;
use flowai_socket::{Client, Message};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The most `close()` may take.
const CLOSE_LIMIT: Duration = Duration::from_millis(50);

#[test]
fn close_in_every_phase_is_prompt_and_joins_every_thread() {
    if matrix::pki().is_none() {
        return;
    }
    matrix::record_client_panics();
    common::fail_after(Duration::from_secs(120), || {
        let started = Instant::now();
        let results: Vec<_> = matrix::cells()
            .into_iter()
            .map(|(p, f)| (p, f, close_cell(p, f)))
            .collect();
        matrix::report("close() during the phase", started, &results);
    });
}

/// The client threads of this process now: thread id → name.
fn client_threads() -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let name = comm.trim();
        if name.starts_with("flowai-") && !name.starts_with("flowai-emu") {
            out.insert(tid, name.to_string());
        }
    }
    out
}

/// The client threads now that were not there in `before`.
fn new_threads(before: &BTreeMap<u32, String>) -> BTreeMap<u32, String> {
    let mut now = client_threads();
    now.retain(|tid, _| !before.contains_key(tid));
    now
}

fn close_cell(phase: Phase, fault: Fault) -> Outcome {
    let fx = Fixture::new();
    let before = client_threads();
    let client = match Client::connect(fx.config()) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(format!("setup: connect failed: {}", error_name(&e))),
    };
    // After a round trip every thread of the client has started and named itself.
    if let Err(e) = deliver(&client, "before", Duration::from_secs(2)) {
        return Outcome::fail(format!("setup: {}", error_name(&e)));
    }
    let started = new_threads(&before).len();
    fx.relay.set_fault(phase, fault);
    fx.relay.drop_connections();
    // Mid-stream, the fault strikes at the acknowledgement of this message.
    let _ = client.send(Message::text("queued"));
    if !fx.relay.wait_hits(phase, 1, Duration::from_secs(3)) {
        return Outcome::fail("setup: the client never reached the phase");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let closing = std::thread::spawn(move || {
        let t0 = Instant::now();
        let result = client.close();
        let _ = tx.send(t0.elapsed());
        drop(client);
        result
    });
    let Ok(took) = rx.recv_timeout(Duration::from_secs(3)) else {
        return Outcome::fail("close() did not return within 3 s");
    };
    if let Ok(Err(e)) = closing.join() {
        return Outcome::fail(format!("close() failed: {}", error_name(&e)));
    }
    servers::reaped(|| new_threads(&before).is_empty());
    let left = new_threads(&before);
    let ms = format!("{:.1} ms", took.as_secs_f64() * 1e3);
    if !left.is_empty() {
        let names: Vec<_> = left.values().cloned().collect();
        return Outcome::fail(format!("{ms}, still running: {}", names.join(", ")));
    }
    Outcome::check(
        took <= CLOSE_LIMIT,
        format!("{ms}, {started} threads joined"),
    )
}
