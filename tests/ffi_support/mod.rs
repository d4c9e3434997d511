//! Helpers for the tests of the C ABI and the Python wrapper: the freshly built libraries,
//! compiling C with the system compiler, running programs under a deadline, a watchdog, and
//! the rule for tools that may be missing (skip locally, fail on CI).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Kills the whole test process when it is still running after `limit`: a hang fails.
pub fn watchdog(limit: Duration, name: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("watchdog: {name} still running after {limit:?}; failing");
        std::process::exit(101);
    });
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: where cargo put the libraries built for this test run (the test
/// executable lives in `target/<profile>/deps`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// True on CI (`CI` set and not `false`/`0`), where a missing tool is a failure.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether a program runs (`prog --version`). Missing: panics on CI, else prints a note and
/// returns false so the caller skips.
pub fn require_tool(prog: &str, why: &str) -> bool {
    let found = Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if on_ci() {
            panic!("`{prog}` is required on CI ({why}) but was not found on PATH");
        }
        eprintln!("note: `{prog}` not found; skipping {why} (this fails when CI is set)");
    }
    found
}

/// A scratch directory for one test, removed when dropped (also when the test fails, since
/// the copied libraries are large) unless `FLOWAI_KEEP_SCRATCH` is set.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("FLOWAI_KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh, empty scratch directory for this test.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("flowai-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

/// Builds the shared and static libraries of this tree with `cargo build --lib`, once per test
/// process: `cargo test` itself builds only the rlib the tests link, so on a fresh clone the
/// `.so` and `.a` would be missing (and elsewhere they could be stale).
fn build_libraries(profile: &Path) {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--lib"]).current_dir(repo());
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cannot run cargo to build the library");
        assert!(status.success(), "cargo build --lib failed");
    });
}

/// The library files of this build, copied into `dir/lib` so that a concurrent cargo run
/// cannot swap them under the test. Returns that directory.
pub fn copy_libraries(dir: &Path) -> PathBuf {
    let from = profile_dir();
    build_libraries(&from);
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).expect("lib dir");
    for name in ["libflowai_socket.so", "libflowai_socket.a"] {
        let src = from.join(name);
        assert!(
            src.exists(),
            "{} is missing after cargo build --lib",
            src.display()
        );
        std::fs::copy(&src, lib.join(name)).expect("copy library");
    }
    lib
}

/// How a C program links the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `-lflowai_socket` with an rpath to the copied `.so`.
    Shared,
    /// The `.a` plus the system libraries it needs.
    Static,
}

/// System libraries the static library needs on Linux (`--print native-static-libs`).
pub const STATIC_DEPS: &[&str] = &[
    "-lssl",
    "-lcrypto",
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Compiles `examples-c/<name>.c` with the system `cc` against the library in `lib`
/// (strict warnings), into `dir/<name>-<link>`. Panics with the compiler output on failure.
pub fn compile_c(name: &str, lib: &Path, dir: &Path, link: Link) -> PathBuf {
    let src = repo().join("examples-c").join(format!("{name}.c"));
    let exe = dir.join(format!(
        "{name}-{}",
        if link == Link::Shared {
            "shared"
        } else {
            "static"
        }
    ));
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=c11",
        "-D_DEFAULT_SOURCE",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
    ])
    .arg("-I")
    .arg(repo().join("include"))
    .arg(&src)
    .arg("-o")
    .arg(&exe);
    match link {
        Link::Shared => {
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lflowai_socket")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .args(["-lpthread", "-lm"]);
        }
        Link::Static => {
            cmd.arg(lib.join("libflowai_socket.a")).args(STATIC_DEPS);
        }
    }
    let out = cmd.output().expect("run cc");
    assert!(
        out.status.success(),
        "cc failed for {name} ({link:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `cmd` to completion, killing it after `limit` (then panics with what it printed).
pub fn run_with_deadline(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{what} did not finish within {limit:?} (killed)\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Panics with both outputs unless the program exited 0; returns its stdout.
pub fn expect_success(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The names of every function the header declares.
pub fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(repo().join("include/flowai.h")).expect("header");
    let mut names = Vec::new();
    for line in header.lines() {
        if line.starts_with([' ', '#', '/', '}']) || line.starts_with("typedef") {
            continue;
        }
        let Some(open) = line.find('(') else {
            continue;
        };
        let before = &line[..open];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &before[start..];
        if name.starts_with("flowai_") {
            names.push(name.to_string());
        }
    }
    names
}
