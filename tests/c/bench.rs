//! Measurements (ignored by default; run in release):
//!
//! ```text
//! cargo test --release --test c -- --ignored bench:: --nocapture
//! ```
//!
//! The C path (`examples-c/bench.c` linked to the release library) against the Rust path
//! (the same loops on `Client` in this process), on one no-reply emulator: pipelined
//! throughput (window of 1000 unacknowledged) and the p50 of send → wait_delivered. Then
//! `examples-c/soak.c`: connect / 1000 sends / close, 100 times, RSS and thread count.

use crate::support::*;
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Message, Originator};
use std::process::Command;
use std::time::{Duration, Instant};

const MESSAGES: usize = 20_000;
const WINDOW: usize = 1000;
const ROUND_TRIPS: usize = 2000;
const RUNS: usize = 9;

fn rust_path(base_url: &str) -> (f64, f64) {
    let config = Config::new("bench")
        .base_url(base_url)
        .thread_id("bench")
        .max_outbox(WINDOW + 16);
    let client = Client::connect(config).expect("connect");
    let message = Message::text("Hi there!").originator(Originator::new("Anonymous"));
    let pipelined = |n: usize| {
        let (mut sent, mut acked) = (0, 0);
        let start = Instant::now();
        while acked < n {
            while sent < n && sent - acked < WINDOW {
                client.send(message.clone()).expect("send");
                sent += 1;
            }
            match client.recv_timeout(Duration::from_secs(10)).expect("recv") {
                Some(Event::Delivered(_)) => acked += 1,
                Some(_) => {}
                None => panic!("no ack within 10 s"),
            }
        }
        start.elapsed().as_secs_f64()
    };
    pipelined(MESSAGES / 10 + 1);
    let secs = pipelined(MESSAGES);
    let mut rtt = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t0 = Instant::now();
        let trace = client.send(message.clone()).expect("send");
        client
            .wait_delivered(trace, Duration::from_secs(10))
            .expect("delivered");
        rtt.push(t0.elapsed().as_secs_f64() * 1e6);
        let _ = client.try_recv();
    }
    rtt.sort_by(f64::total_cmp);
    client.close().expect("close");
    (MESSAGES as f64 / secs, rtt[ROUND_TRIPS / 2])
}

fn c_path(exe: &std::path::Path, base_url: &str) -> (f64, f64) {
    let mut cmd = Command::new(exe);
    cmd.env("FLOWAI_BASE_URL", base_url)
        .env("FLOWAI_CLIENT_ID", "bench")
        .env("FLOWAI_BENCH_MESSAGES", MESSAGES.to_string())
        .env("FLOWAI_BENCH_WINDOW", WINDOW.to_string())
        .env("FLOWAI_BENCH_ROUND_TRIPS", ROUND_TRIPS.to_string());
    let out = expect_success("bench.c", &run_with_deadline(cmd, Duration::from_secs(300)));
    let number_after = |key: &str| -> f64 {
        let at = out.find(key).unwrap_or_else(|| panic!("{key} in {out}")) + key.len();
        out[at..]
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("number after {key} in {out}"))
    };
    (number_after("s = "), number_after("p50 "))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn c_path_against_rust_path_and_soak() {
    let _timer = exit_after(Duration::from_secs(1800), "c_bench");
    let dir = scratch("c-bench");
    let lib = copy_libraries(&dir);
    let bench = compile_c("bench", &lib, &dir, Link::Shared);
    let emulator = Emulator::start(EmulatorConfig::default().reply(false)).expect("emulator");
    let base = emulator.base_url();
    let (mut c_tp, mut c_p50, mut r_tp, mut r_p50) = (vec![], vec![], vec![], vec![]);
    for run in 1..=RUNS {
        let (tp, p50) = c_path(&bench, &base);
        println!("run {run}: C    {tp:>8.0} msg/s  p50 {p50:>6.1} us");
        c_tp.push(tp);
        c_p50.push(p50);
        let (tp, p50) = rust_path(&base);
        println!("run {run}: Rust {tp:>8.0} msg/s  p50 {p50:>6.1} us");
        r_tp.push(tp);
        r_p50.push(p50);
    }
    let best = |v: &[f64], low: bool| {
        v.iter()
            .copied()
            .reduce(|a, b| if (b < a) == low { b } else { a })
            .unwrap()
    };
    let (bct, brt) = (best(&c_tp, false), best(&r_tp, false));
    let (bcp, brp) = (best(&c_p50, true), best(&r_p50, true));
    let (ct, rt) = (median(c_tp), median(r_tp));
    let (cp, rp) = (median(c_p50), median(r_p50));
    println!(
        "median of {RUNS}: throughput C {ct:.0} msg/s vs Rust {rt:.0} msg/s ({:+.1}%); \
         p50 round trip C {cp:.1} us vs Rust {rp:.1} us ({:+.1} us)",
        (ct / rt - 1.0) * 100.0,
        cp - rp
    );
    println!(
        "best of {RUNS}: throughput C {bct:.0} msg/s vs Rust {brt:.0} msg/s ({:+.1}%); \
         p50 round trip C {bcp:.1} us vs Rust {brp:.1} us ({:+.1} us)",
        (bct / brt - 1.0) * 100.0,
        bcp - brp
    );
    emulator.stop();

    let soak = compile_c("soak", &lib, &dir, Link::Shared);
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let mut cmd = Command::new(&soak);
    cmd.env("FLOWAI_BASE_URL", emulator.base_url())
        .env("FLOWAI_CLIENT_ID", "soak");
    let out = run_with_deadline(cmd, Duration::from_secs(1200));
    println!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    emulator.stop();
    assert!(out.status.success(), "soak failed");
}
