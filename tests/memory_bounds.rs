//! Memory stays bounded by the byte budget, measured where nothing else pollutes it: the
//! client runs in a child process (this test binary again, running one `#[ignore]`d test),
//! the emulator in the parent.
//!
//! 1. A flood of 1 MiB frames at a client that takes no events: the child's peak RSS stays
//!    under its RSS before the flood plus `max_queued_bytes` plus a fixed overhead
//!    ([`OVERHEAD_KIB`], the frame being read and copied, allocator slack), and every frame is
//!    accounted for (taken, or counted by `Event::Overflow`).
//! 2. A program that only sends and waits for acknowledgements at `max_queued_events(10)`:
//!    its RSS is flat from a tenth of the run to the end.
//!
//! `FLOWAI_FLOOD_FRAMES` and `FLOWAI_SEND_ONLY_MESSAGES` change the sizes (the figures in the
//! docs come from `FLOWAI_SEND_ONLY_MESSAGES=1000000` on a release build).
//!
//! A test binary of its own: the child is this binary run again for one test, so its RSS is
//! that of a small program and nothing else's; the parent runs only the emulators.

mod common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Message};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: the emulator's base URL.
const CHILD_URL: &str = "FLOWAI_MEMORY_CHILD_URL";
/// The byte budget of the flood run.
const BUDGET: usize = 32 << 20;
/// Peak RSS allowed above the budget and the RSS before the flood, in KiB.
const OVERHEAD_KIB: u64 = 16 << 10;
/// Growth allowed between a tenth of the send-only run and its end, in KiB.
const FLAT_KIB: u64 = 4 << 10;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `key=value` numbers printed by the child.
fn figure(out: &str, key: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("the child printed no {key}:\n{out}"))
}

/// Starts this test binary again, running only the ignored test `name`, talking to
/// `emulator`.
fn child(name: &str, emulator: &Emulator) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, emulator.base_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child")
}

/// Reads the child's stdout until a line equal to `line`; returns everything read.
fn read_until(out: &mut impl BufRead, line: &str) -> String {
    let mut all = String::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            panic!("the child ended before {line:?}:\n{all}");
        }
        all.push_str(&l);
        if l.trim() == line {
            return all;
        }
    }
}

fn child_config(thread: &str) -> Option<Config> {
    let url = std::env::var(CHILD_URL).ok()?;
    println!(); // after the test harness's "test … ..." on the same line
    Some(
        Config::new("memory-child")
            .base_url(url)
            .thread_id(thread)
            .keepalive_interval(None),
    )
}

/// One frame of about 1 MiB that is expensive as a JSON tree: many small numbers.
fn big_frame(n: usize) -> String {
    let numbers: Vec<String> = (0..240_000).map(|i| (i % 1000).to_string()).collect();
    let text = format!(
        r#"{{"type":"message.received","payload":{{"threadId":"flood.thread","n":{n},"messages":[{{"fallback":"big","responses":[{{"type":"numbers","payload":[{}]}}]}}]}}}}"#,
        numbers.join(",")
    );
    assert!(
        text.len() > 900_000 && text.len() < (1 << 20),
        "{}",
        text.len()
    );
    text
}

#[test]
fn a_flood_of_1_mib_frames_stays_within_the_byte_budget() {
    common::fail_after(Duration::from_secs(240), || {
        let frames = env_or("FLOWAI_FLOOD_FRAMES", 60);
        let emulator = Emulator::start(EmulatorConfig::default().reply(false)).unwrap();
        let mut child = child("child_takes_no_events_during_a_flood", &emulator);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut report = read_until(&mut out, "ready");
        let frame = big_frame(0);
        for n in 0..frames {
            let text = frame.replacen("\"n\":0", &format!("\"n\":{n}"), 1);
            assert_eq!(emulator.faults().push_frame("flood.thread", &text), 1);
        }
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{frames}").unwrap();
        report += &read_until(&mut out, "done");
        assert!(child.wait().unwrap().success(), "{report}");
        print!("{report}");
        let before = figure(&report, "rss_before_kib");
        let peak = figure(&report, "peak_rss_kib");
        let limit = before + (BUDGET as u64 >> 10) + OVERHEAD_KIB;
        assert!(
            peak <= limit,
            "peak RSS {peak} KiB over {before} KiB before + {} KiB budget + {OVERHEAD_KIB} KiB",
            BUDGET >> 10
        );
        assert_eq!(figure(&report, "frames_accounted"), frames as u64);
        assert!(
            figure(&report, "frames_dropped") > 0,
            "the budget was reached"
        );
    });
}

#[test]
#[ignore = "the child process of a_flood_of_1_mib_frames_stays_within_the_byte_budget"]
fn child_takes_no_events_during_a_flood() {
    let Some(cfg) = child_config("flood.thread") else {
        return;
    };
    let client = Client::connect(cfg.max_queued_bytes(BUDGET)).unwrap();
    let (rss_before, _) = common::rss_kib();
    println!("rss_before_kib={rss_before}");
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let frames: u64 = line.trim().parse().unwrap();
    // An acknowledgement written after the flood has come back: the flood has been read.
    for step in ["after the flood", "and once more"] {
        let trace = client.send(Message::text(step)).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(60))
            .unwrap();
    }
    let (rss, peak) = common::rss_kib();
    println!("rss_kib={rss}");
    println!("peak_rss_kib={peak}");
    println!("queued_bytes={}", client.queued_bytes());
    println!("queued_events={}", client.queued_events());
    let (mut taken, mut dropped, mut acks) = (0u64, 0u64, 0u64);
    while let Some(event) = client.try_recv().unwrap() {
        match event {
            Event::Reply(_) => taken += 1,
            Event::Overflow { dropped: n } => dropped += n,
            Event::Delivered(_) => acks += 1,
            _ => {}
        }
    }
    // The overflow count also holds the two acknowledgements after the flood, if they did
    // not fit either.
    let dropped_frames = dropped - (2 - acks);
    println!("frames_taken={taken}");
    println!("frames_dropped={dropped_frames}");
    println!("frames_accounted={}", taken + dropped_frames);
    assert_eq!(taken + dropped_frames, frames);
    client.close().unwrap();
    println!("done");
}

#[test]
fn a_send_only_program_keeps_flat_memory() {
    common::fail_after(Duration::from_secs(240), || {
        let emulator = common::emulator();
        let mut child = child("child_sends_only", &emulator);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let report = read_until(&mut out, "done");
        assert!(child.wait().unwrap().success(), "{report}");
        print!("{report}");
        let early = figure(&report, "rss_at_a_tenth_kib");
        let peak = figure(&report, "peak_rss_kib");
        assert!(
            peak <= early + FLAT_KIB,
            "RSS grew from {early} KiB at a tenth of the run to a peak of {peak} KiB"
        );
    });
}

#[test]
#[ignore = "the child process of a_send_only_program_keeps_flat_memory"]
fn child_sends_only() {
    let Some(cfg) = child_config("send.only") else {
        return;
    };
    let messages = env_or("FLOWAI_SEND_ONLY_MESSAGES", 20_000);
    let client = Client::connect(cfg.max_queued_events(10)).unwrap();
    let started = Instant::now();
    let mut at_a_tenth = 0;
    common::send_windowed(&client, messages, 1000, |sent| {
        if sent == messages / 10 {
            at_a_tenth = common::rss_kib().0;
        }
    });
    let took = started.elapsed();
    let (rss, peak) = common::rss_kib();
    println!("messages={messages}");
    println!("seconds={:.3}", took.as_secs_f64());
    println!("rss_at_a_tenth_kib={at_a_tenth}");
    println!("rss_kib={rss}");
    println!("peak_rss_kib={peak}");
    println!("queued_events={}", client.queued_events());
    client.close().unwrap();
    println!("done");
}
