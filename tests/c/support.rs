//! Helpers for the tests of the C ABI and the Python wrapper: the freshly built libraries,
//! compiling C with the system compiler, running programs under a deadline, a process-wide
//! time limit ([`exit_after`]), and the rule for tools that may be missing (skip locally,
//! fail on CI).
#![allow(dead_code)] // the Python tests include this file and use a part of it

use flowai_emulator::{Emulator, EmulatorConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exits the whole test process (status 101) if it is still running `limit` after this call
/// and the returned timer has not been dropped: a hang in C code, a child program or a
/// nested build fails the run instead of blocking CI (no thread can be interrupted there,
/// so this cannot fail just the one test). Keep the timer alive for the whole test:
/// `let _timer = exit_after(...)`; dropping it disarms it, so the other tests of the same
/// binary run on.
#[must_use = "the timer is disarmed as soon as it is dropped"]
pub fn exit_after(limit: Duration, name: &'static str) -> ExitTimer {
    let (disarm, disarmed) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if disarmed.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            eprintln!("{name} still running after {limit:?}: exiting the test process");
            std::process::exit(101);
        }
    });
    ExitTimer { _disarm: disarm }
}

/// The armed timer of [`exit_after`]; dropping it disarms it.
pub struct ExitTimer {
    _disarm: std::sync::mpsc::Sender<()>,
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

/// Which build of the library a test links: the test run's own profile is the default
/// (`copy_libraries`); the sanitizer tests ask for each one by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build --lib` into `target/debug`.
    Debug,
    /// `cargo build --release --lib` into `target/release` (cached there between runs).
    Release,
    /// The debug library with the Rust code itself compiled with AddressSanitizer
    /// (`RUSTC_BOOTSTRAP=1`, `-Zsanitizer=address`, `--target <host>` so build scripts stay
    /// plain), cached in `target/asan`. Its `__asan_*` calls are resolved by the program,
    /// which must be compiled with `-fsanitize=address`.
    Asan,
}

impl Profile {
    /// Where cargo puts this build's libraries.
    pub fn dir(self) -> PathBuf {
        let target = profile_dir().parent().expect("target dir").to_path_buf();
        match self {
            Profile::Debug => target.join("debug"),
            Profile::Release => target.join("release"),
            Profile::Asan => target.join("asan").join(host_triple()).join("debug"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
            Profile::Asan => "asan",
        }
    }

    /// The cargo command that builds this profile's shared and static libraries.
    fn cargo_build(self) -> Command {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--lib", "--package", "flowai-socket"])
            .current_dir(repo());
        match self {
            Profile::Debug => {}
            Profile::Release => {
                cmd.arg("--release");
            }
            Profile::Asan => {
                let target = profile_dir().parent().expect("target dir").join("asan");
                cmd.args(["--target", &host_triple()])
                    .arg("--target-dir")
                    .arg(target)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("RUSTFLAGS", "-Zsanitizer=address")
                    .env_remove("CARGO_ENCODED_RUSTFLAGS")
                    .env_remove("CARGO_BUILD_RUSTFLAGS");
            }
        }
        cmd
    }
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host line in rustc -vV")
        .to_string()
}

/// The profile this test executable was built with (`target/<profile>/deps/<test>`).
fn current_profile() -> Profile {
    if profile_dir().file_name().is_some_and(|n| n == "release") {
        Profile::Release
    } else {
        Profile::Debug
    }
}

/// Builds the shared and static libraries of one profile with cargo, once per test process
/// and profile: `cargo test` itself builds only the rlib the tests link, so on a fresh clone
/// the `.so` and `.a` would be missing (and elsewhere they could be stale). Cargo's own
/// cache makes a second run cheap.
fn build_libraries(profile: Profile) {
    // One lock per profile: a thread that needs the debug library does not wait for the
    // (much longer) first build of the ASan one.
    static BUILT: [std::sync::Mutex<bool>; 3] = [const { std::sync::Mutex::new(false) }; 3];
    let mut built = BUILT[profile as usize]
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if *built {
        return;
    }
    let started = Instant::now();
    let status = profile
        .cargo_build()
        .status()
        .expect("cannot run cargo to build the library");
    assert!(status.success(), "cargo build --lib ({profile:?}) failed");
    eprintln!(
        "note: {profile:?} library built (or found up to date) in {:.1?}",
        started.elapsed()
    );
    *built = true;
}

/// The library files of this test run's profile, copied into `dir/lib` so that a concurrent
/// cargo run cannot swap them under the test. Returns that directory.
pub fn copy_libraries(dir: &Path) -> PathBuf {
    copy_libraries_to(current_profile(), &dir.join("lib"))
}

/// The library files of `profile` (built first if needed), copied into `dir/lib-<profile>`.
pub fn copy_libraries_of(dir: &Path, profile: Profile) -> PathBuf {
    copy_libraries_to(profile, &dir.join(format!("lib-{}", profile.name())))
}

fn copy_libraries_to(profile: Profile, lib: &Path) -> PathBuf {
    build_libraries(profile);
    let from = profile.dir();
    std::fs::create_dir_all(lib).expect("lib dir");
    for name in ["libflowai_socket.so", "libflowai_socket.a"] {
        let src = from.join(name);
        assert!(
            src.exists(),
            "{} is missing after cargo build --lib",
            src.display()
        );
        std::fs::copy(&src, lib.join(name)).expect("copy library");
    }
    lib.to_path_buf()
}

/// Runs `job` for every build (each profile with each link), a thread and an emulator per
/// profile (valgrind and the sanitized programs are bound by one core each; the programs use
/// the same thread ids, so two running at once against one emulator would see each other's
/// replies): the job gets the profile's libraries copied into `dir`, an empty output
/// directory `dir/<profile>/<link>` and the emulator's base URL. Prints the lines the jobs
/// return, profile by profile; a panic in a job fails the caller.
pub fn per_build<F>(dir: &Path, profiles: &[Profile], links: &[Link], job: F)
where
    F: Fn(Profile, Link, &Path, &Path, &str) -> Vec<String> + Sync,
{
    let job = &job;
    let lines: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = profiles
            .iter()
            .map(|&profile| {
                s.spawn(move || {
                    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
                    let lib = copy_libraries_of(dir, profile);
                    let mut lines = Vec::new();
                    for &link in links {
                        let out = dir.join(profile.name()).join(format!("{link:?}"));
                        std::fs::create_dir_all(&out).expect("output dir");
                        lines.extend(job(profile, link, &lib, &out, &emulator.base_url()));
                    }
                    emulator.stop();
                    lines
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for line in lines.iter().flatten() {
        eprintln!("{line}");
    }
}

/// The two profiles C users link: every C program is checked against both.
pub const DEBUG_AND_RELEASE: [Profile; 2] = [Profile::Debug, Profile::Release];

/// Both ways to link the library.
pub const SHARED_AND_STATIC: [Link; 2] = [Link::Shared, Link::Static];

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

/// The source of a C or C++ program by file name: the test programs (`test_abi.c`,
/// `close_in_callback.c`, `test_cpp.cpp`) live here in `tests/c/`, the examples users read
/// in `examples-c/`.
pub fn c_source(file: &str) -> PathBuf {
    let test_program = repo().join("tests/c").join(file);
    if test_program.exists() {
        test_program
    } else {
        repo().join("examples-c").join(file)
    }
}

/// Compiles the C program `name` ([`c_source`]) with the system `cc` against the library in
/// `lib` (strict warnings), into `dir/<name>-<link>`. Panics with the compiler output on
/// failure.
pub fn compile_c(name: &str, lib: &Path, dir: &Path, link: Link) -> PathBuf {
    let src = c_source(&format!("{name}.c"));
    compile_with(
        &src,
        lib,
        dir,
        link,
        "cc",
        &["-std=c11", "-D_DEFAULT_SOURCE"],
    )
}

/// Compiles `src` with `compiler` (`cc`, `g++`, …), `-g -Wall -Wextra -Werror`, the
/// repository's `include/` and `extra_flags` (the language standard, sanitizers), linked
/// against the library in `lib`. The program is `dir/<stem>-<shared|static>` for a `.c`
/// file and `dir/<stem>-<ext>-<shared|static>` otherwise (so `quickstart.c` and
/// `quickstart.cpp` do not clash); build other flavours into other directories. Panics
/// with the compiler output on failure.
pub fn compile_with(
    src: &Path,
    lib: &Path,
    dir: &Path,
    link: Link,
    compiler: &str,
    extra_flags: &[&str],
) -> PathBuf {
    let stem = src.file_stem().expect("source name").to_string_lossy();
    let ext = src.extension().map(|e| e.to_string_lossy().into_owned());
    let kind = if link == Link::Shared {
        "shared"
    } else {
        "static"
    };
    let exe = dir.join(match ext.as_deref() {
        Some("c") | None => format!("{stem}-{kind}"),
        Some(ext) => format!("{stem}-{ext}-{kind}"),
    });
    let mut cmd = Command::new(compiler);
    cmd.args(extra_flags)
        .args(["-g", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(repo().join("include"))
        .arg(src)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            // DT_RPATH, not DT_RUNPATH: `cargo test` puts target/debug on LD_LIBRARY_PATH,
            // which would otherwise win over the rpath and load the debug library into a
            // program meant to test another build.
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lflowai_socket")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-Wl,--disable-new-dtags")
                .args(["-lpthread", "-lm"]);
        }
        Link::Static => {
            cmd.arg(lib.join("libflowai_socket.a")).args(STATIC_DEPS);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} failed for {} ({link:?}):\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    if link == Link::Shared {
        assert_loads_library_from(&exe, lib);
    }
    exe
}

/// Panics unless `exe`, started from this test's environment, loads `libflowai_socket.so`
/// from `lib` (`ldd`), so a test of one build cannot silently run another.
pub fn assert_loads_library_from(exe: &Path, lib: &Path) {
    let out = Command::new("ldd").arg(exe).output().expect("run ldd");
    let ldd = String::from_utf8_lossy(&out.stdout);
    let want = lib.join("libflowai_socket.so");
    let loaded = ldd
        .lines()
        .find(|l| l.contains("libflowai_socket.so =>"))
        .unwrap_or_else(|| {
            panic!(
                "{} does not load libflowai_socket.so:\n{ldd}",
                exe.display()
            )
        });
    assert!(
        loaded.contains(&want.display().to_string()),
        "{} loads the wrong library (want {}):\n{loaded}",
        exe.display(),
        want.display()
    );
}

/// Compiler flags for AddressSanitizer + UndefinedBehaviorSanitizer on the C / C++ side;
/// `-fno-sanitize-recover=all` makes every UBSan report fatal.
pub const SANITIZE_FLAGS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
];

/// Exit code of a program stopped by an AddressSanitizer (or LeakSanitizer) report.
pub const ASAN_EXIT_CODE: i32 = 86;
/// Exit code of a program stopped by an UndefinedBehaviorSanitizer report.
pub const UBSAN_EXIT_CODE: i32 = 87;

/// Sets the sanitizer options of a program built with [`SANITIZE_FLAGS`] so that any report
/// fails the run with its own exit code: the first ASan error stops the program, leaks are
/// checked at exit (the library's process-lifetime statics stay reachable, so they are not
/// leaks to LeakSanitizer), and UBSan prints a stack and stops.
pub fn sanitizer_env(cmd: &mut Command) -> &mut Command {
    cmd.env(
        "ASAN_OPTIONS",
        format!("halt_on_error=1:detect_leaks=1:exitcode={ASAN_EXIT_CODE}"),
    )
    .env(
        "UBSAN_OPTIONS",
        format!("print_stacktrace=1:halt_on_error=1:exitcode={UBSAN_EXIT_CODE}"),
    )
}

/// Panics unless `exe` really carries the sanitizers: it must link libasan and libubsan
/// (`ldd`), so a run without reports means checked, not skipped.
pub fn assert_sanitized(exe: &Path) {
    let out = Command::new("ldd").arg(exe).output().expect("run ldd");
    let libs = String::from_utf8_lossy(&out.stdout);
    for runtime in ["libasan.so", "libubsan.so"] {
        assert!(
            libs.contains(runtime),
            "{} does not link {runtime}:\n{libs}",
            exe.display()
        );
    }
}

/// `valgrind` (memcheck) around `exe`, as the tests and `docs/c-api.md` run it: any error
/// or definite leak makes the exit code 97, the report goes to `log`, and the suppressions
/// of `examples-c/flowai.supp` (one proven false positive of the release library) apply.
pub fn valgrind(exe: &Path, log: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=97",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
        "--track-origins=no",
    ])
    .arg(format!(
        "--suppressions={}",
        repo().join("examples-c/flowai.supp").display()
    ))
    .arg(format!("--log-file={}", log.display()))
    .arg(exe);
    cmd
}

/// Panics unless the valgrind report in `log` says it ran and found nothing: "0 errors" and
/// no definitely lost bytes. Returns the ERROR SUMMARY line (it shows how many reports the
/// suppressions took).
pub fn assert_valgrind_clean(log: &Path, what: &str) -> String {
    let report = std::fs::read_to_string(log).unwrap_or_default();
    let summary = report
        .lines()
        .rev()
        .find(|l| l.contains("ERROR SUMMARY:"))
        .unwrap_or_else(|| panic!("no valgrind summary for {what}:\n{report}"));
    assert!(
        summary.contains("ERROR SUMMARY: 0 errors"),
        "valgrind errors in {what}:\n{report}"
    );
    assert!(
        report.contains("definitely lost: 0 bytes") || report.contains("no leaks are possible"),
        "valgrind leak summary for {what}:\n{report}"
    );
    summary
        .split_once("ERROR SUMMARY: ")
        .map_or(summary, |(_, s)| s)
        .to_string()
}

/// A short run of one C program (an example or `test_abi`) against a server: its settings
/// and a line its output must contain.
#[derive(Debug)]
pub struct ProgramRun {
    /// `<program>.c` ([`c_source`]).
    pub program: &'static str,
    /// Environment for a run of a few seconds, even under valgrind.
    pub env: &'static [(&'static str, &'static str)],
    /// Text the program prints when it worked.
    pub expect: &'static str,
}

/// Every C program (`test_abi` and the examples), each set up for a short run: the sanitizer and valgrind
/// tests run all of them. (The soak's RSS limit is lifted: valgrind and ASan's quarantine
/// change RSS; its thread count is still checked.)
pub const SHORT_RUNS: &[ProgramRun] = &[
    ProgramRun {
        program: "test_abi",
        env: &[],
        expect: "checks passed",
    },
    ProgramRun {
        program: "quickstart",
        env: &[("FLOWAI_STAY_MS", "100")],
        expect: "Reply in thread jane.doe: Event MY EVENT received",
    },
    ProgramRun {
        program: "events",
        env: &[("FLOWAI_MESSAGES", "25")],
        expect: "Sent 50 messages from 2 threads: 50 delivered, 50 replies",
    },
    ProgramRun {
        program: "soak",
        env: &[
            ("FLOWAI_SOAK_ROUNDS", "3"),
            ("FLOWAI_SOAK_MESSAGES", "50"),
            ("FLOWAI_SOAK_MAX_GROWTH_KIB", "4194304"),
        ],
        expect: "soak: 3 rounds of 50 messages",
    },
    ProgramRun {
        program: "bench",
        env: &[
            ("FLOWAI_BENCH_MESSAGES", "500"),
            ("FLOWAI_BENCH_WINDOW", "100"),
            ("FLOWAI_BENCH_ROUND_TRIPS", "50"),
        ],
        expect: "bench: round trip p50",
    },
];

/// Runs `cmd` (the program itself, or valgrind around it) against the server at `base_url`
/// with the run's settings; panics with everything it printed (and `log`, e.g. a valgrind
/// report, when given) unless it exits 0 and prints the expected text. Returns stdout.
pub fn run_program(
    mut cmd: Command,
    run: &ProgramRun,
    base_url: &str,
    log: Option<&Path>,
) -> String {
    cmd.env("FLOWAI_BASE_URL", base_url)
        .env("FLOWAI_CLIENT_ID", format!("c-{}", run.program));
    for (k, v) in run.env {
        cmd.env(k, v);
    }
    let out = run_with_deadline(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = log.map(|l| std::fs::read_to_string(l).unwrap_or_default());
    assert!(
        out.status.success() && stdout.contains(run.expect),
        "{} failed ({}; expected {:?} in stdout):\nstdout:\n{stdout}\nstderr:\n{}\nlog:\n{}",
        run.program,
        out.status,
        run.expect,
        String::from_utf8_lossy(&out.stderr),
        report.unwrap_or_default()
    );
    stdout
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

/// Installs the C library as README "Install" tells a user to, with cargo-c:
/// `cargo cinstall --release --prefix <prefix> --libdir lib`, once per test process, and
/// returns the prefix; `None` (after a printed note) when cargo-c is missing outside CI, a
/// panic on CI.
///
/// A nested cargo, because `cargo test` builds none of what an install holds: cargo-c links
/// the shared library itself with its SONAME, and writes `flowai.pc` (Libs.private from
/// rustc's native-static-libs) and the CMake version file. Its own target directory
/// `target/cinstall` keeps that release build cached between runs without waiting on, or
/// rebuilding, what the test run builds in `target/` (cargo-c builds with the `capi`
/// feature and its own linker flags). The prefix is `target/cinstall/prefix`, emptied first:
/// a fixed path, because cargo-c's cache key includes the install paths (it writes the
/// prefix into `flowai.pc`), so a new temporary prefix per run would rebuild the library.
pub fn cinstall() -> Option<PathBuf> {
    static PREFIX: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut done = PREFIX.lock().unwrap_or_else(|p| p.into_inner());
    if done.is_some() {
        return done.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let has_cargo_c = Command::new(&cargo)
        .args(["cinstall", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cargo_c {
        let install = "cargo install --locked cargo-c --version =0.10.24";
        if on_ci() {
            panic!("cargo-c (`cargo cinstall`) is required on CI but missing: {install}");
        }
        eprintln!("note: cargo-c not found ({install}); skipping the install test");
        return None;
    }
    let target = profile_dir().parent().expect("target dir").join("cinstall");
    let prefix = target.join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let mut cmd = Command::new(cargo);
    cmd.args([
        "cinstall",
        "--release",
        "--package",
        "flowai-socket",
        "--libdir",
        "lib",
    ])
    .arg("--prefix")
    .arg(&prefix)
    .arg("--target-dir")
    .arg(&target)
    .current_dir(repo());
    let started = Instant::now();
    // A first build compiles every dependency in release mode: a minute or more.
    let out = run_with_deadline(cmd, Duration::from_secs(600));
    expect_success("cargo cinstall", &out);
    eprintln!(
        "note: cargo cinstall into {} took {:.1?}",
        prefix.display(),
        started.elapsed()
    );
    *done = Some(prefix);
    done.clone()
}

/// The values of one kind of entry in an ELF file's dynamic section (`readelf -d`), e.g.
/// `(SONAME)` or `(NEEDED)`: the text in brackets, such as `libflowai_socket.so.0`.
pub fn dynamic_entries(elf: &Path, kind: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(elf)
        .output()
        .expect("run readelf");
    let text = expect_success("readelf -d", &out);
    text.lines()
        .filter(|l| l.contains(kind))
        .filter_map(|l| {
            let (_, rest) = l.split_once('[')?;
            Some(rest.trim_end_matches(']').to_string())
        })
        .collect()
}
