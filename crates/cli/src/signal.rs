//! SIGINT for `capstan scan`: the first one stops the walk (the report of what was found so far
//! is still written, marked interrupted, exit 130); a second one ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT (and by anything else that wants the walk to stop).
static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only atomics and _exit here: both are async-signal-safe.
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe and ends the process without running Rust code.
        unsafe { libc::_exit(130) };
    }
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handler and returns the flag it sets.
pub fn stop_on_sigint() -> &'static AtomicBool {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised, its mask is emptied in place, and the handler only
    // touches atomics and _exit; the old action is not needed.
    unsafe {
        libc::sigemptyset(&raw mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &raw const action, std::ptr::null_mut());
    }
    &STOP
}

/// Whether a SIGINT arrived.
pub fn interrupted() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}
