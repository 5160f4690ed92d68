//! A parallel map over a slice, and one piece of work beside the caller's, on scoped threads,
//! for one-off CPU-bound set-up work (compiling a rule set).

/// Maps `items` through `f` on up to one thread per core (at most 8), in contiguous chunks,
/// keeping the order; on one core, or for fewer than `min_items`, on the calling thread, as
/// is any chunk whose thread the system refuses. A panic in `f` is resumed on the caller.
pub(crate) fn par_map<T, R, F>(items: &[T], min_items: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = super::default_threads();
    if threads < 2 || items.len() < min_items.max(2) {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads.min(8));
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let spawned = std::thread::Builder::new()
                    .spawn_scoped(s, move || part.iter().map(f).collect::<Vec<_>>());
                (part, spawned.ok())
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(part, handle)| match handle {
                Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                None => part.iter().map(f).collect(),
            })
            .collect()
    })
}

/// Runs `work` on a thread of `scope` while the caller goes on, and gives a function that waits
/// for its answer. On one core, or when the system refuses a thread, `work` runs on the caller
/// when the answer is asked for (as [`par_map`] does). A panic in `work` is resumed on the
/// caller.
pub(crate) fn on_a_thread<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: &'scope (impl Fn() -> T + Sync),
) -> impl FnOnce() -> T + 'scope {
    let handle = (super::default_threads() >= 2)
        .then(|| std::thread::Builder::new().spawn_scoped(scope, work).ok())
        .flatten();
    move || match handle {
        Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        None => work(),
    }
}

/// `f` over `items` on up to `workers` scoped threads, each with its own state from `init` (a
/// thread-local handle), taking the next item when done — for work that waits (transfers,
/// object reads) or varies in size; results in the order of `items`. Every thread is joined
/// before this returns (not only finished: a C caller exiting next must not see a thread still
/// tearing down), and a panic in `f` is resumed on the caller.
pub(crate) fn each_with<T, S, R>(
    items: &[T],
    workers: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    if items.len() < 2 || workers < 2 {
        let mut state = init();
        return items.iter().map(|t| f(&mut state, t)).collect();
    }
    let results: Vec<parking_lot::Mutex<Option<R>>> = items
        .iter()
        .map(|_| parking_lot::Mutex::new(None))
        .collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers.min(items.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut state = init();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        *results[i].lock() = Some(f(&mut state, item));
                    }
                })
            })
            .collect();
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    // Every index below `items.len()` was taken by exactly one worker, which filled it.
    results
        .into_iter()
        .filter_map(parking_lot::Mutex::into_inner)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{on_a_thread, par_map};

    #[test]
    fn keeps_order_at_every_size() {
        for n in [0, 1, 2, 31, 32, 33, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let out = par_map(&items, 2, |&i| i * 3);
            assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>(), "{n}");
        }
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..64).collect();
        let caught = std::panic::catch_unwind(|| {
            par_map(&items, 2, |&i| {
                assert_ne!(i, 40, "item forty");
                i
            })
        });
        assert!(caught.is_err());
    }

    #[test]
    fn work_beside_the_caller_answers_and_passes_on_a_panic() {
        let sum = || (1..=100u32).sum::<u32>();
        let answer = std::thread::scope(|s| {
            let wait = on_a_thread(s, &sum);
            wait() + 1
        });
        assert_eq!(answer, 5051);
        let fails = || -> u32 { panic!("the work failed") };
        let caught = std::panic::catch_unwind(|| std::thread::scope(|s| on_a_thread(s, &fails)()));
        assert!(caught.is_err());
    }
}
