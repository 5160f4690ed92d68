//! SIGINT. For `capstan scan` the first one stops the walk (the report of what was found so far
//! is still written, marked interrupted, exit 130) and a second one ends the process at once;
//! every other command ends at the first. Ending at once removes the temporary files of
//! reports and archives being written (see [`remove_on_exit`]), so no half file is left, then
//! dies of the SIGINT as it would have without a handler.

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Set by the first SIGINT (and by anything else that wants the walk to stop).
static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Whether the first SIGINT only stops the work (`capstan scan`) rather than ending it.
static GRACEFUL: AtomicBool = AtomicBool::new(false);

/// Temporary files to remove if the process ends at a SIGINT: NUL-terminated paths, leaked so
/// that the handler can never see one freed (a process writes one or two outputs).
static TEMP_FILES: [AtomicPtr<libc::c_char>; 8] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; 8];

extern "C" fn on_sigint(_: libc::c_int) {
    // Only atomics and async-signal-safe calls (unlink, sigaction, pthread_sigmask, raise, _exit).
    if SIGNALLED.swap(true, Ordering::SeqCst) || !GRACEFUL.load(Ordering::SeqCst) {
        for slot in &TEMP_FILES {
            let path = slot.load(Ordering::SeqCst);
            if !path.is_null() {
                // SAFETY: a non-null slot holds a leaked, never freed, NUL-terminated path.
                unsafe { libc::unlink(path) };
            }
        }
        // End as a SIGINT would have without the handler, so the shell sees it (a `for` loop
        // stops): the default action back, the signal unblocked and raised again.
        // SAFETY: zeroed sigaction/sigset values are valid to fill in; every call here is
        // async-signal-safe, and _exit ends the process without running Rust code should the
        // raised signal not end it.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&raw mut default.sa_mask);
            libc::sigaction(libc::SIGINT, &raw const default, std::ptr::null_mut());
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&raw mut set);
            libc::sigaddset(&raw mut set, libc::SIGINT);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &raw const set, std::ptr::null_mut());
            libc::raise(libc::SIGINT);
            libc::_exit(130);
        }
    }
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handler: from now on a SIGINT removes the registered temporary files and ends
/// the process as a SIGINT does (unless [`stop_on_sigint`] asked for a graceful first one).
/// A SIGINT the process was started ignoring (a background job of a script) stays ignored.
pub fn install() {
    // SAFETY: zeroed sigaction values are valid "no flags, empty mask" values to fill in;
    // reading the current action has no effect.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `current` is a valid place for the old action.
    unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), &raw mut current) };
    if current.sa_sigaction == libc::SIG_IGN {
        return;
    }
    // SAFETY: as above.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised, its mask is emptied in place, and the handler only
    // makes async-signal-safe calls; the old action is not needed.
    unsafe {
        libc::sigemptyset(&raw mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &raw const action, std::ptr::null_mut());
    }
}

/// Makes the first SIGINT stop the work instead of ending the process, and returns the flag it
/// sets; the second still ends it at once.
pub fn stop_on_sigint() -> &'static AtomicBool {
    GRACEFUL.store(true, Ordering::SeqCst);
    install();
    &STOP
}

/// Whether a SIGINT arrived.
pub fn interrupted() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// A temporary file that a SIGINT ending the process removes; dropping the guard (the file was
/// renamed into place or removed) takes it off the list.
pub struct TempGuard(Option<usize>);

/// Registers `path` to be removed if a SIGINT ends the process (installing the handler, so
/// any command writing a file gets it). Without a free slot (or for a
/// path with a NUL byte) nothing is registered: the file is then left as before.
pub fn remove_on_exit(path: &Path) -> TempGuard {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return TempGuard(None);
    };
    install();
    let raw = c.into_raw();
    for (i, slot) in TEMP_FILES.iter().enumerate() {
        if slot
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            return TempGuard(Some(i));
        }
    }
    // SAFETY: `raw` came from `CString::into_raw` above and was never shared.
    drop(unsafe { CString::from_raw(raw) });
    TempGuard(None)
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            // The path stays allocated (leaked): the handler may be reading it right now.
            TEMP_FILES[i].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}
