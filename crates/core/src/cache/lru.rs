//! A sharded, bounded LRU with per-entry TTLs.
//!
//! Each shard is a slab of entries linked into a recency list, plus a `hashbrown::HashTable` of
//! slab indices. A key is hashed once: some middle bits choose the shard (hashbrown uses the low
//! bits for the bucket and the top seven for its tags), the full hash finds the entry. Shard
//! counters are plain integers updated under the shard's lock, so statistics cost nothing extra.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::Mutex;

use super::clock::{Clock, MonotonicClock};

const NIL: u32 = u32::MAX;
const SHARD_SHIFT: u32 = 40;

struct Node<K, V> {
    key: K,
    value: V,
    hash: u64,
    /// Nanoseconds since the clock's epoch.
    expires: u64,
    prev: u32,
    next: u32,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    hits: u64,
    misses: u64,
    expired: u64,
    evicted: u64,
    inserts: u64,
}

struct Shard<K, V> {
    table: HashTable<u32>,
    slab: Vec<Option<Node<K, V>>>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    len: usize,
    cap: usize,
    counts: Counts,
}

impl<K: Eq, V> Shard<K, V> {
    fn new(cap: usize) -> Self {
        Shard {
            table: HashTable::new(),
            slab: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
            cap,
            counts: Counts::default(),
        }
    }

    #[inline]
    fn node(&self, i: u32) -> &Node<K, V> {
        match &self.slab[i as usize] {
            Some(n) => n,
            None => unreachable!("invariant: linked slab index {i} is occupied"),
        }
    }

    #[inline]
    fn node_mut(&mut self, i: u32) -> &mut Node<K, V> {
        match &mut self.slab[i as usize] {
            Some(n) => n,
            None => unreachable!("invariant: linked slab index {i} is occupied"),
        }
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slab = &self.slab;
        self.table
            .find(hash, |&i| {
                slab[i as usize]
                    .as_ref()
                    .is_some_and(|n| n.key.borrow() == key)
            })
            .copied()
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let head = self.head;
        {
            let n = self.node_mut(i);
            n.prev = NIL;
            n.next = head;
        }
        if head == NIL {
            self.tail = i;
        } else {
            self.node_mut(head).prev = i;
        }
        self.head = i;
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    fn remove_at(&mut self, i: u32) -> Node<K, V> {
        self.unlink(i);
        let hash = self.node(i).hash;
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.free.push(i);
        self.len -= 1;
        match self.slab[i as usize].take() {
            Some(n) => n,
            None => unreachable!("invariant: removed slab index {i} was occupied"),
        }
    }

    fn insert(&mut self, hash: u64, key: K, value: V, expires: u64) -> Option<V> {
        self.counts.inserts += 1;
        if let Some(i) = self.find(hash, &key) {
            let n = self.node_mut(i);
            n.expires = expires;
            let old = std::mem::replace(&mut n.value, value);
            self.touch(i);
            return Some(old);
        }
        if self.len >= self.cap && self.tail != NIL {
            let lru = self.tail;
            self.remove_at(lru);
            self.counts.evicted += 1;
        }
        let node = Node {
            key,
            value,
            hash,
            expires,
            prev: NIL,
            next: NIL,
        };
        let i = if let Some(i) = self.free.pop() {
            self.slab[i as usize] = Some(node);
            i
        } else {
            // A shard never holds more than `cap` (≤ u32::MAX - 1) entries; see `TtlLruBuilder`.
            self.slab.push(Some(node));
            (self.slab.len() - 1) as u32
        };
        let slab = &self.slab;
        self.table.insert_unique(hash, i, |&j| {
            slab[j as usize].as_ref().map_or(0, |n| n.hash)
        });
        self.push_front(i);
        self.len += 1;
        None
    }

    fn clear(&mut self) {
        self.table.clear();
        self.slab.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
    }
}

/// Configures a [`TtlLru`]; see [`TtlLru::builder`].
#[derive(Debug, Clone)]
pub struct TtlLruBuilder<C = MonotonicClock> {
    capacity: usize,
    ttl: Duration,
    shards: Option<usize>,
    clock: C,
}

impl<C: Clock> TtlLruBuilder<C> {
    /// The most entries the cache holds (at least 1). Default 1024.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.clamp(1, (u32::MAX - 1) as usize);
        self
    }

    /// The TTL of entries inserted without one. Default 15 minutes.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The number of shards, rounded up to a power of two and capped by the capacity. By
    /// default 1 below 64 entries (so eviction is exact LRU), else four per core.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1));
        self
    }

    /// The time source.
    pub fn clock<C2: Clock>(self, clock: C2) -> TtlLruBuilder<C2> {
        TtlLruBuilder {
            capacity: self.capacity,
            ttl: self.ttl,
            shards: self.shards,
            clock,
        }
    }

    /// Builds the cache.
    pub fn build<K: Hash + Eq, V>(self) -> TtlLru<K, V, C> {
        let wanted = self.shards.unwrap_or_else(|| {
            if self.capacity < 64 {
                1
            } else {
                let cores = crate::exec::default_threads();
                (cores * 4).min(self.capacity / 16)
            }
        });
        let n = wanted
            .clamp(1, self.capacity.min(1 << 16))
            .next_power_of_two();
        let n = if n > self.capacity { n / 2 } else { n }.max(1);
        let shards = (0..n)
            .map(|i| {
                let cap = self.capacity / n + usize::from(i < self.capacity % n);
                CachePadded::new(Mutex::new(Shard::new(cap)))
            })
            .collect();
        TtlLru {
            shards,
            mask: n - 1,
            hasher: DefaultHashBuilder::default(),
            ttl: self.ttl,
            clock: self.clock,
            capacity: self.capacity,
        }
    }
}

type Shards<K, V> = Box<[CachePadded<Mutex<Shard<K, V>>>]>;

/// A bounded cache whose entries expire after a TTL, evicting the least recently used entry of a
/// shard when it is full.
///
/// ```
/// use capstan::cache::TtlLru;
/// use std::time::Duration;
///
/// let cache = TtlLru::new(100, Duration::from_secs(60));
/// cache.insert("docker.io".to_string(), 1);
/// assert_eq!(cache.get("docker.io"), Some(1));
/// cache.insert_with_ttl("ghcr.io".to_string(), 2, Duration::ZERO);
/// assert_eq!(cache.get("ghcr.io"), None); // expired at once, and removed
/// assert_eq!(cache.len(), 1);
/// ```
pub struct TtlLru<K, V, C = MonotonicClock> {
    shards: Shards<K, V>,
    mask: usize,
    hasher: DefaultHashBuilder,
    ttl: Duration,
    clock: C,
    capacity: usize,
}

// A panic in user code (`Hash`, `Eq`, `Clone`, `Drop` of K or V) happens only before a shard is
// changed (hashing, lookup) or after it is consistent again (cloning the value out, dropping an
// evicted entry), so a shard is never left half-linked: the cache is safe to use after a caught
// panic, which parking_lot's poison-free mutex would otherwise hide from the auto traits.
impl<K, V, C> std::panic::UnwindSafe for TtlLru<K, V, C> {}
impl<K, V, C> std::panic::RefUnwindSafe for TtlLru<K, V, C> {}

impl<K, V, C> fmt::Debug for TtlLru<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlLru")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TtlLru<(), ()> {
    /// Starts configuring a cache (capacity 1024, TTL 15 minutes, real clock).
    pub fn builder() -> TtlLruBuilder<MonotonicClock> {
        TtlLruBuilder {
            capacity: 1024,
            ttl: Duration::from_secs(15 * 60),
            shards: None,
            clock: MonotonicClock::default(),
        }
    }
}

impl<K: Hash + Eq, V> TtlLru<K, V, MonotonicClock> {
    /// A cache of at most `capacity` entries that expire `ttl` after insertion.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        TtlLru::builder().capacity(capacity).ttl(ttl).build()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<K: Hash + Eq, V, C: Clock> TtlLru<K, V, C> {
    #[inline]
    fn shard_for<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &Mutex<Shard<K, V>>) {
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash >> SHARD_SHIFT) as usize & self.mask];
        (hash, shard)
    }

    /// The value for `key`, if present and not expired; marks it most recently used. An
    /// expired entry counts as a miss and is removed.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let now = nanos(self.clock.now());
        let (hash, shard) = self.shard_for(key);
        let mut s = shard.lock();
        let Some(i) = s.find(hash, key) else {
            s.counts.misses += 1;
            return None;
        };
        if s.node(i).expires <= now {
            s.remove_at(i);
            s.counts.expired += 1;
            s.counts.misses += 1;
            return None;
        }
        s.touch(i);
        s.counts.hits += 1;
        Some(s.node(i).value.clone())
    }

    /// Whether `key` is present and fresh, without touching its recency or the counters.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = nanos(self.clock.now());
        let (hash, shard) = self.shard_for(key);
        let s = shard.lock();
        s.find(hash, key).is_some_and(|i| s.node(i).expires > now)
    }

    /// Inserts with the default TTL; returns the value it replaced, if any.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.insert_with_ttl(key, value, self.ttl)
    }

    /// Inserts with its own TTL; returns the value it replaced, if any. When the key's shard is
    /// full, its least recently used entry is evicted.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Option<V> {
        let expires = nanos(self.clock.now()).saturating_add(nanos(ttl));
        let (hash, shard) = self.shard_for(&key);
        shard.lock().insert(hash, key, value, expires)
    }

    /// Removes `key`; returns its value if it was present (expired or not).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_for(key);
        let mut s = shard.lock();
        let i = s.find(hash, key)?;
        Some(s.remove_at(i).value)
    }

    /// Removes every expired entry; returns how many.
    pub fn purge_expired(&self) -> usize {
        let now = nanos(self.clock.now());
        let mut removed = 0;
        for shard in &*self.shards {
            let mut s = shard.lock();
            let mut i = s.tail;
            while i != NIL {
                let (prev, expired) = {
                    let n = s.node(i);
                    (n.prev, n.expires <= now)
                };
                if expired {
                    s.remove_at(i);
                    s.counts.expired += 1;
                    removed += 1;
                }
                i = prev;
            }
        }
        removed
    }

    /// Removes everything.
    pub fn clear(&self) {
        for shard in &*self.shards {
            shard.lock().clear();
        }
    }

    /// Entries held now, expired ones included until they are touched or purged.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The TTL of entries inserted without one.
    pub fn default_ttl(&self) -> Duration {
        self.ttl
    }

    /// The clock the cache reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Counters since the cache was made.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> CacheStats {
        let mut st = CacheStats::default();
        for shard in &*self.shards {
            let s = shard.lock();
            st.hits += s.counts.hits;
            st.misses += s.counts.misses;
            st.expired += s.counts.expired;
            st.evicted += s.counts.evicted;
            st.inserts += s.counts.inserts;
            st.len += s.len;
        }
        st
    }
}

/// Counters of a [`TtlLru`].
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CacheStats {
    /// Gets that found a fresh entry.
    pub hits: u64,
    /// Gets that found nothing or an expired entry.
    pub misses: u64,
    /// Entries removed because they expired.
    pub expired: u64,
    /// Entries evicted to make room.
    pub evicted: u64,
    /// Inserts, replacements included.
    pub inserts: u64,
    /// Entries held now.
    pub len: usize,
}

#[cfg(test)]
mod tests {
    use super::super::ManualClock;
    use super::*;

    fn cache(cap: usize, clock: &ManualClock) -> TtlLru<String, u32, ManualClock> {
        TtlLru::builder()
            .capacity(cap)
            .ttl(Duration::from_secs(10))
            .clock(clock.clone())
            .build()
    }

    #[test]
    fn evicts_least_recently_used() {
        let clock = ManualClock::new();
        let c = cache(3, &clock);
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            c.insert((*k).to_string(), i as u32);
        }
        assert_eq!(c.get("a"), Some(0)); // a is now most recent; b is least
        c.insert("d".into(), 3);
        assert_eq!(c.get("b"), None);
        assert_eq!(
            (c.get("a"), c.get("c"), c.get("d")),
            (Some(0), Some(2), Some(3))
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c.stats().evicted, 1);
    }

    #[test]
    fn entries_expire_per_ttl_and_are_evicted_on_get() {
        let clock = ManualClock::new();
        let c = cache(10, &clock);
        c.insert("short".into(), 1);
        c.insert_with_ttl("long".into(), 2, Duration::from_secs(100));
        clock.advance(Duration::from_secs(10));
        assert_eq!(c.get("short"), None, "expires exactly at its TTL");
        assert_eq!(c.get("long"), Some(2));
        assert_eq!(c.len(), 1);
        let st = c.stats();
        assert_eq!((st.hits, st.misses, st.expired), (1, 1, 1));
    }

    #[test]
    fn reinsert_replaces_and_refreshes_ttl() {
        let clock = ManualClock::new();
        let c = cache(10, &clock);
        c.insert("k".into(), 1);
        clock.advance(Duration::from_secs(8));
        assert_eq!(c.insert("k".into(), 2), Some(1));
        clock.advance(Duration::from_secs(8));
        assert_eq!(c.get("k"), Some(2));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn remove_purge_and_clear() {
        let clock = ManualClock::new();
        let c = cache(10, &clock);
        for i in 0..6 {
            c.insert_with_ttl(i.to_string(), i, Duration::from_secs(u64::from(i)));
        }
        assert_eq!(c.remove("5"), Some(5));
        assert_eq!(c.remove("5"), None);
        clock.advance(Duration::from_secs(3));
        assert_eq!(c.purge_expired(), 4, "ttl 0,1,2,3 are expired");
        assert_eq!(c.get("4"), Some(4));
        c.clear();
        assert!(c.is_empty());
        c.insert("again".into(), 1);
        assert_eq!(c.get("again"), Some(1));
    }

    #[test]
    fn slots_are_reused_and_table_stays_consistent() {
        let clock = ManualClock::new();
        let c = cache(50, &clock);
        for i in 0..10_000u32 {
            c.insert((i % 97).to_string(), i);
            if i % 3 == 0 {
                c.remove(&(i % 89).to_string());
            }
        }
        assert!(c.len() <= 50);
        let st = c.stats();
        assert_eq!(st.len, c.len());
        // Every key the cache claims to have is retrievable with its latest value.
        let found = (0..97u32)
            .filter(|k| c.get(&k.to_string()).is_some())
            .count();
        assert_eq!(found, c.len());
    }

    #[test]
    fn capacity_is_exact_across_shards() {
        let c: TtlLru<u32, u32> = TtlLru::builder().capacity(1000).shards(8).build();
        for i in 0..100_000 {
            c.insert(i, i);
        }
        assert_eq!(c.len(), 1000);
        let tiny: TtlLru<u32, u32> = TtlLru::builder().capacity(3).shards(64).build();
        // Per-shard capacities add up to the total; it is reached once every shard has filled.
        for i in 0..10 {
            tiny.insert(i, i);
            assert!(tiny.len() <= 3);
        }
        for i in 10..1000 {
            tiny.insert(i, i);
        }
        assert_eq!(tiny.len(), 3);
    }

    #[test]
    fn concurrent_use_is_consistent() {
        let c: TtlLru<u64, u64> = TtlLru::builder().capacity(512).build();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..20_000u64 {
                        let k = (i * 7 + t) % 1024;
                        c.insert(k, k * 2);
                        if let Some(v) = c.get(&((i + 3) % 1024)) {
                            assert_eq!(v, ((i + 3) % 1024) * 2);
                        }
                    }
                });
            }
        });
        assert!(c.len() <= 512);
    }
}
