//! Rule sets: built-in packs, TOML text, config files.

use std::ffi::c_char;
use std::sync::Arc;

use core_capstan::scan::{ConfigErrorKind, PACKS, RuleSet, Rules};

use crate::{
    FfiError, boundary, c_path, c_slice, c_text, capstan_status, give, handle, out_param, put,
    quiet, take,
};

/// A compiled rule set. Immutable: share it freely between threads. Scanners made from it keep
/// it alive, so it may be freed while they run.
pub struct capstan_rules {
    pub(crate) rules: Arc<Rules>,
}

impl std::fmt::Debug for capstan_rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "capstan_rules({} rules)", self.rules.len())
    }
}

fn compile(set: &RuleSet, out: *mut *mut capstan_rules) -> Result<(), FfiError> {
    let rules = Rules::compile(set)?;
    // SAFETY: `out` was checked by the caller with `out_param`.
    unsafe {
        put(
            out,
            give(capstan_rules {
                rules: Arc::new(rules),
            }),
        );
    }
    Ok(())
}

/// Compiles built-in packs: `packs` NULL means all of them, otherwise a comma-separated list
/// such as `"secrets,crypto"` (packs: `secrets`, `crypto`, `threats`, `dockerfile`).
///
/// # Safety
/// `packs` is NULL or a NUL-terminated string; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_builtin(
    packs: *const c_char,
    out: *mut *mut capstan_rules,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        let set = if packs.is_null() {
            RuleSet::builtin_all()
        } else {
            // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
            let text = unsafe { c_text(packs, "packs") }?;
            let names: Vec<&str> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                return Err(FfiError::invalid(format!(
                    "packs is empty: name some of {} or pass NULL for all",
                    PACKS.join(", ")
                )));
            }
            RuleSet::builtin(&names)
        };
        let set = set.map_err(|e| match e.kind() {
            ConfigErrorKind::UnknownPack => {
                FfiError::invalid(format!("{e} (the packs are {})", PACKS.join(", ")))
            }
            _ => e.into(),
        })?;
        compile(&set, out)
    })
}

/// Compiles a rule config given as TOML text (capstan's format or a gitleaks config, unchanged;
/// `[extend] path` resolves against the working directory).
///
/// # Safety
/// `toml` points at `len` readable bytes (NULL only with `len` 0); `out` at writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_from_toml(
    toml: *const c_char,
    len: usize,
    out: *mut *mut capstan_rules,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises `len` readable bytes at `toml`.
        let bytes = unsafe { c_slice(toml.cast(), len, "toml") }?;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            FfiError::new(
                capstan_status::CAPSTAN_ERR_CONFIG,
                format!("the rule config is not UTF-8 (byte {})", e.valid_up_to()),
            )
        })?;
        compile(&RuleSet::from_toml(text)?, out)
    })
}

/// Loads and compiles a rule config file (capstan's format or a gitleaks config, following
/// `[extend]`). Errors name the file, and the rule when one is at fault.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_from_file(
    path: *const c_char,
    out: *mut *mut capstan_rules,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        compile(&RuleSet::load(path)?, out)
    })
}

/// The number of rules in a compiled set (0 for NULL).
///
/// # Safety
/// `rules` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_len(rules: *const capstan_rules) -> usize {
    quiet(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { rules.as_ref() }.map_or(0, |r| r.rules.len())
    })
}

/// A second handle to the same compiled rules (no copy: they are shared and freed with the last
/// handle). Lets a caller that may free its handle at any time lend one to a long call.
///
/// # Safety
/// `rules` is a live handle; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_clone(
    rules: *const capstan_rules,
    out: *mut *mut capstan_rules,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        // SAFETY: `out` was checked above.
        unsafe { put(out, give(capstan_rules { rules })) };
        Ok(())
    })
}

/// Frees a rule set; NULL is accepted. Scanners made from it stay valid.
///
/// # Safety
/// `rules` is NULL or a handle from a `capstan_rules_*` constructor, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_rules_free(rules: *mut capstan_rules) {
    // SAFETY: forwarded from the caller.
    unsafe { take(rules) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::last_error;

    fn builtin(packs: Option<&std::ffi::CStr>) -> (capstan_status, *mut capstan_rules) {
        let mut out = std::ptr::null_mut();
        // SAFETY: a literal or NULL, and a local out-parameter.
        let st = unsafe {
            capstan_rules_builtin(
                packs.map_or(std::ptr::null(), std::ffi::CStr::as_ptr),
                &raw mut out,
            )
        };
        (st, out)
    }

    #[test]
    fn packs_by_name_and_all() {
        let (st, all) = builtin(None);
        assert_eq!(st, capstan_status::CAPSTAN_OK);
        let (st, two) = builtin(Some(c"secrets, crypto"));
        assert_eq!(st, capstan_status::CAPSTAN_OK);
        // SAFETY: live handles from the calls above, freed once.
        unsafe {
            assert!(
                capstan_rules_len(two) > 100 && capstan_rules_len(two) < capstan_rules_len(all)
            );
            capstan_rules_free(all);
            capstan_rules_free(two);
            capstan_rules_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn unknown_or_empty_packs_are_invalid_arguments_and_out_is_untouched() {
        for packs in [c"secrets,nope", c" , "] {
            let (st, out) = builtin(Some(packs));
            assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
            assert!(out.is_null());
            assert!(last_error().is_some_and(|m| m.contains("secrets, crypto")));
        }
        // SAFETY: NULL out-parameter: refused before anything is written.
        let st = unsafe { capstan_rules_builtin(std::ptr::null(), std::ptr::null_mut()) };
        assert_eq!(st, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT);
    }

    #[test]
    fn toml_errors_say_what_is_wrong() {
        let mut out = std::ptr::null_mut();
        let bad = b"[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n";
        // SAFETY: a live buffer of the length given.
        let st = unsafe { capstan_rules_from_toml(bad.as_ptr().cast(), bad.len(), &raw mut out) };
        assert_eq!(st, capstan_status::CAPSTAN_ERR_CONFIG);
        assert!(
            last_error().is_some_and(|m| m.contains('x')),
            "{:?}",
            last_error()
        );
        let not_utf8 = b"id = \"\xff\"";
        // SAFETY: as above.
        let st = unsafe {
            capstan_rules_from_toml(not_utf8.as_ptr().cast(), not_utf8.len(), &raw mut out)
        };
        assert_eq!(st, capstan_status::CAPSTAN_ERR_CONFIG);
        assert!(out.is_null());
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let mut out = std::ptr::null_mut();
        // SAFETY: a literal path and a local out-parameter.
        let st = unsafe {
            capstan_rules_from_file(c"/nonexistent/gitleaks.toml".as_ptr(), &raw mut out)
        };
        assert_eq!(st, capstan_status::CAPSTAN_ERR_IO);
        assert!(last_error().is_some_and(|m| m.contains("/nonexistent/gitleaks.toml")));
    }
}
