//! A counting semaphore with RAII permits.

use std::fmt;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Lets at most `max` holders in at once — "three parallel pulls", "one helper per registry".
///
/// ```
/// use capstan::exec::Limiter;
/// use std::time::Duration;
///
/// let pulls = Limiter::new(3);
/// let a = pulls.acquire();
/// let b = pulls.acquire();
/// let c = pulls.acquire();
/// assert!(pulls.try_acquire().is_none());
/// assert!(pulls.acquire_timeout(Duration::from_millis(1)).is_none());
/// drop(a);
/// assert!(pulls.try_acquire().is_some());
/// # drop((b, c));
/// ```
pub struct Limiter {
    available: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("max", &self.max)
            .field("available", &self.available())
            .finish()
    }
}

impl Limiter {
    /// A limiter with `max` permits. `max == 0` makes every acquire wait forever (or time out).
    pub fn new(max: usize) -> Self {
        Limiter {
            available: Mutex::new(max),
            freed: Condvar::new(),
            max,
        }
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> Permit<'_> {
        let mut available = self.available.lock();
        while *available == 0 {
            self.freed.wait(&mut available);
        }
        *available -= 1;
        Permit { limiter: self }
    }

    /// A permit if one is free now.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut available = self.available.lock();
        if *available == 0 {
            return None;
        }
        *available -= 1;
        Some(Permit { limiter: self })
    }

    /// Waits at most `timeout` for a permit.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut available = self.available.lock();
        while *available == 0 {
            match deadline {
                Some(d) => {
                    if self.freed.wait_until(&mut available, d).timed_out() && *available == 0 {
                        return None;
                    }
                }
                None => self.freed.wait(&mut available),
            }
        }
        *available -= 1;
        Some(Permit { limiter: self })
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        *self.available.lock()
    }

    /// The number of permits.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// A held permit; dropping it lets the next waiter in.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.limiter.available.lock() += 1;
        self.limiter.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_max_holders() {
        let limiter = Limiter::new(3);
        let inside = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _p = limiter.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(limiter.available(), 3);
    }

    #[test]
    fn timeout_expires_and_release_wakes_a_waiter() {
        let limiter = Limiter::new(1);
        let held = limiter.acquire();
        let t0 = Instant::now();
        assert!(limiter.acquire_timeout(Duration::from_millis(30)).is_none());
        assert!(t0.elapsed() >= Duration::from_millis(30));
        std::thread::scope(|s| {
            let w = s.spawn(|| limiter.acquire_timeout(Duration::from_secs(10)).is_some());
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            assert!(w.join().unwrap_or(false));
        });
        assert!(
            limiter.acquire_timeout(Duration::MAX).is_some(),
            "an unbounded timeout works"
        );
    }
}
