//! # flowai-socket
//!
//! A synchronous, blocking client for the Flow (flow.ai / Khoros Flow) Socket API, usable
//! from Rust, from C and C++ through a stable C ABI (`include/flowai.h`), and from Python
//! through ctypes.
//!
//! ```no_run
//! use flowai_socket::{Client, Config, Event, Message};
//! use std::time::Duration;
//!
//! let client = Client::connect(Config::new("YOUR CLIENTID").thread_id("jane.doe"))?;
//! let trace = client.send(Message::event("MY EVENT"))?;
//! client.wait_delivered(trace, Duration::from_secs(5))?;
//! for event in client.events() {
//!     if let Event::Reply(reply) = event {
//!         println!("{}", reply.text());
//!         break;
//!     }
//! }
//! # Ok::<(), flowai_socket::Error>(())
//! ```
//!
//! Threads: each client runs one I/O thread (blocked in `poll(2)` when idle) and one
//! keepalive thread (asleep between pings). A Flow-like server for tests and offline
//! development is the workspace's crate `flowai-emulator` (or `flowai emulator`, the CLI).
#![deny(missing_docs)]

mod client;
pub mod config;
mod error;
pub mod ffi;
pub mod handshake;
pub mod ids;
pub mod protocol;
pub mod rest;
pub mod secret;
pub mod state_file;
mod transport;

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub mod test_hooks;

pub use client::{Client, Dispatcher, Event, Events};
pub use config::{Backoff, Config, ProxySetting, SessionPolicy, Settings};
pub use error::{Error, Result};
pub use protocol::{Attachment, Message, Metadata, Originator, Profile, Role, TraceId};
pub use rest::{History, HistoryEntry, UploadResult};
pub use secret::Secret;
