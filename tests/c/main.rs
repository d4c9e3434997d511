//! The C ABI from C and C++: the C test programs (`test_abi.c`, `close_in_callback.c`,
//! `test_cpp.cpp`, here) and the examples of `examples-c/`, compiled with the system
//! compilers against freshly built libraries and run against the emulator, under valgrind and
//! the sanitizers; the build systems; the header against the source; the panic guard.
//!
//! `cargo test` builds only the rlib the tests link, so these tests build the cdylib and the
//! staticlib themselves with a nested `cargo build --lib --package flowai-socket` (once per
//! profile and process; see `support.rs`). A hang fails the whole binary through
//! `support::exit_after` (C code cannot be interrupted from a Rust thread).

mod support;

mod abi;
mod bench;
mod build_systems;
mod close_in_callback;
mod cpp_wrapper;
mod examples;
mod ffi_guard;
mod header_drift;
mod install;
mod sanitizers;
