//! The Python wrapper's copy of the C API (result codes, event kinds, the ABI version, the
//! ctypes signature of every function it declares) agrees with `include/flowai.h`:
//! `python/test_header.py`, which reads the header only (no library, no server).
//! Without python3 the test fails on CI and is skipped with a note elsewhere.

mod ffi_support;

use ffi_support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn python_constants_and_signatures_match_the_header() {
    watchdog(Duration::from_secs(60), "python_header");
    if !require_tool("python3", "the Python header check") {
        return;
    }
    let mut check = Command::new("python3");
    check
        .current_dir(repo().join("python"))
        .args(["test_header.py", "-v"])
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_with_deadline(check, Duration::from_secs(30));
    expect_success("python3 test_header.py", &out);
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("\nOK"), "{report}");
}
