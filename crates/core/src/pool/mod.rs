//! Pooled buffers, objects and string builders.
//!
//! - [`BufPool`]: byte buffers in size classes with a bounded per-thread fast path — for I/O.
//! - [`Pool<T>`]: any type that can [`Reset`] itself, in one shared bounded queue.
//! - [`StringPool`]: `Pool<String>`, for building keys and report lines with `write!`.
//!
//! Every pool is bounded: idle objects beyond the cap are freed, so a burst cannot pin memory.
//! Steady-state get/put allocates nothing (`tests/alloc_steady.rs` proves it with a counting
//! global allocator).

mod buf;
mod object;
mod sharded;

pub use buf::{
    BufPool, BufPoolBuilder, BufPoolMetrics, BufPoolStats, ClassStats, MAX_THREAD_CACHE, PooledBuf,
    SIZE_CLASSES, STATS_FLUSH_EVERY,
};
pub use object::{Pool, PoolStats, Pooled, Reset, StringPool};
