//! Steady-state get/put allocates nothing: a counting global allocator proves it.
//!
//! Counting is switched on per thread (a `const` thread-local, which itself never allocates),
//! so the test harness's own threads do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;

use capstan::pool::{BufPool, Pool, StringPool};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    // Per thread: tests run in parallel, and each must see only its own allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only const thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded from our caller, who upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

fn buffer_round(pool: &BufPool) {
    for size in [100, 1024, 4096, 6000, 32 << 10, 64 << 10, 1 << 20] {
        let mut b = pool.get(size);
        b.write_all(b"0123456789abcdef").unwrap_or_default();
        assert!(b.capacity() >= size);
    }
}

#[test]
fn buffers_allocate_nothing_in_steady_state() {
    for pool in [BufPool::new(), BufPool::builder().thread_cache(0).build()] {
        buffer_round(&pool); // warm up: fills the pool and this thread's cache
        let n = allocations_in(|| {
            for _ in 0..10_000 {
                buffer_round(&pool);
            }
        });
        assert_eq!(n, 0, "{pool:?}");
    }
}

#[test]
fn the_counter_would_see_a_leak() {
    // A pool that keeps nothing must allocate on every get: proof that the counter works.
    let pool = BufPool::builder().cap(0).build();
    let n = allocations_in(|| buffer_round(&pool));
    assert_eq!(n, 7);
}

#[test]
fn strings_allocate_nothing_in_steady_state() {
    let pool = StringPool::strings(16, 128);
    let key = |pool: &StringPool| {
        let mut s = pool.get();
        let (host, repo, tag) = ("registry.example.com", "team/app", "v1.2.3");
        write!(s, "{host}/{repo}:{tag}").unwrap_or_default();
        assert_eq!(s.len(), 36);
    };
    key(&pool);
    key(StringPool::global());
    let n = allocations_in(|| {
        for _ in 0..10_000 {
            key(&pool);
            key(StringPool::global());
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn generic_pool_allocates_nothing_in_steady_state() {
    let pool: Pool<Vec<u64>> = Pool::new(4, || Vec::with_capacity(64));
    let round = |pool: &Pool<Vec<u64>>| {
        let mut a = pool.get();
        let mut b = pool.get();
        a.extend(0..64);
        b.push(1);
    };
    round(&pool);
    let n = allocations_in(|| {
        for _ in 0..10_000 {
            round(&pool);
        }
    });
    assert_eq!(n, 0);
}
