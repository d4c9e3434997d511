//! The Python package as a user gets it. `pip wheel ./python` builds the library with cargo
//! (the build hook in `python/hatch_build.py`) and bundles it, stripped, in one
//! `py3-none-<platform>` wheel; the wheel goes into a fresh `python -m venv` (with pytest,
//! mypy and hatchling from PyPI) and, with no `FLOWAI_LIB` anywhere, the tests check in
//! parallel: the wheel's tag and contents, the import and the example against the emulator,
//! the pytest suite (`python/tests`) against the emulator, and `mypy --strict` on the
//! package and on a program using it. The wheel and the venv are made once per test process
//! (under cargo's `CARGO_TARGET_TMPDIR`, replaced by the next run). Without python3 or its
//! venv module the tests fail on CI and are skipped with a note elsewhere.

// The helpers of the C tests: the libraries' build, tools that may be missing, deadlines.
#[path = "../c/support.rs"]
mod support;

use flowai_emulator::{Emulator, EmulatorConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use support::*;

/// The built wheel and the venv it is installed in.
struct Installed {
    /// Holds the wheel, the venv and the tests' scratch files.
    dir: PathBuf,
    wheel: PathBuf,
    /// The venv's interpreter.
    python: PathBuf,
}

impl Installed {
    /// The venv's python with a clean environment for the package: no `FLOWAI_LIB`, no
    /// `PYTHONPATH`, no bytecode written into the source tree.
    fn python(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.current_dir(&self.dir)
            .env_remove("FLOWAI_LIB")
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        cmd
    }

    /// Like `python`, pointed at an emulator.
    fn python_for(&self, emulator: &Emulator) -> Command {
        let mut cmd = self.python();
        cmd.env("FLOWAI_BASE_URL", emulator.base_url())
            .env("FLOWAI_CLIENT_ID", "python-package-test");
        cmd
    }
}

/// Runs `cmd` (a setup step) and panics with its output unless it succeeds.
fn setup_step(what: &str, cmd: Command, limit: Duration) -> String {
    expect_success(what, &run_with_deadline(cmd, limit))
}

/// Builds the wheel and installs it in a fresh venv, once per test process; `None` (after a
/// note) when python3 or its venv module is missing, except on CI where that fails.
fn installed() -> Option<&'static Installed> {
    static INSTALLED: OnceLock<Option<Installed>> = OnceLock::new();
    INSTALLED.get_or_init(install).as_ref()
}

/// Starts a test of this file: its time limit (long enough for a first build of the
/// library; keep the timer for the whole test), then the shared wheel and venv.
fn package(test: &'static str) -> Option<(ExitTimer, &'static Installed)> {
    let timer = exit_after(Duration::from_secs(1200), test);
    installed().map(|installed| (timer, installed))
}

fn install() -> Option<Installed> {
    if !require_tool("python3", "the Python package tests") {
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-package");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let venv = dir.join("venv");
    let made = run_with_deadline(
        {
            let mut cmd = Command::new("python3");
            cmd.args(["-m", "venv"]).arg(&venv);
            cmd
        },
        Duration::from_secs(120),
    );
    if !made.status.success() {
        let why = String::from_utf8_lossy(&made.stderr);
        assert!(!on_ci(), "python3 -m venv is required on CI: {why}");
        eprintln!("note: python3 -m venv failed; skipping the Python package tests: {why}");
        return None;
    }
    let installed = Installed {
        wheel: PathBuf::new(),
        python: venv.join("bin").join("python"),
        dir,
    };
    // The test tools, from PyPI (hatchling too, for mypy to check the build hook).
    let mut tools = installed.python();
    tools.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "pytest",
        "mypy",
        "hatchling",
    ]);
    setup_step(
        "pip install pytest mypy hatchling",
        tools,
        Duration::from_secs(300),
    );

    // The wheel, as `pip install ./python` builds it (isolated build, hatchling from PyPI);
    // the library in the profile of this test run, so cargo rebuilds nothing the suite built.
    let dist = installed.dir.join("dist");
    let profile = if profile_dir().ends_with("release") {
        "release"
    } else {
        "dev"
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut build = installed.python();
    build
        .args(["-m", "pip", "wheel", "--no-deps", "--quiet", "-w"])
        .arg(&dist)
        .arg(repo().join("python"))
        .env("CARGO", cargo)
        .env("FLOWAI_CARGO_PROFILE", profile);
    setup_step("pip wheel ./python", build, Duration::from_secs(900));
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("dist dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(
        wheels.len(),
        1,
        "one wheel expected in {}: {wheels:?}",
        dist.display()
    );
    let wheel = wheels[0].clone();

    let mut add = installed.python();
    add.args(["-m", "pip", "install", "--no-deps", "--quiet"])
        .arg(&wheel);
    setup_step("pip install the wheel", add, Duration::from_secs(120));
    Some(Installed { wheel, ..installed })
}

#[test]
fn the_wheel_is_one_py3_platform_wheel_with_the_stripped_library() {
    let Some((_timer, installed)) = package("python_package: wheel") else {
        return;
    };
    let name = installed.wheel.file_name().unwrap().to_string_lossy();
    let version = env!("CARGO_PKG_VERSION");
    let arch = std::env::consts::ARCH;
    assert_eq!(
        name,
        format!("flowai_socket-{version}-py3-none-linux_{arch}.whl")
    );
    let size = std::fs::metadata(&installed.wheel).expect("wheel").len();
    eprintln!("wheel {name}: {size} bytes");

    // Its files, its WHEEL metadata, and the library taken out of it.
    let unpacked = installed.dir.join("unpacked");
    let mut unzip = installed.python();
    unzip
        .args(["-m", "zipfile", "-e"])
        .arg(&installed.wheel)
        .arg(&unpacked);
    setup_step("unzip the wheel", unzip, Duration::from_secs(60));
    for file in ["py.typed", "__init__.py", "libflowai_socket.so"] {
        let path = unpacked.join("flowai_socket").join(file);
        assert!(path.is_file(), "{} is not in the wheel", path.display());
    }
    let meta = std::fs::read_to_string(
        unpacked
            .join(format!("flowai_socket-{version}.dist-info"))
            .join("WHEEL"),
    )
    .expect("WHEEL");
    assert!(meta.contains("Root-Is-Purelib: false"), "{meta}");
    assert!(
        meta.contains(&format!("Tag: py3-none-linux_{arch}")),
        "{meta}"
    );

    let library = unpacked.join("flowai_socket").join("libflowai_socket.so");
    if !require_tool("readelf", "checking the bundled library is stripped") {
        return;
    }
    let sections = readelf(&["-S", "-W"], &library);
    assert!(!sections.contains(".symtab"), "not stripped:\n{sections}");
    assert!(
        !sections.contains(".debug_"),
        "debug info left:\n{sections}"
    );
    let exported = readelf(&["--dyn-syms", "-W"], &library);
    for function in header_functions() {
        assert!(exported.contains(&function), "{function} is not exported");
    }
}

fn readelf(args: &[&str], file: &Path) -> String {
    let mut cmd = Command::new("readelf");
    cmd.args(args).arg(file);
    setup_step("readelf", cmd, Duration::from_secs(30))
}

#[test]
fn the_installed_package_imports_and_runs_the_example() {
    let Some((_timer, installed)) = package("python_package: example") else {
        return;
    };
    let mut import = installed.python();
    import.args([
        "-c",
        "import flowai_socket as f; print(f.__version__); print(f.library_path())",
    ]);
    let out = setup_step("import flowai_socket", import, Duration::from_secs(60));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(env!("CARGO_PKG_VERSION")), "{out}");
    let loaded = PathBuf::from(lines.next().unwrap_or_default());
    assert!(
        loaded.starts_with(installed.dir.join("venv")),
        "loaded {} instead of the bundled library",
        loaded.display()
    );

    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let mut example = installed.python_for(&emulator);
    example.arg(repo().join("python").join("flowai_example.py"));
    let out = run_with_deadline(example, Duration::from_secs(60));
    let stdout = expect_success("python flowai_example.py", &out);
    assert!(stdout.contains("Delivered: traceId"), "{stdout}");
    assert!(
        stdout.contains("Reply in thread jane.doe: Event MY EVENT received"),
        "{stdout}"
    );
    assert!(stdout.contains("Closed."), "{stdout}");
    emulator.stop();
}

#[test]
fn the_pytest_suite_passes_against_the_installed_wheel() {
    let Some((_timer, installed)) = package("python_package: pytest") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let mut pytest = installed.python_for(&emulator);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("python").join("tests"))
        .env("FLOWAI_EXPECT_BUNDLED", "1");
    let out = run_with_deadline(pytest, Duration::from_secs(300));
    let stdout = expect_success("pytest python/tests", &out);
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.contains(" passed"), "{stdout}");
    assert!(
        !summary.contains("skipped"),
        "nothing may skip here:\n{stdout}"
    );
    eprintln!("pytest: {summary}");
    emulator.stop();
}

#[test]
fn the_package_and_its_users_type_check_with_mypy_strict() {
    let Some((_timer, installed)) = package("python_package: mypy") else {
        return;
    };
    let cache = installed.dir.join("mypy-cache");
    // The package's own sources and build hook ([tool.mypy] in python/pyproject.toml) ...
    let mut own = installed.python();
    own.current_dir(repo().join("python"))
        .args(["-m", "mypy", "--cache-dir"])
        .arg(&cache);
    setup_step(
        "mypy (python/pyproject.toml)",
        own,
        Duration::from_secs(300),
    );
    // ... and a program using the installed package through its py.typed hints.
    let mut user = installed.python();
    user.args(["-m", "mypy", "--strict", "--cache-dir"])
        .arg(&cache)
        .arg(repo().join("python").join("flowai_example.py"));
    setup_step(
        "mypy --strict flowai_example.py",
        user,
        Duration::from_secs(300),
    );
}
