//! SIGINT. For `capstan scan` the first one stops the walk (the report of what was found so far
//! is still written, marked interrupted, exit 130) and a second one ends the process at once;
//! every other command ends at the first. Ending at once removes the temporary files of
//! reports and archives being written (see [`create_temp`]), so no half file is left, then
//! dies of the SIGINT as it would have without a handler.
//!
//! The signal is handled in ordinary Rust code: signal-hook's handler only wakes a thread of
//! ours ([`Signals`]), which sets the flags, removes the files and ends the process.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use signal_hook::consts::SIGINT;
use signal_hook::iterator::Signals;

/// Set by the first SIGINT (and by anything else that wants the walk to stop).
static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Whether the first SIGINT only stops the work (`capstan scan`) rather than ending it.
static GRACEFUL: AtomicBool = AtomicBool::new(false);

/// Temporary files to remove if the process ends at a SIGINT. Held locked by the thread that
/// ends the process from the removal on, so no file is made (or renamed away) behind it.
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the handler (once): from now on a SIGINT removes the registered temporary files and
/// ends the process as a SIGINT does (unless [`stop_on_sigint`] asked for a graceful first one).
/// A SIGINT the process was started ignoring (a background job of a script) stays ignored.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if started_ignoring_sigint() {
            return;
        }
        // The thread registers the handler itself and says so before `install` returns: a
        // thread that could not be started leaves SIGINT as it was (ending the process), where
        // a handler without its thread would swallow every SIGINT.
        let (registered, wait) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("sigint".into())
            .spawn(move || {
                let signals = Signals::new([SIGINT]);
                let _ = registered.send(());
                if let Ok(mut signals) = signals {
                    for _ in signals.forever() {
                        on_sigint();
                    }
                }
            });
        if spawned.is_ok() {
            let _ = wait.recv();
        }
    });
}

/// Whether SIGINT is ignored now, as the process was started (nothing else here ignores it).
fn started_ignoring_sigint() -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action makes sigaction only read the current one into `current`, a
    // valid place for it; nothing is changed.
    let read = unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: zeroed is a valid sigaction (plain integers and a sigset), filled in on success.
    let current = unsafe { current.assume_init() };
    read == 0 && current.sa_sigaction == libc::SIG_IGN
}

fn on_sigint() {
    if SIGNALLED.swap(true, Ordering::SeqCst) || !GRACEFUL.load(Ordering::SeqCst) {
        die();
    }
    STOP.store(true, Ordering::SeqCst);
}

/// Removes the registered temporary files and ends the process as a SIGINT does without a
/// handler, so the shell sees it (a `for` loop stops).
fn die() -> ! {
    // Kept locked to the end: no temporary file is made or given up from here on.
    let files = TEMP_FILES.lock();
    for path in files.iter() {
        let _ = std::fs::remove_file(path);
    }
    // The default action back, the signal unblocked and raised; aborts should that not end it.
    let _ = signal_hook::low_level::emulate_default_handler(SIGINT);
    std::process::exit(130)
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
pub struct TempGuard(PathBuf);

/// Makes a temporary file with `create` and registers it to be removed if a SIGINT ends the
/// process (installing the handler, so any command writing a file gets it). The list stays
/// locked while the file is made: a SIGINT cannot end the process between the file appearing
/// and its registration.
pub fn create_temp<T: AsRef<Path>>(
    create: impl FnOnce() -> io::Result<T>,
) -> io::Result<(T, TempGuard)> {
    install();
    let mut files = TEMP_FILES.lock();
    let made = create()?;
    let path = made.as_ref().to_owned();
    files.push(path.clone());
    Ok((made, TempGuard(path)))
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        let mut files = TEMP_FILES.lock();
        if let Some(i) = files.iter().position(|p| *p == self.0) {
            files.swap_remove(i);
        }
    }
}
