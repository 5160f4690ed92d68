//! Byte buffers in size classes.
//!
//! # Design
//!
//! Storage is two-level:
//!
//! 1. **Shared, bounded queues**, one per size class: lock-free `ArrayQueue`s sharded by thread
//!    (a thread visits other shards only when its own is empty or full), so two threads do not
//!    bounce one queue's cache lines. Every thread can take from and give back to them; the
//!    shards' capacities add up to the class cap, so once a burst of gets is over a class holds
//!    at most `cap` idle buffers: `cap × class size` bytes, or up to twice that if every buffer
//!    kept had grown to the largest capacity a class takes back (2 × its size, see below).
//! 2. **A tiny per-thread cache** in front of them: at most [`MAX_THREAD_CACHE`] buffers per class
//!    (defaults: 2 for the classes up to 8 KiB, 1 for 32 and 64 KiB, none for 1 MiB — at most
//!    122 KiB per thread and pool). It is what makes get+put cost a few nanoseconds, and it never
//!    contends. Hosts such as Go call in from hundreds of OS threads, so the cache is small and
//!    bounded, it is given back to the shared queues when its thread exits, and
//!    [`BufPool::trim_thread_cache`] empties it on demand. A thread caches buffers for at most
//!    two pools at once; a third pool evicts (and gives back) the older one.
//!
//! Counters for the thread-cache path are kept in the thread and folded into the pool's relaxed
//! atomics every [`STATS_FLUSH_EVERY`] operations (and on trim and thread exit): an atomic
//! read-modify-write costs as much as the whole fast path. [`BufPool::stats`] can therefore lag by
//! at most that many operations per thread.
//!
//! Requests larger than the largest class are plain allocations and are never kept. A returned
//! buffer is filed by its *capacity*: under the largest class no bigger than it, if it is at
//! most twice that class's size; one that grew further, or shrank below the smallest class, is
//! freed instead. So a kept buffer is at most 2 × its class size, and the shared queues of a
//! class never pin more than `2 × cap × class size` bytes (the thread caches hold only buffers
//! of exactly their class size).
//!
//! The numbers behind these choices are in `BENCHMARKS.md` (bench `pool`).

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

use super::sharded::ShardedQueue;

/// The size classes, in bytes: 1 KiB, 4 KiB, 8 KiB, 32 KiB, 64 KiB, 1 MiB.
pub const SIZE_CLASSES: [usize; 6] = [1 << 10, 4 << 10, 8 << 10, 32 << 10, 64 << 10, 1 << 20];

/// Most buffers one thread may cache per class and pool.
pub const MAX_THREAD_CACHE: usize = 2;

/// How many fast-path operations a thread makes before its counters reach [`BufPool::stats`].
pub const STATS_FLUSH_EVERY: u32 = 256;

const CLASSES: usize = SIZE_CLASSES.len();
const DEFAULT_CAPS: [usize; CLASSES] = [256, 256, 128, 64, 32, 8];
const DEFAULT_THREAD_CACHE: [usize; CLASSES] = [2, 2, 2, 1, 1, 0];

/// The class whose size is the smallest that holds `len` bytes.
#[inline]
fn class_for_request(len: usize) -> Option<usize> {
    // A branch chain, not a search: the common sizes resolve in one or two predictable compares.
    Some(match len {
        0..=1024 => 0,
        1025..=4096 => 1,
        4097..=8192 => 2,
        8193..=32768 => 3,
        32769..=65536 => 4,
        65537..=1_048_576 => 5,
        _ => return None,
    })
}

/// The class marker of a buffer that belongs to no class (oversize, or detached).
const NO_CLASS: u8 = u8::MAX;

/// The class a buffer of capacity `cap` is filed under when it comes back, if any.
#[inline]
fn class_for_return(cap: usize) -> Option<usize> {
    let class = SIZE_CLASSES.iter().rposition(|&size| size <= cap)?;
    (cap <= 2 * SIZE_CLASSES[class]).then_some(class)
}

/// Configures a [`BufPool`]; see [`BufPool::builder`].
#[derive(Debug, Clone)]
pub struct BufPoolBuilder {
    caps: [usize; CLASSES],
    thread_cache: [usize; CLASSES],
}

impl BufPoolBuilder {
    /// Keeps at most `cap` idle buffers of the class that holds `class_size` bytes (the smallest
    /// class at least that large). A size over the largest class is ignored.
    pub fn class_cap(mut self, class_size: usize, cap: usize) -> Self {
        if let Some(class) = class_for_request(class_size) {
            self.caps[class] = cap;
        }
        self
    }

    /// Keeps at most `cap` idle buffers in every class.
    pub fn cap(mut self, cap: usize) -> Self {
        self.caps = [cap; CLASSES];
        self
    }

    /// Lets each thread cache up to `n` buffers per class (clamped to [`MAX_THREAD_CACHE`]) for
    /// every class up to 64 KiB; 0 turns the per-thread cache off.
    pub fn thread_cache(mut self, n: usize) -> Self {
        let n = n.min(MAX_THREAD_CACHE);
        self.thread_cache = [n, n, n, n, n, 0];
        self
    }

    /// Builds the pool.
    pub fn build(self) -> BufPool {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let classes = std::array::from_fn(|i| Class {
            queue: ShardedQueue::new(self.caps[i]),
            thread_cache: self.thread_cache[i].min(self.caps[i]),
        });
        BufPool {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Relaxed),
                classes,
            }),
        }
    }
}

impl Default for BufPoolBuilder {
    fn default() -> Self {
        BufPoolBuilder {
            caps: DEFAULT_CAPS,
            thread_cache: DEFAULT_THREAD_CACHE,
        }
    }
}

struct Class {
    queue: ShardedQueue<Vec<u8>>,
    thread_cache: usize,
}

struct Shared {
    id: u64,
    classes: [Class; CLASSES],
}

impl Shared {
    /// Files `buf` in the shared queue of `class`, or frees it when the class is full.
    fn push_shared(&self, class: usize, buf: Vec<u8>) {
        self.classes[class].queue.push(buf);
    }
}

/// A pool of byte buffers in [`SIZE_CLASSES`].
///
/// Cloning is cheap and gives another handle to the same pool.
///
/// ```
/// use capstan::pool::BufPool;
/// use std::io::Write;
///
/// let pool = BufPool::new();
/// let mut buf = pool.get(3000); // from the 4 KiB class
/// assert!(buf.capacity() >= 3000);
/// buf.write_all(b"hello")?;
/// assert_eq!(&buf[..], b"hello");
/// drop(buf); // back to the pool, cleared
/// assert!(pool.get(4096).is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct BufPool {
    shared: Arc<Shared>,
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Default for BufPool {
    fn default() -> Self {
        BufPool::new()
    }
}

impl BufPool {
    /// A pool with the default caps (256 idle buffers of 1 and 4 KiB, 128 of 8 KiB, 64 of 32 KiB,
    /// 32 of 64 KiB, 8 of 1 MiB) and the default per-thread cache. Idle, the shared queues hold
    /// at most 14.25 MiB of buffers at their class sizes, and at most 28.5 MiB if every buffer
    /// kept had grown to twice its class size (the most a class takes back); each thread that
    /// used the pool may also cache up to 122 KiB.
    pub fn new() -> Self {
        BufPool::builder().build()
    }

    /// Starts configuring a pool.
    pub fn builder() -> BufPoolBuilder {
        BufPoolBuilder::default()
    }

    /// The process-wide pool that capstan's own hot paths use.
    pub fn global() -> &'static BufPool {
        static GLOBAL: OnceLock<BufPool> = OnceLock::new();
        GLOBAL.get_or_init(BufPool::new)
    }

    /// A cleared buffer whose capacity is at least `min_capacity`; it comes back to the pool when
    /// the guard drops. Over 1 MiB, a plain allocation that is freed on drop.
    #[inline]
    pub fn get(&self, min_capacity: usize) -> PooledBuf<'_> {
        let Some(class) = class_for_request(min_capacity) else {
            return PooledBuf {
                buf: Vec::with_capacity(min_capacity),
                class: NO_CLASS,
                pool: self,
            };
        };
        let buf = self.take(class);
        PooledBuf {
            buf,
            class: class as u8,
            pool: self,
        }
    }

    #[inline]
    fn take(&self, class: usize) -> Vec<u8> {
        let c = &self.shared.classes[class];
        if c.thread_cache > 0
            && let Some(buf) = local::take(self.shared.id, class)
        {
            return buf;
        }
        self.take_shared(class)
    }

    #[cold]
    fn take_shared(&self, class: usize) -> Vec<u8> {
        match self.shared.classes[class].queue.pop() {
            Some(buf) => buf,
            None => Vec::with_capacity(SIZE_CLASSES[class]),
        }
    }

    /// Takes back a buffer handed out from `class`.
    #[inline]
    fn give_back(&self, class: usize, mut buf: Vec<u8>) {
        if buf.capacity() != SIZE_CLASSES[class] {
            return self.give_back_resized(class, buf);
        }
        buf.clear();
        if self.shared.classes[class].thread_cache > 0 {
            match local::give(&self.shared, class, buf) {
                Ok(()) => return,
                Err(rejected) => buf = rejected,
            }
        }
        self.shared.push_shared(class, buf);
    }

    /// Takes back a buffer whose capacity changed while it was out: it is filed by its new
    /// capacity, or freed.
    #[cold]
    fn give_back_resized(&self, from: usize, mut buf: Vec<u8>) {
        match class_for_return(buf.capacity()) {
            Some(class) => {
                buf.clear();
                self.shared.push_shared(class, buf);
            }
            // Grown too far or shrunk: freed, and counted against the class it came from.
            None => self.shared.classes[from].queue.record_discard(),
        }
    }

    /// Gives this thread's cached buffers (of every pool) back to their pools' shared queues and
    /// publishes its pending counters. Call it from a thread that is about to idle for long.
    pub fn trim_thread_cache() {
        local::trim();
    }

    /// Hits, misses, returns and discards per class, plus idle buffers in the shared queues.
    pub fn stats(&self) -> BufPoolStats {
        BufPoolStats {
            classes: std::array::from_fn(|i| {
                let t = self.shared.classes[i].queue.totals();
                ClassStats {
                    size: SIZE_CLASSES[i],
                    hits: t.hits,
                    misses: t.misses,
                    returns: t.returns,
                    discarded: t.discarded,
                    idle: t.idle,
                }
            }),
        }
    }

    /// A [`Collector`](crate::metrics::Collector) that publishes this pool's stats as
    /// `<prefix>_{hits,misses,returns,discarded}_total` and `<prefix>_idle_buffers`, labelled
    /// by `class` (bytes). It holds the pool weakly: once the pool is gone it publishes nothing.
    pub fn metrics(&self, prefix: &str) -> Result<BufPoolMetrics, crate::metrics::MetricsError> {
        crate::metrics::validate_name(prefix)?;
        Ok(BufPoolMetrics {
            pool: Arc::downgrade(&self.shared),
            prefix: prefix.to_owned(),
        })
    }
}

/// Publishes a [`BufPool`]'s stats; see [`BufPool::metrics`].
#[derive(Debug)]
pub struct BufPoolMetrics {
    pool: Weak<Shared>,
    prefix: String,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPoolShared")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl crate::metrics::Collector for BufPoolMetrics {
    fn collect(&self, out: &mut crate::metrics::Collect) {
        let Some(shared) = self.pool.upgrade() else {
            return;
        };
        let stats = BufPool { shared }.stats();
        let p = &self.prefix;
        for c in &stats.classes {
            let size = c.size.to_string();
            let labels = [("class", size.as_str())];
            out.counter(
                &format!("{p}_hits_total"),
                "Buffers served from the pool.",
                &labels,
                c.hits,
            );
            out.counter(
                &format!("{p}_misses_total"),
                "Buffers newly allocated.",
                &labels,
                c.misses,
            );
            out.counter(
                &format!("{p}_returns_total"),
                "Buffers given back and kept.",
                &labels,
                c.returns,
            );
            out.counter(
                &format!("{p}_discarded_total"),
                "Buffers freed on return (class full, grown or shrunk).",
                &labels,
                c.discarded,
            );
            out.gauge(
                &format!("{p}_idle_buffers"),
                "Idle buffers in the shared queues.",
                &labels,
                i64::try_from(c.idle).unwrap_or(i64::MAX),
            );
        }
    }
}

/// A snapshot of a [`BufPool`]'s counters, one entry per size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufPoolStats {
    /// Per class, smallest first.
    pub classes: [ClassStats; CLASSES],
}

impl BufPoolStats {
    /// The entry for the class that holds `class_size` bytes.
    pub fn class(&self, class_size: usize) -> Option<&ClassStats> {
        class_for_request(class_size).map(|i| &self.classes[i])
    }
}

/// Counters of one size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassStats {
    /// The class size in bytes.
    pub size: usize,
    /// Gets served by a pooled buffer.
    pub hits: u64,
    /// Gets that had to allocate.
    pub misses: u64,
    /// Buffers given back and kept.
    pub returns: u64,
    /// Buffers given back and freed (class full, grown past twice the class size, or shrunk).
    pub discarded: u64,
    /// Idle buffers in the shared queue now (not counting per-thread caches).
    pub idle: usize,
}

/// A buffer on loan from a [`BufPool`]: derefs to `Vec<u8>` and returns itself, cleared, on drop.
///
/// Its `Debug` shows the length and capacity, never the bytes (they may be secrets).
pub struct PooledBuf<'p> {
    buf: Vec<u8>,
    /// The class it was handed out from, or [`NO_CLASS`].
    class: u8,
    pool: &'p BufPool,
}

impl PooledBuf<'_> {
    /// Takes the `Vec` out of the pool's care: it will be freed like any other `Vec`.
    pub fn detach(mut self) -> Vec<u8> {
        self.class = NO_CLASS;
        std::mem::take(&mut self.buf)
    }
}

impl Drop for PooledBuf<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.class != NO_CLASS {
            self.pool
                .give_back(usize::from(self.class), std::mem::take(&mut self.buf));
        }
    }
}

impl Deref for PooledBuf<'_> {
    type Target = Vec<u8>;
    #[inline]
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for PooledBuf<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl AsRef<[u8]> for PooledBuf<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl io::Write for PooledBuf<'_> {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    #[inline]
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for PooledBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.buf.len())
            .field("capacity", &self.buf.capacity())
            .finish()
    }
}

/// The per-thread cache. Everything here is safe code: `Cell`s in a `thread_local!`.
///
/// `Cell`s rather than a `RefCell`: a borrow flag is one more read-modify-write through memory
/// on every get and every put, and on the fast path those chains are the whole cost.
mod local {
    use super::{CLASSES, MAX_THREAD_CACHE, STATS_FLUSH_EVERY, Shared};
    use std::cell::Cell;
    use std::sync::{Arc, Weak};

    /// The buffers and pending counters one thread holds for one pool. `id == 0` marks a free
    /// slot (pool ids start at 1); an empty `Vec` (no allocation) marks a free buffer place.
    struct Slot {
        id: Cell<u64>,
        pool: Cell<Weak<Shared>>,
        len: [Cell<u8>; CLASSES],
        bufs: [[Cell<Vec<u8>>; MAX_THREAD_CACHE]; CLASSES],
        hits: [Cell<u64>; CLASSES],
        returns: [Cell<u64>; CLASSES],
    }

    impl Slot {
        const fn new() -> Slot {
            Slot {
                id: Cell::new(0),
                pool: Cell::new(Weak::new()),
                len: [const { Cell::new(0) }; CLASSES],
                bufs: [const { [Cell::new(Vec::new()), Cell::new(Vec::new())] }; CLASSES],
                hits: [const { Cell::new(0) }; CLASSES],
                returns: [const { Cell::new(0) }; CLASSES],
            }
        }

        fn upgrade(&self) -> Option<Arc<Shared>> {
            let weak = self.pool.take();
            let shared = weak.upgrade();
            self.pool.set(weak);
            shared
        }

        fn flush_counters(&self, shared: &Shared) {
            for (class, c) in shared.classes.iter().enumerate() {
                c.queue
                    .record(self.hits[class].take(), self.returns[class].take());
            }
        }

        /// Gives every buffer and counter back to the pool (or drops them if it is gone), and
        /// leaves the slot free.
        fn release(&self) {
            let shared = self.upgrade();
            if let Some(shared) = &shared {
                self.flush_counters(shared);
            }
            for class in 0..CLASSES {
                let n = usize::from(self.len[class].replace(0));
                for place in &self.bufs[class][..n] {
                    let buf = place.take();
                    // Its return was counted when it entered the thread cache.
                    if let Some(shared) = &shared {
                        shared.classes[class].queue.restore(buf);
                    }
                }
                self.hits[class].set(0);
                self.returns[class].set(0);
            }
            self.id.set(0);
            drop(self.pool.take());
        }

        #[cold]
        fn flush_later(&self) {
            if let Some(shared) = self.upgrade() {
                self.flush_counters(&shared);
            }
        }
    }

    struct Cache {
        slots: [Slot; 2],
    }

    impl Cache {
        #[inline]
        fn find(&self, id: u64) -> Option<&Slot> {
            let [a, b] = &self.slots;
            if a.id.get() == id {
                Some(a)
            } else if b.id.get() == id {
                Some(b)
            } else {
                None
            }
        }

        /// This thread's slot for `shared`, claiming a free one or evicting the second (whose
        /// buffers go back to their pool).
        #[cold]
        fn claim(&self, shared: &Arc<Shared>) -> &Slot {
            let slot = if self.slots[0].id.get() == 0 {
                &self.slots[0]
            } else {
                &self.slots[1]
            };
            slot.release();
            slot.id.set(shared.id);
            slot.pool.set(Arc::downgrade(shared));
            slot
        }
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            for slot in &self.slots {
                slot.release();
            }
        }
    }

    thread_local! {
        static CACHE: Cache = const { Cache { slots: [Slot::new(), Slot::new()] } };
    }

    /// A buffer of `class` from this thread's cache for pool `id`.
    #[inline]
    pub(super) fn take(id: u64, class: usize) -> Option<Vec<u8>> {
        CACHE
            .try_with(|cache| {
                let slot = cache.find(id)?;
                let n = slot.len[class].get().checked_sub(1)?;
                slot.len[class].set(n);
                slot.hits[class].set(slot.hits[class].get() + 1);
                Some(slot.bufs[class][usize::from(n)].take())
            })
            .ok()
            .flatten()
    }

    /// Keeps `buf` in this thread's cache, or hands it back when the cache is full or gone.
    #[inline]
    pub(super) fn give(shared: &Arc<Shared>, class: usize, buf: Vec<u8>) -> Result<(), Vec<u8>> {
        let limit = shared.classes[class].thread_cache;
        let mut buf = Some(buf);
        // `try_with` fails only while this thread's locals are being torn down: the buffer then
        // goes to the shared queue.
        let _ = CACHE.try_with(|cache| {
            let slot = match cache.find(shared.id) {
                Some(slot) => slot,
                None => cache.claim(shared),
            };
            let n = slot.len[class].get();
            if usize::from(n) < limit {
                if let Some(b) = buf.take() {
                    slot.bufs[class][usize::from(n)].set(b);
                }
                slot.len[class].set(n + 1);
                let returns = slot.returns[class].get() + 1;
                slot.returns[class].set(returns);
                if returns >= u64::from(STATS_FLUSH_EVERY) {
                    slot.flush_later();
                }
            }
        });
        buf.map_or(Ok(()), Err)
    }

    pub(super) fn trim() {
        let _ = CACHE.try_with(|cache| {
            for slot in &cache.slots {
                slot.release();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_chosen_by_request_and_by_capacity() {
        assert_eq!(class_for_request(0), Some(0));
        assert_eq!(class_for_request(1024), Some(0));
        assert_eq!(class_for_request(1025), Some(1));
        assert_eq!(class_for_request(1 << 20), Some(5));
        assert_eq!(class_for_request((1 << 20) + 1), None);
        assert_eq!(class_for_return(4096), Some(1));
        assert_eq!(class_for_return(6000), Some(1));
        assert_eq!(class_for_return(8192), Some(2));
        assert_eq!(
            class_for_return(100),
            None,
            "shrunk below the smallest class"
        );
        assert_eq!(class_for_return(200 << 10), None, "grew past twice 64 KiB");
        assert_eq!(class_for_return(3 << 20), None, "oversize");
    }

    #[test]
    fn a_buffer_comes_back_cleared_and_is_reused() {
        let pool = BufPool::builder().thread_cache(0).build();
        let ptr = {
            let mut b = pool.get(4000);
            b.extend_from_slice(b"secret");
            b.as_ptr()
        };
        let b = pool.get(4096);
        assert!(b.is_empty());
        assert_eq!(b.as_ptr(), ptr, "the same allocation is handed out again");
        let s = pool.stats();
        let c = s.class(4096).copied().unwrap_or_default();
        assert_eq!((c.hits, c.misses, c.returns), (1, 1, 1));
    }

    #[test]
    fn thread_cache_serves_the_same_buffer_and_stats_catch_up() {
        let pool = BufPool::new();
        let ptr = pool.get(100).as_ptr();
        for _ in 0..10 {
            assert_eq!(pool.get(100).as_ptr(), ptr);
        }
        BufPool::trim_thread_cache();
        let c = pool.stats().classes[0];
        assert_eq!((c.hits, c.misses, c.returns), (10, 1, 11));
        assert_eq!(c.idle, 1, "trim gave the buffer to the shared queue");
    }

    #[test]
    fn oversize_requests_are_never_kept() {
        let pool = BufPool::new();
        let b = pool.get(3 << 20);
        assert!(b.capacity() >= 3 << 20);
        drop(b);
        BufPool::trim_thread_cache();
        let s = pool.stats();
        assert!(s.classes.iter().all(|c| c.idle == 0 && c.returns == 0));
    }

    #[test]
    fn grown_buffers_are_freed_not_pinned() {
        let pool = BufPool::builder().thread_cache(0).build();
        let mut b = pool.get(1024);
        b.resize(300 << 10, 0);
        drop(b);
        let s = pool.stats();
        assert_eq!(
            s.class(1024).map(|c| c.discarded),
            Some(1),
            "counted where it came from"
        );
        assert!(s.classes.iter().all(|c| c.idle == 0));
        // A moderate growth is filed under the class that now fits it.
        let mut b = pool.get(1024);
        let len = b.len();
        b.reserve_exact(8192 - len);
        let cap = b.capacity();
        drop(b);
        let s = pool.stats();
        assert_eq!(s.class(cap).map(|c| (c.idle, c.returns)), Some((1, 1)));
    }

    #[test]
    fn cap_bounds_idle_buffers() {
        let pool = BufPool::builder().cap(2).thread_cache(0).build();
        let bufs: Vec<_> = (0..5).map(|_| pool.get(4096)).collect();
        drop(bufs);
        let c = *pool.stats().class(4096).unwrap_or(&ClassStats::default());
        assert_eq!((c.idle, c.returns, c.discarded), (2, 2, 3));
    }

    #[test]
    fn zero_cap_keeps_nothing() {
        let pool = BufPool::builder().class_cap(4096, 0).build();
        drop(pool.get(4096));
        BufPool::trim_thread_cache();
        let c = pool.stats().classes[1];
        assert_eq!((c.idle, c.returns, c.discarded), (0, 0, 1));
    }

    #[test]
    fn detach_takes_the_vec_out_of_the_pool() {
        let pool = BufPool::builder().thread_cache(0).build();
        let mut b = pool.get(10);
        b.push(7);
        let v = b.detach();
        assert_eq!(v, [7]);
        assert_eq!(pool.stats().classes[0].returns, 0);
    }

    #[test]
    fn thread_exit_gives_cached_buffers_back() {
        let pool = BufPool::new();
        // An explicit join waits for the OS thread, so its TLS destructors have run (a scope's
        // implicit join returns earlier, when the closure's result is dropped).
        let p = pool.clone();
        let joined = std::thread::spawn(move || drop(p.get(4096))).join();
        assert!(joined.is_ok());
        let c = pool.stats().classes[1];
        assert_eq!((c.misses, c.returns, c.idle), (1, 1, 1));
    }

    #[test]
    fn a_third_pool_evicts_the_oldest_thread_slot() {
        let pools: Vec<BufPool> = (0..3).map(|_| BufPool::new()).collect();
        for p in &pools {
            drop(p.get(1));
        }
        // The first pool's slot was evicted when the third arrived: its buffer is shared again.
        // (Slot 1 is the victim; slot 0 holds pool 0, slot 1 held pool 1 and now pool 2.)
        assert_eq!(pools[1].stats().classes[0].idle, 1);
        BufPool::trim_thread_cache();
        assert!(pools.iter().all(|p| p.stats().classes[0].idle == 1));
    }

    #[test]
    fn debug_never_shows_contents() {
        let pool = BufPool::new();
        let mut b = pool.get(10);
        b.extend_from_slice(b"hunter2");
        let dbg = format!("{b:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("104"), "{dbg}");
    }

    #[test]
    fn dropped_pool_releases_thread_cache_quietly() {
        let pool = BufPool::new();
        drop(pool.get(10));
        drop(pool);
        BufPool::trim_thread_cache();
    }
}
