//! Single-flight loading: one loader run per key at a time.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hashbrown::HashMap;
use parking_lot::{Condvar, Mutex};

enum State<V, E> {
    Running,
    Done(Result<V, E>),
    /// The leader's loader panicked: waiters retry, one of them becoming the new leader.
    Abandoned,
}

struct Flight<V, E> {
    state: Mutex<State<V, E>>,
    done: Condvar,
}

/// Runs a loader once per key for all the callers that ask for that key at the same time.
///
/// The first caller for a key (the leader) runs its loader; callers that arrive while it runs
/// wait and receive a clone of its result, `Ok` or `Err`. Nothing is cached: once the leader
/// finishes, the next caller loads again (see [`LoadingCache`](super::LoadingCache) for caching).
/// If the leader's loader panics, the panic goes to the leader's caller and the waiters are
/// woken to retry, so a panic never leaves them blocked.
///
/// ```
/// use capstan::cache::SingleFlight;
///
/// let flights: SingleFlight<String, u32, String> = SingleFlight::new();
/// let v = flights.get_or_load("registry.example", || Ok(42));
/// assert_eq!(v, Ok(42));
/// ```
pub struct SingleFlight<K, V, E> {
    flights: Mutex<HashMap<K, Arc<Flight<V, E>>>>,
    loads: AtomicU64,
    shared: AtomicU64,
    panics: AtomicU64,
}

impl<K, V, E> fmt::Debug for SingleFlight<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<K, V, E> Default for SingleFlight<K, V, E> {
    fn default() -> Self {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
            loads: AtomicU64::new(0),
            shared: AtomicU64::new(0),
            panics: AtomicU64::new(0),
        }
    }
}

/// Counters of a [`SingleFlight`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FlightStats {
    /// Loader runs.
    pub loads: u64,
    /// Callers that received another caller's result instead of loading.
    pub shared: u64,
    /// Loaders that panicked.
    pub panics: u64,
}

/// Completes the leader's flight, or abandons it if the loader unwinds.
struct Leader<'a, K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized, V, E> {
    owner: &'a SingleFlight<K, V, E>,
    key: &'a Q,
    flight: &'a Arc<Flight<V, E>>,
    finished: bool,
}

impl<K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized, V, E> Leader<'_, K, Q, V, E> {
    fn finish(mut self, state: State<V, E>) {
        self.publish(state);
        self.finished = true;
    }

    fn publish(&self, state: State<V, E>) {
        *self.flight.state.lock() = state;
        {
            let mut flights = self.owner.flights.lock();
            if flights
                .get(self.key)
                .is_some_and(|f| Arc::ptr_eq(f, self.flight))
            {
                flights.remove(self.key);
            }
        }
        self.flight.done.notify_all();
    }
}

impl<K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized, V, E> Drop for Leader<'_, K, Q, V, E> {
    fn drop(&mut self) {
        if !self.finished {
            self.owner.panics.fetch_add(1, Relaxed);
            self.publish(State::Abandoned);
        }
    }
}

impl<K: Hash + Eq, V: Clone, E: Clone> SingleFlight<K, V, E> {
    /// An empty group.
    pub fn new() -> Self {
        SingleFlight::default()
    }

    /// Runs `loader` for `key` unless a load of `key` is already running, in which case it
    /// waits for that load and returns a clone of its result.
    pub fn get_or_load<Q, F>(&self, key: &Q, loader: F) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Result<V, E>,
    {
        let mut loader = Some(loader);
        loop {
            let (flight, leader) = {
                let mut flights = self.flights.lock();
                if let Some(f) = flights.get(key) {
                    (Arc::clone(f), false)
                } else {
                    let f = Arc::new(Flight {
                        state: Mutex::new(State::Running),
                        done: Condvar::new(),
                    });
                    flights.insert(key.to_owned(), Arc::clone(&f));
                    (f, true)
                }
            };
            if leader {
                let guard = Leader {
                    owner: self,
                    key,
                    flight: &flight,
                    finished: false,
                };
                let Some(load) = loader.take() else {
                    unreachable!("invariant: a caller leads at most once, then returns")
                };
                self.loads.fetch_add(1, Relaxed);
                let result = load();
                guard.finish(State::Done(result.clone()));
                return result;
            }
            let mut state = flight.state.lock();
            while matches!(*state, State::Running) {
                flight.done.wait(&mut state);
            }
            if let State::Done(result) = &*state {
                self.shared.fetch_add(1, Relaxed);
                return result.clone();
            }
            // Abandoned: the leader panicked. Try again; this caller may lead now.
        }
    }

    /// Loads running now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.flights.lock().len()
    }
}

impl<K, V, E> SingleFlight<K, V, E> {
    /// Counters since the group was made.
    pub(crate) fn stats(&self) -> FlightStats {
        FlightStats {
            loads: self.loads.load(Relaxed),
            shared: self.shared.load(Relaxed),
            panics: self.panics.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_one_load() {
        let sf: SingleFlight<String, u64, String> = SingleFlight::new();
        let runs = AtomicUsize::new(0);
        let barrier = Barrier::new(16);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    barrier.wait();
                    let v = sf.get_or_load("k", || {
                        runs.fetch_add(1, Relaxed);
                        std::thread::sleep(Duration::from_millis(100));
                        Ok(7)
                    });
                    assert_eq!(v, Ok(7));
                });
            }
        });
        assert_eq!(runs.load(Relaxed), 1);
        assert_eq!(
            sf.stats(),
            FlightStats {
                loads: 1,
                shared: 15,
                panics: 0
            }
        );
        assert_eq!(sf.in_flight(), 0);
    }

    #[test]
    fn errors_reach_every_waiter_and_are_not_kept() {
        let sf: SingleFlight<String, u64, String> = SingleFlight::new();
        let barrier = Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    barrier.wait();
                    let r = sf.get_or_load("k", || {
                        std::thread::sleep(Duration::from_millis(50));
                        Err("helper failed".to_string())
                    });
                    assert_eq!(r, Err("helper failed".to_string()));
                });
            }
        });
        // The error is not cached: the next call loads again.
        assert_eq!(sf.get_or_load("k", || Ok(1)), Ok(1));
    }

    #[test]
    fn a_panicking_loader_does_not_block_waiters() {
        let sf: SingleFlight<String, u64, String> = SingleFlight::new();
        let started = Barrier::new(2);
        std::thread::scope(|s| {
            let leader = s.spawn(|| {
                sf.get_or_load("k", || {
                    started.wait();
                    std::thread::sleep(Duration::from_millis(50));
                    panic!("loader blew up");
                })
            });
            let waiter = s.spawn(|| {
                started.wait();
                sf.get_or_load("k", || Ok(5))
            });
            assert!(
                leader.join().is_err(),
                "the panic reaches the leader's caller"
            );
            assert_eq!(
                waiter.join().ok(),
                Some(Ok(5)),
                "the waiter retried and led"
            );
        });
        assert_eq!(sf.stats().panics, 1);
        assert_eq!(sf.in_flight(), 0);
    }

    #[test]
    fn different_keys_load_independently() {
        let sf: SingleFlight<u32, u32, ()> = SingleFlight::new();
        assert_eq!(sf.get_or_load(&1, || Ok(10)), Ok(10));
        assert_eq!(sf.get_or_load(&2, || Ok(20)), Ok(20));
        assert_eq!(sf.stats().loads, 2);
    }
}
