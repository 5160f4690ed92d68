//! Bounded concurrency: thread counts, a limiter, and a batcher.
//!
//! capstan's parallel work runs on scoped threads ([`std::thread::scope`]) and the `ignore`
//! crate's walker; this module resolves how many threads they get ([`threads`]) and holds:
//!
//! - [`Limiter`]: a counting semaphore with RAII permits ("at most three pulls at once").
//! - [`Batcher`]: items pushed from many threads reach a sink in batches, by count or by age,
//!   with backpressure and a final flush.

mod batcher;
mod limiter;
mod par;

pub use batcher::{BatchStats, Batcher, BatcherBuilder};
pub use limiter::{Limiter, Permit};
pub(crate) use par::par_map;

/// The most threads a caller may ask for. Each is an OS thread with its own stack; past a few
/// per core they only add contention (`-j 100000` once started ~10k threads on a two-file
/// directory), so a larger request is an error rather than a machine brought to its knees.
pub const MAX_THREADS: usize = 1024;

/// One thread per core: what `0` threads means everywhere in capstan.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// A requested thread count resolved: `0` is [`default_threads`], `1..=`[`MAX_THREADS`] is
/// taken as given, more is [`ExecError::TooManyThreads`].
///
/// ```
/// use capstan::exec::{threads, MAX_THREADS};
///
/// assert!(threads(0)? >= 1);
/// assert_eq!(threads(3)?, 3);
/// assert!(threads(MAX_THREADS + 1).is_err());
/// # Ok::<(), capstan::exec::ExecError>(())
/// ```
pub fn threads(requested: usize) -> Result<usize, ExecError> {
    match requested {
        0 => Ok(default_threads()),
        n if n <= MAX_THREADS => Ok(n),
        n => Err(ExecError::TooManyThreads {
            requested: n,
            max: MAX_THREADS,
        }),
    }
}

/// Why a push, a flush or a thread request did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The batcher has been shut down.
    #[error("the batcher is shut down")]
    ShutDown,
    /// `try_push` found the queue full.
    #[error("the queue is full")]
    QueueFull,
    /// More threads were asked for than [`MAX_THREADS`].
    #[error("{requested} threads is more than the maximum of {max} (0 means one per core)")]
    TooManyThreads {
        /// What was asked for.
        requested: usize,
        /// [`MAX_THREADS`].
        max: usize,
    },
    /// The operating system refused a thread.
    #[error("could not start a thread: {0}")]
    Spawn(String),
}
