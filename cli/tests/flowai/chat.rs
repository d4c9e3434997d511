//! A whole conversation through `flowai chat` with piped stdin, against an emulator started by
//! the test: text, buttons and quick replies picked by number, an event, agent typing, an
//! interruption, a new secret, the history, and `/quit`; the transcript is checked line by
//! line, in order.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the conversation may take.
const CONVERSATION_LIMIT: Duration = Duration::from_secs(60);

struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `flowai chat` with `script` on stdin; kills it and fails after the limit (watchdog).
fn chat(binary: &PathBuf, args: &[&str], script: &str) -> Run {
    let mut child = Command::new(binary)
        .arg("chat")
        .args(args)
        .env_remove("FLOWAI_CLIENT_ID")
        .env_remove("FLOWAI_BASE_URL")
        .env_remove("FLOWAI_THREAD_ID")
        .env_remove("FLOWAI_STATE_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start flowai");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CONVERSATION_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "flowai chat hung for {CONVERSATION_LIMIT:?}; output so far:\n{}",
                out.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Checks that `expected` lines appear in `transcript` in this order (other lines may be
/// between them).
fn assert_in_order(transcript: &str, expected: &[&str]) {
    let lines: Vec<&str> = transcript.lines().collect();
    let mut at = 0;
    for want in expected {
        match lines[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => {
                panic!("line {want:?} missing (or out of order) in the transcript:\n{transcript}")
            }
        }
    }
}

const SCRIPT: &str = "\
hello
buttons
1
quick replies
2
/event MY EVENT
typing
interrupt
secret
/history
/nope
/quit
this line is never read
";

#[test]
fn a_whole_conversation_through_flowai_chat() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_flowai"));
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let base = emu.base_url();
    let args = [
        "--base-url",
        &base,
        "--client-id",
        "cli-test",
        "--thread",
        "cli-thread",
        "--reply-timeout",
        "10",
    ];
    let run = chat(&binary, &args, SCRIPT);
    assert!(
        run.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let t = &run.stdout;
    assert!(
        t.lines()
            .next()
            .unwrap_or_default()
            .starts_with("* connected (thread cli-thread, session "),
        "{t}"
    );
    assert_in_order(
        t,
        &[
            "you: hello",
            "Echo Bot: You said: hello",
            "you: buttons",
            "Echo Bot: Pick one",
            "  1. Red",
            "  2. Blue",
            "you: 1",
            "Echo Bot: You said: Red",
            "you: quick replies",
            "Echo Bot: Yes or no?",
            "  1. Yes",
            "  2. No",
            "you: 2",
            "Echo Bot: You said: No",
            "you: /event MY EVENT",
            "Echo Bot: Event MY EVENT received",
            "you: typing",
            "* agent is typing...",
            "Echo Bot: You said: typing",
            "you: interrupt",
            "* conversation interrupted (a human took over)",
            "you: secret",
            "* new secret received",
            "Echo Bot: You said: secret",
            "you: /history",
            "* history of cli-thread (17 entries)",
            "  you: hello",
            "  Echo Bot: You said: hello",
            "  you: Red",
            "  you: [event MY EVENT]",
            "  Echo Bot: Event MY EVENT received",
            "  you: interrupt",
            "  Echo Bot: You said: secret",
            "you: /nope",
            "* unknown command /nope (try /help)",
            "you: /quit",
        ],
    );
    assert!(!t.contains("never read"), "{t}");
    assert!(!t.contains("no reply within"), "{t}");
    // What the server saw: the picked choices were sent as the user's words, and the chat
    // marked the thread as noticed after showing replies.
    let sent = common::sent_speeches(&emu, "cli-thread");
    assert_eq!(
        sent,
        [
            "hello",
            "buttons",
            "Red",
            "quick replies",
            "No",
            "event attachment",
            "typing",
            "interrupt",
            "secret"
        ]
    );
    assert!(emu.stats().noticed >= 1);
}

#[test]
fn end_of_input_ends_the_chat_cleanly() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_flowai"));
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let base = emu.base_url();
    let run = chat(
        &binary,
        &["--base-url", &base, "--client-id", "cli-test"],
        "\nhi there\n",
    );
    assert!(
        run.status.success(),
        "exit {:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    assert_in_order(
        &run.stdout,
        &["you: hi there", "Echo Bot: You said: hi there"],
    );
    // A server that is not there: a clear error and a failure status, no hang.
    emu.stop();
    let run = chat(
        &binary,
        &["--base-url", &base, "--client-id", "cli-test"],
        "hi\n",
    );
    assert!(!run.status.success());
    assert!(run.stderr.contains("flowai: "), "{}", run.stderr);
}
