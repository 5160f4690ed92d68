//! Findings handed to C: a list built once, read by index, serialised on demand.

use std::ffi::{CString, c_char};

use core_capstan::scan::{Finding, Issue};

use crate::{
    FfiError, boundary, c_string, capstan_status, give, give_string, handle, out_param, put, quiet,
    take,
};

/// The findings of one scan, in order (path, line, column, rule), and the files that could not
/// be read. Immutable: share it freely between threads. Strings borrowed from it live until
/// `capstan_findings_free`.
pub struct capstan_findings {
    findings: Vec<Finding>,
    /// NUL-terminated copies of each finding's text fields, in `Text` order.
    texts: Vec<[CString; TEXTS]>,
    errors: Vec<CString>,
}

const TEXTS: usize = 7;

impl std::fmt::Debug for capstan_findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capstan_findings({} findings, {} errors)",
            self.findings.len(),
            self.errors.len()
        )
    }
}

impl capstan_findings {
    pub(crate) fn new(findings: Vec<Finding>, errors: &[Issue]) -> Self {
        let texts = findings
            .iter()
            .map(|f| {
                [
                    c_string(&f.rule_id),
                    c_string(f.category.as_str()),
                    c_string(&f.path),
                    c_string(&f.secret),
                    c_string(&f.fingerprint),
                    c_string(f.severity.as_str()),
                    c_string(&f.description),
                ]
            })
            .collect();
        let errors = errors
            .iter()
            .map(|e| c_string(&format!("{}: {}", e.path, e.reason)))
            .collect();
        capstan_findings {
            findings,
            texts,
            errors,
        }
    }

    /// Hands the findings to C through a checked out-parameter.
    pub(crate) fn give_to(self, out: *mut *mut capstan_findings) {
        // SAFETY: every caller checked `out` with `out_param` before doing any work.
        unsafe { put(out, give(self)) }
    }
}

/// One finding, as `capstan_findings_get` fills it in. Strings are NUL-terminated UTF-8,
/// borrowed from the findings: they live until `capstan_findings_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct capstan_finding {
    /// The rule that matched.
    pub rule_id: *const c_char,
    /// `secret`, `crypto` or `threat`.
    pub category: *const c_char,
    /// The file (`archive.tar!member` inside archives), or the path given to the scan.
    pub path: *const c_char,
    /// The secret, redacted: its first characters and `…`.
    pub secret: *const c_char,
    /// Stable across line moves: a hash of rule id, path and the secret.
    pub fingerprint: *const c_char,
    /// First line of the match, 1-based.
    pub line: u32,
    /// First column (byte) of the match, 1-based.
    pub column: u32,
    /// Last line of the match.
    pub end_line: u32,
    /// Column of the match's last byte.
    pub end_column: u32,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: *const c_char,
    /// What the rule finds.
    pub description: *const c_char,
    /// Shannon entropy of the secret, bits per byte.
    pub entropy: f64,
}

/// The number of findings (0 for NULL).
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_len(findings: *const capstan_findings) -> usize {
    quiet(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }.map_or(0, |f| f.findings.len())
    })
}

/// Fills `out` with finding `i` (0-based); an index past the end is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `findings` is NULL or a live handle; `out` points at writable memory for a
/// `capstan_finding`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_get(
    findings: *const capstan_findings,
    i: usize,
    out: *mut capstan_finding,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises NULL or a live handle.
        let all = unsafe { handle(findings, "findings") }?;
        let (Some(f), Some(t)) = (all.findings.get(i), all.texts.get(i)) else {
            return Err(FfiError::invalid(format!(
                "index {i} is past the end ({} findings)",
                all.findings.len()
            )));
        };
        let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let item = capstan_finding {
            rule_id: t[0].as_ptr(),
            category: t[1].as_ptr(),
            path: t[2].as_ptr(),
            secret: t[3].as_ptr(),
            fingerprint: t[4].as_ptr(),
            line: n(f.line),
            column: n(f.column),
            end_line: n(f.end_line),
            end_column: n(f.end_column),
            severity: t[5].as_ptr(),
            description: t[6].as_ptr(),
            entropy: f.entropy,
        };
        // SAFETY: `out` was checked above.
        unsafe { put(out, item) };
        Ok(())
    })
}

/// The number of files that could not be read (or not completely) during a tree scan; their
/// findings, if any, are still in the list.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_errors_len(findings: *const capstan_findings) -> usize {
    quiet(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }.map_or(0, |f| f.errors.len())
    })
}

/// Error `i` as `"path: cause"`, borrowed until `capstan_findings_free`; NULL when `i` is past
/// the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_error(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    quiet(std::ptr::null(), || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }
            .and_then(|f| f.errors.get(i))
            .map_or(std::ptr::null(), |e| e.as_ptr())
    })
}

/// The findings as a JSON array (the objects `capstan scan --format json` prints under
/// `findings`), for `capstan_string_free`.
///
/// # Safety
/// `findings` is NULL or a live handle; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_to_json(
    findings: *const capstan_findings,
    out: *mut *mut c_char,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises NULL or a live handle.
        let all = unsafe { handle(findings, "findings") }?;
        let json = serde_json::to_string(&all.findings)
            .map_err(|e| FfiError::new(capstan_status::CAPSTAN_ERR_OTHER, format!("JSON: {e}")))?;
        // SAFETY: `out` was checked above.
        unsafe { put(out, give_string(&json)) };
        Ok(())
    })
}

/// Frees findings; NULL is accepted. Strings borrowed from them become invalid.
///
/// # Safety
/// `findings` is NULL or a handle from a scan call, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_free(findings: *mut capstan_findings) {
    // SAFETY: forwarded from the caller.
    unsafe { take(findings) }
}
