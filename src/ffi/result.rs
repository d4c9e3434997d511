//! The result codes: `flowai_result` is the one list of them (numbers, meaning, class in
//! its docs), and everything else is derived from it or checked against it: the code of
//! each Rust error (one mapping from the error kinds, which are derived from `Error`), the
//! final/retryable class (read from `Error`'s one list for the codes errors have), the
//! number-to-code lookup (strum's `FromRepr`), and the static texts.
//!
//! Below the guard: nothing here is exported to C (the functions are in `library`).

use crate::error::{Error, ErrorKind};
use std::ffi::CStr;
use strum::IntoEnumIterator;

/// The outcome of a call. 0 is success; every other value names one kind of failure, with
/// the details in `flowai_last_error()`, and is either final (trying the same call again
/// cannot succeed until something changes) or retryable, as each code says and
/// `flowai_result_is_final` / `flowai_result_is_retryable` answer. Codes are never
/// renumbered: a retired code keeps its number (as a comment) and new codes are added at
/// the end.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::FromRepr, strum::EnumIter)]
#[allow(non_camel_case_types)]
pub enum flowai_result {
    /// Success.
    FLOWAI_OK = 0,
    /// A required pointer argument was NULL. Final.
    FLOWAI_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8. Final.
    FLOWAI_INVALID_UTF8 = 2,
    /// An argument was not valid: an unknown enum or boolean value, malformed JSON, a message
    /// the server would refuse (no threadId, neither speech nor attachment), a NaN number.
    /// Final.
    FLOWAI_INVALID_ARGUMENT = 3,
    /// The call does not fit the current state: `flowai_client_recv` while a callback is
    /// registered, an event label without an event attachment, a log callback while another
    /// logger owns the process, changing the log callback from inside it. Final.
    FLOWAI_INVALID_STATE = 4,
    /// The configuration is not usable (empty clientId, bad URL, zero timeout, bad
    /// certificate, an `http://` base URL or `ws://` endpoint to another machine without
    /// `flowai_config_set_allow_insecure`, a bad proxy URL, a proxy answering 407, …). Final.
    FLOWAI_CONFIG = 5,
    /// A call that takes `timeout_ms` did not finish in time. Retryable.
    FLOWAI_TIMEOUT = 6,
    /// The client was used after `flowai_client_close`. Final.
    FLOWAI_CLOSED = 7,
    /// The client has stopped for good (a final error, or reconnecting gave up) and every
    /// event was received; see `flowai_last_error()` for why. Final.
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
    /// Retryable.
    FLOWAI_OUTBOX_FULL = 14,
    /// The message was written but its delivery can no longer be confirmed (connection lost
    /// with the outbox turned off). Retryable.
    FLOWAI_NOT_DELIVERED = 15,
    /// A file could not be read or written. Retryable.
    FLOWAI_IO = 16,
    /// A bug: the library panicked. The call did nothing more; details in the last error.
    /// Final.
    FLOWAI_PANIC = 17,
    /// The server refused a request body as too large (HTTP 413: a file for
    /// `flowai_client_upload` over the project's limit). Final: send a smaller file.
    FLOWAI_TOO_LARGE = 18,
}

impl flowai_result {
    /// The code with this number, if there is one.
    pub(crate) fn from_u32(code: u32) -> Option<flowai_result> {
        flowai_result::from_repr(code)
    }

    /// The code of each kind of Rust error: the one mapping (the compiler makes it total).
    pub(crate) fn of(kind: ErrorKind) -> flowai_result {
        use flowai_result::*;
        match kind {
            ErrorKind::Config => FLOWAI_CONFIG,
            ErrorKind::InvalidArgument => FLOWAI_INVALID_ARGUMENT,
            ErrorKind::TooLarge => FLOWAI_TOO_LARGE,
            ErrorKind::Rejected => FLOWAI_REJECTED,
            ErrorKind::Unavailable => FLOWAI_UNAVAILABLE,
            ErrorKind::Protocol => FLOWAI_PROTOCOL,
            ErrorKind::Network => FLOWAI_NETWORK,
            ErrorKind::Tls => FLOWAI_TLS,
            ErrorKind::Timeout => FLOWAI_TIMEOUT,
            ErrorKind::OutboxFull => FLOWAI_OUTBOX_FULL,
            ErrorKind::NotDelivered => FLOWAI_NOT_DELIVERED,
            ErrorKind::ConnectionClosed => FLOWAI_CONNECTION_CLOSED,
            ErrorKind::AlreadyClosed => FLOWAI_CLOSED,
            ErrorKind::Io => FLOWAI_IO,
        }
    }

    /// The codes only the C API fails with: the caller's mistakes and the library's bugs.
    /// Every other failure code is the code of a Rust error kind (a test checks it).
    fn is_c_only(self) -> bool {
        use flowai_result::*;
        matches!(
            self,
            FLOWAI_NULL_ARGUMENT | FLOWAI_INVALID_UTF8 | FLOWAI_INVALID_STATE | FLOWAI_PANIC
        )
    }

    /// Whether a failure with this code is final: the class of the Rust errors with this
    /// code (`Error::is_final`); the C-only codes are final.
    pub(crate) fn is_final(self) -> bool {
        match self {
            flowai_result::FLOWAI_OK => false,
            code if code.is_c_only() => true,
            code => {
                ErrorKind::iter().any(|kind| flowai_result::of(kind) == code && kind.is_final())
            }
        }
    }

    /// Whether a failure with this code may go away if the same call is tried again.
    pub(crate) fn is_retryable(self) -> bool {
        self != flowai_result::FLOWAI_OK && !self.is_final()
    }

    /// A static description (`"timed out"` for `FLOWAI_TIMEOUT`).
    pub(crate) fn text(self) -> &'static CStr {
        use flowai_result::*;
        match self {
            FLOWAI_OK => c"ok",
            FLOWAI_NULL_ARGUMENT => c"a required pointer argument is NULL",
            FLOWAI_INVALID_UTF8 => c"a string argument is not valid UTF-8",
            FLOWAI_INVALID_ARGUMENT => c"invalid argument",
            FLOWAI_INVALID_STATE => c"call not valid in the current state",
            FLOWAI_CONFIG => c"invalid configuration",
            FLOWAI_TIMEOUT => c"timed out",
            FLOWAI_CLOSED => c"client used after flowai_client_close",
            FLOWAI_CONNECTION_CLOSED => c"connection closed for good",
            FLOWAI_REJECTED => c"rejected by the server",
            FLOWAI_UNAVAILABLE => c"server unavailable, retry later",
            FLOWAI_PROTOCOL => c"protocol error",
            FLOWAI_NETWORK => c"network error",
            FLOWAI_TLS => c"TLS certificate verification failed",
            FLOWAI_OUTBOX_FULL => c"outbox full, message not queued",
            FLOWAI_NOT_DELIVERED => c"message delivery could not be confirmed",
            FLOWAI_IO => c"I/O error",
            FLOWAI_PANIC => c"internal error (panic) in flowai",
            FLOWAI_TOO_LARGE => c"too large for the server",
        }
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
        Failure::new(flowai_result::of(e.kind()), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(failure.code.is_final());
    }

    #[test]
    fn every_failure_code_is_c_only_or_the_code_of_exactly_one_error_kind() {
        for code in flowai_result::iter().filter(|c| *c != flowai_result::FLOWAI_OK) {
            let kinds: Vec<ErrorKind> = ErrorKind::iter()
                .filter(|k| flowai_result::of(*k) == code)
                .collect();
            match code.is_c_only() {
                true => assert!(kinds.is_empty(), "{code:?} is C-only but errors have it"),
                false => assert_eq!(kinds.len(), 1, "{code:?}: error kinds {kinds:?}"),
            }
            assert_eq!(code.is_final(), !code.is_retryable(), "{code:?}");
            assert_eq!(flowai_result::from_u32(code as u32), Some(code));
        }
        assert!(!flowai_result::FLOWAI_OK.is_final());
        assert!(!flowai_result::FLOWAI_OK.is_retryable());
        assert_eq!(flowai_result::from_u32(19), None);
    }

    #[test]
    fn the_class_of_a_code_is_the_class_of_its_errors() {
        let errors = [
            Error::Config("c".into()),
            Error::Rejected {
                status: 401,
                message: "m".into(),
            },
            Error::Tls("expired".into()),
            Error::AlreadyClosed,
            Error::Unavailable {
                status: 500,
                message: "m".into(),
            },
            Error::Network("n".into()),
            Error::Timeout(std::time::Duration::from_secs(1)),
            Error::Io(std::io::Error::other("io")),
        ];
        for e in errors {
            let is_final = e.is_final();
            let code = Failure::from(e).code;
            assert_eq!(code.is_final(), is_final, "{code:?}");
        }
        assert!(
            flowai_result::FLOWAI_PANIC.is_final(),
            "a panic is not retried"
        );
    }
}
