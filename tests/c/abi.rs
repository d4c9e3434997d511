//! The C test program `tests/c/test_abi.c`, compiled with the system C compiler against
//! the freshly built shared and static libraries of both the debug and the release profile,
//! run against the emulator: every exported function with NULL for each pointer argument and
//! with invalid UTF-8, then the life of a live client. It runs under valgrind with the
//! shipped suppressions (zero errors, zero definite leaks); without valgrind the test fails
//! on CI and runs the programs without it elsewhere.

use crate::support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn test_abi_calls_every_function_and_checks_codes() {
    let source = std::fs::read_to_string(c_source("test_abi.c")).unwrap();
    let missing: Vec<String> = header_functions()
        .into_iter()
        .filter(|f| !source.contains(&format!("{f}(")) && !source.contains(&format!("{f},")))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/c/test_abi.c does not call: {missing:?}"
    );
}

#[test]
fn test_abi_passes_debug_and_release_shared_and_static_under_valgrind() {
    let _timer = exit_after(Duration::from_secs(600), "c_abi");
    let dir = scratch("c-abi");
    let valgrind = require_tool("valgrind", "the valgrind run of test_abi");
    // C users run valgrind on their release programs too: the release library (built by
    // this test, cached by cargo) must be as clean as the debug one, with the shipped
    // suppressions (examples-c/flowai.supp) and nothing else.
    per_build(
        &dir,
        &DEBUG_AND_RELEASE,
        &SHARED_AND_STATIC,
        |profile, link, lib, out, base_url| {
            let exe = compile_c("test_abi", lib, out, link);
            vec![run_test_abi(
                &exe,
                base_url,
                valgrind,
                &format!("{profile:?} {link:?}"),
            )]
        },
    );
}

/// Runs one build of test_abi against the emulator (under valgrind when there is one) and
/// checks that every check passed and valgrind found nothing; returns a line for the log.
fn run_test_abi(exe: &std::path::Path, base_url: &str, valgrind: bool, what: &str) -> String {
    let log = exe.with_extension("valgrind.log");
    let cmd = if valgrind {
        crate::support::valgrind(exe, &log)
    } else {
        Command::new(exe)
    };
    let run = SHORT_RUNS
        .iter()
        .find(|r| r.program == "test_abi")
        .expect("test_abi run");
    let stdout = run_program(cmd, run, base_url, Some(&log));
    assert!(!stdout.contains("live part skipped"), "{stdout}");
    let passed = stdout
        .lines()
        .find(|l| l.contains(run.expect))
        .unwrap_or("");
    if valgrind {
        let summary = assert_valgrind_clean(&log, &format!("test_abi ({what})"));
        format!("{passed} ({what}); valgrind: {summary}")
    } else {
        format!("{passed} ({what}); no valgrind")
    }
}
