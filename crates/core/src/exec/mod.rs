//! Bounded concurrency: thread counts, a limiter, and a batcher.
//!
//! capstan's parallel work runs on scoped threads ([`std::thread::scope`]) and the `ignore`
//! crate's walker; this module resolves how many threads they get ([`threads`]) and holds:
//!
//! - [`Limiter`]: a counting semaphore with RAII permits ("at most three pulls at once").
//! - [`Batcher`]: items pushed from many threads reach a sink in batches, by count or by age,
//!   with backpressure, the rest delivered at shutdown.

mod batcher;
mod limiter;
mod par;

pub use batcher::{BatchStats, Batcher, BatcherBuilder};
pub use limiter::{Limiter, Permit};
pub(crate) use par::{each_with, on_a_thread, par_map};

/// The most threads a caller may ask for. Each is an OS thread with its own stack; past a few
/// per core they only add contention (`-j 100000` once started ~10k threads on a two-file
/// directory), so a larger request is an error rather than a machine brought to its knees.
pub const MAX_THREADS: usize = 1024;

/// One thread per core: what `0` threads means everywhere in capstan. Read once per process
/// (each reading opens three cgroup files, ~0.4 ms: a one-file scan used to pay it a dozen
/// times).
pub fn default_threads() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// A requested thread count resolved: `0` is [`default_threads`], `1..=`[`MAX_THREADS`] is
/// taken as given, more is an [`ExecError`] of kind [`ExecErrorKind::TooManyThreads`].
///
/// ```
/// use capstan::exec::{threads, ExecErrorKind, MAX_THREADS};
///
/// assert!(threads(0)? >= 1);
/// assert_eq!(threads(3)?, 3);
/// let e = threads(MAX_THREADS + 1).unwrap_err();
/// assert_eq!(e.kind(), ExecErrorKind::TooManyThreads);
/// assert_eq!(e.requested_threads(), Some(MAX_THREADS + 1));
/// assert_eq!(e.to_string(), "1025 threads is more than the maximum of 1024 (0 means one per core)");
/// # Ok::<(), capstan::exec::ExecError>(())
/// ```
pub fn threads(requested: usize) -> Result<usize, ExecError> {
    match requested {
        0 => Ok(default_threads()),
        n if n <= MAX_THREADS => Ok(n),
        n => Err(ExecError(Repr::TooManyThreads {
            requested: n,
            max: MAX_THREADS,
        })),
    }
}

/// Why a push or a thread request did not complete.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ExecError(Repr);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error("the batcher is shut down")]
    ShutDown,
    #[error("the queue is full")]
    QueueFull,
    #[error("{requested} threads is more than the maximum of {max} (0 means one per core)")]
    TooManyThreads { requested: usize, max: usize },
    #[error("could not start a thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// What kind of thing went wrong in an [`ExecError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecErrorKind {
    /// The batcher has been shut down.
    ShutDown,
    /// `try_push` found the queue full.
    QueueFull,
    /// More threads were asked for than [`MAX_THREADS`].
    TooManyThreads,
    /// The operating system refused a thread (the cause is the error's `source`).
    Spawn,
}

impl ExecError {
    pub(crate) fn shut_down() -> Self {
        ExecError(Repr::ShutDown)
    }

    pub(crate) fn queue_full() -> Self {
        ExecError(Repr::QueueFull)
    }

    pub(crate) fn spawn(source: std::io::Error) -> Self {
        ExecError(Repr::Spawn(source))
    }

    /// What went wrong.
    pub fn kind(&self) -> ExecErrorKind {
        match self.0 {
            Repr::ShutDown => ExecErrorKind::ShutDown,
            Repr::QueueFull => ExecErrorKind::QueueFull,
            Repr::TooManyThreads { .. } => ExecErrorKind::TooManyThreads,
            Repr::Spawn(_) => ExecErrorKind::Spawn,
        }
    }

    /// The thread count asked for, when it was too many.
    pub fn requested_threads(&self) -> Option<usize> {
        match self.0 {
            Repr::TooManyThreads { requested, .. } => Some(requested),
            _ => None,
        }
    }
}
