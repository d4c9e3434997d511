//! `examples-c/Makefile` (and `CMakeLists.txt`, when cmake is installed) build every C
//! example, and the C++ ones over `flowai.hpp`, against the freshly built shared and static
//! libraries, and the generated `flowai.pc` works with pkg-config.

use crate::support::*;
use std::process::Command;
use std::time::Duration;

fn has(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn makefile_builds_shared_static_and_pkg_config() {
    let _timer = exit_after(Duration::from_secs(600), "c_build_systems make");
    if !require_tool("make", "the examples-c Makefile") {
        return;
    }
    let dir = scratch("make");
    let lib = copy_libraries(&dir);
    let build = dir.join("build");
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(repo().join("examples-c"))
        .arg("-j2")
        .arg("CARGO=:")
        .arg(format!("LIBDIR={}", lib.display()))
        .arg(format!("BUILD={}", build.display()))
        .arg("all");
    let out = run_with_deadline(make, Duration::from_secs(300));
    expect_success("make -C examples-c", &out);
    let c = ["quickstart", "events", "soak", "bench"];
    let cpp = ["quickstart-cpp"];
    for example in c.iter().chain(&cpp) {
        for link in ["shared", "static"] {
            let exe = build.join(format!("{example}-{link}"));
            assert!(exe.exists(), "{} was not built", exe.display());
        }
    }
    let pc = std::fs::read_to_string(build.join("flowai.pc")).expect("flowai.pc");
    assert!(pc.contains(&format!("libdir={}", lib.display())), "{pc}");
    assert!(
        pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{pc}"
    );

    if has("pkg-config") {
        let mut check = Command::new("make");
        check
            .arg("-C")
            .arg(repo().join("examples-c"))
            .arg("CARGO=:")
            .arg(format!("LIBDIR={}", lib.display()))
            .arg(format!("BUILD={}", build.display()))
            .arg("pkgconfig-check");
        let out = run_with_deadline(check, Duration::from_secs(120));
        expect_success("make pkgconfig-check", &out);
        assert!(build.join("quickstart-pkgconfig").exists());
    } else {
        eprintln!("note: pkg-config not found; flowai.pc not exercised");
    }
}

#[test]
fn cmake_builds_shared_and_static_when_available() {
    let _timer = exit_after(Duration::from_secs(600), "c_build_systems cmake");
    if !has("cmake") {
        eprintln!("note: cmake not installed; CMakeLists.txt not exercised");
        return;
    }
    let dir = scratch("cmake");
    let lib = copy_libraries(&dir);
    let build = dir.join("build");
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(repo().join("examples-c"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DFLOWAI_LIBDIR={}", lib.display()));
    expect_success(
        "cmake configure",
        &run_with_deadline(configure, Duration::from_secs(120)),
    );
    let mut compile = Command::new("cmake");
    compile.arg("--build").arg(&build).args(["-j", "2"]);
    expect_success(
        "cmake --build",
        &run_with_deadline(compile, Duration::from_secs(300)),
    );
    for example in ["quickstart", "quickstart-cpp"] {
        for link in ["shared", "static"] {
            let exe = build.join(format!("{example}-{link}"));
            assert!(exe.exists(), "{} was not built", exe.display());
        }
    }
    assert!(build.join("flowai.pc").exists());
}
