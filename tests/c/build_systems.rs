//! `examples-c/Makefile` (through pkg-config) and `CMakeLists.txt` (through
//! `find_package(flowai)`, when cmake is installed) build every C example, and the C++ ones
//! over `flowai.hpp`, shared and static, against the package `cargo cinstall` installed
//! (`support::cinstall`), with no link flags of their own: the shared programs need
//! `libflowai_socket.so.0`, the static ones no flowai library at all.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn has(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every example was built both ways, and each links the library the way its name says.
fn assert_built(build: &Path, examples: &[&str]) {
    for example in examples {
        for link in ["shared", "static"] {
            let exe = build.join(format!("{example}-{link}"));
            assert!(exe.exists(), "{} was not built", exe.display());
            let needed: Vec<String> = dynamic_entries(&exe, "(NEEDED)")
                .into_iter()
                .filter(|n| n.starts_with("libflowai_socket"))
                .collect();
            if link == "shared" {
                assert_eq!(needed, ["libflowai_socket.so.0"], "{}", exe.display());
            } else {
                assert!(needed.is_empty(), "{}: {needed:?}", exe.display());
            }
        }
    }
}

#[test]
fn makefile_builds_shared_and_static_through_pkg_config() {
    let _timer = exit_after(Duration::from_secs(900), "c_build_systems make");
    if !require_tool("make", "the examples-c Makefile")
        || !require_tool("pkg-config", "the examples-c Makefile")
    {
        return;
    }
    let Some(prefix) = cinstall() else {
        return;
    };
    let dir = scratch("make");
    let build = dir.join("build");
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(repo().join("examples-c"))
        .arg("-j2")
        .arg("CARGO=:")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BUILD={}", build.display()))
        .arg("all");
    let out = run_with_deadline(make, Duration::from_secs(300));
    let log = expect_success("make -C examples-c", &out);
    assert!(
        !log.contains("cinstall --release"),
        "the install was up to date, yet make ran it again:\n{log}"
    );
    assert_built(
        &build,
        &["quickstart", "events", "soak", "bench", "quickstart-cpp"],
    );
}

#[test]
fn cmake_builds_shared_and_static_through_find_package() {
    let _timer = exit_after(Duration::from_secs(900), "c_build_systems cmake");
    if !has("cmake") {
        eprintln!("note: cmake not installed; CMakeLists.txt not exercised");
        return;
    }
    let Some(prefix) = cinstall() else {
        return;
    };
    let dir = scratch("cmake");
    let build = dir.join("build");
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(repo().join("examples-c"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()));
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
    assert_built(
        &build,
        &["quickstart", "events", "soak", "bench", "quickstart-cpp"],
    );
}
