//! The C examples, compiled with the system C compiler against the freshly built shared and
//! static libraries and run against the emulator: `quickstart.c` (the seed message: ack and
//! reply), `events.c` (callback API, two sending threads), a short `soak.c`, and `bench.c`
//! (compiled only); then all of them, `bench.c` included, under valgrind against the debug
//! and the release library. The header also compiles as C++.

use crate::support::*;
use flowai_emulator::{Emulator, EmulatorConfig};
use std::process::Command;
use std::time::Duration;

fn run_example(exe: &std::path::Path, base_url: &str, extra: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(exe);
    cmd.env("FLOWAI_BASE_URL", base_url)
        .env("FLOWAI_CLIENT_ID", "c-examples");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = run_with_deadline(cmd, Duration::from_secs(60));
    expect_success(&exe.display().to_string(), &out)
}

#[test]
fn c_examples_build_and_run_against_the_emulator() {
    let _timer = exit_after(Duration::from_secs(600), "c_examples");
    let dir = scratch("c-examples");
    let lib = copy_libraries(&dir);
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let base = emulator.base_url();
    for link in [Link::Shared, Link::Static] {
        let quickstart = compile_c("quickstart", &lib, &dir, link);
        let out = run_example(&quickstart, &base, &[("FLOWAI_STAY_MS", "300")]);
        assert!(out.contains("Sent event MY EVENT as Jane Doe"), "{out}");
        assert!(out.contains("Delivered: traceId"), "{out}");
        assert!(out.contains("in thread jane.doe"), "{out}");
        assert!(
            out.contains("Reply in thread jane.doe: Event MY EVENT received"),
            "{out}"
        );
        assert!(out.contains("Closed."), "{out}");

        let events = compile_c("events", &lib, &dir, link);
        let out = run_example(&events, &base, &[("FLOWAI_MESSAGES", "25")]);
        assert!(
            out.contains("Sent 50 messages from 2 threads: 50 delivered, 50 replies"),
            "{out}"
        );
        assert!(out.contains("Last reply: You said: hello"), "{out}");

        let soak = compile_c("soak", &lib, &dir, link);
        let out = run_example(
            &soak,
            &base,
            &[
                ("FLOWAI_SOAK_ROUNDS", "3"),
                ("FLOWAI_SOAK_MESSAGES", "50"),
                // A debug build in a short run: thread count is checked, RSS only loosely.
                ("FLOWAI_SOAK_MAX_GROWTH_KIB", "65536"),
            ],
        );
        assert!(out.contains("soak: 3 rounds of 50 messages"), "{out}");

        compile_c("bench", &lib, &dir, link);
    }
    emulator.stop();
}

/// Every example under valgrind (with the shipped `examples-c/flowai.supp`), linked against
/// the debug and the release library: zero errors, zero definite leaks. test_abi has its
/// own valgrind test (tests/c/abi.rs).
#[test]
fn c_examples_are_valgrind_clean_with_debug_and_release_libraries() {
    let _timer = exit_after(Duration::from_secs(600), "c_examples valgrind");
    if !require_tool("valgrind", "the valgrind runs of the C examples") {
        return;
    }
    let dir = scratch("c-examples-valgrind");
    let profiles = [Profile::Debug, Profile::Release];
    per_build(
        &dir,
        &profiles,
        &[Link::Shared],
        |profile, link, lib, out, base_url| {
            let examples = SHORT_RUNS.iter().filter(|r| r.program != "test_abi");
            examples
                .map(|run| {
                    let exe = compile_c(run.program, lib, out, link);
                    let log = exe.with_extension("valgrind.log");
                    let what = format!("{} ({profile:?})", run.program);
                    run_program(
                        crate::support::valgrind(&exe, &log),
                        run,
                        base_url,
                        Some(&log),
                    );
                    format!("{what}: valgrind {}", assert_valgrind_clean(&log, &what))
                })
                .collect()
        },
    );
}

#[test]
fn c_examples_start_no_server_and_explain_the_environment() {
    let _timer = exit_after(Duration::from_secs(300), "c_examples usage");
    let dir = scratch("c-examples-usage");
    let lib = copy_libraries(&dir);
    let quickstart = compile_c("quickstart", &lib, &dir, Link::Shared);
    let mut cmd = Command::new(&quickstart);
    cmd.env_remove("FLOWAI_CLIENT_ID");
    let out = run_with_deadline(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FLOWAI_CLIENT_ID"));
}

#[test]
fn header_compiles_as_cpp() {
    // C++ is an extra check: a machine without a C++ compiler skips it (also on CI).
    let has_cpp = Command::new("c++")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cpp {
        eprintln!("note: no c++ compiler; the header's C++ compatibility is not checked");
        return;
    }
    let dir = scratch("cpp-header");
    let src = dir.join("header.cpp");
    std::fs::write(
        &src,
        "#include <flowai.h>\nint main() { return flowai_result_str(FLOWAI_OK) ? 0 : 1; }\n",
    )
    .unwrap();
    let out = Command::new("c++")
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(repo().join("include"))
        .arg(&src)
        .output()
        .expect("run c++");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
