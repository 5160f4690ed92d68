//! A bounded lock-free queue split into per-thread-group shards.
//!
//! It also keeps the pool counters (hits, misses, returns, discards), per shard for the same
//! reason: one shared counter line costs as much contention as one shared queue.
//!
//! One `ArrayQueue` shared by two threads doing get/put costs ~220 ns per pair on the bench
//! machine (both threads bounce its head, tail and slot lines); a `parking_lot` free list costs
//! ~58 ns. Giving each thread a home shard, and visiting the others only when the home shard is
//! empty (get) or full (put), makes the contended case as cheap as the uncontended one while
//! keeping the total bound exact. See `BENCHMARKS.md`, `buf_get_put_*_2_threads`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

/// Most shards per queue: beyond this, stealing scans cost more than contention saves.
const MAX_SHARDS: usize = 8;

thread_local! {
    static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's home shard index (before masking): handed out round-robin on first use.
#[inline]
fn home() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    HOME.try_with(|h| {
        let v = h.get();
        if v == usize::MAX {
            let v = NEXT.fetch_add(1, Relaxed);
            h.set(v);
            v
        } else {
            v
        }
    })
    .unwrap_or(0)
}

struct Shard<T> {
    queue: ArrayQueue<T>,
    hits: AtomicU64,
    misses: AtomicU64,
    returns: AtomicU64,
    discarded: AtomicU64,
}

/// Totals over all shards.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) returns: u64,
    pub(crate) discarded: u64,
    pub(crate) idle: usize,
}

pub(crate) struct ShardedQueue<T> {
    shards: Box<[CachePadded<Shard<T>>]>,
    mask: usize,
    cap: usize,
}

impl<T> ShardedQueue<T> {
    /// A queue holding at most `cap` items in total (a cap of 0 holds nothing).
    pub(crate) fn new(cap: usize) -> Self {
        let cores = crate::exec::default_threads();
        let n = cores
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(cap.max(1).next_power_of_two());
        let n = if n > cap.max(1) { n / 2 } else { n }.max(1);
        let shards = (0..n)
            .map(|i| {
                CachePadded::new(Shard {
                    queue: ArrayQueue::new((cap / n + usize::from(i < cap % n)).max(1)),
                    hits: AtomicU64::new(0),
                    misses: AtomicU64::new(0),
                    returns: AtomicU64::new(0),
                    discarded: AtomicU64::new(0),
                })
            })
            .collect();
        ShardedQueue {
            shards,
            mask: n - 1,
            cap,
        }
    }

    #[inline]
    fn home(&self) -> usize {
        home() & self.mask
    }

    /// An idle item, counted as a hit, or `None`, counted as a miss.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let home = self.home();
        let got =
            (0..self.shards.len()).find_map(|i| self.shards[(home + i) & self.mask].queue.pop());
        let counter = if got.is_some() {
            &self.shards[home].hits
        } else {
            &self.shards[home].misses
        };
        counter.fetch_add(1, Relaxed);
        got
    }

    /// Keeps `item` (a return), or drops it when every shard is full (a discard). Returns
    /// whether it was kept.
    #[inline]
    pub(crate) fn push(&self, item: T) -> bool {
        let home = self.home();
        let kept = self.offer(item, home);
        if kept {
            self.shards[home].returns.fetch_add(1, Relaxed);
        }
        kept
    }

    /// Keeps `item` if there is room, counting only a discard: for items whose return was
    /// already counted (a thread cache giving its buffers back).
    pub(crate) fn restore(&self, item: T) {
        self.offer(item, self.home());
    }

    /// Keeps `item` in the first shard with room, starting at `home`, or counts a discard.
    fn offer(&self, item: T, home: usize) -> bool {
        let kept = self.cap != 0 && self.push_uncounted(item, home);
        if !kept {
            self.shards[home].discarded.fetch_add(1, Relaxed);
        }
        kept
    }

    fn push_uncounted(&self, mut item: T, home: usize) -> bool {
        for i in 0..self.shards.len() {
            match self.shards[(home + i) & self.mask].queue.push(item) {
                Ok(()) => return true,
                Err(back) => item = back,
            }
        }
        false
    }

    /// Adds hits and returns counted elsewhere (a thread cache's batched counters).
    pub(crate) fn record(&self, hits: u64, returns: u64) {
        let shard = &self.shards[self.home()];
        if hits != 0 {
            shard.hits.fetch_add(hits, Relaxed);
        }
        if returns != 0 {
            shard.returns.fetch_add(returns, Relaxed);
        }
    }

    /// Counts an item dropped without being offered (it no longer fits the pool).
    pub(crate) fn record_discard(&self) {
        self.shards[self.home()].discarded.fetch_add(1, Relaxed);
    }

    pub(crate) fn totals(&self) -> Totals {
        self.shards.iter().fold(Totals::default(), |t, s| Totals {
            hits: t.hits + s.hits.load(Relaxed),
            misses: t.misses + s.misses.load(Relaxed),
            returns: t.returns + s.returns.load(Relaxed),
            discarded: t.discarded + s.discarded.load(Relaxed),
            idle: t.idle + s.queue.len(),
        })
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_bound_is_exact_whatever_the_shard_count() {
        for cap in [0, 1, 2, 3, 7, 64, 255] {
            let q = ShardedQueue::new(cap);
            let kept = (0..cap + 10).filter(|&i| q.push(i)).count();
            assert_eq!(kept, cap, "cap {cap}");
            let mut got: Vec<usize> = std::iter::from_fn(|| q.pop()).collect();
            got.sort_unstable();
            assert_eq!(got, (0..cap).collect::<Vec<_>>());
            let t = q.totals();
            assert_eq!(
                (t.returns, t.discarded, t.hits, t.misses, t.idle),
                (cap as u64, 10, cap as u64, 1, 0)
            );
        }
    }

    #[test]
    fn items_pushed_on_one_thread_are_found_from_another() {
        let q = ShardedQueue::new(16);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..16 {
                    assert!(q.push(i));
                }
            });
        });
        let n = std::thread::scope(|s| {
            s.spawn(|| std::iter::from_fn(|| q.pop()).count())
                .join()
                .unwrap_or(0)
        });
        assert_eq!(n, 16);
    }
}
