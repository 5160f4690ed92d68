//! Registry credentials through one process-wide cache.

use std::ffi::c_char;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use core_capstan::auth::{AuthCache, AuthError, AuthErrorKind, ImageRef, Resolver};

use crate::{FfiError, boundary, c_text, capstan_status, give_string, out_param, put};

/// The process-wide cache, built from the environment (`DOCKER_CONFIG`, `HOME`,
/// `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`) when first used and again by `capstan_auth_clear`.
fn slot() -> &'static RwLock<Option<Arc<AuthCache>>> {
    static CACHE: OnceLock<RwLock<Option<Arc<AuthCache>>>> = OnceLock::new();
    CACHE.get_or_init(|| RwLock::new(None))
}

fn cache() -> Arc<AuthCache> {
    if let Some(c) = slot().read().as_ref() {
        return Arc::clone(c);
    }
    Arc::clone(
        slot()
            .write()
            .get_or_insert_with(|| Arc::new(AuthCache::new(Resolver::from_env()))),
    )
}

impl From<&AuthError> for FfiError {
    fn from(e: &AuthError) -> Self {
        let status = match e.kind() {
            AuthErrorKind::Config => capstan_status::CAPSTAN_ERR_CONFIG,
            AuthErrorKind::Read => capstan_status::CAPSTAN_ERR_IO,
            _ => capstan_status::CAPSTAN_ERR_OTHER,
        };
        FfiError::new(status, e.to_string())
    }
}

/// The `X-Registry-Auth` header value for pulling or pushing `image` (e.g. `alpine`,
/// `ghcr.io/org/app:1.2`), resolved as the docker CLI does — podman's and docker's config
/// files, `credHelpers`, `credsStore`, `auths` — through a process-wide cache (15 minutes per
/// registry; a credential helper runs once however many threads ask at the same time; config
/// edits are noticed; the environment naming the files is read at the first lookup and after
/// `capstan_auth_clear`). Anonymous access gives the header of empty credentials. Free the value
/// with `capstan_string_free`: it carries the secret.
///
/// # Safety
/// `image` is NUL-terminated; `out_header` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_auth_header(
    image: *const c_char,
    out_header: *mut *mut c_char,
) -> capstan_status {
    boundary(|| {
        out_param(out_header, "out_header")?;
        // SAFETY: the caller promises a NUL-terminated string.
        let text = unsafe { c_text(image, "image") }?;
        let image: ImageRef = text
            .parse()
            .map_err(|e| FfiError::invalid(format!("{text}: {e}")))?;
        let got = cache().get(&image).map_err(|e| FfiError::from(&*e))?;
        let header = got.credentials.registry_auth_header(image.credential_key());
        // SAFETY: `out_header` was checked above.
        unsafe { put(out_header, give_string(&header)) };
        Ok(())
    })
}

/// Forgets every cached credential and reads the environment again on the next lookup (after
/// a `docker login`, or a change of `DOCKER_CONFIG`, say).
#[unsafe(no_mangle)]
pub extern "C" fn capstan_auth_clear() {
    let _ = boundary(|| {
        *slot().write() = None;
        Ok(())
    });
}
