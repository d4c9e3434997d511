//! The C test program `examples-c/test_abi.c`, compiled with the system C compiler against
//! the freshly built shared and static libraries, run against the emulator: every exported
//! function with NULL for each pointer argument and with invalid UTF-8, then the life of a
//! live client. It runs under valgrind (zero errors, zero definite leaks); without valgrind
//! the test fails on CI and is skipped with a note elsewhere.

mod ffi_support;

use ffi_support::*;
use flowai_socket::emulator::{Emulator, EmulatorConfig};
use std::process::Command;
use std::time::Duration;

#[test]
fn test_abi_calls_every_function_and_checks_codes() {
    let source = std::fs::read_to_string(repo().join("examples-c/test_abi.c")).unwrap();
    let missing: Vec<String> = header_functions()
        .into_iter()
        .filter(|f| !source.contains(&format!("{f}(")) && !source.contains(&format!("{f},")))
        .collect();
    assert!(
        missing.is_empty(),
        "examples-c/test_abi.c does not call: {missing:?}"
    );
}

#[test]
fn test_abi_passes_shared_and_static_under_valgrind() {
    watchdog(Duration::from_secs(600), "c_abi");
    let dir = scratch("c-abi");
    let lib = copy_libraries(&dir);
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let valgrind = require_tool("valgrind", "the valgrind run of test_abi");
    for link in [Link::Shared, Link::Static] {
        let exe = compile_c("test_abi", &lib, &dir, link);
        let log = dir.join(format!("valgrind-{link:?}.log"));
        let mut cmd = if valgrind {
            let mut c = Command::new("valgrind");
            c.args([
                "--error-exitcode=97",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
                "--track-origins=no",
            ])
            .arg(format!("--log-file={}", log.display()))
            .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.env("FLOWAI_BASE_URL", emulator.base_url())
            .env("FLOWAI_CLIENT_ID", "test-abi");
        let out = run_with_deadline(cmd, Duration::from_secs(240));
        let report = std::fs::read_to_string(&log).unwrap_or_default();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "test_abi ({link:?}) failed ({}):\nstdout:\n{stdout}\nstderr:\n{}\nvalgrind:\n{report}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("checks passed"), "{stdout}");
        assert!(!stdout.contains("live part skipped"), "{stdout}");
        if valgrind {
            // Proof that valgrind really ran and found nothing.
            assert!(
                report.contains("ERROR SUMMARY: 0 errors"),
                "no clean valgrind summary for {link:?}:\n{report}"
            );
            assert!(
                report.contains("definitely lost: 0 bytes")
                    || report.contains("no leaks are possible"),
                "valgrind leak summary for {link:?}:\n{report}"
            );
        }
    }
    emulator.stop();
}
