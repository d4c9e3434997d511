//! Result codes, the thread's last error, library strings and versions.

use super::guard::{guard, to_c_string};
use crate::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

/// The outcome of a call. 0 is success; every other value names one kind of failure, with
/// the details in `flowai_last_error()`. Codes are never renumbered: a retired code keeps
/// its number (as a comment) and new codes are added at the end.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum flowai_result {
    /// Success.
    FLOWAI_OK = 0,
    /// A required pointer argument was NULL.
    FLOWAI_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    FLOWAI_INVALID_UTF8 = 2,
    /// An argument was not valid: an unknown enum or boolean value, malformed JSON, a message
    /// the server would refuse (no threadId, neither speech nor attachment), a NaN number.
    FLOWAI_INVALID_ARGUMENT = 3,
    /// The call does not fit the current state: `flowai_client_recv` while a callback is
    /// registered, an event label without an event attachment, a log callback while another
    /// logger owns the process, changing the log callback from inside it.
    FLOWAI_INVALID_STATE = 4,
    /// The configuration is not usable (empty clientId, bad URL, zero timeout, bad
    /// certificate, an `http://` base URL or `ws://` endpoint to another machine without
    /// `flowai_config_set_allow_insecure`, a bad proxy URL, a proxy answering 407, …). Final.
    FLOWAI_CONFIG = 5,
    /// A call that takes `timeout_ms` did not finish in time. Retryable.
    FLOWAI_TIMEOUT = 6,
    /// The client was used after `flowai_client_close`.
    FLOWAI_CLOSED = 7,
    /// The client has stopped for good (a final error, or reconnecting gave up) and every
    /// event was received; see `flowai_last_error()` for why.
    FLOWAI_CONNECTION_CLOSED = 8,
    /// The server refused for good (HTTP 400: bad clientId or configuration; 401–403:
    /// unauthorized or origin not whitelisted; a 3xx redirect, which is never followed), or a
    /// proxy refused the tunnel (403). Final.
    FLOWAI_REJECTED = 9,
    /// The server is unavailable for now (any 5xx, 500 included; 404, 429; a proxy that
    /// cannot reach it). Retryable.
    FLOWAI_UNAVAILABLE = 10,
    /// The server answered something that is not the Flow protocol. Retryable.
    FLOWAI_PROTOCOL = 11,
    /// A network failure: refused, reset, unreachable, DNS, EOF, also during the TLS
    /// handshake or the WebSocket upgrade. Retryable.
    FLOWAI_NETWORK = 12,
    /// The server's certificate failed verification; `flowai_last_error()` says which check:
    /// expired, hostname mismatch, unknown issuer (CA not trusted), other. Final.
    FLOWAI_TLS = 13,
    /// The outbox is full: the message was NOT queued. Wait for deliveries, then send again.
    FLOWAI_OUTBOX_FULL = 14,
    /// The message was written but its delivery can no longer be confirmed (connection lost
    /// with the outbox turned off).
    FLOWAI_NOT_DELIVERED = 15,
    /// A file could not be read or written. Retryable.
    FLOWAI_IO = 16,
    /// A bug: the library panicked. The call did nothing more; details in the last error.
    FLOWAI_PANIC = 17,
    /// The server refused a request body as too large (HTTP 413: a file for
    /// `flowai_client_upload` over the project's limit). Final: send a smaller file.
    FLOWAI_TOO_LARGE = 18,
}

impl flowai_result {
    fn from_u32(code: u32) -> Option<flowai_result> {
        use flowai_result::*;
        const ALL: [flowai_result; 19] = [
            FLOWAI_OK,
            FLOWAI_NULL_ARGUMENT,
            FLOWAI_INVALID_UTF8,
            FLOWAI_INVALID_ARGUMENT,
            FLOWAI_INVALID_STATE,
            FLOWAI_CONFIG,
            FLOWAI_TIMEOUT,
            FLOWAI_CLOSED,
            FLOWAI_CONNECTION_CLOSED,
            FLOWAI_REJECTED,
            FLOWAI_UNAVAILABLE,
            FLOWAI_PROTOCOL,
            FLOWAI_NETWORK,
            FLOWAI_TLS,
            FLOWAI_OUTBOX_FULL,
            FLOWAI_NOT_DELIVERED,
            FLOWAI_IO,
            FLOWAI_PANIC,
            FLOWAI_TOO_LARGE,
        ];
        ALL.iter().copied().find(|c| *c as u32 == code)
    }
}

/// A failed call: its code and the text for `flowai_last_error()`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: flowai_result,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: flowai_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        use flowai_result::*;
        let code = match &e {
            Error::Config(_) => FLOWAI_CONFIG,
            Error::InvalidArgument(_) => FLOWAI_INVALID_ARGUMENT,
            Error::TooLarge(_) => FLOWAI_TOO_LARGE,
            Error::Rejected { .. } => FLOWAI_REJECTED,
            Error::Unavailable { .. } => FLOWAI_UNAVAILABLE,
            Error::Protocol(_) => FLOWAI_PROTOCOL,
            Error::Network(_) => FLOWAI_NETWORK,
            Error::Tls(_) => FLOWAI_TLS,
            Error::Timeout(_) => FLOWAI_TIMEOUT,
            Error::OutboxFull(_) => FLOWAI_OUTBOX_FULL,
            Error::NotDelivered(_) => FLOWAI_NOT_DELIVERED,
            Error::ConnectionClosed(_) => FLOWAI_CONNECTION_CLOSED,
            Error::AlreadyClosed => FLOWAI_CLOSED,
            Error::Io(_) => FLOWAI_IO,
        };
        Failure::new(code, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the text of a failure for `flowai_last_error()` on this thread.
pub(crate) fn set_last_error(text: &str) {
    let text = to_c_string(text);
    // During thread teardown the slot may be gone; the text is then simply not kept.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// A static description of a result code (`"timed out"` for `FLOWAI_TIMEOUT`); an unknown
/// code gives `"unknown flowai_result code"`. Never NULL, never freed, any thread.
#[no_mangle]
pub extern "C" fn flowai_result_str(code: u32) -> *const c_char {
    guard(|| {
        use flowai_result::*;
        let text = match flowai_result::from_u32(code) {
            None => c"unknown flowai_result code",
            Some(FLOWAI_OK) => c"ok",
            Some(FLOWAI_NULL_ARGUMENT) => c"a required pointer argument is NULL",
            Some(FLOWAI_INVALID_UTF8) => c"a string argument is not valid UTF-8",
            Some(FLOWAI_INVALID_ARGUMENT) => c"invalid argument",
            Some(FLOWAI_INVALID_STATE) => c"call not valid in the current state",
            Some(FLOWAI_CONFIG) => c"invalid configuration",
            Some(FLOWAI_TIMEOUT) => c"timed out",
            Some(FLOWAI_CLOSED) => c"client used after flowai_client_close",
            Some(FLOWAI_CONNECTION_CLOSED) => c"connection closed for good",
            Some(FLOWAI_REJECTED) => c"rejected by the server",
            Some(FLOWAI_UNAVAILABLE) => c"server unavailable, retry later",
            Some(FLOWAI_PROTOCOL) => c"protocol error",
            Some(FLOWAI_NETWORK) => c"network error",
            Some(FLOWAI_TLS) => c"TLS certificate verification failed",
            Some(FLOWAI_OUTBOX_FULL) => c"outbox full, message not queued",
            Some(FLOWAI_NOT_DELIVERED) => c"message delivery could not be confirmed",
            Some(FLOWAI_IO) => c"I/O error",
            Some(FLOWAI_PANIC) => c"internal error (panic) in flowai",
            Some(FLOWAI_TOO_LARGE) => c"too large for the server",
        };
        Ok(text.as_ptr())
    })
}

/// 1 when a failure with this code may go away if the same call is tried again later
/// (`FLOWAI_TIMEOUT`, `FLOWAI_UNAVAILABLE`, `FLOWAI_NETWORK`, `FLOWAI_PROTOCOL`,
/// `FLOWAI_OUTBOX_FULL`, `FLOWAI_NOT_DELIVERED`, `FLOWAI_IO`); 0 for final failures, for
/// `FLOWAI_OK` and for unknown codes.
#[no_mangle]
pub extern "C" fn flowai_result_is_retryable(code: u32) -> i32 {
    guard(|| {
        use flowai_result::*;
        Ok(match flowai_result::from_u32(code) {
            Some(
                FLOWAI_TIMEOUT | FLOWAI_UNAVAILABLE | FLOWAI_NETWORK | FLOWAI_PROTOCOL
                | FLOWAI_OUTBOX_FULL | FLOWAI_NOT_DELIVERED | FLOWAI_IO,
            ) => 1,
            _ => 0,
        })
    })
}

/// 1 when a failure with this code is final: trying the same call again cannot succeed
/// until something changes (the configuration, the arguments, the server's verdict). These
/// are `FLOWAI_CONFIG` (also: an `http://` base URL to another machine without
/// `flowai_config_set_allow_insecure`, a proxy answering 407), `FLOWAI_REJECTED` (HTTP 400,
/// 401–403 or a redirect from `socket.info`; a proxy answering 403), `FLOWAI_TLS` (the
/// certificate failed verification: expired, hostname mismatch, unknown CA),
/// `FLOWAI_TOO_LARGE`, `FLOWAI_CONNECTION_CLOSED`, `FLOWAI_CLOSED`, and the argument and
/// state errors (`FLOWAI_NULL_ARGUMENT`, `FLOWAI_INVALID_UTF8`, `FLOWAI_INVALID_ARGUMENT`,
/// `FLOWAI_INVALID_STATE`, `FLOWAI_PANIC`). 0 for retryable codes (see
/// `flowai_result_is_retryable`: timeouts, resets, EOF during TLS or the upgrade, DNS
/// failures, every 5xx, refused connections), for `FLOWAI_OK` and for unknown codes. The
/// same table as the Rust `Error::is_final` and the README's "Reliability" section.
#[no_mangle]
pub extern "C" fn flowai_result_is_final(code: u32) -> i32 {
    guard(|| {
        Ok(match flowai_result::from_u32(code) {
            None | Some(flowai_result::FLOWAI_OK) => 0,
            Some(_) => i32::from(flowai_result_is_retryable(code) == 0),
        })
    })
}

/// The detailed text of the last failure of a flowai call on the calling thread (`""` when
/// none failed yet). Successful calls leave it as it is. Owned by the library: valid until
/// the next failing flowai call on this thread; never free it.
#[no_mangle]
pub extern "C" fn flowai_last_error() -> *const c_char {
    guard(|| {
        // The CString lives in this thread's slot until the next failure replaces it.
        Ok(LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(c"".as_ptr()))
    })
}

/// Frees a string that a flowai function handed over as owned (`char **` outputs such as
/// `flowai_message_to_json`). NULL is a no-op. Never use libc `free` for these, and never
/// pass a borrowed `const char *` here.
#[no_mangle]
pub unsafe extern "C" fn flowai_string_free(string: *mut c_char) {
    guard(|| {
        if !string.is_null() {
            drop(CString::from_raw(string));
        }
        Ok(())
    })
}

/// Hands a Rust string to C as an owned `char *` (freed with `flowai_string_free`).
pub(crate) fn owned_string(text: &str) -> *mut c_char {
    to_c_string(text).into_raw()
}

/// The library version, `"MAJOR.MINOR.PATCH"` (the same as `FLOWAI_VERSION`). Static.
#[no_mangle]
pub extern "C" fn flowai_version() -> *const c_char {
    guard(|| {
        const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
        Ok(VERSION.as_ptr().cast())
    })
}

/// The ABI version of the loaded library (`FLOWAI_ABI_VERSION` when built). A program
/// compiled against a header with a larger `FLOWAI_ABI_VERSION` needs a newer library.
#[no_mangle]
pub extern "C" fn flowai_abi_version() -> u32 {
    guard(|| Ok(super::FLOWAI_ABI_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn too_large_is_its_own_final_code() {
        let failure = Failure::from(Error::TooLarge("file x refused with HTTP 413".into()));
        assert_eq!(failure.code, flowai_result::FLOWAI_TOO_LARGE);
        assert_eq!(failure.code as u32, 18);
        assert!(
            failure.message.starts_with("too large: "),
            "{}",
            failure.message
        );
        let text = unsafe { CStr::from_ptr(flowai_result_str(18)) };
        assert_eq!(text.to_str().unwrap(), "too large for the server");
        assert_eq!(flowai_result_is_retryable(18), 0);
    }

    #[test]
    fn every_error_class_agrees_between_rust_and_c() {
        let errors = [
            Error::Config("c".into()),
            Error::InvalidArgument("a".into()),
            Error::TooLarge("t".into()),
            Error::Rejected {
                status: 401,
                message: "m".into(),
            },
            Error::Unavailable {
                status: 500,
                message: "m".into(),
            },
            Error::Protocol("p".into()),
            Error::Network("n".into()),
            Error::Tls("expired".into()),
            Error::Timeout(std::time::Duration::from_secs(1)),
            Error::OutboxFull(1),
            Error::NotDelivered(1),
            Error::ConnectionClosed("x".into()),
            Error::AlreadyClosed,
            Error::Io(std::io::Error::other("io")),
        ];
        for e in errors {
            let is_final = e.is_final();
            let code = Failure::from(e).code as u32;
            assert_eq!(flowai_result_is_final(code) == 1, is_final, "code {code}");
            assert_eq!(
                flowai_result_is_retryable(code) == 1,
                !is_final,
                "code {code}"
            );
        }
        assert_eq!(flowai_result_is_final(0), 0);
        assert_eq!(flowai_result_is_final(17), 1, "a panic is not retried");
        assert_eq!(flowai_result_is_final(9999), 0);
    }
}
