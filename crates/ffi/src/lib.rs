//! `libcapstan`: capstan's C ABI.
//!
//! Conventions every function follows (the scanner, context and auth handles arrive on them):
//!
//! - names start with `capstan_`; opaque handles come from `*_new` and go back through `*_free`;
//! - every fallible call returns a [`capstan_status`]; on failure, [`capstan_last_error`] gives
//!   this thread's message for it;
//! - no panic crosses the boundary: one becomes [`capstan_status::CAPSTAN_PANIC`].
//!
//! Today it exports the conventions themselves: the status codes, the version and the error
//! channel.

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The result of every fallible `capstan_*` call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum capstan_status {
    /// Success.
    CAPSTAN_OK = 0,
    /// A pointer was NULL, a string was not UTF-8, or a value was out of range.
    CAPSTAN_INVALID_ARGUMENT = 1,
    /// Reading or writing a file or stream failed.
    CAPSTAN_IO = 2,
    /// A caller-supplied buffer is too small; the call reports the size it needs.
    CAPSTAN_BUFFER_TOO_SMALL = 3,
    /// Any other failure inside capstan.
    CAPSTAN_INTERNAL = 4,
    /// capstan panicked; the message says where. The handle involved should be freed.
    CAPSTAN_PANIC = 5,
}

/// A failure on its way to C: the status and the message `capstan_last_error` will return.
#[derive(Debug)]
struct FfiError {
    status: capstan_status,
    message: String,
}

impl From<core_capstan::Error> for FfiError {
    fn from(e: core_capstan::Error) -> Self {
        let status = match e {
            core_capstan::Error::Io { .. } => capstan_status::CAPSTAN_IO,
            _ => capstan_status::CAPSTAN_INTERNAL,
        };
        FfiError {
            status,
            message: e.to_string(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: &str) {
    // Interior NULs would cut the C string short; show them instead.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(c));
}

/// Runs one exported call: clears this thread's error, turns an `Err` into its status and
/// message, and stops a panic at the boundary.
#[allow(dead_code)] // the first handle-based calls (issue 8) are its users; tests cover it now
fn boundary(f: impl FnOnce() -> Result<(), FfiError>) -> capstan_status {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => capstan_status::CAPSTAN_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
            set_last_error(&format!("internal error (panic): {what}"));
            capstan_status::CAPSTAN_PANIC
        }
    }
}

/// capstan's version as a static NUL-terminated string (never freed, never NULL).
#[unsafe(no_mangle)]
pub extern "C" fn capstan_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The message of the last call on this thread that failed, or NULL if the last call succeeded.
///
/// The pointer stays valid until the next `capstan_*` call on this thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn capstan_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::path::PathBuf;

    fn last_error() -> Option<String> {
        let p = capstan_last_error();
        // SAFETY: a non-NULL pointer from capstan_last_error points at this thread's live
        // CString, and no capstan call runs between getting it and copying it.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    #[test]
    fn version_matches_the_crate() {
        // SAFETY: capstan_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(capstan_version()) };
        assert_eq!(v.to_str().ok(), Some(core_capstan::VERSION));
    }

    #[test]
    fn an_error_sets_its_status_and_message_and_success_clears_them() {
        let status = boundary(|| {
            Err(core_capstan::Error::Io {
                path: PathBuf::from("/etc/capstan.toml"),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }
            .into())
        });
        assert_eq!(status, capstan_status::CAPSTAN_IO);
        let msg = last_error().unwrap_or_default();
        assert!(msg.contains("/etc/capstan.toml"), "{msg}");

        assert_eq!(boundary(|| Ok(())), capstan_status::CAPSTAN_OK);
        assert_eq!(last_error(), None);
    }

    #[test]
    fn a_panic_stops_at_the_boundary_with_its_message() {
        let status = boundary(|| panic!("rule table corrupt"));
        assert_eq!(status, capstan_status::CAPSTAN_PANIC);
        let msg = last_error().unwrap_or_default();
        assert!(msg.contains("rule table corrupt"), "{msg}");
    }

    #[test]
    fn errors_are_per_thread_and_nul_safe() {
        let _ = boundary(|| {
            Err(FfiError {
                status: capstan_status::CAPSTAN_INVALID_ARGUMENT,
                message: "bad\0name".into(),
            })
        });
        let other = std::thread::spawn(last_error).join().ok().flatten();
        assert_eq!(other, None, "another thread saw this thread's error");
        assert_eq!(last_error().as_deref(), Some("bad\\0name"));
    }
}
