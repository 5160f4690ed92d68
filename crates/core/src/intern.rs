//! A concurrent string interner.
//!
//! Strings live in an append-only table of chunks that never move: chunk `i` holds
//! `64 · 2^i` slots and is allocated on first use, each slot a `OnceLock`. [`Interner::resolve`]
//! is therefore two atomic loads and no lock. Lookups by string go through a hash table sharded
//! by hash, each shard behind a `parking_lot` read-write lock, so readers on different shards
//! never touch the same cache line.

use std::fmt;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_utils::CachePadded;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::RwLock;

const BASE: usize = 64;
const CHUNKS: usize = 27; // 64 · (2^27 − 1) slots ≥ u32::MAX; 26 chunks fall 61 short
const SHARDS: usize = 16;

/// Slots of one chunk, each set once.
type Chunk = Box<[OnceLock<Arc<str>>]>;
/// One shard of the string → symbol table.
type Shard = CachePadded<RwLock<HashTable<(Arc<str>, Symbol)>>>;

/// An interned string: a small copyable id, valid with the [`Interner`] that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(NonZeroU32);

impl Symbol {
    /// The symbol's index: 0 for the first string interned, 1 for the next, and so on.
    pub fn index(self) -> u32 {
        self.0.get() - 1
    }
}

/// Maps strings to [`Symbol`]s and back, from many threads.
///
/// ```
/// use capstan::intern::Interner;
///
/// let ids = Interner::new();
/// let aws = ids.intern("aws-access-key");
/// assert_eq!(ids.intern("aws-access-key"), aws);
/// assert_eq!(ids.resolve(aws), "aws-access-key");
/// assert_eq!(ids.get("github-pat"), None);
/// ```
pub struct Interner {
    chunks: [OnceLock<Chunk>; CHUNKS],
    shards: [Shard; SHARDS],
    hasher: DefaultHashBuilder,
    next: AtomicU32,
}

// Only capstan's own code runs under the shard locks (hashing and comparing `str`), and a slot is
// published before its table entry, so no panic can leave the interner inconsistent.
impl std::panic::UnwindSafe for Interner {}
impl std::panic::RefUnwindSafe for Interner {}

impl fmt::Debug for Interner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interner")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            shards: std::array::from_fn(|_| CachePadded::new(RwLock::new(HashTable::new()))),
            hasher: DefaultHashBuilder::default(),
            next: AtomicU32::new(0),
        }
    }
}

/// (chunk, offset) of slot `index`.
#[inline]
fn locate(index: u32) -> (usize, usize) {
    let q = index as usize / BASE + 1;
    let chunk = (usize::BITS - 1 - q.leading_zeros()) as usize;
    (chunk, index as usize - BASE * ((1 << chunk) - 1))
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Interner::default()
    }

    /// The symbol for `s`, interning it on first sight.
    ///
    /// # Panics
    ///
    /// After `u32::MAX - 1` distinct strings (the symbol space is exhausted); see
    /// [`try_intern`](Interner::try_intern).
    pub fn intern(&self, s: &str) -> Symbol {
        match self.try_intern(s) {
            Some(sym) => sym,
            None => panic!("interner is full: {} distinct strings", u32::MAX - 1),
        }
    }

    /// The symbol for `s`, interning it on first sight; `None` once the symbol space is full.
    pub fn try_intern(&self, s: &str) -> Option<Symbol> {
        let hash = self.hasher.hash_one(s);
        let shard = &self.shards[(hash >> 40) as usize % SHARDS];
        if let Some((_, sym)) = shard.read().find(hash, |(k, _)| &**k == s) {
            return Some(*sym);
        }
        let mut table = shard.write();
        if let Some((_, sym)) = table.find(hash, |(k, _)| &**k == s) {
            return Some(*sym);
        }
        let index = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < u32::MAX - 1).then_some(n + 1)
            })
            .ok()?;
        let (chunk, offset) = locate(index);
        let slots = self.chunks[chunk]
            .get_or_init(|| (0..BASE << chunk).map(|_| OnceLock::new()).collect());
        let text: Arc<str> = Arc::from(s);
        let _ = slots[offset].set(Arc::clone(&text));
        let sym = Symbol(NonZeroU32::MIN.saturating_add(index));
        let hasher = &self.hasher;
        table.insert_unique(hash, (text, sym), |(k, _)| hasher.hash_one(&**k));
        Some(sym)
    }

    /// The symbol for `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<Symbol> {
        let hash = self.hasher.hash_one(s);
        let shard = &self.shards[(hash >> 40) as usize % SHARDS];
        shard
            .read()
            .find(hash, |(k, _)| &**k == s)
            .map(|(_, sym)| *sym)
    }

    /// The string of `sym`.
    ///
    /// # Panics
    ///
    /// If `sym` was not made by this interner; see [`try_resolve`](Interner::try_resolve).
    #[inline]
    pub fn resolve(&self, sym: Symbol) -> &str {
        match self.try_resolve(sym) {
            Some(s) => s,
            None => panic!("symbol {} does not belong to this interner", sym.index()),
        }
    }

    /// The string of `sym`, or `None` if this interner did not make it. Lock-free.
    #[inline]
    pub fn try_resolve(&self, sym: Symbol) -> Option<&str> {
        let (chunk, offset) = locate(sym.index());
        let slots = self.chunks.get(chunk)?.get()?;
        slots.get(offset)?.get().map(|s| &**s)
    }

    /// Distinct strings interned.
    pub fn len(&self) -> usize {
        self.next.load(Ordering::Relaxed) as usize
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_arithmetic_covers_every_index() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (c, o) = locate(u32::MAX - 2);
        assert!(c < CHUNKS && o < BASE << c);
    }

    #[test]
    fn round_trips_across_chunk_boundaries() {
        let i = Interner::new();
        let syms: Vec<Symbol> = (0..1000).map(|n| i.intern(&format!("rule-{n}"))).collect();
        for (n, sym) in syms.iter().enumerate() {
            assert_eq!(sym.index() as usize, n);
            assert_eq!(i.resolve(*sym), format!("rule-{n}"));
            assert_eq!(i.get(&format!("rule-{n}")), Some(*sym));
        }
        assert_eq!(i.len(), 1000);
        assert_eq!(
            i.intern(""),
            i.intern(""),
            "the empty string is a string too"
        );
    }

    #[test]
    fn foreign_symbols_do_not_resolve() {
        let big = Interner::new();
        let sym = (0..100)
            .map(|n| big.intern(&n.to_string()))
            .last()
            .expect("interned");
        let small = Interner::new();
        small.intern("x");
        assert_eq!(small.try_resolve(sym), None);
    }

    #[test]
    fn concurrent_interning_agrees() {
        let i = Interner::new();
        let per_thread: Vec<Vec<Symbol>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..2000)
                            .map(|n| i.intern(&format!("p/{n}")))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        assert!(
            per_thread.iter().all(|v| v == &per_thread[0]),
            "every thread saw the same symbols"
        );
        assert_eq!(i.len(), 2000);
        for (n, sym) in per_thread[0].iter().enumerate() {
            assert_eq!(i.resolve(*sym), format!("p/{n}"));
        }
    }
}
