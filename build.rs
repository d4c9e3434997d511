//! Generates the C header `flowai.h` from `src/ffi/` with cbindgen (configured by
//! `cbindgen.toml`): always into `OUT_DIR`, and into `include/flowai.h` only when the
//! environment variable `FLOWAI_WRITE_HEADER=1` asks for it, so packaging never writes into
//! the source tree. `tests/c/header_drift.rs` fails when the committed header differs from the
//! one generated here.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cmake/flowai-config-version.cmake.in");
    println!("cargo:rerun-if-env-changed=FLOWAI_WRITE_HEADER");

    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cannot read cbindgen.toml: {e}"));
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    config.after_includes = Some(format!(
        "\n/** Version of the library this header was generated for. */\n\
         #define FLOWAI_VERSION \"{}\"\n\
         #define FLOWAI_VERSION_MAJOR {}\n\
         #define FLOWAI_VERSION_MINOR {}\n\
         #define FLOWAI_VERSION_PATCH {}",
        env::var("CARGO_PKG_VERSION").expect("version"),
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
    ));

    // Only the FFI module is parsed (it follows its `mod` items), so the header needs no
    // `cargo metadata` run and no dependency sources.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/ffi/mod.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate flowai.h: {e}"));
    bindings.write_to_file(out.join("flowai.h"));
    if env::var("FLOWAI_WRITE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(dir.join("include/flowai.h"));
    }
    write_cmake_version_file(&dir, &out);
}

/// The CMake package's version file: the template with the crate version and the target's
/// pointer size filled in.
fn write_cmake_version_file(dir: &std::path::Path, out: &std::path::Path) {
    let template = dir.join("cmake/flowai-config-version.cmake.in");
    let text = std::fs::read_to_string(&template)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", template.display()));
    let bits: u32 = env::var("CARGO_CFG_TARGET_POINTER_WIDTH")
        .expect("CARGO_CFG_TARGET_POINTER_WIDTH")
        .parse()
        .expect("pointer width");
    let text = text
        .replace(
            "@VERSION@",
            &env::var("CARGO_PKG_VERSION").expect("version"),
        )
        .replace(
            "@VERSION_MAJOR@",
            &env::var("CARGO_PKG_VERSION_MAJOR").expect("version"),
        )
        .replace("@POINTER_BYTES@", &(bits / 8).to_string());
    let cmake = out.join("cmake");
    std::fs::create_dir_all(&cmake).expect("OUT_DIR/cmake");
    std::fs::write(cmake.join("flowai-config-version.cmake"), text)
        .expect("write flowai-config-version.cmake");
}
