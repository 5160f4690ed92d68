//! A bounded pool of worker threads.
//!
//! Jobs go through one bounded crossbeam channel (the queue); `submit` blocks when it is full,
//! which is the backpressure a producer walking a huge tree needs. A job runs under
//! `catch_unwind`: a panic becomes [`ExecError::Panicked`] for whoever joins it, and the worker
//! lives on.
//!
//! [`WorkerPool::scope`] lets jobs borrow from the caller's stack. This is the one place in
//! capstan that needs `unsafe` (erasing the borrow's lifetime to queue the job), and it is sound
//! for the same reason `std::thread::scope` is: `scope` does not return — normally or by
//! unwinding — until every job spawned in it has run or been dropped.

#![allow(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use parking_lot::{Condvar, Mutex, RwLock};

use super::ExecError;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Configures a [`WorkerPool`]; see [`WorkerPool::builder`].
#[derive(Debug, Clone)]
pub struct WorkerPoolBuilder {
    threads: usize,
    queue: usize,
    name: String,
}

impl WorkerPoolBuilder {
    /// Worker threads; 0 (the default) means one per available core.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Jobs that may wait in the queue before `submit` blocks. Default: 64 per thread.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// Thread name prefix (default `capstan-worker`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the threads.
    pub fn build(self) -> Result<WorkerPool, ExecError> {
        let threads = if self.threads == 0 {
            super::default_threads()
        } else {
            self.threads
        };
        let queue = if self.queue == 0 {
            threads * 64
        } else {
            self.queue
        };
        let (tx, rx) = bounded::<Job>(queue);
        let completed = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = rx.clone();
            let completed = Arc::clone(&completed);
            let handle = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || {
                    for job in rx {
                        job();
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .map_err(|e| ExecError::Spawn(e.to_string()))?;
            handles.push(handle);
        }
        Ok(WorkerPool {
            tx: RwLock::new(Some(tx)),
            rx,
            handles: Mutex::new(handles),
            threads,
            completed,
        })
    }
}

/// A fixed set of worker threads fed by a bounded queue.
///
/// ```
/// use capstan::exec::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// let job = pool.submit(|| 6 * 7)?;
/// assert_eq!(job.join()?, 42);
///
/// // Jobs in a scope may borrow from the stack.
/// let words = ["a", "bb", "ccc"];
/// let total = std::sync::atomic::AtomicUsize::new(0);
/// pool.scope(|s| {
///     for w in &words {
///         s.spawn(|| { total.fetch_add(w.len(), std::sync::atomic::Ordering::Relaxed); });
///     }
/// })?;
/// assert_eq!(total.into_inner(), 6);
/// # Ok::<(), capstan::exec::ExecError>(())
/// ```
pub struct WorkerPool {
    tx: RwLock<Option<Sender<Job>>>,
    /// Kept so that a waiting `scope` can run queued jobs itself instead of deadlocking when it
    /// is called from a worker.
    rx: Receiver<Job>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    threads: usize,
    completed: Arc<AtomicU64>,
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.threads)
            .field("queued", &self.rx.len())
            .field("completed", &self.completed.load(Ordering::Relaxed))
            .finish()
    }
}

impl WorkerPool {
    /// A pool of `threads` workers (0: one per core) with the default queue.
    pub fn new(threads: usize) -> Result<Self, ExecError> {
        WorkerPool::builder().threads(threads).build()
    }

    /// Starts configuring a pool.
    pub fn builder() -> WorkerPoolBuilder {
        WorkerPoolBuilder {
            threads: 0,
            queue: 0,
            name: "capstan-worker".to_owned(),
        }
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Jobs waiting in the queue now.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// Jobs finished so far (run, cancelled or panicked).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    fn wrap<F, T>(f: F) -> (Job, JobHandle<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result_tx, result_rx) = bounded(1);
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancelled);
        let job: Job = Box::new(move || {
            let outcome = if flag.load(Ordering::Acquire) {
                Err(ExecError::Cancelled)
            } else {
                catch_unwind(AssertUnwindSafe(f))
                    .map_err(|p| ExecError::Panicked(panic_message(&*p)))
            };
            // The handle may have been dropped: nobody wants the result then.
            let _ = result_tx.send(outcome);
        });
        (
            job,
            JobHandle {
                rx: result_rx,
                cancelled,
            },
        )
    }

    /// Queues `f`, waiting for room when the queue is full.
    pub fn submit<F, T>(&self, f: F) -> Result<JobHandle<T>, ExecError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = Self::wrap(f);
        let tx = self.tx.read();
        let tx = tx.as_ref().ok_or(ExecError::ShutDown)?;
        tx.send(job).map_err(|_| ExecError::ShutDown)?;
        Ok(handle)
    }

    /// Queues `f` only if there is room now.
    pub fn try_submit<F, T>(&self, f: F) -> Result<JobHandle<T>, ExecError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = Self::wrap(f);
        let tx = self.tx.read();
        let tx = tx.as_ref().ok_or(ExecError::ShutDown)?;
        match tx.try_send(job) {
            Ok(()) => Ok(handle),
            Err(TrySendError::Full(_)) => Err(ExecError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(ExecError::ShutDown),
        }
    }

    /// Runs `f` with a [`Scope`] whose jobs may borrow anything that outlives the call, and
    /// returns once all of them are done. Jobs that panic are reported as
    /// [`ExecError::ScopePanicked`] after the others finish; `f`'s own panic propagates.
    ///
    /// Called from inside a worker, `scope` runs queued jobs itself while it waits, so nested
    /// scopes cannot starve the pool.
    pub fn scope<'env, F, R>(&self, f: F) -> Result<R, ExecError>
    where
        F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> R,
    {
        let state = Arc::new(ScopeState::default());
        let scope = Scope {
            pool: self,
            state: Arc::clone(&state),
            _env: PhantomData,
            _scope_marker: PhantomData,
        };
        let result = {
            // Waits even if `f` unwinds: jobs may still borrow from the stack being unwound.
            let _wait = WaitGuard {
                pool: self,
                state: &state,
            };
            f(&scope)
        };
        let panics = std::mem::take(&mut *state.panics.lock());
        match panics.into_iter().next() {
            None => Ok(result),
            Some((count, first)) => Err(ExecError::ScopePanicked { count, first }),
        }
    }

    /// Stops taking jobs, lets the queued ones finish, and joins the threads. Later submits
    /// fail with [`ExecError::ShutDown`]. Idempotent; dropping the pool does the same.
    pub fn shutdown(&self) {
        drop(self.tx.write().take());
        let handles = std::mem::take(&mut *self.handles.lock());
        let me = std::thread::current().id();
        for h in handles {
            // A job that shuts down its own pool must not join itself.
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
    }

    fn run_inline(job: Job) {
        job();
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The result of a submitted job.
#[derive(Debug)]
pub struct JobHandle<T> {
    rx: Receiver<Result<T, ExecError>>,
    cancelled: Arc<AtomicBool>,
}

impl<T> JobHandle<T> {
    /// Waits for the job: its value, [`ExecError::Panicked`] with the panic message, or
    /// [`ExecError::Cancelled`].
    pub fn join(self) -> Result<T, ExecError> {
        self.rx.recv().unwrap_or(Err(ExecError::Cancelled))
    }

    /// Waits at most `timeout`; `Err(self)` if the job is still running.
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, ExecError>, Self> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => Ok(r),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(self),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Err(ExecError::Cancelled)),
        }
    }

    /// Asks that the job not run. It has no effect on a job that has started; `join` tells
    /// which happened.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether the result is ready.
    pub fn is_finished(&self) -> bool {
        !self.rx.is_empty()
    }
}

#[derive(Default)]
struct ScopeState {
    pending: Mutex<usize>,
    done: Condvar,
    /// (count, first message)
    panics: Mutex<Option<(usize, String)>>,
}

impl ScopeState {
    fn finish_one(&self, panic: Option<String>) {
        if let Some(msg) = panic {
            let mut p = self.panics.lock();
            match &mut *p {
                Some((count, _)) => *count += 1,
                None => *p = Some((1, msg)),
            }
        }
        let mut pending = self.pending.lock();
        *pending -= 1;
        if *pending == 0 {
            self.done.notify_all();
        }
    }
}

/// Counts a scoped job as finished when dropped, whether it ran, panicked or was never run.
struct Finish {
    state: Arc<ScopeState>,
    panic: Option<String>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.state.finish_one(self.panic.take());
    }
}

struct WaitGuard<'a> {
    pool: &'a WorkerPool,
    state: &'a ScopeState,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        loop {
            {
                let mut pending = self.state.pending.lock();
                if *pending == 0 {
                    return;
                }
                if self.pool.rx.is_empty() {
                    // Woken by the last job; the timeout only bounds how long a queued job of
                    // ours can sit behind a busy pool before we run it ourselves.
                    self.state
                        .done
                        .wait_for(&mut pending, Duration::from_millis(1));
                    continue;
                }
            }
            if let Ok(job) = self.pool.rx.try_recv() {
                WorkerPool::run_inline(job);
            }
        }
    }
}

/// Spawns jobs that may borrow from the enclosing [`WorkerPool::scope`] call.
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope WorkerPool,
    state: Arc<ScopeState>,
    _scope_marker: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("pending", &*self.state.pending.lock())
            .finish()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `f` on the pool; if the queue is full or the pool is shut down, runs it on this
    /// thread instead (so a scope never deadlocks on its own backpressure).
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        *self.state.pending.lock() += 1;
        let mut finish = Finish {
            state: Arc::clone(&self.state),
            panic: None,
        };
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
                finish.panic = Some(panic_message(&*p));
            }
            drop(finish);
        });
        // SAFETY: the job borrows data that lives for 'scope. `WorkerPool::scope` (through
        // `WaitGuard`, which also runs on unwind) does not return until `pending` is zero, and
        // `pending` is decremented only by `Finish::drop`, which runs after the job's closure has
        // run or when the boxed job is dropped unrun. So the job never outlives the borrows it
        // holds, and extending the box's lifetime bound to 'static is never observed.
        let job: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Job>(job) };
        let tx = self.pool.tx.read();
        let rejected = match tx.as_ref() {
            Some(tx) => match tx.try_send(job) {
                Ok(()) => None,
                Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => Some(job),
            },
            None => Some(job),
        };
        drop(tx);
        if let Some(job) = rejected {
            WorkerPool::run_inline(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn jobs_run_and_return_values() -> Result<(), ExecError> {
        let pool = WorkerPool::new(2)?;
        let handles: Vec<_> = (0..100u64)
            .map(|i| pool.submit(move || i * i))
            .collect::<Result<_, _>>()?;
        let sum: u64 = handles
            .into_iter()
            .map(JobHandle::join)
            .sum::<Result<u64, _>>()?;
        assert_eq!(sum, (0..100u64).map(|i| i * i).sum::<u64>());
        Ok(())
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_pool_survives() -> Result<(), ExecError> {
        let pool = WorkerPool::new(1)?;
        let bad = pool.submit(|| -> u32 { panic!("boom {}", 7) })?;
        assert_eq!(bad.join(), Err(ExecError::Panicked("boom 7".into())));
        assert_eq!(pool.submit(|| 1)?.join(), Ok(1));
        Ok(())
    }

    #[test]
    fn cancel_before_start_skips_the_job() -> Result<(), ExecError> {
        let pool = WorkerPool::new(1)?;
        let gate = Arc::new(parking_lot::Mutex::new(()));
        let held = gate.lock();
        let g = Arc::clone(&gate);
        let blocker = pool.submit(move || drop(g.lock()))?;
        let ran = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&ran);
        let victim = pool.submit(move || r.store(true, Ordering::SeqCst))?;
        victim.cancel();
        drop(held);
        blocker.join()?;
        assert_eq!(victim.join(), Err(ExecError::Cancelled));
        assert!(!ran.load(Ordering::SeqCst));
        Ok(())
    }

    #[test]
    fn try_submit_reports_a_full_queue() -> Result<(), ExecError> {
        let pool = WorkerPool::builder().threads(1).queue_capacity(1).build()?;
        let gate = Arc::new(parking_lot::Mutex::new(()));
        let held = gate.lock();
        let g = Arc::clone(&gate);
        let blocker = pool.submit(move || drop(g.lock()))?;
        // Wait until the worker has taken the blocker, so the queue is empty.
        while pool.queued() > 0 {
            std::thread::yield_now();
        }
        let queued = pool.try_submit(|| ())?;
        assert!(matches!(pool.try_submit(|| ()), Err(ExecError::QueueFull)));
        drop(held);
        blocker.join()?;
        queued.join()?;
        Ok(())
    }

    #[test]
    fn shutdown_finishes_queued_work_then_refuses() -> Result<(), ExecError> {
        let pool = WorkerPool::new(2)?;
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..50 {
            let d = Arc::clone(&done);
            pool.submit(move || {
                std::thread::sleep(Duration::from_micros(200));
                d.fetch_add(1, Ordering::SeqCst);
            })?;
        }
        pool.shutdown();
        assert_eq!(done.load(Ordering::SeqCst), 50, "nothing queued was lost");
        assert!(matches!(pool.submit(|| ()), Err(ExecError::ShutDown)));
        pool.shutdown();
        Ok(())
    }

    #[test]
    fn scope_borrows_and_waits() -> Result<(), ExecError> {
        let pool = WorkerPool::new(2)?;
        let mut data = vec![1u64; 1000];
        pool.scope(|s| {
            for chunk in data.chunks_mut(10) {
                s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 3));
            }
        })?;
        assert_eq!(data.iter().sum::<u64>(), 3000);
        Ok(())
    }

    #[test]
    fn scope_reports_panicking_jobs_after_the_rest_finish() -> Result<(), ExecError> {
        let pool = WorkerPool::new(2)?;
        let done = AtomicUsize::new(0);
        let r = pool.scope(|s| {
            for i in 0..20 {
                let done = &done;
                s.spawn(move || {
                    assert!(i % 7 != 3, "job {i} failed");
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 17);
        match r {
            Err(ExecError::ScopePanicked { count, first }) => {
                assert_eq!(count, 3);
                assert!(first.contains("failed"), "{first}");
            }
            other => panic!("expected ScopePanicked, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn nested_scopes_on_a_single_worker_do_not_deadlock() -> Result<(), ExecError> {
        let pool = Arc::new(WorkerPool::builder().threads(1).queue_capacity(2).build()?);
        let total = AtomicUsize::new(0);
        pool.scope(|outer| {
            for _ in 0..4 {
                let pool = &pool;
                let total = &total;
                outer.spawn(move || {
                    let r = pool.scope(|inner| {
                        for _ in 0..8 {
                            inner.spawn(|| {
                                total.fetch_add(1, Ordering::SeqCst);
                            });
                        }
                    });
                    assert!(r.is_ok());
                });
            }
        })?;
        assert_eq!(total.load(Ordering::SeqCst), 32);
        Ok(())
    }

    #[test]
    fn scope_after_shutdown_runs_inline() -> Result<(), ExecError> {
        let pool = WorkerPool::new(1)?;
        pool.shutdown();
        let n = AtomicUsize::new(0);
        pool.scope(|s| {
            s.spawn(|| {
                n.fetch_add(1, Ordering::SeqCst);
            });
        })?;
        assert_eq!(n.into_inner(), 1);
        Ok(())
    }
}
