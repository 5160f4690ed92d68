//! Build contexts: the deterministic tar of a directory, as `docker build` would send it.

use std::ffi::{c_char, c_void};
use std::io::{self, BufWriter, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use core_capstan::scan::scan_in_background;
use core_capstan::tar::{
    ByteObserver, Context, ContextError, ContextErrorKind, ContextOptions, NoObserver,
};

use crate::{
    FfiError, boundary, c_path, capstan_findings, capstan_rules, capstan_status, handle, out_param,
};

/// Receives the tar's bytes in order: return 0 when all `len` bytes at `data` were taken,
/// anything else to stop the context (the call then fails with `CAPSTAN_ERR_IO` and the
/// callback is not called again). `data` is valid only during the call.
pub type capstan_write_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, data: *const u8, len: usize) -> i32>;

impl From<ContextError> for FfiError {
    fn from(e: ContextError) -> Self {
        let status = match e.kind() {
            ContextErrorKind::Ignore => capstan_status::CAPSTAN_ERR_CONFIG,
            ContextErrorKind::Stopped => capstan_status::CAPSTAN_ERR_FINDINGS_LIMIT,
            _ => capstan_status::CAPSTAN_ERR_IO,
        };
        FfiError::new(status, e.to_string())
    }
}

/// A C callback as an `io::Write`. After the callback refuses once it is never called again
/// (the `BufWriter` in front of it would otherwise retry its buffer when dropped).
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    user_data: *mut c_void,
    failed: bool,
}

impl Callback {
    fn new(
        f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
        user_data: *mut c_void,
    ) -> Self {
        Callback {
            f,
            user_data,
            failed: false,
        }
    }
}

impl Write for Callback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("the write callback already refused"));
        }
        // SAFETY: the caller of capstan_context_write promised a callback that takes `len`
        // readable bytes and `user_data` as given; `buf` is live for the call.
        let rc = unsafe { (self.f)(self.user_data, buf.as_ptr(), buf.len()) };
        if rc == 0 {
            Ok(buf.len())
        } else {
            self.failed = true;
            Err(io::Error::other(format!(
                "the write callback returned {rc}"
            )))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Selects the context: `dockerfile` NULL means `Dockerfile` (or `dockerfile`) in `dir`; a
/// relative one is taken relative to `dir`, as the Engine API's `dockerfile` parameter is.
///
/// # Safety
/// `dir` is NUL-terminated; `dockerfile` is NULL or NUL-terminated.
pub(crate) unsafe fn select(
    dir: *const c_char,
    dockerfile: *const c_char,
) -> Result<Context, FfiError> {
    // SAFETY: forwarded from the caller.
    let dir = unsafe { c_path(dir, "dir") }?;
    let file = if dockerfile.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        Some(dir.join(unsafe { c_path(dockerfile, "dockerfile") }?))
    };
    let opts = ContextOptions::from_env().locate_dockerfile(dir, file.as_deref())?;
    Ok(Context::select(dir, &opts)?)
}

/// Writes `ctx` through a 64 KiB buffer, then flushes it.
fn write_buffered(
    ctx: &Context,
    out: impl Write,
    observer: &mut dyn ByteObserver,
) -> Result<(), ContextError> {
    let mut out = BufWriter::with_capacity(64 << 10, out);
    ctx.write_observed(&mut out, observer)?;
    out.flush().map_err(ContextError::write)
}

/// Writes the build context of `dir` as a tar to the open descriptor `fd` (a file or a pipe;
/// it is not closed; a process writing to pipes should ignore `SIGPIPE`, or a reader that goes
/// away kills it before `CAPSTAN_ERR_IO` can be returned). Names sorted, mtime 0 or `$SOURCE_DATE_EPOCH`, owners 0: the same
/// directory gives the same bytes. `.dockerignore` is applied as docker applies it; the
/// Dockerfile and `.dockerignore` are always sent.
///
/// # Safety
/// `dir` is NUL-terminated; `dockerfile` is NULL or NUL-terminated; `fd` is an open descriptor
/// that stays open for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_write_fd(
    dir: *const c_char,
    dockerfile: *const c_char,
    fd: std::ffi::c_int,
) -> capstan_status {
    boundary(|| {
        if fd < 0 {
            return Err(FfiError::invalid(format!("fd {fd} is not a descriptor")));
        }
        // SAFETY: forwarded from the caller.
        let ctx = unsafe { select(dir, dockerfile) }?;
        // SAFETY: the caller promises `fd` is open for the call; ManuallyDrop never closes it.
        let file = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        write_buffered(&ctx, &*file, &mut NoObserver)?;
        Ok(())
    })
}

/// Writes the build context of `dir` through `write` (see `capstan_context_write_fd` for
/// what is written, and `capstan_write_fn` for the callback's contract).
///
/// # Safety
/// `dir` is NUL-terminated; `dockerfile` is NULL or NUL-terminated; `write` is a valid
/// callback for `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_write(
    dir: *const c_char,
    dockerfile: *const c_char,
    write: capstan_write_fn,
    user_data: *mut c_void,
) -> capstan_status {
    boundary(|| {
        let f = write.ok_or_else(|| FfiError::invalid("write is NULL"))?;
        // SAFETY: forwarded from the caller.
        let ctx = unsafe { select(dir, dockerfile) }?;
        write_buffered(&ctx, Callback::new(f, user_data), &mut NoObserver)?;
        Ok(())
    })
}

/// `capstan_context_write` with the single-pass scan: every file is scanned with `rules` on
/// `threads` threads (0: one per core; more than 1024 is `CAPSTAN_ERR_INVALID_ARGUMENT`, refused
/// before anything is written) as its bytes go out, and `*out` receives the findings in tar
/// order. With `fail_on_findings`, a finding stops the context before its end (the
/// tar is left unfinished, so no builder accepts it) and the call returns
/// `CAPSTAN_ERR_FINDINGS_LIMIT` — `*out` still receives the findings then.
///
/// # Safety
/// As `capstan_context_write`; `rules` is a live handle; `out` points at writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_write_scan(
    rules: *const capstan_rules,
    dir: *const c_char,
    dockerfile: *const c_char,
    write: capstan_write_fn,
    user_data: *mut c_void,
    threads: u32,
    fail_on_findings: bool,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = unsafe { handle(rules, "rules") }?;
        let f = write.ok_or_else(|| FfiError::invalid("write is NULL"))?;
        let threads = crate::threads(threads)?;
        // SAFETY: forwarded from the caller.
        let ctx = unsafe { select(dir, dockerfile) }?;
        let (written, findings) =
            scan_in_background(&rules.rules, threads, true, fail_on_findings, |observer| {
                write_buffered(&ctx, Callback::new(f, user_data), observer)
            });
        match written {
            Ok(()) => {
                capstan_findings::new(findings, &[]).give_to(out);
                Ok(())
            }
            Err(e) if e.kind() == ContextErrorKind::Stopped => {
                capstan_findings::new(findings, &[]).give_to(out);
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    })
}
