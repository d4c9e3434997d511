//! The committed `include/flowai.h` is exactly what build.rs generated for this build (so it
//! never drifts from the Rust doc comments and signatures), and its version macros match
//! Cargo.toml and the library.

use std::ffi::CStr;

/// The header build.rs generated into OUT_DIR for this very build.
const FRESH: &str = include_str!(concat!(env!("OUT_DIR"), "/flowai.h"));

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/flowai.h"))
        .expect("include/flowai.h is committed")
}

fn define(header: &str, name: &str) -> String {
    header
        .lines()
        .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("{name} is not defined in the header"))
        .trim()
        .to_string()
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    let committed = committed();
    if committed != FRESH {
        let first = committed
            .lines()
            .zip(FRESH.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(FRESH.lines().count()));
        panic!(
            "include/flowai.h differs from the generated header (first at line {}):\n  \
             committed: {:?}\n  generated: {:?}\nRegenerate it with `FLOWAI_WRITE_HEADER=1 cargo \
             build` and commit it.",
            first + 1,
            committed.lines().nth(first),
            FRESH.lines().nth(first)
        );
    }
}

#[test]
fn version_macros_match_cargo_toml() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .expect("package version")
        .trim_matches('"')
        .to_string();
    let header = committed();
    let parts: Vec<&str> = version.split(['.', '-', '+']).collect();
    assert_eq!(define(&header, "FLOWAI_VERSION"), format!("\"{version}\""));
    assert_eq!(define(&header, "FLOWAI_VERSION_MAJOR"), parts[0]);
    assert_eq!(define(&header, "FLOWAI_VERSION_MINOR"), parts[1]);
    assert_eq!(define(&header, "FLOWAI_VERSION_PATCH"), parts[2]);

    let abi = define(&header, "FLOWAI_ABI_VERSION");
    assert_eq!(abi, flowai_socket::ffi::FLOWAI_ABI_VERSION.to_string());
    assert_eq!(
        flowai_socket::ffi::result::flowai_abi_version(),
        flowai_socket::ffi::FLOWAI_ABI_VERSION
    );
    let lib_version = unsafe { CStr::from_ptr(flowai_socket::ffi::result::flowai_version()) };
    assert_eq!(lib_version.to_str().unwrap(), version);
}
