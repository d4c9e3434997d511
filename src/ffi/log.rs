//! Logging to C: a `log::Log` implementation that forwards the library's log records
//! (connection lost, reconnect attempts, …) to a C callback.

use super::guard::{guard, ok, to_c_string};
use super::result::{flowai_result, Failure};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::{OnceLock, RwLock};

/// Log levels for `flowai_set_log_callback` and the log callback's `level` argument.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum flowai_log_level {
    /// Nothing is logged (as `max_level`).
    FLOWAI_LOG_OFF = 0,
    /// Errors.
    FLOWAI_LOG_ERROR = 1,
    /// Warnings: a lost connection, a handshake still busy at close.
    FLOWAI_LOG_WARN = 2,
    /// Information: failed connect or reconnect attempts.
    FLOWAI_LOG_INFO = 3,
    /// Debugging details.
    FLOWAI_LOG_DEBUG = 4,
    /// Everything.
    FLOWAI_LOG_TRACE = 5,
}

/// A function that receives log records. It runs on the thread that logs (often a client's
/// I/O thread), possibly on several threads at once. Records of the library itself never hold
/// a secret (nonces, one-time tokens and single-use URLs appear as `***`); the libraries it
/// builds on dump raw HTTP headers and WebSocket frames, secrets included, at debug and trace
/// level, so their records are passed on only from info level up. `level` is a
/// `flowai_log_level` (1 = error … 5 = trace); `target` (the Rust module, e.g.
/// `"flowai_socket::client::reconnect"`) and `message` are borrowed for the call only. Records
/// logged while the callback runs on the same thread are dropped. It may run while a client
/// holds internal locks, so it must not call flowai client functions; nor block for long,
/// unwind, or call `flowai_set_log_callback`.
pub type flowai_log_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct Sink {
    function: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the caller of `flowai_set_log_callback` states that the callback and its
// user_data may be used from any thread.
unsafe impl Send for Sink {}
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether our logger became the process's `log` logger (it can be set only once).
static INSTALLED: OnceLock<bool> = OnceLock::new();

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct Forwarder;

/// Whether a record may reach C: every record of this crate; of the dependencies (native-tls,
/// tungstenite, …), whose debug and trace records are raw wire dumps with the nonce in them,
/// only info and above.
fn passed_on(metadata: &log::Metadata<'_>) -> bool {
    metadata.target().starts_with(env!("CARGO_CRATE_NAME")) || metadata.level() <= log::Level::Info
}

static FORWARDER: Forwarder = Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && passed_on(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || IN_CALLBACK.with(Cell::get) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = sink.as_ref() else {
            return;
        };
        let target = to_c_string(record.target());
        let message = to_c_string(&record.args().to_string());
        IN_CALLBACK.with(|c| c.set(true));
        // SAFETY: registered by `flowai_set_log_callback` for calls from any thread; the
        // strings live until the call returns.
        unsafe {
            (sink.function)(
                sink.user_data,
                record.level() as u32,
                target.as_ptr(),
                message.as_ptr(),
            )
        };
        IN_CALLBACK.with(|c| c.set(false));
    }

    fn flush(&self) {}
}

/// Sends the library's log records up to `max_level` (a `flowai_log_level`, 0–5) to
/// `callback` with `user_data` (see `flowai_log_callback`), replacing any callback set
/// before. A NULL `callback` (or `max_level` 0) turns logging off: when this returns, the
/// old callback is not running and will not be called again. Process-wide; callable from any
/// thread except from inside the log callback (`FLOWAI_INVALID_STATE`).
///
/// `FLOWAI_INVALID_ARGUMENT` for a `max_level` above 5; `FLOWAI_INVALID_STATE` when the
/// program already installed another logger of the Rust `log` crate.
#[no_mangle]
pub unsafe extern "C" fn flowai_set_log_callback(
    callback: flowai_log_callback,
    user_data: *mut c_void,
    max_level: u32,
) -> flowai_result {
    guard(|| {
        let level = match max_level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            5 => log::LevelFilter::Trace,
            other => {
                return Err(Failure::new(
                    flowai_result::FLOWAI_INVALID_ARGUMENT,
                    format!("max_level must be a flowai_log_level from 0 to 5, not {other}"),
                ))
            }
        };
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure::new(
                flowai_result::FLOWAI_INVALID_STATE,
                "flowai_set_log_callback called from inside the log callback",
            ));
        }
        let sink = callback.map(|function| Sink {
            function,
            user_data,
        });
        if sink.is_some() && !*INSTALLED.get_or_init(|| log::set_logger(&FORWARDER).is_ok()) {
            return Err(Failure::new(
                flowai_result::FLOWAI_INVALID_STATE,
                "another logger of the Rust `log` crate is installed in this process",
            ));
        }
        let on = sink.is_some();
        // Taking the write lock waits for callbacks in progress on other threads.
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
        if INSTALLED.get() == Some(&true) {
            log::set_max_level(if on { level } else { log::LevelFilter::Off });
        }
        ok()
    })
}
