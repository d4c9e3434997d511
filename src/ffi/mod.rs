//! The C ABI: the only place with `extern "C"`. The header `include/flowai.h` is generated
//! from this module by cbindgen (see `build.rs` and `cbindgen.toml`); the doc comments here
//! are the C documentation.
//!
//! One module per C object: [`result`] (the result codes, one list), [`library`] (what a
//! code means, the last error, strings, versions), [`config`], [`client`], [`message`],
//! [`event`] and [`log`]. `guard` holds the one panic guard and the one NULL/UTF-8 check that
//! every exported body goes through. The layer only converts and forwards to the Rust API;
//! it holds no logic of its own.
//!
//! Layers, bottom up (no module uses one above it): `result` → `guard` → the rest.
//!
//! Safety, once for every function here: each pointer argument is either NULL (answered with
//! `FLOWAI_NULL_ARGUMENT` unless the doc says NULL is allowed) or valid for the access the doc
//! describes; strings are NUL-terminated; handles come from the matching `_new`/`_connect`
//! and are not used after their `_free`.
// The rule above stands for the `# Safety` section of every `unsafe extern "C" fn`.
#![allow(clippy::missing_safety_doc)]
// C names: `flowai_client`, `flowai_result`, `FLOWAI_OK`, as they appear in the header.
#![allow(non_camel_case_types)]

// Declared in the order the header presents them (blank lines keep rustfmt from sorting).
pub mod result;

mod guard;

pub mod library;

pub mod config;

pub mod message;

pub mod client;

pub mod event;

pub mod log;

/// Version of the C ABI described by this header. It grows by one whenever a function or a
/// code is added; nothing released is ever changed or renumbered.
pub const FLOWAI_ABI_VERSION: u32 = 3;
