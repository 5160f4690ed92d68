//! A bounded pool of reusable objects.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use super::sharded::ShardedQueue;

/// A value that can be emptied for reuse.
///
/// ```
/// use capstan::pool::{Pool, Reset};
///
/// #[derive(Default)]
/// struct Scratch { lines: Vec<u32> }
///
/// impl Reset for Scratch {
///     fn reset(&mut self) { self.lines.clear() }
/// }
///
/// let pool = Pool::new(8, Scratch::default);
/// pool.get().lines.push(3);
/// assert!(pool.get().lines.is_empty());
/// ```
pub trait Reset {
    /// Returns the value to its empty state, keeping allocations.
    fn reset(&mut self);

    /// Whether a reset value is worth keeping; `false` frees it instead (for example a string
    /// that grew to megabytes). Defaults to `true`.
    fn retain(&self) -> bool {
        true
    }
}

/// Strings larger than this are freed on return rather than kept.
const MAX_RETAINED_BYTES: usize = 64 << 10;

impl Reset for String {
    fn reset(&mut self) {
        self.clear();
    }
    fn retain(&self) -> bool {
        self.capacity() <= MAX_RETAINED_BYTES
    }
}

impl<T> Reset for Vec<T> {
    fn reset(&mut self) {
        self.clear();
    }
    fn retain(&self) -> bool {
        self.capacity().saturating_mul(size_of::<T>().max(1)) <= MAX_RETAINED_BYTES
    }
}

/// A bounded pool of `T`s made by a factory and [`Reset`] on return.
///
/// Storage is a lock-free queue sharded by thread, bounded by `cap` in total: a return beyond it
/// frees the value.
pub struct Pool<T> {
    queue: ShardedQueue<T>,
    factory: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("cap", &self.queue.cap())
            .field("idle", &self.queue.totals().idle)
            .finish_non_exhaustive()
    }
}

impl<T: Reset> Pool<T> {
    /// A pool that keeps at most `cap` idle values and makes new ones with `factory`.
    pub fn new(cap: usize, factory: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Pool {
            queue: ShardedQueue::new(cap),
            factory: Box::new(factory),
        }
    }

    /// A value from the pool (or the factory); it comes back, reset, when the guard drops.
    #[inline]
    pub fn get(&self) -> Pooled<'_, T> {
        let value = self.queue.pop().unwrap_or_else(|| (self.factory)());
        Pooled {
            value: Some(value),
            pool: self,
        }
    }

    #[inline]
    fn put(&self, mut value: T) {
        value.reset();
        if value.retain() {
            self.queue.push(value);
        } else {
            self.queue.record_discard();
        }
    }

    /// Counters since the pool was made.
    pub fn stats(&self) -> PoolStats {
        let t = self.queue.totals();
        PoolStats {
            hits: t.hits,
            misses: t.misses,
            returns: t.returns,
            discarded: t.discarded,
            idle: t.idle,
        }
    }
}

/// A snapshot of a [`Pool`]'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Gets served from the pool.
    pub hits: u64,
    /// Gets that called the factory.
    pub misses: u64,
    /// Values given back and kept.
    pub returns: u64,
    /// Values given back and freed (pool full, or not worth keeping).
    pub discarded: u64,
    /// Idle values now.
    pub idle: usize,
}

/// A value on loan from a [`Pool`]; derefs to `T`.
pub struct Pooled<'p, T: Reset> {
    // `None` only after `detach`, which consumes the guard.
    value: Option<T>,
    pool: &'p Pool<T>,
}

impl<T: Reset> Pooled<'_, T> {
    /// Takes the value out of the pool's care.
    pub fn detach(mut self) -> T {
        match self.value.take() {
            Some(v) => v,
            None => unreachable!("invariant: a Pooled holds its value until detach or drop"),
        }
    }
}

impl<T: Reset> Drop for Pooled<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.put(v);
        }
    }
}

impl<T: Reset> Deref for Pooled<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.value {
            Some(v) => v,
            None => unreachable!("invariant: a Pooled holds its value until detach or drop"),
        }
    }
}

impl<T: Reset> DerefMut for Pooled<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.value {
            Some(v) => v,
            None => unreachable!("invariant: a Pooled holds its value until detach or drop"),
        }
    }
}

impl<T: Reset> fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value may hold secrets: show only that it is pooled.
        f.debug_struct("Pooled").finish_non_exhaustive()
    }
}

/// A pool of `String` builders.
///
/// ```
/// use capstan::pool::StringPool;
/// use std::fmt::Write;
///
/// let pool = StringPool::strings(64, 128);
/// let mut key = pool.get();
/// write!(key, "{}/{}:{}", "docker.io", "library/alpine", "latest")?;
/// assert_eq!(&*key, "docker.io/library/alpine:latest");
/// let owned: String = key.into_string();
/// # assert_eq!(owned.len(), 31);
/// # Ok::<(), std::fmt::Error>(())
/// ```
pub type StringPool = Pool<String>;

impl Pool<String> {
    /// A pool keeping at most `cap` idle strings, each made with `initial_capacity` bytes.
    pub fn strings(cap: usize, initial_capacity: usize) -> Self {
        Pool::new(cap, move || String::with_capacity(initial_capacity))
    }

    /// The process-wide string pool (256 strings of 256 bytes).
    pub fn global() -> &'static StringPool {
        static GLOBAL: OnceLock<StringPool> = OnceLock::new();
        GLOBAL.get_or_init(|| Pool::strings(256, 256))
    }
}

impl Pooled<'_, String> {
    /// Takes the string out of the pool's care.
    pub fn into_string(self) -> String {
        self.detach()
    }
}

impl fmt::Write for Pooled<'_, String> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        (**self).push_str(s);
        Ok(())
    }
}

impl fmt::Display for Pooled<'_, String> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn strings_are_reset_and_reused() {
        let pool = StringPool::strings(4, 32);
        let ptr = {
            let mut s = pool.get();
            write!(s, "a-{}", 1).unwrap_or_default();
            assert_eq!(&*s, "a-1");
            s.as_ptr()
        };
        let s = pool.get();
        assert!(s.is_empty());
        assert_eq!(s.as_ptr(), ptr);
        assert_eq!(
            pool.stats(),
            PoolStats {
                hits: 1,
                misses: 1,
                returns: 1,
                discarded: 0,
                idle: 0
            }
        );
    }

    #[test]
    fn huge_strings_are_not_kept() {
        let pool = StringPool::strings(4, 32);
        pool.get().push_str(&"x".repeat(MAX_RETAINED_BYTES + 1));
        let st = pool.stats();
        assert_eq!((st.returns, st.discarded, st.idle), (0, 1, 0));
    }

    #[test]
    fn cap_bounds_idle_values() {
        let pool: Pool<Vec<u8>> = Pool::new(2, Vec::new);
        let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
        drop(held);
        let st = pool.stats();
        assert_eq!((st.idle, st.returns, st.discarded), (2, 2, 2));
    }

    #[test]
    fn into_string_detaches() {
        let pool = StringPool::strings(4, 8);
        let mut s = pool.get();
        s.push_str("kept");
        assert_eq!(s.into_string(), "kept");
        assert_eq!(pool.stats().returns, 0);
    }

    #[test]
    fn debug_hides_contents() {
        let pool = StringPool::strings(1, 8);
        let mut s = pool.get();
        s.push_str("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
