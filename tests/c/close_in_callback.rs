//! `flowai_client_close` from C, from another thread while the event callback is blocked in
//! `flowai_client_wait_delivered(…, UINT32_MAX)`, and from inside the callback while another
//! thread is blocked so: `tests/c/close_in_callback.c`, compiled with the system C compiler
//! and run against an emulator that holds every acknowledgement back for 30 s. Close must
//! return within 50 ms and the blocked waits with `FLOWAI_CLOSED`.

use crate::support::*;
use flowai_emulator::{Emulator, EmulatorConfig};
use std::process::Command;
use std::time::Duration;

/// The number after `key` in `text` (`… close took 1.234 ms …`).
fn ms_after(text: &str, line: &str, key: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no line with {line:?} in:\n{text}"));
    let rest = &line[line.find(key).expect(key) + key.len()..];
    let number: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn c_close_wakes_a_blocked_callback_and_works_from_inside_it() {
    let _timer = exit_after(Duration::from_secs(300), "close_in_callback_c");
    let dir = scratch("close-in-callback");
    let lib = copy_libraries(&dir);
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    emulator.faults().ack_delay(Duration::from_secs(30));
    // Once as built normally, once with ASan + UBSan: closing from inside a callback is where
    // a use-after-free would hide.
    let plain = compile_c("close_in_callback", &lib, &dir, Link::Shared);
    let asan_dir = dir.join("asan");
    std::fs::create_dir_all(&asan_dir).expect("asan dir");
    let mut flags = vec!["-std=c11", "-D_DEFAULT_SOURCE"];
    flags.extend(SANITIZE_FLAGS);
    let src = c_source("close_in_callback.c");
    let sanitized = compile_with(&src, &lib, &asan_dir, Link::Shared, "cc", &flags);
    assert_sanitized(&sanitized);
    for exe in [plain, sanitized] {
        let mut cmd = Command::new(&exe);
        sanitizer_env(&mut cmd).env("FLOWAI_BASE_URL", emulator.base_url());
        let out = run_with_deadline(cmd, Duration::from_secs(60));
        let stdout = expect_success("close_in_callback", &out);
        println!("{}: {stdout}", exe.display());
        assert!(stdout.contains("all checks passed"), "{stdout}");
        for line in ["from another thread", "from inside the callback"] {
            let took = ms_after(&stdout, line, "close took");
            assert!(took <= 50.0, "close {line} took {took} ms:\n{stdout}");
        }
        let joined = ms_after(&stdout, "from inside the callback", "joined");
        assert!(
            joined <= 50.0,
            "the blocked wait ended {joined} ms late:\n{stdout}"
        );
    }
    emulator.stop();
}
