//! The C library installed and used the way a C or C++ user does it: `cargo cinstall` into
//! a fresh prefix under `target/` (see `support::cinstall`), then `examples-c/quickstart.c` and
//! `quickstart.cpp`, copied to a directory outside the source tree, built only from what
//! the prefix holds and run against the emulator:
//! - the installed files, and the SONAME `libflowai_socket.so.0` (`readelf -d`);
//! - `pkg-config --cflags --libs flowai` (C, shared; the program's NEEDED entry carries the
//!   SONAME), the same with `--static` (no NEEDED entry for the library), and the C++
//!   quickstart through the installed `flowai.hpp` with `g++ -std=c++17 -Wall -Werror`;
//! - CMake `find_package(flowai 0.1 REQUIRED)` (the crate's major.minor) with
//!   `CMAKE_PREFIX_PATH`, linking `flowai::flowai` and `flowai::flowai_static`; and
//!   `find_package(flowai 9.0)` and `(flowai 0.2)` (major + 9, minor + 1) fail, so the version
//!   file is read.
//!
//! On CI (`CI=true`) a missing cargo-c, pkg-config, cmake or g++ fails the test.

use crate::support::*;
use flowai_emulator::{Emulator, EmulatorConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SONAME: &str = "libflowai_socket.so.0";

/// The C compiler flags of the pkg-config builds (beside what pkg-config gives).
const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror"];

/// The real file of the shared library: `libflowai_socket.so.<version>`.
fn real_name() -> String {
    format!("libflowai_socket.so.{}", env!("CARGO_PKG_VERSION"))
}

/// What `quickstart.c` and `quickstart.cpp` print when the round trip worked.
const QUICKSTART_LINES: &[&str] = &[
    "Delivered: traceId",
    "Reply in thread jane.doe: Event MY EVENT received",
    "Closed.",
];

/// One installed prefix, the sources copied outside the tree, and a running emulator.
struct Setup<'a> {
    prefix: &'a Path,
    work: &'a Path,
    base_url: &'a str,
}

impl Setup<'_> {
    fn libdir(&self) -> PathBuf {
        self.prefix.join("lib")
    }

    /// `pkg-config <args> flowai` against the installed prefix only, split into words.
    fn pkg_config(&self, args: &[&str]) -> Vec<String> {
        let mut cmd = Command::new("pkg-config");
        cmd.args(args)
            .arg("flowai")
            .env("PKG_CONFIG_PATH", self.libdir().join("pkgconfig"))
            .env_remove("PKG_CONFIG_LIBDIR");
        let out = expect_success(&format!("pkg-config {args:?}"), &cmd.output().unwrap());
        out.split_whitespace().map(str::to_string).collect()
    }

    /// Compiles `source` (a copy in the work directory) into the program `name` with
    /// `compiler`, the given flags and nothing else that points at the library.
    fn compile(
        &self,
        name: &str,
        compiler: &str,
        flags: &[&str],
        source: &str,
        link: &[String],
    ) -> PathBuf {
        let exe = self.work.join(name);
        let mut cmd = Command::new(compiler);
        cmd.args(flags)
            .arg(self.work.join(source))
            .arg("-o")
            .arg(&exe)
            .args(link)
            .current_dir(self.work);
        let out = run_with_deadline(cmd, Duration::from_secs(180));
        expect_success(&format!("{compiler} {source}"), &out);
        exe
    }

    /// Runs an installed-library program against the emulator as a user would (the
    /// library found through `LD_LIBRARY_PATH=<prefix>/lib` unless the program carries a
    /// run path), checks that it loads the installed library, and returns its output.
    fn run(&self, exe: &Path) -> String {
        let mut ldd = Command::new("ldd");
        ldd.arg(exe).env("LD_LIBRARY_PATH", self.libdir());
        let ldd = expect_success("ldd", &ldd.output().unwrap());
        let installed = self.libdir().join(SONAME);
        assert!(
            ldd.lines()
                .any(|l| l.contains(&format!("{SONAME} => {}", installed.display()))),
            "{} does not load {}:\n{ldd}",
            exe.display(),
            installed.display()
        );
        let mut cmd = Command::new(exe);
        cmd.env("LD_LIBRARY_PATH", self.libdir())
            .env("FLOWAI_BASE_URL", self.base_url)
            .env("FLOWAI_CLIENT_ID", "c-install")
            .env("FLOWAI_STAY_MS", "100");
        let out = run_with_deadline(cmd, Duration::from_secs(60));
        let stdout = expect_success(&exe.display().to_string(), &out);
        for line in QUICKSTART_LINES {
            assert!(stdout.contains(line), "{}: {stdout}", exe.display());
        }
        stdout
    }

    /// Runs a statically linked program (the library must not be a NEEDED entry).
    fn run_static(&self, exe: &Path) {
        let needed = needed(exe);
        assert!(
            !needed.iter().any(|n| n.starts_with("libflowai_socket")),
            "{} is not linked statically: {needed:?}",
            exe.display()
        );
        let mut cmd = Command::new(exe);
        cmd.env_remove("LD_LIBRARY_PATH")
            .env("FLOWAI_BASE_URL", self.base_url)
            .env("FLOWAI_CLIENT_ID", "c-install-static")
            .env("FLOWAI_STAY_MS", "100");
        let out = run_with_deadline(cmd, Duration::from_secs(60));
        let stdout = expect_success(&exe.display().to_string(), &out);
        assert!(stdout.contains(QUICKSTART_LINES[1]), "{stdout}");
    }

    /// `cmake` configure (and, when `build`, build) of `CMakeLists.txt` text in `work/<name>`
    /// with only `CMAKE_PREFIX_PATH` pointing at the install. Returns the build directory and
    /// the configure output (which the caller checks for success or failure).
    fn cmake(&self, name: &str, lists: &str) -> (PathBuf, Output) {
        let src = self.work.join(name);
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("CMakeLists.txt"), lists).unwrap();
        let build = src.join("build");
        let mut cmd = Command::new("cmake");
        cmd.arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", self.prefix.display()));
        (build, run_with_deadline(cmd, Duration::from_secs(120)))
    }
}

/// The NEEDED entries of an ELF file (`readelf -d`).
fn needed(elf: &Path) -> Vec<String> {
    dynamic_entries(elf, "(NEEDED)")
}

/// The files the install must hold beside the real shared library, relative to the prefix.
const INSTALLED: &[&str] = &[
    "include/flowai/flowai.h",
    "include/flowai/flowai.hpp",
    "lib/libflowai_socket.so.0",
    "lib/libflowai_socket.so",
    "lib/libflowai_socket.a",
    "lib/pkgconfig/flowai.pc",
    "share/cmake/flowai/flowai-config.cmake",
    "share/cmake/flowai/flowai-config-version.cmake",
];

fn check_layout(prefix: &Path) {
    for file in INSTALLED {
        assert!(prefix.join(file).exists(), "{file} was not installed");
    }
    let lib = prefix.join("lib");
    for link in [SONAME, "libflowai_socket.so"] {
        let target = std::fs::read_link(lib.join(link)).expect("a symlink");
        assert_eq!(target, Path::new(&real_name()));
    }
    let soname = dynamic_entries(&lib.join(real_name()), "(SONAME)");
    assert_eq!(soname, [SONAME]);
    eprintln!("installed {}: SONAME {soname:?}", prefix.display());
    let version = env!("CARGO_PKG_VERSION");
    // The installed headers are the committed ones (no second cbindgen run).
    for header in ["flowai.h", "flowai.hpp"] {
        let installed = std::fs::read(prefix.join("include/flowai").join(header)).unwrap();
        let committed = std::fs::read(repo().join("include").join(header)).unwrap();
        assert!(installed == committed, "installed {header} differs");
    }
    let pc = std::fs::read_to_string(lib.join("pkgconfig/flowai.pc")).unwrap();
    assert!(pc.contains(&format!("Version: {version}")), "{pc}");
    assert!(pc.contains("Libs.private: -l"), "{pc}");
}

#[test]
fn installed_package_builds_and_runs_c_and_cpp_programs() {
    let _timer = exit_after(Duration::from_secs(900), "c_install");
    let tools = [
        (
            "pkg-config",
            "the pkg-config builds of the installed package",
        ),
        ("cmake", "the CMake package"),
        ("g++", "the C++ build through the installed flowai.hpp"),
        ("readelf", "the SONAME checks"),
    ];
    if !tools.iter().all(|(tool, why)| require_tool(tool, why)) {
        return;
    }
    let Some(prefix) = cinstall() else {
        return;
    };
    let dir = scratch("c-install");
    check_layout(&prefix);

    // Outside the source tree: the sources are copies; nothing else points at the repo.
    let work = dir.join("user");
    std::fs::create_dir_all(&work).unwrap();
    for source in ["quickstart.c", "quickstart.cpp"] {
        std::fs::copy(repo().join("examples-c").join(source), work.join(source)).unwrap();
    }
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let base_url = emulator.base_url();
    let setup = Setup {
        prefix: &prefix,
        work: &work,
        base_url: &base_url,
    };
    let setup = &setup;

    std::thread::scope(|s| {
        s.spawn(move || {
            let flags = setup.pkg_config(&["--cflags", "--libs"]);
            let exe = setup.compile("qs-shared", "cc", C_FLAGS, "quickstart.c", &flags);
            let needed = needed(&exe);
            assert!(needed.iter().any(|n| n == SONAME), "{needed:?}");
            setup.run(&exe);
        });
        s.spawn(move || {
            // `--static` adds Libs.private; the archive is named so that the linker does not
            // take the .so that sits next to it.
            let mut flags = setup.pkg_config(&["--cflags", "--static", "--libs"]);
            for flag in &mut flags {
                if flag == "-lflowai_socket" {
                    *flag = "-l:libflowai_socket.a".to_string();
                }
            }
            let exe = setup.compile("qs-static", "cc", C_FLAGS, "quickstart.c", &flags);
            setup.run_static(&exe);
        });
        s.spawn(move || {
            let flags = setup.pkg_config(&["--cflags", "--libs"]);
            let exe = setup.compile(
                "qs-cpp",
                "g++",
                &["-std=c++17", "-Wall", "-Wextra", "-Werror"],
                "quickstart.cpp",
                &flags,
            );
            assert!(needed(&exe).iter().any(|n| n == SONAME));
            setup.run(&exe);
        });
        s.spawn(move || cmake_find_package(setup));
    });
    emulator.stop();
}

/// `find_package(flowai <major>.<minor> REQUIRED)`: shared, static and C++ programs build and run;
/// versions the install does not satisfy are refused.
fn cmake_find_package(setup: &Setup) {
    let number = |v: &str| v.parse::<u32>().expect("version number");
    let major = number(env!("CARGO_PKG_VERSION_MAJOR"));
    let minor = number(env!("CARGO_PKG_VERSION_MINOR"));
    let lists = format!(
        "cmake_minimum_required(VERSION 3.13)\n\
         project(uses_flowai C CXX)\n\
         find_package(flowai {major}.{minor} REQUIRED)\n\
         message(STATUS \"found flowai ${{flowai_VERSION}}\")\n\
         add_executable(quickstart ../quickstart.c)\n\
         target_link_libraries(quickstart PRIVATE flowai::flowai)\n\
         add_executable(quickstart-static ../quickstart.c)\n\
         target_link_libraries(quickstart-static PRIVATE flowai::flowai_static)\n\
         add_executable(quickstart-cpp ../quickstart.cpp)\n\
         target_compile_features(quickstart-cpp PRIVATE cxx_std_17)\n\
         target_link_libraries(quickstart-cpp PRIVATE flowai::flowai)\n"
    );
    let (build, out) = setup.cmake("cmake", &lists);
    let stdout = expect_success("cmake configure", &out);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        stdout.contains(&format!("found flowai {version}")),
        "{stdout}"
    );
    let mut compile = Command::new("cmake");
    compile.arg("--build").arg(&build);
    expect_success(
        "cmake --build",
        &run_with_deadline(compile, Duration::from_secs(300)),
    );
    for exe in ["quickstart", "quickstart-cpp"] {
        let exe = build.join(exe);
        assert!(needed(&exe).iter().any(|n| n == SONAME));
        setup.run(&exe);
    }
    setup.run_static(&build.join("quickstart-static"));

    // The version file: a newer minor or another major is refused (no compilers needed).
    for wanted in [format!("{}.0", major + 9), format!("{major}.{}", minor + 1)] {
        let lists = format!(
            "cmake_minimum_required(VERSION 3.13)\nproject(too_new NONE)\n\
             find_package(flowai {wanted} REQUIRED)\n"
        );
        let (_, out) = setup.cmake(&format!("cmake-{wanted}"), &lists);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let words = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            !out.status.success()
                && words.contains(&format!("compatible with requested version \"{wanted}\"")),
            "find_package(flowai {wanted}) was accepted:\n{stderr}"
        );
    }
}
