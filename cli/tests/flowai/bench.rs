//! `flowai bench` end to end through the CLI: a small pipelined run under the emulator's
//! drop fault (every message must be delivered, through the outbox) and a tiny scale run.
//! Only the report's shape and the delivery counts are checked, never timings.

use crate::common;

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowai"))
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

/// `flowai bench` against an emulator started here (a "real server" to the CLI).
fn bench_against(emulator: &flowai_emulator::Emulator, args: &[&str]) -> Value {
    let url = emulator.base_url();
    let mut all = vec!["--base-url", url.as_str(), "--client-id", "bench-client"];
    all.extend_from_slice(args);
    bench(&all)
}

/// Asserts that `phase` failed: `<phase>_error` says why and `fields` are null.
fn assert_failed(report: &Value, phase: &str, fields: &[&str]) {
    let error = &report[format!("{phase}_error")];
    assert!(
        error.as_str().is_some_and(|e| !e.is_empty()),
        "`{phase}_error` should say why the phase failed: {report}"
    );
    for field in fields {
        assert!(
            report.get(*field).is_some_and(Value::is_null),
            "`{field}` of the failed {phase} phase should be null: {report}"
        );
    }
}

/// Asserts that each of `phases` succeeded (`<phase>_error` present and null).
fn assert_succeeded(report: &Value, phases: &[&str]) {
    for phase in phases {
        assert!(
            report
                .get(format!("{phase}_error"))
                .is_some_and(Value::is_null),
            "the {phase} phase should have succeeded: {report}"
        );
    }
}

const RAW_FIELDS: &[&str] = &[
    "raw_delivered",
    "raw_msgs_per_sec",
    "raw_rtt_p50_us",
    "raw_rtt_p99_us",
    "raw_cpu_us_per_msg",
    "raw_emulator_busy_pct",
    "lib_raw_ratio",
];

#[test]
fn a_failed_raw_baseline_is_reported_and_the_run_completes() {
    common::fail_after(WATCHDOG, || {
        // A server that drops every connection after 300 frames: the raw loop has no
        // reconnect and breaks; the library delivers everything through its outbox.
        let emulator = common::emulator();
        emulator.faults().drop_after_frames(300);
        let report = bench_against(
            &emulator,
            &[
                "--messages",
                "1000",
                "--window",
                "200",
                "--connects",
                "3",
                "--round-trips",
                "50",
                "--idle-secs",
                "0.2",
            ],
        );
        assert_failed(&report, "raw", RAW_FIELDS);
        assert_succeeded(&report, &["connect", "round_trip", "throughput", "idle"]);
        assert_fields(&report);
        assert_eq!(
            report["delivered"], 1000,
            "every traceId acknowledged: {report}"
        );
        assert!(report["msgs_per_sec"].is_number(), "{report}");
    });
}

#[test]
fn every_failed_phase_is_reported_and_the_run_completes() {
    common::fail_after(WATCHDOG, || {
        // socket.info refused (403, final): every phase fails at once.
        let emulator = common::emulator();
        emulator.faults().refuse_socket_info(403, u32::MAX);
        let tiny = [
            "--messages",
            "100",
            "--connects",
            "2",
            "--round-trips",
            "10",
        ];
        let single = bench_against(&emulator, &[&tiny[..], &["--idle-secs", "0.1"]].concat());
        assert_eq!(single["mode"], "single");
        assert_failed(
            &single,
            "connect",
            &["connects", "connect_ms_median", "close_ms"],
        );
        assert_failed(
            &single,
            "round_trip",
            &["rtt_samples", "rtt_p50_us", "rtt_p99_us"],
        );
        assert_failed(&single, "raw", RAW_FIELDS);
        assert_failed(
            &single,
            "throughput",
            &[
                "delivered",
                "msgs_per_sec",
                "fault_free_msgs_per_sec",
                "threads",
            ],
        );
        assert_failed(&single, "idle", &["idle_cpu_pct", "idle_wakeups"]);
        assert_eq!(
            single["messages"], 100,
            "settings are still reported: {single}"
        );
        assert!(single["cpu_s"].is_number(), "{single}");

        let scale = bench_against(&emulator, &[&tiny[..], &["--clients", "3"]].concat());
        assert_eq!(scale["mode"], "scale");
        assert_eq!(scale["clients"], 3);
        assert_failed(
            &scale,
            "scale",
            &[
                "connect_all_ms",
                "delivered",
                "rss_per_client_kib",
                "close_all_ms",
            ],
        );
    });
}
