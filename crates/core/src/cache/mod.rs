//! Bounded caches with per-entry TTLs, and single-flight loading.
//!
//! - [`TtlLru`]: entries expire after a TTL and the least recently used one is evicted when a
//!   shard is full; O(1) get, insert and remove; sharded by key hash behind `parking_lot` mutexes.
//! - [`SingleFlight`]: concurrent loads of one key run the loader once; the others wait for it.
//! - [`LoadingCache`]: the two together, the shape of a credential or metadata cache.
//!
//! Time comes from a [`Clock`], so tests move time by hand instead of sleeping.

mod clock;
mod flight;
mod loading;
mod lru;

#[cfg(test)]
pub(crate) use clock::ManualClock;
pub use clock::{Clock, MonotonicClock};
pub use flight::SingleFlight;
pub use loading::LoadingCache;
pub use lru::{TtlLru, TtlLruBuilder};
