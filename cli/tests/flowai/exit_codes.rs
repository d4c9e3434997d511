//! `flowai`'s exit status tells the failure class (0 ok, 2 usage, 3 config, 4 rejected,
//! 5 network/timeout, 6 protocol), and `-v`/`-vv`/`RUST_LOG` show the connect attempts and
//! phases as they happen, on stderr. Each case runs the real binary against a real socket:
//! a closed port, HTTP servers of the test's own that answer 401 or HTML, the emulator.

use crate::common;
use common::servers::{self, Server};
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs `flowai` with `args` (and `env`), with no Flow settings from the environment.
fn flowai(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowai"));
    cmd.args(args);
    for var in [
        "FLOWAI_CLIENT_ID",
        "FLOWAI_BASE_URL",
        "FLOWAI_THREAD_ID",
        "FLOWAI_STATE_FILE",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("cannot start flowai")
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("flowai was killed by a signal")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A 127.0.0.1 port that refuses connections (bound, then closed again).
fn refused_base_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A server answering every request with `answer`.
fn answering(answer: Vec<u8>) -> Server {
    Server::start(move |mut stream, _| {
        servers::read_head(&mut stream);
        let _ = stream.write_all(&answer);
    })
}

/// `flowai send` against `base_url`, with `extra` flags first.
fn send_to(base_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["send"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "--base-url",
        base_url,
        "--client-id",
        "exit-codes",
        "--connect-timeout",
        "1.5",
        "--speech",
        "hi",
    ]);
    flowai(&args, env)
}

#[test]
fn a_refused_port_is_a_network_failure_and_v_shows_each_retry() {
    common::fail_after(Duration::from_secs(120), || {
        let url = refused_base_url();

        let quiet = send_to(&url, &[], &[]);
        assert_eq!(status(&quiet), 5, "{}", stderr(&quiet));
        assert!(
            !stderr(&quiet).contains("attempt"),
            "without -v no log lines: {}",
            stderr(&quiet)
        );

        let verbose = send_to(&url, &["-v"], &[]);
        let log = stderr(&verbose);
        assert_eq!(status(&verbose), 5, "{log}");
        assert!(log.contains("connect attempt 1 failed"), "{log}");
        assert!(log.contains("connect attempt 2 failed"), "{log}");
        assert!(log.contains("Connection refused"), "{log}");
        assert!(
            !log.contains("socket.info for"),
            "-v hides the phases: {log}"
        );

        let phases = send_to(&url, &["-vv"], &[]);
        let log = stderr(&phases);
        assert!(
            log.contains("socket.info for the WebSocket endpoint"),
            "{log}"
        );

        let by_env = send_to(&url, &[], &[("RUST_LOG", "flowai_socket=debug")]);
        let log = stderr(&by_env);
        assert!(log.contains("connect attempt 1 failed"), "{log}");
        assert!(
            log.contains("socket.info for the WebSocket endpoint"),
            "{log}"
        );
    });
}

#[test]
fn each_failure_class_has_its_exit_status() {
    common::fail_after(Duration::from_secs(120), || {
        let unauthorized = answering(servers::http_json(
            401,
            "",
            r#"{"status":"error","message":"unknown clientId"}"#,
        ));
        let out = send_to(&format!("http://{}", unauthorized.authority()), &[], &[]);
        assert_eq!(status(&out), 4, "401 is rejected: {}", stderr(&out));

        let html = answering(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\
              Connection: close\r\n\r\n<html></html>"
                .to_vec(),
        );
        let out = send_to(&format!("http://{}", html.authority()), &[], &[]);
        assert_eq!(
            status(&out),
            6,
            "HTML is a protocol error: {}",
            stderr(&out)
        );

        let out = send_to("ftp://127.0.0.1:1", &[], &[]);
        assert_eq!(status(&out), 3, "a bad URL is config: {}", stderr(&out));

        let out = send_to(&refused_base_url(), &["--connect-timeout", "nope"], &[]);
        assert_eq!(status(&out), 2, "a bad flag is usage: {}", stderr(&out));

        let out = flowai(&["--version"], &[]);
        assert_eq!(status(&out), 0, "--version is not a failure");
    });
}

#[test]
fn a_conversation_that_works_exits_zero_and_no_reply_in_time_is_a_network_failure() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = common::emulator();
        let url = emulator.base_url();
        let out = flowai(
            &[
                "send",
                "--base-url",
                &url,
                "--client-id",
                "ok",
                "--speech",
                "hi",
            ],
            &[],
        );
        assert_eq!(status(&out), 0, "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("message.received"));

        let silent = flowai_emulator::Emulator::start(
            flowai_emulator::EmulatorConfig::default().reply(false),
        )
        .unwrap();
        let out = flowai(
            &[
                "send",
                "--base-url",
                &silent.base_url(),
                "--client-id",
                "quiet",
                "--speech",
                "hi",
                "--timeout",
                "1",
            ],
            &[],
        );
        assert_eq!(status(&out), 5, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no reply within 1 s"),
            "{}",
            stderr(&out)
        );
    });
}
