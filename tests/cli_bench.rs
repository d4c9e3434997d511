//! `flowai bench` end to end through the CLI: a small pipelined run under the emulator's
//! drop fault (every message must be delivered, through the outbox) and a tiny scale run.
//! Only the report's shape and the delivery counts are checked, never timings.
//!
//! Under `cargo test --features cli` the binary cargo built is used; under plain `cargo test`
//! it is built first with `cargo build --features cli` (same target directory).

mod common;

use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a bench run may take before the test fails as a hang.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Fields every report carries.
const FIELDS: &[&str] = &[
    "messages",
    "delivered",
    "duplicates",
    "msgs_per_sec",
    "rtt_p50_us",
    "rtt_p99_us",
    "connect_ms_median",
    "close_ms",
    "peak_rss_kib",
    "threads",
    "cpu_s",
];

/// Runs `flowai bench ARGS --json` under the watchdog; returns the last stdout line as JSON.
fn bench(args: &[&str]) -> Value {
    let mut child = Command::new(common::flowai_binary())
        .arg("bench")
        .args(args)
        .arg("--json")
        .env_remove("FLOWAI_CLIENT_ID")
        .env_remove("FLOWAI_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowai starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flowai bench {args:?} did not finish within {WATCHDOG:?} (hang?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().expect("reader thread");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.success(),
        "flowai bench {args:?} failed: {status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last:?}"))
}

fn assert_fields(report: &Value) {
    for field in FIELDS {
        assert!(
            report.get(field).is_some(),
            "report lacks `{field}`: {report}"
        );
    }
    for field in [
        "messages",
        "delivered",
        "duplicates",
        "peak_rss_kib",
        "threads",
    ] {
        assert!(report[field].is_u64(), "`{field}` is not a count: {report}");
    }
}

#[test]
fn pipelined_run_under_drops_delivers_every_message() {
    let report = bench(&[
        "--messages",
        "2000",
        "--window",
        "500",
        "--drop-every",
        "500",
        "--connects",
        "5",
        "--round-trips",
        "100",
        "--idle-secs",
        "0.2",
    ]);
    assert_fields(&report);
    assert_eq!(report["mode"], "single");
    assert_eq!(report["messages"], 2000);
    assert_eq!(
        report["delivered"], 2000,
        "every traceId acknowledged: {report}"
    );
    assert!(
        report["disconnects"].as_u64().unwrap_or(0) >= 3,
        "the drop fault fired: {report}"
    );
    assert_eq!(
        report["raw_delivered"], 2000,
        "raw baseline complete: {report}"
    );
    for field in [
        "raw_msgs_per_sec",
        "lib_raw_ratio",
        "fault_ratio",
        "rtt_max_us",
        "idle_cpu_pct",
    ] {
        assert!(report[field].is_number(), "`{field}` missing: {report}");
    }
    assert!(
        report["client_threads"].as_u64().unwrap_or(0) >= 1,
        "client threads counted: {report}"
    );
}

#[test]
fn tiny_scale_run_connects_and_delivers_from_every_client() {
    let report = bench(&[
        "--clients",
        "20",
        "--messages",
        "200",
        "--round-trips",
        "50",
        "--idle-secs",
        "0.2",
    ]);
    assert_fields(&report);
    assert_eq!(report["mode"], "scale");
    assert_eq!(report["clients"], 20);
    assert_eq!(report["messages"], 200);
    assert_eq!(
        report["delivered"], 200,
        "every traceId acknowledged: {report}"
    );
    assert!(
        report["client_threads"].as_u64().unwrap_or(0) >= 20,
        "threads of every client: {report}"
    );
    for field in [
        "connect_all_ms",
        "rss_per_client_kib",
        "idle_cpu_pct",
        "close_all_ms",
    ] {
        assert!(report[field].is_number(), "`{field}` missing: {report}");
    }
}
