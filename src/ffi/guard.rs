//! The one panic guard and the one argument check used by every exported function.
//!
//! Every `extern "C"` body is `guard(|| { … })`: the closure returns `Ok(value)` or a
//! [`Failure`]; a failure or a panic is recorded for `flowai_last_error()` and turned into the
//! function's failure value (a `flowai_result` code, NULL, 0). Nothing unwinds into C.
//! `tests/c/ffi_guard.rs` fails when an exported function does not start with it.

use super::result::{flowai_result, Failure};
use crate::error::catch_panic;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

/// What an exported function returns when its body failed or panicked.
pub trait CReturn {
    /// The value for a failure with this code.
    fn on_failure(code: flowai_result) -> Self;
}

impl CReturn for flowai_result {
    fn on_failure(code: flowai_result) -> Self {
        code
    }
}

impl CReturn for () {
    fn on_failure(_: flowai_result) -> Self {}
}

impl<T> CReturn for *const T {
    fn on_failure(_: flowai_result) -> Self {
        std::ptr::null()
    }
}

impl<T> CReturn for *mut T {
    fn on_failure(_: flowai_result) -> Self {
        std::ptr::null_mut()
    }
}

impl CReturn for u64 {
    fn on_failure(_: flowai_result) -> Self {
        0
    }
}

impl CReturn for u32 {
    fn on_failure(_: flowai_result) -> Self {
        0
    }
}

impl CReturn for i32 {
    fn on_failure(_: flowai_result) -> Self {
        0
    }
}

impl CReturn for usize {
    fn on_failure(_: flowai_result) -> Self {
        0
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the text of a failure for `flowai_last_error()` on this thread.
fn set_last_error(text: &str) {
    let text = to_c_string(text);
    // During thread teardown the slot may be gone; the text is then simply not kept.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// The text of the last failure on this thread (`""` when none), valid until the next one.
pub fn last_error() -> *const c_char {
    // The CString lives in this thread's slot until the next failure replaces it.
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Runs an exported body: a failure or a panic becomes `R::on_failure(code)` and the
/// thread's last error. The one panic guard of the C ABI.
pub fn guard<R: CReturn>(body: impl FnOnce() -> Result<R, Failure>) -> R {
    match catch_panic(body) {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            R::on_failure(failure.code)
        }
        Err(text) => {
            set_last_error(&format!("panic inside flowai: {text}"));
            R::on_failure(flowai_result::FLOWAI_PANIC)
        }
    }
}

/// The success value of a body that returns a code.
pub fn ok() -> Result<flowai_result, Failure> {
    Ok(flowai_result::FLOWAI_OK)
}

/// The one NULL check: `FLOWAI_NULL_ARGUMENT` naming the argument when `p` is NULL.
pub fn non_null<T>(p: *const T, name: &str) -> Result<*const T, Failure> {
    if p.is_null() {
        Err(Failure::new(
            flowai_result::FLOWAI_NULL_ARGUMENT,
            format!("argument `{name}` is NULL"),
        ))
    } else {
        Ok(p)
    }
}

/// A shared reference to a handle argument.
///
/// # Safety
/// `p` is NULL or points to a live `T` for the returned lifetime.
pub unsafe fn arg<'a, T>(p: *const T, name: &str) -> Result<&'a T, Failure> {
    Ok(&*non_null(p, name)?)
}

/// An exclusive reference to a handle argument.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing else uses for the returned lifetime.
pub unsafe fn arg_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    non_null(p, name)?;
    Ok(&mut *p)
}

/// A string argument: NULL gives `FLOWAI_NULL_ARGUMENT`, bad UTF-8 `FLOWAI_INVALID_UTF8`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that lives for the returned lifetime.
pub unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    let bytes = CStr::from_ptr(non_null(p, name)?);
    bytes.to_str().map_err(|e| {
        Failure::new(
            flowai_result::FLOWAI_INVALID_UTF8,
            format!("argument `{name}` is not valid UTF-8: {e}"),
        )
    })
}

/// A required output pointer, checked before any work so outputs are written only on
/// success (write through it with `ptr::write`).
pub fn out<T>(p: *mut T, name: &str) -> Result<*mut T, Failure> {
    non_null(p, name)?;
    Ok(p)
}

/// The body of a `_free`: NULL does nothing (`_free(NULL)` is allowed everywhere), any other
/// pointer goes to `release`, which gives it back to its owner (`Box::from_raw`, ...).
pub fn free_unless_null<T>(p: *mut T, release: impl FnOnce(*mut T)) -> Result<(), Failure> {
    if !p.is_null() {
        release(p);
    }
    Ok(())
}

/// A C boolean (`int32_t`): 0 or 1, anything else is `FLOWAI_INVALID_ARGUMENT`.
pub fn arg_bool(v: i32, name: &str) -> Result<bool, Failure> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Failure::new(
            flowai_result::FLOWAI_INVALID_ARGUMENT,
            format!("argument `{name}` must be 0 or 1, not {v}"),
        )),
    }
}

/// Turns text into a C string, replacing an embedded NUL by U+FFFD so nothing is cut.
pub fn to_c_string(text: &str) -> CString {
    match CString::new(text) {
        Ok(c) => c,
        Err(_) => {
            let cleaned = text.replace('\0', "\u{FFFD}");
            CString::new(cleaned).unwrap_or_default()
        }
    }
}

/// Hands a Rust string to C as an owned `char *` (freed with `flowai_string_free`).
pub fn owned_string(text: &str) -> *mut c_char {
    to_c_string(text).into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error_text() -> String {
        unsafe { CStr::from_ptr(last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_code_and_the_last_error() {
        let code: flowai_result = guard(|| panic!("boom in a body"));
        assert_eq!(code, flowai_result::FLOWAI_PANIC);
        assert!(
            last_error_text().contains("boom in a body"),
            "{}",
            last_error_text()
        );
        let p: *const c_char = guard(|| panic!("again"));
        assert!(p.is_null());
    }

    #[test]
    fn null_and_bad_utf8_are_codes() {
        let code = guard(|| {
            unsafe { arg_str(std::ptr::null(), "name") }.map(|_| flowai_result::FLOWAI_OK)
        });
        assert_eq!(code, flowai_result::FLOWAI_NULL_ARGUMENT);
        assert!(last_error_text().contains("`name`"));
        let bad = [0xffu8, 0xfe, 0];
        let code = guard(|| {
            unsafe { arg_str(bad.as_ptr().cast(), "text") }.map(|_| flowai_result::FLOWAI_OK)
        });
        assert_eq!(code, flowai_result::FLOWAI_INVALID_UTF8);
        assert_eq!(
            arg_bool(2, "on").unwrap_err().code,
            flowai_result::FLOWAI_INVALID_ARGUMENT
        );
    }

    #[test]
    fn embedded_nul_is_replaced_not_cut() {
        assert_eq!(to_c_string("a\0b").to_str().unwrap(), "a\u{FFFD}b");
    }
}
