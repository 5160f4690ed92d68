//! Caches against the obvious alternatives, in the same run.
//!
//! - `TtlLru` get hit and insert (string keys, `Arc<str>` values, as the credential cache uses).
//! - `LoadingCache` hit path (the cache in front of a `SingleFlight`), and a bare `SingleFlight`
//!   call whose loader returns at once (the cost a miss adds over the loader itself).

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use capstan::cache::{LoadingCache, SingleFlight, TtlLru};
use criterion::{Criterion, criterion_group, criterion_main};
use parking_lot::RwLock;

const KEYS: usize = 1024;

fn keys() -> Vec<String> {
    (0..KEYS)
        .map(|i| format!("registry-{i}.example.com/team/app"))
        .collect()
}

fn ttl_lru(c: &mut Criterion) {
    let keys = keys();
    let cache: TtlLru<String, Arc<str>> = TtlLru::new(KEYS * 2, Duration::from_secs(600));
    for k in &keys {
        cache.insert(k.clone(), Arc::from(k.as_str()));
    }
    for k in &keys {
        assert_eq!(
            cache.get(k.as_str()).as_deref(),
            Some(k.as_str()),
            "warm cache must hit"
        );
    }

    let mut g = c.benchmark_group("ttl_lru");
    let mut i = 0usize;
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(cache.get(keys[i].as_str()))
        });
    });
    let baseline: RwLock<HashMap<String, Arc<str>>> = RwLock::new(
        keys.iter()
            .map(|k| (k.clone(), Arc::from(k.as_str())))
            .collect(),
    );
    g.bench_function("rwlock_hashmap_get_no_ttl_no_lru", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(baseline.read().get(keys[i].as_str()).cloned())
        });
    });
    let small: TtlLru<String, Arc<str>> = TtlLru::new(KEYS / 2, Duration::from_secs(600));
    let value: Arc<str> = Arc::from("v");
    for k in &keys {
        small.insert(k.clone(), Arc::clone(&value));
    }
    // KEYS distinct keys in a cache of KEYS / 2, nothing removed or expired: at most half
    // are held, so at least half were evicted.
    assert!(small.len() <= KEYS / 2, "a full cache did not evict");
    g.bench_function("insert_evicting", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(small.insert(keys[i].clone(), Arc::clone(&value)))
        });
    });
    g.finish();
    assert!(
        small.len() <= KEYS / 2,
        "the bounded cache grew past its capacity"
    );
}

fn single_flight(c: &mut Criterion) {
    let keys = keys();
    let loading: LoadingCache<String, Arc<str>, Infallible> = LoadingCache::new(
        TtlLru::builder()
            .capacity(KEYS * 2)
            .ttl(Duration::from_secs(600)),
    );
    let loads = AtomicUsize::new(0);
    for k in &keys {
        let v = loading.get_or_load(k.as_str(), || {
            loads.fetch_add(1, Relaxed);
            Ok(Arc::from(k.as_str()))
        });
        assert_eq!(v.as_deref().ok(), Some(k.as_str()));
    }
    assert_eq!(loads.load(Relaxed), KEYS, "a cold key did not load once");

    // A warm hit must never call the loader; it counts and returns a marker instead of
    // panicking, so a broken cache shows up in the assertion after the bench, not as an abort
    // inside criterion.
    let unreachable_loader = || {
        loads.fetch_add(1, Relaxed);
        Ok(Arc::from("loader ran on a hit"))
    };
    let mut g = c.benchmark_group("single_flight");
    let mut i = 0usize;
    g.bench_function("loading_cache_hit", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(loading.get_or_load(keys[i].as_str(), unreachable_loader))
        });
    });
    assert_eq!(loads.load(Relaxed), KEYS, "a warm hit ran the loader");

    let bare: SingleFlight<String, u32, Infallible> = SingleFlight::new();
    g.bench_function("bare_flight_immediate_loader", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(bare.get_or_load(keys[i].as_str(), || Ok(7)))
        });
    });
    g.finish();
    // A flight left behind would block this call or answer with its old result.
    assert_eq!(
        bare.get_or_load(keys[0].as_str(), || Ok(8)),
        Ok(8),
        "a finished flight was kept"
    );
}

/// `AuthCache` hits: what every pull after the first costs (target ≤ 200 ns), beside
/// re-reading and parsing the config file as tools without a cache do.
fn auth_cache(c: &mut Criterion) {
    use capstan::auth::{AuthCache, ImageRef, Resolver};
    let dir = std::env::temp_dir().join(format!("capstan-bench-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("config.json");
    // base64("user:password")
    std::fs::write(
        &cfg,
        r#"{"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}}"#,
    )
    .expect("config");
    let resolver = Resolver::with_file(&cfg);
    let cache = AuthCache::new(resolver.clone());
    let image: ImageRef = "ghcr.io/org/app:1".parse().expect("reference");
    let first = cache.get(&image).expect("resolves");
    assert_eq!(first.credentials.username(), Some("user"));
    let mut g = c.benchmark_group("auth");
    g.bench_function("auth_cache_hit", |b| {
        b.iter(|| cache.get(black_box(&image)).expect("hit"));
    });
    g.bench_function("resolve_without_cache_file_only", |b| {
        b.iter(|| resolver.resolve(black_box(&image)).expect("resolves"));
    });
    g.finish();

    // 1,000 lookups over 10 registries whose helper takes 100 ms: 10 helper runs, not 1,000
    // (target ≤ 1.1 s). A cold cache each iteration.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-slow");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\nsleep 0.1\nprintf '{\"Username\":\"u\",\"Secret\":\"s\"}'\n",
    )
    .expect("helper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let helpers: Vec<String> = (0..10)
        .map(|i| format!("\"r{i}.example.com\": \"slow\""))
        .collect();
    let slow_cfg = dir.join("slow.json");
    std::fs::write(
        &slow_cfg,
        format!("{{\"credHelpers\": {{{}}}}}", helpers.join(",")),
    )
    .expect("config");
    let images: Vec<ImageRef> = (0..1000)
        .map(|i| {
            format!("r{}.example.com/app{i}", i % 10)
                .parse()
                .expect("reference")
        })
        .collect();
    let mut slow = Resolver::with_file(&slow_cfg);
    slow.helper_path = Some(
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
        .into(),
    );
    let mut g = c.benchmark_group("auth_slow_helper");
    g.sample_size(10);
    g.bench_function("1000_lookups_10_registries_100ms_helper", |b| {
        b.iter(|| {
            let cache = AuthCache::new(slow.clone());
            for img in &images {
                let got = cache.get(img).expect("resolves");
                assert_eq!(got.credentials.username(), Some("u"));
            }
        });
    });
    g.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, ttl_lru, single_flight, auth_cache);
criterion_main!(benches);
