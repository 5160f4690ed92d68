//! The batcher and limiter against what a program would write without them.
//!
//! - `Batcher` push throughput (one producer and two), against a `std::sync::mpsc`
//!   `sync_channel` feeding a consumer thread that batches by hand — the same bounded queue
//!   and background thread, minus capstan's flush-by-age and counters.
//! - `Limiter` acquire + release, against a `parking_lot` mutex/condvar semaphore.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use capstan::exec::{Batcher, Limiter};
use capstan_benches::contended;
use criterion::{Criterion, criterion_group, criterion_main};
use parking_lot::{Condvar, Mutex};

const BATCH: usize = 256;

fn batcher(c: &mut Criterion) {
    let delivered = Arc::new(AtomicU64::new(0));
    let sink_count = Arc::clone(&delivered);
    let b = Batcher::builder()
        .max_items(BATCH)
        .max_age(Duration::from_millis(50))
        .build(move |batch: Vec<u64>| {
            sink_count.fetch_add(batch.len() as u64, Relaxed);
            black_box(batch);
        })
        .expect("spawn the batcher thread");

    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(4096);
    let by_hand = Arc::new(AtomicU64::new(0));
    let hand_count = Arc::clone(&by_hand);
    let consumer = std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for item in rx {
            batch.push(item);
            if batch.len() == BATCH {
                hand_count.fetch_add(BATCH as u64, Relaxed);
                black_box(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        }
        hand_count.fetch_add(batch.len() as u64, Relaxed);
    });

    let mut g = c.benchmark_group("batcher_push");
    g.bench_function("capstan_batcher", |bn| {
        bn.iter(|| b.push(black_box(7)).expect("batcher running"));
    });
    g.bench_function("mpsc_sync_channel_by_hand", |bn| {
        bn.iter(|| tx.send(black_box(7)).expect("consumer running"));
    });
    g.bench_function("capstan_batcher_2_producers", |bn| {
        bn.iter_custom(|iters| {
            contended(2, iters, || b.push(black_box(7)).expect("batcher running"))
        });
    });
    g.bench_function("mpsc_sync_channel_by_hand_2_producers", |bn| {
        bn.iter_custom(|iters| {
            contended(2, iters, || {
                tx.send(black_box(7)).expect("consumer running");
            })
        });
    });
    g.finish();

    let stats = b.shutdown();
    assert_eq!(stats.pushed, stats.delivered, "the batcher lost items");
    assert_eq!(delivered.load(Relaxed), stats.pushed);
    drop(tx);
    consumer.join().expect("consumer thread");
    assert!(by_hand.load(Relaxed) > 0);
}

/// The semaphore a program writes without a library: a counter under a mutex and a condvar.
struct CondvarSemaphore {
    free: Mutex<usize>,
    cv: Condvar,
}

impl CondvarSemaphore {
    fn acquire(&self) {
        let mut free = self.free.lock();
        while *free == 0 {
            self.cv.wait(&mut free);
        }
        *free -= 1;
    }
    fn release(&self) {
        *self.free.lock() += 1;
        self.cv.notify_one();
    }
}

fn limiter(c: &mut Criterion) {
    let limiter = Limiter::new(4);
    let sem = CondvarSemaphore {
        free: Mutex::new(4),
        cv: Condvar::new(),
    };
    {
        let held: Vec<_> = (0..4).map(|_| limiter.acquire()).collect();
        assert!(
            limiter.try_acquire().is_none(),
            "a full limiter handed out a fifth permit"
        );
        drop(held);
        assert_eq!(limiter.available(), 4);
    }

    let mut g = c.benchmark_group("limiter_acquire_release");
    g.bench_function("capstan_limiter", |b| {
        b.iter(|| black_box(limiter.acquire()));
    });
    g.bench_function("mutex_condvar_semaphore", |b| {
        b.iter(|| {
            sem.acquire();
            sem.release();
        });
    });
    g.bench_function("capstan_limiter_2_threads", |b| {
        b.iter_custom(|iters| contended(2, iters, || drop(black_box(limiter.acquire()))));
    });
    g.bench_function("mutex_condvar_semaphore_2_threads", |b| {
        b.iter_custom(|iters| {
            contended(2, iters, || {
                sem.acquire();
                sem.release();
            })
        });
    });
    g.finish();
    assert_eq!(limiter.available(), 4, "a permit leaked");
}

criterion_group!(benches, batcher, limiter);
criterion_main!(benches);
