//! Helpers shared by capstan's criterion benches.

use std::time::{Duration, Instant};

/// Runs `op` `iters` times on each of `threads` threads at once and returns the time the
/// slowest thread took, so criterion reports the per-operation latency each thread saw under
/// contention (compare it with the single-thread figure of the same operation).
pub fn contended<F>(threads: usize, iters: u64, op: F) -> Duration
where
    F: Fn() + Sync,
{
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    t0.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}
