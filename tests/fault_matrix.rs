//! The fault matrix (issue 9, item 7): a TLS relay in front of the emulator stalls, resets,
//! closes or drip-feeds each phase of a connection (see `common/relay.rs`), and for every
//! phase × fault:
//! - a first connect fails with a retryable error within the connect timeout + 1 s, never a
//!   panic (mid-stream, after a successful connect: the loss is noticed within that time);
//! - a connected client that then meets the fault keeps retrying (`Reconnecting` events) and,
//!   once the fault is cleared, delivers every message queued meanwhile (duplicates counted).
//!
//! All cells of a test run at once, each with its own emulator and relay; each test prints its
//! table (phase × fault → outcome and time) for docs/fault-matrix.md. `close()` during each
//! phase is in `fault_close.rs` (it counts the process's threads, so it runs alone).
//!
//! A test binary of its own: the TLS relays' test CA is trusted through `SSL_CERT_FILE`, which
//! it sets for the whole process (`common/matrix.rs`), so no other TLS test may share it.

mod common;

use common::matrix::{self, deliver, error_name, secs, Fixture, Outcome, CONNECT_TIMEOUT};
use common::relay::{Fault, Phase};
use flowai_socket::{Client, Event};
use std::time::{Duration, Instant};

/// Messages queued while the fault is on.
const QUEUED: usize = 3;
/// How long a cell waits for two faulted attempts and two `Reconnecting` events.
const RETRY_WINDOW: Duration = Duration::from_secs(6);
/// How long after the fault is cleared every queued message must be acknowledged: a stalled
/// attempt may run out its connect timeout first.
const RECOVERY: Duration = Duration::from_secs(5);

/// Runs every cell of `cell` under the watchdog and reports the table.
fn run_matrix(title: &'static str, cell: fn(Phase, Fault) -> Outcome) {
    if matrix::pki().is_none() {
        return;
    }
    matrix::record_client_panics();
    common::fail_after(Duration::from_secs(90), move || {
        let started = Instant::now();
        let results = matrix::run_parallel(cell);
        matrix::report(title, started, &results);
    });
}

#[test]
fn first_connect_fails_retryably_in_every_phase() {
    run_matrix("first connect: error, time to error", first_connect_cell);
}

#[test]
fn reconnect_survives_every_phase_and_delivers_everything() {
    run_matrix(
        "reconnect: retries, then delivery after the fault is cleared",
        reconnect_cell,
    );
}

/// `Client::connect` through a relay that has the fault on from the start.
fn first_connect_cell(phase: Phase, fault: Fault) -> Outcome {
    let fx = Fixture::new();
    fx.relay.set_fault(phase, fault);
    let cfg = fx.config();
    let limit = CONNECT_TIMEOUT + Duration::from_secs(1);
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let connecting = std::thread::spawn(move || {
        let _ = tx.send(Client::connect(cfg));
    });
    let result = match rx.recv_timeout(limit + Duration::from_secs(2)) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            // Dropping the fixture ends the relay's connections, which frees the thread.
            return Outcome::fail(format!("hang: no answer in {}", secs(started.elapsed())));
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            let panic = connecting.join().err().map(|p| panic_text(&*p));
            return Outcome::fail(format!("panic \"{}\"", panic.unwrap_or_default()));
        }
    };
    let took = started.elapsed();
    match result {
        Err(e) if e.is_final() => Outcome::fail(format!("final {} {}", error_name(&e), secs(took))),
        Err(e) if took > limit => Outcome::fail(format!("late {} {}", error_name(&e), secs(took))),
        Err(e) => Outcome::pass(format!("{} {}", matrix::variant(&e), secs(took))),
        Ok(client) if phase == Phase::MidStream => lost_after_connect(&client, started, limit),
        Ok(_) => Outcome::fail(format!("connected despite the fault ({})", secs(took))),
    }
}

/// Mid-stream there is nothing left of the first connect to fail: the client is connected
/// and must notice the fault (`Disconnected`, then `Reconnecting`) within `limit`.
fn lost_after_connect(client: &Client, started: Instant, limit: Duration) -> Outcome {
    // The fault strikes at the server's first frame: the acknowledgement of this one.
    if let Err(e) = client.send(flowai_socket::Message::text("first")) {
        return Outcome::fail(format!("send failed: {}", error_name(&e)));
    }
    let mut lost = None;
    while started.elapsed() < limit + Duration::from_secs(2) {
        match client.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(Event::Disconnected { .. })) => lost = Some(started.elapsed()),
            Ok(Some(Event::Reconnecting { .. })) if lost.is_some() => {
                let took = lost.unwrap_or_default();
                return Outcome::check(
                    took <= limit,
                    format!("connected, loss seen {}", secs(took)),
                );
            }
            Ok(Some(Event::Closed { reason })) => {
                return Outcome::fail(format!("Closed: {reason}"));
            }
            Ok(_) => {}
            Err(e) => return Outcome::fail(format!("recv failed: {}", error_name(&e))),
        }
    }
    Outcome::fail(format!(
        "connected, loss not seen in {}",
        secs(started.elapsed())
    ))
}

/// What a client reported while it met the fault.
#[derive(Default)]
struct Seen {
    reconnecting: u32,
    closed: Option<String>,
}

impl Seen {
    fn take(&mut self, event: Event) {
        match event {
            Event::Reconnecting { .. } => self.reconnecting += 1,
            Event::Closed { reason } => self.closed = Some(reason),
            _ => {}
        }
    }
}

/// A connected client whose connection then goes through the faulty phase.
fn reconnect_cell(phase: Phase, fault: Fault) -> Outcome {
    let fx = Fixture::new();
    let client = match Client::connect(fx.config()) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(format!("setup: connect failed: {}", error_name(&e))),
    };
    if let Err(e) = deliver(&client, "before", Duration::from_secs(2)) {
        return Outcome::fail(format!("setup: {}", error_name(&e)));
    }
    fx.relay.set_fault(phase, fault);
    fx.relay.drop_connections();
    let speeches: Vec<String> = (0..QUEUED).map(|i| format!("queued {i}")).collect();
    let mut traces = Vec::new();
    for s in &speeches {
        match client.send(flowai_socket::Message::text(s.as_str())) {
            Ok(t) => traces.push(t),
            Err(e) => return Outcome::fail(format!("send refused: {}", error_name(&e))),
        }
    }
    let faulted = Instant::now();
    let mut seen = Seen::default();
    while faulted.elapsed() < RETRY_WINDOW && seen.closed.is_none() {
        if fx.relay.hits(phase) >= 2 && seen.reconnecting >= 2 {
            break;
        }
        match client.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(e)) => seen.take(e),
            Ok(None) => {}
            Err(e) => seen.closed = Some(error_name(&e)),
        }
    }
    if let Some(reason) = seen.closed {
        return Outcome::fail(format!("Closed: {reason}"));
    }
    let hits = fx.relay.hits(phase);
    if hits < 2 || seen.reconnecting < 2 {
        return Outcome::fail(format!(
            "stuck: {hits} faulted attempts, {} Reconnecting in {}",
            seen.reconnecting,
            secs(faulted.elapsed())
        ));
    }
    fx.relay.clear_fault();
    let cleared = Instant::now();
    for (trace, speech) in traces.iter().zip(&speeches) {
        let left = RECOVERY.saturating_sub(cleared.elapsed());
        if let Err(e) = client.wait_delivered(*trace, left) {
            return Outcome::fail(format!(
                "{speech:?} not delivered {} after the fault cleared: {}",
                secs(RECOVERY),
                error_name(&e)
            ));
        }
    }
    let recovered = cleared.elapsed();
    let duplicates = fx.duplicates(&speeches);
    if duplicates > 0 {
        println!(
            "{} × {}: {duplicates} duplicate(s) of {QUEUED} queued messages",
            phase.name(),
            fault.name()
        );
    }
    Outcome::pass(format!(
        "{} retries, all in {} after clear, {duplicates} dup",
        seen.reconnecting,
        secs(recovered)
    ))
}

/// The message of a panic payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
