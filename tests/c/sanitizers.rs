//! Every C program (`tests/c/test_abi.c` and the examples of `examples-c`) compiled with
//! AddressSanitizer + UndefinedBehaviorSanitizer (`-fsanitize=address,undefined`, any report
//! fatal, leaks checked at exit) and run against the emulator, linked against the debug and
//! the release library, and against a debug library whose Rust code is itself compiled with
//! `-Zsanitizer=address` (on the stable toolchain through `RUSTC_BOOTSTRAP=1`, as `fuzz/`
//! does). A self-check first proves that the sanitizers really run: a heap overflow into a
//! string the library allocated, a signed overflow and a leak must each fail their program.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A C program with one deliberate fault per argument, for the self-check.
const FAULTS_C: &str = r#"
#include <flowai.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "none";
    if (strcmp(what, "overflow") == 0) {
        /* One byte past the end of a string the Rust library allocated. */
        flowai_message *m = flowai_message_new();
        char *json = NULL;
        if (flowai_message_to_json(m, &json) != FLOWAI_OK) return 2;
        size_t n = strlen(json);
        json[n + 1] = 'x';
        flowai_string_free(json);
        flowai_message_free(m);
    } else if (strcmp(what, "ub") == 0) {
        volatile int big = 2147483647;
        printf("%d\n", big + atoi("1"));
    } else if (strcmp(what, "leak") == 0) {
        volatile char *p = malloc(4242);
        p = NULL;
        (void)p;
    }
    printf("faults: %s done\n", what);
    return 0;
}
"#;

/// Compiles the self-check program; `None` (skipped with a note, failing on CI) when this
/// compiler cannot build with the sanitizers.
fn compile_faults(dir: &Path, lib: &Path) -> Option<std::path::PathBuf> {
    let src = dir.join("faults.c");
    std::fs::write(&src, FAULTS_C).expect("write faults.c");
    let probe = Command::new("cc")
        .args(SANITIZE_FLAGS)
        .arg("-x")
        .arg("c")
        .arg("-")
        .arg("-o")
        .arg(dir.join("probe"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"int main(void) { return 0; }\n")?;
            child.wait()
        });
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            !on_ci(),
            "cc cannot build with -fsanitize=address,undefined (libasan / libubsan missing?)"
        );
        eprintln!("note: cc cannot build with the sanitizers; skipping the ASan/UBSan runs");
        return None;
    }
    let mut flags = vec!["-std=c11"];
    flags.extend(SANITIZE_FLAGS);
    Some(compile_with(&src, lib, dir, Link::Shared, "cc", &flags))
}

/// Compiles every C program with the sanitizers against `lib` and runs it against the
/// emulator; returns one line per run for the log.
fn run_all_sanitized(
    lib: &Path,
    dir: &Path,
    link: Link,
    base_url: &str,
    what: &str,
) -> Vec<String> {
    std::fs::create_dir_all(dir).expect("out dir");
    let mut flags = vec!["-std=c11", "-D_DEFAULT_SOURCE"];
    flags.extend(SANITIZE_FLAGS);
    let mut lines = Vec::new();
    for run in SHORT_RUNS {
        if link == Link::Static && run.program != "test_abi" {
            continue; // the static link is a different build of the library, not of the examples
        }
        let src = c_source(&format!("{}.c", run.program));
        let exe = compile_with(&src, lib, dir, link, "cc", &flags);
        assert_sanitized(&exe);
        let mut cmd = Command::new(&exe);
        sanitizer_env(&mut cmd);
        let stdout = run_program(cmd, run, base_url, None);
        let last = stdout.lines().rfind(|l| !l.is_empty()).unwrap_or("");
        lines.push(format!("{} ({what} {link:?}): {last}", run.program));
    }
    lines
}

#[test]
fn sanitizers_report_a_heap_overflow_undefined_behaviour_and_a_leak() {
    let _timer = exit_after(Duration::from_secs(300), "c_sanitizers self-check");
    let dir = scratch("c-sanitizers-faults");
    let lib = copy_libraries(&dir);
    let Some(exe) = compile_faults(&dir, &lib) else {
        return;
    };
    assert_sanitized(&exe);
    for (fault, code, report) in [
        ("none", 0, ""),
        (
            "overflow",
            ASAN_EXIT_CODE,
            "AddressSanitizer: heap-buffer-overflow",
        ),
        (
            "ub",
            UBSAN_EXIT_CODE,
            "runtime error: signed integer overflow",
        ),
        (
            "leak",
            ASAN_EXIT_CODE,
            "LeakSanitizer: detected memory leaks",
        ),
    ] {
        let mut cmd = Command::new(&exe);
        cmd.arg(fault);
        sanitizer_env(&mut cmd);
        let out = run_with_deadline(cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{fault}:\n{stderr}");
        assert!(
            stderr.contains(report),
            "{fault}: no {report:?} in:\n{stderr}"
        );
    }
}

#[test]
fn c_programs_are_clean_under_asan_and_ubsan_with_debug_and_release_libraries() {
    let _timer = exit_after(Duration::from_secs(600), "c_sanitizers");
    let dir = scratch("c-sanitizers");
    if compile_faults(&dir, &copy_libraries(&dir)).is_none() {
        return;
    }
    per_build(
        &dir,
        &DEBUG_AND_RELEASE,
        &SHARED_AND_STATIC,
        |profile, link, lib, out, base_url| {
            run_all_sanitized(lib, out, link, base_url, &format!("{profile:?}"))
        },
    );
}

/// The Rust side under AddressSanitizer too: the library's own code instrumented, the C
/// programs built with `-fsanitize=address,undefined` (their libasan resolves the library's
/// `__asan_*` calls).
#[test]
fn c_programs_are_clean_with_the_rust_code_compiled_with_asan() {
    let _timer = exit_after(Duration::from_secs(900), "c_sanitizers rust asan");
    let dir = scratch("c-sanitizers-rust-asan");
    if compile_faults(&dir, &copy_libraries(&dir)).is_none() {
        return;
    }
    per_build(
        &dir,
        &[Profile::Asan],
        &[Link::Shared],
        |_, link, lib, out, base_url| {
            // Proof that the Rust code is instrumented: the library calls the ASan runtime.
            let nm = Command::new("nm")
                .args(["-D", "--undefined-only"])
                .arg(lib.join("libflowai_socket.so"))
                .output()
                .expect("run nm");
            let imports = String::from_utf8_lossy(&nm.stdout);
            let calls = imports.matches("__asan_report_").count();
            assert!(
                calls > 0,
                "the ASan build calls no __asan_report_*:\n{imports}"
            );
            let mut lines = vec![format!(
                "Rust ASan library imports {calls} __asan_report_* functions"
            )];
            lines.extend(run_all_sanitized(lib, out, link, base_url, "Rust ASan"));
            lines
        },
    );
}
