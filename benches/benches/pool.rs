//! Buffer and string pools against their peers, single-threaded and 2-thread contended.
//!
//! Peers in the same run: a fresh `Vec::with_capacity` + free, the `object-pool` crate (a
//! `parking_lot::Mutex<Vec<T>>` stack), a plain `parking_lot::Mutex<Vec<Vec<u8>>>` free list,
//! and a thread-local free list (the fastest thing possible, but unbounded per thread).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::hint::black_box;

use capstan::pool::{BufPool, StringPool};
use capstan_benches::contended;
use criterion::{Criterion, criterion_group, criterion_main};
use parking_lot::Mutex;

struct MutexFreeList {
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
}

impl MutexFreeList {
    fn new(size: usize) -> Self {
        MutexFreeList {
            free: Mutex::new(Vec::with_capacity(64)),
            size,
        }
    }
    #[inline]
    fn get(&self) -> Vec<u8> {
        self.free
            .lock()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.size))
    }
    #[inline]
    fn put(&self, mut v: Vec<u8>) {
        v.clear();
        let mut free = self.free.lock();
        if free.len() < 64 {
            free.push(v);
        }
    }
}

thread_local! {
    static TL_FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

#[inline]
fn tl_get(size: usize) -> Vec<u8> {
    TL_FREE
        .with(|f| f.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(size))
}

#[inline]
fn tl_put(mut v: Vec<u8>) {
    v.clear();
    TL_FREE.with(|f| f.borrow_mut().push(v));
}

/// Checks that a pool really reuses: after warm-up, `n` get+put cycles allocate nothing new.
fn assert_reuses(pool: &BufPool, size: usize) {
    drop(pool.get(size));
    BufPool::trim_thread_cache();
    let before = pool.stats().class(size).map_or(0, |c| c.misses);
    for _ in 0..1000 {
        let b = pool.get(size);
        assert!(b.capacity() >= size && b.is_empty());
    }
    BufPool::trim_thread_cache();
    assert_eq!(
        pool.stats().class(size).map_or(1, |c| c.misses),
        before,
        "the pool missed after warm-up"
    );
}

/// The pools under test for one buffer size, shared by the single-thread and contended groups.
struct Contenders {
    size: usize,
    pool: BufPool,
    shared_only: BufPool,
    op_pool: object_pool::Pool<Vec<u8>>,
    free_list: MutexFreeList,
}

impl Contenders {
    fn new(size: usize) -> Self {
        let pool = BufPool::new();
        let shared_only = BufPool::builder().thread_cache(0).build();
        assert_reuses(&pool, size);
        assert_reuses(&shared_only, size);
        Self {
            size,
            pool,
            shared_only,
            op_pool: object_pool::Pool::new(64, move || Vec::<u8>::with_capacity(size)),
            free_list: MutexFreeList::new(size),
        }
    }
}

fn buffers(c: &mut Criterion) {
    for size in [4 << 10, 32 << 10] {
        let k = Contenders::new(size);
        buffers_single(c, &k);
        buffers_contended(c, &k);
    }
}

fn buffers_single(c: &mut Criterion, k: &Contenders) {
    let Contenders {
        size,
        pool,
        shared_only,
        op_pool,
        free_list,
    } = k;
    let (size, kib) = (*size, *size >> 10);
    {
        let mut g = c.benchmark_group(format!("buf_get_put_{kib}k"));
        g.bench_function("capstan_bufpool", |b| {
            b.iter(|| {
                let mut buf = pool.get(black_box(size));
                buf.push(1);
                black_box(&buf);
            });
        });
        g.bench_function("capstan_bufpool_shared_only", |b| {
            b.iter(|| {
                let mut buf = shared_only.get(black_box(size));
                buf.push(1);
                black_box(&buf);
            });
        });
        g.bench_function("vec_with_capacity", |b| {
            b.iter(|| {
                let mut buf = Vec::<u8>::with_capacity(black_box(size));
                buf.push(1);
                black_box(&buf);
            });
        });
        g.bench_function("object_pool", |b| {
            b.iter(|| {
                let mut buf = op_pool.pull(|| Vec::with_capacity(size));
                buf.clear();
                buf.push(1);
                black_box(&*buf);
            });
        });
        g.bench_function("mutex_free_list", |b| {
            b.iter(|| {
                let mut buf = free_list.get();
                buf.push(1);
                black_box(&buf);
                free_list.put(buf);
            });
        });
        g.bench_function("thread_local_free_list", |b| {
            b.iter(|| {
                let mut buf = tl_get(size);
                buf.push(1);
                black_box(&buf);
                tl_put(buf);
            });
        });
        g.finish();
    }
}

fn buffers_contended(c: &mut Criterion, k: &Contenders) {
    let Contenders {
        size,
        pool,
        shared_only,
        op_pool,
        free_list,
    } = k;
    let (size, kib) = (*size, *size >> 10);
    {
        let mut g = c.benchmark_group(format!("buf_get_put_{kib}k_2_threads"));
        g.bench_function("capstan_bufpool", |b| {
            b.iter_custom(|iters| {
                contended(2, iters, || {
                    let mut buf = pool.get(black_box(size));
                    buf.push(1);
                    black_box(&buf);
                })
            });
        });
        g.bench_function("capstan_bufpool_shared_only", |b| {
            b.iter_custom(|iters| {
                contended(2, iters, || {
                    let mut buf = shared_only.get(black_box(size));
                    buf.push(1);
                    black_box(&buf);
                })
            });
        });
        g.bench_function("object_pool", |b| {
            b.iter_custom(|iters| {
                contended(2, iters, || {
                    let mut buf = op_pool.pull(|| Vec::with_capacity(size));
                    buf.clear();
                    buf.push(1);
                    black_box(&*buf);
                })
            });
        });
        g.bench_function("mutex_free_list", |b| {
            b.iter_custom(|iters| {
                contended(2, iters, || {
                    let mut buf = free_list.get();
                    buf.push(1);
                    black_box(&buf);
                    free_list.put(buf);
                })
            });
        });
        g.bench_function("vec_with_capacity", |b| {
            b.iter_custom(|iters| {
                contended(2, iters, || {
                    let mut buf = Vec::<u8>::with_capacity(black_box(size));
                    buf.push(1);
                    black_box(&buf);
                })
            });
        });
        g.finish();
    }
}

fn strings(c: &mut Criterion) {
    let (host, repo, tag) = (
        black_box("registry.example.com"),
        black_box("team/app"),
        black_box("v1.2.3"),
    );
    let pool = StringPool::strings(64, 64);
    {
        let mut s = pool.get();
        write!(s, "{host}/{repo}:{tag}").unwrap_or_default();
        assert_eq!(
            *s,
            format!("{host}/{repo}:{tag}"),
            "pooled and format! build the same key"
        );
    }
    let mut g = c.benchmark_group("string_key_3_parts");
    g.bench_function("capstan_string_pool_write", |b| {
        b.iter(|| {
            let mut s = pool.get();
            let _ = write!(s, "{host}/{repo}:{tag}");
            black_box(&*s);
        });
    });
    g.bench_function("capstan_string_pool_push_str", |b| {
        b.iter(|| {
            let mut s = pool.get();
            s.push_str(host);
            s.push('/');
            s.push_str(repo);
            s.push(':');
            s.push_str(tag);
            black_box(&*s);
        });
    });
    g.bench_function("format", |b| {
        b.iter(|| black_box(format!("{host}/{repo}:{tag}")));
    });
    g.finish();
}

criterion_group!(benches, buffers, strings);
criterion_main!(benches);
