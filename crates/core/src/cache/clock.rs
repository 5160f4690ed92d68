use std::time::{Duration, Instant};

/// A monotonic time source: the time elapsed since an arbitrary, fixed epoch.
pub trait Clock: Send + Sync + 'static {
    /// Time since this clock's epoch; never goes backwards.
    fn now(&self) -> Duration;
}

/// The real clock, monotonic and cheap to read.
///
/// On Linux it reads `CLOCK_MONOTONIC_COARSE`: a few nanoseconds per read instead of the ~30 ns
/// `Instant::now` costs on a virtual machine, at a resolution of one kernel tick (1–4 ms).
/// Cache TTLs are seconds to hours, so an entry may outlive its TTL by at most one tick; a
/// cache hit, which reads the clock every time, is what the cheaper read pays for. Elsewhere it
/// falls back to `Instant`.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    epoch: Duration,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock {
            epoch: coarse::now(),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Duration {
        coarse::now().saturating_sub(self.epoch)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod coarse {
    use std::time::Duration;

    /// `CLOCK_MONOTONIC_COARSE` since boot.
    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn now() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec that outlives the call, and
        // CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32; clock_gettime writes only
        // into `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &raw mut ts) };
        if rc != 0 {
            return fallback();
        }
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    }

    /// `Instant` relative to a process-wide origin; only used if the coarse clock is refused
    /// (seccomp filters have been seen to do that).
    #[cold]
    fn fallback() -> Duration {
        super::instant_since_start()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod coarse {
    use std::time::Duration;

    #[inline]
    pub(super) fn now() -> Duration {
        super::instant_since_start()
    }
}

/// Time since the first call in this process, from `Instant`.
fn instant_since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// A clock that moves only when told to, for tests; clones share the same time.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct ManualClock {
    nanos: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[cfg(test)]
impl ManualClock {
    /// A clock at time zero.
    pub(crate) fn new() -> Self {
        ManualClock::default()
    }

    /// Moves time forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        use std::sync::atomic::Ordering;
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_moves_forward_and_never_back() {
        let clock = MonotonicClock::default();
        let t0 = clock.now();
        let mut last = t0;
        for _ in 0..10_000 {
            let t = clock.now();
            assert!(t >= last, "clock went backwards: {t:?} < {last:?}");
            last = t;
        }
        std::thread::sleep(Duration::from_millis(30));
        let t1 = clock.now();
        // One coarse tick is at most 4 ms (HZ=250); allow for it on both ends.
        assert!(
            t1.saturating_sub(t0) >= Duration::from_millis(20),
            "30 ms sleep measured as {:?}",
            t1.saturating_sub(t0)
        );
    }

    #[test]
    fn manual_clock_saturates_instead_of_wrapping() {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }
}
