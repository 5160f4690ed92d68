//! capstan: the hot paths of container builds and supply-chain checks.
//!
//! This crate is where all of capstan's logic lives; the `capstan` binary, the C ABI
//! (`libcapstan`) and the Go package are thin front ends over it. Today it holds those paths and
//! the primitives they run on:
//!
//! - [`scan`]: rules, rule packs and the streaming scanner for secrets, crypto and threats;
//! - [`tar`]: build contexts (`.dockerignore` matching, the deterministic context tar) and safe
//!   extraction of archives from anywhere;
//! - [`auth`]: image references, registry credentials from docker's and podman's config files
//!   and credential helpers, the `X-Registry-Auth` header, the per-registry credential cache,
//!   and (feature `registry`) checking credentials against a registry (`GET /v2/`, bearer tokens);
//! - [`pool`]: byte buffers in size classes, generic object pools, pooled string builders;
//! - [`cache`]: a sharded TTL-LRU, single-flight loading, and both together;
//! - [`exec`]: thread counts, a limiter, a batcher;
//! - [`metrics`]: counters, gauges and the Prometheus text format.
//!
//! ```
//! use capstan::cache::LoadingCache;
//! use capstan::cache::TtlLru;
//! use capstan::pool::BufPool;
//! use std::time::Duration;
//!
//! // A pooled 32 KiB copy buffer, back in the pool when dropped.
//! let mut buf = BufPool::global().get(32 << 10);
//! buf.extend_from_slice(b"FROM alpine\n");
//!
//! // A per-registry cache whose misses run the loader once, however many threads ask.
//! let tokens: LoadingCache<String, String, String> =
//!     LoadingCache::new(TtlLru::builder().capacity(64).ttl(Duration::from_secs(900)));
//! assert_eq!(tokens.get_or_load("ghcr.io", || Ok("t0k3n".into())).as_deref(), Ok("t0k3n"));
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod cache;
pub mod exec;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "git")]
pub mod git;
pub mod image;
pub mod metrics;
pub mod pool;
pub mod scan;
pub mod tar;

/// This build's version (`CARGO_PKG_VERSION`), the one every front end reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod send_sync {
    //! Compile-time checks that shared types can cross threads and survive unwinding.
    use std::panic::{RefUnwindSafe, UnwindSafe};

    fn shared<T: Send + Sync>() {}
    fn unwind<T: UnwindSafe + RefUnwindSafe>() {}

    #[test]
    fn public_types_are_send_sync() {
        shared::<crate::pool::BufPool>();
        shared::<crate::pool::StringPool>();
        shared::<crate::cache::TtlLru<String, u64>>();
        shared::<crate::cache::SingleFlight<String, u64, String>>();
        shared::<crate::cache::LoadingCache<String, u64, String>>();
        shared::<crate::exec::Limiter>();
        shared::<crate::exec::Batcher<String>>();
        shared::<crate::metrics::Registry>();
        unwind::<crate::pool::BufPool>();
        unwind::<crate::cache::TtlLru<String, u64>>();
    }

    /// Every error can be sent to another thread and boxed as `dyn Error + Send + Sync`
    /// (what `anyhow` and `?` into `Box<dyn Error + Send + Sync>` need).
    #[test]
    fn errors_are_send_sync_and_static() {
        fn error<E: std::error::Error + Send + Sync + 'static>() {}
        error::<crate::exec::ExecError>();
        error::<crate::metrics::MetricsError>();
        error::<crate::scan::ConfigError>();
        error::<crate::scan::SuppressError>();
        error::<crate::scan::CacheError>();
        error::<crate::scan::RequestError>();
        error::<crate::tar::DockerIgnoreError>();
        error::<crate::tar::ContextError>();
        error::<crate::tar::ExtractError>();
        error::<crate::auth::AuthError>();
        error::<crate::auth::ReferenceError>();
        #[cfg(feature = "registry")]
        error::<crate::auth::CheckError>();
    }
}
