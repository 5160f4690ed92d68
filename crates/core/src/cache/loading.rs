//! A TTL-LRU cache whose misses are loaded single-flight.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;

use super::{Clock, MonotonicClock, SingleFlight, TtlLru, TtlLruBuilder};

/// A [`TtlLru`] in front of a [`SingleFlight`]: a hit costs one shard lookup; a miss runs the
/// loader once however many threads ask for the key at the same time. Successful values are
/// cached with the cache's TTL; errors are returned to every waiter and are not cached.
///
/// ```
/// use capstan::cache::{LoadingCache, TtlLru};
/// use std::time::Duration;
///
/// let creds: LoadingCache<String, String, String> =
///     LoadingCache::new(TtlLru::builder().capacity(256).ttl(Duration::from_secs(900)));
/// let v = creds.get_or_load("ghcr.io", || Ok("token".to_string()));
/// assert_eq!(v.as_deref(), Ok("token"));
/// // Cached now: this loader never runs.
/// let v = creds.get_or_load("ghcr.io", || unreachable!());
/// assert_eq!(v.as_deref(), Ok("token"));
/// ```
pub struct LoadingCache<K, V, E, C = MonotonicClock> {
    cache: TtlLru<K, V, C>,
    flights: SingleFlight<K, V, E>,
}

impl<K, V, E, C> fmt::Debug for LoadingCache<K, V, E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadingCache")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, V: Clone, E: Clone, C: Clock> LoadingCache<K, V, E, C> {
    /// A loading cache over a TTL-LRU configured by `builder`.
    pub fn new(builder: TtlLruBuilder<C>) -> Self {
        LoadingCache {
            cache: builder.build(),
            flights: SingleFlight::new(),
        }
    }

    /// The cached value for `key`, or the result of loading it (once, for all concurrent callers).
    #[inline]
    pub fn get_or_load<Q, F>(&self, key: &Q, loader: F) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Result<V, E>,
    {
        if let Some(hit) = self.cache.get(key) {
            return Ok(hit);
        }
        self.flights.get_or_load(key, || {
            // A previous leader may have filled the cache between our miss and our flight.
            if let Some(hit) = self.cache.get(key) {
                return Ok(hit);
            }
            let result = loader();
            if let Ok(v) = &result {
                self.cache.insert(key.to_owned(), v.clone());
            }
            result
        })
    }

    /// Forgets `key`, so the next get loads it again.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.remove(key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// The cache underneath (for purging expired entries, its length, or direct inserts).
    pub fn cache(&self) -> &TtlLru<K, V, C> {
        &self.cache
    }

    /// The single-flight group underneath.
    pub fn flights(&self) -> &SingleFlight<K, V, E> {
        &self.flights
    }
}

#[cfg(test)]
mod tests {
    use super::super::ManualClock;
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::time::Duration;

    fn lc(clock: &ManualClock) -> LoadingCache<String, u32, String, ManualClock> {
        LoadingCache::new(
            TtlLru::builder()
                .capacity(16)
                .ttl(Duration::from_secs(60))
                .clock(clock.clone()),
        )
    }

    #[test]
    fn hundred_threads_one_load_then_hits_until_ttl() {
        let clock = ManualClock::new();
        let c = lc(&clock);
        let runs = AtomicUsize::new(0);
        let barrier = Barrier::new(100);
        std::thread::scope(|s| {
            for _ in 0..100 {
                s.spawn(|| {
                    barrier.wait();
                    let v = c.get_or_load("docker.io", || {
                        runs.fetch_add(1, Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                        Ok(1)
                    });
                    assert_eq!(v, Ok(1));
                });
            }
        });
        assert_eq!(runs.load(Relaxed), 1);
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            c.get_or_load("docker.io", || Ok(2)),
            Ok(2),
            "expired: loads again"
        );
    }

    #[test]
    fn errors_are_not_cached() {
        let c = lc(&ManualClock::new());
        assert_eq!(
            c.get_or_load("h", || Err("no".into())),
            Err("no".to_string())
        );
        assert!(c.cache().is_empty());
        assert_eq!(c.get_or_load("h", || Ok(3)), Ok(3));
    }

    #[test]
    fn invalidate_forces_a_reload() {
        let c = lc(&ManualClock::new());
        assert_eq!(c.get_or_load("h", || Ok(1)), Ok(1));
        c.invalidate("h");
        assert_eq!(c.get_or_load("h", || Ok(2)), Ok(2));
        c.clear();
        assert_eq!(c.get_or_load("h", || Ok(3)), Ok(3));
        assert_eq!(c.flights().stats().loads, 3);
    }
}
