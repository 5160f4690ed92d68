//! Bounded concurrency: a worker pool, a limiter, and a batcher.
//!
//! - [`WorkerPool`]: a fixed set of threads fed by a bounded queue, with cancellable jobs, a
//!   borrowing [`scope`](WorkerPool::scope), and panics reported as errors.
//! - [`Limiter`]: a counting semaphore with RAII permits ("at most three pulls at once").
//! - [`Batcher`]: items pushed from many threads reach a sink in batches, by count or by age,
//!   with backpressure and a final flush.

mod batcher;
mod limiter;
mod par;
mod workers;

pub use batcher::{BatchStats, Batcher, BatcherBuilder};
pub use limiter::{Limiter, Permit};
pub(crate) use par::par_map;
pub use workers::{JobHandle, Scope, WorkerPool, WorkerPoolBuilder};

/// Why a job, a scope or a push did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The pool or batcher has been shut down.
    #[error("the worker pool or batcher is shut down")]
    ShutDown,
    /// `try_submit` / `try_push` found the queue full.
    #[error("the queue is full")]
    QueueFull,
    /// The job panicked; the message is the panic's.
    #[error("job panicked: {0}")]
    Panicked(String),
    /// Jobs spawned in a scope panicked.
    #[error("{count} job(s) in the scope panicked; first: {first}")]
    ScopePanicked {
        /// How many panicked.
        count: usize,
        /// The first panic message.
        first: String,
    },
    /// The job was cancelled before it started (or the pool was dropped with it queued).
    #[error("job was cancelled before it started")]
    Cancelled,
    /// The operating system refused a thread.
    #[error("could not start a thread: {0}")]
    Spawn(String),
}
