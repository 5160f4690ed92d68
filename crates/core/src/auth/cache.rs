//! Credentials cached per registry: a TTL-LRU with single-flight loading, so a burst of
//! pulls runs each registry's helper once, and an edit of a config file is noticed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use super::{AuthError, ImageRef, Resolved, Resolver};
use crate::cache::{Clock, LoadingCache, TtlLru};

/// How often (at most) the config files are stat'ed for changes and expired entries dropped.
const RECHECK: Duration = Duration::from_secs(1);

/// The clock the entries' TTLs and the recheck read: the real one; in this crate's unit tests,
/// one they move by hand.
#[cfg(not(test))]
type AuthClock = crate::cache::MonotonicClock;
#[cfg(test)]
type AuthClock = crate::cache::ManualClock;

/// The files' modification times and sizes (`None`: absent).
type Stamp = Vec<Option<(SystemTime, u64)>>;

/// Registry credentials, resolved once per registry per TTL (default 15 minutes).
///
/// Keyed by registry host — or by the scoped `auths` key (podman's `quay.io/org/repo`) when a
/// config file has one that matches. Concurrent lookups of one registry share one resolution
/// (one helper run). The cache is emptied when a config file changes (mtime or size; checked
/// during a lookup, at most once a second, so a hit stays a hash lookup); the same check drops
/// the entries whose TTL has passed, so expired credentials (zeroed when dropped) leave memory
/// without waiting for their registry to be asked for again.
///
/// ```
/// use capstan::auth::{AuthCache, Resolver};
/// let dir = std::env::temp_dir().join(format!("capstan-doc-authcache-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let cfg = dir.join("config.json");
/// std::fs::write(&cfg, r#"{"auths": {"ghcr.io": {"auth": "dTpw"}}}"#)?;
/// let cache = AuthCache::new(Resolver::with_file(&cfg));
/// let got = cache.get(&"ghcr.io/org/app".parse()?)?;
/// assert_eq!(got.credentials.username(), Some("u"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuthCache {
    resolver: Resolver,
    cache: LoadingCache<String, Arc<Resolved>, Arc<AuthError>, AuthClock>,
    /// Scoped `auths` keys (`host/path…`) found in the files, longest first.
    scopes: Mutex<Arc<Vec<String>>>,
    stamp: Mutex<Stamp>,
    /// Milliseconds on the cache's clock of the last recheck.
    checked: AtomicU64,
    /// Bumped whenever a config change empties the cache: a load that began before the bump
    /// must not leave its (stale) answer behind.
    generation: AtomicU64,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// A cache over `resolver` with a 15-minute TTL.
    pub fn new(resolver: Resolver) -> Self {
        Self::with_ttl(resolver, Duration::from_secs(15 * 60))
    }

    /// A cache over `resolver` with entries kept for `ttl`.
    pub fn with_ttl(resolver: Resolver, ttl: Duration) -> Self {
        let stamp = stamp(&resolver.files);
        let scopes = Mutex::new(Arc::new(scoped_keys(&resolver.files)));
        let cache = LoadingCache::new(
            TtlLru::builder()
                .capacity(1024)
                .ttl(ttl)
                .clock(AuthClock::default()),
        );
        let cache = AuthCache {
            cache,
            resolver,
            scopes,
            stamp: Mutex::new(stamp),
            checked: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        cache.checked.store(cache.millis(), Ordering::Relaxed);
        cache
    }

    /// The credentials for `image`'s registry, from the cache or resolved once for every
    /// concurrent caller.
    pub fn get(&self, image: &ImageRef) -> Result<Arc<Resolved>, Arc<AuthError>> {
        self.recheck();
        let scopes = Arc::clone(&self.scopes.lock());
        let key = if scopes.is_empty() {
            image.registry().to_owned()
        } else {
            let repo = image.repository();
            scopes
                .iter()
                .find(|s| repo == **s || repo.starts_with(&format!("{s}/")))
                .cloned()
                .unwrap_or_else(|| image.registry().to_owned())
        };
        let generation = self.generation.load(Ordering::Acquire);
        let got = self.cache.get_or_load(key.as_str(), || {
            self.resolver.resolve(image).map(Arc::new).map_err(Arc::new)
        });
        if self.generation.load(Ordering::Acquire) != generation {
            // The files changed while this was resolving: answer, but keep nothing.
            self.cache.invalidate(key.as_str());
        }
        got
    }

    /// Milliseconds on the clock the entries' TTLs are read from.
    fn millis(&self) -> u64 {
        self.cache.cache().clock().now().as_millis() as u64
    }

    /// Empties the cache when a config file changed since the last check, and otherwise drops
    /// the entries whose TTL has passed. At most once a second; the other calls return at once.
    fn recheck(&self) {
        let now = self.millis();
        let last = self.checked.load(Ordering::Relaxed);
        if now.saturating_sub(last) < RECHECK.as_millis() as u64
            || self
                .checked
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let current = stamp(&self.resolver.files);
        let mut known = self.stamp.lock();
        if *known == current {
            drop(known);
            self.cache.cache().purge_expired();
            return;
        }
        *known = current;
        *self.scopes.lock() = Arc::new(scoped_keys(&self.resolver.files));
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }
}

fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        })
        .collect()
}

/// `auths` keys with a path (`quay.io/org/repo`), longest first. Unreadable files contribute
/// nothing here; resolving reports them. Only the keys are kept: the entries (secrets) are
/// skipped by the parser, and the file's bytes are zeroed.
#[allow(clippy::zero_sized_map_values)] // a map's keys, its values skipped unread: no set parses so
fn scoped_keys(files: &[PathBuf]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Keys {
        #[serde(default)]
        auths: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>>,
    }
    let mut keys: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read(f).ok().map(zeroize::Zeroizing::new))
        .filter_map(|t| serde_json::from_slice::<Keys>(&t).ok())
        .filter_map(|k| k.auths)
        .flat_map(std::collections::BTreeMap::into_keys)
        .filter(|k| !k.contains("://") && k.trim_end_matches('/').contains('/'))
        .map(|k| k.trim_end_matches('/').to_owned())
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recheck_drops_expired_credentials() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("capstan-authcache-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let cfg = dir.join("config.json");
        std::fs::write(&cfg, r#"{"auths": {"ghcr.io": {"auth": "dTpw"}}}"#)?;
        let auth = AuthCache::with_ttl(Resolver::with_file(&cfg), Duration::from_secs(60));
        let entries = auth.cache.cache();
        let clock = entries.clock();

        auth.get(&"ghcr.io/org/app".parse()?)?;
        clock.advance(Duration::from_secs(30));
        auth.get(&"docker.io/library/alpine".parse()?)?; // anonymous, cached too
        assert_eq!(entries.len(), 2);

        // ghcr.io's TTL has passed, docker.io's has not. Nothing asks for ghcr.io again: only
        // the recheck can drop it.
        clock.advance(Duration::from_secs(31));
        assert_eq!(entries.len(), 2, "an expired entry stays until dropped");
        auth.recheck();
        assert_eq!(entries.len(), 1, "the recheck dropped the expired entry");
        assert!(entries.contains_key("docker.io"), "a fresh entry is kept");

        // At most once a second: docker.io expires at 90 s, a recheck at 89.5 s finds nothing
        // to drop, the one at 90 s does not run, the one at 90.5 s drops it.
        clock.advance(Duration::from_millis(28_500));
        auth.recheck();
        assert_eq!(entries.len(), 1);
        clock.advance(Duration::from_millis(500));
        auth.recheck();
        assert_eq!(
            entries.len(),
            1,
            "less than a second since the last recheck"
        );
        clock.advance(Duration::from_millis(500));
        auth.recheck();
        assert!(entries.is_empty());

        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
