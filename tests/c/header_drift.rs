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
        flowai_socket::ffi::library::flowai_abi_version(),
        flowai_socket::ffi::FLOWAI_ABI_VERSION
    );
    let lib_version = unsafe { CStr::from_ptr(flowai_socket::ffi::library::flowai_version()) };
    assert_eq!(lib_version.to_str().unwrap(), version);
}

/// Every result code's doc in the header names its class ("Final" or "Retryable", nothing
/// for `FLOWAI_OK`), and it is the class the library gives the code.
#[test]
fn every_result_code_states_the_class_the_library_gives_it() {
    use flowai_socket::ffi::library::{flowai_result_is_final, flowai_result_is_retryable};
    let header = committed();
    let start = header
        .find("enum flowai_result\n")
        .expect("enum flowai_result");
    let end = start + header[start..].find("};").expect("end of the enum");
    let mut doc = String::new();
    let mut codes = 0;
    for line in header[start..end].lines().map(str::trim) {
        if let Some(text) = line.strip_prefix('*').or(line.strip_prefix("/**")) {
            doc.push_str(text.trim_end_matches('/'));
            doc.push(' ');
            continue;
        }
        let Some((name, number)) = line.trim_end_matches(',').split_once(" = ") else {
            continue;
        };
        let code: u32 = number.parse().expect("a number");
        let stated = (doc.contains("Final"), doc.contains("Retryable"));
        let actual = (
            flowai_result_is_final(code) == 1,
            flowai_result_is_retryable(code) == 1,
        );
        assert_eq!(
            stated, actual,
            "{name} = {code}: (final, retryable) of its doc: {doc}"
        );
        doc.clear();
        codes += 1;
    }
    assert!(codes > 18, "only {codes} codes read");
}
