//! Functions of the library as a whole: what a result code means (its text, its class), the
//! thread's last error, freeing owned strings, versions.

use super::guard::{free_unless_null, guard, last_error};
use super::result::flowai_result;
use std::ffi::{c_char, CString};

/// A static description of a result code (`"timed out"` for `FLOWAI_TIMEOUT`); an unknown
/// code gives `"unknown flowai_result code"`. Never NULL, never freed, any thread.
#[no_mangle]
pub extern "C" fn flowai_result_str(code: u32) -> *const c_char {
    guard(|| {
        let text = flowai_result::from_u32(code)
            .map_or(c"unknown flowai_result code", flowai_result::text);
        Ok(text.as_ptr())
    })
}

/// 1 when a failure with this code may go away if the same call is tried again later: the
/// codes whose doc in `flowai_result` says "Retryable" (timeouts, resets, EOF during TLS or
/// the upgrade, DNS failures, every 5xx, refused connections, a full outbox). 0 for final
/// failures, for `FLOWAI_OK` and for unknown codes.
#[no_mangle]
pub extern "C" fn flowai_result_is_retryable(code: u32) -> i32 {
    guard(|| {
        let retryable = flowai_result::from_u32(code).is_some_and(flowai_result::is_retryable);
        Ok(i32::from(retryable))
    })
}

/// 1 when a failure with this code is final: trying the same call again cannot succeed
/// until something changes (the configuration, the arguments, the server's verdict). These
/// are the codes whose doc in `flowai_result` says "Final": a bad configuration (also an
/// `http://` base URL to another machine without `flowai_config_set_allow_insecure`, a proxy
/// answering 407), a rejection (HTTP 400, 401–403 or a redirect from `socket.info`; a proxy
/// answering 403), a certificate that failed verification, a body too large, a closed or
/// stopped client, bad arguments, a call out of place, a panic. 0 for retryable codes (see
/// `flowai_result_is_retryable`), for `FLOWAI_OK` and for unknown codes. Derived from the
/// Rust `Error::is_final`, so the same table as the README's "Reliability" section.
#[no_mangle]
pub extern "C" fn flowai_result_is_final(code: u32) -> i32 {
    guard(|| {
        let is_final = flowai_result::from_u32(code).is_some_and(flowai_result::is_final);
        Ok(i32::from(is_final))
    })
}

/// The detailed text of the last failure of a flowai call on the calling thread (`""` when
/// none failed yet). Successful calls leave it as it is. Owned by the library: valid until
/// the next failing flowai call on this thread; never free it.
#[no_mangle]
pub extern "C" fn flowai_last_error() -> *const c_char {
    guard(|| Ok(last_error()))
}

/// Frees a string that a flowai function handed over as owned (`char **` outputs such as
/// `flowai_message_to_json`). NULL is a no-op. Never use libc `free` for these, and never
/// pass a borrowed `const char *` here.
#[no_mangle]
pub unsafe extern "C" fn flowai_string_free(string: *mut c_char) {
    guard(|| free_unless_null(string, |s| drop(CString::from_raw(s))))
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
    fn texts_and_classes_of_codes() {
        let text = unsafe { CStr::from_ptr(flowai_result_str(18)) };
        assert_eq!(text.to_str().unwrap(), "too large for the server");
        let unknown = unsafe { CStr::from_ptr(flowai_result_str(9999)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown flowai_result code");
        assert_eq!(flowai_result_is_retryable(18), 0);
        assert_eq!(flowai_result_is_final(18), 1);
        assert_eq!(flowai_result_is_retryable(6), 1, "a timeout is retried");
        assert_eq!(flowai_result_is_final(6), 0);
        assert_eq!(flowai_result_is_final(0), 0);
        assert_eq!(flowai_result_is_retryable(0), 0);
        assert_eq!(flowai_result_is_final(17), 1, "a panic is not retried");
        assert_eq!(flowai_result_is_final(9999), 0);
        assert_eq!(flowai_result_is_retryable(9999), 0);
    }
}
