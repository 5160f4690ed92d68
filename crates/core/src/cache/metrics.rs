//! Publishing cache counters into a [`Registry`](crate::metrics::Registry).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use super::{CacheStats, Clock, FlightStats, LoadingCache, TtlLru};
use crate::metrics::{Collect, Collector, MetricsError, validate_name};

type ReadStats = dyn Fn() -> Option<(CacheStats, Option<FlightStats>)> + Send + Sync;

/// Publishes a cache's counters; made by [`TtlLru::metrics`] or [`LoadingCache::metrics`].
///
/// It holds the cache weakly: once the cache is dropped it publishes nothing.
///
/// ```
/// use capstan::cache::TtlLru;
/// use capstan::metrics::Registry;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let cache = Arc::new(TtlLru::new(100, Duration::from_secs(60)));
/// let registry = Registry::new();
/// registry.register(cache.metrics("capstan_auth_cache")?);
/// cache.insert("ghcr.io".to_string(), 1);
/// assert_eq!(cache.get("ghcr.io"), Some(1));
/// let text = registry.snapshot().to_prometheus();
/// assert!(text.contains("capstan_auth_cache_hits_total 1\n"));
/// assert!(text.contains("capstan_auth_cache_entries 1\n"));
/// # Ok::<(), capstan::metrics::MetricsError>(())
/// ```
pub struct CacheMetrics {
    prefix: String,
    read: Box<ReadStats>,
}

impl fmt::Debug for CacheMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheMetrics")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl CacheMetrics {
    fn new(
        prefix: &str,
        read: impl Fn() -> Option<(CacheStats, Option<FlightStats>)> + Send + Sync + 'static,
    ) -> Result<Self, MetricsError> {
        validate_name(prefix)?;
        Ok(CacheMetrics {
            prefix: prefix.to_owned(),
            read: Box::new(read),
        })
    }
}

impl<K, V, C> TtlLru<K, V, C>
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    C: Clock,
{
    /// A [`Collector`] publishing `<prefix>_{hits,misses,expired,evicted,inserts}_total` and
    /// the gauge `<prefix>_entries`.
    pub fn metrics(self: &Arc<Self>, prefix: &str) -> Result<CacheMetrics, MetricsError> {
        let cache = Arc::downgrade(self);
        CacheMetrics::new(prefix, move || cache.upgrade().map(|c| (c.stats(), None)))
    }
}

impl<K, V, E, C> LoadingCache<K, V, E, C>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
    C: Clock,
{
    /// Like [`TtlLru::metrics`], plus the loader's `<prefix>_loads_total`,
    /// `<prefix>_load_shared_total` (callers served by another caller's load) and
    /// `<prefix>_load_panics_total`.
    pub fn metrics(self: &Arc<Self>, prefix: &str) -> Result<CacheMetrics, MetricsError> {
        let cache = Arc::downgrade(self);
        CacheMetrics::new(prefix, move || {
            cache
                .upgrade()
                .map(|c| (c.cache().stats(), Some(c.flights().stats())))
        })
    }
}

impl Collector for CacheMetrics {
    fn collect(&self, out: &mut Collect) {
        let Some((cache, flights)) = (self.read)() else {
            return;
        };
        let p = &self.prefix;
        let counters = [
            ("hits_total", "Gets that found a fresh entry.", cache.hits),
            (
                "misses_total",
                "Gets that found no fresh entry.",
                cache.misses,
            ),
            (
                "expired_total",
                "Entries dropped because their TTL passed.",
                cache.expired,
            ),
            (
                "evicted_total",
                "Entries evicted to make room.",
                cache.evicted,
            ),
            (
                "inserts_total",
                "Inserts, replacements included.",
                cache.inserts,
            ),
        ];
        for (name, help, value) in counters {
            out.counter(&format!("{p}_{name}"), help, &[], value);
        }
        out.gauge(
            &format!("{p}_entries"),
            "Entries held now.",
            &[],
            i64::try_from(cache.len).unwrap_or(i64::MAX),
        );
        if let Some(f) = flights {
            let counters = [
                ("loads_total", "Loader runs.", f.loads),
                (
                    "load_shared_total",
                    "Callers served by another caller's load.",
                    f.shared,
                ),
                ("load_panics_total", "Loader runs that panicked.", f.panics),
            ];
            for (name, help, value) in counters {
                out.counter(&format!("{p}_{name}"), help, &[], value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Registry, Value};
    use std::time::Duration;

    #[test]
    fn loading_cache_publishes_cache_and_loader_counters() {
        let cache: Arc<LoadingCache<String, u32, String>> = Arc::new(LoadingCache::new(
            TtlLru::builder().capacity(8).ttl(Duration::from_secs(60)),
        ));
        let registry = Registry::new();
        registry.register(cache.metrics("auth").expect("valid prefix"));
        assert_eq!(cache.get_or_load("a", || Ok(1)), Ok(1));
        assert_eq!(cache.get_or_load("a", || Ok(2)), Ok(1));
        assert_eq!(
            cache.get_or_load("b", || Err("no helper".into())),
            Err("no helper".into())
        );

        let snap = registry.snapshot();
        assert_eq!(snap.value("auth_hits_total", &[]), Some(Value::Counter(1)));
        assert_eq!(snap.value("auth_loads_total", &[]), Some(Value::Counter(2)));
        assert_eq!(snap.value("auth_entries", &[]), Some(Value::Gauge(1)));

        drop(cache);
        assert_eq!(registry.snapshot().value("auth_hits_total", &[]), None);
    }

    #[test]
    fn an_invalid_prefix_is_refused() {
        let cache = Arc::new(TtlLru::<String, u32>::new(8, Duration::from_secs(1)));
        assert!(cache.metrics("auth cache").is_err());
    }
}
