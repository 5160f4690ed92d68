//! `libcapstan`: capstan's C ABI.
//!
//! Conventions every function follows:
//!
//! - names are `capstan_<object>_<verb>`; opaque handles come from a constructor and go back
//!   through their `*_free`, which accepts NULL;
//! - arguments run object → inputs → outputs; an out-parameter is written only on success;
//! - every fallible call returns a [`capstan_status`]; on failure, [`capstan_last_error`] gives
//!   this thread's message for it;
//! - every pointer is checked (NULL → [`capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT`]), input
//!   strings may be any bytes (paths need not be UTF-8), and no panic crosses the boundary: one
//!   becomes [`capstan_status::CAPSTAN_ERR_PANIC`].
//!
//! Thread safety: `capstan_rules` and `capstan_findings` are immutable once made and may be
//! shared by any number of threads; a `capstan_scanner` and a `capstan_context_reader` are each
//! used by one thread at a time; a `capstan_request` is set up by one thread, then
//! `capstan_request_run` may be called on it from any number of threads at once.
//!
//! A scan of files and trees, of container images, or of a repository's history is described by
//! a `capstan_request` — the same request the CLI builds from its flags (core's
//! `scan::Request`): inputs (`capstan_request_add_input`), images (`capstan_request_add_image`:
//! registry references, `oci:DIR[:TAG]`, `docker-archive:FILE`; with a platform, concurrent
//! pulls and plain HTTP) or a repository (`capstan_request_set_git`: its history, or after a
//! revision, or what one reaches, or its staged changes) — one kind of source per request —,
//! rules (compiled `capstan_rules`, or packs and a config loaded on run), baselines, ignore
//! files (discovered `.capstanignore` files by default), redaction, threads, the size limit and
//! a cache. `capstan_scan_path`, `capstan_scan_image` and `capstan_scan_git` are the short
//! forms: shared rules, no suppression, no cache.
//!
//! Findings are read by index: `capstan_findings_get` fills the fixed `capstan_finding` struct
//! (its layout never changes), and per-field accessors give what came later (the crypto fields
//! `capstan_findings_algorithm`, `_primitive`, `_quantum_class`, `_replacement`;
//! `capstan_findings_tags`; where an image finding was made, `capstan_findings_image`,
//! `_manifest_digest`, `_platform`, `_layer_index`, `_layer_digest`, `_removed_in_layer`; and the
//! commit a history finding was introduced in, `capstan_findings_commit`, `_author`, `_email`,
//! `_date`, `_message`).

#![allow(non_camel_case_types)]

mod auth;
mod context;
mod context_reader;
mod findings;
mod request;
mod rules;
mod scanner;

use std::cell::RefCell;
use std::ffi::{CStr, CString, OsStr, c_char};
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use core_capstan::scan::{RequestError, RequestErrorKind};

pub use auth::*;
pub use context::*;
pub use context_reader::*;
pub use findings::*;
pub use request::*;
pub use rules::*;
pub use scanner::*;

/// The result of every fallible `capstan_*` call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum capstan_status {
    /// Success.
    CAPSTAN_OK = 0,
    /// A pointer was NULL, a string was not UTF-8 where text is required, a value was out of
    /// range, or a handle was used after it was finished.
    CAPSTAN_ERR_INVALID_ARGUMENT = 1,
    /// A rule config, `.dockerignore` or credentials file is invalid; the message names the
    /// file (or rule) and the cause.
    CAPSTAN_ERR_CONFIG = 2,
    /// Reading or writing a file, descriptor or callback failed; the message names it.
    CAPSTAN_ERR_IO = 3,
    /// A scan asked to stop on findings found some (`capstan_context_write_scan` with
    /// `fail_on_findings`); the findings are still returned.
    CAPSTAN_ERR_FINDINGS_LIMIT = 4,
    /// capstan panicked (a bug); the message says where. Free the handles involved.
    CAPSTAN_ERR_PANIC = 5,
    /// Any other failure (a credential helper failed, …).
    CAPSTAN_ERR_OTHER = 6,
}

/// A failure on its way to C: the status and the message `capstan_last_error` will return.
#[derive(Debug)]
struct FfiError {
    status: capstan_status,
    message: String,
}

impl FfiError {
    fn new(status: capstan_status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<core_capstan::scan::ConfigError> for FfiError {
    fn from(e: core_capstan::scan::ConfigError) -> Self {
        let status = match e.kind() {
            core_capstan::scan::ConfigErrorKind::Io => capstan_status::CAPSTAN_ERR_IO,
            _ => capstan_status::CAPSTAN_ERR_CONFIG,
        };
        FfiError::new(status, e.to_string())
    }
}

impl From<RequestError> for FfiError {
    fn from(e: RequestError) -> Self {
        let status = match e.kind() {
            RequestErrorKind::Config | RequestErrorKind::Suppression if e.is_io() => {
                capstan_status::CAPSTAN_ERR_IO
            }
            RequestErrorKind::Config | RequestErrorKind::Suppression => {
                capstan_status::CAPSTAN_ERR_CONFIG
            }
            RequestErrorKind::Invalid | RequestErrorKind::Image => {
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            }
            _ => capstan_status::CAPSTAN_ERR_OTHER,
        };
        FfiError::new(status, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// `s` as a C string; interior NULs (which would cut it short) are shown as `\0`.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

fn set_last_error(message: &str) {
    let c = c_string(message);
    // `try_with`: during thread teardown the slot may be gone; the message is then dropped.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = Some(c));
}

/// Runs one exported call: clears this thread's error, turns an `Err` into its status and
/// message, and stops a panic at the boundary.
fn boundary(f: impl FnOnce() -> Result<(), FfiError>) -> capstan_status {
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = None);
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
            capstan_status::CAPSTAN_ERR_PANIC
        }
    }
}

/// Runs an entry point that has no status to return (a getter, a `*_free`): a panic stops here
/// and gives `default`.
fn quiet<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// Checks an out-parameter before any work is done.
fn out_param<T>(out: *mut T, what: &str) -> Result<(), FfiError> {
    if out.is_null() {
        Err(FfiError::invalid(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Writes a checked out-parameter.
///
/// # Safety
/// `out` was accepted by [`out_param`] and points at writable memory for a `T`.
unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller checked `out` and promises it is valid for a write of one `T`.
    unsafe { out.write(value) }
}

/// A NUL-terminated argument, which may hold any bytes.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string that outlives `'a`.
unsafe fn c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], FfiError> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string living for 'a.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A NUL-terminated argument that must be UTF-8 text.
///
/// # Safety
/// As [`c_bytes`].
unsafe fn c_text<'a>(p: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { c_bytes(p, what) }?;
    std::str::from_utf8(bytes).map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))
}

/// A NUL-terminated file path (any bytes, as Unix paths are).
///
/// # Safety
/// As [`c_bytes`].
unsafe fn c_path<'a>(p: *const c_char, what: &str) -> Result<&'a Path, FfiError> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { c_bytes(p, what) }?;
    if bytes.is_empty() {
        return Err(FfiError::invalid(format!("{what} is empty")));
    }
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// A `(pointer, length)` byte range; NULL is accepted only with length 0.
///
/// # Safety
/// `p` is NULL or points at `len` readable bytes that outlive `'a`.
unsafe fn c_slice<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], FfiError> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(FfiError::invalid(format!(
                "{what} is NULL with length {len}"
            )))
        };
    }
    if isize::try_from(len).is_err() {
        return Err(FfiError::invalid(format!(
            "{what}: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, length within isize, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A thread count from C, resolved as everywhere in capstan ([`core_capstan::exec::threads`]):
/// 0 means one per core; more than [`core_capstan::exec::MAX_THREADS`] is an invalid argument,
/// never silently clamped.
fn threads(n: u32) -> Result<usize, FfiError> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    core_capstan::exec::threads(n).map_err(|e| FfiError::invalid(e.to_string()))
}

/// A heap string returned to C, for [`capstan_string_free`].
fn give_string(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

/// capstan's version as a static NUL-terminated string (never freed, never NULL).
#[unsafe(no_mangle)]
pub extern "C" fn capstan_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The message of the last fallible call (one returning a `capstan_status`) on this thread, or
/// NULL if it succeeded. Getters and `*_free` calls leave it as it is.
///
/// The pointer stays valid until the next fallible `capstan_*` call on this thread; copy it to
/// keep it.
#[unsafe(no_mangle)]
pub extern "C" fn capstan_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
        .unwrap_or(std::ptr::null())
}

/// Frees a string capstan returned (`capstan_findings_to_json`, `capstan_auth_header`),
/// zeroing it first (a header carries a secret). NULL is accepted.
///
/// # Safety
/// `s` is NULL or a string from one of those calls, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    quiet((), || {
        // SAFETY: `s` came from CString::into_raw in `give_string` and is freed once.
        let mut bytes = unsafe { CString::from_raw(s) }.into_bytes_with_nul();
        for b in &mut bytes {
            // SAFETY: `b` is a valid, exclusive reference into the buffer; a volatile write
            // keeps the zeroing from being optimised away before the free.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    });
}

/// A boxed handle to C.
fn give<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes a handle back and drops it; NULL is accepted.
///
/// # Safety
/// `p` is NULL or came from [`give`] with the same `T` and is not used again.
unsafe fn take<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller promises `p` came from Box::into_raw and is freed once.
        quiet((), || drop(unsafe { Box::from_raw(p) }));
    }
}

/// Borrows a handle argument.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` that outlives `'a`, not mutated meanwhile.
unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller promises a live, unaliased-for-writes handle or NULL.
    unsafe { p.as_ref() }.ok_or_else(|| FfiError::invalid(format!("{what} is NULL")))
}

/// Borrows a handle argument mutably.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` used by no other thread or reference meanwhile.
unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, FfiError> {
    // SAFETY: the caller promises a live handle used by this call alone, or NULL.
    unsafe { p.as_mut() }.ok_or_else(|| FfiError::invalid(format!("{what} is NULL")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    pub(crate) fn last_error() -> Option<String> {
        let p = capstan_last_error();
        // SAFETY: a non-NULL pointer from capstan_last_error points at this thread's live
        // CString, and no capstan call runs between getting it and copying it.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    /// An empty directory `capstan-ffi-NAME-PID` in the system's temporary directory, removed
    /// on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("capstan-ffi-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `p` as a C string.
    pub(crate) fn c(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).expect("no NUL")
    }

    /// A ustar archive of regular files (mode 0644, mtime 0), as an uncompressed layer.
    pub(crate) fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..107].copy_from_slice(b"0000644");
            h[108..115].copy_from_slice(b"0000000");
            h[116..123].copy_from_slice(b"0000000");
            h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
            h[136..147].copy_from_slice(b"00000000000");
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().next_multiple_of(512), 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    /// What `oci_layout` wrote: the manifest's digest and each layer's.
    pub(crate) struct Layout {
        pub(crate) manifest: String,
        pub(crate) layers: Vec<String>,
    }

    /// Writes an OCI image layout at `dir` holding one image tagged `tag`: `layers` (plain
    /// tars, base first) and a config whose `Env` is `env`.
    pub(crate) fn oci_layout(dir: &Path, tag: &str, layers: &[Vec<u8>], env: &[&str]) -> Layout {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("mkdir");
        let put = |bytes: &[u8]| {
            let d = core_capstan::image::Digest::sha256_of(bytes);
            std::fs::write(blobs.join(d.hex()), bytes).expect("write blob");
            d.to_string()
        };
        let digests: Vec<String> = layers.iter().map(|l| put(l)).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": env},
            "rootfs": {"type": "layers", "diff_ids": digests},
        }))
        .expect("json");
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(&config),
                "size": config.len(),
            },
            "layers": layers.iter().zip(&digests).map(|(l, d)| serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": d,
                "size": l.len(),
            })).collect::<Vec<_>>(),
        }))
        .expect("json");
        let manifest_digest = put(&manifest);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
        std::fs::write(dir.join("index.json"), index.to_string()).expect("write");
        Layout {
            manifest: manifest_digest,
            layers: digests,
        }
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
            core_capstan::scan::Request::new(["."])
                .baseline("/nonexistent/baseline.json")
                .prepare()?;
            Ok(())
        });
        assert_eq!(status, capstan_status::CAPSTAN_ERR_IO);
        let msg = last_error().unwrap_or_default();
        assert!(msg.contains("/nonexistent/baseline.json"), "{msg}");

        assert_eq!(boundary(|| Ok(())), capstan_status::CAPSTAN_OK);
        assert_eq!(last_error(), None);
    }

    #[test]
    fn thread_counts_past_the_limit_are_refused_not_clamped() {
        assert_eq!(threads(0).ok(), Some(core_capstan::exec::default_threads()));
        assert_eq!(threads(3).ok(), Some(3));
        let max = u32::try_from(core_capstan::exec::MAX_THREADS).unwrap_or(u32::MAX);
        assert_eq!(threads(max).ok(), Some(core_capstan::exec::MAX_THREADS));
        let e = threads(100_000).err();
        assert!(
            e.as_ref()
                .is_some_and(|e| e.status == capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
                    && e.message.contains("100000")),
            "{e:?}"
        );
    }

    #[test]
    fn a_panic_stops_at_the_boundary_with_its_message() {
        let status = boundary(|| panic!("rule table corrupt"));
        assert_eq!(status, capstan_status::CAPSTAN_ERR_PANIC);
        let msg = last_error().unwrap_or_default();
        assert!(msg.contains("rule table corrupt"), "{msg}");
    }

    #[test]
    fn errors_are_per_thread_and_nul_safe() {
        let _ = boundary(|| Err(FfiError::invalid("bad\0name")));
        let other = std::thread::spawn(last_error).join().ok().flatten();
        assert_eq!(other, None, "another thread saw this thread's error");
        assert_eq!(last_error().as_deref(), Some("bad\\0name"));
    }

    #[test]
    fn byte_ranges_accept_null_only_when_empty() {
        // SAFETY: NULL pointers with the lengths given; nothing is read.
        unsafe {
            assert_eq!(c_slice(std::ptr::null(), 0, "data").ok(), Some(&[][..]));
            assert!(c_slice(std::ptr::null(), 3, "data").is_err());
        }
        // SAFETY: NULL string; nothing is read.
        assert!(unsafe { c_text(std::ptr::null(), "packs") }.is_err());
        let bad = c"\xff\xfe";
        // SAFETY: a live NUL-terminated literal.
        let e = unsafe { c_text(bad.as_ptr(), "image") }.err();
        assert!(e.is_some_and(|e| e.message.contains("not UTF-8")));
        // SAFETY: as above; paths may be any bytes.
        assert!(unsafe { c_path(bad.as_ptr(), "path") }.is_ok());
    }
}
