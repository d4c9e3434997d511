//! The `flowai` binary end to end (cargo builds it for these tests: `CARGO_BIN_EXE_flowai`),
//! against emulators the tests start.

// The root package's test helpers (an emulator per test, the time limit, the test proxy),
// shared by path: they are test code of this workspace, not a crate of their own.
#[path = "../../../tests/common/mod.rs"]
mod common;

mod bench;
mod chat;
mod exit_codes;
mod proxy;
