//! A build context as a pull-based reader: core's `ContextReader` (the tar written by a
//! background thread into a bounded queue) for hosts that want a request body to read from,
//! such as Go's `io.Reader` given to an `http.Request` for docker's `POST /build`.

use std::ffi::c_char;
use std::io::{self, Read};

use core_capstan::tar::{ContextError, ContextReader};

use crate::context::select;
use crate::{FfiError, boundary, capstan_status, give, handle_mut, out_param, put, take};

/// The most one read gives: what the background writer sends at a time (64 KiB).
const READ_MAX: usize = 64 << 10;

/// The build context of a directory being read as a tar (`capstan_context_reader_new`).
/// NOT thread-safe: one reader is used by one thread at a time (it may move to another thread
/// between calls, but no two calls on it may overlap, `capstan_context_reader_free` included).
#[derive(Debug)]
pub struct capstan_context_reader {
    state: State,
}

#[derive(Debug)]
enum State {
    /// The background writer is running or has more queued.
    Reading(ContextReader),
    /// The whole tar was read.
    Done,
    /// A read failed: every later read fails the same way. (The writer has ended, and its
    /// closed queue would otherwise read as a clean end of the tar.)
    Failed(capstan_status, String),
}

/// A failed read as a status and message: the background writer's `ContextError` (a file that
/// could not be read or changed size, naming it) as `capstan_context_write` reports it.
fn read_error(e: io::Error) -> FfiError {
    let message = e.to_string();
    match e
        .into_inner()
        .and_then(|inner| inner.downcast::<ContextError>().ok())
    {
        Some(e) => (*e).into(),
        None => FfiError::new(
            capstan_status::CAPSTAN_ERR_IO,
            format!("reading the context: {message}"),
        ),
    }
}

/// Starts reading the build context of `dir` as a tar: the same bytes `capstan_context_write`
/// writes (the same selection, `.dockerignore` and Dockerfile rules — `dockerfile` NULL means
/// `Dockerfile` in `dir`, a relative one is relative to `dir`), pulled with
/// `capstan_context_reader_read` instead of pushed, as an HTTP request body is (docker's
/// `POST /build`).
///
/// The directory is walked and the Dockerfile located here: their errors fail this call. Then
/// a background thread copies the files, staying at most a few 64 KiB chunks ahead of the
/// reads, so memory stays bounded whatever the context's size. Free the reader with
/// `capstan_context_reader_free`, read to its end or not.
///
/// # Safety
/// `dir` is NUL-terminated; `dockerfile` is NULL or NUL-terminated; `out` points at writable
/// memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_reader_new(
    dir: *const c_char,
    dockerfile: *const c_char,
    out: *mut *mut capstan_context_reader,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: forwarded from the caller.
        let ctx = unsafe { select(dir, dockerfile) }?;
        let reader = capstan_context_reader {
            state: State::Reading(ctx.into_reader()),
        };
        // SAFETY: `out` was checked above.
        unsafe { put(out, give(reader)) };
        Ok(())
    })
}

/// Reads the next bytes of the tar into `buf` (at most `len`, and at most 64 KiB, in one call;
/// possibly fewer), blocking until the background writer has some. `*out_read` receives how
/// many: 0 means the end of the context (and every later read gives 0 again). `len` 0 is
/// refused, so that 0 bytes read always means the end.
///
/// A file that cannot be read, or that changed size since the context was selected (the tar
/// would be corrupt), fails the call with `CAPSTAN_ERR_IO` and a message naming it; the tar is
/// then unfinished, and every later read fails the same way.
///
/// # Safety
/// `reader` is a live handle used by no other thread meanwhile; `buf` points at `len` writable
/// bytes; `out_read` points at writable memory for a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_reader_read(
    reader: *mut capstan_context_reader,
    buf: *mut u8,
    len: usize,
    out_read: *mut usize,
) -> capstan_status {
    boundary(|| {
        out_param(out_read, "out_read")?;
        // SAFETY: the caller promises a live handle used by this call alone, or NULL.
        let r = unsafe { handle_mut(reader, "reader") }?;
        if buf.is_null() {
            return Err(FfiError::invalid("buf is NULL"));
        }
        if len == 0 {
            return Err(FfiError::invalid(
                "len is 0 (0 bytes read means the end of the context)",
            ));
        }
        let n = match &mut r.state {
            State::Reading(inner) => {
                let len = len.min(READ_MAX);
                // SAFETY: the caller promises `len` (≥ this `len`) writable bytes at `buf`, which
                // is not NULL. They are zeroed before a slice is made of them: the caller's
                // buffer may be uninitialised memory (malloc'd), and a `&mut [u8]` must hold
                // initialised bytes.
                let out = unsafe {
                    std::ptr::write_bytes(buf, 0, len);
                    std::slice::from_raw_parts_mut(buf, len)
                };
                match inner.read(out) {
                    Ok(0) => {
                        r.state = State::Done;
                        0
                    }
                    Ok(n) => n,
                    Err(e) => {
                        let e = read_error(e);
                        r.state = State::Failed(e.status, e.message.clone());
                        return Err(e);
                    }
                }
            }
            State::Done => 0,
            State::Failed(status, message) => {
                return Err(FfiError::new(*status, message.clone()));
            }
        };
        // SAFETY: `out_read` was checked above.
        unsafe { put(out_read, n) };
        Ok(())
    })
}

/// Frees a reader; NULL is accepted. Freed before its end, the reader stops the background
/// writer and waits for it to end, which it does at its next chunk: at most 64 KiB more of the
/// files are read first.
///
/// # Safety
/// `reader` is NULL or a handle from `capstan_context_reader_new`, not freed before and used
/// by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_context_reader_free(reader: *mut capstan_context_reader) {
    // SAFETY: forwarded from the caller.
    unsafe { take(reader) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{TempDir, c, last_error};
    use core_capstan::tar::{Context, ContextOptions};
    use std::path::Path;

    /// A context bigger than the reader's queue (a 1 MiB file), with `zz.txt` (100 bytes)
    /// after it in tar order.
    fn context(name: &str) -> TempDir {
        let dir = TempDir::new(&format!("reader-{name}"));
        let write =
            |name: &str, data: &[u8]| std::fs::write(dir.0.join(name), data).expect("write");
        write("Dockerfile", b"FROM scratch\nCOPY . /\n");
        write(".dockerignore", b"*.log\n");
        write("app.txt", b"hello\n");
        write("debug.log", b"ignored\n");
        write("big.bin", &b"0123456789abcdef".repeat(64 << 10));
        write("zz.txt", &[b'z'; 100]);
        dir
    }

    fn new_reader(dir: &Path) -> *mut capstan_context_reader {
        let mut r = std::ptr::null_mut();
        // SAFETY: a live C string and a local out-parameter.
        let st =
            unsafe { capstan_context_reader_new(c(dir).as_ptr(), std::ptr::null(), &raw mut r) };
        assert_eq!(st, capstan_status::CAPSTAN_OK, "{:?}", last_error());
        r
    }

    /// One read of at most `cap` bytes: its status and bytes.
    fn read(r: *mut capstan_context_reader, cap: usize) -> (capstan_status, Vec<u8>) {
        let mut buf = vec![0xAA; cap];
        let mut n = usize::MAX;
        // SAFETY: a live reader used by this thread alone, `cap` writable bytes, a local out.
        let st = unsafe { capstan_context_reader_read(r, buf.as_mut_ptr(), cap, &raw mut n) };
        if st == capstan_status::CAPSTAN_OK {
            buf.truncate(n);
        } else {
            assert_eq!(n, usize::MAX, "out_read written on failure");
            buf.clear();
        }
        (st, buf)
    }

    #[test]
    fn small_reads_give_the_bytes_the_context_writes() {
        let dir = context("same");
        let opts = ContextOptions::from_env()
            .locate_dockerfile(&dir.0, None)
            .expect("Dockerfile");
        let mut want = Vec::new();
        Context::select(&dir.0, &opts)
            .expect("select")
            .write_to(&mut want)
            .expect("write");

        let r = new_reader(&dir.0);
        let mut got = Vec::new();
        loop {
            let (st, bytes) = read(r, 1000);
            assert_eq!(st, capstan_status::CAPSTAN_OK, "{:?}", last_error());
            if bytes.is_empty() {
                break;
            }
            assert!(bytes.len() <= 1000);
            got.extend_from_slice(&bytes);
        }
        assert!(
            got == want,
            "{} bytes read, {} written",
            got.len(),
            want.len()
        );
        assert_eq!(read(r, 10), (capstan_status::CAPSTAN_OK, Vec::new()));
        // SAFETY: a handle from capstan_context_reader_new, freed once.
        unsafe { capstan_context_reader_free(r) };

        // One read never gives more than a chunk, however big the buffer.
        let r = new_reader(&dir.0);
        let (st, first) = read(r, 1 << 20);
        assert_eq!(st, capstan_status::CAPSTAN_OK);
        assert!(!first.is_empty() && first.len() <= READ_MAX && want.starts_with(&first));
        // Freed with the writer blocked on a full queue: it stops and is waited for.
        // SAFETY: as above.
        unsafe { capstan_context_reader_free(r) };
    }

    #[test]
    fn a_file_that_changed_fails_every_later_read_naming_it() {
        let dir = context("changed");
        let r = new_reader(&dir.0);
        // The writer is held up in big.bin (the queue is full) long before zz.txt.
        std::fs::write(dir.0.join("zz.txt"), b"short\n").expect("write");
        let failed = loop {
            match read(r, 4096) {
                (capstan_status::CAPSTAN_OK, bytes) => assert!(!bytes.is_empty(), "no error"),
                (st, _) => break st,
            }
        };
        assert_eq!(failed, capstan_status::CAPSTAN_ERR_IO);
        let msg = last_error().unwrap_or_default();
        assert!(msg.contains("zz.txt") && msg.contains("changed"), "{msg}");
        assert_eq!(read(r, 4096).0, capstan_status::CAPSTAN_ERR_IO);
        assert_eq!(last_error(), Some(msg));
        // SAFETY: a handle from capstan_context_reader_new, freed once.
        unsafe { capstan_context_reader_free(r) };
    }

    #[test]
    fn bad_arguments_are_refused() {
        let dir = context("args");
        let d = c(&dir.0);
        let mut r = std::ptr::null_mut();
        // SAFETY: NULL or live C strings and out-parameters; nothing else is touched.
        unsafe {
            let st = capstan_context_reader_new(std::ptr::null(), std::ptr::null(), &raw mut r);
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            let st = capstan_context_reader_new(d.as_ptr(), std::ptr::null(), std::ptr::null_mut());
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            let st = capstan_context_reader_new(d.as_ptr(), c"Nope".as_ptr(), &raw mut r);
            assert_eq!(st, capstan_status::CAPSTAN_ERR_IO);
            assert!(last_error().unwrap_or_default().contains("Nope"));
            assert!(r.is_null());
            capstan_context_reader_free(std::ptr::null_mut());
        }
        let r = new_reader(&dir.0);
        let mut buf = [0u8; 8];
        let mut n = 7;
        // SAFETY: a live reader, NULL or live buffers and out-parameters.
        unsafe {
            let null = std::ptr::null_mut();
            let st = capstan_context_reader_read(null, buf.as_mut_ptr(), 8, &raw mut n);
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            let st = capstan_context_reader_read(r, std::ptr::null_mut(), 8, &raw mut n);
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            let st = capstan_context_reader_read(r, buf.as_mut_ptr(), 0, &raw mut n);
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            let st = capstan_context_reader_read(r, buf.as_mut_ptr(), 8, std::ptr::null_mut());
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            assert_eq!(n, 7);
            // Refused arguments leave the reader as it was.
            let st = capstan_context_reader_read(r, buf.as_mut_ptr(), 8, &raw mut n);
            assert_eq!(st, capstan_status::CAPSTAN_OK);
            assert_eq!(n, 8);
            capstan_context_reader_free(r);
        }
    }
}
