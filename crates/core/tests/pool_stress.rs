//! Many threads getting and putting at once: no buffer is ever handed to two holders, every
//! buffer comes back empty, and the counters add up exactly once the threads are gone.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use capstan::pool::{BufPool, SIZE_CLASSES, StringPool};

const THREADS: u64 = 8;
const ROUNDS: u64 = 20_000;

fn stress(pool: &BufPool) -> u64 {
    let gets = AtomicU64::new(0);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut gets = 0;
                let mut rng = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for round in 0..ROUNDS {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let class = SIZE_CLASSES[(rng % 5) as usize];
                    let held = (rng >> 8) % 3 + 1;
                    let mut bufs: Vec<_> = (0..held).map(|_| pool.get(class)).collect();
                    gets += held;
                    let tag = (t << 32 | round).to_le_bytes();
                    for b in &mut bufs {
                        assert!(b.is_empty(), "a buffer came back with contents");
                        b.extend_from_slice(&tag);
                    }
                    std::thread::yield_now();
                    for b in &bufs {
                        assert_eq!(&b[..], &tag, "another holder wrote into this buffer");
                    }
                }
                gets
            })
        })
        .collect();
    for h in handles {
        // Explicit joins: the threads' caches are given back before we read the stats.
        gets.fetch_add(
            h.join()
                .unwrap_or_else(|_| panic!("a stress thread failed")),
            Ordering::SeqCst,
        );
    }
    gets.into_inner()
}

#[test]
fn concurrent_get_put_is_sound_and_counted_exactly() {
    for pool in [
        BufPool::new(),
        BufPool::builder().thread_cache(0).build(),
        BufPool::builder().cap(2).build(),
    ] {
        let gets = stress(&pool);
        let stats = pool.stats();
        let (hits, misses): (u64, u64) = stats
            .classes
            .iter()
            .fold((0, 0), |a, c| (a.0 + c.hits, a.1 + c.misses));
        assert_eq!(
            hits + misses,
            gets,
            "{pool:?}: every get is a hit or a miss"
        );
        for c in &stats.classes {
            assert!(c.idle as u64 <= c.returns);
        }
        let idle: usize = stats.classes.iter().map(|c| c.idle).sum();
        assert!(idle > 0);
    }
}

#[test]
fn string_pool_under_contention() {
    let pool = StringPool::strings(8, 32);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..ROUNDS {
                    let mut a = pool.get();
                    assert!(a.is_empty());
                    write!(a, "{t}:{i}").unwrap_or_default();
                    std::thread::yield_now();
                    assert_eq!(*a, format!("{t}:{i}"));
                }
            });
        }
    });
    let st = pool.stats();
    assert_eq!(st.hits + st.misses, THREADS * ROUNDS);
    assert_eq!(st.returns + st.discarded, THREADS * ROUNDS);
}
