//! Scanning: one buffer, a stream fed in chunks, a tree, an image, a repository's history.

use std::ffi::c_char;
use std::sync::Arc;

use core_capstan::git::GitOptions;
use core_capstan::scan::{IgnoreFiles, Request, Scanner};

use crate::{
    FfiError, boundary, c_bytes, c_path, c_slice, c_text, capstan_findings, capstan_rules,
    capstan_status, give, handle, handle_mut, out_param, put, take,
};

/// The path an input is reported under: any bytes (shown lossily), `-` when NULL.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn shown_path(path: *const c_char) -> String {
    if path.is_null() {
        return "-".to_owned();
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { c_bytes(path, "path") }.unwrap_or_default();
    String::from_utf8_lossy(bytes).into_owned()
}

/// Scans one complete buffer. `path` (NULL: `-`) is what findings report and what rules with
/// path patterns match against. A buffer with a NUL byte in its first 8 KiB counts as binary
/// and gives no findings. `*out` receives the findings (possibly none) on success.
///
/// # Safety
/// `rules` is a live handle; `data` points at `len` readable bytes (NULL only with `len` 0);
/// `path` is NULL or NUL-terminated; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scan_bytes(
    rules: *const capstan_rules,
    data: *const u8,
    len: usize,
    path: *const c_char,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = unsafe { handle(rules, "rules") }?;
        // SAFETY: the caller promises `len` readable bytes at `data`.
        let data = unsafe { c_slice(data, len, "data") }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let path = unsafe { shown_path(path) };
        capstan_findings::reported(rules.rules.scan_bytes(&path, data)).give_to(out);
        Ok(())
    })
}

/// A streaming scan of one input: feed it chunks of any size, then finish. A secret split
/// between two chunks is found; memory stays bounded by the longest line window, not the input.
/// Not thread-safe: use one scanner from one thread at a time.
pub struct capstan_scanner {
    /// `None` once finished. It holds its own reference to the rules.
    scanner: Option<Scanner<'static>>,
}

impl std::fmt::Debug for capstan_scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.scanner.is_some() {
            "open"
        } else {
            "finished"
        };
        write!(f, "capstan_scanner({state})")
    }
}

/// Starts a streaming scan of one input reported under `path` (NULL: `-`). The scanner keeps
/// the rules alive: `capstan_rules_free` may come first.
///
/// # Safety
/// `rules` is a live handle; `path` is NULL or NUL-terminated; `out` points at writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scanner_new(
    rules: *const capstan_rules,
    path: *const c_char,
    out: *mut *mut capstan_scanner,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let path = unsafe { shown_path(path) };
        let scanner = Scanner::shared(rules).path(&path);
        // SAFETY: `out` was checked above.
        unsafe {
            put(
                out,
                give(capstan_scanner {
                    scanner: Some(scanner),
                }),
            );
        }
        Ok(())
    })
}

/// Scans the next chunk (copied as needed: the caller's buffer is free again on return).
///
/// # Safety
/// `scanner` is a live handle used by no other thread meanwhile; `data` points at `len`
/// readable bytes (NULL only with `len` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scanner_feed(
    scanner: *mut capstan_scanner,
    data: *const u8,
    len: usize,
) -> capstan_status {
    boundary(|| {
        // SAFETY: the caller promises a live handle used by this call alone, or NULL.
        let s = unsafe { handle_mut(scanner, "scanner") }?;
        // SAFETY: the caller promises `len` readable bytes at `data`.
        let data = unsafe { c_slice(data, len, "data") }?;
        s.scanner
            .as_mut()
            .ok_or_else(|| FfiError::invalid("the scanner is already finished"))?
            .feed(data);
        Ok(())
    })
}

/// Ends the input and gives its findings. The scanner is finished: feeding it again is an
/// error; free it with `capstan_scanner_free`.
///
/// # Safety
/// `scanner` is a live handle used by no other thread meanwhile; `out` points at writable
/// memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scanner_finish(
    scanner: *mut capstan_scanner,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live handle used by this call alone, or NULL.
        let s = unsafe { handle_mut(scanner, "scanner") }?;
        let scanner = s
            .scanner
            .take()
            .ok_or_else(|| FfiError::invalid("the scanner is already finished"))?;
        capstan_findings::reported(scanner.finish()).give_to(out);
        Ok(())
    })
}

/// Frees a scanner, finished or not; NULL is accepted.
///
/// # Safety
/// `scanner` is NULL or a handle from `capstan_scanner_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scanner_free(scanner: *mut capstan_scanner) {
    // SAFETY: forwarded from the caller.
    unsafe { take(scanner) }
}

/// Scans a file or directory tree on `threads` threads (0: one per core; more than 1024 is
/// `CAPSTAN_ERR_INVALID_ARGUMENT` — it is refused, not lowered), as `capstan scan` does by
/// default: `.gitignore` honoured, hidden files scanned, `.git` skipped, symlinks not followed,
/// binaries and files over 10 MiB skipped, tar / tar.gz archives scanned inside. Unlike
/// `capstan scan`, nothing is suppressed (no `.capstanignore` is read) and nothing is cached:
/// a `capstan_request` does both. Files that could not be read do not fail the call: they are
/// listed by `capstan_findings_errors_len` / `capstan_findings_error`. A `path` that does not
/// exist is `CAPSTAN_ERR_IO`.
///
/// # Safety
/// `rules` is a live handle; `path` is NUL-terminated; `out` points at writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scan_path(
    rules: *const capstan_rules,
    path: *const c_char,
    threads: u32,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        let threads = crate::threads(threads)?;
        if let Err(e) = std::fs::symlink_metadata(path) {
            return Err(FfiError::new(
                capstan_status::CAPSTAN_ERR_IO,
                format!("{}: {e}", path.display()),
            ));
        }
        let outcome = Request::new([path])
            .rules(rules)
            .ignore_files(IgnoreFiles::Only(Vec::new()))
            .threads(threads)
            .prepare()?
            .run();
        capstan_findings::new(outcome.findings, &outcome.errors).give_to(out);
        Ok(())
    })
}

/// Scans one container image (`alpine`, `ghcr.io/org/app:1.2`, `oci:DIR[:TAG]`,
/// `docker-archive:FILE`: see `capstan_request_add_image`) with `threads` threads (0: one per
/// core; more than 1024 is `CAPSTAN_ERR_INVALID_ARGUMENT`): this host's platform, 3 layers
/// pulled at a time, HTTPS except to loopback registries, credentials resolved as the docker
/// CLI does. As `capstan_scan_path` is to files, the short form of a `capstan_request`: nothing
/// is suppressed (no `.capstanignore` is read) and nothing is cached; a request does both, and
/// picks the platform, the pulls and plain HTTP.
///
/// Findings read as a request's do (`capstan_findings_image`, `_layer_index`, …), in order:
/// the config's first, then layer by layer from the base. A layer that could not be read does
/// not fail the call: it is listed by `capstan_findings_error` (`IMAGE@layerN: cause`) beside
/// the findings of the rest. Text that is not an image reference is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`; an image that cannot be read at all (not found, unreachable,
/// refused, not matching its digest, no image for this platform) is `CAPSTAN_ERR_IO`, with
/// `IMAGE: cause` as the message.
///
/// # Safety
/// `rules` is a live handle; `image` is NUL-terminated; `out` points at writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scan_image(
    rules: *const capstan_rules,
    image: *const c_char,
    threads: u32,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        // SAFETY: the caller promises a NUL-terminated string.
        let image = unsafe { c_text(image, "image") }?;
        crate::request::image_source(image)?;
        let threads = crate::threads(threads)?;
        let outcome = Request::images([image])
            .rules(rules)
            .ignore_files(IgnoreFiles::Only(Vec::new()))
            .threads(threads)
            .prepare()?
            .run();
        // The image as a whole failed (its manifest or config): nothing was scanned.
        if let Some(e) = outcome.errors.iter().find(|e| e.path == image) {
            return Err(FfiError::new(
                capstan_status::CAPSTAN_ERR_IO,
                format!("{}: {}", e.path, e.reason),
            ));
        }
        capstan_findings::from_outcome(outcome).give_to(out);
        Ok(())
    })
}

/// Scans the history of the git repository at `repo` (a work tree or a bare repository) with
/// `threads` threads (0: one per core; more than 1024 is `CAPSTAN_ERR_INVALID_ARGUMENT`): every
/// blob reachable from every ref, each unique blob once, reported at the commit that first had
/// it, as `capstan git REPO` does. As `capstan_scan_path` is to files, the short form of a
/// `capstan_request`: nothing is suppressed (no `.capstanignore` is read) and nothing is cached;
/// a request (`capstan_request_set_git`) does both, and picks the part of history (`since`,
/// `branch`) or the staged changes.
///
/// Findings read as a request's do (`capstan_findings_commit`, `_author`, `_email`, `_date`,
/// `_message`; `capstan_findings_commits` counts the commits walked), in order (path, line,
/// column, rule). Objects that could not be read (a partial or shallow clone's, a corrupt one)
/// do not fail the call: they are listed by `capstan_findings_error` beside the findings of the
/// rest. A repository that cannot be opened (not there, not a repository) is `CAPSTAN_ERR_IO`,
/// with `REPO: cause` as the message.
///
/// # Safety
/// `rules` is a live handle; `repo` is NUL-terminated; `out` points at writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_scan_git(
    rules: *const capstan_rules,
    repo: *const c_char,
    threads: u32,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        // SAFETY: the caller promises a NUL-terminated string.
        let repo = unsafe { c_path(repo, "repo") }?;
        let threads = crate::threads(threads)?;
        let outcome = Request::git(repo, GitOptions::default())
            .rules(rules)
            .ignore_files(IgnoreFiles::Only(Vec::new()))
            .threads(threads)
            .prepare()?
            .run();
        // The repository as a whole failed (it could not be opened): nothing was scanned.
        let given = repo.display().to_string();
        if let Some(e) = outcome.errors.iter().find(|e| e.path == given) {
            return Err(FfiError::new(
                capstan_status::CAPSTAN_ERR_IO,
                format!("{}: {}", e.path, e.reason),
            ));
        }
        capstan_findings::from_outcome(outcome).give_to(out);
        Ok(())
    })
}
