//! The C++17 wrapper `include/flowai.hpp`: `examples-c/quickstart.cpp` (the C++ twin of
//! `quickstart.c`) and `tests/c/test_cpp.cpp` (the wrapper's own checks: exceptions,
//! move-only handles, durations, callbacks replaced, unregistered and closing their client
//! from inside themselves, the log callback) compiled with `g++ -std=c++17 -Wall -Wextra
//! -Werror -fsanitize=address,undefined` against the release library and run against the
//! emulator with every sanitizer report fatal. Also: the header links into several
//! translation units of one program, and it wraps every function of `flowai.h`.

use crate::support::*;
use flowai_emulator::{Emulator, EmulatorConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Warnings a C++ user may build with: the header must not trigger them.
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wpedantic", "-Wshadow", "-Wconversion"];

fn cpp_source(name: &str) -> PathBuf {
    c_source(&format!("{name}.cpp"))
}

/// The start of every test here: a time limit (keep the timer for the whole test), g++ (or a
/// skip, except on CI), a scratch directory and a copy of the release library. `None` when
/// g++ is missing.
fn prepare(name: &'static str) -> Option<(ExitTimer, Scratch, PathBuf)> {
    let timer = exit_after(Duration::from_secs(600), name);
    if !require_tool("g++", "the C++ wrapper tests") {
        return None;
    }
    let dir = scratch(name);
    let lib = copy_libraries_of(&dir, Profile::Release);
    Some((timer, dir, lib))
}

/// Compiles `<name>.cpp` ([`c_source`]) with g++, the strict flags and ASan + UBSan, into `dir`.
fn compile_sanitized(name: &str, lib: &Path, dir: &Path, link: Link) -> PathBuf {
    let flags: Vec<&str> = CXX_FLAGS.iter().chain(SANITIZE_FLAGS).copied().collect();
    let exe = compile_with(&cpp_source(name), lib, dir, link, "g++", &flags);
    assert_sanitized(&exe);
    exe
}

/// Runs a sanitized program against the emulator; panics on a failure or any report.
fn run_clean(exe: &Path, base_url: &str) -> String {
    let mut cmd = Command::new(exe);
    sanitizer_env(&mut cmd)
        .env("FLOWAI_BASE_URL", base_url)
        .env("FLOWAI_CLIENT_ID", "cpp-wrapper")
        .env("FLOWAI_STAY_MS", "300");
    let out = run_with_deadline(cmd, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Sanitizer") && !stderr.contains("runtime error"),
        "{} reported:\n{stderr}",
        exe.display()
    );
    expect_success(&exe.display().to_string(), &out)
}

#[test]
fn cpp_programs_run_clean_under_asan_and_ubsan() {
    let Some((_timer, dir, lib)) = prepare("cpp-wrapper") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let base = emulator.base_url();
    // Independent builds and runs, two at a time (g++ is the slow part).
    let runs = [
        ("quickstart", Link::Shared),
        ("test_cpp", Link::Shared),
        ("test_cpp", Link::Static),
    ];
    std::thread::scope(|s| {
        let jobs: Vec<_> = runs
            .iter()
            .map(|&(name, link)| {
                let (lib, dir, base) = (&lib, &dir, &base);
                s.spawn(move || {
                    let exe = compile_sanitized(name, lib, dir, link);
                    (name, link, run_clean(&exe, base))
                })
            })
            .collect();
        for job in jobs {
            let (name, link, out) = job.join().expect("a C++ run failed");
            if name == "quickstart" {
                // The same lines as quickstart.c prints.
                for line in ["Delivered: traceId", "Event MY EVENT received", "Closed."] {
                    assert!(out.contains(line), "{out}");
                }
            } else {
                assert!(out.contains("checks passed"), "{link:?}: {out}");
                assert!(!out.contains("live part skipped"), "{link:?}: {out}");
            }
        }
    });
    emulator.stop();
}

#[test]
fn cpp_header_links_into_several_translation_units() {
    let Some((_timer, dir, lib)) = prepare("cpp-units") else {
        return;
    };
    // A function defined in the header without `inline` would be defined twice here.
    let unit = "#include <flowai.hpp>\n\
                void log_to(std::string *sink) {\n\
                    flowai::set_log_callback([sink](flowai_log_level, std::string_view, \
                    std::string_view m) { *sink = std::string(m); }, FLOWAI_LOG_ERROR);\n\
                }\n";
    let main = "#include <flowai.hpp>\n#include <iostream>\n\
                void log_to(std::string *sink);\n\
                int main() {\n\
                    static std::string sink;\n\
                    log_to(&sink);\n\
                    flowai::set_log_callback(nullptr, FLOWAI_LOG_OFF);\n\
                    std::cout << flowai::version() << '\\n';\n\
                    return flowai::version() == FLOWAI_VERSION ? 0 : 1;\n\
                }\n";
    let unit_path = dir.join("unit.cpp");
    std::fs::write(&unit_path, unit).unwrap();
    std::fs::write(dir.join("main.cpp"), main).unwrap();
    // The second translation unit rides along as one more compiler argument.
    let flags: Vec<&str> = CXX_FLAGS
        .iter()
        .copied()
        .chain([unit_path.to_str().expect("UTF-8 path")])
        .collect();
    let exe = compile_with(
        &dir.join("main.cpp"),
        &lib,
        &dir,
        Link::Shared,
        "g++",
        &flags,
    );
    let run = run_with_deadline(Command::new(&exe), Duration::from_secs(30));
    let stdout = expect_success("two-units", &run);
    assert_eq!(stdout.trim(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn cpp_header_wraps_every_c_function() {
    let hpp = std::fs::read_to_string(repo().join("include/flowai.hpp")).expect("flowai.hpp");
    let uses = |name: &str| {
        hpp.match_indices(name).any(|(at, _)| {
            let next = hpp[at + name.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let missing: Vec<String> = header_functions()
        .into_iter()
        .filter(|f| !uses(f))
        .collect();
    assert!(
        missing.is_empty(),
        "include/flowai.hpp does not wrap {missing:?}: add one line per function \
         (a setter is `set(flowai_<object>_set_<name>, args...)`)"
    );
}
